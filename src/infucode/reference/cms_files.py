"""Readers for the official CMS files, so every bundled table can be replaced by the current quarter.

* ``read_mue_file``      - NCCI MUE table, practitioner or outpatient hospital (the CSV in the CMS zip)
* ``read_pfs_rvu_file``  - PFS national relative value file PPRRVU (the CSV in the RVUyyX zip)
* ``read_ptp_file``      - NCCI PTP edits, one part (f1-f4) of the practitioner or outpatient-hospital
                           file (the tab-delimited TXT in the CMS zip, or a CSV export of it)

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
from datetime import date, datetime
from pathlib import Path

from .codes import Mue
from .ncci import OUTPATIENT_HOSPITAL, PRACTITIONER, PtpEdit, PtpTable, setting_for

__all__ = ["read_mue_file", "read_pfs_rvu_file", "read_ptp_file", "iter_ptp_file", "ptp_table_from_cms_files",
           "DRUG_ADMIN_RANGE"]

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
