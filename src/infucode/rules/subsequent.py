"""Subsequent services of an IV chain: added hours, sequential and concurrent infusions, sequential
pushes, pushes of the same drug, hydration after another initial, and the same drug again.

Codes are taken from whichever family fits once the initial is chosen (Select Health [S25]).
Sources per rule in ``reference/data/rules.yaml``: CPT infusion guidelines; CMS add-on code edits
[S1-AOC]; AAPC on concurrent infusions [S20] and pushes [S21]; We Are Medical Coders on 96376 [S30a];
the seed page's facility example for the same drug again (SEED-003).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from . import family as fam
from . import method as meth
from .administration import Service, withheld_added_hours
from .context import CodingContext
from .initial import FACILITY_HIERARCHY, INITIAL_CODE, SEPARATE_ACCESS, hierarchy_rank, initial_service
from .limits import facility_only_on_professional_claim
from .timing import (HYDRATION_MAX_UNREPORTED, PUSH_MAX_MINUTES, SAME_DRUG_PUSH_GAP, added_hours, added_units_by_date, minutes_between, overlap_minutes,
                     threshold_boundary, threshold_words)

ADDED_HOUR_CODE = {"96413": "96415", "96417": "96415", "96365": "96366", "96367": "96366", "96360": "96361",
                   "96361": "96361", "96422": "96423", "96369": "96370"}
SEQUENTIAL_INFUSION_CODE = {fam.CHEMOTHERAPY: "96417", fam.THERAPEUTIC: "96367"}
SEQUENTIAL_PUSH_CODE = {fam.CHEMOTHERAPY: "96411", fam.THERAPEUTIC: "96375"}
CONCURRENT_CODE = "96368"
SAME_DRUG_PUSH_CODE = "96376"
HYDRATION_ADDED_CODE = "96361"
ADDED_HOURS = "subsequent.added_hours"  # the rule of every added-hour line (also 96370, 96423 beside the chain)


@dataclass(slots=True)
class EncounterState:
    """What the chains of one encounter share: 96368 is reported once per date of service."""
    concurrent_dates: set = field(default_factory=set)


@dataclass(slots=True)
class TimedLine:
    """A line whose added hours are computed once every piece of time is known (repeat-infusion policy)."""
    service: Service
    added_code: str
    minutes: int
    ids: list[str]
    first_unit_offset: int            # minutes from the start to the first added unit
    first_unit_minimum: int | None    # every hour is an added unit from this many minutes (hydration after
                                      # another initial: 31; the same drug again: 16); None: the first hour is the base code
    rule: str
    why: str


_HH_MM = tuple(f"{h:02d}:{m:02d}" for h in range(24) for m in range(60))


def _hm(moment) -> str:
    return _HH_MM[moment.hour * 60 + moment.minute]  # a table lookup: formatting is the hot path's cost


def _span(s: Service) -> str:
    if s.start is not None and s.stop is not None and s.clock:
        return f"{_hm(s.start)}-{_hm(s.stop)}, {s.minutes} min"
    if s.minutes is not None:
        return f"{s.minutes} min documented without clock times"
    return f"at {_hm(s.start)}" if s.start is not None else "time not documented"


_NO_START = datetime.min


def _clock_order(s: Service):
    fr, mr = hierarchy_rank(s)
    return (s.start is None, s.start or _NO_START, -fr, -mr, s.id)


def _who(s: Service) -> str:
    return f"{s.drug_name} (administration {', '.join(s.ids)})"


def concurrent_with(ctx: CodingContext, s: Service, running: list[Service]) -> Service | None:
    """The earlier drug infusion this one ran concurrently with, under the overlap policy."""
    if not s.clock:
        return None
    policy = None
    for other in running:
        if not other.clock or other.drug_key == s.drug_key:
            continue
        together = overlap_minutes(s.start, s.stop, other.start, other.stop)
        if together <= 0:
            continue
        policy = policy or ctx.policy("concurrent_overlap")
        later = s if (s.start, s.id) >= (other.start, other.id) else other
        if policy == "over_16_minutes":
            if together > PUSH_MAX_MINUTES + 1:  # the policy's "more than 16 minutes" [MAC-OVERLAP-16]
                return other
        elif together * 2 > (later.minutes or 0):
            return other
    return None


def nearest_reported_dose(s: Service, doses) -> tuple[int | None, bool]:
    """Minutes from the push ``s`` to the nearest reported dose of its drug, in either direction (0 when they
    overlap), and whether the push came after that dose. (None, True) when a time is not documented: the gap
    is a distance, never negative [CPT-INF-GUIDE; CMS-CLM-4-230.2]."""
    if s.start is None:
        return None, True
    best: int | None = None
    after = True
    for d in doses:
        if d.start is None:
            continue
        end = d.end
        if s.start >= end:
            gap, later = minutes_between(end, s.start), True
        elif s.end <= d.start:
            gap, later = minutes_between(s.end, d.start), False
        else:
            gap, later = 0, True
        if best is None or gap < best:
            best, after = gap, later
    return best, after


def code_chain(ctx: CodingContext, services: list[Service], state: EncounterState, distinct: bool) -> None:
    """Code one chain of IV services (one vascular access): the initial, then the rest in clock order."""
    threshold = ctx.policies["added_hour_threshold"]
    initial, chosen_by = initial_service(ctx, services)
    modifiers = [ctx.policy("distinct_modifier")] if distinct else []
    plan: list = []  # lines in order: ("line", kwargs) or ("timed", TimedLine)
    infused: dict[str, TimedLine] = {}       # drug -> its first infusion (for the sum_time policy)
    given: dict[str, list[Service]] = {}     # drug -> services already coded in this chain
    running: list[Service] = []              # drug infusions already coded (for concurrency)

    # --- the initial service -----------------------------------------------------------------------
    code = INITIAL_CODE[(initial.family, initial.method)]
    how = "the facility hierarchy" if chosen_by == FACILITY_HIERARCHY else "the primary reason for the visit"
    why = f"{_who(initial)} {initial.method} {_span(initial)}: the initial service, chosen by {how}"
    if distinct:
        why += "; a protocol required its own vascular access, so it is a second initial service"
    mods = list(modifiers)
    if initial.planned_53:
        mods.append("53")
        why += "; stopped early, reported as planned with modifier 53"
    plan.append(("line", dict(code=code, units=1, administrations=initial.ids,
                              rule=SEPARATE_ACCESS if distinct else chosen_by, why=why,
                              date=initial.day(ctx.encounter_date), modifiers=mods)))
    if initial.method == meth.INFUSION and not initial.planned_53:
        t = TimedLine(initial, ADDED_HOUR_CODE[code], initial.minutes or 0, list(initial.ids), 60, None,
                      ADDED_HOURS, f"{_who(initial)} ran {_span(initial)}")
        plan.append(("timed", t))
        infused[initial.drug_key] = t
        if initial.family != fam.HYDRATION:
            running.append(initial)
    given.setdefault(initial.drug_key, []).append(initial)
    # 96376: the 30 minutes are measured to the nearest *reported* dose of the drug (CPT: not within 30
    # minutes of a reported push of the same drug), so an unreported repeat does not restart the clock. The
    # facility hierarchy runs over the whole encounter, so that dose may come later on the clock (a push
    # before the same drug's infusion chosen as initial) [CMS-CLM-4-230.2; HCPRO-APC-2013].
    reported: dict[str, list[Service]] = {initial.drug_key: [initial]}

    # --- everything else, in clock order -------------------------------------------------------------
    rest = sorted((s for s in services if s is not initial), key=_clock_order)
    for s in rest:
        day = s.day(ctx.encounter_date)
        earlier = given.get(s.drug_key)
        if s.method == meth.INFUSION and s.family == fam.HYDRATION:
            t = TimedLine(s, HYDRATION_ADDED_CODE, s.minutes or 0, list(s.ids), 0, HYDRATION_MAX_UNREPORTED + 1,
                          "subsequent.hydration_after_initial",
                          f"hydration {_who(s)} {_span(s)} after another initial service")
            plan.append(("timed", t))
        elif s.method == meth.INFUSION and any(e.method == meth.INFUSION for e in (earlier or ())):
            policy = ctx.policy("repeat_infusion")
            first = infused.get(s.drug_key)
            if policy == "sum_time" and first is not None:
                first.minutes += s.minutes or 0
                first.ids.extend(s.ids)
                first.why += f"; plus {_who(s)} again {_span(s)} (policy repeat_infusion=sum_time)"
            else:
                added = "96415" if s.family == fam.CHEMOTHERAPY else "96366"
                t = TimedLine(s, added, s.minutes or 0, list(s.ids), 0, PUSH_MAX_MINUTES + 1, "subsequent.repeat_infusion",
                              f"{_who(s)} infused again {_span(s)}: each later infusion of the same drug is an added hour "
                              "(policy repeat_infusion=added_hour_each)")
                plan.append(("timed", t))
        elif s.method == meth.INFUSION:
            partner = concurrent_with(ctx, s, running)
            if partner is not None:
                if day in state.concurrent_dates:
                    ctx.add_finding("subsequent.concurrent_infusion", "info",
                                    f"administration {s.id}: concurrent infusion; 96368 is reported once per date and is already on this date", s.ids)
                else:
                    state.concurrent_dates.add(day)
                    extra = "; there is no concurrent chemotherapy code" if s.family == fam.CHEMOTHERAPY else ""
                    plan.append(("line", dict(code=CONCURRENT_CODE, units=1, administrations=s.ids, rule="subsequent.concurrent_infusion",
                                              why=f"{_who(s)} {_span(s)} ran with {_who(partner)} in its own bag{extra}; no added hours for a concurrent infusion",
                                              date=day, modifiers=[])))
            else:
                code = SEQUENTIAL_INFUSION_CODE[s.family]
                why = f"{_who(s)} infusion {_span(s)}: a new drug after the initial service"
                mods = []
                if s.planned_53:
                    mods.append("53")
                    why += "; stopped early, reported as planned with modifier 53"
                plan.append(("line", dict(code=code, units=1, administrations=s.ids, rule="subsequent.sequential_infusion",
                                          why=why, date=day, modifiers=mods)))
                if not s.planned_53:
                    t = TimedLine(s, ADDED_HOUR_CODE[code], s.minutes or 0, list(s.ids), 60, None, ADDED_HOURS,
                                  f"{_who(s)} ran {_span(s)}")
                    plan.append(("timed", t))
                    infused[s.drug_key] = t
            running.append(s)
        else:  # a push
            if earlier:
                gap, after = nearest_reported_dose(s, reported.get(s.drug_key, ()))
                if gap is None or gap <= SAME_DRUG_PUSH_GAP:
                    when = ("the time to the nearest reported dose is not documented" if gap is None
                            else f"{gap} minutes {'after' if after else 'before'} the nearest reported dose")
                    ctx.add_finding("subsequent.same_drug_push", "info",
                                    f"administration {s.id}: push of the same drug ({s.drug_name}) {when}; not reported "
                                    "(96376 needs more than 30 minutes)", s.ids)
                elif s.family == fam.CHEMOTHERAPY:
                    ctx.add_finding("subsequent.same_drug_push", "info",
                                    f"administration {s.id}: the same chemotherapy drug pushed again; no code reports it (96411 is for a new drug)", s.ids)
                elif not facility_only_on_professional_claim(
                        ctx, SAME_DRUG_PUSH_CODE, s.ids,
                        f"administration {s.id}: the same drug pushed again {gap} minutes {'after' if after else 'before'} "
                        "its nearest reported dose"):
                    plan.append(("line", dict(code=SAME_DRUG_PUSH_CODE, units=1, administrations=s.ids, rule="subsequent.same_drug_push",
                                              why=f"{_who(s)} pushed again {gap} minutes {'after' if after else 'before'} "
                                                  "its nearest reported dose (more than 30)",
                                              date=day, modifiers=[])))
                    reported[s.drug_key].append(s)
            else:
                code = SEQUENTIAL_PUSH_CODE[s.family]
                plan.append(("line", dict(code=code, units=1, administrations=s.ids, rule="subsequent.sequential_push",
                                          why=f"{_who(s)} push {_span(s) if s.start else ''}: a new drug after the initial service".replace("  ", " "),
                                          date=day, modifiers=[])))
        given.setdefault(s.drug_key, []).append(s)
        if s.drug_key not in reported and s.start is not None:
            reported[s.drug_key] = [s]

    for kind, item in plan:
        if kind == "line":
            ctx.add_line(item["code"], item["units"], item["administrations"], item["rule"], item["why"],
                         date=item["date"], modifiers=item["modifiers"])
        else:
            emit_added_hours(ctx, item, threshold)


def emit_added_hours(ctx: CodingContext, t: TimedLine, threshold: str) -> None:
    """The added-hour units of one infusion, one line per date of service they fall on."""
    s = t.service
    if t.first_unit_minimum is not None:
        units = 1 + added_hours(t.minutes, threshold) if t.minutes >= t.first_unit_minimum else 0
    else:
        units = added_hours(t.minutes, threshold)
    threshold_boundary(ctx, t.minutes, t.ids, threshold)
    if s.withhold_added and units:
        withheld_added_hours(ctx, t.ids, units, t.added_code)
        return
    if units <= 0:
        return
    by_date = added_units_by_date(s.start, t.first_unit_offset, units, ctx.encounter_date)
    if len(by_date) > 1:
        ctx.policy("midnight")
    words = threshold_words(threshold)
    for day, n in by_date:
        why = (f"{t.why}: {units} added hour(s) beyond the first hour, each a full hour or a tail of {words} past the last full hour"
               if t.first_unit_minimum is None else f"{t.why}: {units} hour unit(s), each a full hour or a tail of {words}")
        if len(by_date) > 1:
            why += f"; {n} of them given on {day}"
        ctx.add_line(t.added_code, n, t.ids, t.rule, why, date=day)
