"""The code and PTP tables in force on a date of service, and the shape of a source of them.

Here, on the reference floor, so that a source of dated tables (:class:`~infucode.reference.releases.ReleaseStore`,
the imported CMS files) and the ruleset that asks it (:meth:`infucode.ruleset.Ruleset.for_date`) both
depend on it, and the reference data never imports the ruleset above it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from .codes import CodeTable
from .ncci import PtpTable

__all__ = ["DatedTables", "TablesByDate"]


@dataclass(frozen=True, slots=True)
class DatedTables:
    """The code and PTP tables in force on a date of service, and what each part came from."""

    codes: CodeTable
    ptp: PtpTable
    releases: Mapping[str, str]       # e.g. {"mue_practitioner": "MUE practitioner ... (imported ...)"}


class TablesByDate(Protocol):
    """A source of the tables in force on a date of service (e.g. ``reference.releases.ReleaseStore``)."""

    def tables_on(self, day: str, codes: CodeTable, ptp: PtpTable) -> DatedTables:
        """The tables in force on ``day`` (YYYY-MM-DD), built over the given tables."""
        ...
