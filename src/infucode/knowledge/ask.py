"""The assistant: answers drug-administration coding questions from the rule base and the engine.

No language model: the question is routed by patterns (and the search index) to one of a few
intents, and every answer is built from the code table, the rules registry, the NCCI tables or a
live run of the engine. Questions outside drug-administration coding are refused plainly.

    a = ask("How many units of 96366 for 2 hours 15 minutes?", rs)
    a.codes, a.rule_ids        # ['96365', '96366'], ['initial.office_primary', 'subsequent.added_hours', ...]
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from ..engine import code_encounter
from ..model import InputError
from ..ruleset import Ruleset
from . import _data
from .intake import parse_note
from .lookup import lookup
from .search import search

OUTSIDE = "That is outside what infucode knows"


@dataclass
class Answer:
    text: str
    rule_ids: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)     # "KEY: citation"
    codes: list[str] = field(default_factory=list)
    refused: bool = False
    intent: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------------------- refusals
_REFUSALS: list[tuple[re.Pattern, str]] = [
    (re.compile(r"\bE\s*/\s*M\b|\bE&M\b|evaluation and management|office visit level|level of (?:the )?visit|\bvisit level", re.I),
     "E/M levels are not drug-administration coding"),
    (re.compile(r"\bICD(?:-?10)?(?:-?CM)?\b|diagnosis codes?\b|\bdx codes?\b", re.I), "diagnosis (ICD) coding is not covered"),
    (re.compile(r"\$|\bdollars?\b|\bprices?\b|\bcosts?\b|how much (?:does|will|would|do)\b[^?]*\b(?:pay|paid|reimburse)|"
                r"\b(?:reimbursement|payment|allowed) amount|\bhow much money\b|\brates? (?:paid|for payment)\b", re.I),
     "payment amounts and prices are not in the rule base"),
    (re.compile(r"\b(?:what|which|right|correct|maximum|max|usual)\s+dose\b|\bdosage\b|\bdosing\b|should (?:i|we|the nurse) (?:give|administer|use|stop|infuse)|"
                r"\bside effects?\b|\bcontraindicat\w*|\binteractions?\b|\bis it safe\b|\bsafe to\b|\bhow (?:fast|quickly) (?:can|should)\b|"
                r"\bpremedicat\w* (?:with|before)\b|\btreat(?:ment)? (?:for|of)\b", re.I),
     "it is medical advice, not coding"),
]
_CPT = re.compile(r"(?<![\w.])(\d{4}[0-9T])(?![\w.])")
_HCPCS = re.compile(r"\b([A-Z]\d{4})\b")


def _refuse(why: str) -> Answer:
    return Answer(f"{OUTSIDE}: {why}. infucode answers questions about drug-administration codes "
                  "(96360-96379, 96401-96549): what a code is, billing codes together, units for a time, MUE and "
                  "wRVU, and which code a described administration takes.", refused=True, intent="refused")


# ----------------------------------------------------------------------------------------- helpers
class _Cites:
    def __init__(self, ruleset: Ruleset):
        self.rs = ruleset
        self.rules: list[str] = []
        self.sources: list[str] = []

    def rule(self, *rids: str) -> None:
        for rid in rids:
            if rid in self.rs.rules and rid not in self.rules:
                self.rules.append(rid)
                self.source(*self.rs.rules[rid].sources)

    def source(self, *keys: str) -> None:
        for k in keys:
            src = self.rs.rules.sources.get(k)
            cite = f"{k}: {src.cite}" if src else k
            if cite not in self.sources:
                self.sources.append(cite)

    def answer(self, text: str, codes: list[str], intent: str) -> Answer:
        tail = []
        if self.rules:
            tail.append("Rules: " + ", ".join(self.rules) + ".")
        if self.sources:
            tail.append("Sources: " + "; ".join(self.sources) + ".")
        return Answer(text + ("\n" + "\n".join(tail) if tail else ""), list(self.rules), list(self.sources),
                      list(dict.fromkeys(codes)), False, intent)


_DUR_HM = re.compile(r"(\d+)\s*(?:h|hr|hrs|hours?)\s*(?:and\s*)?(\d+)\s*(?:m|min|mins|minutes?)\b", re.I)
_DUR_COLON = re.compile(r"(?<![\d:])(\d{1,2}):([0-5]\d)(?![\d:])")
_DUR_MIN = re.compile(r"(\d+)\s*(?:m|min|mins|minutes?)\b", re.I)
_DUR_HOUR = re.compile(r"(\d+(?:\.\d+)?|an?|one|two|three|four|five|six)\s*(?:-\s*)?(?:and a half\s+)?(?:h|hr|hrs|hours?)\b(\s+and a half)?", re.I)
_WORDNUM = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}


def parse_duration(text: str) -> int | None:
    """Minutes in "2 hours 15 minutes", "2h15m", "2:15", "135 minutes", "90 min", "1.5 hours"."""
    m = _DUR_HM.search(text)
    if m:
        return int(m.group(1)) * 60 + int(m.group(2))
    m = _DUR_COLON.search(text)
    if m:
        return int(m.group(1)) * 60 + int(m.group(2))
    m = _DUR_MIN.search(text)
    if m:
        return int(m.group(1))
    m = _DUR_HOUR.search(text)
    if m:
        n = m.group(1).lower()
        hours = float(_WORDNUM.get(n, n))
        if m.group(2) or "and a half" in m.group(0).lower():
            hours += 0.5
        return round(hours * 60)
    return None


def _fmt_minutes(m: int) -> str:
    h, mm = divmod(m, 60)
    return f"{h} h {mm:02d} min ({m} minutes)" if h else f"{m} minutes"


def _clock(minutes_from_8: int) -> str:
    h, m = divmod(8 * 60 + minutes_from_8, 60)
    return f"{h % 24:02d}:{m:02d}"


def _setting(q: str) -> tuple[str, bool]:
    if re.search(r"hospital|HOPD|facility|outpatient department|infusion cent|\bED\b|emergency|observation", q, re.I):
        return "facility", True
    if re.search(r"office|clinic|practice|professional", q, re.I):
        return "office", True
    return "office", False


def _lines_text(result) -> str:
    parts = []
    for l in result.lines:
        if l.kind != "administration":
            continue
        mods = f"-{'-'.join(l.modifiers)}" if l.modifiers else ""
        parts.append(f"{l.code}{mods} x{l.units}")
    return " + ".join(parts) or "no administration line"


# ----------------------------------------------------------------------------------------- intents
def _what_is(code: str, rs: Ruleset) -> Answer:
    ref = lookup(code, rs, with_scenarios=False)
    c = _Cites(rs)
    text = [f"{code}: {ref.description}"]
    if ref.add_on:
        text.append(f"It is an add-on code: report it only beside one of {', '.join(ref.primaries)} (CMS add-on code edits).")
        c.rule("limits.add_on_primary")
    else:
        text.append("It is not an add-on code.")
    if ref.time_rule:
        text.append(f"Time: {ref.time_rule}")
    text.append(f"wRVU {ref.wrvu if ref.wrvu is not None else 'not confirmed'}; MUE {ref.mue['practitioner']['value']} "
                f"practitioner / {ref.mue['hospital']['value']} outpatient hospital.")
    for r in rs.rules.rules.values():
        if code in r.statement or code in r.title:
            c.rule(r.id)
    c.source(*dict.fromkeys(ref_src.split(":")[0] for ref_src in ref.sources.values()))
    return c.answer(" ".join(text), [code], "what_is")


def _mue_wrvu(code: str, q: str, rs: Ruleset) -> Answer:
    ref = lookup(code, rs, with_scenarios=False)
    c = _Cites(rs)
    parts = []
    want_mue = bool(re.search(r"\bMUE|medically unlikely|max(?:imum)? (?:units|number)|unit limit|how many units .* (?:allowed|max)", q, re.I))
    want_rvu = bool(re.search(r"RVU|relative value", q, re.I))
    if not (want_mue or want_rvu):
        want_mue = want_rvu = True
    if want_rvu:
        parts.append(f"The work RVU of {code} is {ref.wrvu if ref.wrvu is not None else 'not confirmed'} "
                     f"(CMS physician fee schedule, {rs.codes.values_as_of.get('wrvu', rs.codes.release)}); "
                     "it prices the professional claim, not a facility claim.")
        c.rule("limits.wrvu_facility")
        c.source(rs.codes[code].sources.get("wrvu", "S1-RVU"))
    if want_mue:
        p, h = ref.mue["practitioner"], ref.mue["hospital"]
        parts.append(f"The MUE of {code} is {p['value']} per day on a practitioner claim (MAI {p['mai']}) and "
                     f"{h['value']} on an outpatient hospital claim (MAI {h['mai']}). Units above it deny the line; "
                     "MAI 3 means records can support more on appeal, MAI 2 is absolute, MAI 1 is per line.")
        c.rule("limits.mue")
    return c.answer(" ".join(parts), [code], "mue_wrvu")


def _differ(a: str, b: str, rs: Ruleset) -> Answer:
    c = _Cites(rs)
    pair = _data.pair_for(a, b)
    ra, rb = rs.codes[a], rs.codes[b]
    text = [f"{a}: {ra.description}", f"{b}: {rb.description}"]
    if pair:
        text.append(f"The question that decides: {pair['decides']}")
        text.append(" ".join(pair["explanation"].split()))
        c.rule(*pair.get("rules", ()))
        c.source(*pair.get("sources", ()))
        if pair.get("top_confusion"):
            ex = next((s for s in _data.scenarios() if s["encounter"]["id"] == "scenario-2"), None)
            if ex:
                res = code_encounter(ex["encounter"], rs)
                text.append(f"Example: {ex['name']} codes as {_lines_text(res)} (the same drug throughout, so its "
                            "further hours are 96366, never 96367).")
    else:
        for x, y in ((ra, b), (rb, a)):
            rel = next((r for r in x.related if r.code == y), None)
            if rel:
                text.append(f"Against {x.code}, {y} is {rel.how_it_differs}.")
        c.source(ra.sources.get("description", ""), rb.sources.get("description", ""))
    return c.answer(" ".join(text), [a, b], "differentiate")


def _together(a: str, b: str, rs: Ruleset) -> Answer:
    c = _Cites(rs)
    text = []
    verdict = "yes"
    for x, y in ((a, b), (b, a)):
        info = rs.codes[x]
        if info.add_on:
            c.rule("limits.add_on_primary")
            if y in info.primaries:
                text.append(f"{x} is an add-on and {y} is one of its eligible primaries ({', '.join(sorted(info.primaries))}).")
            else:
                text.append(f"{x} is an add-on whose eligible primaries are {', '.join(sorted(info.primaries))}; {y} is not one "
                            f"of them, so {x} needs one of those on the claim as well.")
    for claim, label in (("professional", "practitioner"), ("facility", "outpatient hospital")):
        for x, y in ((a, b), (b, a)):
            e = rs.ptp.pair(x, y, claim)
            if e is None:
                continue
            c.source(e.source)
            if e.modifier_indicator == 0:
                verdict = "no"
                text.append(f"NCCI {label} edit: {x} (column 1) with {y} (column 2), modifier indicator 0: {y} is not paid "
                            f"with {x}, no modifier bypasses it ({e.rationale}).")
            elif e.modifier_indicator == 1:
                verdict = "distinct" if verdict == "yes" else verdict
                text.append(f"NCCI {label} edit: {x} (column 1) with {y} (column 2), modifier indicator 1: only when the "
                            f"services are distinct, with an NCCI modifier (XU or 59) on {y} ({e.rationale}).")
                c.rule("subsequent.distinct_injection")
            else:
                text.append(f"NCCI {label} edit {x}/{y} has indicator 9 (not applied).")
    if a != b and not rs.codes[a].add_on and not rs.codes[b].add_on:
        c.rule("initial.one_per_encounter")
        text.append("Both are initial services: an encounter reports one initial service, so the other is reported as its "
                    "subsequent/sequential code unless a protocol required a separate IV access (then modifier XU or 59).")
    if not any("NCCI" in t for t in text):
        text.append(f"No NCCI procedure-to-procedure edit pairs {a} and {b} (practitioner or outpatient hospital, "
                    f"{rs.ptp.release}).")
        c.source("S1-PTP")
    if {a, b} == {"96366", "96367"}:
        c.rule("subsequent.added_hours", "subsequent.sequential_infusion")
        text.append("For one drug on one date, no: more of the same drug is 96366 and a new drug is 96367, so the pair "
                    "only appears together for two different drugs (the second drug's further hours are 96366).")
        c.source("SEED-003")
    if a == b:
        text.append(f"The same code twice is reported as units on one line, within its MUE ({rs.codes[a].mue_practitioner.value} "
                    f"practitioner / {rs.codes[a].mue_hospital.value} outpatient hospital).")
        c.rule("limits.mue")
    head = {"yes": f"Yes, {a} and {b} can be on the same claim.",
            "no": f"No, {a} and {b} are not paid together.",
            "distinct": f"Only as distinct services: {a} and {b} are paired by an NCCI edit that a modifier may bypass."}[verdict]
    if verdict == "yes" and any("is not one of them" in t for t in text):
        head = "Yes, provided the add-on's own primary is also on the claim."
    return c.answer(head + " " + " ".join(text), [a, b], "together")


_FAMILY_DRUG = {"therapeutic": ("vancomycin", "iv_infusion"), "chemotherapy": ("paclitaxel", "iv_infusion"),
                "hydration": ("normal saline", "iv_infusion"), "sc": ("Hizentra", "sc_infusion")}


def _units(q: str, minutes: int, codes: list[str], rs: Ruleset) -> Answer:
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
    setting, _ = _setting(q)
    rs_used = rs.with_profile("seed-page") if re.search(r"seed[- ]page", q, re.I) else rs
    enc = {"id": "units-question", "setting": setting, "date": "2024-07-01",
           "administrations": [{"id": "a1", "drug": drug, "route": route, "start": _clock(0), "stop": _clock(minutes),
                                **({"indication": "dehydration"} if family == "hydration" else {})}]}
    result = code_encounter(enc, rs_used)
    c = _Cites(rs)
    for l in result.lines:
        if l.kind == "administration":
            c.rule(l.rule)
    c.rule("timing.added_hours")
    kind = {"sc": "subcutaneous infusion", "therapeutic": "therapeutic IV infusion of one drug",
            "chemotherapy": "chemotherapy IV infusion of one drug", "hydration": "IV hydration"}[family]
    text = [f"{_fmt_minutes(minutes)} of {kind} ({setting}, profile {rs_used.profile}): {_lines_text(result)}."]
    asked = [code for code in codes if rs.codes[code].kind == "added_hour"]
    for code in asked:
        n = sum(l.units for l in result.lines if l.code == code)
        text.append(f"That is {n} unit{'s' if n != 1 else ''} of {code}.")
    text.append("The first hour is the initial code; each further unit needs a full hour or more than 30 minutes past "
                "the last full hour (90 minutes is the first hour only, 91 adds one).")
    if minutes > 60 and minutes % 60 == 30:
        c.rule("timing.threshold_boundary")
        text.append("Exactly 30 minutes past the hour is where sources disagree: CPT needs more than 30 (the default); "
                    "the seed page's reading (profile seed-page, policy added_hour_threshold=at_least_30) adds a unit.")
    for f in result.findings:
        if f.severity in ("error", "warning"):
            text.append(f"Note: {f.message} [{f.rule}].")
            c.rule(f.rule)
    text.append("Clock start and stop times must be documented to support the units.")
    return c.answer(" ".join(text), [l.code for l in result.lines if l.kind == "administration"], "units")


_ORDER_AFTER = re.compile(r"\b(after|following|once .* (?:finished|done|complete))\b", re.I)
_CONCURRENT = re.compile(r"\b(same time|concurrent(?:ly)?|simultaneous(?:ly)?|while|running with|piggybacked with)\b", re.I)
_NEAR_DUR = re.compile(r"(\d+(?:\.\d+)?|an?|one|two|three|four|five|six)[\s-]*(hours?|hrs?|h|minutes?|mins?|min)\b", re.I)


def _situation(q: str, rs: Ruleset) -> Answer | None:
    enc, extractions, questions = parse_note(q, rs, encounter_id="question", default_date="2024-07-01")
    adms = enc["administrations"]
    if not adms:
        return None
    assumptions = []
    if not any(e.field == "setting" for e in extractions):
        assumptions.append("the setting is a physician office")
    # times: use documented ones, otherwise lay the administrations out on a clock in the order described
    timed = ("iv_infusion", "sc_infusion", "iv", "intra_arterial")
    if any("start" not in a or ("stop" not in a and a.get("route") in timed) for a in adms):
        spans = {}
        for e in extractions:
            if e.field.endswith(".drug"):
                spans[e.field.split("]")[0] + "]"] = (e.start, e.end)
        order = list(range(len(adms)))
        for i in range(len(adms) - 1):
            s_i = spans.get(f"administrations[{i}]")
            s_j = spans.get(f"administrations[{i + 1}]")
            if s_i and s_j and _ORDER_AFTER.search(q[s_i[1]:s_j[0]]) or (s_i and s_j and _ORDER_AFTER.search(q[max(0, s_i[0] - 0):s_j[0]])):
                order[i], order[i + 1] = order[i + 1], order[i]
        concurrent = bool(_CONCURRENT.search(q))
        t = 0
        for k, idx in enumerate(order):
            a = adms[idx]
            known = a.pop("minutes", None)
            a.pop("stop", None)
            s = spans.get(f"administrations[{idx}]", (0, 0))
            dm = _NEAR_DUR.search(q[s[1]:s[1] + 35]) or _NEAR_DUR.search(q[max(0, s[0] - 25):s[0]])
            route = a.get("route")
            if route is None:
                route = a["route"] = "iv_infusion" if dm else "iv_push"
                assumptions.append(f"{a['drug']} was {'infused' if dm else 'pushed'}")
            start = 0 if concurrent and k > 0 else t
            a["start"] = _clock(start)
            if route in ("iv_infusion", "sc_infusion", "iv", "intra_arterial"):
                if known:
                    dur = known
                elif dm:
                    dur = parse_duration(dm.group(0)) or 30
                else:
                    dur = 30
                    assumptions.append(f"{a['drug']} ran 30 minutes (no time given)")
                if concurrent and k > 0:
                    dur = min(dur, max(20, t - 5)) if t else dur
                    a["start"] = _clock(5)
                a["stop"] = _clock((5 if concurrent and k > 0 else start) + dur)
                t = max(t, start + dur + 5)
            else:
                t = start + 5
        assumptions.append("clock times were laid out in the order described")
    try:
        result = code_encounter(enc, rs)
    except InputError as exc:
        return Answer(f"The situation could not be coded: {exc}", intent="situation")
    c = _Cites(rs)
    text = [f"Coded with the engine ({enc['setting']}, profile {rs.profile}): {_lines_text(result)}."]
    for l in result.lines:
        if l.kind == "administration":
            c.rule(l.rule)
            text.append(f"{l.code} x{l.units}: {l.explanation.split(' [')[0]}.")
    for f in result.findings:
        if f.severity in ("error", "warning"):
            text.append(f"Note: {f.message} [{f.rule}].")
            c.rule(f.rule)
    if assumptions:
        text.append("Assumed: " + "; ".join(dict.fromkeys(assumptions)) + ".")
    real_q = [qq for qq in questions if "date of service" not in qq and "setting is not stated" not in qq
              and "no time given" not in qq and "no stop time" not in qq and "route is not stated" not in qq]
    if real_q:
        text.append("Open points: " + " ".join(real_q))
    return c.answer(" ".join(text), [l.code for l in result.lines if l.kind == "administration"], "situation")


# ----------------------------------------------------------------------------------------- entry point
def ask(question: str, ruleset: Ruleset) -> Answer:
    q = " ".join(question.split())
    if not q:
        return _refuse("the question is empty")
    for pat, why in _REFUSALS:
        if pat.search(q):
            return _refuse(why)
    nums = [m.group(1) for m in _CPT.finditer(q)]
    codes = [n for n in dict.fromkeys(nums) if n in ruleset.codes]
    foreign = [n for n in dict.fromkeys(nums) if n not in ruleset.codes and not re.fullmatch(r"[0-2]\d[0-5]\d", n)]
    if foreign:
        return _refuse(f"{', '.join(foreign)} {'is not a drug-administration code' if len(foreign) == 1 else 'are not drug-administration codes'}")
    low = q.lower()
    if len(codes) >= 2 and re.search(r"\bvs\.?\b|versus|differen|differ\b|\bor\b|instead of|confus|distinguish|when (?:do i|to|should i) use", low):
        return _differ(codes[0], codes[1], ruleset)
    if re.search(r"top confusion|96366.{0,20}96367", low) and len(codes) < 2:
        return _differ("96366", "96367", ruleset)
    if len(codes) >= 2 and re.search(r"together|same (?:claim|day|date)|\bwith\b|\bbundl|\bunbundl|ncci|ptp|\bboth\b|\band\b", low):
        return _together(codes[0], codes[1], ruleset)
    if len(codes) == 1 and re.search(r"twice|two units|more than once|\bagain\b.*\bsame (?:day|claim)", low):
        return _together(codes[0], codes[0], ruleset)
    minutes = parse_duration(q)
    if minutes is not None and re.search(r"\bunits?\b|how many|how (?:do|should) i (?:bill|code)|what (?:do|can) i bill|codes? for|bill for", low) \
            and not re.search(r"\b(?:push|ivp|pushed)\b", low) and len([m for m in re.finditer(r"\d{1,2}:\d{2}", q)]) <= 1:
        # a units question names a duration, not a described situation with drugs and clock times
        enc, _, _ = parse_note(q, ruleset, default_date="2024-07-01")
        if len(enc["administrations"]) <= 1:
            return _units(q, minutes, codes, ruleset)
    if codes and re.search(r"\bMUE\b|medically unlikely|RVU|relative value|max(?:imum)? units|unit limit", q, re.I):
        return _mue_wrvu(codes[0], q, ruleset)
    if re.search(r"\b(?:push|ivp|ivpb|infus\w*|inject\w*|sub-?q|sq|im|iv|drip|given|hung|bolus)\b", low):
        ans = _situation(q, ruleset)
        if ans is not None:
            return ans
    if codes:
        return _what_is(codes[0], ruleset)
    hits = search(q, ruleset, limit=3)
    if hits and hits[0].score >= 0.75:
        h = hits[0]
        if h.kind == "code":
            ans = _what_is(h.id, ruleset)
            ans.text = f"Closest match ({h.why}): " + ans.text
            ans.intent = "search"
            return ans
        if h.kind == "rule":
            r = ruleset.rules[h.id]
            c = _Cites(ruleset)
            c.rule(r.id)
            return c.answer(f"{r.title}: {r.statement}", re.findall(r"\b9\d{4}\b", r.statement), "search")
    return _refuse("no drug-administration code, rule or described administration was recognised in the question")


def render_answer(ans: Answer) -> str:
    return ans.text
