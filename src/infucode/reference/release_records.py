"""The records of the release store: an imported file, a release (one file, or the parts of a PTP release) and
what an import did."""
from __future__ import annotations

from dataclasses import dataclass

from .release_kinds import KINDS

__all__ = ["ImportOutcome", "Release", "ReleaseFile"]


@dataclass(frozen=True, slots=True)
class ReleaseFile:
    """One imported file (a row of the ``releases`` table)."""

    id: int
    name: str
    kind: str
    part: str
    file_name: str
    sha256: str
    valid_from: str     # YYYY-MM-DD, inclusive
    valid_to: str       # YYYY-MM-DD, inclusive
    imported_at: str
    rows: int


@dataclass(frozen=True, slots=True)
class Release:
    """A CMS release: one file, or the parts f1-f4 of a PTP release, valid for one period."""

    name: str
    kind: str
    valid_from: str
    valid_to: str
    files: tuple[ReleaseFile, ...]

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    def in_force(self, day: str) -> bool:
        return self.valid_from <= day <= self.valid_to

    def describe(self) -> str:
        files = ", ".join(f.file_name for f in self.files)
        return f"{KINDS[self.kind].label} {self.name}, in force {self.valid_from} to {self.valid_to} (imported {files})"


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    status: str          # "imported" | "unchanged"
    message: str
    release: str = ""
    kind: str = ""
    rows: int = 0
    replaced: tuple[str, ...] = ()
