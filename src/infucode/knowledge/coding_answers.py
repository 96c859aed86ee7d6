"""Answers computed by coding an encounter with the engine: units for a duration or a clock range
("how many units of 96366 for 08:30 to 12:45?") and a described situation ("Remicade infusion 1 hour
45 minutes"). Every such answer shows the encounter it coded (drug, route, start, stop, setting) and
its lines with their rule ids, so the coder can check what was assumed.
"""
from __future__ import annotations

import re
from datetime import date

from ..engine import code_encounter
from ..model import InputError
from ..rules.timing import MINUTES_PER_HOUR, minutes_between, parse_clock, window
from ..ruleset import Ruleset
from ..vocabulary import ClockRange, clock_of_minute, find_clock_ranges, find_durations
from .answer import Answer, Citations
from .code_answers import lines_text
from .intake import parse_note

QUESTION_DATE = "2024-07-01"     # the bundled tables' release; a question without a date is coded on it
LAYOUT_START = 8 * 60            # a duration without clock times is laid on the clock from 08:00
_TIMED = ("iv_infusion", "sc_infusion", "iv", "intra_arterial")
_ROUTE_WORDS = {"iv_infusion": "IV infusion", "iv_push": "IV push", "sc": "SC injection", "im": "IM injection",
                "sc_infusion": "SC infusion", "intra_arterial": "intra-arterial", "iv": "IV (push or infusion not stated)"}
# the drug that stands in when a units question names only a code family
_FAMILY_DRUG = {"therapeutic": ("vancomycin", "iv_infusion"), "chemotherapy": ("paclitaxel", "iv_infusion"),
                "hydration": ("normal saline", "iv_infusion"), "sc": ("Hizentra", "sc_infusion")}
_BILLED = re.compile(r"\b(9\d{4})\s*(?:x|\*|×)\s*(\d+)\b", re.I)
_ORDER_AFTER = re.compile(r"\b(after|following|once .* (?:finished|done|complete))\b", re.I)
_CONCURRENT = re.compile(r"\b(same time|concurrent(?:ly)?|simultaneous(?:ly)?|while|running with|piggybacked with)\b", re.I)


def fmt_minutes(m: int) -> str:
    h, mm = divmod(m, 60)
    return f"{h} h {mm:02d} min ({m} minutes)" if h else f"{m} minutes"


def setting_of(q: str) -> tuple[str, bool]:
    if re.search(r"hospital|HOPD|facility|outpatient department|infusion cent|\bED\b|emergency|observation", q, re.I):
        return "facility", True
    if re.search(r"office|clinic|practice|professional", q, re.I):
        return "office", True
    return "office", False


def canonical_times(q: str) -> str:
    """The question with durations as "over N minutes" and clock ranges as "HH:MM to HH:MM", the forms
    the note reader takes ("1h45" is otherwise read as a clock time)."""
    spans: list[tuple[int, int, str]] = [(r.span[0], r.span[1], f"{r.start} to {r.stop}") for r in find_clock_ranges(q)]
    spans += [(d.start, d.end, f"over {d.minutes} minutes") for d in find_durations(q, bare_colon=False)]
    for a, b, text in sorted(spans, reverse=True):
        q = q[:a] + text + q[b:]
    return q


def _minutes(start: str, stop: str) -> int:
    """Minutes between two documented times as the engine counts them (clock times or ISO datetimes)."""
    day = date(2000, 1, 1)   # any date: a clock time is read on it, only the wall clock matters
    begin, _ = parse_clock(start, day, "start")
    end, _ = parse_clock(stop, day, "stop")
    return minutes_between(begin, window(begin, end, True))


def describe(enc: dict, rs: Ruleset) -> str:
    """The encounter as coded: each administration's drug, route, start-stop, then setting and date."""
    parts = []
    for a in enc["administrations"]:
        m = rs.drugs.match(a["drug"]) if a.get("drug") else None
        drug = m.drug.name if m is not None else (a.get("drug") or "drug not stated")
        when = ""
        if a.get("start") and a.get("stop"):
            when = f" {a['start']}-{a['stop']} ({_minutes(a['start'], a['stop'])} min)"
        elif a.get("start"):
            when = f" at {a['start']}"
        parts.append(f"{drug}, {_ROUTE_WORDS.get(a.get('route'), 'route not stated')}{when}")
    claim = "facility" if enc["setting"] == "facility" else "professional"
    return (f"Encounter coded: {'; '.join(parts)}; setting {enc['setting']} ({claim} claim), date {enc.get('date')}, "
            f"profile {rs.profile}.")


def _coded(enc: dict, result, rs: Ruleset, c: Citations) -> tuple[list[str], list[dict]]:
    """Text for the lines with their rule ids, and the lines as data for the Answer."""
    text, lines = [], []
    for line in result.lines:
        c.rule(line.rule)
        mods = f"-{'-'.join(line.modifiers)}" if line.modifiers else ""
        text.append(f"{line.code}{mods} x{line.units} [{line.rule}]")
        lines.append({"code": line.code, "units": line.units, "modifiers": list(line.modifiers), "rule": line.rule,
                      "kind": line.kind})
    return (["Lines: " + "; ".join(text) + "."] if text else ["No line is reported."]), lines


def _findings(result, c: Citations) -> list[str]:
    out = []
    for f in result.findings:
        out.append(f"{'Note' if f.severity == 'info' else f.severity.capitalize()}: {f.message} [{f.rule}].")
        c.rule(f.rule)
    return out


def _named_drug(q: str, rs: Ruleset) -> tuple[str, str | None] | None:
    """The one catalog drug a units question names (its text and route), if exactly one."""
    enc, _, _ = parse_note(canonical_times(q), rs, default_date=QUESTION_DATE)
    adms = enc["administrations"]
    if len(adms) != 1 or not adms[0].get("drug"):
        return None
    m = rs.drugs.match(adms[0]["drug"])
    if m is None or m.how == "fuzzy" and m.score < 90:
        return None
    return adms[0]["drug"], adms[0].get("route")


def units_answer(q: str, minutes: int, codes: list[str], rs: Ruleset, clock: ClockRange | None = None) -> Answer:
    family = "therapeutic"
    for code in codes:
        info = rs.codes[code]
        if code in ("96369", "96370", "96371"):
            family = "sc"
        elif info.family in ("therapeutic", "chemotherapy", "hydration"):
            family = info.family
        break
    if not codes:
        if re.search(r"chemo|complex", q, re.I):
            family = "chemotherapy"
        elif re.search(r"hydrat|fluid|saline", q, re.I):
            family = "hydration"
        elif re.search(r"sub-?q|subcutaneous", q, re.I):
            family = "sc"
    drug, route = _FAMILY_DRUG[family]
    named = _named_drug(q, rs)
    stand_in = named is None
    if named is not None:
        drug, route = named[0], named[1] if named[1] in _TIMED else route
    setting, _ = setting_of(q)
    rs_used = rs.with_profile("seed-page") if re.search(r"seed[- ]page", q, re.I) else rs
    start, stop = ((clock.start, clock.stop) if clock
                   else (clock_of_minute(LAYOUT_START), clock_of_minute(LAYOUT_START + minutes)))
    enc = {"id": "units-question", "setting": setting, "date": QUESTION_DATE,
           "administrations": [{"id": "a1", "drug": drug, "route": route, "start": start, "stop": stop,
                                **({"indication": "dehydration"} if family == "hydration" else {})}]}
    result = code_encounter(enc, rs_used)
    c = Citations(rs_used)
    kind = {"sc": "subcutaneous infusion", "therapeutic": "therapeutic IV infusion of one drug",
            "chemotherapy": "chemotherapy IV infusion of one drug", "hydration": "IV hydration"}[family]
    if not stand_in:
        kind = f"IV infusion of {rs.drugs.match(drug).drug.name}"
    span = f"{clock.start} to {clock.stop}, " if clock else ""
    text = [f"{span}{fmt_minutes(minutes)} of {kind} ({setting}, profile {rs_used.profile}): {lines_text(result)}."]
    billed = {m.group(1): int(m.group(2)) for m in _BILLED.finditer(q)}
    for code in codes:
        n = sum(line.units for line in result.lines if line.code == code)
        text.append(f"That is {n} unit{'s' if n != 1 else ''} of {code}.")
        if code in billed and billed[code] != n:
            text.append(f"{code} x{billed[code]} as written is {'more' if billed[code] > n else 'fewer'} than the time supports.")
    if minutes > MINUTES_PER_HOUR or any(rs.codes[code].kind == "added_hour" for code in codes):
        c.rule("subsequent.added_hours")
        text.append("The first hour is the initial code; each further unit needs a full hour or more than 30 minutes "
                    "past the last full hour (90 minutes is the first hour only, 91 adds one).")
    if minutes > 60 and minutes % 60 == 30:
        c.rule("timing.threshold_boundary")
        text.append("Exactly 30 minutes past the hour is where sources disagree: CPT needs more than 30 (the default); "
                    "the seed page's reading (profile seed-page, policy added_hour_threshold=at_least_30) adds a unit.")
    text.append(describe(enc, rs_used) + (f" ({drug} stands in for any {family} drug.)" if stand_in else ""))
    line_text, lines = _coded(enc, result, rs_used, c)
    text += line_text + _findings(result, c)
    if not clock:
        c.rule("doc.duration_only")
        text.append("The clock times above are laid out from the duration: the record needs documented start and stop "
                    "times to support the units.")
    return c.answer(" ".join(text), [line.code for line in result.lines if line.kind == "administration"], "units",
                    encounter=enc, lines=lines)


def _lay_out(q: str, adms: list[dict], extractions, assumptions: list[str]) -> None:
    """Give administrations without clock times a place on the clock, in the order described."""
    spans = {}
    for e in extractions:
        if e.field.endswith(".drug"):
            spans[e.field.split("]")[0] + "]"] = (e.start, e.end)
    order = list(range(len(adms)))
    for i in range(len(adms) - 1):
        s_i, s_j = spans.get(f"administrations[{i}]"), spans.get(f"administrations[{i + 1}]")
        if s_i and s_j and _ORDER_AFTER.search(q[s_i[0]:s_j[0]]):
            order[i], order[i + 1] = order[i + 1], order[i]
    concurrent = bool(_CONCURRENT.search(q))
    durations = find_durations(q, bare_colon=False)
    t = LAYOUT_START
    for k, idx in enumerate(order):
        a = adms[idx]
        known = a.pop("minutes", None)
        a.pop("stop", None)
        s = spans.get(f"administrations[{idx}]", (0, 0))
        near = ([d for d in durations if s[1] <= d.start <= s[1] + 35]
                or [d for d in durations if s[0] - 25 <= d.end <= s[0]])
        route = a.get("route")
        if route is None:
            route = a["route"] = "iv_infusion" if near else "iv_push"
            assumptions.append(f"{a['drug']} was {'infused' if near else 'pushed'}")
        start = LAYOUT_START if concurrent and k > 0 else t
        a["start"] = clock_of_minute(start)
        if route in _TIMED:
            dur = known or (near[0].minutes if near else None)
            if dur is None:
                dur = 30
                assumptions.append(f"{a['drug']} ran 30 minutes (no time given)")
            if concurrent and k > 0:
                dur = min(dur, max(20, t - LAYOUT_START - 5)) if t > LAYOUT_START else dur
                start = LAYOUT_START + 5
                a["start"] = clock_of_minute(start)
            a["stop"] = clock_of_minute(start + dur)
            t = max(t, start + dur + 5)
        else:
            t = start + 5
    assumptions.append("clock times were laid out from 08:00 in the order described")


def situation_answer(q: str, rs: Ruleset) -> Answer | None:
    text_in = canonical_times(q)
    enc, extractions, questions = parse_note(text_in, rs, encounter_id="question", default_date=QUESTION_DATE)
    adms = enc["administrations"]
    if not adms:
        return None
    assumptions = []
    if not any(e.field == "setting" for e in extractions):
        assumptions.append("the setting is a physician office")
    laid_out = any("start" not in a or ("stop" not in a and a.get("route") in _TIMED) for a in adms)
    untimed = [a.get("route") not in _TIMED and "start" not in a for a in adms]
    if laid_out:
        _lay_out(text_in, adms, extractions, assumptions)
    try:
        result = code_encounter(enc, rs)
    except InputError as exc:
        return Answer(f"The situation could not be coded: {exc.message} ({exc.field or 'input'}).", intent="situation")
    c = Citations(rs)
    text = [f"Coded with the engine ({enc['setting']}, profile {rs.profile}): {lines_text(result)}."]
    for line in result.lines:
        if line.kind == "administration":
            text.append(f"{line.code} x{line.units}: {line.explanation.split(' [')[0]}.")
    text.append(describe(enc, rs))
    line_text, lines = _coded(enc, result, rs, c)
    text += line_text + _findings(result, c)
    if assumptions:
        text.append("Assumed: " + "; ".join(dict.fromkeys(assumptions)) + ".")
    if laid_out and not all(untimed):
        # an injection needs no clock span; an infusion laid out from a duration does
        c.rule("doc.duration_only")
        text.append("A claim needs the documented clock start and stop times; a duration alone does not support added hours.")
    real_q = [qq for qq in questions if "date of service" not in qq and "setting is not stated" not in qq
              and "no time given" not in qq and "no stop time" not in qq and "route is not stated" not in qq]
    if real_q:
        text.append("Open points: " + " ".join(real_q))
    return c.answer(" ".join(text), [line.code for line in result.lines if line.kind == "administration"], "situation",
                    encounter=enc, lines=lines)
