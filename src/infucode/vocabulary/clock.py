"""Clock times, dates and clock ranges as they are written in notes, questions and exports.

* times: ``0830``, ``8:30``, ``8:30 AM``, ``8 pm``, ``0830h``, ``08:30:00``, ``8h30`` -> ``"08:30"``
* dates: ``03/02/2026``, ``3/2/26``, ``2026-03-02``, ``Mar 2, 2026``, ``2 March 2026`` -> ``"2026-03-02"``
* clock ranges: ``08:30 to 12:45``, ``0830-1245``, ``from 0830 until 1245``, ``8:30a-12:45p``,
  ``1:00 - 3:00 PM``, ``between 0830 and 1245``, ``started 08:30 stopped 12:45``; a stop earlier than
  its start crosses midnight, as in the engine
* timestamps (MAR exports): ISO 8601 or a site's ``strptime`` formats -> ``datetime``

Durations ("1 hour 45 minutes") are in :mod:`.durations`. Every finder scans the text a fixed number
of times (no nested scans), so reading stays linear in the text's size.
"""
from __future__ import annotations

import bisect
import datetime as dt
import itertools
import re
from dataclasses import dataclass
from typing import NamedTuple

from .names import ascii_classes_hold, char_places, folds_to_ascii
from .sites import SIDE_BEFORE

__all__ = ["ClockRange", "ClockTime", "DateHit", "clock_minutes", "clock_of_minute", "find_clock_range",
           "find_clock_ranges", "find_dates", "find_times", "hhmm", "is_range_separator", "parse_timestamp"]

_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_MON = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# each pattern led by the characters it can start with: the regex engine skips every other position
_DATE = re.compile(
    r"(?=[\dJFMASONDjfmasond])\b(?:(?P<y>(?:19|20)\d\d)-(?P<m>\d\d)-(?P<d>\d\d)"
    r"|(?P<m2>\d{1,2})/(?P<d2>\d{1,2})/(?P<y2>(?:19|20)\d\d|\d{2})"
    r"|" + _MON.replace("(jan", "(?P<mon>jan") + r"\s+(?P<d3>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y3>(?:19|20)\d\d)"
    r"|(?P<d4>\d{1,2})\s+" + _MON.replace("(jan", "(?P<mon4>jan") + r",?\s+(?P<y4>(?:19|20)\d\d))\b", re.I)

_AMPM = r"(?:\s*(?P<ap>[ap])\.?\s?m\.?(?![a-z]))"
# "l" after four digits is litres, but not before a body site: "0825 L forearm PIV placed" is a time and the left arm
_LITRES = rf"l(?!\s+(?:{'|'.join(SIDE_BEFORE).lower()})\b)"
# One pass for every clock form; the order of the alternatives is the order of preference. The hour's first
# digit is matched before everything else, and looked back from (the regex engine then jumps from digit to
# digit, a third faster per MB): the groups h, h2, h3 hold the hour without that first digit.
_TIME = re.compile(
    r"\d(?<![\d:/.$#]\d)(?:"
    r"(?P<h>\d?)[:h](?P<mi>\d{2})(?::\d{2})?" + _AMPM + r"?"
    r"|(?P<h2>\d?)" + _AMPM.replace("ap>", "ap2>")
    + r"|(?P<h3>(?<=[01])\d|(?<=2)[0-3])(?P<mi3>[0-5]\d)(?:\s*(?:h|hrs|hours)\b)?(?!\d|:\d|/|\.\d|%|\s*(?:mg|mcg|ml|cc|"
    + _LITRES + r"|g|gm|grams?|units?|u|meq|iu|kg|lbs?)\b)"
    r")", re.I)


# hits are named tuples: a long note has tens of thousands, and a tuple is made three times faster than
# a frozen dataclass
class ClockTime(NamedTuple):
    start: int
    end: int
    text: str
    value: str        # "HH:MM"


class DateHit(NamedTuple):
    start: int
    end: int
    text: str
    value: str        # ISO date


# a hit made from its fields in C (a named tuple's own constructor is a Python function: a long note makes tens
# of thousands of hits)
_new_hit = tuple.__new__


def hhmm(h: int, m: int, ampm: str | None = None) -> str | None:
    """``"HH:MM"`` of a written hour/minute (with an optional a/p); None for an impossible time."""
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


# the numeric forms only (2026-03-02, 3/2/26): a note with no word that starts like a month is scanned
# with this one (the month names' leading letters are the commonest initials of English words). Its first
# digit is matched first and looked back from, so the scan jumps from digit to digit: the groups y and m2
# hold the year and the month without that first digit.
_NUMERIC_DATE = re.compile(
    r"\d(?<!\w\d)(?:(?P<y>(?<=1)9\d\d|(?<=2)0\d\d)-(?P<m>\d\d)-(?P<d>\d\d)"
    r"|(?P<m2>\d?)/(?P<d2>\d{1,2})/(?P<y2>(?:19|20)\d\d|\d{2}))\b")


def _date_separators(text: str) -> list[int]:
    """Where a numeric date's first separator can be: a "/" or "-" after a digit (1, 2 or 4 characters after
    the date's start)."""
    return [i for i in char_places(text, "/-") if i and text[i - 1].isdecimal()]      # isdecimal: what \d matches


def _numeric_dates(text: str) -> list[re.Match]:
    """What ``_NUMERIC_DATE.finditer(text)`` finds, tried only where a date can start: 1, 2 or 4 characters
    before a "/" or "-" that follows a digit (a long note has about thirty times more digits than such
    separators). The places are tried in order and a match is never tried inside the one before, as
    finditer does."""
    out: list[re.Match] = []
    match = _NUMERIC_DATE.match
    last_end = 0
    tried = -1
    for s in _date_separators(text):
        for at in (s - 4, s - 2, s - 1):
            if at <= tried or at < last_end:
                continue
            tried = at
            m = match(text, at)
            if m is not None:
                out.append(m)
                last_end = m.end()
                break
    return out


def find_dates(text: str, words: set[str] | None = None) -> list[DateHit]:
    """Dates in ``text``, left to right. ``words``: the text's ``distinct_words``, when the caller has them
    (a month name is a word of its own, so a text without one is scanned for the numeric forms only)."""
    out = []
    pattern = _DATE
    if words is not None and not folds_to_ascii(text) and not any(w[:3] in _MONTHS for w in words):
        pattern = _NUMERIC_DATE
    for m in (_numeric_dates(text) if pattern is _NUMERIC_DATE else pattern.finditer(text)):
        g = m.groupdict()
        if pattern is _NUMERIC_DATE:      # the first digit is outside the groups
            first = text[m.start()]
            if g["y"] is not None:
                g["y"] = first + g["y"]
            else:
                g["m2"] = first + g["m2"]
        try:
            if g["y"]:
                d = dt.date(int(g["y"]), int(g["m"]), int(g["d"]))
            elif g["y2"]:
                y = int(g["y2"])
                d = dt.date(y + 2000 if y < 100 else y, int(g["m2"]), int(g["d2"]))
            elif g.get("y3"):
                d = dt.date(int(g["y3"]), _MONTHS[g["mon"].lower()[:3]], int(g["d3"]))
            else:
                d = dt.date(int(g["y4"]), _MONTHS[g["mon4"].lower()[:3]], int(g["d4"]))
        except ValueError:
            continue
        out.append(_new_hit(DateHit, (m.start(), m.end(), m.group(0), d.isoformat())))
    return out


def _value_of(first, h, mi, ap, h2, ap2, h3, mi3) -> str | None:
    """``"HH:MM"`` of one _TIME match: the hour's first digit, then its groups (None: no possible time)."""
    if h is not None:
        return hhmm(int(first + h), int(mi), ap)
    if h2 is not None:
        return hhmm(int(first + h2), 0, ap2)
    return hhmm(int(first + h3), int(mi3))


# a match's groups follow from its text (the three forms are told apart by their characters): a long note writes
# the same few dozen clock times again and again, so each is read once by its written form and remembered
# (value, four digits with no separator, the text stripped)
_WRITTEN_TIMES: dict[str, tuple[str | None, bool, str]] = {}

# The same pattern with ASCII classes, for a text where they hold (names.ascii_classes_hold): the regex engine
# tests a character against [0-9] faster than against Unicode's digits.
_TIME_ASCII = re.compile(_TIME.pattern, re.I | re.A)


def _time_pattern_for(text: str) -> re.Pattern:
    return _TIME_ASCII if ascii_classes_hold(text) else _TIME


def find_times(text: str, skip: list[tuple[int, int]] = ()) -> list[ClockTime]:
    """Clock times in ``text``, left to right, none inside a ``skip`` span (dates, drug names)."""
    spans = sorted(skip)
    starts = [a for a, _ in spans]
    ends_max = list(itertools.accumulate((b for _, b in spans), max))     # the furthest end so far
    out: list[ClockTime] = []
    for m in _time_pattern_for(text).finditer(text):
        a, b = m.span()
        if starts:
            i = bisect.bisect_right(starts, b - 1) - 1
            if i >= 0 and ends_max[i] > a:
                continue
        written = m.group(0)
        known = _WRITTEN_TIMES.get(written)
        if known is None:
            groups = (text[a], *m.groups())      # the hour's first digit, then the groups
            known = (_value_of(*groups), groups[6] is not None, written.strip())
            if len(_WRITTEN_TIMES) >= 4096:
                _WRITTEN_TIMES.clear()
            _WRITTEN_TIMES[written] = known
        value, four_digits, stripped = known
        if four_digits and a > 0 and text[a - 1].isalpha():      # "J1745", "x1000"
            continue
        if value is not None:
            out.append(_new_hit(ClockTime, (a, b, stripped, value)))
    return out


# the words between the two times of a clock range (one table for the note reader and the question reader)
RANGE_WORDS = ("-", "–", "—", "to", "until", "till", "til", "thru", "through")
_RANGE_WORDS_RE = "|".join(re.escape(w) for w in sorted(RANGE_WORDS, key=len, reverse=True))
_RANGE_SEP = re.compile(rf"\s*(?:{_RANGE_WORDS_RE})\s*", re.I)


def is_range_separator(between: str) -> bool:
    """True for the words between two times of a clock range: ``-``, ``to``, ``until``, ``through``."""
    return bool(_RANGE_SEP.fullmatch(between))


def clock_of_minute(minute_of_day: int) -> str:
    """``"HH:MM"`` of a minute count from midnight (past 24 h wraps to the next day's clock)."""
    h, m = divmod(minute_of_day % (24 * 60), 60)
    return f"{h:02d}:{m:02d}"


# ----------------------------------------------------------------------------------------- clock ranges
@dataclass(frozen=True, slots=True)
class ClockRange:
    start: str          # "HH:MM", 24-hour
    stop: str
    minutes: int        # as the engine counts them (a stop before the start crosses midnight)
    span: tuple[int, int]

    @property
    def crosses_midnight(self) -> bool:
        return self.stop < self.start


_RANGE_AMPM = r"(?:\s*([ap])\.?\s*m\.?(?![a-z])|([ap])(?![a-z]))?"
_RANGE_TIME = (rf"(\d{{1,2}}:[0-5]\d|[0-2]\d[0-5]\d|\d{{1,2}}(?=\s*[ap]\.?m\b))(?!\s*(?:mg|ml|mcg|units?|min|hr|h\b))"
               rf"{_RANGE_AMPM}")
# "between 0830 and 1245": "and" joins a range's two times only in a question's range, not in a note's events
_RANGE = re.compile(rf"(?=\d)(?<![\w:.]){_RANGE_TIME}\s*(?:{_RANGE_WORDS_RE}|and)\s*{_RANGE_TIME}(?![\w:])", re.I)
_START_WORD = r"(?:start(?:ed|s)?|begun|began|hung|initiated|on)"
_STOP_WORD = r"(?:stop(?:ped|s)?|end(?:ed|s)?|finish(?:ed)?|complete[ds]?|completed|d/?c'?d|off|done)"
_WORDED = re.compile(rf"(?=[sbhioSBHIO])\b{_START_WORD}\s*(?:at\s*|@\s*)?{_RANGE_TIME}[^\d]{{0,30}}?\b{_STOP_WORD}\s*(?:at\s*|@\s*)?"
                     rf"{_RANGE_TIME}(?![\w:])", re.I)


def _range_clock(raw: str, ampm: str | None) -> str | None:
    """One written time of a range -> "HH:MM" (24-hour), or None when it is not a time of day."""
    if ":" in raw:
        h, m = (int(x) for x in raw.split(":"))
    elif len(raw) == 4:
        h, m = int(raw[:2]), int(raw[2:])
    else:
        h, m = int(raw), 0
    return hhmm(h, m, ampm)


def _range(m: re.Match) -> ClockRange | None:
    r1, a1, b1, r2, a2, b2 = m.groups()
    ampm1, ampm2 = a1 or b1, a2 or b2
    if ampm2 and not ampm1 and len(r1) <= 5:
        # "1:00 - 3:00 PM": the first time shares the marker when that keeps it before the stop
        h1 = int(r1.split(":")[0]) if ":" in r1 else int(r1[:2]) if len(r1) == 4 else int(r1)
        h2 = int(r2.split(":")[0]) if ":" in r2 else int(r2[:2]) if len(r2) == 4 else int(r2)
        if ampm2.lower() == "p" and h1 < 12 and (h2 % 12) >= h1:
            ampm1 = "p"
    start, stop = _range_clock(r1, ampm1), _range_clock(r2, ampm2)
    if start is None or stop is None or start == stop:
        return None
    return ClockRange(start, stop, clock_minutes(start, stop), m.span())


def find_clock_ranges(text: str) -> list[ClockRange]:
    """Every start-stop pair of clock times in ``text`` ("08:30 to 12:45", "started 0830 ... stopped 1245")."""
    out: list[ClockRange] = []
    starts: list[int] = []     # the taken spans, sorted and never overlapping: one bisect per candidate
    ends: list[int] = []
    for pat in (_RANGE, _WORDED):
        for m in pat.finditer(text):
            a, b = m.span()
            i = bisect.bisect_left(starts, b)
            if i and ends[i - 1] > a:
                continue
            r = _range(m)
            if r is not None:
                out.append(r)
                starts.insert(i, a)
                ends.insert(i, b)
    return sorted(out, key=lambda r: r.span[0])


def find_clock_range(text: str) -> ClockRange | None:
    """The first clock range in ``text``, or None."""
    found = find_clock_ranges(text)
    return found[0] if found else None


def clock_minutes(start: str, stop: str) -> int:
    """Minutes from one "HH:MM" (or "H:MM", "HHMM") to another on the wall clock, as the engine counts them:
    a stop before the start crosses midnight, a stop equal to the start is 0 minutes. ValueError for a text
    that is not such a time."""
    return (_minute_of_day(stop) - _minute_of_day(start)) % (24 * 60)


def _minute_of_day(text: str) -> int:
    hh, sep, mm = text.strip().partition(":")
    if not sep and len(hh) == 4:
        hh, mm = hh[:2], hh[2:]
    if hh.isdigit() and mm.isdigit() and 1 <= len(hh) <= 2 and len(mm) == 2 and int(hh) <= 23 and int(mm) <= 59:
        return int(hh) * 60 + int(mm)
    raise ValueError(f"not a clock time HH:MM: {text!r}")


def parse_timestamp(text: str, formats: list[str] | tuple[str, ...] = ()) -> dt.datetime | None:
    """A date-time from an export cell: ISO 8601 (with a time of day), else the first matching format."""
    text = " ".join(text.strip().split())
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
        if len(text) > 10:  # a date alone has no time of day
            return moment.replace(tzinfo=None)
    except ValueError:
        pass
    for f in formats:
        try:
            return dt.datetime.strptime(text, f)
        except ValueError:
            continue
    return None
