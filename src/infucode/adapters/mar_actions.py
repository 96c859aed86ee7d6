"""The actions on one MAR order folded into administrations (the rules are listed in :mod:`infucode.adapters.mar`).

Shared by the MAR reader and case intake, where the events a note tells of one drug are the actions of one order.
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple

from infucode.model import Administration, InputError, Interruption, Quantity
from infucode.vocabulary import own_code_route, route_of_words

__all__ = ["MarAction", "MarFinding", "fold_actions"]

Severity = Literal["error", "warning", "info"]

# Routes whose every *given* is its own administration with no stop: pushes, injections, and the routes with a
# code of their own (an on-body injector, intrathecal chemotherapy, a port flush, a pump refill...).
_INSTANT = ("iv_push", "sc", "im", "on_body_injector", "intralesional", "intrapleural", "intraperitoneal", "intrathecal",
            "cns_reservoir", "pump_refill", "flush", "unlisted")
_DEVICE_SERVICES = ("pump_refill", "flush")  # a service on a device: no drug need be named
_TIME_THEN_ROW = operator.attrgetter("time", "row")      # the order actions are read in


@dataclass
class MarFinding:
    """A problem with one row (or the file). Names the row, never quotes patient data."""

    row: int | None
    severity: Severity
    code: str           # mar.time, mar.sequence, mar.action, mar.columns, ...
    message: str
    encounter: str | None = None
    order: str | None = None

    def to_input_error(self) -> InputError:
        return InputError(f"row {self.row}" if self.row is not None else None, self.message,
                          encounter=self.encounter, line=self.row)



_NUMBER = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)")


def _number(text: str) -> float | None:
    m = _NUMBER.match(text or "")
    return float(m.group(1)) if m else None


class MarAction(NamedTuple):
    """One action on an order: ``action`` is one of :data:`ACTIONS`; ``row`` names it in findings;
    ``cells`` hold our column names (drug, hcpcs, route, site, dose, dose_unit, rate, indication). A tuple:
    a note's fold makes one per event."""

    row: int
    action: str
    raw_action: str
    time: datetime
    cells: dict[str, str]




@dataclass(slots=True)
class _Adm:
    id: str
    start: datetime
    stop: datetime | None = None
    interruptions: list[tuple[datetime, datetime]] = field(default_factory=list)
    paused_at: datetime | None = None
    stopped: bool = False
    dose: float | None = None
    dose_unit: str | None = None
    infusion_evidence: bool = False



def _first(rows: list[MarAction], name: str) -> str | None:
    return next((r.cells[name] for r in rows if r.cells.get(name)), None)


def _route_of(rows: list[MarAction]) -> str | None:
    text = _first(rows, "route")
    if text is None:
        return None
    route, _problem = route_of_words(text)
    return route


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="minutes" if moment.second == 0 else "seconds")


def fold_actions(order: str, rows: list[MarAction], findings: list[MarFinding], encounter_id: str, *,
                 route: str | None = None, resolve_iv: bool = True) -> list[Administration]:
    """The administrations of one order, from its actions (any order; read in time order).

    Shared by the MAR reader and case intake (a note's events on one drug are the same actions).
    ``route``: the engine route when the caller already knows it (else read from the ``route``
    cells). ``resolve_iv``: route "iv" becomes an infusion or a push from the actions (MAR); False
    keeps "iv" so that the engine decides by the clock (a note that only says IV)."""
    bucket, eid = findings, encounter_id
    rows = sorted(rows, key=_TIME_THEN_ROW)

    def note(r: MarAction, severity: Severity, code: str, message: str) -> None:
        bucket.append(MarFinding(r.row, severity, code, f"order {order}: {message}", encounter=eid, order=order))

    if route is None:
        route = _route_of(rows)
        if _first(rows, "route") is not None and route is None:
            note(rows[0], "warning", "mar.route", "route not recognised (IV, IV push, IVPB, SC, IM...) or not parenteral")
    has_rate = any(_number(r.cells["rate"]) is not None for r in rows if r.cells.get("rate"))
    instant = route in _INSTANT
    adms: list[_Adm] = []
    current: _Adm | None = None
    first_rate: float | None = None

    def start_new(r: MarAction) -> _Adm:
        a = _Adm(id=order if not adms else f"{order}-{len(adms) + 1}", start=r.time)
        adms.append(a)
        return a

    for r in rows:
        rate_cell = r.cells.get("rate")      # a note's events have no rate cell
        rate = _number(rate_cell) if rate_cell else None
        if rate_cell and rate is None:
            note(r, "warning", "mar.rate", "rate is not a number; ignored")
        act = r.action
        if act in ("ignore",):
            continue
        if act == "not_given":
            note(r, "info", "mar.not_given", f"action {r.raw_action!r}: not given, nothing coded for this row")
            continue
        if act in ("given", "new_bag"):
            if instant:
                current = start_new(r)
                current.stopped = True
            elif current is None or current.stopped:
                current = start_new(r)
            elif current.paused_at is not None:
                note(r, "warning", "mar.sequence", f"{r.raw_action!r} while paused: read as the restart")
                current.interruptions.append((current.paused_at, r.time))
                current.paused_at = None
            elif act == "given":
                note(r, "warning", "mar.sequence", "given again while the infusion was running: read as continuing it")
            if act == "new_bag" and current is not None:
                current.infusion_evidence = True
            if r.cells.get("dose"):
                _add_dose(r, current, note)
            if rate is not None and first_rate is None:
                first_rate = rate
            continue
        if current is None or (current.stopped and act != "stopped"):
            what = {"rate_change": "a rate change", "paused": "a pause", "restarted": "a restart",
                    "stopped": "a stop"}[act]
            when = "before any start (given or new bag)" if current is None else "after the administration was stopped"
            note(r, "error", "mar.sequence", f"{what} {when}; row ignored")
            continue
        if act == "rate_change":
            current.infusion_evidence = True
            if current.paused_at is not None:
                note(r, "warning", "mar.sequence", "rate change while paused: read as the restart")
                current.interruptions.append((current.paused_at, r.time))
                current.paused_at = None
            if rate is not None and first_rate is None:
                first_rate = rate
        elif act == "paused":
            current.infusion_evidence = True
            if current.paused_at is not None:
                note(r, "error", "mar.sequence", "paused again without a restart; row ignored")
            else:
                current.paused_at = r.time
        elif act == "restarted":
            if current.paused_at is None:
                note(r, "error", "mar.sequence", "restart without a pause; row ignored")
            else:
                current.interruptions.append((current.paused_at, r.time))
                current.paused_at = None
        elif act == "stopped":
            if current.stopped:
                note(r, "error", "mar.sequence", "stopped again after the administration ended; row ignored")
                continue
            current.infusion_evidence = True
            if current.paused_at is not None:
                note(r, "info", "mar.sequence", "stopped while paused: the infusion ends at the pause")
                current.stop = current.paused_at
                current.paused_at = None
            else:
                current.stop = r.time
            current.stopped = True
    # a stop row earlier than every start: reported by the loop above as "with no running administration"

    drug, hcpcs = _first(rows, "drug"), _first(rows, "hcpcs")
    indication, site = _first(rows, "indication"), _first(rows, "site")   # once per order, not per administration
    if not drug and not hcpcs and route not in _DEVICE_SERVICES:
        note(rows[0], "error", "mar.drug", "no drug or HCPCS on any row of the order")
    # "Port flush", "CADD refill": the device the route cell names (only for a service on a device)
    device = own_code_route(_first(rows, "route"))[1] if route in _DEVICE_SERVICES else None
    out: list[Administration] = []
    for a in adms:
        if a.paused_at is not None:
            note(rows[-1], "warning", "mar.sequence", "paused and never restarted or stopped: no stop time")
        r_route = route
        if route == "iv" and resolve_iv:
            r_route = "iv_infusion" if (has_rate or a.infusion_evidence or a.stop is not None) else "iv_push"
        out.append(Administration(
            id=a.id,
            drug=drug,
            hcpcs=hcpcs.upper() if hcpcs else None,
            route=r_route,  # type: ignore[arg-type]
            indication=indication,
            start=_iso(a.start),
            stop=_iso(a.stop) if a.stop is not None and not instant else None,
            site=site,
            rate_ml_per_hr=first_rate if not instant else None,
            dose=Quantity(value=a.dose, unit=a.dose_unit or "unit") if a.dose is not None else None,
            interruptions=[Interruption(start=_iso(s), stop=_iso(e)) for s, e in a.interruptions],
            device=device,  # type: ignore[arg-type]
        ))
    return out


def _add_dose(r: MarAction, a: _Adm, note) -> None:
    """Adds a row's dose cell (the caller reads only rows that have one) to the administration's dose."""
    value = _number(r.cells["dose"])
    if value is None:
        note(r, "warning", "mar.dose", "dose is not a number; ignored")
        return
    unit = r.cells.get("dose_unit") or None
    if a.dose is None:
        a.dose, a.dose_unit = value, unit
    elif (unit or "").lower() != (a.dose_unit or "").lower():
        note(r, "warning", "mar.dose", "dose in a different unit than the order's first dose; not added")
    else:
        a.dose += value
