"""Clock times, dates, durations and clock ranges as they are written in notes and exports.

* times: ``0830``, ``8:30``, ``8:30 AM``, ``8 pm``, ``0830h``, ``08:30:00``, ``8h30`` -> ``"08:30"``
* dates: ``03/02/2026``, ``3/2/26``, ``2026-03-02``, ``Mar 2, 2026``, ``2 March 2026`` -> ``"2026-03-02"``
* durations: ``1 hour 45 minutes``, ``1h45``, ``105 min``, ``1.5 hr``, ``an hour`` -> minutes
* clock ranges: ``08:30 to 12:45``, ``0830-1245``, ``from 0830 until 1245``
* timestamps (MAR exports): ISO 8601 or a site's ``strptime`` formats -> ``datetime``

Every finder scans the text once (no nested scans), so reading stays linear in the note's size.
"""
from __future__ import annotations

import bisect
import datetime as dt
import re
from dataclasses import dataclass

__all__ = ["ClockTime", "DateHit", "DurationHit", "find_dates", "find_durations", "find_times", "hhmm",
           "is_range_separator", "parse_duration", "parse_timestamp"]

_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_MON = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE = re.compile(
    r"\b(?:(?P<y>(?:19|20)\d\d)-(?P<m>\d\d)-(?P<d>\d\d)"
    r"|(?P<m2>\d{1,2})/(?P<d2>\d{1,2})/(?P<y2>(?:19|20)\d\d|\d{2})"
    r"|" + _MON.replace("(jan", "(?P<mon>jan") + r"\s+(?P<d3>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y3>(?:19|20)\d\d)"
    r"|(?P<d4>\d{1,2})\s+" + _MON.replace("(jan", "(?P<mon4>jan") + r",?\s+(?P<y4>(?:19|20)\d\d))\b", re.I)

_AMPM = r"(?:\s*(?P<ap>[ap])\.?\s?m\.?(?![a-z]))"
# one pass for every clock form; the order of the alternatives is the order of preference
_TIME = re.compile(
    r"(?<![\d:/.$#])(?:"
    r"(?P<h>\d{1,2})[:h](?P<mi>\d{2})(?::\d{2})?" + _AMPM + r"?"
    r"|(?P<h2>\d{1,2})" + _AMPM.replace("ap>", "ap2>")
    + r"|(?P<h3>[01]\d|2[0-3])(?P<mi3>[0-5]\d)(?:\s*(?:h|hrs|hours)\b)?(?!\d|:\d|/|\.\d|%|\s*(?:mg|mcg|ml|cc|l|g|gm|grams?|units?|u|meq|iu|kg|lbs?)\b)"
    r")", re.I)


@dataclass(frozen=True)
class ClockTime:
    start: int
    end: int
    text: str
    value: str        # "HH:MM"


@dataclass(frozen=True)
class DateHit:
    start: int
    end: int
    text: str
    value: str        # ISO date


@dataclass(frozen=True)
class DurationHit:
    start: int
    end: int
    text: str
    minutes: int


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


def find_dates(text: str) -> list[DateHit]:
    out = []
    for m in _DATE.finditer(text):
        g = m.groupdict()
        try:
            if g["y"]:
                d = dt.date(int(g["y"]), int(g["m"]), int(g["d"]))
            elif g["y2"]:
                y = int(g["y2"])
                d = dt.date(y + 2000 if y < 100 else y, int(g["m2"]), int(g["d2"]))
            elif g["y3"]:
                d = dt.date(int(g["y3"]), _MONTHS[g["mon"].lower()[:3]], int(g["d3"]))
            else:
                d = dt.date(int(g["y4"]), _MONTHS[g["mon4"].lower()[:3]], int(g["d4"]))
        except ValueError:
            continue
        out.append(DateHit(m.start(), m.end(), m.group(0), d.isoformat()))
    return out


def find_times(text: str, skip: list[tuple[int, int]] = ()) -> list[ClockTime]:
    """Clock times in ``text``, left to right, none inside a ``skip`` span (dates, drug names)."""
    spans = sorted(skip)
    starts = [a for a, _ in spans]
    ends_max: list[int] = []
    for _, b in spans:
        ends_max.append(max(b, ends_max[-1]) if ends_max else b)
    out: list[ClockTime] = []
    for m in _TIME.finditer(text):
        a, b = m.span()
        i = bisect.bisect_right(starts, b - 1) - 1
        if i >= 0 and ends_max[i] > a:
            continue
        if m.group("h") is not None:
            value = hhmm(int(m.group("h")), int(m.group("mi")), m.group("ap"))
        elif m.group("h2") is not None:
            value = hhmm(int(m.group("h2")), 0, m.group("ap2"))
        else:
            if a > 0 and text[a - 1].isalpha():      # "J1745", "x1000"
                continue
            value = hhmm(int(m.group("h3")), int(m.group("mi3")))
        if value is not None:
            out.append(ClockTime(a, b, text[a:b].strip(), value))
    return out


_RANGE_SEP = re.compile(r"\s*(?:-|–|—|to|until|till|thru|through)\s*", re.I)


def is_range_separator(between: str) -> bool:
    """True for the words between two times of a clock range: ``-``, ``to``, ``until``, ``through``."""
    return bool(_RANGE_SEP.fullmatch(between))


_NUMWORD = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "half an": 0.5,
            "a half": 0.5}
_H = r"(?:h|hr|hrs|hours?)"
_M = r"(?:m|min|mins|minutes?)"
_DURATION = re.compile(
    r"(?<![\d:])(?:"
    r"(?P<h>\d+)\s*" + _H + r"\.?\s*(?:and\s*)?(?P<m>\d+)\s*" + _M + r"?(?![a-z])"
    r"|(?P<n>\d+(?:\.\d+)?)\s*(?:-\s*)?(?P<u>" + _H + "|" + _M + r")(?![a-z])(?P<half>\s+and a half)?"
    r"|(?P<w>an|a|one|two|three|four|five|six|half an|a half)\s+(?:" + _H + r")(?![a-z])(?P<half2>\s+and a half)?"
    r")", re.I)


def _duration_minutes(m: re.Match) -> int:
    if m.group("h") is not None:
        return int(m.group("h")) * 60 + int(m.group("m"))
    if m.group("n") is not None:
        n = float(m.group("n"))
        hours = m.group("u").lower().startswith("h")
        if m.group("half"):
            n += 0.5 if hours else 0
        return round(n * 60) if hours else round(n)
    n = _NUMWORD[" ".join(m.group("w").lower().split())]
    return round((n + (0.5 if m.group("half2") else 0)) * 60)


def find_durations(text: str, start: int = 0, end: int | None = None) -> list[DurationHit]:
    end = len(text) if end is None else end
    return [DurationHit(m.start(), m.end(), m.group(0), _duration_minutes(m))
            for m in _DURATION.finditer(text, start, end)]


def parse_duration(text: str) -> int | None:
    """Minutes in the first duration of ``text`` ("1 hour 45 minutes", "1h45", "105 min", "1.5 hr")."""
    hits = find_durations(text)
    return hits[0].minutes if hits else None


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
