"""Readers for the official CMS files, so every bundled table can be replaced by the current quarter.

* ``read_mue_file``      - NCCI MUE table, practitioner or outpatient hospital (the CSV in the CMS zip)
* ``read_pfs_rvu_file``  - PFS national relative value file PPRRVU (the CSV in the RVUyyX zip)
* ``read_ptp_file``      - NCCI PTP edits, one part (f1-f4) of the practitioner or outpatient-hospital
                           file (the tab-delimited TXT in the CMS zip, or a CSV export of it)
* ``read_hcpcs_file``    - HCPCS Level II annual/quarterly file (the fixed-width ANWEB TXT, or a CSV
                           export of its XLSX copy): long description, added/termination dates, for
                           ``hcpcs_refresh.refreshed_catalog`` (drug codes and billing units)

Layouts follow ../shared/reference/drug-admin-reference.md section D2-D4. Every reader streams the
file line by line with the ``csv`` module (the PTP files hold about a million rows), skips the
copyright preamble and header rows, and raises ``ValueError`` naming the file, the row and the line
for a row that does not fit the layout. Only CSV/TXT are read: the XLSX copies in the same CMS zips
are not (that would need an extra dependency) - use the CSV/TXT file beside them.

Use the results with ``CodeTable.with_mue`` / ``CodeTable.with_wrvu`` and ``PtpTable(edits, release)``
(or :func:`ptp_table_from_cms_files`).
"""
from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from .codes import Mue
from .ncci import OUTPATIENT_HOSPITAL, PRACTITIONER, PtpEdit, PtpTable, setting_for

__all__ = ["read_mue_file", "read_pfs_rvu_file", "read_ptp_file", "iter_ptp_file", "ptp_table_from_cms_files",
           "read_hcpcs_file", "iter_hcpcs_file", "HcpcsRecord", "DRUG_ADMIN_RANGE"]

DRUG_ADMIN_RANGE = (96360, 96549)

_CODE = re.compile(r"^(?=.*\d)[0-9A-Z]{5}$")      # HCPCS/CPT: 5 characters, at least one digit
_MAI = re.compile(r"^\s*([123])(?!\d)")
_DATE = re.compile(r"^\d{8}$")
_EXCEL = {".xlsx", ".xls", ".xlsm"}


class _Rows:
    """csv.reader over a file with the record number and physical line for error messages."""

    def __init__(self, path: str | Path, delimiter: str | None = None) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() in _EXCEL:
            raise ValueError(f"{self.path}: Excel files are not read; use the CSV (MUE, PPRRVU) or TXT "
                             "(PTP) file from the same CMS zip")
        self.delimiter = delimiter
        self.record = 0
        self.line = 0

    def __iter__(self) -> Iterator[list[str]]:
        with self.path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
            head = list(itertools.islice(fh, 60))
            delimiter = self.delimiter or ("\t" if any("\t" in h for h in head) else ",")
            reader = csv.reader(itertools.chain(head, fh), delimiter=delimiter)
            for row in reader:
                self.record += 1
                self.line = reader.line_num
                yield [cell.strip() for cell in row]

    def error(self, msg: str) -> ValueError:
        return ValueError(f"{self.path}: row {self.record} (line {self.line}): {msg}")


def _blank(row: list[str]) -> bool:
    return not any(row)


def _is_code(cell: str) -> bool:
    return bool(_CODE.match(cell.upper()))


# ------------------------------------------------------------------------------------------- MUE
def read_mue_file(path: str | Path) -> dict[str, Mue]:
    """Read a CMS MUE CSV (practitioner or outpatient hospital) into {code: Mue}.

    Layout: a copyright preamble (one quoted multi-line cell or several lines), then a header row whose
    first cell starts with "HCPCS" ("HCPCS/\\nCPT Code"), then rows: code, MUE value, MAI text such as
    "3 Date of Service Edit: Clinical", MUE rationale.
    """
    rows = _Rows(path)
    result: dict[str, Mue] = {}
    header: list[str] | None = None
    cols = (1, 2, 3)
    for row in rows:
        if header is None:
            if row and row[0].upper().startswith("HCPCS"):
                header = row
                cols = _mue_columns(row, rows)
            continue
        if _blank(row):
            continue
        i_val, i_mai, i_rat = cols
        if len(row) <= max(i_val, i_mai):
            raise rows.error(f"expected at least {max(i_val, i_mai) + 1} columns "
                             f"(code, MUE value, MAI, rationale), got {len(row)}: {row!r}")
        code = row[0].upper()
        if not _is_code(code):
            raise rows.error(f"column 1 {row[0]!r} is not a 5-character HCPCS/CPT code")
        try:
            value = int(row[i_val])
        except ValueError:
            raise rows.error(f"MUE value {row[i_val]!r} for {code} is not a whole number") from None
        m = _MAI.match(row[i_mai])
        if not m:
            raise rows.error(f"MUE adjudication indicator {row[i_mai]!r} for {code} does not start with 1, 2 or 3")
        rationale = row[i_rat] if i_rat < len(row) and row[i_rat] else None
        result[code] = Mue(value=value, mai=int(m.group(1)), rationale=rationale, source="CMS-MUE-FILE")
    if header is None:
        raise ValueError(f"{rows.path}: no header row whose first cell starts with 'HCPCS' "
                         f"(read {rows.record} rows); is this a CMS MUE CSV?")
    if not result:
        raise ValueError(f"{rows.path}: header found but no MUE rows")
    return result


def _mue_columns(header: list[str], rows: _Rows) -> tuple[int, int, int]:
    """Find the value / MAI / rationale columns by their header text, defaulting to 2, 3, 4."""
    names = [" ".join(h.lower().split()) for h in header]
    def find(pred, default):
        return next((i for i, n in enumerate(names) if i > 0 and pred(n)), default)
    i_val = find(lambda n: "mue value" in n or n.endswith("values"), 1)
    i_mai = find(lambda n: "adjudication" in n or n == "mai", 2)
    i_rat = find(lambda n: "rationale" in n, 3)
    if len({i_val, i_mai, i_rat}) != 3:
        raise rows.error(f"cannot tell the MUE columns apart in header {header!r}")
    return i_val, i_mai, i_rat


def _data_rows(rows, expected: str, shown: int):
    """(code, row) for each data row after the copyright preamble and header rows, which are skipped;
    a non-code row once data has started is an error naming the row."""
    started = False
    for row in rows:
        if _blank(row):
            continue
        first = row[0].upper()
        if not _is_code(first):
            if started:
                raise rows.error(f"expected {expected}, got {row[:shown]!r}")
            continue
        started = True
        yield first, row


# ------------------------------------------------------------------------------------------- PFS RVU
def read_pfs_rvu_file(path: str | Path) -> dict[str, float]:
    """Read the work RVU of each code from a CMS PPRRVU CSV into {code: wRVU}.

    Layout: copyright and several header rows, then data rows: HCPCS (col 1), MOD (col 2), ...,
    WORK RVU (col 6), ... (31 columns). Rows with a modifier (26, TC, 53, ...) are skipped, as are rows
    with an empty work RVU.
    """
    rows = _Rows(path, delimiter=",")
    result: dict[str, float] = {}
    for first, row in _data_rows(rows, "a data row starting with a HCPCS code", 6):
        if len(row) < 6:
            raise rows.error(f"expected at least 6 columns (HCPCS, MOD, DESCRIPTION, STATUS, "
                             f"NOT USED, WORK RVU), got {len(row)}")
        if row[1]:
            continue            # modifier row
        if not row[5]:
            continue
        try:
            result[first] = float(row[5])
        except ValueError:
            raise rows.error(f"WORK RVU {row[5]!r} for {first} is not a number") from None
    if not result:
        raise ValueError(f"{rows.path}: no PPRRVU data rows (HCPCS in column 1, WORK RVU in column 6) "
                         f"in {rows.record} rows; is this a CMS PPRRVU CSV?")
    return result


# ------------------------------------------------------------------------------------------- PTP
def _as_yyyymmdd(as_of: date | datetime | str | None) -> str:
    if as_of is None:
        return date.today().strftime("%Y%m%d")
    if isinstance(as_of, (date, datetime)):
        return as_of.strftime("%Y%m%d")
    digits = as_of.replace("-", "")
    if not _DATE.match(digits):
        raise ValueError(f"as_of must be a date or YYYY-MM-DD / YYYYMMDD, not {as_of!r}")
    return digits


def _in_range(code: str, lo: int, hi: int) -> bool:
    return code.isdigit() and lo <= int(code) <= hi


def iter_ptp_file(path: str | Path, setting: str, as_of: date | str | None = None,
                  code_range: tuple[int, int] | None = DRUG_ADMIN_RANGE, *,
                  every_date: bool = False) -> Iterator[PtpEdit]:
    """Stream the active edits of one CMS PTP file part (see ``read_ptp_file``); ``every_date=True``
    keeps every row whatever its effective and deletion dates (``as_of`` is then ignored), for a store
    that picks the edits in force on each date of service later (``releases.ReleaseStore``)."""
    setting = setting_for(setting)
    day = _as_yyyymmdd(as_of)
    rows = _Rows(path)
    started = False
    for first, row in _data_rows(rows, "a PTP row starting with a column-1 code", 7):
        started = True
        if len(row) < 6:
            raise rows.error(f"expected 7 columns (column 1, column 2, prior-1996 flag, effective date, "
                             f"deletion date, modifier, rationale), got {len(row)}: {row!r}")
        col2 = row[1].upper()
        if not _is_code(col2):
            raise rows.error(f"column 2 {row[1]!r} is not a 5-character HCPCS/CPT code")
        effective, deletion, mod = row[3], row[4], row[5]
        if not _DATE.match(effective):
            raise rows.error(f"effective date {effective!r} is not YYYYMMDD")
        if deletion != "*" and not _DATE.match(deletion):
            raise rows.error(f"deletion date {deletion!r} is neither '*' nor YYYYMMDD")
        if mod not in ("0", "1", "9"):
            raise rows.error(f"modifier indicator {mod!r} is not 0, 1 or 9")
        if code_range is not None and not (_in_range(first, *code_range) or _in_range(col2, *code_range)):
            continue
        rationale = row[6] if len(row) > 6 else ""
        edit = PtpEdit(first, col2, int(mod), rationale, setting, effective=effective,
                       deletion=None if deletion == "*" else deletion, source="CMS-PTP-FILE")
        if every_date or edit.in_force(day):
            yield edit
    if not started:
        raise ValueError(f"{rows.path}: no PTP rows (column-1 code, column-2 code, ..., YYYYMMDD dates) "
                         f"in {rows.record} rows; is this a CMS PTP file?")


def read_ptp_file(path: str | Path, setting: str, as_of: date | str | None = None,
                  code_range: tuple[int, int] | None = DRUG_ADMIN_RANGE) -> list[PtpEdit]:
    """Read one part of a CMS PTP file and keep the active drug-administration edits.

    ``setting``: "Practitioner" / "professional" or "Outpatient Hospital" / "facility".
    Layout: tab-delimited TXT (or CSV) with a copyright preamble and a wrapped header, then rows:
    column 1, column 2, "*" if in existence before 1996, effective date YYYYMMDD, deletion date
    YYYYMMDD or "*", modifier indicator 0/1/9, rationale.
    Kept: rows in effect on ``as_of`` (default today) - effective date on or before it and deletion date
    "*" or after it - where column 1 or column 2 lies in ``code_range`` (96360-96549; None keeps all).
    """
    return list(iter_ptp_file(path, setting, as_of=as_of, code_range=code_range))


# ------------------------------------------------------------------------------------------- HCPCS Level II
@dataclass(frozen=True, slots=True)
class HcpcsRecord:
    """One HCPCS Level II code from the CMS annual/quarterly file (continuation records joined)."""

    code: str
    long_description: str
    short_description: str = ""
    added: str | None = None              # ADD_DT as YYYY-MM-DD
    action_effective: str | None = None   # ACT_EFF_DT
    terminated: str | None = None         # TERM_DT
    action: str | None = None             # ACTION_CD (A added, C changed, D discontinued, N no change, ...)


# Fixed-width TXT (HCPCyyyy_..._ANWEB.txt), 1-based positions of the CMS record layout
# (drug-admin-reference.md D5, from the 2019 layout in dewittpe/cms.hcpcs [S3]).
_ANWEB_TXT = {
    "code": (1, 5), "seq": (6, 10), "recid": (11, 11), "long": (12, 91), "short": (92, 119),
    "added": (269, 276), "action_effective": (277, 284), "terminated": (285, 292), "action": (293, 293),
}
_FIRST_RECORD, _CONTINUATION = "3", "4"       # record ids 7/8 (modifiers) and others are skipped
# CSV export of the XLSX copy: the header names (spaces, underscores and case ignored)
_ANWEB_COLUMNS = {
    "code": ("hcpc", "hcpcs", "hcpccode", "hcpcscode"), "recid": ("recid", "recordid"), "seq": ("seqnum", "sequencenumber"),
    "long": ("longdescription", "longdesc"), "short": ("shortdescription", "shortdesc"),
    "added": ("adddt", "adddate", "codeaddeddate"), "action_effective": ("acteffdt", "actioneffectivedate"),
    "terminated": ("termdt", "terminationdate"), "action": ("actioncd", "actioncode"),
}
_HCPCS_CODE = re.compile(r"^[A-Z0-9][0-9]{4}$|^[A-Z][0-9]{3}[A-Z0-9]$")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def _hcpcs_date(text: str, rows: _Rows, what: str) -> str | None:
    """YYYYMMDD, YYYY-MM-DD or M/D/YYYY as YYYY-MM-DD; blank or all zero: None."""
    text = text.strip()
    if not text or set(text) <= {"0"}:
        return None
    if _DATE.match(text):
        iso = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    elif (m := _US_DATE.match(text)) is not None:
        iso = f"{m.group(3)}-{int(m.group(1)):02d}-{int(m.group(2)):02d}"
    else:
        iso = text[:10]
    try:
        return date.fromisoformat(iso).isoformat()
    except ValueError:
        raise rows.error(f"{what} {text!r} is not a date (YYYYMMDD, YYYY-MM-DD or M/D/YYYY)") from None


def _anweb_header(row: list[str]) -> dict[str, int] | None:
    names = [re.sub(r"[^a-z0-9]", "", c.lower()) for c in row]
    found = {}
    for field, options in _ANWEB_COLUMNS.items():
        for i, n in enumerate(names):
            if n in options:
                found[field] = i
                break
    return found if "code" in found and "long" in found else None


def iter_hcpcs_file(path: str | Path) -> Iterator[HcpcsRecord]:
    """Stream the codes of a CMS HCPCS Level II file (see ``read_hcpcs_file``)."""
    path = Path(path)
    if path.suffix.lower() in _EXCEL:
        raise ValueError(f"{path}: Excel files are not read; use the fixed-width TXT file (HCPCyyyy_..._ANWEB.txt) "
                         "from the same CMS zip, or save the sheet as CSV")
    with path.open(encoding="latin-1", newline="") as fh:
        head = fh.read(4096)
    first = head.lstrip("\ufeff").splitlines()[0].upper() if head.strip() else ""
    delimited = "HCPC" in first and "LONG" in first     # the CSV export has a header; the TXT has none
    pieces = _anweb_delimited(path) if delimited else _anweb_fixed(path)
    current: dict | None = None
    for piece in pieces:
        code, recid = piece["code"], piece["recid"]
        if recid == _CONTINUATION and current is not None and current["code"] == code:
            current["long"] = _join_description(current["long"], piece["long"], current["padded"] or piece["lead"])
            current["padded"] = piece["padded"]
            continue
        if recid not in ("", _FIRST_RECORD):
            continue            # modifiers (7, 8) and any other record type
        if current is not None:
            yield _record(current)
        current = piece
    if current is None:
        raise ValueError(f"{path}: no HCPCS records (code in positions 1-5, record id 3 in position 11, or a CSV "
                         "with HCPC and LONG DESCRIPTION columns); is this the CMS HCPCS Level II file?")
    yield _record(current)


def _join_description(first: str, more: str, padded: bool) -> str:
    """Continuation records carry the next 80 characters; a space at the end of one record or the start
    of the next ends a word, otherwise the record boundary fell inside a word."""
    if not more:
        return first
    return f"{first} {more}" if padded or not first else first + more


def _record(p: dict) -> HcpcsRecord:
    return HcpcsRecord(code=p["code"], long_description=" ".join(p["long"].split()), short_description=p["short"],
                       added=p["added"], action_effective=p["action_effective"], terminated=p["terminated"],
                       action=p["action"] or None)


def _anweb_fixed(path: Path) -> Iterator[dict]:
    rows = _Rows(path)
    with path.open(encoding="latin-1", newline="") as fh:
        for number, raw in enumerate(fh, 1):
            rows.record = rows.line = number
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue

            def cut(field: str) -> str:
                lo, hi = _ANWEB_TXT[field]
                return line[lo - 1:hi]
            code, recid = cut("code").strip().upper(), cut("recid").strip()
            if recid not in (_FIRST_RECORD, _CONTINUATION):
                continue        # modifier records (7, 8) carry 2-character codes
            if not _HCPCS_CODE.match(code):
                raise rows.error(f"positions 1-5 {code!r} are not a HCPCS code (fixed-width HCPCS record layout)")
            long_raw = cut("long")
            yield {"code": code, "recid": recid, "long": long_raw.strip(),
                   "padded": len(long_raw) < 80 or long_raw.endswith(" "), "lead": long_raw.startswith(" "),
                   "short": cut("short").strip(),
                   "added": _hcpcs_date(cut("added"), rows, "code added date (positions 269-276)"),
                   "action_effective": _hcpcs_date(cut("action_effective"), rows, "action effective date (positions 277-284)"),
                   "terminated": _hcpcs_date(cut("terminated"), rows, "termination date (positions 285-292)"),
                   "action": cut("action").strip()}


def _anweb_delimited(path: Path) -> Iterator[dict]:
    rows = _Rows(path)
    cols: dict[str, int] | None = None
    for row in rows:
        if cols is None:
            cols = _anweb_header(row)
            continue
        if _blank(row):
            continue

        def cell(field: str) -> str:
            i = cols.get(field)
            return row[i] if i is not None and i < len(row) else ""
        code, recid = cell("code").upper(), cell("recid")
        if recid not in ("", _FIRST_RECORD, _CONTINUATION):
            continue
        if not _HCPCS_CODE.match(code):
            raise rows.error(f"column HCPC {code!r} is not a HCPCS code")
        yield {"code": code, "recid": recid, "long": cell("long"), "padded": True, "lead": True, "short": cell("short"),
               "added": _hcpcs_date(cell("added"), rows, "ADD DT"),
               "action_effective": _hcpcs_date(cell("action_effective"), rows, "ACT EFF DT"),
               "terminated": _hcpcs_date(cell("terminated"), rows, "TERM DT"), "action": cell("action")}
    if cols is None:
        raise ValueError(f"{rows.path}: no header row with HCPC and LONG DESCRIPTION columns")


def read_hcpcs_file(path: str | Path, prefixes: str | None = "JQCA") -> dict[str, HcpcsRecord]:
    """Read the CMS HCPCS Level II annual or quarterly file into {code: HcpcsRecord}.

    Formats: the fixed-width TXT (``HCPCyyyy_<MON>_ANWEB*.txt``: code 1-5, sequence 6-10, record id 11
    (3 = first record of a code, 4 = continuation of its long description, 7/8 = modifiers, skipped),
    long description 12-91, short description 92-119, code added date 269-276, action effective date
    277-284, termination date 285-292, action code 293), or a CSV/tab export of the XLSX copy with
    the columns HCPC, RECID, LONG DESCRIPTION, SHORT DESCRIPTION, ADD DT, ACT EFF DT, TERM DT,
    ACTION CD (found by name; continuation rows joined the same way).
    ``prefixes``: keep only codes starting with these letters (drugs and fluids are J, Q, C, A codes);
    None keeps every code. Use the result with ``hcpcs_refresh.refreshed_catalog``.
    """
    keep = tuple(prefixes) if prefixes else None
    out: dict[str, HcpcsRecord] = {}
    for rec in iter_hcpcs_file(path):
        if keep is None or rec.code.startswith(keep):
            out[rec.code] = rec
    return out


def ptp_table_from_cms_files(practitioner: Iterable[str | Path] | str | Path | None = None,
                             hospital: Iterable[str | Path] | str | Path | None = None, *,
                             release: str, as_of: date | str | None = None) -> PtpTable:
    """A PTP table from the official CMS PTP files (each setting comes in several parts, f1-f4)."""
    edits: list[PtpEdit] = []
    for paths, setting in ((practitioner, PRACTITIONER), (hospital, OUTPATIENT_HOSPITAL)):
        if paths is None:
            continue
        if isinstance(paths, (str, Path)):
            paths = [paths]
        for p in paths:
            edits.extend(read_ptp_file(p, setting, as_of=as_of))
    return PtpTable(edits, release)
