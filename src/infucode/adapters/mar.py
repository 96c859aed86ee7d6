"""MAR action logs (CSV) in: one row per action on an order, turned into administrations.

A medication administration record export has one row per nurse action: *Given*, *New Bag*,
*Rate Change*, *Paused*, *Restarted*, *Stopped*/*Completed* (Epic's ``MAR_ACTION_C_NAME`` values;
MIMIC-IV ``emar`` has the same shape). :func:`read_mar` folds the rows of each order into
administrations:

* rows are grouped by encounter (``encounter_id`` column; without it the whole file is one
  encounter) and by order (``order_id``), and read in time order (file order breaks ties);
* the first *given* (or *new bag*) starts the administration; *stopped*/*completed* ends it;
* *paused* ... *restarted* is an interruption (its minutes are not infusion time);
* *rate change* and *new bag* continue the same infusion; the first documented rate is kept;
* doses on *given*/*new bag* rows add up (same unit); drug, HCPCS, route, site, indication come from
  the first row of the order that has them;
* a *given* after a stop starts a second administration of the order (``<order>-2``); for
  push-type routes (IV push, SC, IM) every *given* is its own administration;
* route "IV" with no rate and no infusion action (stop, pause, new bag, rate change) is a push; with
  any of them it is an infusion. Route words are the shared vocabulary's
  (:data:`infucode.vocabulary.ROUTE_WORDS`: IV, IVP, IVPB, IV push, SC, SQ, IM...), as in the FHIR reader;
* *stopped* while paused ends the infusion at the pause.

Rows that contradict the ones before (a restart without a pause, a stop before any start, a second
stop, an unparseable time, an unknown action) are findings naming the **row number** (the
spreadsheet row: the header is row 1), never exceptions; the row is then ignored. Findings never
quote cell contents other than the action name.

A site maps its own export with a YAML file (see ``examples/mar/epic-style-mapping.yaml``)::

    columns:               # our name: the export's column header (only the ones that differ)
      order_id: "Order ID"
      action: "MAR Action"
      time: "Action Time"
    actions:               # our action: the export's values (case-insensitive), replacing ours
      given: ["Given", "Started"]
      stopped: ["Stopped", "Completed"]
    time_format: "%m/%d/%Y %H:%M"   # or a list; ISO 8601 is always accepted
    setting: office                 # when the export has no setting column

Columns (our names): ``encounter_id, setting, order_id, action, time, rate, route, drug, hcpcs,
site, dose, dose_unit, indication`` plus an optional ``date`` (then ``time`` may be a clock time).
``order_id``, ``action`` and ``time`` are required.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from infucode.model import Administration, Encounter, InputError
from infucode.vocabulary import parse_timestamp

from .mar_actions import MarAction, MarFinding, Severity, fold_actions

__all__ = ["DEFAULT_MAPPING", "MarAction", "MarFinding", "MarMapping", "MarRead", "encounters_from_mar", "fold_actions",
           "load_mapping", "read_mar"]


ACTIONS = ("given", "new_bag", "rate_change", "paused", "restarted", "stopped", "not_given", "ignore")

DEFAULT_MAPPING: dict[str, Any] = {
    "columns": {name: name for name in ("encounter_id", "setting", "order_id", "action", "time", "date", "rate", "route",
                                        "drug", "hcpcs", "site", "dose", "dose_unit", "indication")},
    "actions": {
        "given": ["given", "started", "start", "administered", "push", "bolus given"],
        "new_bag": ["new bag", "new bag hung", "bag change"],
        "rate_change": ["rate change", "rate changed", "rate/dose change"],
        "paused": ["paused", "pause", "stopped temporarily", "interrupted"],
        "restarted": ["restarted", "restart", "resumed", "resume"],
        "stopped": ["stopped", "stop", "completed", "complete", "infusion complete", "discontinued"],
        "not_given": ["not given", "held", "refused", "missed", "canceled entry", "cancelled entry"],
        "ignore": ["rate verify", "see alternative", "due", "pending", "patient's own med"],
    },
    "time_format": ["%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M %p", "%m/%d/%y %H:%M", "%Y%m%d %H%M",
                    "%Y-%m-%d %H%M"],
    "setting": None,
}
_REQUIRED = ("order_id", "action", "time")
_SETTINGS = ("facility", "office")


class MarRead(NamedTuple):
    encounter: Encounter | None
    findings: list[MarFinding]


@dataclass
class MarMapping:
    columns: dict[str, str]
    actions: dict[str, str]          # normalized export value -> our action
    time_formats: list[str]
    setting: str | None = None


def _norm(text: str) -> str:
    return " ".join(str(text).strip().lower().split())


def load_mapping(source: str | Path | dict | None = None) -> MarMapping:
    """A :class:`MarMapping` from a YAML file, a dict, or None (the defaults). Raises ValueError for a
    malformed mapping (a usage error, not a row problem)."""
    data: dict = {}
    if isinstance(source, (str, Path)):
        from .input_limits import safe_yaml_load

        try:
            data = safe_yaml_load(source, f"mapping {Path(source).name}") or {}
        except OSError as exc:
            raise ValueError(f"mapping {Path(source).name}: cannot read it: {exc.strerror or type(exc).__name__}") from None
    elif isinstance(source, dict):
        data = source
    elif source is not None:
        raise ValueError("mapping: expected a YAML file path or a dict")
    if not isinstance(data, dict):
        raise ValueError("mapping: expected a mapping with columns/actions")  # noqa: TRY004 - bad file content
    unknown = set(data) - {"columns", "actions", "time_format", "setting"}
    if unknown:
        raise ValueError(f"mapping: unknown keys {sorted(unknown)} (allowed: columns, actions, time_format, setting)")
    columns = dict(DEFAULT_MAPPING["columns"])
    for ours, theirs in (data.get("columns") or {}).items():
        if ours not in columns:
            raise ValueError(f"mapping: unknown column {ours!r} (ours are: {', '.join(columns)})")
        columns[ours] = str(theirs)
    action_lists = {k: list(v) for k, v in DEFAULT_MAPPING["actions"].items()}
    for ours, values in (data.get("actions") or {}).items():
        if ours not in ACTIONS:
            raise ValueError(f"mapping: unknown action {ours!r} (ours are: {', '.join(ACTIONS)})")
        action_lists[ours] = [values] if isinstance(values, str) else [str(v) for v in values]
    site_actions = data.get("actions") or {}
    actions: dict[str, str] = {}
    for ours in ACTIONS:
        if ours not in site_actions:
            for v in action_lists[ours]:
                actions.setdefault(_norm(v), ours)
    for ours in site_actions:  # a site's own lists win over our defaults for the same value
        for v in action_lists[ours]:
            actions[_norm(v)] = ours
    fmt = data.get("time_format", DEFAULT_MAPPING["time_format"])
    formats = [fmt] if isinstance(fmt, str) else [str(f) for f in fmt]
    setting = data.get("setting")
    if setting is not None and setting not in _SETTINGS:
        raise ValueError(f"mapping: setting must be one of {', '.join(_SETTINGS)}")
    return MarMapping(columns=columns, actions=actions, time_formats=formats, setting=setting)


def read_mar(source: str | Path | io.TextIOBase, *, mapping: MarMapping | str | Path | dict | None = None,
             setting: str | None = None, encounter_id: str | None = None, claim: str | None = None,
             payer: str | None = None) -> list[MarRead]:
    """Read a MAR action-log CSV into encounters; never raises for bad rows.

    ``setting``: used when the file has no setting column (default: the mapping's, else
    ``"facility"``). ``encounter_id``: the id when the file has no encounter column (default: the
    file name without extension). Returns one :class:`MarRead` per encounter in order of first
    appearance, preceded by one with ``encounter=None`` for file-level findings and rows that belong
    to no encounter.
    """
    m = mapping if isinstance(mapping, MarMapping) else load_mapping(mapping)
    default_setting = setting or m.setting or "facility"
    if isinstance(source, (str, Path)):
        default_eid = encounter_id or Path(source).stem
        from .input_limits import MAX_DOCUMENT_BYTES, read_limited

        try:
            text = read_limited(source, MAX_DOCUMENT_BYTES, hint="split the export").decode("utf-8-sig")
        except InputError as err:
            return [MarRead(None, [MarFinding(None, "error", "mar.file", f"cannot read the file: {err.message}")])]
        except (OSError, UnicodeDecodeError) as exc:
            why = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else (exc.strerror or type(exc).__name__)
            return [MarRead(None, [MarFinding(None, "error", "mar.file", f"cannot read the file: {why}")])]
    else:
        default_eid = encounter_id or "mar"
        text = source.read()
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:  # e.g. a header cell over the csv module's field size limit
        return [MarRead(None, [MarFinding(1, "error", "mar.file", f"the header row cannot be read ({exc})")])]
    reader.fieldnames = header
    loose: list[MarFinding] = []
    missing = [f"{ours} (column {m.columns[ours]!r})" for ours in _REQUIRED if m.columns[ours] not in header]
    if missing:
        return [MarRead(None, [MarFinding(1, "error", "mar.columns", "required columns missing: " + ", ".join(missing))])]
    col = {ours: theirs for ours, theirs in m.columns.items() if theirs in header}

    # encounter -> order -> rows; settings per encounter
    encounters: dict[str, dict[str, list[MarAction]]] = {}
    settings: dict[str, str] = {}
    findings: dict[str, list[MarFinding]] = {}
    for n, record in enumerate(_records(reader, loose), start=2):
        cells = {ours: (record.get(theirs) or "").strip() for ours, theirs in col.items()}
        if not any(cells.values()):
            continue
        eid = cells.get("encounter_id") or ("" if "encounter_id" in col else default_eid)
        if not eid:
            loose.append(MarFinding(n, "error", "mar.encounter", "no encounter id; row ignored"))
            continue
        bucket = findings.setdefault(eid, [])
        encounters.setdefault(eid, {})

        def note(severity: Severity, code: str, message: str, order: str | None = None) -> None:
            bucket.append(MarFinding(n, severity, code, message, encounter=eid, order=order))  # noqa: B023

        if cells.get("setting"):
            value = cells["setting"].lower()
            if value not in _SETTINGS:
                note("error", "mar.setting", f"setting must be one of {', '.join(_SETTINGS)}; row's setting ignored")
            elif eid in settings and settings[eid] != value:
                note("error", "mar.setting", "a different setting than earlier rows of this encounter; the first is kept")
            else:
                settings.setdefault(eid, value)
        order = cells.get("order_id", "")
        if not order:
            note("error", "mar.order", "no order id; row ignored")
            continue
        raw_action = cells.get("action", "")
        action = m.actions.get(_norm(raw_action))
        if action is None:
            # an export's action names are its own closed vocabulary ("New Bag"); anything else may be free text
            shown = f" {raw_action!r}" if _ACTION_WORDS.fullmatch(raw_action) else " (not repeated: it does not read as an action name)"
            note("warning", "mar.action", f"unknown action{shown}; row ignored (map it in the mapping file)", order)
            continue
        time_text = cells.get("time", "")
        if cells.get("date") and time_text and not re.search(r"\d{4}-\d{2}-\d{2}|/", time_text):
            time_text = f"{cells['date']} {time_text}"
        moment = parse_timestamp(time_text, m.time_formats)
        if moment is None:
            note("error", "mar.time", "time missing or not readable (ISO 8601 or the mapping's time_format); row ignored", order)
            continue
        encounters[eid].setdefault(order, []).append(MarAction(n, action, raw_action, moment, cells))

    if any(f.code == "mar.unreadable" for f in loose):
        # the rows after the unreadable one were not read: coding what was read would drop administrations
        return [MarRead(None, loose)]
    out: list[MarRead] = []
    if loose:
        out.append(MarRead(None, loose))
    for eid, orders in encounters.items():
        bucket = findings[eid]
        administrations: list[Administration] = []
        for order, rows in orders.items():
            administrations.extend(fold_actions(order, rows, bucket, eid))
        bucket.sort(key=lambda f: (f.row or 0))
        if not administrations:
            out.append(MarRead(None, bucket))
            continue
        first = min(a.start for a in administrations if a.start)
        out.append(MarRead(Encounter(
            id=eid,
            setting=settings.get(eid, default_setting),  # type: ignore[arg-type]
            administrations=administrations,
            date=first[:10],
            claim=claim,  # type: ignore[arg-type]
            payer=payer,
        ), bucket))
    return out


_ACTION_WORDS = re.compile(r"[A-Za-z][A-Za-z /&-]{0,29}")


def _records(reader: csv.DictReader, loose: list[MarFinding]) -> Iterator[dict]:
    """The reader's rows; a row the csv module cannot read (a field over its size limit, a stray
    quote) ends the file with a finding for that line: the rows before it are still read."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            loose.append(MarFinding(reader.reader.line_num, "error", "mar.unreadable",
                                    f"row cannot be read ({exc}); no encounter of this file was coded"))
            return


def encounters_from_mar(source: str | Path | io.TextIOBase, **kwargs: Any) -> Iterator[Encounter | InputError]:
    """For the command line: the encounters of a MAR CSV, and an :class:`InputError` (``field`` =
    ``row N``, ``line`` = N) for every warning or error finding. Arguments as :func:`read_mar`."""
    for read in read_mar(source, **kwargs):
        if read.encounter is not None:
            yield read.encounter
        for f in read.findings:
            if f.severity != "info":
                yield f.to_input_error()
