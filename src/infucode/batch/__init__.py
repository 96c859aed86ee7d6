"""Batch coding of large files on every core: :func:`run_batch` and the ``infucode batch`` command."""

from .runner import BatchError, BatchSummary, errors_path, findings_path, run_batch

__all__ = ["BatchError", "BatchSummary", "errors_path", "findings_path", "run_batch"]
