"""Rows pasted from a spreadsheet -> administrations, cell by cell, through the shared vocabulary.

Routes ("IV Push", "IM", "SQ"), clock times ("8:30 AM", "0830"), dates ("7/1/2024") and units are read by
:mod:`infucode.vocabulary` (and the drug catalog for names), the same words the MAR, intake and question
readers know. A cell the vocabulary cannot read is an error on that cell; it is never replaced by a
default (a route that cannot be read is not an infusion). Each cell that was read differently from how it
was written says so ("route 'IV Push' read as iv_push"). Messages quote a cell only when it was read as a
word of a closed vocabulary (a route, a clock format); free text (drug names, sites) is never quoted.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..model import InputError
from ..rules.drug_supply import in_unit
from ..vocabulary import find_dates, find_times, route_of_words

#: The columns a pasted row may have, in the default order (when the first row is not a header).
DEFAULT_COLUMNS = ("drug", "route", "start", "stop", "site")
#: Header words -> column (lower case, spaces and underscores alike). A small table, so that a pasted
#: header row with the usual spreadsheet names picks the columns.
HEADER_WORDS: dict[str, str] = {
    "id": "id", "administration": "id", "administration id": "id",
    "drug": "drug", "medication": "drug", "med": "drug", "drug name": "drug",
    "hcpcs": "hcpcs", "j code": "hcpcs", "jcode": "hcpcs", "code": "hcpcs",
    "route": "route",
    "start": "start", "start time": "start", "begin": "start", "started": "start",
    "stop": "stop", "stop time": "stop", "end": "stop", "end time": "stop", "stopped": "stop",
    "date": "date", "date of service": "date", "dos": "date",
    "site": "site", "iv site": "site",
    "dose": "dose", "indication": "indication", "diagnosis": "indication",
}
COLUMNS = frozenset(HEADER_WORDS.values())
#: At most this many rows in one paste (a day's flow sheet is a few dozen).
MAX_ROWS = 500
MAX_CELL_CHARS = 500

_HCPCS = re.compile(r"[A-Z]\d{4}")
_DOSE = re.compile(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*([A-Za-zµ]+)\s*")
ROUTE_PROBLEMS = {
    "not_a_service": "an oral, sublingual, rectal, topical or inhaled drug is not a drug-administration "
                     "service (CPT 96360-96549 cover injections and infusions): remove the row",
    "unsupported": "a route infucode has no code path for (intrathecal, on-body injector): code it by hand",
    "unknown": "route not recognised (IV, IV push, IVPB, IV infusion, SC/SQ, IM, intra-arterial)",
}


@dataclass
class Cell:
    column: str
    value: Any = None
    note: str | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        return {k: v for k, v in (("column", self.column), ("value", self.value), ("note", self.note),
                                  ("error", self.error)) if v is not None}


@dataclass
class Row:
    cells: list[Cell] = field(default_factory=list)
    date: str | None = None

    def cell(self, column: str) -> Cell | None:
        return next((c for c in self.cells if c.column == column), None)


def header_columns(cells: list[str]) -> list[str] | None:
    """The columns named by a header row, or None when the row is not a header (a word is not known)."""
    out = []
    for cell in cells:
        key = " ".join(cell.replace("_", " ").split()).lower()
        if key not in HEADER_WORDS:
            return None
        out.append(HEADER_WORDS[key])
    return out if out and len(set(out)) == len(out) else None


def read_route(text: str) -> Cell:
    route, problem = route_of_words(text)
    if route is None:
        return Cell("route", error=ROUTE_PROBLEMS[problem or "unknown"])
    note = None if text.strip() == route else f"route '{text.strip()}' read as {route}"
    return Cell("route", route, note)


def _spans_cover(text: str, spans: list[tuple[int, int]]) -> bool:
    """True when nothing but spaces, commas and 'at'/'@' is left outside ``spans``."""
    rest = list(text)
    for a, b in spans:
        rest[a:b] = [" "] * (b - a)
    return not re.sub(r"\s|,|@|\bat\b", "", "".join(rest), flags=re.I)


def read_time(column: str, text: str) -> tuple[Cell, str | None]:
    """A start/stop cell -> (cell with "HH:MM", the date written in it or None)."""
    dates = find_dates(text)
    date_spans = [(d.start, d.end) for d in dates]
    times = find_times(text, date_spans)
    if len(times) != 1 or len(dates) > 1 or not _spans_cover(text, date_spans + [(t.start, t.end) for t in times]):
        if dates and not times:
            return Cell(column, error="a date without a clock time: give the time (HH:MM, 8:30 AM)"), None
        return Cell(column, error="not a clock time (HH:MM, 0830, 8:30 AM, or a date and a time)"), None
    value = times[0].value
    note = None if times[0].text == value else f"time '{times[0].text}' read as {value}"
    return Cell(column, value, note), (dates[0].value if dates else None)


def read_date(text: str) -> Cell:
    dates = find_dates(text)
    if len(dates) != 1 or not _spans_cover(text, [(dates[0].start, dates[0].end)]):
        return Cell("date", error="not a date (YYYY-MM-DD, 7/1/2024, Jul 1 2024)")
    value = dates[0].value
    return Cell("date", value, None if dates[0].text == value else f"date '{dates[0].text}' read as {value}")


def read_dose(text: str) -> Cell:
    m = _DOSE.fullmatch(text)
    unit = m.group(2).lower() if m else ""
    if not m or in_unit(1.0, unit, unit) is None:
        return Cell("dose", error="not a dose: a number and a unit (mg, mcg, g, units, mEq, mL)")
    value = float(m.group(1))
    return Cell("dose", {"value": int(value) if value.is_integer() else value, "unit": unit})


def read_hcpcs(text: str) -> Cell:
    code = text.strip().upper()
    if not _HCPCS.fullmatch(code):
        return Cell("hcpcs", error="not a HCPCS code (a letter and four digits, e.g. J1569)")
    return Cell("hcpcs", code)


def read_drug(text: str, catalog) -> Cell:
    name = " ".join(text.split())
    match = catalog.match(name) if catalog is not None else None
    if match is None:
        return Cell("drug", name, "not in the drug catalog: give its HCPCS code for a drug line")
    return Cell("drug", name, None if match.how == "exact" else f"read as {match.drug.name}")


def read_row(columns: list[str], cells: list[str], catalog) -> Row:
    row = Row()
    for column, raw in zip(columns, cells):
        text = raw.strip()
        if not text:
            continue
        if len(text) > MAX_CELL_CHARS:
            row.cells.append(Cell(column, error=f"more than {MAX_CELL_CHARS} characters"))
        elif column == "route":
            row.cells.append(read_route(text))
        elif column in ("start", "stop"):
            cell, day = read_time(column, text)
            row.cells.append(cell)
            if day and row.date is None:
                row.date = day
        elif column == "date":
            cell = read_date(text)
            row.cells.append(cell)
            row.date = cell.value or row.date
        elif column == "dose":
            row.cells.append(read_dose(text))
        elif column == "hcpcs":
            row.cells.append(read_hcpcs(text))
        elif column == "drug":
            row.cells.append(read_drug(text, catalog))
        else:                       # id, site, indication: free text, kept as written
            row.cells.append(Cell(column, text))
    if len(cells) > len(columns):
        row.cells.append(Cell(columns[-1] if columns else "row", error=f"more cells than the {len(columns)} columns"))
    if row.cell("route") is None:
        row.cells.append(Cell("route", error="no route: every administration needs one (IV push, IV infusion, SC, IM)"))
    return row


def read_rows(rows: list[list[str]], catalog=None, columns: list[str] | None = None,
              encounter_date: str | None = None) -> dict:
    """Pasted rows (lists of cell texts) -> ``{"columns", "header", "date", "rows"}``; each row has its
    mapped ``administration`` and every read cell (``value`` and ``note``, or ``error``)."""
    if not isinstance(rows, list) or not all(isinstance(r, list) and all(isinstance(c, str) for c in r) for r in rows):
        raise InputError("rows", "a list of rows, each a list of cell texts")
    if len(rows) > MAX_ROWS:
        raise InputError("rows", f"at most {MAX_ROWS} rows at once")
    header = False
    if columns is None:
        named = header_columns(rows[0]) if rows else None
        if named:
            columns, rows, header = named, rows[1:], True
        else:
            columns = list(DEFAULT_COLUMNS)
    else:
        unknown = [i for i, c in enumerate(columns) if c not in COLUMNS]
        if unknown:
            raise InputError(f"columns[{unknown[0]}]", f"known columns: {', '.join(sorted(COLUMNS))}")
    read = [read_row(columns, cells, catalog) for cells in rows if any(c.strip() for c in cells)]
    date = encounter_date or next((r.date for r in read if r.date), None)
    out_rows = []
    for i, row in enumerate(read):
        adm: dict[str, Any] = {}
        for cell in row.cells:
            if cell.error is None and cell.value is not None and cell.column != "date":
                adm[cell.column] = cell.value
        adm.setdefault("id", f"a{i + 1}")
        if row.date and date and row.date != date:     # another day than the encounter's: a full timestamp
            for k in ("start", "stop"):
                if k in adm:
                    adm[k] = f"{row.date}T{adm[k]}"
        out_rows.append({"administration": adm, "cells": [c.to_dict() for c in row.cells],
                         "errors": sum(1 for c in row.cells if c.error)})
    return {"columns": columns, "header": header, "date": date, "rows": out_rows}


__all__ = ["COLUMNS", "DEFAULT_COLUMNS", "HEADER_WORDS", "MAX_ROWS", "read_rows"]
