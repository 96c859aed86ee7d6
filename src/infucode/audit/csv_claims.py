"""Claims from a CSV file: one billed line per row, grouped into claims by ``claim_id``.

Required columns ``claim_id, claim_type, date, code, units``; optional ``place_of_service, payer,
modifiers`` (``;``-separated), ``line_date, revenue_code, ndc``. Rows of one claim may be anywhere in
the file; the claim-level columns must agree between them. CSV claims carry no documentation (use
JSON/YAML with an ``encounter`` for that).
"""
from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from typing import Any, TextIO

from infucode.model import InputError

from .model import Claim, decode_claim, units_from_text

__all__ = ["CSV_OPTIONAL", "CSV_REQUIRED", "read_csv_claims"]

CSV_REQUIRED = ("claim_id", "claim_type", "date", "code", "units")
CSV_OPTIONAL = ("place_of_service", "payer", "modifiers", "line_date", "revenue_code", "ndc")
_CLAIM_COLUMNS = (("claim_type", "claim_type"), ("date", "date"), ("place_of_service", "place_of_service"), ("payer", "payer"))


def read_csv_claims(fh: TextIO, name: str | None = None) -> Iterator[tuple[Claim | InputError, int | None]]:
    """One billed line per row, grouped into claims by ``claim_id`` (first-appearance order).

    A missing required column stops the file with one error naming the column(s) and the file; a row the
    CSV parser cannot read, or a row with more fields than the header, is an error for that row's claim."""
    what = f"CSV file {name}" if name else "CSV file"
    reader = csv.DictReader(fh)
    try:
        header = [(h or "").strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        yield InputError(None, f"{what}: the header row cannot be read ({exc})", line=1), 1
        return
    if not header:
        yield InputError(None, f"{what} is empty: expected a header row with {', '.join(CSV_REQUIRED)}", line=1), 1
        return
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        unknown = [h for h in header if h and h not in CSV_REQUIRED + CSV_OPTIONAL]
        hint = f"; unknown column(s): {', '.join(h[:40] for h in unknown[:5])}" if unknown else ""
        yield InputError(missing[0], f"{what} is missing column(s) {', '.join(missing)} "
                                     f"(required: {', '.join(CSV_REQUIRED)}){hint}; no claim in it was audited", line=1), 1
        return
    reader.fieldnames = header
    claims: dict[str, dict[str, Any]] = {}
    rows_of: dict[str, list[int]] = {}
    problems: dict[str, InputError] = {}
    rows = iter(reader)
    previous: str | None = None   # the claim of the row before
    after_bad: int | None = None  # line of an unreadable row just before this one
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:  # a cell over the csv module's size limit: that row only, reading goes on
            bad = reader.reader.line_num
            yield InputError(None, f"{what}: row cannot be read ({exc})", line=bad), bad
            if previous:
                _suspect(previous, bad, claims, rows_of, problems)
            after_bad = bad
            continue
        line = reader.line_num
        cid = (row.get("claim_id") or "").strip()
        if after_bad is not None and cid:
            _suspect(cid, after_bad, claims, rows_of, problems)
        after_bad, previous = None, cid or previous
        if None in row:   # more fields than the header: a shifted or unquoted value; never guess which
            err = InputError(None, f"row has more fields than the header ({len(header)} columns); quote values "
                                   "that contain commas", encounter=cid or None, line=line)
            if cid and cid not in problems:
                problems[cid] = err
                claims.setdefault(cid, {"id": cid, "lines": []})
                rows_of.setdefault(cid, []).append(line)
            elif not cid:
                yield err, line
            continue
        if not cid:
            yield InputError("claim_id", "empty claim_id", line=line), line
            continue
        claim = claims.get(cid)
        if claim is None:
            claim = claims[cid] = {"id": cid, "lines": []}
            rows_of[cid] = []
            for column, key in _CLAIM_COLUMNS:
                value = (row.get(column) or "").strip()
                if value:
                    claim[key] = value
        elif cid not in problems:
            for column, key in _CLAIM_COLUMNS:
                value = (row.get(column) or "").strip()
                if value and claim.get(key, value) != value:
                    problems[cid] = InputError(column, f"{column} differs between the rows of one claim",
                                               encounter=cid, line=line)
        billed: dict[str, Any] = {"code": (row.get("code") or "").strip(), "units": units_from_text(row.get("units") or "")}
        mods = [m.strip() for m in (row.get("modifiers") or "").split(";") if m.strip()]
        if mods:
            billed["modifiers"] = mods
        for column, key in (("line_date", "date"), ("revenue_code", "revenue_code"), ("ndc", "ndc")):
            value = (row.get(column) or "").strip()
            if value:
                billed[key] = value
        claim["lines"].append(billed)
        rows_of[cid].append(line)
    for cid, obj in claims.items():
        if cid in problems:
            yield problems[cid], problems[cid].line
            continue
        try:
            yield decode_claim(obj), rows_of[cid][0]
        except InputError as err:
            m = re.match(r"lines\[(\d+)\]", err.field or "")
            err.line = rows_of[cid][int(m.group(1))] if m else rows_of[cid][0]
            yield err, err.line


def _suspect(cid: str, bad: int, claims: dict, rows_of: dict, problems: dict) -> None:
    """The claim of the rows beside an unreadable row is not audited: the row may be one of its billed
    lines, and a claim audited without it would get wrong findings."""
    if cid not in problems:
        problems[cid] = InputError(None, f"not audited: the unreadable row at line {bad} may be one of its lines",
                                   encounter=cid, line=bad)
    claims.setdefault(cid, {"id": cid, "lines": []})
    rows_of.setdefault(cid, [])
