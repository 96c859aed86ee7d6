"""A note as a timeline of events per drug: hung/started, given, rate change, held, restarted, new
bag, completed/stopped, connected (pump), plus line care (access, flush, lock, removal) that is no
event of a drug.

The note is cut into clauses (sentence ends, semicolons, lines); a clause naming several drugs is
cut again before each ("Zofran 4 mg IVP 10:15 then Benadryl 25 mg IVP 10:20"). Each clock time is
labelled by the nearest action word around it. A clause with an action and a time but no drug
("Infusion completed 12:45", "fluids stopped 1030", "rate increased to 200 mL/hr at 0930") acts on
the drug that is running. Mentions in a heading, history, diagnosis, plan, order or prescription
section, and negated or hypothetical ones, are recorded as not administered. Every pass over the
text is a single regular-expression scan; per-clause work uses bisection over those hits, so the
whole read is linear in the size of the note.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from ...ruleset import Ruleset
from ...vocabulary.drug_names import UNNAMED_DRUG_WORDS
from ...vocabulary import (LINE_CARE_CONCEPTS, NOT_ADMINISTRATION_SERVICES, ClockTime, NameIndex,
                           find_dates, find_durations, find_route_words, find_times, is_range_separator)
from .context import PLANNED_DURATION, clause_status
from .sections import NOT_ADMINISTRATION_SECTIONS, SectionMap, find_sections

__all__ = ["Event", "Mention", "Segment", "Timeline", "drug_name_index", "read_timeline"]

# action words -> event action (the MAR fold's action names, plus "line" for line care)
_ACTION_WORDS: list[tuple[str, str]] = [
    ("paused", r"held|paused|on hold|interrupted|stopped\s+temporarily|temporarily\s+stopped"),
    ("restarted", r"re-?started|resumed|restart(?:s|ing)?|resume"),
    ("new_bag", r"new\s+bag|bag\s+(?:changed|change|#?\s*2)|(?:second|2nd|another|next)\s+(?:bag|liter|litre|l\b)|re-?hung"
                r"|#\s*[2-9]\s+(?:hung|started|up|on)"),
    ("rate_change", r"rate\s+(?:increased|decreased|changed|titrated|adjusted|up|down|to|inc|dec|\d)|titrated|titration"
                    r"|increased|decreased|(?:inc|dec)\s+rate|advanced|rate\s+change"),
    ("stopped", r"complete[ds]?|completion|stop(?:ped|s)?|end(?:ed|s)?|finish(?:ed|es)?|done|off|d/?c'?d|dc'?ed"
                r"|discontinued|infused\s+by|ran\s+until|disconnected|until|till"
                # "1105 Actemra infused.": the infusion is in (not "infused over 30 min", "infused at 100 mL/h")
                r"|(?<!being )infused(?!\s+(?:over|at|@|via|with|per|into|through|in|on|\d))"),
    ("start", r"start(?:ed|s|ing)?|strt|begin|began|begun|initiated|init|hung|commenced|infusing|running"
              r"|connected|applied|attached|on\s+at|from"),
    # "pt flushed, itchy": the patient's skin (a reaction), not a line flush
    ("line", r"accessed|access|de-?accessed|placed|inserted|(?<!pt )(?<!patient )(?<!face )flushed|flush|locked"
             r"|hep\s*lock|removed|pulled|blood\s+return"
             r"|labs?\s+drawn|drawn|vitals?|vs\b|assessed"),
    ("given", r"given|administered|pushed|injected|push|at|@"),
]
# the lookahead lets the regex engine skip the positions no action word can start at (2x faster per MB)
_ACTION_RE = re.compile(r"(?=[A-Za-z#@])(?<![A-Za-z])(?:" + "|".join(f"(?P<{a}>{p})" for a, p in _ACTION_WORDS) + r")(?![A-Za-z])", re.I)

# The first letter run of every phrase of _ACTION_WORDS (a phrase starts at a run of letters, or at "#" or "@").
# Only the runs of a note that are in this set are tried: the action scan is then about twice as fast per MB.
# tests/test_intake_events.py checks that the scan finds what one pass of _ACTION_RE finds.
ACTION_FIRST_RUNS = frozenset("""
    held paused on interrupted stopped temporarily
    re restarted started resumed restart restarts restarting resume
    new bag second another next rehung hung
    rate titrated titration increased decreased inc dec advanced
    complete completes completed completion stop stops end ended ends finish finished finishes done off d dc dcd
    discontinued infused ran disconnected until till
    start starts starting strt begin began begun initiated init commenced infusing running connected applied
    attached from
    accessed access de deaccessed placed inserted flushed flush locked hep heplock removed pulled blood labs lab
    drawn vitals vital vs assessed
    given administered pushed injected push at""".split())
_RUN = re.compile(r"[A-Za-z]+")
# the non-ASCII letters that [A-Za-z] matches under re.I (dotted/dotless i, long s, Kelvin sign)
_FOLDS_TO_ASCII = re.compile("[\u0130\u0131\u017f\u212a]")


def find_actions(text: str) -> list[re.Match]:
    """The action words of ``text`` as one ``_ACTION_RE.finditer`` pass finds them, trying the regex only
    where a phrase can start: at the runs of letters that begin one (found with one small alternation of
    the runs the text has), and at "#" and "@"."""
    if not text.isascii() and _FOLDS_TO_ASCII.search(text):
        return list(_ACTION_RE.finditer(text))     # "ſtarted": a letter only the full scan folds to ASCII
    runs = {w.lower() for w in set(_RUN.findall(text))} & ACTION_FIRST_RUNS
    if "#" not in text and "@" not in text and not runs:
        return []
    alt = "|".join(sorted(runs, key=len, reverse=True) + [r"[#@]"])
    lead = "".join(sorted({w[0] for w in runs})) + "#@"
    where = re.compile(rf"(?=[{lead}])(?<![A-Za-z])(?:{alt})", re.I | re.A)
    out: list[re.Match] = []
    skip_to = 0
    match = _ACTION_RE.match
    for h in where.finditer(text):
        a = h.start()
        if a < skip_to:
            continue
        m = match(text, a)
        if m is not None:
            out.append(m)
            skip_to = m.end()
    return out


# each pattern led by the characters it can start with: the regex engine skips every other position
_CLAUSE_END = re.compile(r"(?=[\n;.!?])(?:\n|;|(?<![A-Z][a-z])(?<!\b[A-Za-z])\.(?=\s)|!|\?(?=\s))")
_LEADS = re.compile(r"[,;]\s|\.\s|\b(?:then|and|after|before|followed by|plus)\b", re.I)
_PAUSE_BEFORE = re.compile(r"\b(?:held|paused|on hold|interrupted|stopped)\s*(?:from\s*)?$", re.I)
_SITE = re.compile(
    r"(?=[lrfhawudtgvbpmicLRFHAWUDTGVBPMIC])(?:\b(?:(?:L|R|left|right|lt|rt)\.?\s+)?(?:forearm|hand|antecubital|AC|wrist|upper arm|arm|deltoid|thigh|gluteal|glute|"
    r"abdomen|abd|ventrogluteal|vastus lateralis|buttock|hip|FA)\b(?:\s+(?:PIV|IV|peripheral IV|\d{2}\s*g(?:a|auge)?))*"
    r"|\b(?:port-?a-?cath|mediport|implanted port|chest port|port|PICC(?: line)?|central line|CVC|midline|PIV|peripheral IV)\b)",
    re.I)
_DOSE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?|\.\d+)\s*(mg|mcg|g|gm|grams?|units?|u|meq|mL|ml|cc|L)\b", re.I)
# (?<![\d.]) : a rate never starts inside a run of digits (else a long digit run is searched in quadratic time)
_RATE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:mL|ml|cc)\s*/\s*(?:hr|h|hour)\b", re.I)
_DISCONTINUED = re.compile(r"\b(stopped|d/?c'?d|discontinued|halted)\b[^.\n;]{0,40}\b(reaction|early|rash|hives|anaphyla\w*|intoleran\w*)"
                           r"|\b(reaction|rash|hives)\b[^.\n;]{0,30}\b(stopped|d/?c'?d|discontinued|halted)\b", re.I)
_SEPARATE = re.compile(r"\b(separate|second|2nd|another|new)\s+(?:IV\s+)?(?:site|access|line|PIV|IV)\b", re.I)
_INDICATION = re.compile(r"\bfor\s+(dehydration|hypokalemia|hypomagnesemia|low potassium|low magnesium|[a-z][a-z \-']{2,40}?)"
                         r"(?=\s*(?:[,.;\n(]|$|\bvia\b|\bat\b|\bover\b|\bstart))", re.I)
_FLUSH_BEFORE = re.compile(r"(?:flush\w*|lock\w*)\s+(?:with|w/)?\s*(?:\d+\s*(?:mL|ml|cc)\s+)?$", re.I)
# heparin with a lock or flush word in its clause keeps a line open: never a push (method.flush)
_LINE_CARE_NEAR = re.compile(r"\b(?:lock\w*|hep\s*lock|flush\w*|to\s+keep\s+open)\b", re.I)
_FLUSH_AFTER = re.compile(r"^\s*(?:\d+\s*(?:mL|ml|cc|units?)\s*)?(?:flush|lock|hep\s*lock)", re.I)
_DILUENT_BEFORE = re.compile(r"(?:\b(?:in|mixed in|diluted in|with|w/|into)\s+|/\s*)(?:\d+(?:\.\d+)?\s*(?:mL|ml|cc|L)\s+)?$", re.I)
_NEGATED_NEAR = (re.compile(r"\b(?:no|not|held|hold|declined|refused|without)\s+$", re.I),
                 re.compile(r"^\s*\??\s*(?:no|held|not given|declined)\b", re.I))
_FLUID_WORDS = re.compile(r"\b(?:fluids?|hydration|ivf|bolus|bag|liter|litre|ns|lr|saline|ringer'?s?)\b", re.I)
_INFUSION_WORDS = re.compile(r"\b(?:infusion|drip|chemo\w*|drug|medication|ivpb|piggyback|pump|cadd)\b", re.I)


_NAME_INDEX_CACHE: dict[int, NameIndex] = {}


def drug_name_index(ruleset: Ruleset) -> NameIndex:
    """Every catalog name of every drug (key, name, aliases, HCPCS descriptor names), indexed once."""
    key = id(ruleset.tables.drugs)
    hit = _NAME_INDEX_CACHE.get(key)
    if hit is None:
        names = []
        for d in ruleset.drugs:
            names += [d.key.replace("_", " "), d.name, *d.aliases] + [n for c in d.hcpcs for n in c.names]
        hit = _NAME_INDEX_CACHE[key] = NameIndex(names)
    return hit


@dataclass
class Mention:
    start: int
    end: int
    text: str
    key: str
    name: str
    how: str
    role: str = "given"          # given | flush | diluent | not_given | order | not_a_service | unsupported | ...
    why: str = ""


@dataclass
class Event:
    """One action on one drug at one clock time; ``seq`` is its order in the note."""

    seq: int
    key: str
    action: str                  # given | new_bag | rate_change | paused | restarted | stopped
    time: ClockTime
    segment: "Segment"
    labelled: bool = True        # False: no action word near the time
    date: str | None = None      # a date written in the same clause
    attached: bool = False       # the clause named no drug: attached to the running one


@dataclass
class Segment:
    """The words about one drug mention (or about no drug) inside one clause."""

    start: int
    end: int
    mention: Mention | None
    concepts: set[str] = field(default_factory=set)
    route_spans: list[tuple[int, int, str]] = field(default_factory=list)
    site: tuple[int, int, str] | None = None
    dose: tuple[int, int, float, str] | None = None
    rate: tuple[int, int, float] | None = None
    minutes: tuple[int, int, int] | None = None
    planned_minutes: tuple[int, int, int] | None = None
    indication: tuple[int, int, str] | None = None
    discontinued: tuple[int, int] | None = None
    separate: tuple[int, int] | None = None
    status: str = "actual"
    cue: tuple[int, int] | None = None


@dataclass
class Timeline:
    text: str
    mentions: list[Mention]
    segments: list[Segment]
    events: list[Event]
    line_care: list[tuple[int, int, str]]        # (start, end, what) of times that belong to the line, not a drug
    dates: list
    sections: SectionMap
    notes: list[tuple[str, str | None, tuple[int, int] | None]]   # (question, drug key, span)


def _mentions(text: str, ruleset: Ruleset) -> list[Mention]:
    out: list[Mention] = []
    for h in drug_name_index(ruleset).find(text):
        dm = ruleset.drugs.match(h.text)
        if dm is not None:
            out.append(Mention(h.start, h.end, h.text, dm.drug.key, dm.drug.name, dm.how))
    covered = [(m.start, m.end) for m in out]
    starts = [a for a, _ in covered]
    for h in _HCPCS_CODE.finditer(text):
        i = bisect.bisect_right(starts, h.start()) - 1
        if i >= 0 and covered[i][1] > h.start():
            continue
        hit = ruleset.drugs.by_hcpcs(h.group(0))
        if hit:
            out.append(Mention(h.start(), h.end(), h.group(0).upper(), hit[0].key, hit[0].name, "hcpcs"))
    for h in _UNNAMED_RE.finditer(text):
        i = bisect.bisect_right(starts, h.start()) - 1
        if i >= 0 and covered[i][1] > h.start():
            continue
        j = bisect.bisect_left(starts, h.start() - 40)
        if any(a < h.end() + 40 and "\n" not in text[min(b, h.start()):max(a, h.end())] for a, b in covered[j:j + 4]):
            continue     # "Rocephin (antibiotic) 1 g IV": the drug is named next to it
        kind = UNNAMED_DRUG_WORDS[h.group(0).lower()]
        out.append(Mention(h.start(), h.end(), h.group(0), f"unnamed {kind}", kind, "unnamed"))
    out.sort(key=lambda m: m.start)
    # the same drug named twice in a row ("IVIG (Gammagard)", "Flagyl (metronidazole)") is one mention
    merged: list[Mention] = []
    for m in out:
        if merged and merged[-1].key == m.key and \
                _SAME_DRUG_GAP.fullmatch(text, merged[-1].end, m.start):
            merged[-1].end = m.end
            merged[-1].text = text[merged[-1].start:m.end]
            continue
        merged.append(m)
    return merged


def _clauses(text: str, protected: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Clause spans; a period inside a time ("8:30 a.m. IVIG") or a date is no clause end."""
    starts = [a for a, _ in protected]
    out, lo = [], 0
    for m in _CLAUSE_END.finditer(text):
        i = bisect.bisect_right(starts, m.start()) - 1
        if i >= 0 and protected[i][1] > m.start():
            continue
        if m.start() > lo:
            out.append((lo, m.start()))
        lo = m.end()
    if lo < len(text):
        out.append((lo, len(text)))
    return out


def _slice(hits: list, starts: list[int], a: int, b: int) -> list:
    return hits[bisect.bisect_left(starts, a):bisect.bisect_left(starts, b)]


def _label(text: str, times: list[ClockTime], a: int, b: int, actions: list[re.Match],
           action_starts: list[int]) -> list[tuple[ClockTime, str | None]]:
    """Each time with the action it documents (None: no action word near it)."""
    out: list[tuple[ClockTime, str | None]] = []
    i = 0
    while i < len(times):
        t = times[i]
        if i + 1 < len(times) and is_range_separator(text[t.end:times[i + 1].start]):
            # "0830-1245", "from 0830 until 1245": a start and a stop; "held 1015-1030": a pause and a restart
            held = _PAUSE_BEFORE.search(text, max(a, t.start - 20), t.start)
            out += [(t, "paused"), (times[i + 1], "restarted")] if held else [(t, "start"), (times[i + 1], "stopped")]
            i += 2
            continue
        lo = max(a, times[i - 1].end if i else a, t.start - 40)
        hi = min(b, times[i + 1].start if i + 1 < len(times) else b, t.end + 35)
        best = None
        for m in _slice(actions, action_starts, lo, hi):
            if m.start() >= t.start and m.start() < t.end:
                continue
            kind = m.lastgroup
            if m.end() <= t.start:
                gap = t.start - m.end()
                # a comma or period between the word and the time weakens the link
                gap += 30 if _WEAK_LINK.search(text, m.end(), t.start) else 0
                score = (gap, 0)
            else:
                gap = m.start() - t.end + 3
                gap += 30 if _WEAK_LINK.search(text, t.end, m.start()) else 0
                score = (gap, 1)
            if kind == "given" and m.group(0).lower() in ("at", "@"):
                score = (score[0] + 20, score[1])    # "at" is weaker than a real action word
            if kind == "new_bag" and _STOP_RIGHT_AFTER.match(text, m.end()):
                kind = "stopped"     # "1230 second liter complete": the bag is named, the action is its end
            if best is None or score < best[0]:
                best = (score, kind, m.end())
        if best is None and not text[a:t.start].strip():
            # a flowsheet line "0900 Paclitaxel ... IV infusion started": the time leads the clause
            lead = next((m.lastgroup for m in _slice(actions, action_starts, t.end, b)
                         if m.lastgroup not in ("line",) and m.group(0).lower() not in ("at", "@")), None)
            best = ((0, 0), lead, t.end) if lead else None
        kind = best[1] if best else None
        if kind == "start" and any(m.lastgroup == "new_bag" for m in _slice(actions, action_starts, max(a, t.start - 40), hi)):
            kind = "new_bag"     # "second liter NS hung 1420": a new bag, not a new drug
        elif kind == "stopped" and any(
                m.lastgroup == "new_bag" or (m.lastgroup == "start" and _NEXT_BAG.search(text, t.end, m.start()))
                for m in _slice(actions, action_starts, max(t.end, best[2]), b)
                if not _STOP_RIGHT_AFTER.match(text, m.end())):
            # "0020 #1 complete, KCl #2 hung", "1st run complete, 2nd KCl hung": one bag ends as the next is
            # hung; the order runs on
            kind = "new_bag"
        out.append((t, kind))
        i += 1
    # a line-leading time repeated by a range of the same value ("0840 ... 0840-0855") is one time
    starts = {t.value for t, k in out if k == "start"}
    return [(t, k) for t, k in out if not (k is None and t.value in starts)]

_ANOTHER_TIME = re.compile(r"\b(?:later|after(?:wards?)?|then|prior|before|earlier|previously|tomorrow|next)\b", re.I)
_UNNAMED_RE = re.compile(r"(?<![A-Za-z])(?:" + "|".join(sorted(UNNAMED_DRUG_WORDS, key=len, reverse=True)) + r")(?![A-Za-z])",
                         re.I)
# bounded repeats: matched at every mention, so the cost of one match must not grow with a long run of text
_STOP_RIGHT_AFTER = re.compile(r"\s{0,20}(?:\w{1,30}\s{1,20}){0,2}?(?:complete[ds]?|done|finished|infused|in)\b", re.I)
_NEXT_BAG = re.compile(r"\b(?:2nd|second|3rd|third|#\s*[2-9]|another|next|new)\b", re.I)
# compiled once: these are tried per mention, per action and per dose
_HCPCS_CODE = re.compile(r"\b[JjQq]\d{4}\b")
_SAME_DRUG_GAP = re.compile(r"[\s(),/\-:]*|[\s(]*aka[\s)]*")
_WEAK_LINK = re.compile(r"[.,]\s")
_DURATION_LEAD = re.compile(r"\b(?:over|x|for|infused over|ran over|in|run|runs|to run)\s*$", re.I)
_OVER_LEAD = re.compile(r"over\s*$", re.I)
_LITER_IS_LEFT = re.compile(r"\s+(?:forearm|hand|AC|arm|antecubital|wrist|deltoid|thigh|FA|upper)\b")
_GAUGE_AFTER = re.compile(r"\s*(?:a|auge)?\s*(?:PIV|IV|angio|cath)", re.I)
_PER_BODY_SIZE = re.compile(r"\s*/\s*(?:m2|m\^2|m²|kg|m 2)\b", re.I)
_NOT_AN_INDICATION = re.compile(r"(?:the|a|an|pt|patient|\d)", re.I)
_PLACE_AFTER = re.compile(r"[ \t]{1,20}(?:cent(?:er|re)|clinic|suite|unit|room|bay|chair|visit|dept|department)\b", re.I)


def read_timeline(text: str, ruleset: Ruleset) -> Timeline:
    global _HYDRATION_KEYS
    if not _HYDRATION_KEYS:
        _HYDRATION_KEYS = {d.key for d in ruleset.drugs if d.family == "hydration"}
    dates = find_dates(text)
    mentions = _mentions(text, ruleset)
    times = find_times(text, [(d.start, d.end) for d in dates] + [(m.start, m.end) for m in mentions])
    time_starts = [t.start for t in times]
    routes = find_route_words(text)
    route_starts = [r.start for r in routes]
    actions = find_actions(text)
    action_starts = [m.start() for m in actions]
    durations = find_durations(text, bare_colon=False)    # a bare "2:15" in a note is a clock time
    duration_starts = [d.start for d in durations]
    date_starts = [d.start for d in dates]

    # a first line with no time and no action word is the note's title ("Rituximab infusion visit")
    first_line_end = text.find("\n", len(text) - len(text.lstrip()))
    first_is_title = False
    if first_line_end > 0 and text[first_line_end:].strip():
        fl = (len(text) - len(text.lstrip()), first_line_end)
        has_time = bool(_slice(times, time_starts, *fl))
        has_action = any(m.lastgroup not in ("given", "line") or m.group(0).lower() in ("given", "administered", "pushed")
                         for m in _slice(actions, action_starts, *fl))
        # "Infusion center - gemcitabine C3D8": "infusion" before a place word names the place, not a route
        has_dose = bool(_DOSE.search(text, *fl)) or any(
            not _PLACE_AFTER.match(text, r.end) for r in _slice(routes, route_starts, *fl))
        # "HOPD infusion - 5-FU pump start": a first line naming, with no time or dose, only drugs the note
        # documents again below is a title too
        named = _slice(mentions, [m.start for m in mentions], *fl)
        told_again = bool(named) and all(any(o.key == m.key for o in mentions if o.start >= fl[1]) for m in named) \
            and not any(m.lastgroup in ("given", "stopped") and m.group(0).lower() not in ("at", "@")
                        for m in _slice(actions, action_starts, *fl))
        first_is_title = not has_time and ((not has_action and not has_dose) or
                                           (told_again and not _DOSE.search(text, *fl)))
    sections = find_sections(text, first_is_title)

    protected = [(t.start, t.end) for t in times] + [(d.start, d.end) for d in dates]
    protected.sort()
    clauses = _clauses(text, protected)
    mention_starts = [m.start for m in mentions]

    segments: list[Segment] = []
    events: list[Event] = []
    line_care: list[tuple[int, int, str]] = []
    notes: list[tuple[str, str | None, tuple[int, int] | None]] = []
    running: dict[str, str] = {}           # drug key -> "running" | "paused", in order of starting
    last: tuple[Mention, int] | None = None  # the drug the previous clause was about, and where it ended
    described: dict[str, None] = {}        # drugs written about with no event yet, latest last

    for ca, cb in clauses:
        cms = _slice(mentions, mention_starts, ca, cb)
        ctimes = _slice(times, time_starts, ca, cb)
        if not cms and not ctimes:
            # no drug and no clock time: no event and no mention can come from it (most clauses of a long note)
            last = None
            continue
        # the clause's status matters only for its mentions and events: read once, when first needed
        status_cue: list = []

        def clause_status_of(ca=ca, cb=cb, has_time=bool(ctimes), memo=status_cue):
            if not memo:
                memo.extend(clause_status(text[ca:cb], has_time))
            return memo[0], memo[1]
        cdates = _slice(dates, date_starts, ca, cb)
        clause_date = cdates[0].value if cdates else None

        # roles of the mentions: flush, diluent, negated, section, context
        kept: list[Mention] = []
        diluted: set[int] = set()     # mentions written with their diluent bag: an infusion
        if cms:
            status, cue = clause_status_of()
        for m in cms:
            drug = ruleset.drugs.get(m.key)
            before = text[max(ca, m.start - 25):m.start]
            after = text[m.end:m.end + 14]
            hydration = drug is not None and drug.family == "hydration"
            section = sections.kind_at(m.start)
            if section in NOT_ADMINISTRATION_SECTIONS:
                m.role, m.why = "order", f"named in the {section} section, not an administration"
            elif drug is not None and drug.flush or _FLUSH_BEFORE.search(before) or \
                    ((hydration or m.key.startswith("heparin")) and _FLUSH_AFTER.match(after)) or \
                    (m.key.startswith("heparin") and (_LINE_CARE_NEAR.search(text, m.end, min(cb, m.end + 45)) or
                                                      _LINE_CARE_NEAR.search(text, max(ca, m.start - 45), m.start))):
                m.role, m.why = "flush", "part of the administration, not reported (method.flush)"
            elif hydration and kept and _DILUENT_BEFORE.search(text[kept[-1].end:m.start]):
                m.role, m.why = "diluent", "carries the drug, not hydration (continuity.hydration_concurrent)"
                diluted.add(kept[-1].start)
            elif _NEGATED_NEAR[0].search(before[-18:]) or _NEGATED_NEAR[1].match(after):
                m.role, m.why = "not_given", "not given"
            elif status != "actual":
                m.role, m.why = ("not_given", "not given") if status == "negated" else ("planned", "planned, ordered or "
                                                                                            "hypothetical, not given")
            else:
                kept.append(m)

        # cut the clause before each kept mention
        bounds: list[tuple[int, int, Mention | None]] = []
        if not kept and last is not None and "\n" not in text[last[1]:ca] and \
                not any(e.key == last[0].key for e in events[-3:]) and ctimes:
            # "IV ketorolac 15 mg; pushed over 1 minute at 8:05 PM": the sentence goes on about the same drug
            bounds.append((ca, cb, last[0]))
        elif not kept:
            bounds.append((ca, cb, None))
        else:
            starts = []
            for i, m in enumerate(kept):
                if i == 0:
                    starts.append(ca)
                    continue
                s = m.start
                leads = list(_LEADS.finditer(text, kept[i - 1].end, m.start))
                if leads:
                    s = leads[-1].end()
                starts.append(s)
            for i, m in enumerate(kept):
                bounds.append((starts[i], starts[i + 1] if i + 1 < len(kept) else cb, m))
        last = (bounds[-1][2], cb) if bounds[-1][2] is not None else None

        for sa, sb, m in bounds:
            stimes = [t for t in ctimes if sa <= t.start < sb]
            labelled = _label(text, stimes, ca, cb, actions, action_starts) if stimes else []
            if m is None and all(k in (None, "line", "given") for _, k in labelled):
                # words about no drug and no action on the running one: only line care is read from them
                line_care.extend((t.start, t.end, "line care") for t, k in labelled if k == "line")
                continue
            status, cue = clause_status_of()
            seg = Segment(sa, sb, m, status=status, cue=(ca + cue.start(), ca + cue.end()) if cue else None)
            for r in _slice(routes, route_starts, sa, sb):
                seg.concepts.add(r.concept)
                seg.route_spans.append((r.start, r.end, r.concept))
            site = _SITE.search(text, sa, sb)
            if site:
                seg.site = (site.start(), site.end(), " ".join(site.group(0).split()))
            if m is not None:
                _details(text, seg, m, ctimes, ruleset)
                if m.start in diluted and not seg.concepts & {"iv_push", "sc", "im"}:
                    seg.concepts.add("iv_infusion")
            for d in _slice(durations, duration_starts, sa, sb):
                if not _DURATION_LEAD.search(text[max(sa, d.start - 16):d.start]):
                    continue
                if "iv_push" not in seg.concepts and _OVER_LEAD.search(text[max(sa, d.start - 8):d.start]):
                    seg.concepts.add("iv_infusion")     # "IV over 30 minutes": an infusion
                if PLANNED_DURATION.search(text[max(sa, d.start - 30):d.start]):
                    seg.planned_minutes = seg.planned_minutes or (d.start, d.end, d.minutes)
                else:
                    seg.minutes = seg.minutes or (d.start, d.end, d.minutes)
            segments.append(seg)

            if m is not None and not stimes and ctimes and ctimes[0].start < sa and \
                    not _ANOTHER_TIME.search(text, sa, sb):
                # "1030 irinotecan started, leucovorin running at the same time", "1200 irinotecan and
                # leucovorin complete": a drug with its own action word and no time of its own shares the
                # clause's time
                own = next((a for a in _slice(actions, action_starts, m.end, sb)
                            if a.lastgroup in ("start", "stopped", "new_bag") and a.group(0).lower() not in ("at", "@")),
                           None)
                if own is not None:
                    shared = [t for t in ctimes if t.start < sa][-1]
                    labelled = [(shared, own.lastgroup)]
            if m is None:
                _drugless(text, seg, labelled, running, events, line_care, notes, date=clause_date,
                          described=described)
                continue
            if seg.concepts & NOT_ADMINISTRATION_SERVICES and not seg.concepts - NOT_ADMINISTRATION_SERVICES - \
                    LINE_CARE_CONCEPTS - {"iv_push"}:
                # "acetaminophen 650 mg PO": never a drug administration service
                m.role, m.why = "not_a_service", "route " + "/".join(sorted(seg.concepts & NOT_ADMINISTRATION_SERVICES)).upper() \
                    + ": not an injection or infusion, not coded"
                continue
            described.pop(m.key, None)
            described[m.key] = None
            unlabelled = [t for t, k in labelled if k is None]
            for t, kind in labelled:
                if kind == "line":
                    line_care.append((t.start, t.end, "line care"))
                    continue
                action = {"start": "given", None: "given"}.get(kind, kind)
                if kind is None and len(unlabelled) == 2 and t is unlabelled[1]:
                    action = "stopped"
                events.append(Event(len(events), m.key, action, t, seg, labelled=kind is not None, date=clause_date))
                described.pop(m.key, None)
                if seg.concepts.isdisjoint({"iv_push", "sc", "im"}) or seg.concepts & {"iv_infusion", "sc_infusion",
                                                                                         "ambulatory_pump"}:
                    _track(running, m.key, action)     # a push or a shot is over when given
    return Timeline(text, mentions, segments, events, line_care, dates, sections, notes)


def _track(running: dict[str, str], key: str, action: str) -> None:
    if action in ("given", "new_bag", "restarted", "rate_change"):
        running.pop(key, None)
        running[key] = "running"
    elif action == "paused":
        running[key] = "paused"
    elif action == "stopped":
        running.pop(key, None)


def _drugless(text: str, seg: Segment, labelled, running: dict[str, str], events: list[Event],
              line_care: list, notes: list, *, date: str | None, described: dict[str, None]) -> None:
    """Actions in a clause that names no drug act on the running infusion (or are line care)."""
    words = text[seg.start:seg.end]
    # once per clause, not once per action in it (a long clause of many actions was read in quadratic time)
    says_fluid = _FLUID_WORDS.search(words) is not None
    says_infusion = not says_fluid and _INFUSION_WORDS.search(words) is not None
    for t, kind in labelled:
        if kind in (None, "line", "given"):
            if kind == "line":
                line_care.append((t.start, t.end, "line care"))
            continue
        want = "paused" if kind == "restarted" else "running"
        cands = [k for k, s in running.items() if s == want] or \
            ([k for k, s in running.items()] if kind == "stopped" else [])
        if says_fluid:
            fluid = [k for k in cands if k in _HYDRATION_KEYS]
            cands = fluid or cands
        elif says_infusion:
            drugs = [k for k in cands if k not in _HYDRATION_KEYS]
            cands = drugs or cands
        if not cands and described:
            cands = [next(reversed(described))]      # "IVIG 40 g via L AC PIV.\nStart time 8:30 AM": the drug just described
        if not cands:
            notes.append((f"'{t.text}': an action ({kind.replace('_', ' ')}) with no drug named and no infusion "
                          "running; which drug was it?", None, (t.start, t.end)))
            continue
        key = cands[-1]
        if len(cands) > 1:
            notes.append((f"'{t.text}' ({kind.replace('_', ' ')}) names no drug; read as the most recently started "
                          "running infusion. Is that right?", key, (t.start, t.end)))
        events.append(Event(len(events), key, kind if kind != "start" else "given", t, seg, date=date, attached=True))
        described.pop(key, None)
        _track(running, key, kind if kind != "start" else "given")


_HYDRATION_KEYS: set[str] = set()


def _details(text: str, seg: Segment, m: Mention, ctimes: list[ClockTime], ruleset: Ruleset) -> None:
    sa, sb = seg.start, seg.end
    site = seg.site
    for dm in _DOSE.finditer(text, m.end, sb):
        if dm.start() - m.end > 40:
            break
        if site and site[0] <= dm.start() < site[1]:
            continue
        if any(t.start <= dm.start() < t.end for t in ctimes):
            continue
        if dm.group(2) == "L" and _LITER_IS_LEFT.match(text[dm.end():dm.end() + 15]):
            continue
        if dm.group(2).lower() == "g" and 14 <= float(dm.group(1)) <= 26 and _GAUGE_AFTER.match(text[dm.end():dm.end() + 10]):
            continue
        if _PER_BODY_SIZE.match(text[dm.end():dm.end() + 8]):
            break        # "375 mg/m2": a dose per body size, not the dose given
        unit = dm.group(2).lower()
        unit = {"gm": "g", "gram": "g", "grams": "g", "unit": "units", "u": "units"}.get(unit, unit)
        seg.dose = (dm.start(), dm.end(), float(dm.group(1)), unit)
        break
    r = _RATE.search(text, sa, sb)
    if r:
        seg.rate = (r.start(), r.end(), float(r.group(1)))
    ind = _INDICATION.search(text, sa, sb)
    if ind and not _NOT_AN_INDICATION.match(ind.group(1)):
        seg.indication = (ind.start(1), ind.end(1), ind.group(1).strip())
    disc = _DISCONTINUED.search(text, sa, sb)
    if disc:
        seg.discontinued = (disc.start(), disc.end())
    sep = _SEPARATE.search(text, sa, sb)
    if sep:
        seg.separate = (sep.start(), sep.end())


def is_hydration(key: str) -> bool:
    """True for a fluid of the catalog's hydration family (known once a timeline was read)."""
    return key in _HYDRATION_KEYS

