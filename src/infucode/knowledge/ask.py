"""The assistant: answers drug-administration coding questions from the rule base and the engine.

No language model: the question is routed by patterns (and the search index) to one of a few
intents, and every answer is built from the code table, the drug catalog, the rules registry, the
policies, the NCCI tables or a live run of the engine, and cites the rule ids and sources it used.
Questions the rule base cannot answer are refused plainly.

    a = ask("How many units of 96366 for 08:30 to 12:45?", rs)
    a.codes, a.rule_ids        # ['96365', '96366'], ['subsequent.added_hours', 'initial.office_primary', ...]
    print(render_answer(a))    # the answer, then its Rules/Sources block once

Routing, first match wins: refusals (E/M, ICD, payment, medical advice) -> HCPCS drug code -> modifier
-> two codes (differ / together) -> units for a duration or clock range -> MUE/wRVU -> a described
administration (coded by the engine) -> a rule-base topic -> one code -> search -> refusal.
"""
from __future__ import annotations

import re

from ..ruleset import Ruleset
from ..vocabulary import ClockRange, find_clock_ranges, find_durations, parse_duration
from .answer import OUTSIDE, Answer, Citations, refuse, render_answer
from .code_answers import differ, mue_wrvu, together, what_is
from .coding_answers import QUESTION_DATE, situation_answer, units_answer
from .hcpcs import HCPCS_CODE, drug_code_answer, modifier_answer, named_modifier
from .intake import parse_note
from .search import search
from .topics import topic_answer, topic_for

__all__ = ["ask", "Answer", "render_answer", "parse_duration", "OUTSIDE"]

# (pattern, why, yields to a named modifier: "modifier 25 on the E/M line" is a modifier question)
_REFUSALS: list[tuple[re.Pattern, str, bool]] = [
    (re.compile(r"\bE\s*/\s*M\b|\bE&M\b|evaluation and management|office visit level|level of (?:the )?visit|\bvisit level", re.I),
     "E/M levels are not drug-administration coding", True),
    (re.compile(r"\bICD(?:-?10)?(?:-?CM)?\b|diagnosis codes?\b|\bdx codes?\b", re.I), "diagnosis (ICD) coding is not covered", False),
    (re.compile(r"\$|\bdollars?\b|\bprices?\b|\bcosts?\b|how much (?:does|will|would|do)\b[^?]*\b(?:pay|paid|reimburse)|"
                r"\b(?:reimbursement|payment|allowed) amount|\bhow much money\b|\brates? (?:paid|for payment)\b", re.I),
     "payment amounts and prices are not in the rule base", False),
    (re.compile(r"\b(?:what|which|right|correct|maximum|max|usual)\s+dose\b|\bdosage\b|\bdosing\b|should (?:i|we|the nurse) (?:give|administer|use|stop|infuse)|"
                r"\bside effects?\b|\bcontraindicat\w*|\binteractions?\b|\bis it safe\b|\bsafe to\b|\bhow (?:fast|quickly) (?:can|should)\b|"
                r"\bpremedicat\w* (?:with|before)\b|\btreat(?:ment)? (?:for|of)\b", re.I),
     "it is medical advice, not coding", False),
]
_CPT = re.compile(r"(?<![\w.])(\d{4}[0-9T])(?![\w.])")
_DIFFER = re.compile(r"\bvs\.?\b|versus|differen|differ\b|\bor\b|instead of|confus|distinguish|when (?:do i|to|should i) use")
_TOGETHER = re.compile(r"together|same (?:claim|day|date)|\bwith\b|\bbundl|\bunbundl|ncci|ptp|\bboth\b|\band\b")
_UNITS_WORD = re.compile(r"\b(?:units?|untis?|unts|uints?|unites?)\b|how many", re.I)
_UNITS_ASK = re.compile(r"\b(?:units?|untis?|unts|uints?|unites?)\b|how many|how (?:do|should) i (?:bill|code)|"
                        r"what (?:do|can|should) i (?:bill|code)|codes? for|bill for", re.I)
_ADMINISTERED = re.compile(r"\b(?:push|ivp|ivpb|infus\w*|inject\w*|sub-?q|sq|im|iv|drip|given|hung|bolus|ran|run|shot)\b", re.I)
_QUESTION_START = re.compile(r"(?:what|which|when|how|why|where|who|is|are|do|does|can|could|should|may|must|will|would|"
                             r"if|tell|explain|any|i\b|we\b)", re.I)
_BILLED_UNITS = re.compile(r"\b9\d{4}\s*(?:x|\*|×)\s*\d\b", re.I)
_TIMED_SERVICE = re.compile(r"\b(?:hydrat\w*|fluids?|ivf|chemo\w*|infusions?|drip|sub-?q infusion|subcutaneous infusion)\b",
                            re.I)
_PUSHED = re.compile(r"\b(?:push|ivp|pushed)\b")      # a push has no time to count units from
_MUE_RVU = re.compile(r"\bMUE\b|medically unlikely|RVU|relative value|max(?:imum)? units|unit limit", re.I)


def _refusal(q: str) -> Answer | None:
    modifier = None
    for pat, why, yields in _REFUSALS:
        if pat.search(q):
            if yields:
                modifier = modifier or named_modifier(q)
                if modifier:
                    continue
            return refuse(why)
    return None


def _codes(q: str, ruleset: Ruleset) -> tuple[list[str], list[str]]:
    """Drug-administration codes in the question, and other five-character codes that are not ones."""
    nums = [m.group(1) for m in _CPT.finditer(q)]
    codes = [n for n in dict.fromkeys(nums) if n in ruleset.codes]
    foreign = [n for n in dict.fromkeys(nums) if n not in ruleset.codes and not re.fullmatch(r"[0-2]\d[0-5]\d", n)]
    return codes, foreign


def _units_minutes(q: str) -> tuple[int | None, ClockRange | None]:
    """The minutes a units question is about: its one clock range, else its first duration."""
    ranges = find_clock_ranges(q)
    if len(ranges) == 1:
        return ranges[0].minutes, ranges[0]
    if ranges:
        return None, None
    found = find_durations(q)
    return (found[0].minutes, None) if found else (None, None)


def ask(question: str, ruleset: Ruleset) -> Answer:
    q = " ".join(question.split())
    if not q:
        return refuse("the question is empty")
    refused = _refusal(q)
    if refused is not None:
        return refused
    low = q.lower()
    drug_code = HCPCS_CODE.search(q)
    if drug_code:
        return drug_code_answer(drug_code.group(1), ruleset, q)
    mod = named_modifier(q)
    if mod:
        return modifier_answer(mod, ruleset)
    codes, foreign = _codes(q, ruleset)
    if foreign:
        return refuse(f"{', '.join(foreign)} {'is not a drug-administration code' if len(foreign) == 1 else 'are not drug-administration codes'}")
    minutes, clock = _units_minutes(q)
    if codes and minutes is not None and _BILLED_UNITS.search(q):
        # "96365 x1 and 96366 x2 for 2h40m?": checking billed units against a time
        return units_answer(q, minutes, codes, ruleset, clock)
    if len(codes) >= 2 and _DIFFER.search(low):
        return differ(codes[0], codes[1], ruleset)
    if re.search(r"top confusion|96366.{0,20}96367", low) and len(codes) < 2:
        return differ("96366", "96367", ruleset)
    if len(codes) >= 2 and _TOGETHER.search(low):
        return together(codes[0], codes[1], ruleset)
    if len(codes) == 1 and re.search(r"twice|two units|more than once|\bagain\b.*\bsame (?:day|claim)", low):
        return together(codes[0], codes[0], ruleset)
    if minutes is not None and _UNITS_ASK.search(q) and not _PUSHED.search(low) \
            and (clock is None or _UNITS_WORD.search(q)):
        # a units question names one time span and at most one drug, not a described sequence
        enc, _, _ = parse_note(q, ruleset, default_date=QUESTION_DATE)
        if len(enc["administrations"]) <= 1:
            return units_answer(q, minutes, codes, ruleset, clock)
    if codes and _MUE_RVU.search(q):
        return mue_wrvu(codes[0], q, ruleset)
    timed = bool(find_clock_ranges(q) or find_durations(q, bare_colon=False))
    if timed or _ADMINISTERED.search(low):
        ans = situation_answer(q, ruleset)
        if ans is not None:
            return ans
        if minutes is not None and _TIMED_SERVICE.search(q) and not _PUSHED.search(low):
            # "hydration 0900 to 0945", "chemo infusion 2 hours": a service and a time but no drug named;
            # coded with the family's stand-in drug, which the answer names
            return units_answer(q, minutes, codes, ruleset, clock)
    hits = search(q, ruleset, limit=3)
    strong = bool(hits) and hits[0].score >= 0.75
    topic = topic_for(q)
    # a keyword phrase ("missing stop time") is a search; a question goes to its topic
    keywords = not q.endswith("?") and not _QUESTION_START.match(q)
    if topic is not None and (not codes or len(topic["match"]) >= 2) and not (keywords and strong and hits[0].kind == "rule"):
        return topic_answer(topic, ruleset)
    if codes:
        return what_is(codes[0], ruleset)
    if strong:
        h = hits[0]
        if h.kind == "code":
            ans = what_is(h.id, ruleset)
            ans.text = f"Closest match ({h.why}): " + ans.text
            ans.intent = "search"
            return ans
        if h.kind == "rule":
            r = ruleset.rules[h.id]
            c = Citations(ruleset)
            c.rule(r.id)
            return c.answer(f"{r.title}: {r.statement}", re.findall(r"\b9\d{4}\b", r.statement), "search")
    return refuse("no drug-administration code, drug code, modifier, coding rule or described administration "
                  "was recognised in the question")
