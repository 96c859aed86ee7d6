"""A note's timeline folded into the engine's encounter, the same way a MAR action log is folded
(:func:`infucode.adapters.mar.fold_actions`): the events of one drug are the actions of one order.
So a MAR export and a narrative note with the same events give the same administrations.

Uncertain readings become questions tied to the administration they would change; an
administration the note does not say enough to code (an intrathecal drug: by spinal puncture or through a
reservoir?) is held back with a question instead of being coded as something else. An on-body injector is
coded (route on_body_injector, 96377).
"""
from __future__ import annotations

import datetime as dt
import functools
import operator
import re
from dataclasses import dataclass, field

import msgspec

from ...adapters.mar import MarAction, MarFinding, fold_actions
from ...ruleset import Ruleset
from ...vocabulary import NOT_ADMINISTRATION_SERVICES, resolve_route
from .events import Event, Timeline
from .segments import Segment

__all__ = ["IV_ROUTES", "Extraction", "Question", "fold_timeline"]

_INFUSION_ROUTES = ("iv_infusion", "iv", "sc_infusion", "intra_arterial")
_SEQ, _FIRST = operator.attrgetter("seq"), operator.itemgetter(0)      # sort keys
_new_row = tuple.__new__      # a MarAction from all its fields, in order


@dataclass(slots=True)
class Extraction:
    field: str                 # "setting", "date", "administrations[0].start", ...
    value: object
    text: str                  # the words it came from
    start: int                 # span in the note text
    end: int
    administration: str | None = None

    def to_dict(self) -> dict:
        return {"field": self.field, "value": self.value, "text": self.text, "span": [self.start, self.end],
                "administration": self.administration}


@dataclass(slots=True)
class Question:
    text: str
    rule: str                            # intake.route_inferred, intake.time_unlabelled, ...
    drug: str | None = None              # catalog key it is about
    administration: str | None = None    # set once the administrations are numbered
    span: tuple[int, int] | None = None


@dataclass
class _Drug:
    """One order: the words and events of one drug given one way (a push and a pump of the same drug
    are two orders)."""

    key: str
    name: str
    kind: str | None = None
    segments: list[Segment] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def _kind(seg: Segment) -> str | None:
    """How the words of a segment give the drug: pump, a push/shot route, an infusion, or not said."""
    return _kind_of(frozenset(seg.concepts))


@functools.lru_cache(maxsize=4096)      # a note's segments have few distinct sets of route words
def _kind_of(concepts: frozenset[str]) -> str | None:
    if "ambulatory_pump" in concepts:
        return "pump"
    route, _ = resolve_route(concepts - NOT_ADMINISTRATION_SERVICES)
    if route in ("iv_push", "sc", "im"):
        return route
    if route in ("iv_infusion", "sc_infusion", "intra_arterial"):
        return "infusion"
    return None


def _orders(tl: Timeline, ruleset: Ruleset) -> list[_Drug]:
    """Segments and events grouped into orders, in note order. A segment that does not say how the drug
    was given (or an event on a line naming no drug) joins the drug's latest order."""
    orders: list[_Drug] = []
    latest: dict[str, _Drug] = {}
    of_segment: dict[int, _Drug] = {}

    def order_for(key: str, name: str, kind: str | None) -> _Drug:
        cur = latest.get(key)
        if cur is not None and (kind is None or cur.kind == kind):
            return cur
        if cur is not None and cur.kind is None and not cur.events:
            cur.kind = kind            # "Remicade 400 mg." then "Remicade IV infusion started 1000"
            return cur
        new = _Drug(key, name, kind)
        orders.append(new)
        latest[key] = new
        return new

    drug_of = ruleset.drugs.get
    events_of: dict[int, list[Event]] = {}
    for e in tl.events:
        events_of.setdefault(id(e.segment), []).append(e)
    for seg in tl.segments:
        m = seg.mention
        if m is not None and m.role == "given":
            kind = _kind(seg)
            if kind == "iv_push" and (drug := drug_of(m.key)) is not None and drug.family == "hydration":
                kind = "infusion"      # "LR 1 L bolus" then "LR rate decreased": a fluid bolus is an infusion
            d = order_for(m.key, m.name, kind)
            d.segments.append(seg)
            of_segment[id(seg)] = d
        for e in events_of.get(id(seg), ()):
            d = of_segment.get(id(seg)) if not e.attached else None
            if d is None or d.key != e.key:
                cur = latest.get(e.key)
                d = cur if cur is not None else order_for(
                    e.key, drug_of(e.key).name if drug_of(e.key) else e.key, None)
            d.events.append(e)
    return orders


# Policy (infucode, 2026-12): a clock time written more than this many minutes earlier than the latest one
# before it in the note, with no date of its own, is on the next day ("2320 ... 0130 Rocephin started" in an ED
# note that runs past midnight). A smaller step back is a late entry on the same day ("1400 ... 1330 Zofran").
PAST_MIDNIGHT_STEP_MINUTES = 12 * 60


def _note_days(events: list[Event], base: dt.date) -> dict[int, tuple[dt.date, Event | None]]:
    """For each timed event (by seq) written without a date, whose day by the note's order is not the date of
    service: that day (the last date written before it, plus a day for each step back past midnight) and the
    event whose later clock time made it roll (None: a date written earlier in the note gives the day)."""
    out: dict[int, tuple[dt.date, Event | None]] = {}
    latest: tuple[int, Event] | None = None      # (minute of the day, event) of the latest time so far
    day, rolled_by = base, None
    for e in sorted(events, key=_SEQ):
        hh, mm = e.time.value.split(":")
        minute = int(hh) * 60 + int(mm)
        if e.date:
            day, rolled_by, latest = dt.date.fromisoformat(e.date), None, (minute, e)
            continue
        if latest is not None and latest[0] - minute > PAST_MIDNIGHT_STEP_MINUTES:
            day, rolled_by, latest = day + dt.timedelta(days=1), latest[1], (minute, e)
        elif latest is None or minute >= latest[0]:
            latest = (minute, e)
        if day != base:
            out[e.seq] = (day, rolled_by)
    return out


@functools.lru_cache(maxsize=1440)      # one per minute of a day
def _time_of(value: str) -> dt.time:
    """The clock time of ``"HH:MM"``."""
    return dt.time(int(value[:2]), int(value[3:]))


_NAME_PARTS = re.compile(r"[()/]")


def _written_name(written: str, ruleset: Ruleset, catalog_name: str) -> str:
    """The name to code a drug by, from the words that name it. Of two names written together ("IVIG
    (Gammagard)", "Gamunex-C / IVIG") the product with a HCPCS code of its own, never the not-otherwise-specified
    code the generic name gives; else the first name the catalog knows; else the catalog's name."""
    known = [(n, m) for n in (p.strip() for p in _NAME_PARTS.split(written)) if n
             and (m := ruleset.drugs.match(n)) is not None]
    if not known:
        return catalog_name
    own_code = [n for n, m in known if m.hcpcs is not None and m.hcpcs.names]
    return own_code[0] if own_code else known[0][0]


def _clock(moment: str, date: str) -> str:
    return moment[11:16] if moment[:10] == date else moment


IV_ROUTES = frozenset({"iv_infusion", "iv_push", "iv"})     # the routes that go in through an IV access


def fold_timeline(tl: Timeline, ruleset: Ruleset, date: str, encounter_id: str
                  ) -> tuple[list[dict], list[dict], list[Extraction], list[Question]]:
    """``(administrations, held_back, extractions, questions)`` from a note's timeline."""
    text = tl.text
    questions: list[Question] = []
    ex: list[Extraction] = []

    def span_ex(fld: str, value, a: int, b: int, aid: str | None = None) -> None:
        ex.append(Extraction(fld, value, text[a:b], a, b, aid))

    for m in tl.mentions:
        if m.role != "given":
            span_ex(m.role, f"{m.name}: {m.why}", m.start, m.end)
    for q, key, sp in tl.notes:
        questions.append(Question(q, "intake.unattached_action", key, span=sp))

    drugs = _orders(tl, ruleset)
    note_days = _note_days([e for d in drugs for e in d.events], dt.date.fromisoformat(date))

    adms: list[tuple[int, dict, list[Extraction], list[Question]]] = []   # (note position, adm, its extractions)
    held: list[dict] = []
    base = dt.date.fromisoformat(date)
    for key, d in ((d.key, d) for d in drugs):
        segs = d.segments or [e.segment for e in d.events]
        first = next((s for s in segs if s.mention is not None), None)
        name = _written_name(first.mention.text, ruleset, d.name) if first and first.mention.how != "hcpcs" else d.name
        hcpcs = first.mention.text if first and first.mention.how == "hcpcs" else None
        drug = ruleset.drugs.get(key)
        local_q: list[Question] = []
        local_ex: list[Extraction] = []

        def ask(q: str, rule: str, sp=None, _lq=local_q, _key=key) -> None:
            _lq.append(Question(q, rule, _key, span=sp))

        if first is not None and first.mention.how == "unnamed":
            # the words quoted are from the closed list vocabulary.drug_names.UNNAMED_DRUG_WORDS
            ask(f"The drug is not named ('{first.mention.text}'); which {first.mention.name} was given? It is not "
                "coded until it is named.", "intake.unnamed_drug",
                (first.mention.start, first.mention.end))
        if first is not None and first.mention.how == "fuzzy":
            ask(f"'{first.mention.text}' was read as {d.name}; please confirm the drug.", "intake.fuzzy_drug",
                (first.mention.start, first.mention.end))
        concepts: set[str] = set()
        for s in segs:
            concepts |= s.concepts
        route, problem = resolve_route(concepts - NOT_ADMINISTRATION_SERVICES)
        if route == "iv_push" and drug is not None and drug.family == "hydration" and "iv_infusion" not in concepts:
            route = "iv_infusion"      # "NS 1 L bolus": a fluid bolus runs as an infusion
        pump = "ambulatory_pump" in concepts
        if problem == "unsupported" and "on_body_injector" in concepts:
            route, problem = "on_body_injector", None  # the input contract has the route now (96377, issue 14)
        if problem == "unsupported":
            what = "an intrathecal route"
            why = ("the note does not say whether by spinal puncture (route intrathecal, 96450) or through a CNS "
                   "reservoir such as an Ommaya (route cns_reservoir, 96542)")
            held.append({"drug": name, "reason": what})
            ask(f"{name}: {what} is documented; {why}. It is not coded: code it by hand or confirm the service.",
                "intake.unsupported_route", (first.mention.start, first.mention.end) if first else None)
            questions.extend(local_q)
            continue

        timed = [e for e in d.events]
        pos = min([s.mention.start for s in segs if s.mention] + [e.time.start for e in timed] or [0])
        # --- the route when the note does not write one
        if route is None:
            starts = [e for e in timed if e.action == "given" and e.labelled]
            stops = [e for e in timed if e.action == "stopped"]
            iv_site = any(s.site and any(w in s.site[2].lower() for w in ("piv", "iv", "port", "picc", "central", "cvc",
                                                                           "midline", "ac", "antecubital", "forearm",
                                                                           "hand", "wrist")) for s in segs)
            if (starts and stops) or (iv_site and timed):
                route = "iv_infusion"
                ask(f"{name}: the route is not written; coded as an IV infusion from the documented start/stop times "
                    "and IV access. Was it an infusion?", "intake.route_inferred")
            elif drug is not None and drug.family == "hydration" and timed:
                route = "iv_infusion"
                ask(f"{name}: no route written; fluid coded as an IV infusion.", "intake.route_inferred")
            else:
                ask(f"{name}: the route is not stated (IV push, IV infusion, SC, IM?).", "intake.route_missing")
        elif route == "iv" and drug is not None and drug.family == "hydration":
            route = "iv_infusion"      # a fluid is never pushed
        elif route == "iv":
            ask(f"{name}: 'IV' without push or infusion; the clock decides (16 minutes or more is an infusion). "
                "Which was it?", "intake.route_iv")

        # --- details from the words about this drug
        details: dict = {}
        for s in segs:
            if s.dose and "dose" not in details and "volume_ml" not in details:
                a, b, value, unit = s.dose
                if unit in ("ml", "cc", "l"):
                    details["volume_ml"] = value * 1000 if unit == "l" else value
                    local_ex.append(Extraction("volume_ml", details["volume_ml"], text[a:b], a, b))
                else:
                    details["dose"] = {"value": value, "unit": unit}
                    local_ex.append(Extraction("dose", details["dose"], text[a:b], a, b))
            if s.site and "site" not in details:
                details["site"] = s.site[2]
                local_ex.append(Extraction("site", s.site[2], text[s.site[0]:s.site[1]], s.site[0], s.site[1]))
            if s.indication and "indication" not in details:
                details["indication"] = s.indication[2]
                local_ex.append(Extraction("indication", s.indication[2], text[s.indication[0]:s.indication[1]],
                                           s.indication[0], s.indication[1]))
            if s.rate and "rate_ml_per_hr" not in details:
                details["rate_ml_per_hr"] = s.rate[2]
            if s.discontinued and "discontinued" not in details:
                details["discontinued"] = True
                a, b = s.discontinued
                local_ex.append(Extraction("discontinued", True, text[a:b], a, b))
                ask(f"{name} was stopped early ('{text[a:b]}'); is the planned or the actual time to be coded "
                    "(policy discontinued)?", "intake.discontinued")
            if s.separate and "separate_site_required" not in details:
                details["separate_site_required"] = True
                a, b = s.separate
                local_ex.append(Extraction("separate_site_required", True, text[a:b], a, b))
                ask(f"{name}: a separate access is mentioned ('{text[a:b]}'); was it medically required?",
                    "intake.separate_site")
        kvo_span = next(((a, b) for s in segs for a, b, c in s.route_spans if c == "kvo"), None)
        if kvo_span and "indication" not in details:
            # "NS 250 mL started KVO": the fluid keeps the line open; the engine drops it from hydration
            # (rules.method.keeps_line_open) when the indication says so
            details["indication"] = text[kvo_span[0]:kvo_span[1]]
            local_ex.append(Extraction("indication", details["indication"], details["indication"], *kvo_span))
        route_span = next(((a, b) for s in segs for a, b, c in s.route_spans if c not in NOT_ADMINISTRATION_SERVICES),
                          None)
        minutes = next((s.minutes for s in segs if s.minutes), None)
        planned = next((s.planned_minutes for s in segs if s.planned_minutes), None)

        # --- no clock time at all: one administration with what the words say, and a question
        if not timed:
            adm = {"drug": name, **({"hcpcs": hcpcs} if hcpcs else {})}
            if route:
                adm["route"] = route
            adm.update({k: v for k, v in details.items() if k != "rate_ml_per_hr"})
            if first:
                local_ex.insert(0, Extraction("drug", name, first.mention.text, first.mention.start, first.mention.end))
            if route_span and route:
                local_ex.append(Extraction("route", route, text[route_span[0]:route_span[1]], *route_span))
            if minutes:
                adm["minutes"] = minutes[2]
                local_ex.append(Extraction("minutes", minutes[2], text[minutes[0]:minutes[1]], minutes[0], minutes[1]))
            else:
                ask(f"{name}: no time given. When was it given?", "intake.no_time")
            if pump:
                adm["pump"] = True
            adms.append((pos, adm, local_ex, local_q))
            continue

        # --- fold the events like a MAR order
        rows: list[MarAction] = []
        prev: dt.datetime | None = None
        day = base
        day_iso = base.isoformat()
        # each start and stop by the clock it gives in the encounter ("HH:MM" on the date of service, else
        # "YYYY-MM-DDTHH:MM"): the events behind each folded administration
        starts_at: dict[str, Event] = {}
        stops_at: dict[str, Event] = {}
        cells = {"drug": name}          # the same for every action of the order (the fold only reads them)
        for e in sorted(timed, key=_SEQ):
            if e.date:
                day = dt.date.fromisoformat(e.date)
                day_iso = day.isoformat()
            elif e.seq in note_days and prev is None:
                # the drug's first time is dated by the note's order: a date written on an earlier line, or
                # past midnight from the times before it
                day, before = note_days[e.seq]
                day_iso = day.isoformat()
                if before is not None:
                    ask(f"{name}: '{e.time.text}' follows '{before.time.text}' in the note and no date is written; "
                        f"it is taken as the next day ({day_iso}). Please confirm the date.", "intake.past_midnight",
                        (e.time.start, e.time.end))
            moment = dt.datetime.combine(day, _time_of(e.time.value))
            if prev is not None and moment < prev and not e.date:
                moment += dt.timedelta(days=1)      # past midnight
                day = moment.date()
                day_iso = day.isoformat()
            prev = moment
            rows.append(_new_row(MarAction, (e.seq, e.action, e.action.replace("_", " "), moment, cells)))
            when = e.time.value if day_iso == date else f"{day_iso}T{e.time.value}"      # as _clock gives it
            if e.action in ("given", "new_bag"):
                starts_at.setdefault(when, e)
            elif e.action == "stopped":
                stops_at.setdefault(when, e)
            if not e.labelled and route in _INFUSION_ROUTES:
                ask(f"{name}: '{e.time.text}' is taken as the {'stop' if e.action == 'stopped' else 'start'} time; "
                    "the note does not say so.", "intake.time_unlabelled", (e.time.start, e.time.end))
        findings: list[MarFinding] = []
        folded = fold_actions(key, rows, findings, encounter_id, route=route, resolve_iv=False)
        if drug is not None and drug.family == "hydration" and len(folded) > 1:
            # "NS 1 L 1310-1420. Second liter hung 1420": bag after bag of one fluid is one continuous hydration
            merged = [folded[0]]
            for a in folded[1:]:
                if merged[-1].stop is not None and a.start == merged[-1].stop:
                    merged[-1].stop = a.stop
                    merged[-1].interruptions = [*merged[-1].interruptions, *a.interruptions]
                else:
                    merged.append(a)
            folded = merged
        for f in findings:
            if f.severity != "info":
                ask(f"{name}: {f.message.split(': ', 1)[-1]} (event read from the note)", "intake.sequence")
        for n, a in enumerate(folded):
            adm = msgspec.to_builtins(a)
            adm.pop("id", None)
            adm["drug"] = name
            if hcpcs:
                adm["hcpcs"] = hcpcs
            elif "hcpcs" in adm:
                adm.pop("hcpcs")
            if not route:
                adm.pop("route", None)
            at = adm.get("start")
            if at is not None:
                adm["start"] = _clock(at, date)
            at = adm.get("stop")
            if at is not None:
                adm["stop"] = _clock(at, date)
            for iv in adm.get("interruptions", ()):
                iv["start"], iv["stop"] = _clock(iv["start"], date), _clock(iv["stop"], date)
            adm.pop("rate_ml_per_hr", None)
            if n == 0:
                aex = list(local_ex)
                adm.update({k: v for k, v in details.items() if k != "rate_ml_per_hr"})
            else:
                aex = []
            if pump:
                adm["pump"] = True
            # the events behind this administration: the drug words, its start and stop times
            start_ev = starts_at.get(adm.get("start"))
            stop_ev = stops_at.get(adm.get("stop"))
            mseg = (start_ev.segment if start_ev and start_ev.segment.mention else first)
            if mseg and mseg.mention:
                aex.insert(0, Extraction("drug", name, mseg.mention.text, mseg.mention.start, mseg.mention.end))
            if route_span and route and n == 0:
                aex.append(Extraction("route", route, text[route_span[0]:route_span[1]], *route_span))
            if start_ev:
                aex.append(Extraction("start", adm["start"], start_ev.time.text, start_ev.time.start, start_ev.time.end))
            if stop_ev and "stop" in adm:
                aex.append(Extraction("stop", adm["stop"], stop_ev.time.text, stop_ev.time.start, stop_ev.time.end))
            if "stop" not in adm and route in _INFUSION_ROUTES:
                if pump and (planned or minutes) and n == 0:
                    # an ambulatory pump runs on after the visit: its programmed time ("to run over 46 hr" or
                    # "for 46 hr") is the documented duration, and the disconnect is at a later visit
                    run = planned or minutes
                    adm["minutes"] = run[2]
                    aex.append(Extraction("minutes", run[2], text[run[0]:run[1]], run[0], run[1]))
                    ask(f"{name}: the ambulatory pump's programmed duration ('{text[run[0]:run[1]]}') is "
                        "taken as the infusion time; confirm it ran that long (disconnect time).", "intake.pump_duration")
                elif minutes and n == 0:
                    adm["minutes"] = minutes[2]
                    aex.append(Extraction("minutes", minutes[2], text[minutes[0]:minutes[1]], minutes[0], minutes[1]))
                    ask(f"{name}: only a duration ('{text[minutes[0]:minutes[1]]}') follows the start; record the "
                        "clock stop time.", "intake.duration_only")
                elif planned and n == 0:
                    ask(f"{name}: '{text[planned[0]:planned[1]]}' is the ordered duration, not the documented one; "
                        "no stop time is coded. When did it end?", "intake.planned_duration",
                        (planned[0], planned[1]))
                else:
                    ask(f"{name}: no stop time for the infusion. When did it end?", "intake.no_stop")
            p = start_ev.time.start if start_ev else pos
            adms.append((p, adm, aex, local_q if n == 0 else []))

    adms.sort(key=_FIRST)
    out: list[dict] = []
    for i, (_, adm, aex, qs) in enumerate(adms):
        aid = f"a{i + 1}"
        if tl.access and "site" not in adm and adm.get("route") in IV_ROUTES:
            # "Port accessed 0815" and no other line: the drugs given IV went in through it. Only the
            # documentation list uses the site; a second access anywhere in the note and nothing is inferred.
            a, b, site = tl.access
            adm["site"] = site
            aex.append(Extraction("site", site, text[a:b], a, b))
        out.append({"id": aid, **adm})
        for e in aex:
            e.administration = aid
            e.field = f"administrations[{i}].{e.field}"
        ex.extend(aex)
        for q in qs:
            q.administration = aid
        questions.extend(qs)
    return out, held, ex, questions

