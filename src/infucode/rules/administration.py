"""What was given: one documented administration turned into a codable service (drug, family,
method, clock window and counted minutes), with the documentation findings it raises on its own.

Cross-administration rules (continuity, overlap, hierarchy) live in ``continuity``, ``initial`` and
``subsequent``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from ..model import Administration, InputError
from . import family as fam
from . import method as meth
from .context import CodingContext
from .timing import (LONG_DURATION_MINUTES, ONE_MINUTE, PROLONGED_PUMP_MINUTES, dates_refused, iso_day, minutes_between,
                     outside_dates, parse_clock, window)

# Routes on which a chemotherapy infusion started on a pump is coded 96416/96425 (rules.beside_chain), and
# so may run up to the pump limit rather than the limit of any other administration.
_PUMP_ROUTES = ("iv_infusion", "iv", "intra_arterial")


@dataclass(slots=True)
class Service:
    ids: list[str]
    order: int                      # input position (last tie-break only)
    drug_key: str
    drug_name: str
    family: str
    method: str
    route: str
    start: datetime | None
    stop: datetime | None
    minutes: int | None             # counted minutes (clock less interruptions, or a documented duration)
    clock: bool                     # minutes come from clock start and stop
    withhold_added: bool = False    # duration-only policy: first hour only
    site: str | None = None
    separate_site: bool = False
    primary: bool = False
    planned_53: bool = False        # discontinued early: report the planned infusion with modifier 53
    pump: bool = False
    hormonal: bool = False
    cancer: bool | None = None
    notes: list[str] = field(default_factory=list)
    device: str | None = None       # pump refill / flush: the device it was done on
    lesions: int | None = None      # intralesional: lesions injected
    described: bool = False         # unlisted: the record describes the service

    @property
    def id(self) -> str:
        return self.ids[0]

    @property
    def end(self) -> datetime | None:
        """When the service was last given: its stop, else its start."""
        return self.stop or self.start

    def day(self, fallback: str | None) -> str | None:
        return iso_day(self.start) if self.start is not None else fallback


def _field(i: int, name: str) -> str:
    return f"administrations[{i}].{name}"



def _interrupted_minutes(ctx: CodingContext, adm: Administration, i: int, start: datetime, stop: datetime, aid: str) -> int:
    """Minutes the infusion was stopped (paused and restarted): not infusion time [CPT Assistant Sept 2009]."""
    total = 0
    for k, gap in enumerate(adm.interruptions):
        g_start, g_clock = _read_clock(ctx, gap.start, start.date(), _field(i, f"interruptions[{k}].start"))
        g_stop, s_clock = _read_clock(ctx, gap.stop, start.date(), _field(i, f"interruptions[{k}].stop"))
        if g_clock and g_start < start:
            g_start += timedelta(days=1)
        g_stop = window(g_start, g_stop, s_clock)
        if g_start < start or g_stop > stop or g_stop < g_start:
            ctx.add_finding("doc.interruption", "warning",
                            f"administration {aid}: interruption {k + 1} lies outside the infusion's start and stop; ignored", [aid])
            continue
        total += minutes_between(g_start, g_stop)
    return total


def _read_clock(ctx: CodingContext, value: str, on: date | None, field: str) -> tuple[datetime, bool]:
    """``parse_clock``, and a full datetime must fall within the dates of service the engine accepts (an HH:MM
    time is on a date already checked)."""
    moment, clock_only = parse_clock(value, on, field)
    if not clock_only:
        first, last = ctx.limits["earliest_date_of_service"], ctx.limits["latest_date_of_service"]
        if outside_dates(moment.date(), first, last):
            raise dates_refused(field, first, last)
    return moment, clock_only


def prolonged_pump_run(adm: Administration, family: str, minutes: int) -> bool:
    """A chemotherapy infusion started on a portable or implantable pump that runs more than 8 hours: it
    goes home with the patient (96416/96425), so a day or two on the pump is the plan, not a typing slip
    (limit longest_pump_minutes still applies) [CPT-CHEMO-GUIDE]."""
    return family == fam.CHEMOTHERAPY and adm.pump and adm.route in _PUMP_ROUTES and minutes > PROLONGED_PUMP_MINUTES


def beyond_duration_limit(ctx: CodingContext, adm: Administration, family: str, minutes: int, documented: str, aid: str) -> bool:
    """More minutes than one administration may run (limits longest_administration_minutes, longest_pump_minutes
    for a chemotherapy infusion started on a pump): an error finding, and the caller codes no line. Checked
    before any clock sum, so neither the work nor the output grows with a mistyped stop date."""
    pump = family == fam.CHEMOTHERAPY and adm.pump and adm.route in _PUMP_ROUTES
    limit = ctx.limits["longest_pump_minutes" if pump else "longest_administration_minutes"]
    if minutes <= limit:
        return False
    span = f"{limit // 1440} days" if limit % 1440 == 0 and limit > 2880 else f"{limit // 60} hours"
    what = "a chemotherapy infusion started on a pump" if pump else "one administration"
    ctx.add_finding("doc.beyond_duration_limit", "error",
                    f"administration {aid}: {minutes} minutes {documented} is more than {what} may run ({span}, limit "
                    f"{'longest_pump_minutes' if pump else 'longest_administration_minutes'}); no line. Check the start and stop "
                    "dates (a mistyped year or day is the usual cause), or document each bag or day as its own administration", [aid])
    return True


def _minutes_from_volume(adm: Administration) -> int | None:
    """Run time from the documented volume and rate; None unless both are positive finite numbers."""
    volume, rate = adm.volume_ml, adm.rate_ml_per_hr
    if volume is None or rate is None or not (0 < volume < math.inf and 0 < rate < math.inf):  # NaN fails too
        return None
    hours = volume / rate
    return round(hours * 60) if math.isfinite(hours) else None


def prepare_service(ctx: CodingContext, adm: Administration, i: int, on: date | None) -> Service | None:
    """A codable service, or None when the documentation cannot support a line (finding raised)."""
    aid = str(adm.id)
    device_service = adm.route in meth.DEVICE_SERVICE_ROUTES
    if not adm.drug and not adm.hcpcs and not device_service:
        ctx.add_finding("doc.missing_drug", "error", f"administration {aid}: drug not documented; no line", [aid])
        return None
    if adm.route is None:
        ctx.add_finding("doc.missing_route", "error",
                        f"administration {aid}: route not documented (push, infusion, SC, IM...); no line", [aid])
        return None

    match = fam.match_drug(ctx, adm, aid) if (adm.drug or adm.hcpcs) else None
    if device_service or (match is not None and match.drug.flush):
        # a flush or a pump refill: a service on the access or device, coded by rules.other_routes
        return _device_service(ctx, adm, i, on, match, aid)
    decision = fam.administration_family(match, adm.class_, adm.indication, ctx.policies, adm.route)
    if decision.policy is not None:
        ctx.policy(decision.policy)
    if decision.note:
        ctx.add_finding(decision.rule, decision.severity, f"administration {aid}: {decision.note}", [aid])
    if decision.family is None:
        return None
    family = decision.family
    if family == fam.HYDRATION and meth.keeps_line_open(adm.indication, adm.drug):
        meth.keep_open_fluid_not_reported(ctx, aid)
        return None

    # --- the clock -------------------------------------------------------------------------
    start = stop = None
    start_clock = False
    if adm.start:
        start, start_clock = _read_clock(ctx, adm.start, on, _field(i, "start"))
    if adm.stop:
        anchor = start.date() if start is not None else on
        stop, stop_clock = _read_clock(ctx, adm.stop, anchor, _field(i, "stop"))
        if start is not None:
            stop = window(start, stop, stop_clock and start_clock)
            overnight = ctx.limits["longest_clock_only_overnight_minutes"]
            if stop < start or (stop_clock and start_clock and minutes_between(start, stop) > overnight
                                and stop.date() != start.date()):
                # a clock-only stop before its start is overnight only within the limit; past it, a typing slip
                ctx.add_finding("doc.stop_before_start", "error",
                                f"administration {aid}: field stop is earlier than field start; no line"
                                + (f" (as clock times only, read across midnight only up to {overnight // 60} hours, "
                                   "limit longest_clock_only_overnight_minutes; write an overnight infusion with dates)"
                                   if stop >= start else ""), [aid])
                return None
    if adm.minutes is not None and adm.minutes < 0:
        raise InputError(_field(i, "minutes"), "minutes cannot be negative")
    if adm.lesions is not None and adm.lesions < 1:
        raise InputError(_field(i, "lesions"), "lesions must be 1 or more")

    route = adm.route
    timed_route = route in ("iv_infusion", "iv", "sc_infusion", "intra_arterial")
    minutes: int | None = None
    clock = False
    withhold = False
    if start is not None and stop is not None:
        minutes = minutes_between(start, stop) - _interrupted_minutes(ctx, adm, i, start, stop, aid)
        clock = True
        if beyond_duration_limit(ctx, adm, family, minutes, "from field start to field stop", aid):
            return None
    elif adm.minutes is not None and timed_route:
        minutes = adm.minutes
        if beyond_duration_limit(ctx, adm, family, minutes, "documented in field minutes", aid):
            return None
        policy = ctx.policy("duration_only")
        if prolonged_pump_run(adm, family, minutes):
            # 96416/96425 has no added hours, so nothing is withheld; the duration only has to show more than
            # 8 hours, and the disconnect time belongs to the later visit that ends the infusion
            ctx.add_finding("doc.duration_only", "info",
                            f"administration {aid}: {minutes} minutes is the pump's documented run, without a clock stop "
                            "time; a chemotherapy infusion started on a pump has no added hours, so the duration only "
                            "shows it runs more than 8 hours (the disconnect is documented at the visit that ends it)", [aid])
        elif policy == "initial_only":
            withhold = True
            ctx.add_finding("doc.duration_only", "error",
                            f"administration {aid}: {minutes} minutes documented without clock "
                            + ("stop" if start is not None else "start and stop") + " times; coded for the first hour only, "
                            "added hours withheld until clock times are documented (policy duration_only=initial_only)", [aid])
        else:
            ctx.add_finding("doc.duration_only", "warning",
                            f"administration {aid}: {minutes} minutes documented without clock times; coded in full "
                            "(policy duration_only=full_duration), but contractors require clock times", [aid])
        if start is not None and stop is None:
            stop = start + ONE_MINUTE * minutes
    elif timed_route:
        # An infusion without a stop (or start) cannot be shown to have run more than 15 minutes.
        missing = "stop" if start is not None else "start"
        if family == fam.HYDRATION:
            ctx.add_finding(f"doc.missing_{missing}", "error",
                            f"administration {aid}: hydration with no {missing} time; hydration has no push code, so no line", [aid])
            return None
        policy = ctx.policy("missing_stop")
        derived = _minutes_from_volume(adm) if policy == "volume_rate" and start is not None else None
        if derived is not None:
            minutes = derived
            if beyond_duration_limit(ctx, adm, family, minutes, "derived from fields volume_ml and rate_ml_per_hr", aid):
                return None
            stop = start + ONE_MINUTE * minutes
            ctx.add_finding("doc.missing_stop", "warning",
                            f"administration {aid}: no stop time; stop derived from volume and rate as {minutes} minutes "
                            "(policy missing_stop=volume_rate)", [aid])
        elif policy == "no_line":
            ctx.add_finding(f"doc.missing_{missing}", "error",
                            f"administration {aid}: no {missing} time; nothing coded until it is documented (policy missing_stop=no_line)", [aid])
            return None
        else:
            ctx.add_finding(f"doc.missing_{missing}", "error",
                            f"administration {aid}: no {missing} time, so the infusion cannot be shown to exceed 15 minutes; "
                            f"coded as a push and no added hours (policy missing_stop=push). Document the {missing} time to code the infusion", [aid])
            if route == "iv_infusion" or route == "iv":
                route = "iv_push"
            minutes = None
    if minutes is not None and minutes > LONG_DURATION_MINUTES and not prolonged_pump_run(adm, family, minutes):
        ctx.add_finding("doc.over_24_hours", "warning",
                        f"administration {aid}: {minutes} minutes is over 24 hours; possible in observation, worth a look", [aid])

    # --- the method ------------------------------------------------------------------------
    decided = meth.administration_method(route, minutes)
    method = decided.method
    planned_53 = False
    if adm.discontinued and adm.route == "iv_infusion" and method == meth.PUSH and adm.stop:
        planned_53 = meth.discontinued_as_planned(ctx, aid, minutes)
        if planned_53:
            method = meth.INFUSION
    elif decided.note:
        ctx.add_finding(decided.rule, decided.severity, f"administration {aid}: {decided.note}", [aid])

    if family == fam.HYDRATION and method in (meth.PUSH, meth.INJECTION):
        meth.hydration_pushed(ctx, aid)
        return None

    drug = match.drug if match is not None else None
    hormonal = bool(drug and drug.hormonal)
    return Service(
        ids=[aid], order=i,
        drug_key=drug.key if drug else (adm.drug or adm.hcpcs or aid).strip().lower(),
        drug_name=drug.name if drug else (adm.drug or adm.hcpcs or "unknown drug"),
        family=family, method=method, route=adm.route,
        start=start, stop=stop, minutes=minutes, clock=clock, withhold_added=withhold,
        site=adm.site, separate_site=adm.separate_site_required, primary=adm.primary,
        planned_53=planned_53, pump=adm.pump, hormonal=hormonal,
        cancer=fam.is_cancer_indication(adm.indication) if hormonal else None,
        device=adm.device, lesions=adm.lesions, described=bool(adm.description and adm.description.strip()),
    )


def _device_service(ctx: CodingContext, adm: Administration, i: int, on: date | None, match: DrugMatch | None,
                    aid: str) -> Service:
    """A flush (route flush, or a flush drug by any route) or a pump refill: no family, no clock rule; the day it
    was done is read from its start."""
    start = _read_clock(ctx, adm.start, on, _field(i, "start"))[0] if adm.start else None
    drug = match.drug if match is not None else None
    method = meth.PUMP_REFILL if adm.route == "pump_refill" else meth.FLUSH
    return Service(
        ids=[aid], order=i,
        drug_key=drug.key if drug else (adm.drug or adm.hcpcs or f"#{aid}").strip().lower(),
        drug_name=drug.name if drug else (adm.drug or adm.hcpcs or method.replace("_", " ")),
        family=fam.ACCESS, method=method, route=adm.route,
        start=start, stop=None, minutes=None, clock=False, site=adm.site, device=adm.device,
    )


def check_separate_site(ctx: CodingContext, s: Service) -> None:
    if s.separate_site and not s.site:
        ctx.add_finding("doc.separate_site", "warning",
                        f"administration {s.id}: a separate vascular access is required but its site is not documented", s.ids)




def no_administrations(ctx: CodingContext) -> None:
    ctx.add_finding("doc.missing_drug", "warning", "the encounter documents no administrations", [])


def withheld_added_hours(ctx: CodingContext, ids: list[str], units: int, code: str) -> None:
    """Added hours a documented duration would support, held back until clock times are documented (policy duration_only)."""
    ctx.add_finding("doc.duration_only", "info",
                    f"administration {', '.join(ids)}: the documented duration would support {units} added hour(s) of {code}; "
                    "withheld until clock start and stop times are documented", ids)
