"""Durations and clock ranges as coders write them, read into minutes.

Durations: "1 hour 45 minutes", "1h45", "1 hr 45 min", "2h15m", "105 min", "1.75 hours", "1 1/2 hrs",
"an hour and a half", "half an hour", "two hours", and a bare "2:15" when nothing else says it is a clock.
Clock ranges: "08:30 to 12:45", "from 0830-1245", "8:30 AM - 12:45 PM", "between 0830 and 1245",
"started 08:30 stopped 12:45"; a stop earlier than its start crosses midnight, as in the engine.

The minutes of a range are counted by the engine's own clock arithmetic (rules.timing), so a range
read here gives the minutes the engine would count for the same start and stop.

    parse_duration("1 hr 45 min")             # 105
    find_clock_range("from 0830-1245").minutes  # 255
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from ..rules.timing import minutes_between, parse_clock, window

__all__ = ["Duration", "ClockRange", "find_durations", "parse_duration", "find_clock_range", "find_clock_ranges",
           "clock_minutes"]


@dataclass(frozen=True, slots=True)
class Duration:
    minutes: int
    start: int          # span in the text it was read from
    end: int


@dataclass(frozen=True, slots=True)
class ClockRange:
    start: str          # "HH:MM", 24-hour
    stop: str
    minutes: int        # as the engine counts them (a stop before the start crosses midnight)
    span: tuple[int, int]

    @property
    def crosses_midnight(self) -> bool:
        return self.stop < self.start


# ----------------------------------------------------------------------------------------- words
_HOUR = r"(?:hours?|hrs?|h)"
_MIN = r"(?:minutes?|minuts?|minuets?|mintues?|mins?|m)"
_WORD_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
                 "forty": 40, "forty-five": 45, "fortyfive": 45, "ninety": 90}
_NUM = r"(\d+(?:\.\d+)?|" + "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True)) + r")"
_FRACTIONS = {"1/2": 0.5, "1/4": 0.25, "3/4": 0.75, "½": 0.5, "¼": 0.25, "¾": 0.75}

# Most specific first; a later pattern never reads text an earlier one took.
_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    # "1 hour 45 minutes", "1hr45min", "2h15m", "1 hr and 45 mins", "1h45", "1 hour 45"
    ("h_m", re.compile(rf"(?<![\w.:])(\d+)\s*-?\s*{_HOUR}\.?\s*(?:and\s+|,\s*)?(\d{{1,2}})(?:\s*{_MIN})?(?![\w:])(?!\s*(?:units?|mg|ml|mcg|x\b))", re.I)),
    # "an hour and a half", "1 and a half hours", "half an hour"
    ("half_after", re.compile(rf"(?<![\w.])(an?|one|\d+)\s+{_HOUR}\s+and\s+a\s+half\b", re.I)),
    ("and_half", re.compile(rf"(?<![\w.])(\d+|one|two|three|four|five|six)\s+and\s+a\s+half\s+{_HOUR}\b", re.I)),
    ("half_hour", re.compile(r"\b(?:half\s+an?\s+hour|half-hour|half\s+hour)\b", re.I)),
    # "1 1/2 hours", "1½ hrs"
    ("frac_hours", re.compile(rf"(?<![\w.])(\d+)?\s*(1/2|1/4|3/4|½|¼|¾)\s*{_HOUR}\b", re.I)),
    # "1.75 hours", "two hours", "an hour", "3hrs"
    ("hours", re.compile(rf"(?<![\w.:]){_NUM}[\s-]*{_HOUR}\b", re.I)),
    # "105 min", "90 minutes", "fifteen minutes"
    ("minutes", re.compile(rf"(?<![\w.:]){_NUM}[\s-]*{_MIN}\b", re.I)),
)
# A bare "2:15" is a duration only when no clock range or clock word claims it.
_BARE_COLON = re.compile(r"(?<![\d:])(\d{1,2}):([0-5]\d)(?![\d:])(?!\s*(?:a\.?m\.?|p\.?m\.?)(?![a-z]))", re.I)


def _number(text: str) -> float:
    t = text.lower()
    return float(_WORD_NUMBERS[t]) if t in _WORD_NUMBERS else float(t)


def _minutes(kind: str, m: re.Match) -> int | None:
    if kind == "h_m":
        mins = int(m.group(2))
        return int(m.group(1)) * 60 + mins if mins < 60 else None
    if kind == "half_after":
        return round(_number(m.group(1)) * 60) + 30
    if kind == "and_half":
        return round(_number(m.group(1)) * 60) + 30
    if kind == "half_hour":
        return 30
    if kind == "frac_hours":
        return round((int(m.group(1) or 0) + _FRACTIONS[m.group(2)]) * 60)
    if kind == "hours":
        return round(_number(m.group(1)) * 60)
    return round(_number(m.group(1)))


def find_durations(text: str, *, bare_colon: bool = True) -> list[Duration]:
    """Every duration written in ``text``, in reading order. Clock ranges are not durations."""
    taken = [r.span for r in find_clock_ranges(text)]
    out: list[Duration] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e in taken)

    for kind, pat in _PATTERNS:
        for m in pat.finditer(text):
            a, b = m.span()
            if not free(a, b):
                continue
            minutes = _minutes(kind, m)
            if minutes is None:
                continue
            out.append(Duration(minutes, a, b))
            taken.append((a, b))
    if bare_colon and not out:
        for m in _BARE_COLON.finditer(text):
            if free(*m.span()):
                out.append(Duration(int(m.group(1)) * 60 + int(m.group(2)), *m.span()))
                break
    return sorted(out, key=lambda d: d.start)


def parse_duration(text: str) -> int | None:
    """Minutes of the first duration in ``text`` ("1 hr 45 min" -> 105); None when there is none."""
    found = find_durations(text)
    return found[0].minutes if found else None


# ----------------------------------------------------------------------------------------- clock ranges
_AMPM = r"(?:\s*([ap])\.?\s*m\.?(?![a-z])|([ap])(?![a-z]))?"
_TIME = rf"(\d{{1,2}}:[0-5]\d|[0-2]\d[0-5]\d|\d{{1,2}}(?=\s*[ap]\.?m\b))(?!\s*(?:mg|ml|mcg|units?|min|hr|h\b)){_AMPM}"
_SEP = r"\s*(?:-|–|—|to|till|til|until|thru|through|and)\s*"
_RANGE = re.compile(rf"(?<![\w:.]){_TIME}{_SEP}{_TIME}(?![\w:])", re.I)
_START_WORD = r"(?:start(?:ed|s)?|begun|began|hung|initiated|on)"
_STOP_WORD = r"(?:stop(?:ped|s)?|end(?:ed|s)?|finish(?:ed)?|complete[ds]?|completed|d/?c'?d|off|done)"
_WORDED = re.compile(rf"\b{_START_WORD}\s*(?:at\s*|@\s*)?{_TIME}[^\d]{{0,30}}?\b{_STOP_WORD}\s*(?:at\s*|@\s*)?{_TIME}(?![\w:])",
                     re.I)
_DAY = date(2000, 1, 1)   # any date: only the wall clock matters here


def _hhmm(raw: str, ampm: str | None) -> str | None:
    """One written time -> "HH:MM" (24-hour), or None when it is not a time of day."""
    if ":" in raw:
        h, m = (int(x) for x in raw.split(":"))
    elif len(raw) == 4:
        h, m = int(raw[:2]), int(raw[2:])
    else:
        h, m = int(raw), 0
    if ampm:
        if not 1 <= h <= 12:
            return None
        h = (h % 12) + (12 if ampm.lower() == "p" else 0)
    if h > 23 or m > 59:
        return None
    return f"{h:02d}:{m:02d}"


def _range(m: re.Match) -> ClockRange | None:
    r1, a1, b1, r2, a2, b2 = m.groups()
    ampm1, ampm2 = a1 or b1, a2 or b2
    if ampm2 and not ampm1 and len(r1) <= 5:
        # "1:00 - 3:00 PM": the first time shares the marker when that keeps it before the stop
        h1 = int(r1.split(":")[0]) if ":" in r1 else int(r1[:2]) if len(r1) == 4 else int(r1)
        h2 = int(r2.split(":")[0]) if ":" in r2 else int(r2[:2]) if len(r2) == 4 else int(r2)
        if ampm2.lower() == "p" and h1 < 12 and (h2 % 12) >= h1:
            ampm1 = "p"
    start, stop = _hhmm(r1, ampm1), _hhmm(r2, ampm2)
    if start is None or stop is None or start == stop:
        return None
    return ClockRange(start, stop, clock_minutes(start, stop), m.span())


def find_clock_ranges(text: str) -> list[ClockRange]:
    """Every start-stop pair of clock times in ``text`` ("08:30 to 12:45", "started 0830 ... stopped 1245")."""
    out: list[ClockRange] = []
    for pat in (_RANGE, _WORDED):
        for m in pat.finditer(text):
            if any(not (m.end() <= r.span[0] or m.start() >= r.span[1]) for r in out):
                continue
            r = _range(m)
            if r is not None:
                out.append(r)
    return sorted(out, key=lambda r: r.span[0])


def find_clock_range(text: str) -> ClockRange | None:
    """The first clock range in ``text``, or None."""
    found = find_clock_ranges(text)
    return found[0] if found else None


def clock_minutes(start: str, stop: str) -> int:
    """Minutes from one "HH:MM" to another as the engine counts them (a stop before the start crosses midnight)."""
    begin, _ = parse_clock(start, _DAY, "start")
    end, _ = parse_clock(stop, _DAY, "stop")
    return minutes_between(begin, window(begin, end, True))
