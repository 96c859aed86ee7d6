"""Durations and clock ranges as coders write them (vocabulary/durations.py)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infucode.vocabulary.durations import clock_minutes, find_clock_range, find_durations, parse_duration


@pytest.mark.parametrize("text,minutes", [
    ("1 hour 45 minutes", 105), ("1h45", 105), ("1 hr 45 min", 105), ("105 min", 105), ("1.75 hours", 105),
    ("1 hour and 45 mins", 105), ("1hr45min", 105), ("1:45 hrs", 105), ("2h15m", 135), ("3hrs", 180),
    ("1 1/2 hrs", 90), ("an hour and a half", 90), ("half an hour", 30), ("two hours", 120), ("an hour", 60),
    ("ran 45 minuets", 45), ("infused over 15 minutes", 15), ("1000 mL over 2 hrs", 120),
    ("1 hour 30 units", 60),          # "30" counts units, not minutes
    ("to run over 46 h.\n07/17/2024 1040", 2760),   # the next line's date is not 7 more minutes
    ("x 2 hr 07/17", 120), ("over 1 h 30", 90), ("1 h, 30 min", 90),
    ("over 1 h\n30 min later VS stable", 60),       # the minutes are on another line: not this duration's
    ("no time here", None), ("J1569 500 mg", None),
])
def test_parse_duration(text, minutes):
    assert parse_duration(text) == minutes


@pytest.mark.parametrize("text,start,stop,minutes", [
    ("08:30 to 12:45", "08:30", "12:45", 255),
    ("from 0830-1245", "08:30", "12:45", 255),
    ("8:30 AM - 12:45 PM", "08:30", "12:45", 255),
    ("8:30am-12:45pm", "08:30", "12:45", 255),
    ("8:30a-12:45p", "08:30", "12:45", 255),
    ("between 0830 and 1245", "08:30", "12:45", 255),
    ("started 08:30 stopped 12:45", "08:30", "12:45", 255),
    ("start 0830, stop at 1245", "08:30", "12:45", 255),
    ("08:30–12:45", "08:30", "12:45", 255),
    ("1:00 - 3:00 PM", "13:00", "15:00", 120),          # the PM marker covers both times
    ("12:15 AM to 1:00 AM", "00:15", "01:00", 45),
    ("22:00 to 01:30", "22:00", "01:30", 210),          # crosses midnight, as the engine counts it
    ("0830-1245 a 4 hour thing", "08:30", "12:45", 255),  # "a" is a word, not a.m.
])
def test_clock_ranges(text, start, stop, minutes):
    r = find_clock_range(text)
    assert (r.start, r.stop, r.minutes) == (start, stop, minutes)


@pytest.mark.parametrize("text", ["2024-07-01", "96365 and 96366", "J1569-2000", "1000 mL to 500 mL", "08:30 to 08:30"])
def test_not_clock_ranges(text):
    assert find_clock_range(text) is None


def test_a_clock_range_is_not_a_duration():
    assert find_durations("08:30 to 12:45") == []
    assert [d.minutes for d in find_durations("vanco 08:30 to 10:15 then zosyn over 30 min")] == [30]


@given(st.integers(0, 12), st.integers(0, 59), st.sampled_from(["{h} hours {m} minutes", "{h}h{m}m", "{h} hr {m} min",
                                                                 "{h}hrs {m}mins", "{h} hour and {m} minutes"]))
def test_hours_and_minutes_written_any_way(h, m, form):
    assert parse_duration(form.format(h=h, m=m)) == h * 60 + m


@given(st.integers(0, 23), st.integers(0, 59), st.integers(0, 23), st.integers(0, 59))
def test_clock_range_minutes_are_wall_clock_minutes(h1, m1, h2, m2):
    a, b = h1 * 60 + m1, h2 * 60 + m2
    r = find_clock_range(f"{h1:02d}:{m1:02d} to {h2:02d}:{m2:02d}")
    if a == b:
        assert r is None
        return
    assert r.minutes == (b - a) % 1440 == clock_minutes(r.start, r.stop)
    assert find_clock_range(f"from {h1:02d}{m1:02d}-{h2:02d}{m2:02d}").minutes == r.minutes
