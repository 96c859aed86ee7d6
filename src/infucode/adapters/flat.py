"""Flat tables: one administration per row (CSV, Parquet, Spark) in, one charge line per row out.

Input columns (the encounter's fields repeat on each of its rows; blank = not documented):
``encounter_id, setting, date, claim, payer, administration_id, drug, hcpcs, class, route, indication,
start, stop, minutes, site, separate_site_required, primary, discontinued, pump, volume_ml,
rate_ml_per_hr, dose_value, dose_unit, vial_size, vial_unit, vial_single_dose, discarded, device, lesions,
description`` (route may be any route of the input contract, e.g. on_body_injector, intrathecal, pump_refill, flush).
Interruptions are not representable in one row; use JSON Lines for them.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

from ..decoding import decode_encounter
from ..model import Encounter, ErrorResult, InputError, Result

ENCOUNTER_COLUMNS = ("encounter_id", "setting", "date", "claim", "payer")
ADMINISTRATION_COLUMNS = (
    "administration_id", "drug", "hcpcs", "class", "route", "indication", "start", "stop", "minutes", "site",
    "separate_site_required", "primary", "discontinued", "pump", "volume_ml", "rate_ml_per_hr",
    "dose_value", "dose_unit", "vial_size", "vial_unit", "vial_single_dose", "discarded",
    "device", "lesions", "description",
)
INPUT_COLUMNS = ENCOUNTER_COLUMNS + ADMINISTRATION_COLUMNS
BOOLEAN_COLUMNS = frozenset({"separate_site_required", "primary", "discontinued", "pump", "vial_single_dose"})
NUMBER_COLUMNS = frozenset({"volume_ml", "rate_ml_per_hr", "dose_value", "vial_size", "discarded"})

# Headers spreadsheets write for our columns (compared after folding case, spaces and hyphens to '_'):
# "Encounter ID" and "encounter-id" are encounter_id without a line here. Documented in README ("Input").
HEADER_SYNONYMS: dict[str, str] = {
    "encounter": "encounter_id", "enc_id": "encounter_id", "visit_id": "encounter_id", "csn": "encounter_id",
    "administration": "administration_id", "admin_id": "administration_id", "line": "administration_id",
    "medication": "drug", "drug_name": "drug", "med": "drug",
    "start_time": "start", "started": "start", "start_datetime": "start", "begin_time": "start",
    "stop_time": "stop", "end_time": "stop", "end": "stop", "stopped": "stop", "stop_datetime": "stop",
    "duration_minutes": "minutes", "duration": "minutes",
    "service_date": "date", "date_of_service": "date", "dos": "date",
    "drug_class": "class", "hcpcs_code": "hcpcs", "access_site": "site", "iv_site": "site",
    "volume": "volume_ml", "rate": "rate_ml_per_hr", "dose": "dose_value",
}


def header_key(header: str) -> str:
    """A header folded for comparison: 'Encounter ID' -> 'encounter_id', 'stop-time' -> 'stop_time'."""
    return "_".join(str(header).strip().lower().replace("-", " ").split())


def column_of_header(header: str) -> str | None:
    """Our column for a spreadsheet header (ours in any capitals, or a synonym of HEADER_SYNONYMS); None if not ours."""
    key = header_key(header)
    if key in _INPUT_SET:
        return key
    return HEADER_SYNONYMS.get(key)


_INPUT_SET = frozenset(INPUT_COLUMNS)

LINE_COLUMNS = ("encounter", "line_index", "kind", "code", "units", "modifiers", "date", "administrations",
                "rule", "wrvu", "explanation", "error_field", "error")


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (isinstance(value, str) and not value.strip())


def _field(i: int, col: str) -> str:
    return f"administrations[{i}].{col}"


def _boolean(value: Any, i: int, col: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "y"):
        return True
    if text in ("false", "0", "no", "n"):
        return False
    raise InputError(_field(i, col), "expected true or false")


def _number(value: Any, i: int, col: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(_field(i, col), "expected a number") from None


def _minutes(value: Any, i: int, col: str) -> int:
    number = _number(value, i, col)
    if not math.isfinite(number):  # 'inf' and 'nan' read as floats but count no minutes
        raise InputError(_field(i, col), "expected a finite number of minutes")
    return int(number)


# How each administration column's value is read (None: as stripped text); the field name of an error
# is only built when there is one.
def _count(value: Any, i: int, col: str) -> int:
    number = _number(value, i, col)
    if not math.isfinite(number) or number != int(number):
        raise InputError(_field(i, col), "expected a whole number")
    return int(number)


_CONVERT = {**{c: _boolean for c in BOOLEAN_COLUMNS}, **{c: _number for c in NUMBER_COLUMNS}, "minutes": _minutes,
            "lesions": _count}
_ADMINISTRATION_FIELDS = tuple((col, _CONVERT.get(col)) for col in ADMINISTRATION_COLUMNS)


def encounter_from_rows(rows: Iterable[dict[str, Any]]) -> Encounter:
    """One encounter from its administration rows (in the order given)."""
    rows = list(rows)
    if not rows:
        raise InputError(None, "an encounter needs at least one row")
    first = rows[0]
    enc: dict[str, Any] = {"id": first.get("encounter_id")}
    for col in ENCOUNTER_COLUMNS[1:]:
        if not _blank(first.get(col)):
            enc[col] = str(first[col]).strip()
    administrations = []
    for i, row in enumerate(rows):
        adm: dict[str, Any] = {}
        get = row.get
        for col, convert in _ADMINISTRATION_FIELDS:
            value = get(col)
            if value is None:
                continue
            if type(value) is str:  # the usual case (CSV, Parquet text): strip once, blank is not documented
                value = value.strip()
                if not value:
                    continue
            elif _blank(value):
                continue
            if convert is None:
                adm[col] = value if type(value) is str else str(value).strip()
            else:
                adm[col] = convert(value, i, col)
        if "administration_id" in adm:
            adm["id"] = adm.pop("administration_id")
        if "dose_value" in adm or "dose_unit" in adm:
            adm["dose"] = {"value": adm.pop("dose_value", None), "unit": adm.pop("dose_unit", None)}
        if "vial_size" in adm or "vial_unit" in adm:
            vial = {"size": adm.pop("vial_size", None), "unit": adm.pop("vial_unit", None)}
            if "vial_single_dose" in adm:
                vial["single_dose"] = adm.pop("vial_single_dose")
            adm["vial"] = vial
        adm.pop("vial_single_dose", None)
        administrations.append(adm)
    enc["administrations"] = administrations
    return decode_encounter(enc)


def rows_from_encounter(enc: dict[str, Any]) -> list[dict[str, Any]]:
    """The inverse of :func:`encounter_from_rows` for an encounter in the input format (a dict): one row
    per administration with every ``INPUT_COLUMNS`` key (None where not documented). Interruptions
    have no columns and are dropped."""
    head = {"encounter_id": enc.get("id"), **{col: enc.get(col) for col in ENCOUNTER_COLUMNS[1:]}}
    rows = []
    for adm in enc.get("administrations") or ():
        dose, vial = adm.get("dose") or {}, adm.get("vial") or {}
        nested = {"administration_id": adm.get("id"), "dose_value": dose.get("value"), "dose_unit": dose.get("unit"),
                  "vial_size": vial.get("size"), "vial_unit": vial.get("unit"), "vial_single_dose": vial.get("single_dose")}
        rows.append({**head, **{col: nested[col] if col in nested else adm.get(col) for col in ADMINISTRATION_COLUMNS}})
    return rows


def encounters_from_csv(text: str, columns: dict[str, str] | None = None) -> list[Encounter | InputError]:
    """Encounters from a CSV of administration rows (the columns above), grouped by encounter_id in
    first-seen order; a bad encounter is an InputError naming its row, the others still come through."""
    import csv
    import io

    reader = csv.DictReader(io.StringIO(text))
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        return [InputError(None, f"the header row cannot be read ({exc})", line=1)]
    # spreadsheet headers ("Encounter ID", "start_time") to ours; a header that is none of ours is said, not dropped
    ours: list[str | None] = []
    unknown: list[str] = []
    by_theirs = {theirs: mine for mine, theirs in (columns or {}).items()}
    for name in header or ():
        column = by_theirs.get(name) or (None if column_of_header(name) in (columns or {}) else column_of_header(name))
        if column is not None and column in ours:
            column = None  # a repeated column: the first one counts
        if column is None:
            key = header_key(name)
            # a header is quoted when it reads as a column name; anything else might be data in the header row
            unknown.append(f"'{key}'" if key and key.replace("_", "").isalpha() and len(key) <= 40 else "one header")
        ours.append(column)
    reader.fieldnames = [c if c is not None else f"\0ignored{i}" for i, c in enumerate(ours)]
    header = reader.fieldnames
    if not header or "encounter_id" not in header:
        return [InputError("encounter_id", "a CSV of administrations needs an encounter_id column "
                                           f"(or one of: {', '.join(k for k, v in HEADER_SYNONYMS.items() if v == 'encounter_id')})")]
    warning = (f"column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} not one of ours (adapters.flat.INPUT_COLUMNS "
               "or HEADER_SYNONYMS): ignored") if unknown else None
    groups: dict[str, list[tuple[int, dict]]] = {}
    unreadable: list[InputError] = []
    suspect: dict[str, int] = {}  # encounter id -> line of an unreadable row next to its rows
    previous: str | None = None
    after_bad: int | None = None
    n = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # a field over the csv module's size limit, a stray quote
            n = reader.reader.line_num
            unreadable.append(InputError(None, f"row cannot be read ({exc})", line=n))
            if previous is not None:
                suspect.setdefault(previous, n)
            after_bad = n
            continue
        n += 1
        eid = (row.get("encounter_id") or "").strip()
        if after_bad is not None:
            suspect.setdefault(eid, after_bad)
            after_bad = None
        previous = eid
        groups.setdefault(eid, []).append((n, row))
    out: list[Encounter | InputError] = []
    for eid, rows in groups.items():
        if eid in suspect:
            # the unreadable row beside its rows may be one of its administrations: never code it without it
            out.append(InputError(None, f"not coded: the unreadable row at line {suspect[eid]} may be one of its "
                                        "administrations", encounter=eid or None, line=rows[0][0]))
            continue
        try:
            encounter = encounter_from_rows(r for _, r in rows)
            if warning is not None:
                encounter.input_warnings = [warning]  # said in the result (engine, rule input.unknown_column)
            out.append(encounter)
        except InputError as exc:
            exc.encounter = exc.encounter or eid or None
            exc.line = rows[0][0]
            out.append(exc)
    out.extend(unreadable)
    return out


def line_rows(item: Result | ErrorResult) -> list[dict[str, Any]]:
    """One row per charge line (an unreadable encounter: one row with the error)."""
    if isinstance(item, ErrorResult):
        return [{"encounter": item.encounter, "line_index": -1, "kind": None, "code": None, "units": None,
                 "modifiers": None, "date": None, "administrations": None, "rule": None, "wrvu": None,
                 "explanation": None, "error_field": item.error.field, "error": item.error.message}]
    return [{"encounter": item.encounter, "line_index": i, "kind": line.kind, "code": line.code, "units": line.units,
             "modifiers": ";".join(line.modifiers), "date": line.date, "administrations": ";".join(line.administrations),
             "rule": line.rule, "wrvu": line.wrvu, "explanation": line.explanation, "error_field": None, "error": None}
            for i, line in enumerate(item.lines)]
