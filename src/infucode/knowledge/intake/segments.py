"""A segment: the words about one drug mention (or about no drug) inside one clause, and the details
they give: the IV site, the dose, the rate, the duration (given or planned), the indication, a stop for
a reaction and a separate site.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from ...vocabulary import ClockTime
from ...vocabulary.names import ascii_classes_hold, may_say, word_places
from ...vocabulary.sites import PERIPHERAL_DEVICE, SIDE_BEFORE, SITE, SITE_FIRST_WORDS, access_kind, peripheral_place
from .context import PLANNED_DURATION
from .mentions import Mention

__all__ = ["DOSE", "DetailGates", "Segment", "detail_gates", "note_access", "read_details", "read_durations", "read_site",
           "site_starts"]


@dataclass(slots=True)
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


DOSE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?|\.\d+)\s*(mg|mcg|g|gm|grams?|units?|u|meq|mL|ml|cc|L)\b", re.I)
# DOSE led by the number's first character, which is outside the groups (the regex engine then jumps from one
# digit or period to the next): the number is text[start:end("n")] (tests/test_intake_scan_equivalence.py)
_DOSE_LED = re.compile(r"[\d.](?<![\w.][\d.])(?P<n>(?<=\d)\d*(?:\.\d+)?|(?<=\.)\d+)\s*"
                       r"(?P<u>m(?:g|cg|eq|l)|g(?:m|rams?)?|u(?:nits?)?|cc|l)\b", re.I)   # DOSE's units, by first letter
# a rate never starts inside a run of digits (else a long digit run is searched in quadratic time); led by its
# first digit, which is looked back from
_RATE = re.compile(r"(\d(?<![\d.]\d)\d*(?:\.\d+)?)\s*(?:mL|ml|cc)\s*/\s*(?:hr|h|hour)\b", re.I)
_DISCONTINUED = re.compile(r"\b(stopped|d/?c'?d|discontinued|halted)\b[^.\n;]{0,40}\b(reaction|early|rash|hives|anaphyla\w*|intoleran\w*)"
                           r"|\b(reaction|rash|hives)\b[^.\n;]{0,30}\b(stopped|d/?c'?d|discontinued|halted)\b", re.I)
_SEPARATE = re.compile(r"\b(separate|second|2nd|another|new)\s+(?:IV\s+)?(?:site|access|line|PIV|IV)\b", re.I)
# the words without one of which each pattern cannot match ("d/c'd": the words "d", "c"): a note without
# them is not searched for it, segment by segment (names.may_say)
_DISCONTINUED_WORDS = frozenset({"stopped", "discontinued", "halted", "d", "dc", "dcd"})
_SEPARATE_WORDS = frozenset({"separate", "second", "2nd", "another", "new"})
_INDICATION_WORDS = frozenset({"for"})
_INDICATION = re.compile(r"[fF](?<![\w][fF])or\s+(dehydration|hypokalemia|hypomagnesemia|low potassium|low magnesium|[a-z][a-z \-']{2,40}?)"
                         r"(?=\s*(?:[,.;\n(]|$|\bvia\b|\bat\b|\bover\b|\bstart))", re.I)
# the dose, rate and indication patterns, and their ASCII forms for a note where those hold (the same matches,
# found faster: names.ascii_classes_hold)
_UNICODE_FORMS = (_DOSE_LED, _RATE, _INDICATION)
_ASCII_FORMS = tuple(re.compile(p.pattern, re.I | re.A) for p in _UNICODE_FORMS)
_DURATION_LEAD = re.compile(r"\b(?:over|x|for|infused over|ran over|in|run|runs|to run)\s*$", re.I)
_OVER_LEAD = re.compile(r"over\s*$", re.I)
_FREQUENCY_LEAD = re.compile(r"(?:\bq|\bevery|\beach|\bper|/)\s*$", re.I)
_LITER_IS_LEFT = re.compile(rf"\s+(?:{'|'.join(SIDE_BEFORE)})\b")
_GAUGE_AFTER = re.compile(r"\s*(?:a|auge)?\s*(?:PIV|IV|angio|cath)", re.I)
_PER_BODY_SIZE = re.compile(r"\s*/\s*(?:m2|m\^2|m²|kg|m 2)\b", re.I)
_UNIT_NAMES = {"gm": "g", "gram": "g", "grams": "g", "unit": "units", "u": "units"}
_NOT_AN_INDICATION = re.compile(r"(?:the|a|an|pt|patient|\d)", re.I)


def site_starts(text: str, words: set[str] | None) -> list[int] | None:
    """Where a site can start in the note (for :func:`read_site`); None: anywhere (``words``, from
    names.gate_words, not known)."""
    if words is None:
        return None
    present = words & SITE_FIRST_WORDS
    return [a for a, _ in word_places(text, present, words)] if present else []


def read_site(text: str, seg: Segment, starts: list[int] | None = None) -> None:
    """The IV or injection site the segment names, if any ("L AC PIV", "port"). ``starts``: from
    :func:`site_starts`; a segment with none of them is not searched."""
    if starts is not None:
        i = bisect.bisect_left(starts, seg.start)
        if i == len(starts) or starts[i] >= seg.end:
            return
    site = SITE.search(text, seg.start, seg.end)
    if site:
        seg.site = (site.start(), site.end(), " ".join(site.group(0).split()))


def note_access(text: str, starts: list[int] | None) -> tuple[int, int, str] | None:
    """The one IV access the note documents ("Port accessed 0815", "L forearm PIV placed"): its first full
    mention, when every IV site the note names is that access (one kind of device; a peripheral line at one
    written place at most) and the note mentions no second or separate line. None when the note names no
    IV access or more than one: then nothing is inferred. ``starts``: from :func:`site_starts`."""
    if starts == [] or _SEPARATE.search(text):
        return None
    if starts is None:
        found = list(SITE.finditer(text))
    else:
        found = []
        for a in starts:            # as finditer would: no match starts inside the one before
            m = SITE.match(text, a) if not found or a >= found[-1].end() else None
            if m:
                found.append(m)
    kinds: set[str] = set()
    places: set[str] = set()
    first = None
    for m in found:
        site = " ".join(m.group(0).split())
        kind = access_kind(site)
        if kind is None:
            continue                    # an injection site
        if kind == "peripheral":
            place = peripheral_place(site)
            if place:
                places.add(place)       # "hand hygiene", "R hand": a place, but not by itself an IV access
            if not PERIPHERAL_DEVICE.search(site):
                continue
        kinds.add(kind)
        if first is None or len(site) > len(first[2]):
            first = (m.start(), m.end(), site)
    if len(kinds) != 1 or len(places) > 1 or (places and kinds != {"peripheral"}):
        return None                     # a port and an arm written somewhere: which went where is not said
    return first


class DetailGates(NamedTuple):
    """Whether a note can hold an indication, a stop for a reaction, a separate site (names.may_say): read once
    per note, not once per segment. ``indication_at``: where the note writes "for", in order (a segment
    without one is not searched for an indication); None: not known."""

    indication: bool
    discontinued: bool
    separate: bool
    indication_at: list[int] | None = None
    ascii_classes: bool = False        # the note is read with the patterns' ASCII forms (names.ascii_classes_hold)


def detail_gates(words: set[str] | None, text: str | None = None) -> DetailGates:
    """The :class:`DetailGates` of a note with these words (names.gate_words); given the note's ``text`` too,
    the places of its "for"."""
    indication = may_say(words, _INDICATION_WORDS)
    at = [p for p, _ in word_places(text, _INDICATION_WORDS, words)] if indication and text is not None \
        and words is not None else None
    return DetailGates(indication, may_say(words, _DISCONTINUED_WORDS), may_say(words, _SEPARATE_WORDS), at,
                       text is not None and ascii_classes_hold(text))


def read_details(text: str, seg: Segment, m: Mention, ctimes: list[ClockTime], words: set[str] | None = None,
                 gates: DetailGates | None = None) -> None:
    """What the segment says of its drug: the dose written after it, the rate, the indication, a stop for a
    reaction, a separate site. ``words``: the note's words to skip searches on (names.gate_words), or their
    ``gates`` (:func:`detail_gates`)."""
    if gates is None:
        gates = detail_gates(words)
    sa, sb = seg.start, seg.end
    site = seg.site
    dose_led, rate, indication = _ASCII_FORMS if gates.ascii_classes else _UNICODE_FORMS
    search = dose_led.search
    pos = m.end
    while (dm := search(text, pos, sb)) is not None:    # the doses after the mention, as finditer gives them
        a, e = dm.span()
        pos = e
        if a - m.end > 40:
            break
        if site and site[0] <= a < site[1]:
            continue
        in_time = False
        for t in ctimes:
            if t.start <= a < t.end:
                in_time = True
                break
        if in_time:
            continue
        number, unit = text[a:dm.end("n")], dm.group("u")
        if unit == "L" and _LITER_IS_LEFT.match(text, e, e + 15):
            continue
        unit = unit.lower()
        if unit == "g" and 14 <= float(number) <= 26 and _GAUGE_AFTER.match(text, e, e + 10):
            continue
        if _PER_BODY_SIZE.match(text, e, e + 8):
            break        # "375 mg/m2": a dose per body size, not the dose given
        seg.dose = (a, e, float(number), _UNIT_NAMES.get(unit, unit))
        break
    # a search below is made only where its words can be
    r = rate.search(text, sa, sb) if text.find("/", sa, sb) >= 0 else None    # a rate is per hour: "mL/hr"
    if r:
        seg.rate = (r.start(), r.end(), float(r.group(1)))
    ind = None
    if gates.indication:
        at = gates.indication_at
        if at is None or ((i := bisect.bisect_left(at, sa)) < len(at) and at[i] < sb):
            ind = indication.search(text, sa, sb)
    if ind and not _NOT_AN_INDICATION.match(ind.group(1)):
        seg.indication = (ind.start(1), ind.end(1), ind.group(1).strip())
    disc = _DISCONTINUED.search(text, sa, sb) if gates.discontinued else None
    if disc:
        seg.discontinued = (disc.start(), disc.end())
    sep = _SEPARATE.search(text, sa, sb) if gates.separate else None
    if sep:
        seg.separate = (sep.start(), sep.end())


def read_durations(text: str, seg: Segment, durations: list) -> None:
    """The first duration the segment gives ("over 30 minutes", "x 2 hours") and the first it plans ("to run
    over 2 hours"); "over" makes a drug not pushed an infusion. ``durations`` are those in the segment."""
    sa = seg.start
    pump = "ambulatory_pump" in seg.concepts
    for d in durations:
        if not _DURATION_LEAD.search(text[max(sa, d.start - 16):d.start]):
            # "CADD pump connected 1120, 46 h": a pump's bare number of hours is the run it was set for (memo
            # asks to confirm it), unless it is a frequency ("q 8 h")
            if pump and not _FREQUENCY_LEAD.search(text[max(sa, d.start - 8):d.start]):
                seg.planned_minutes = seg.planned_minutes or (d.start, d.end, d.minutes)
            continue
        if "iv_push" not in seg.concepts and _OVER_LEAD.search(text[max(sa, d.start - 8):d.start]):
            seg.concepts.add("iv_infusion")     # "IV over 30 minutes": an infusion
        if PLANNED_DURATION.search(text[max(sa, d.start - 30):d.start]):
            seg.planned_minutes = seg.planned_minutes or (d.start, d.end, d.minutes)
        else:
            seg.minutes = seg.minutes or (d.start, d.end, d.minutes)
