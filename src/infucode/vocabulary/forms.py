"""Spreadsheet forms of the input contract's closed-vocabulary fields, read with the same words as the MAR
reader, case intake and the web form: a route written ``IV Push``, ``IM`` or ``SQ``; a date ``7/1/2024``; a
time ``8:30 AM``; a start written ``7/1/2024 8:30 AM``. Each reader returns the contract's value and says
what it read, or None when the text is not one whole vocabulary form (then the field is left as written and
the decoder's error names it): free text is never guessed at.

    read_route("IV Push")     # 'iv_push'
    read_date("7/1/2024")     # '2024-07-01'
    read_clock("8:30 AM")     # '08:30'
    read_clock("7/1/2024 8:30 PM")   # '2024-07-01T20:30'
"""
from __future__ import annotations

import re

from .clock import find_dates, find_times
from .routes import ENGINE_ROUTES, find_route_words, resolve_route

__all__ = ["CONTRACT_CLOCK", "CONTRACT_DATE", "read_clock", "read_date", "read_route", "read_word", "route_words_only"]

# What the contract already takes as written (the engine's own forms): never rewritten, never reported.
CONTRACT_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
CONTRACT_CLOCK = re.compile(r"\d{1,2}:\d{2}|\d{4}|\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:?\d{2})?")
# Between the words of a route cell ("IV - Push", "SQ/SC"): nothing else may be left over.
_FILLER = re.compile(r"[\s/,.()\-]*")
_LONGEST = 60  # longer than any form of a route, date or time: free text, never read


def route_words_only(text: str) -> list[str] | None:
    """The route concepts of a cell written in route words only ("IV Push", "PO", "SQ/SC"); None when anything
    else is written in it (then it may be free text)."""
    if not isinstance(text, str) or len(text) > _LONGEST:
        return None
    hits = find_route_words(text)
    if not hits:
        return None
    rest, at = [], 0
    for h in hits:
        rest.append(text[at:h.start])
        at = h.end
    rest.append(text[at:])
    return [h.concept for h in hits] if all(_FILLER.fullmatch(piece) for piece in rest) else None


def read_route(text: str) -> str | None:
    """The engine route of a route cell that is route words only ("IV Infusion", "IV Push", "IM", "SQ",
    "Subcutaneous"); None for anything else (oral and other non-services included: the decoder refuses them)."""
    concepts = route_words_only(text)
    if concepts is None:
        return None
    route, problem = resolve_route(concepts)
    return route if problem is None and route in ENGINE_ROUTES else None


def read_word(text: str, allowed: tuple[str, ...]) -> str | None:
    """One of ``allowed`` written in other capitals or with spaces ("Office", "IV Infusion" -> "iv_infusion")."""
    if not isinstance(text, str) or len(text) > _LONGEST:
        return None
    word = "_".join(text.strip().lower().replace("-", " ").split())
    return word if word in allowed else None


def read_date(text: str) -> str | None:
    """YYYY-MM-DD of a date written as a whole cell ("7/1/2024", "07/01/2024", "Jul 1, 2024"); None otherwise."""
    if not isinstance(text, str) or len(text) > _LONGEST:
        return None
    stripped = text.strip()
    hits = find_dates(stripped)
    if len(hits) != 1 or (hits[0].start, hits[0].end) != (0, len(stripped)):
        return None
    return hits[0].value


def read_clock(text: str) -> str | None:
    """A start/stop written as a whole cell: "8:30 AM" -> "08:30"; "7/1/2024 8:30 AM" -> "2024-07-01T08:30".
    None when it is not one time (and at most one date before it)."""
    if not isinstance(text, str) or len(text) > _LONGEST:
        return None
    stripped = text.strip()
    dates = find_dates(stripped)
    if len(dates) > 1 or (dates and dates[0].start != 0):
        return None
    skip = [(d.start, d.end) for d in dates]
    times = find_times(stripped, skip)
    if len(times) != 1 or times[0].end != len(stripped):
        return None
    between = stripped[dates[0].end:times[0].start] if dates else stripped[:times[0].start]
    if not re.fullmatch(r"[\sT,@]*" if dates else "", between):
        return None
    return f"{dates[0].value}T{times[0].value}" if dates else times[0].value
