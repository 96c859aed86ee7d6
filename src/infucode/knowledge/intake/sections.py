"""Sections of a note that never document an administration: the heading, history, diagnosis, plan,
orders/regimen and discharge prescriptions. A drug named there was planned, ordered, prescribed or
is background, so it never becomes an administration (issue 13).

A heading keyword followed by text on its line covers that text up to the next heading; a heading
alone on its line covers the following lines up to a blank line or the next heading.
"""
from __future__ import annotations

import bisect
import functools
import re
from typing import NamedTuple

from ...vocabulary.names import distinct_words, folds_to_ascii

__all__ = ["NOT_ADMINISTRATION_SECTIONS", "SECTION_HEADINGS", "Section", "SectionMap", "find_sections"]

# heading words (lower case) -> section kind
SECTION_HEADINGS: dict[str, str] = {
    "dx": "diagnosis", "diagnosis": "diagnosis", "diagnoses": "diagnosis", "icd-10": "diagnosis", "icd10": "diagnosis",
    "hpi": "history", "history": "history", "pmh": "history", "past medical history": "history",
    "allergies": "history", "allergy": "history", "home meds": "history", "home medications": "history",
    "current meds": "history", "current medications": "history", "medications": "history", "meds": "history",
    "med list": "history", "prior treatment": "history", "previous treatment": "history",
    "plan": "plan", "assessment": "plan", "a/p": "plan", "assessment/plan": "plan", "follow up": "plan",
    "follow-up": "plan", "f/u": "plan", "next visit": "plan", "next appointment": "plan", "recommendations": "plan",
    "order": "order", "orders": "order", "md order": "order", "md orders": "order", "ordered": "order",
    "regimen": "order", "protocol": "order", "treatment plan": "order", "therapy plan": "order",
    "rx": "prescription", "prescriptions": "prescription", "prescription": "prescription",
    "discharge": "prescription", "discharge prescriptions": "prescription", "discharge meds": "prescription",
    "discharge medications": "prescription", "discharge rx": "prescription", "discharge instructions": "prescription",
    "subject": "heading", "re": "heading", "title": "heading",
    # a section that does document administrations ends the one before
    "mar": "body", "administration": "body", "administrations": "body", "meds given": "body",
    "medications given": "body", "medications administered": "body", "infusion": "body", "procedure": "body",
    "nursing note": "body", "note": "body", "course": "body", "ed course": "body", "visit": "body",
}
NOT_ADMINISTRATION_SECTIONS = frozenset({"heading", "history", "diagnosis", "plan", "order", "prescription"})

# A heading starts a line, or follows a period or semicolon (and a space). One alternation of every heading
# (longest first) is tried after each such delimiter; a note is only scanned for the headings whose words
# it has, so that alternation is short (about twice as fast per MB).
_HEAD_BODY = r"[ \t]*(?:[-*\u2022][ \t]*)?(?P<h>{alt})[ \t]*:"


@functools.lru_cache(maxsize=64)
def _heading_patterns(keys: tuple[str, ...]) -> tuple[re.Pattern, re.Pattern]:
    """(a heading at the start of the text, a heading after a delimiter: the line break or the period or
    semicolon it follows is part of the match, the empty group ``s`` marks where the heading line starts)."""
    alt = "|".join(r"[ \t]+".join(re.escape(w) for w in k.split()) for k in sorted(keys, key=len, reverse=True))
    body = _HEAD_BODY.format(alt=alt)
    # "[\n.;]" first (a space may follow only a period or semicolon): the regex engine skips to those characters
    return re.compile(body, re.I), re.compile(r"[\n.;](?:(?<=[.;])\s)??(?P<s>)" + body, re.I)


_ALL_HEADINGS = tuple(SECTION_HEADINGS)
_HEADING_WORDS = {k: tuple(re.findall(r"[a-z0-9]+", k)) for k in SECTION_HEADINGS}


def _headings(text: str, words: set[str] | None) -> list[tuple[int, int, int, int]]:
    """``(line start, heading word start, heading word end, end after the colon)`` of every heading."""
    if folds_to_ascii(text):
        keys = _ALL_HEADINGS       # "hiſtory:": a letter only a case-insensitive regex reads as ASCII
    else:
        words = distinct_words(text) if words is None else words
        keys = tuple(k for k in _ALL_HEADINGS if all(w in words for w in _HEADING_WORDS[k]))
    if not keys:
        return []
    at_start, after = _heading_patterns(keys)
    out = []
    first = at_start.match(text)
    if first is not None:
        out.append((0, first.start("h"), first.end("h"), first.end()))
    out += [(m.start("s"), m.start("h"), m.end("h"), m.end()) for m in _after_delimiter(text, after, keys)]
    return out


def _after_delimiter(text: str, after: re.Pattern, keys: tuple[str, ...]) -> list[re.Match]:
    """What ``after.finditer(text)`` finds, tried only before a colon: a heading ends at the first colon after
    its delimiter (no heading has a colon or a delimiter in it), so each colon is tried from the last delimiter
    since the colon before (a "\\n" right after a period gives the same heading as the period), and only when
    the word before it can end a heading of ``keys`` (a long note's colons are mostly in clock times).
    Tested against finditer."""
    # the last characters of the headings, either case ("hiſtory": a letter a case-insensitive match reads as
    # ASCII, so a text that is not ASCII is tried at every colon)
    ends = "".join({k[-1].lower() for k in keys} | {k[-1].upper() for k in keys}) if text.isascii() else None
    out = []
    find, rfind = text.find, text.rfind
    prev = -1
    c = find(":")
    while c >= 0:
        j = c - 1
        while j > prev and text[j] in " \t":
            j -= 1
        if j > prev and (ends is None or text[j] in ends):
            q = max(rfind("\n", prev + 1, j), rfind(".", prev + 1, j), rfind(";", prev + 1, j))
            if q >= 0:
                m = after.match(text, q)
                if m is not None:
                    out.append(m)
        prev = c
        c = find(":", c + 1)
    return out


_BLANK_LINE = re.compile(r"\n[ \t]*\n")


class Section(NamedTuple):      # a tuple: a long note has thousands of headings
    start: int
    end: int
    kind: str
    heading: tuple[int, int]      # span of the heading word


class SectionMap:
    """The non-body sections of a note; ``kind_at(pos)`` in O(log n)."""

    def __init__(self, sections: list[Section]):
        self.sections = sections
        self._starts = [s.start for s in sections]

    def kind_at(self, pos: int) -> str:
        i = bisect.bisect_right(self._starts, pos) - 1
        if i >= 0 and pos < self.sections[i].end:
            return self.sections[i].kind
        return "body"

    def section_at(self, pos: int) -> Section | None:
        i = bisect.bisect_right(self._starts, pos) - 1
        if i >= 0 and pos < self.sections[i].end:
            return self.sections[i]
        return None


def _heading_kind(written: str) -> str:
    """The section kind of a heading as written; "Hiſtory" (a letter the case-insensitive scan read as ASCII)
    is looked up by the same match, not by its lower case."""
    kind = SECTION_HEADINGS.get(" ".join(written.lower().split()))
    if kind is None:
        kind = next(v for k, v in SECTION_HEADINGS.items()
                    if re.fullmatch(r"[ \t]+".join(re.escape(w) for w in k.split()), written, re.I))
    return kind


def find_sections(text: str, first_line_is_heading: bool = False, words: set[str] | None = None) -> SectionMap:
    """Sections of ``text``. ``first_line_is_heading``: the caller found that the first line is a title.
    ``words``: the text's :func:`distinct_words`, when the caller has them."""
    out: list[Section] = []
    heads = _headings(text, words)
    for i, (_, h_start, h_end, m_end) in enumerate(heads):
        kind = _heading_kind(text[h_start:h_end])
        line_end = text.find("\n", m_end)
        line_end = len(text) if line_end < 0 else line_end
        nxt = heads[i + 1][0] if i + 1 < len(heads) else len(text)
        if text[m_end:line_end].strip():
            end = min(line_end, nxt)
        else:  # a heading alone on its line: up to a blank line or the next heading
            blank = _BLANK_LINE.search(text, line_end)
            end = min(blank.start() if blank else len(text), nxt)
        if kind != "body":
            out.append(Section(h_start, end, kind, (h_start, h_end)))
    if first_line_is_heading:
        first = len(text) - len(text.lstrip())
        line_end = text.find("\n", first)
        if line_end > first and not (out and out[0].start < line_end):
            out.insert(0, Section(first, line_end, "heading", (first, line_end)))
    return SectionMap(sorted(out, key=lambda s: s.start))
