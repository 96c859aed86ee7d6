"""The words of drug administration documentation, shared by every reader of free or semi-structured
input (case intake, coding questions, MAR exports, spreadsheets, the web form): routes and their
abbreviations, clock times, dates, clock ranges, durations, and finding drug names in text. Core
level: no IO, no web/CLI.

    from infucode.vocabulary import find_times, route_of_words
    route_of_words("IVPB")          # ('iv_infusion', None)
    route_of_words("PO")            # (None, 'not_a_service')
"""
from __future__ import annotations

from .clock import (RANGE_WORDS, ClockRange, ClockTime, DateHit, clock_minutes, clock_of_minute, find_clock_range,
                    find_clock_ranges, find_dates, find_times, hhmm, is_range_separator, parse_timestamp)
from .durations import Duration, DurationHit, find_durations, parse_duration
from .names import NameHit, NameIndex, canonical_name
from .routes import (DEVICE_CONCEPTS, LINE_CARE_CONCEPTS, NOT_ADMINISTRATION_SERVICES, ROUTE_WORDS, UNSUPPORTED_ROUTES,
                     RouteHit, find_route_words, own_code_route, resolve_route, route_of_words)

__all__ = ["DEVICE_CONCEPTS", "LINE_CARE_CONCEPTS", "NOT_ADMINISTRATION_SERVICES", "RANGE_WORDS", "ROUTE_WORDS",
           "UNSUPPORTED_ROUTES", "ClockRange", "ClockTime", "DateHit", "Duration", "DurationHit", "NameHit", "NameIndex",
           "RouteHit", "canonical_name", "clock_minutes", "clock_of_minute", "find_clock_range", "find_clock_ranges",
           "find_dates", "find_durations", "find_route_words", "find_times", "hhmm", "is_range_separator", "own_code_route",
           "parse_duration", "parse_timestamp", "resolve_route", "route_of_words"]
