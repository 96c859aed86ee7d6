"""NCCI procedure-to-procedure (PTP) edits touching the drug-administration codes.

The bundled table (``data/ncci_ptp_<date>.csv``: setting,col1,col2,mod,rationale) holds the active
practitioner and outpatient-hospital pairs of the CMS files effective 2024-07-01 [S1-PTP]. A current
quarter is loaded from the official CMS files with ``cms_files.ptp_table_from_cms_files``.

Modifier indicator: 0 = the column-2 code is never paid with the column-1 code; 1 = an NCCI-associated
modifier may bypass the edit when the services are distinct; 9 = the edit does not apply.
"""
from __future__ import annotations

import csv
import importlib.resources
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PRACTITIONER = "Practitioner"
OUTPATIENT_HOSPITAL = "Outpatient Hospital"
SETTINGS = (PRACTITIONER, OUTPATIENT_HOSPITAL)

_SETTING_ALIASES = {
    "professional": PRACTITIONER,
    "practitioner": PRACTITIONER,
    "facility": OUTPATIENT_HOSPITAL,
    "hospital": OUTPATIENT_HOSPITAL,
    "outpatient hospital": OUTPATIENT_HOSPITAL,
    "outpatient_hospital": OUTPATIENT_HOSPITAL,
}

DEFAULT_FILE = "ncci_ptp_2024-07-01.csv"
DATA_PACKAGE = "infucode.reference.data"
HEADER = ["setting", "col1", "col2", "mod", "rationale"]


def setting_for(claim: str) -> str:
    """"professional" -> "Practitioner", "facility" -> "Outpatient Hospital" (setting names pass through)."""
    try:
        return _SETTING_ALIASES[claim.strip().lower()]
    except (KeyError, AttributeError):
        raise ValueError(
            f"claim must be 'professional' or 'facility' (or a PTP setting name), not {claim!r}") from None


@dataclass(frozen=True, slots=True)
class PtpEdit:
    col1: str                   # column-1 (comprehensive) code: paid
    col2: str                   # column-2 (component / mutually exclusive) code: denied unless bypassed
    modifier_indicator: int     # 0 not allowed, 1 allowed, 9 not applicable
    rationale: str
    setting: str                # "Practitioner" | "Outpatient Hospital"
    effective: str | None = None   # YYYYMMDD, when read from a CMS file
    deletion: str | None = None    # YYYYMMDD or None (active), when read from a CMS file
    source: str = "S1-PTP"

    def in_force(self, day: str) -> bool:
        """In effect on ``day`` (YYYYMMDD): from the effective date up to, not including, the deletion date."""
        return bool(day) and (self.effective or "") <= day and (self.deletion is None or self.deletion > day)

    @property
    def bypassable(self) -> bool:
        """True when an NCCI-associated modifier may bypass the edit (indicator 1)."""
        return self.modifier_indicator == 1


class PtpTable:
    """PTP edits indexed by (setting, col1, col2)."""

    __slots__ = ("release", "_pairs", "_by_col1")

    release: str

    def __init__(self, edits: Iterable[PtpEdit], release: str) -> None:
        self.release = release
        pairs: dict[tuple[str, str, str], PtpEdit] = {}
        by_col1: dict[tuple[str, str], list[PtpEdit]] = {}
        for e in edits:
            key = (e.setting, e.col1, e.col2)
            if key in pairs:
                # a later row of the same pair replaces the earlier one (CMS files list one row per pair)
                by_col1[(e.setting, e.col1)].remove(pairs[key])
            pairs[key] = e
            by_col1.setdefault((e.setting, e.col1), []).append(e)
        self._pairs = pairs
        self._by_col1 = {k: tuple(sorted(v, key=lambda e: e.col2)) for k, v in by_col1.items()}

    # ---------------------------------------------------------------- loading
    @classmethod
    def load(cls, path=None) -> "PtpTable":
        """Read the bundled table (cached per process) or a CSV with header setting,col1,col2,mod,rationale."""
        if path is None:
            global _DEFAULT
            if _DEFAULT is None:
                resource = importlib.resources.files(DATA_PACKAGE) / DEFAULT_FILE
                text = resource.read_text(encoding="utf-8")
                _DEFAULT = cls(_parse_csv(io.StringIO(text, newline=""), f"{DATA_PACKAGE}/{DEFAULT_FILE}"),
                               _release_from_name(DEFAULT_FILE))
            return _DEFAULT
        p = Path(path)
        with p.open(encoding="utf-8-sig", newline="") as fh:
            return cls(list(_parse_csv(fh, str(p))), _release_from_name(p.name))

    # ---------------------------------------------------------------- lookup
    def pair(self, col1: str, col2: str, claim: str) -> PtpEdit | None:
        """The edit with ``col1`` in column 1 and ``col2`` in column 2 for the claim type, if any."""
        return self._pairs.get((setting_for(claim), col1, col2))

    def edits_between(self, codes: set[str], claim: str) -> list[PtpEdit]:
        """Every edit whose column-1 and column-2 codes are both in ``codes``, ordered by (col1, col2)."""
        setting = setting_for(claim)
        found: list[PtpEdit] = []
        for c1 in sorted(codes):
            for e in self._by_col1.get((setting, c1), ()):
                if e.col2 in codes:
                    found.append(e)
        return found

    def edits_for(self, code: str, claim: str) -> list[PtpEdit]:
        """Edits where ``code`` is column 1 (the codes it denies) for the claim type."""
        return list(self._by_col1.get((setting_for(claim), code), ()))

    def __iter__(self) -> Iterator[PtpEdit]:
        return iter(sorted(self._pairs.values(), key=lambda e: (e.setting, e.col1, e.col2)))

    def __len__(self) -> int:
        return len(self._pairs)

    def __repr__(self) -> str:
        return f"PtpTable(release={self.release!r}, edits={len(self)})"


_DEFAULT: PtpTable | None = None
_CODE = re.compile(r"^[0-9A-Z]{5}$")


def _release_from_name(name: str) -> str:
    m = re.search(r"\d{4}-\d{2}-\d{2}", name)
    return m.group(0) if m else Path(name).stem


def _parse_csv(fh, where: str) -> Iterator[PtpEdit]:
    reader = csv.reader(fh)
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header] != HEADER:
        raise ValueError(f"{where}: line 1: expected header {','.join(HEADER)}, got {header!r}")
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(HEADER):
            raise ValueError(f"{where}: line {line}: expected {len(HEADER)} columns, got {len(row)}: {row!r}")
        setting, col1, col2, mod, rationale = (cell.strip() for cell in row)
        if setting not in SETTINGS:
            raise ValueError(f"{where}: line {line}: setting {setting!r} is not one of {SETTINGS}")
        for name, code in (("col1", col1), ("col2", col2)):
            if not _CODE.match(code):
                raise ValueError(f"{where}: line {line}: {name} {code!r} is not a 5-character HCPCS/CPT code")
        if mod not in ("0", "1", "9"):
            raise ValueError(f"{where}: line {line}: modifier indicator {mod!r} is not 0, 1 or 9")
        yield PtpEdit(col1, col2, int(mod), rationale, setting)
