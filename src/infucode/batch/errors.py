"""The batch job's own error (as opposed to an encounter's): its own module so that the readers
(column mapping, Parquet) and the runner can share it without importing each other."""

from __future__ import annotations

__all__ = ["BatchError", "BatchOutputError"]


class BatchError(Exception):
    """A problem with the job itself (bad format, missing or empty input, unknown profile, bad
    column mapping): nothing was coded. The CLI turns it into exit status 2."""


class BatchOutputError(BatchError):
    """An output could not be written (a full disk, an I/O error) or the run stopped: nothing is left
    at the output's path. The CLI turns it into exit status 4."""
