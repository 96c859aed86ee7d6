"""Durations as nurses and coders write them, read into minutes: the one duration grammar of the
note reader (knowledge.intake) and the question reader (knowledge.ask).

"1 hour 45 minutes", "1h45", "1 hr 45 min", "2h15m", "105 min", "1.75 hours", "1 1/2 hrs",
"an hour and a half", "half an hour", "two hours", and (``bare_colon``) a bare "2:15" when nothing
else says it is a clock. A clock range ("08:30 to 12:45", :mod:`.clock`) is never a duration.

    parse_duration("1 hr 45 min")             # 105
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

# the clock ranges live with the clock times; re-exported for the readers that import them from here
from .clock import ClockRange, clock_minutes, find_clock_range, find_clock_ranges
from .names import folds_to_ascii

__all__ = ["ClockRange", "Duration", "DurationHit", "clock_minutes", "find_clock_range", "find_clock_ranges",
           "find_durations", "parse_duration"]


@dataclass(frozen=True, slots=True)
class Duration:
    minutes: int
    start: int          # span in the text it was read from
    end: int


DurationHit = Duration   # the name the note reader used


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
    # "1 hour 45 minutes", "1hr45min", "2h15m", "1 hr and 45 mins", "1h45", "1 hour 45"; the minutes are on the
    # hour's line and are not a date's first number ("46 h.\n07/17/2024" is 46 hours)
    ("h_m", re.compile(rf"(?<![\w.:])(\d+)\s*(?:-\s*)?{_HOUR}\.?[^\S\n]*(?:and\s+|,[^\S\n]*)?(\d{{1,2}})(?:\s*{_MIN})?"
                       r"(?![\w:/])(?![.\-]\d)(?!\s*(?:units?|mg|ml|mcg|x\b))", re.I)),
    # "an hour and a half", "1 and a half hours", "half an hour"
    ("half_after", re.compile(rf"(?<![\w.])(an?|one|\d+)\s+{_HOUR}\s+and\s+a\s+half\b", re.I)),
    ("and_half", re.compile(rf"(?<![\w.])(\d+|one|two|three|four|five|six)\s+and\s+a\s+half\s+{_HOUR}\b", re.I)),
    ("half_hour", re.compile(r"\b(?:half\s+an?\s+hour|half-hour|half\s+hour)\b", re.I)),
    # "1 1/2 hours", "1½ hrs"
    ("frac_hours", re.compile(rf"(?<![\w.])(\d+)?\s*(1/2|1/4|3/4|½|¼|¾)\s*{_HOUR}\b", re.I)),
    # "1.75 hours", "two hours", "an hour", "3hrs" (group "hr"); "105 min", "90 minutes", "fifteen minutes".
    # One scan for both: a match of one can never overlap a match of the other (each starts at its number,
    # and a unit starts with h or m), so this finds what two scans, hours first, found.
    ("hours_or_minutes", re.compile(rf"(?<![\w.:]){_NUM}[\s-]*(?:(?P<hr>{_HOUR})|{_MIN})\b", re.I)),
)
# Each pattern led by the characters it can start with: the regex engine then skips every other position
# (about twice as fast on a long note).
_LEADS = {"h_m": r"\d", "half_after": r"aAoO\d", "and_half": r"\dotfsOTFS", "half_hour": r"hH",
          "frac_hours": r"\d½¼¾", "hours_or_minutes": r"\daAoOtTfFsSeEnN"}
_PATTERNS = tuple((kind, re.compile(rf"(?=[{_LEADS[kind]}])" + pat.pattern, pat.flags)) for kind, pat in _PATTERNS)
# Text a pattern cannot match without (same flags): a note without it is not scanned for that pattern.
_HALF = re.compile("half", re.I)
_MUST = {"half_after": _HALF, "and_half": _HALF, "half_hour": _HALF,
         "frac_hours": re.compile(r"(?:1/2|1/4|3/4|½|¼|¾)\s*h", re.I)}
# A bare "2:15" is a duration only when no clock range or clock word claims it.
_BARE_COLON = re.compile(r"(?<![\d:])(\d{1,2}):([0-5]\d)(?![\d:])(?!\s*(?:a\.?m\.?|p\.?m\.?)(?![a-z]))", re.I)


# A cheap necessary condition for any duration: a unit word (h, hr, hour, m, min, minute...) right after a
# number (digits, a fraction or a number word, then spaces or a hyphen). The scan finds unit words after a
# character that can end a number; _after_number then looks back. Most long texts have none (a rate's
# "mL/hr" has no number before its "hr"), and then the patterns above are never run.
# The unit words hours?|hrs?|h|minutes?|minuts?|minuets?|mintues?|mins?|m, written with both cases of each
# letter instead of re.I so that the pattern starts with a plain character class: the regex engine then
# jumps from one h or m to the next (three times faster per MB). A text with a letter that folds to ASCII
# ("mınutes") is not gated (_may_hold_duration), so the ASCII classes lose nothing.
_UNIT_AFTER_NUMBER = re.compile(
    r"[hHmM](?<=[\d\s\-½¼¾aenortxyfAENORTXYF][hHmM])"
    r"(?:(?<=[hH])(?:[oO][uU][rR][sS]?|[rR][sS]?)?"
    r"|(?<=[mM])(?:[iI][nN](?:[uU][tT][eE][sS]?|[uU][tT][sS]?|[uU][eE][tT][sS]?|[tT][uU][eE][sS]?|[sS])?)?)"
    r"(?![b-zB-Z])")
_NUMBER_WORD_ENDS = tuple(sorted({*_WORD_NUMBERS, "half"}))


def _after_number(text: str, start: int, unit_at: int) -> bool:
    """True when what comes before ``unit_at`` (past spaces and hyphens) can end a number."""
    i = unit_at
    while i > start and (text[i - 1].isspace() or text[i - 1] == "-"):
        i -= 1
    if i == start:
        return False
    c = text[i - 1]
    if c.isdecimal() or c in "½¼¾":
        return True
    if not c.isalpha():
        return False
    j = i
    while j > start and (text[j - 1].isalpha() or text[j - 1] == "-"):
        j -= 1
    return text[j:i].lower().endswith(_NUMBER_WORD_ENDS)


def _may_hold_duration(text: str, start: int, end: int) -> bool:
    if folds_to_ascii(text):
        return True        # "mınutes": a letter only the case-insensitive patterns read as ASCII
    return any(_after_number(text, start, m.start()) for m in _UNIT_AFTER_NUMBER.finditer(text, start, end))


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
    if m.group("hr") is not None:
        return round(_number(m.group(1)) * 60)
    return round(_number(m.group(1)))


def find_durations(text: str, start: int = 0, end: int | None = None, *, bare_colon: bool = True) -> list[Duration]:
    """Every duration written in ``text[start:end]``, in reading order. Clock ranges are not durations.

    Each pattern scans the text once; the spans already taken are kept sorted, so a long note is read
    in time linear in its size (times a log)."""
    end = len(text) if end is None else end
    # every pattern's matches first (each scan is independent of what the others take): most texts have
    # none, and then the clock ranges, which only block durations, are never looked for
    found: list[tuple[str, list[re.Match]]] = []
    present: dict[re.Pattern, bool] = {}
    for kind, pat in (_PATTERNS if _may_hold_duration(text, start, end) else ()):
        must = _MUST.get(kind)
        if must is not None:
            if must not in present:
                present[must] = must.search(text, start, end) is not None
            if not present[must]:
                continue
        hits = list(pat.finditer(text, start, end))
        if hits:
            found.append((kind, hits))
    taken_a: list[int] = []   # sorted starts of the taken spans (they never overlap)
    taken_b: list[int] = []
    out: list[Duration] = []

    def free(a: int, b: int) -> bool:
        i = bisect.bisect_left(taken_a, b)      # spans starting before b
        return i == 0 or taken_b[i - 1] <= a

    if not found and not bare_colon:
        return out
    for r in find_clock_ranges(text[start:end] if (start or end != len(text)) else text):
        _take(taken_a, taken_b, r.span[0] + start, r.span[1] + start)
    for kind, hits in found:
        for m in hits:
            a, b = m.span()
            if not free(a, b):
                continue
            minutes = _minutes(kind, m)
            if minutes is None:
                continue
            out.append(Duration(minutes, a, b))
            _take(taken_a, taken_b, a, b)
    if bare_colon and not out:
        for m in _BARE_COLON.finditer(text, start, end):
            if free(*m.span()):
                out.append(Duration(int(m.group(1)) * 60 + int(m.group(2)), *m.span()))
                break
    return sorted(out, key=lambda d: d.start)


def _take(starts: list[int], ends: list[int], a: int, b: int) -> None:
    i = bisect.bisect_left(starts, a)
    starts.insert(i, a)
    ends.insert(i, b)


def parse_duration(text: str) -> int | None:
    """Minutes of the first duration in ``text`` ("1 hr 45 min" -> 105); None when there is none."""
    found = find_durations(text)
    return found[0].minutes if found else None
