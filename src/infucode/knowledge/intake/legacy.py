"""Case intake: a free-text nurse note (or an e-mail carrying one) -> the engine's encounter, every
extracted field traced to the words it came from, anything ambiguous raised as a question, then coded.

    memo = case_memo("IVIG (Gammagard) started 08:30, completed 12:45 via L forearm PIV. Office.", rs)
    memo.encounter["administrations"][0]["start"]        # '08:30'
    [(l.code, l.units) for l in memo.result.lines]       # [('96365', 1), ('96366', 3)]
    print(render_memo(memo))

The parser is deliberately plain (regular expressions over the catalog's drug names): it never invents a
time, a route or a setting without saying so in ``questions``.
"""
from __future__ import annotations

import datetime as _dt
import bisect
import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ...engine import code_encounter
from ...model import InputError, Result
from ...ruleset import Ruleset
from ...vocabulary.names import NameIndex


@dataclass
class Extraction:
    field: str                 # "setting", "date", "administrations[0].start", ...
    value: Any
    text: str                  # the words it came from
    start: int                 # span in the note text
    end: int
    administration: str | None = None

    def to_dict(self) -> dict:
        return {"field": self.field, "value": self.value, "text": self.text, "span": [self.start, self.end],
                "administration": self.administration}


@dataclass
class Memo:
    encounter: dict
    extractions: list[Extraction]
    questions: list[str]
    result: Result | None
    error: str | None = None
    missing_documentation: list[str] = field(default_factory=list)
    text: str = ""

    def to_dict(self) -> dict:
        return {
            "encounter": self.encounter,
            "extractions": [e.to_dict() for e in self.extractions],
            "questions": self.questions,
            "result": msgspec.to_builtins(self.result) if self.result is not None else None,
            "error": self.error,
            "missing_documentation": self.missing_documentation,
        }


# ----------------------------------------------------------------------------------------- patterns
_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_DATE_PATTERNS = [
    (re.compile(r"\b(20\d\d)-(\d\d)-(\d\d)\b"), "ymd"),
    (re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{2,4})\b"), "mdy"),
    (re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(20\d\d)\b", re.I), "mon"),
]
_AMPM = r"(?:\s*([ap])\.?\s?m\.?(?![a-z]))"
_TIME_COLON = re.compile(r"(?<![\d:/.])(\d{1,2})[:h](\d{2})(?::\d{2})?" + _AMPM + r"?", re.I)
_TIME_AMPM = re.compile(r"(?<![\d:/.])(\d{1,2})" + _AMPM, re.I)
_TIME_MIL = re.compile(r"(?<![\d:/.$#])([01]\d|2[0-3])([0-5]\d)(?:\s*(?:h|hrs|hours)\b)?(?!\d|:\d|/|\.\d|%)", re.I)
_UNIT_AFTER = re.compile(r"\s*(?:mg|mcg|mL|ml|cc|l|g|gm|grams?|units?|u|meq|iu|%|kg|lbs?)\b", re.I)
_RANGE_SEP = re.compile(r"^\s*(?:-|–|—|to|until|till|thru|through)\s*$", re.I)

_START_KW = re.compile(r"\b(start(?:ed|s|ing)?|begin|began|begun|initiated|init|hung|commenced|infusing|running at|"
                       r"on at|from|restarted)\b|\bstrt\b|\bst\b", re.I)
_STOP_KW = re.compile(r"\b(complete[ds]?|completion|stop(?:ped|s)?|end(?:ed|s)?|finish(?:ed|es)?|done|off|"
                      r"d/?c'?d|dc'?ed|discontinued|until|till|infused by|ran until|removed)\b", re.I)
_GIVEN_KW = re.compile(r"\b(given|administered|pushed|injected|at|@)\b|@", re.I)

_ROUTES: list[tuple[str, re.Pattern]] = [
    ("sc_infusion", re.compile(r"\b(?:sub-?q|subq|subcut(?:aneous)?|SQ|SC)\s+(?:infusion|pump)\b|\bSCIG\b|\bsubcutaneous immune", re.I)),
    ("iv_push", re.compile(r"\bIVP\b|\bIV\s*push\b|\bslow\s+push\b|\bpush(?:ed)?\b|\bIV\s+bolus\b", re.I)),
    ("iv_infusion", re.compile(r"\bIVPB\b|\bpiggy-?back\b|\binfus(?:ion|ed|ing)\b(?!\s+(?:cent(?:er|re)|suite|clinic|room|chair|nurse|area|unit))|"
                               r"\bdrip\b|\bgtt\b|\bvia pump\b|\bhung\b|\bbolus\b|\bIV\s+over\b|\bover\s+\d+\s*(?:min|minutes|mins|hr|hrs|hours?)\b|"
                               r"\bover\s+(?:an|one)\s+hour\b|\bran\s+(?:at|over)\b|\bml/hr\b|\bmL/h\b", re.I)),
    ("intra_arterial", re.compile(r"\bintra-?arterial(?:ly)?\b", re.I)),
    ("sc", re.compile(r"\bsub-?q\b|\bsubq\b|\bsubcut(?:aneous(?:ly)?)?\b|\bSQ\b|\bSC\b|\bs\.c\.", re.I)),
    ("im", re.compile(r"\bIM\b|\bintramuscular(?:ly)?\b|\bI\.M\.")),
    ("iv", re.compile(r"\bIV\b|\bintravenous(?:ly)?\b", re.I)),
]
_SITE = re.compile(
    r"\b(?:(?:L|R|left|right|lt|rt)\.?\s+)?(?:forearm|hand|antecubital|AC|wrist|upper arm|arm|deltoid|thigh|gluteal|glute|"
    r"abdomen|abd|ventrogluteal|vastus lateralis|buttock|hip|FA)\b(?:\s+(?:PIV|IV|peripheral IV|\d{2}\s*g(?:a|auge)?))*"
    r"|\b(?:port-?a-?cath|mediport|implanted port|chest port|port|PICC(?: line)?|central line|CVC|midline|PIV|peripheral IV)\b",
    re.I)
_DOSE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?|\.\d+)\s*(mg|mcg|g|gm|grams?|units?|u|meq|mL|ml|cc|L)\b", re.I)
_DURATION = re.compile(
    r"\b(?:over|x|for|infused over|ran over)\s*(?:(\d+)\s*(?:h|hr|hrs|hours?)\s*(?:and\s*)?(\d+)\s*(?:m|min|mins|minutes?)|"
    r"(\d+(?:\.\d+)?)\s*(min|mins|minutes?|h|hr|hrs|hours?)|(an|one|a half|half an)\s+hour)\b", re.I)
_SETTING_FACILITY = re.compile(
    r"\b(hospital outpatient|outpatient hospital|HOPD|infusion cent(?:er|re)|emergency (?:department|room)|ED|ER|observation|"
    r"obs unit|hospital|POS\s*(?:22|19|23)|facility|cancer cent(?:er|re))\b", re.I)
_SETTING_OFFICE = re.compile(
    r"\b(physician'?s? office|doctor'?s office|office|clinic|practice|POS\s*11|infusion suite|private practice)\b", re.I)
_DISCONTINUED = re.compile(r"\b(stopped|d/?c'?d|discontinued|halted)\b[^.\n;]{0,40}\b(reaction|early|rash|hives|anaphyla\w*|intoleran\w*)"
                           r"|\b(reaction|rash|hives)\b[^.\n;]{0,30}\b(stopped|d/?c'?d|discontinued|halted)\b", re.I)
_FLUSH = re.compile(r"flush(?:ed)?|\bKVO\b|\bTKO\b|keep vein open|to keep open|lock", re.I)
_SEPARATE = re.compile(r"\b(separate|second|2nd|another|new)\s+(?:IV\s+)?(?:site|access|line|PIV|IV)\b", re.I)


# ----------------------------------------------------------------------------------------- helpers
@dataclass
class _Mention:
    start: int
    end: int
    text: str
    key: str
    name: str
    how: str
    flush: bool = False


@dataclass
class _Time:
    start: int
    end: int
    text: str
    value: str   # HH:MM
    label: str | None = None


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


def _hhmm(h: int, m: int, ampm: str | None) -> str | None:
    if ampm:
        ampm = ampm.lower()
        if not 1 <= h <= 12:
            return None
        if ampm == "p" and h != 12:
            h += 12
        if ampm == "a" and h == 12:
            h = 0
    if not (0 <= h <= 23 and 0 <= m <= 59):
        return None
    return f"{h:02d}:{m:02d}"


def _find_dates(text: str) -> list[tuple[int, int, str]]:
    out = []
    for pat, kind in _DATE_PATTERNS:
        for m in pat.finditer(text):
            try:
                if kind == "ymd":
                    d = _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
                elif kind == "mdy":
                    y = int(m.group(3))
                    y = y + 2000 if y < 100 else y
                    d = _dt.date(y, int(m.group(1)), int(m.group(2)))
                else:
                    d = _dt.date(int(m.group(3)), _MONTHS[m.group(1).lower()[:3]], int(m.group(2)))
            except ValueError:
                continue
            out.append((m.start(), m.end(), d.isoformat()))
    return out


class _Spans:
    """Non-overlapping taken spans, sorted; membership in O(log n) so the scan stays linear."""

    def __init__(self, spans: list[tuple[int, int]]):
        merged: list[list[int]] = []
        for a, b in sorted(spans):
            if merged and a < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        self.starts = [a for a, _ in merged]
        self.ends = [b for _, b in merged]

    def free(self, a: int, b: int) -> bool:
        i = bisect.bisect_right(self.starts, a) - 1
        if i >= 0 and self.ends[i] > a:
            return False
        return not (i + 1 < len(self.starts) and self.starts[i + 1] < b)

    def add(self, a: int, b: int) -> None:
        i = bisect.bisect_right(self.starts, a)
        self.starts.insert(i, a)
        self.ends.insert(i, b)


def _find_times(text: str, masked: list[tuple[int, int]]) -> list[_Time]:
    taken = _Spans(masked)
    free = taken.free

    found: list[_Time] = []
    for pat, kind in ((_TIME_COLON, "colon"), (_TIME_AMPM, "ampm"), (_TIME_MIL, "mil")):
        for m in pat.finditer(text):
            a, b = m.span()
            if not free(a, b):
                continue
            if kind == "colon":
                value = _hhmm(int(m.group(1)), int(m.group(2)), m.group(3))
            elif kind == "ampm":
                value = _hhmm(int(m.group(1)), 0, m.group(2))
            else:
                if _UNIT_AFTER.match(text, b):
                    continue
                # "x 1000" or "1000 mL" handled; skip 4-digit numbers inside ids like "J1745"
                if a > 0 and text[a - 1].isalpha():
                    continue
                value = _hhmm(int(m.group(1)), int(m.group(2)), None)
            if value is None:
                continue
            # a bare "1:30" duration ("ran 1:30") is still a clock here; durations use words
            found.append(_Time(a, b, text[a:b].strip(), value))
            taken.add(a, b)
    found.sort(key=lambda t: t.start)
    return found


def _clause_before(text: str, pos: int, floor: int) -> tuple[str, int]:
    lo = max(floor, pos - 40)
    chunk = text[lo:pos]
    cut = max(chunk.rfind("\n"), chunk.rfind(";"), _last_sentence_end(chunk))
    if cut >= 0:
        lo += cut + 1
        chunk = text[lo:pos]
    return chunk, lo


def _last_sentence_end(chunk: str) -> int:
    best = -1
    for m in re.finditer(r"\.\s", chunk):
        before = chunk[max(0, m.start() - 2):m.start() + 1].lower()
        if before.endswith("m.") and ("a.m." in chunk[max(0, m.start() - 3):m.start() + 1].lower()
                                        or "p.m." in chunk[max(0, m.start() - 3):m.start() + 1].lower()):
            continue
        best = m.start() + 1
    return best


def _clause_after(text: str, pos: int, ceil: int) -> str:
    hi = min(ceil, pos + 35)
    chunk = text[pos:hi]
    m = re.search(r"[\n;]|\.\s|,", chunk)
    return chunk[:m.start()] if m else chunk


def _label_times(text: str, times: list[_Time], seg_start: int, seg_end: int) -> None:
    i = 0
    while i < len(times):
        t = times[i]
        if i + 1 < len(times) and _RANGE_SEP.match(text[t.end:times[i + 1].start]):
            t.label, times[i + 1].label = "start", "stop"
            i += 2
            continue
        before, _ = _clause_before(text, t.start, max(seg_start, times[i - 1].end if i else seg_start))
        after = _clause_after(text, t.end, times[i + 1].start if i + 1 < len(times) else seg_end)
        cands = []
        for label, pat in (("start", _START_KW), ("stop", _STOP_KW)):
            mb = list(pat.finditer(before))
            if mb:
                cands.append((len(before) - mb[-1].end(), label))
            ma = pat.search(after)
            if ma:
                cands.append((ma.start() + 3, label))    # a keyword before the time wins a tie
        if cands:
            t.label = min(cands)[1]
        elif _GIVEN_KW.search(before) or _GIVEN_KW.search(after):
            t.label = "given"
        i += 1


def _duration_minutes(m: re.Match) -> int:
    if m.group(1):
        return int(m.group(1)) * 60 + int(m.group(2))
    if m.group(3):
        n = float(m.group(3))
        return round(n * 60) if m.group(4).lower().startswith("h") else round(n)
    word = m.group(5).lower()
    return 30 if "half" in word else 60


class _Questions:
    """Questions in order, each owned by the administration being read when it was asked, so that a
    later merge drops that administration's questions without rescanning the whole list."""

    def __init__(self) -> None:
        self._items: list[list] = []              # [text, alive]
        self._owned: dict[str, list[list]] = {}
        self.owner: str | None = None

    def append(self, q: str) -> None:
        item = [q, True]
        self._items.append(item)
        if self.owner is not None:
            self._owned.setdefault(self.owner, []).append(item)

    def drop(self, owner: str, pred) -> None:
        for item in self._owned.get(owner, ()):
            if item[1] and pred(item[0]):
                item[1] = False

    def texts(self) -> list[str]:
        seen: set[str] = set()
        out = []
        for q, alive in self._items:
            if alive and q not in seen:
                seen.add(q)
                out.append(q)
        return out


# ----------------------------------------------------------------------------------------- the parser
def parse_note(text: str, ruleset: Ruleset, *, encounter_id: str = "case",
               default_date: str | None = None) -> tuple[dict, list[Extraction], list[str]]:
    """Free text -> (encounter dict, extractions with spans, questions)."""
    ex: list[Extraction] = []
    questions = _Questions()

    def note(fld, value, a, b, aid=None):
        ex.append(Extraction(fld, value, text[a:b], a, b, aid))

    # --- date
    dates = _find_dates(text)
    date = None
    if dates:
        a, b, date = dates[0]
        note("date", date, a, b)
        if len({d for _, _, d in dates}) > 1:
            questions.append(f"Several dates appear ({', '.join(sorted({d for _, _, d in dates}))}); coded as {date}, one date of service.")
    else:
        date = default_date or _dt.date.today().isoformat()
        questions.append(f"No date of service found; coded as {date}. What was the date?")

    # --- setting
    fac = _SETTING_FACILITY.search(text)
    off = _SETTING_OFFICE.search(text)
    if fac:
        setting = "facility"
        note("setting", setting, *fac.span())
        if off and not re.search(r"hospital", off.group(0), re.I) and off.start() < fac.start() and \
                not re.search(r"hospital|outpatient", text[max(0, off.start() - 30):off.end() + 30], re.I):
            questions.append(f"Both '{off.group(0)}' and '{fac.group(0)}' appear; coded as a facility (hospital outpatient). Is that right?")
    elif off:
        setting = "office"
        note("setting", setting, *off.span())
        if off.group(0).lower() == "infusion suite":
            questions.append("'Infusion suite' does not say whose: coded as a physician office. Is it a hospital outpatient department?")
    else:
        setting = "office"
        questions.append("The setting is not stated; coded as a physician office (professional claim). Was it a hospital outpatient department, infusion center or ED?")

    # --- drug mentions
    raw_mentions = [(h.start, h.end, h.text) for h in drug_name_index(ruleset).find(text)]
    mentions: list[_Mention] = []
    last_end = -1
    for a, b, name in raw_mentions:
        if a < last_end:
            continue
        dm = ruleset.drugs.match(name)
        if dm is None:
            continue
        ctx = text[max(0, a - 20):min(len(text), b + 12)]
        before_ = text[max(0, a - 25):a]
        is_flush = dm.drug.flush or bool(re.search(r"flush\w*\s+(?:with|w/)?\s*(?:\d+\s*(?:mL|ml|cc)\s+)?$", before_, re.I)) or \
            bool(_FLUSH.search(ctx) and (dm.drug.family == "hydration" or dm.drug.key.startswith("heparin")))
        mentions.append(_Mention(a, b, name, dm.drug.key, dm.drug.name, dm.how, is_flush))
        last_end = b
    for h in re.finditer(r"\bJ\d{4}\b", text):
        if not any(m.start <= h.start() < m.end for m in mentions):
            hit = ruleset.drugs.by_hcpcs(h.group(0))
            if hit:
                mentions.append(_Mention(h.start(), h.end(), h.group(0), hit[0].key, hit[0].name, "hcpcs"))
    mentions.sort(key=lambda m: m.start)

    # flushes and KVO fluid are part of the administration; a diluent is not an administration; negated drugs were not given
    kept: list[_Mention] = []
    for m in mentions:
        drug_ = ruleset.drugs.get(m.key)
        before = text[max(0, m.start - 18):m.start]
        after = text[m.end:m.end + 14]
        line = text[text.rfind("\n", 0, m.start) + 1:m.start]
        if re.search(r"(?:^|[.;]\s*|\b)(?:orders?|ordered|plan|rx|md order)\s*:[^.;]*$", line, re.I):
            note("order", f"{m.name}: named in the order, not an administration", m.start, m.end)
        elif m.flush:
            note("flush", f"{m.name}: part of the administration, not reported (method.flush)", m.start, m.end)
        elif drug_ is not None and drug_.family == "hydration" and re.search(r"\b(?:in|mixed in|diluted in|with)\s+(?:\d+\s*(?:mL|ml|cc)\s+)?$", before, re.I):
            note("diluent", f"{m.name}: carries the drug, not hydration (subsequent.hydration_concurrent)", m.start, m.end)
        elif re.search(r"\b(?:no|not|held|hold|declined|refused|without)\s+$", before, re.I) or re.match(r"\s*\??\s*(?:no|held|not given|declined)\b", after, re.I):
            note("not_given", f"{m.name}: not given", m.start, m.end)
        else:
            kept.append(m)
    # the same drug named twice in a row ("IVIG (Gammagard)") is one mention
    merged: list[_Mention] = []
    for m in kept:
        if merged and merged[-1].key == m.key and re.fullmatch(r"[\s(),/\-:]*|[\s(]*aka[\s)]*", text[merged[-1].end:m.start]):
            merged[-1].end = m.end
            merged[-1].text = text[merged[-1].start:m.end]
            continue
        merged.append(m)

    if not merged:
        questions.append("No drug from the catalog was found in the note. Which drug(s) were given?")
        return {"id": encounter_id, "setting": setting, "date": date, "administrations": []}, ex, questions.texts()

    # --- segments: from the mention (or its line start) to the next segment
    def line_start(pos: int) -> int:
        return text.rfind("\n", 0, pos) + 1

    starts = []
    for i, m in enumerate(merged):
        ls = line_start(m.start)
        if i > 0 and merged[i - 1].start >= ls:
            s = m.start
            # "IV push of ondansetron after a ... vancomycin infusion": words that lead into the name belong to it
            between = text[merged[i - 1].end:m.start]
            leads = list(re.finditer(r"[,;]\s|\.\s|\b(?:then|and|after|before|followed by|with|plus)\b", between, re.I))
            if leads:
                s = merged[i - 1].end + leads[-1].end()
        else:
            s = ls
        starts.append(s)
    segments = [(starts[i], starts[i + 1] if i + 1 < len(starts) else len(text)) for i in range(len(merged))]

    masked = [(a, b) for a, b, _ in dates] + [(m.start, m.end) for m in merged]
    all_times = _find_times(text, masked)
    time_starts = [t.start for t in all_times]
    adms: list[dict] = []
    last_of_drug: dict[str, dict] = {}     # drug key -> its latest administration
    key_of: dict[str, str] = {}            # administration id -> drug key
    for i, (m, (s0, s1)) in enumerate(zip(merged, segments)):
        seg = text[s0:s1]
        aid = f"a{i + 1}"
        questions.owner = aid
        adm: dict = {"id": aid, "drug": m.name if m.how == "hcpcs" else m.text.split("(")[0].strip() or m.name}
        if m.how == "hcpcs":
            adm["hcpcs"] = m.text
        local: list[Extraction] = []

        def lnote(fld, value, a, b, _aid=aid, _local=local):
            _local.append(Extraction(fld, value, text[a:b], a, b, _aid))

        lnote("drug", adm["drug"], m.start, m.end)
        if m.how == "fuzzy":
            questions.append(f"'{m.text}' was read as {m.name}; please confirm the drug.")
        drug = ruleset.drugs.get(m.key)

        # route
        route = None
        for rname, pat in _ROUTES:
            r = pat.search(seg)
            if r:
                route = rname
                if rname == "iv_infusion" and r.group(0).lower() == "bolus" and drug is not None and drug.family != "hydration":
                    route = "iv_push"
                lnote("route", route, s0 + r.start(), s0 + r.end())
                break
        # times
        times = all_times[bisect.bisect_left(time_starts, s0):bisect.bisect_left(time_starts, s1)]
        _label_times(text, times, s0, s1)
        start = next((t for t in times if t.label == "start"), None)
        stops = [t for t in times if t.label == "stop"]
        stop = stops[-1] if stops else None
        given = [t for t in times if t.label in ("given", None) and t is not start and t is not stop]
        if start is None and given:
            start = given.pop(0)
            if route in ("iv_infusion", "iv", "sc_infusion") and start.label is None:
                questions.append(f"{adm['drug']}: '{start.text}' is taken as the start time; the note does not say so.")
        if stop is None and given and route in ("iv_infusion", "iv", "sc_infusion"):
            stop = given.pop(-1)
            questions.append(f"{adm['drug']}: '{stop.text}' is taken as the stop time; the note does not say so.")
        if start is not None:
            adm["start"] = start.value
            lnote("start", start.value, start.start, start.end)
        if stop is not None:
            adm["stop"] = stop.value
            lnote("stop", stop.value, stop.start, stop.end)
        # duration
        d = _DURATION.search(seg)
        if d:
            mins = _duration_minutes(d)
            if stop is None:
                adm["minutes"] = mins
                lnote("minutes", mins, s0 + d.start(), s0 + d.end())
                if route is None:
                    route = "iv_infusion"
                if start is not None and route in ("iv_infusion", "iv", "sc_infusion"):
                    questions.append(f"{adm['drug']}: only a duration ('{d.group(0)}') follows the start; record the clock stop time.")
        # site
        site = _SITE.search(seg)
        if site:
            adm["site"] = " ".join(site.group(0).split())
            lnote("site", adm["site"], s0 + site.start(), s0 + site.end())
        # dose / volume
        dose = None
        for dm_ in _DOSE.finditer(text, m.end, s1):
            if site and s0 + site.start() <= dm_.start() < s0 + site.end():
                continue
            k = bisect.bisect_right(time_starts, dm_.start()) - 1
            if k >= 0 and all_times[k].end > dm_.start():
                continue
            if dm_.group(2) == "L" and re.match(r"\s+(?:forearm|hand|AC|arm|antecubital|wrist|deltoid|thigh|FA|upper)\b", text[dm_.end():]):
                continue
            if re.match(r"\s*(?:a|auge)?\s*(?:PIV|IV|angio|cath)", text[dm_.end():dm_.end() + 10], re.I) and dm_.group(2).lower() == "g":
                continue
            dose = dm_
            break
        if dose and dose.start() - m.end <= 40:
            value = float(dose.group(1))
            unit = dose.group(2).lower()
            if unit in ("ml", "cc", "l"):
                adm["volume_ml"] = value * 1000 if unit == "l" else value
                lnote("volume_ml", adm["volume_ml"], dose.start(), dose.end())
            else:
                unit = {"gm": "g", "gram": "g", "grams": "g", "unit": "units", "u": "units"}.get(unit, unit)
                adm["dose"] = {"value": value, "unit": unit}
                lnote("dose", adm["dose"], dose.start(), dose.end())
        # indication
        ind = re.search(r"\bfor\s+(dehydration|hypokalemia|hypomagnesemia|low potassium|low magnesium|[a-z][a-z \-']{2,40}?)"
                        r"(?=\s*(?:[,.;\n(]|$|\bvia\b|\bat\b|\bover\b|\bstart))", seg, re.I)
        if ind and not re.match(r"(?:the|a|an|pt|patient|\d)", ind.group(1), re.I):
            adm["indication"] = ind.group(1).strip()
            lnote("indication", adm["indication"], s0 + ind.start(1), s0 + ind.end(1))
        # early stop
        disc = _DISCONTINUED.search(seg)
        if disc:
            adm["discontinued"] = True
            lnote("discontinued", True, s0 + disc.start(), s0 + disc.end())
            questions.append(f"{adm['drug']} was stopped early ('{disc.group(0)}'); is the planned or the actual time to be coded (policy discontinued)?")
        sep = _SEPARATE.search(seg)
        if sep:
            adm["separate_site_required"] = True
            lnote("separate_site_required", True, s0 + sep.start(), s0 + sep.end())
            questions.append(f"{adm['drug']}: a separate access is mentioned ('{sep.group(0)}'); was it medically required?")
        iv_site = bool(site and re.search(r"PIV|IV|port|PICC|central|CVC|midline|AC|antecubital|forearm|hand|wrist", site.group(0), re.I))
        if route is None:
            if (start is not None and stop is not None and start.label == "start" and stop.label == "stop") or \
                    (iv_site and (start is not None or stop is not None)):
                route = "iv_infusion"
                questions.append(f"{adm['drug']}: the route is not written; coded as an IV infusion from the documented "
                                 "start/stop times and IV access. Was it an infusion?")
            elif drug is not None and drug.family == "hydration" and (start or stop):
                route = "iv_infusion"
                questions.append(f"{adm['drug']}: no route written; fluid coded as an IV infusion.")
            else:
                questions.append(f"{adm['drug']}: the route is not stated (IV push, IV infusion, SC, IM?).")
        elif route == "iv":
            questions.append(f"{adm['drug']}: 'IV' without push or infusion; the clock decides (16 minutes or more is an infusion). Which was it?")
        if route is not None:
            adm["route"] = route
        if route in ("iv_infusion", "sc_infusion", "intra_arterial") and "stop" not in adm and "minutes" not in adm:
            questions.append(f"{adm['drug']}: no stop time for the infusion. When did it end?")
        if "start" not in adm and "minutes" not in adm:
            questions.append(f"{adm['drug']}: no time given. When was it given?")

        # a stop-only piece of a drug that started earlier completes that administration
        prev = last_of_drug.get(m.key)
        if prev is not None and "start" not in adm and "stop" in adm and "stop" not in prev and "start" in prev:
            prev["stop"] = adm["stop"]
            pid = prev["id"]
            for e in local:
                if e.field in ("stop", "site", "route") and (e.field != "route" or "route" not in prev):
                    if e.field != "stop":
                        prev.setdefault(e.field, adm.get(e.field))
                    e.administration = pid
                    ex.append(e)
            questions.drop(aid, lambda q: q.startswith(f"{adm['drug']}: no "))
            questions.drop(prev["id"], lambda q: q.startswith(f"{prev['drug']}: no stop"))
            questions.owner = None
            continue
        questions.owner = None
        ex.extend(local)
        adms.append(adm)
        last_of_drug[m.key] = adm
        key_of[aid] = m.key

    # an administration with no time at all, of a drug that has a timed administration, is the same one named again
    def timed(a: dict) -> bool:
        return any(k in a for k in ("start", "stop", "minutes"))

    first_timed: dict[str, dict] = {}
    for a in adms:
        if timed(a):
            first_timed.setdefault(key_of[a["id"]], a)
    by_adm: dict[str, list[Extraction]] = {}
    for e in ex:
        if e.administration is not None:
            by_adm.setdefault(e.administration, []).append(e)
    removed: set[str] = set()
    for a in adms:
        if timed(a):
            continue
        twin = first_timed.get(key_of[a["id"]])
        if twin is None:
            continue
        copied = set()
        for k in ("route", "dose", "site", "volume_ml", "indication"):
            if k in a and k not in twin:
                twin[k] = a[k]
                copied.add(k)
        for e in by_adm.pop(a["id"], []):
            e.administration = twin["id"] if e.field in copied else None
            if e.administration is not None:
                by_adm.setdefault(twin["id"], []).append(e)
        questions.drop(a["id"], lambda q, _d=a["drug"]: q.startswith(f"{_d}: "))
        removed.add(a["id"])
    adms = [a for a in adms if a["id"] not in removed]
    renumber = {a["id"]: f"a{i + 1}" for i, a in enumerate(adms)}
    for e in ex:
        if e.administration is not None:
            e.administration = renumber.get(e.administration)
    for i, a in enumerate(adms):
        for e in by_adm.get(a["id"], ()):
            e.field = f"administrations[{i}].{e.field}"
    for a in adms:
        a["id"] = renumber[a["id"]]
    if setting == "office" and len(adms) > 1 and not any(a.get("primary") for a in adms):
        pass  # the engine's office_initial policy decides; nothing to ask unless the payer differs
    # de-duplicate questions, keep order
    return {"id": encounter_id, "setting": setting, "date": date, "administrations": adms}, ex, questions.texts()


def case_memo(text: str, ruleset: Ruleset, *, encounter_id: str = "case", default_date: str | None = None,
              notices: list[str] | tuple[str, ...] = ()) -> Memo:
    """Parse the note, code it with the engine and collect what documentation is missing.
    ``notices`` (from reading the file: a charset replaced...) come first among the questions."""
    encounter, extractions, questions = parse_note(text, ruleset, encounter_id=encounter_id, default_date=default_date)
    questions = [*notices, *questions]
    result = None
    error = None
    missing: list[str] = []
    if encounter["administrations"]:
        try:
            result = code_encounter(encounter, ruleset)
        except InputError as exc:
            error = str(exc)
    else:
        error = "no administration could be read from the note"
    if result is not None:
        for f in result.findings:
            if f.rule.startswith("doc.") or f.severity == "error":
                missing.append(f"{f.message} [{f.rule}]")
    for a in encounter["administrations"]:
        if a.get("route") in ("iv_infusion", "iv_push", "iv") and "site" not in a:
            missing.append(f"{a['drug']}: the IV access site is not documented")
        if a.get("route") in ("iv_infusion", "sc_infusion") and "start" in a and "stop" not in a:
            msg = f"{a['drug']}: clock stop time"
            if not any(msg in m for m in missing):
                missing.append(msg)
    return Memo(encounter, extractions, questions, result, error, missing, text)


def render_memo(memo: Memo, format: str = "text") -> str:
    if format == "json":
        return msgspec.json.encode(memo.to_dict()).decode()
    out: list[str] = []
    enc = memo.encounter
    out.append(f"Coding memo - {enc['setting']} ({'facility' if enc['setting'] == 'facility' else 'professional'} claim), "
               f"date {enc.get('date')}")
    out.append("")
    out.append("Administrations read from the note")
    for i, a in enumerate(enc["administrations"]):
        bits = [a.get("drug") or "?", a.get("route") or "route ?"]
        if a.get("start") or a.get("stop"):
            bits.append(f"{a.get('start', '?')}-{a.get('stop', '?')}")
        if a.get("minutes"):
            bits.append(f"{a['minutes']} min (duration only)")
        if a.get("site"):
            bits.append(f"site {a['site']}")
        out.append(f"  {a['id']}: " + ", ".join(bits))
        for e in memo.extractions:
            if e.field.startswith(f"administrations[{i}]."):
                out.append(f"      {e.field.split('.', 1)[1]:<12} <- \"{e.text}\" [{e.start}:{e.end}]")
    for e in memo.extractions:
        if e.field in ("setting", "date", "flush", "diluent", "not_given"):
            out.append(f"  {e.field:<12} <- \"{e.text}\" [{e.start}:{e.end}]" + (f"  ({e.value})" if e.field in ("flush", "diluent", "not_given") else ""))
    out.append("")
    if memo.result is not None:
        out.append(f"Lines (profile {memo.result.profile})")
        if not memo.result.lines:
            out.append("  none")
        for l in memo.result.lines:
            mods = f" -{'-'.join(l.modifiers)}" if l.modifiers else ""
            out.append(f"  {l.code}{mods} x{l.units}   [{l.rule}]")
            out.append(f"      why: {l.explanation}")
        notes = [f for f in memo.result.findings if f.severity != "info"]
        if notes:
            out.append("")
            out.append("Findings")
            for f in notes:
                out.append(f"  {f.severity}: {f.message} [{f.rule}]")
    if memo.error:
        out.append(f"Not coded: {memo.error}")
    if memo.missing_documentation:
        out.append("")
        out.append("Documentation missing")
        for m in memo.missing_documentation:
            out.append(f"  - {m}")
    if memo.questions:
        out.append("")
        out.append("Questions for the author of the note")
        for q in memo.questions:
            out.append(f"  ? {q}")
    return "\n".join(out)
