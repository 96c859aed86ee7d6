"""The drug-administration code table (CPT 96360-96549): our own descriptions, family, kind,
add-on primaries, wRVU, MUE/MAI, with the source of every value.

Data lives in ``data/codes_<release>.yaml``; CMS quarterly/annual files can replace the MUE and
wRVU columns (see ``cms_files``). Loaded once per process and indexed by code.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# CONTRACT (filled in by the reference-data work; the engine relies on these names):


@dataclass(frozen=True, slots=True)
class Mue:
    value: int | None          # None = no MUE published
    mai: int | None            # 1 line edit, 2 date of service absolute, 3 date of service clinical
    rationale: str | None = None
    source: str = "S1-MUE"


@dataclass(frozen=True, slots=True)
class CodeInfo:
    code: str
    description: str                  # our own words, never AMA descriptor text
    family: str                       # "hydration" | "therapeutic" | "chemotherapy" | "access" (96521-96523) | "other"
    kind: str                         # e.g. "initial_infusion", "added_hour", "sequential_infusion", ...
    add_on: bool
    primaries: frozenset[str]         # eligible primary codes (CMS add-on code edits); empty if not add-on
    wrvu: float | None                # None = not confirmed
    mue_practitioner: Mue
    mue_hospital: Mue
    pfs_status: str | None = None     # "A", "X", "T", ...
    min_minutes: int | None = None    # minimum documented minutes for the code, if timed
    sources: dict[str, str] = field(default_factory=dict)   # field name -> source key
    unconfirmed: tuple[str, ...] = ()  # field names whose value nobody could confirm
    effective_year: int = 2024


class CodeTable:
    """Indexed code table. ``CodeTable.load()`` reads the bundled release."""

    release: str

    @classmethod
    def load(cls, path=None) -> "CodeTable":  # pragma: no cover - stub
        raise NotImplementedError

    def __getitem__(self, code: str) -> CodeInfo:  # pragma: no cover - stub
        raise NotImplementedError

    def get(self, code: str) -> CodeInfo | None:  # pragma: no cover - stub
        raise NotImplementedError

    def __contains__(self, code: str) -> bool:  # pragma: no cover - stub
        raise NotImplementedError
