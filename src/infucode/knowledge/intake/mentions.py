"""The drugs a note names, and the role of each mention: given, or a flush, a diluent, not given,
planned, or named in an order, history or plan section.

A drug is found by any catalog name (key, name, aliases, HCPCS descriptor names), by a bare HCPCS code
("J1569") or, when no drug is named next to it, by an unnamed-drug word ("antibiotic"). The same drug
named twice in a row ("IVIG (Gammagard)") is one mention.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from ...ruleset import Ruleset
from ...vocabulary import NameIndex
from ...vocabulary.names import gate_words, letter_runs, may_say
from ...vocabulary.drug_names import UNNAMED_DRUG_WORDS
from .sections import NOT_ADMINISTRATION_SECTIONS, SectionMap

__all__ = ["Mention", "administered_mentions", "drug_name_index", "find_mentions"]

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


@dataclass(slots=True)
class Mention:
    start: int
    end: int
    text: str
    key: str
    name: str
    how: str
    role: str = "given"          # given | flush | diluent | not_given | order | not_a_service | unsupported | ...
    why: str = ""


_UNNAMED_RE = re.compile(r"(?<![A-Za-z])(?:" + "|".join(sorted(UNNAMED_DRUG_WORDS, key=len, reverse=True)) + r")(?![A-Za-z])",
                         re.I)
# compiled once: these are tried per mention
_HCPCS_CODE = re.compile(r"\b[JjQq]\d{4}\b")
_CLOSING = re.compile(r"[ \t]*\)")
_SAME_DRUG_GAP = re.compile(r"[\s(),/\-:]*|[\s(]*aka[\s)]*")


def find_mentions(text: str, ruleset: Ruleset, words: set[str] | None = None) -> list[Mention]:
    """Every drug mention of the note, in order (each with the role "given" until its clause is read).
    ``words``: the note's ``distinct_words``, when the caller has them."""
    out: list[Mention] = []
    match = ruleset.drugs.match
    for h in drug_name_index(ruleset).find(text, words):
        dm = match(h.text)
        if dm is not None:
            out.append(Mention(h.start, h.end, h.text, dm.drug.key, dm.drug.name, dm.how))
    named = len(out)
    gate = gate_words(text, words)
    # a code is a word of its own ("J1569"); \d also reads non-ASCII digits, so a non-ASCII note is scanned
    codes = gate is None or not text.isascii() or any(len(w) == 5 and w[0] in "jq" and w[1:].isdigit() for w in gate)
    # "2abx": the word may follow a digit, so the note's runs of letters are what is looked in
    unnamed = gate is None or not letter_runs(gate).isdisjoint(UNNAMED_DRUG_WORDS)
    covered = [(m.start, m.end) for m in out] if codes or unnamed else []
    starts = [a for a, _ in covered]
    for h in (_HCPCS_CODE.finditer(text) if codes else ()):
        i = bisect.bisect_right(starts, h.start()) - 1
        if i >= 0 and covered[i][1] > h.start():
            continue
        hit = ruleset.drugs.by_hcpcs(h.group(0))
        if hit:
            out.append(Mention(h.start(), h.end(), h.group(0).upper(), hit[0].key, hit[0].name, "hcpcs"))
    for h in (_UNNAMED_RE.finditer(text) if unnamed else ()):
        i = bisect.bisect_right(starts, h.start()) - 1
        if i >= 0 and covered[i][1] > h.start():
            continue
        j = bisect.bisect_left(starts, h.start() - 40)
        if any(a < h.end() + 40 and "\n" not in text[min(b, h.start()):max(a, h.end())] for a, b in covered[j:j + 4]):
            continue     # "Rocephin (antibiotic) 1 g IV": the drug is named next to it
        kind = UNNAMED_DRUG_WORDS[h.group(0).lower()]
        out.append(Mention(h.start(), h.end(), h.group(0), f"unnamed {kind}", kind, "unnamed"))
    if len(out) > named:
        out.sort(key=lambda m: m.start)      # the names were found in order; codes and unnamed words after them
    # the same drug named twice in a row ("IVIG (Gammagard)", "Flagyl (metronidazole)") is one mention
    merged: list[Mention] = []
    for m in out:
        if merged and merged[-1].key == m.key and \
                _SAME_DRUG_GAP.fullmatch(text, merged[-1].end, m.start):
            gap = text[merged[-1].end:m.start]
            end = m.end
            if gap.count("(") > gap.count(")") and (close := _CLOSING.match(text, end)) is not None:
                end = close.end()      # "IVIG (Gammagard)": the words quoted for the drug close the parenthesis
            merged[-1].end = end
            merged[-1].text = text[merged[-1].start:end]
            continue
        merged.append(m)
    return merged


_FLUSH_BEFORE = re.compile(r"(?:flush\w*|lock\w*)\s+(?:with|w/)?\s*(?:\d+\s*(?:mL|ml|cc)\s+)?$", re.I)
# heparin with a lock or flush word in its clause keeps a line open: never a push (method.flush)
_LINE_CARE_NEAR = re.compile(r"\b(?:lock\w*|hep\s*lock|flush\w*|to\s+keep\s+open)\b", re.I)
_FLUSH_AFTER = re.compile(r"^\s*(?:\d+\s*(?:mL|ml|cc|units?)\s*)?(?:flush|lock|hep\s*lock)", re.I)
_DILUENT_BEFORE = re.compile(r"(?:\b(?:in|mixed in|diluted in|with|w/|into)\s+|/\s*)(?:\d+(?:\.\d+)?\s*(?:mL|ml|cc|L)\s+)?$", re.I)
_NEGATED_NEAR = (re.compile(r"\b(?:no|not|held|hold|declined|refused|without)\s+$", re.I),
                 re.compile(r"^\s*\??\s*(?:no|held|not given|declined)\b", re.I))
# a note without these words is not searched for a negation just before or after each mention (names.may_say)
NEGATED_BEFORE_WORDS = frozenset({"no", "not", "held", "hold", "declined", "refused", "without"})


def _may_say_flush(words: str) -> bool:
    """False when ``words`` cannot hold the flush or lock word of _FLUSH_BEFORE (a substring test is ten times
    cheaper than the search; casefold reads "ſ" and the Kelvin sign as the regex does)."""
    folded = words.casefold()
    return "flush" in folded or "lock" in folded


def administered_mentions(text: str, mentions: list[Mention], ca: int, cb: int, status: str, sections: SectionMap,
                          ruleset: Ruleset, words: set[str] | None = None, *, negated_before: bool | None = None
                          ) -> tuple[list[Mention], set[int]]:
    """The mentions of the clause ``[ca, cb)`` that are administrations, in order; every other one is given
    its role and why (order, flush, diluent, not given, planned). Also the starts of the kept mentions
    written with their diluent bag: an infusion. ``status`` is the clause's (actual, negated, ...);
    ``words``: the note's words to skip searches on (names.gate_words); ``negated_before``: whether the note can
    hold a negation word (:data:`NEGATED_BEFORE_WORDS`), when the caller knows."""
    kept: list[Mention] = []
    diluted: set[int] = set()
    if negated_before is None:
        negated_before = may_say(words, NEGATED_BEFORE_WORDS)
    drug_of = ruleset.drugs.get
    for m in mentions:
        section = sections.kind_at(m.start)
        if section in NOT_ADMINISTRATION_SECTIONS:
            m.role, m.why = "order", f"named in the {section} section, not an administration"
            continue
        drug = drug_of(m.key)
        before = text[max(ca, m.start - 25):m.start]
        hydration = drug is not None and drug.family == "hydration"
        heparin = m.key.startswith("heparin")
        # the words after it: read only where a test below needs them
        after = text[m.end:m.end + 14] if negated_before or hydration or heparin else ""
        if drug is not None and drug.flush or (_may_say_flush(before) and _FLUSH_BEFORE.search(before)) or \
                ((hydration or heparin) and _FLUSH_AFTER.match(after)) or \
                (heparin and (_LINE_CARE_NEAR.search(text, m.end, min(cb, m.end + 45)) or
                              _LINE_CARE_NEAR.search(text, max(ca, m.start - 45), m.start))):
            m.role, m.why = "flush", "part of the administration, not reported (method.flush)"
        elif hydration and kept and _DILUENT_BEFORE.search(text[kept[-1].end:m.start]):
            m.role, m.why = "diluent", "carries the drug, not hydration (continuity.hydration_concurrent)"
            diluted.add(kept[-1].start)
        elif negated_before and (_NEGATED_NEAR[0].search(before[-18:]) or _NEGATED_NEAR[1].match(after)):
            m.role, m.why = "not_given", "not given"
        elif status != "actual":
            m.role, m.why = ("not_given", "not given") if status == "negated" else ("planned", "planned, ordered or "
                                                                                        "hypothetical, not given")
        else:
            kept.append(m)
    return kept, diluted
