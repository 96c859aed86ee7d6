"""Time: clock times to minutes, and minutes to units of the added-hour codes.

Sources: CPT infusion guidelines (time runs from start to stop; flush not counted; an added hour
needs more than 30 minutes past the last full hour), CPT Assistant July 2008 / Sept 2009 as cited
by the seed page, UW Health mini-manual [S24] (1:30 vs 1:31).
"""
from __future__ import annotations

import math
import re
from datetime import date, datetime, time, timedelta

from ..model import InputError
from ..reference.policies import PolicyCatalog

MINUTES_PER_HOUR = 60
# The clock thresholds, named, dated and sourced in reference/data/policies.yaml ``thresholds``.
_THRESHOLDS = PolicyCatalog.thresholds()
PUSH_MAX_MINUTES = _THRESHOLDS["push_max_minutes"]                  # an infusion of 15 minutes or less is a push
HYDRATION_MAX_UNREPORTED = _THRESHOLDS["hydration_max_unreported"]  # hydration of 30 minutes or less is not reported
ADDED_HOUR_TAIL = _THRESHOLDS["added_hour_tail_minutes"]            # the tail past the last full hour that earns a unit
SAME_DRUG_PUSH_GAP = _THRESHOLDS["same_drug_push_gap"]              # 96376 needs more than 30 minutes since the last push
BAG_CHANGE_MAX_GAP = _THRESHOLDS["bag_change_max_gap"]              # a new bag within 10 minutes continues the infusion
PROLONGED_PUMP_MINUTES = _THRESHOLDS["prolonged_pump_minutes"]      # 96416: more than 8 hours, started on a pump
LONG_DURATION_MINUTES = _THRESHOLDS["long_duration_minutes"]        # over 24 hours: possible in observation, worth a look

# Built once: ``timedelta(minutes=n)`` parses keywords on every call, ``ONE_MINUTE * n`` does not.
ONE_MINUTE = timedelta(minutes=1)
_MINUTES_OF_DAY = tuple(ONE_MINUTE * n for n in range(24 * 60))
_MIDNIGHTS: dict[date, datetime] = {}
# Every clock time the rule accepts, as written ("09:05", "9:05", "0905"), to its minute of the day.
_CLOCK_MINUTES = {form: h * 60 + m for h in range(24) for m in range(60)
                  for form in (f"{h:02d}:{m:02d}", f"{h}:{m:02d}", f"{h:02d}{m:02d}")}


_ISO_DAYS: dict[int, str] = {}


def iso_day(moment: date) -> str:
    """The date (of a date or datetime) as YYYY-MM-DD. Remembered by day number: ``isoformat`` goes through
    C printf, about 5 % of the engine's time when called for every line."""
    day = moment.toordinal()
    text = _ISO_DAYS.get(day)
    if text is None:
        if len(_ISO_DAYS) > 100_000:
            _ISO_DAYS.clear()
        text = _ISO_DAYS[day] = date.fromordinal(day).isoformat()
    return text


def outside_dates(day: date, first: date, last: date) -> bool:
    """A date outside the dates of service the engine accepts (limits earliest/latest_date_of_service)."""
    return day < first or day > last


def dates_refused(field: str, first: date, last: date) -> InputError:
    """The error for a date outside the accepted dates; the bounds are quoted, the value never is."""
    return InputError(field, f"a date outside {first.isoformat()} to {last.isoformat()}, the dates of service the engine "
                             "accepts (limits earliest_date_of_service, latest_date_of_service); check the year")


def parse_date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InputError(field, "not a date: expected YYYY-MM-DD") from None


def parse_clock(value: str, on: date | None, field: str) -> tuple[datetime, bool]:
    """A documented time as a datetime. Returns (moment, was_clock_only).

    "HH:MM" (or "H:MM", "HHMM") is a time on the encounter date; anything longer must be an ISO
    8601 datetime. A time zone, if given, is dropped: the wall clock is what the nurse documented.
    """
    minute = _CLOCK_MINUTES.get(value) if isinstance(value, str) else None
    if minute is not None and on is not None:  # the usual case, one table lookup
        return _midnight(on) + _MINUTES_OF_DAY[minute], True
    text = value.strip() if isinstance(value, str) else ""
    n = len(text)
    if 3 <= n <= 5 and "T" not in text and "-" not in text:
        if ":" in text:
            hh, _, mm = text.partition(":")
        elif n == 4 and text.isdigit():
            hh, mm = text[:2], text[2:]
        else:
            hh = mm = ""
        if hh.isdigit() and mm.isdigit() and len(mm) == 2 and 1 <= len(hh) <= 2:
            h, m = int(hh), int(mm)
            if h <= 23 and m <= 59:
                if on is None:
                    raise InputError(field, "a clock time (HH:MM) needs the encounter `date`, or give a full ISO 8601 datetime")
                return _midnight(on) + _MINUTES_OF_DAY[h * 60 + m], True
        raise InputError(field, f"{_quoted_clock(text)}not a time: expected HH:MM (00:00-23:59) or an ISO 8601 datetime")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(field, "not a time: expected HH:MM (00:00-23:59) or an ISO 8601 datetime") from None
    if moment.tzinfo is not None:
        moment = moment.replace(tzinfo=None)
    return moment, False


# A written clock ("25:00", "8:75", "2460"): a time format, quoted in its error; anything else may be free text.
_CLOCK_SHAPE = re.compile(r"\d{1,2}:\d{1,2}(?::\d{2})?(?:\s?[AaPp]\.?[Mm]\.?)?|\d{3,4}")


def _quoted_clock(text: str) -> str:
    return f"'{text}' is " if _CLOCK_SHAPE.fullmatch(text) else ""


def _midnight(on: date) -> datetime:
    moment = _MIDNIGHTS.get(on)
    if moment is None:
        if len(_MIDNIGHTS) > 100_000:
            _MIDNIGHTS.clear()
        moment = _MIDNIGHTS[on] = datetime(on.year, on.month, on.day)
    return moment


def crosses_midnight(start: datetime, stop: datetime) -> bool:
    """The service runs into a later date; a stop exactly at midnight still ends the day it began."""
    return start.toordinal() != stop.toordinal() and stop.time() != time(0)


def window(start: datetime, stop: datetime, stop_is_clock: bool) -> datetime:
    """The stop moment; an HH:MM stop earlier than its start crosses midnight."""
    if stop_is_clock and stop < start:
        return stop + timedelta(days=1)
    return stop


def minutes_between(start: datetime, stop: datetime) -> int:
    """Whole minutes between two documented clock times (documented to the minute)."""
    return int((stop - start).total_seconds() // 60)


def overlap_minutes(a_start: datetime, a_stop: datetime, b_start: datetime, b_stop: datetime) -> int:
    lo = a_start if a_start > b_start else b_start
    hi = a_stop if a_stop < b_stop else b_stop
    return minutes_between(lo, hi) if hi > lo else 0


def added_hours(minutes: int, threshold: str) -> int:
    """Units of the added-hour code beyond the first hour.

    Each full hour past the first is a unit; the tail past the last full hour is one more unit when it
    is more than 30 minutes (CPT, policy ``more_than_30``) or at least 30 minutes (seed page,
    ``at_least_30``).
    """
    if minutes <= MINUTES_PER_HOUR:
        return 0
    full_hours, tail = divmod(minutes - MINUTES_PER_HOUR, MINUTES_PER_HOUR)
    tail_counts = tail > ADDED_HOUR_TAIL if threshold == "more_than_30" else tail >= ADDED_HOUR_TAIL
    return full_hours + (1 if tail_counts else 0)


def hours_from_first_unit(minutes: int, threshold: str) -> int:
    """Units when every hour is an added-hour unit (hydration after another initial service, a repeat
    infusion of the same drug): the first unit needs more than 30 minutes (31+), then as added_hours."""
    if minutes <= HYDRATION_MAX_UNREPORTED:
        return 0
    return 1 + added_hours(minutes, threshold)


def on_added_hour_threshold(minutes: int) -> bool:
    """Exactly 30 minutes past a full hour (1:30, 2:30, ...): the two readings of the rule disagree here."""
    return minutes > MINUTES_PER_HOUR and (minutes - MINUTES_PER_HOUR) % MINUTES_PER_HOUR == ADDED_HOUR_TAIL


def added_units_by_date(start: datetime | None, first_unit_offset: int, units: int,
                        fallback: str | None) -> list[tuple[str | None, int]]:
    """How many of an infusion's added-hour units began on each date, in date order, so a line item carries
    the date its service was given [CMS-CLM-4-230.2]. Unit k begins ``first_unit_offset + 60*k`` minutes
    after the start. Counted per date, never per hour: the work grows with the dates covered, which the
    administration limit bounds (rules.administration)."""
    if units <= 0:
        return []
    if start is None:
        return [(fallback, units)]
    first = start + ONE_MINUTE * first_unit_offset
    last = first + ONE_MINUTE * (MINUTES_PER_HOUR * (units - 1))
    if first.date() == last.date():  # the usual case: every unit begins on one date
        return [(iso_day(first), units)]
    out: list[tuple[str | None, int]] = []
    taken = 0
    day = first.date()
    while taken < units:
        midnight = _midnight(day) + timedelta(days=1)
        # units beginning before the next midnight: k with first + 60k < midnight
        seconds = (midnight - first).total_seconds()
        before = min(units, math.ceil(seconds / 3600))
        if before > taken:
            out.append((iso_day(day), before - taken))
            taken = before
        day = midnight.date()
    return out


def threshold_words(threshold: str) -> str:
    return "more than 30 minutes" if threshold == "more_than_30" else "at least 30 minutes"


def threshold_boundary(ctx, minutes: int, ids: list[str], threshold: str) -> None:
    """A duration exactly 30 minutes past a full hour: say that the profile's reading decided it
    (policy ``added_hour_threshold``: CPT more than 30, the seed page at least 30)."""
    if not on_added_hour_threshold(minutes):
        return
    ctx.policy("added_hour_threshold")
    ctx.add_finding("timing.threshold_boundary", "info",
                    f"administration {', '.join(ids)}: {minutes} minutes is exactly 30 minutes past a full hour; "
                    f"policy added_hour_threshold={threshold} ({threshold_words(threshold)} past the hour) decided "
                    + ("that it earns an added hour" if threshold == "at_least_30" else "that it does not earn an added hour"), ids)
