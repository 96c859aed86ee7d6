"""A note cut into clauses (sentence ends, semicolons, lines), and the hits of a scan that fall inside a
span of it. Every scan of the note is done once; a clause takes its share of the hits by bisection, so
reading a clause costs nothing for the rest of the note.
"""
from __future__ import annotations

import bisect
import re

__all__ = ["find_clauses", "hits_between"]

# led by the characters it can start with: the regex engine skips every other position
_CLAUSE_END = re.compile(r"(?=[\n;.!?])(?:\n|;|(?<![A-Z][a-z])(?<!\b[A-Za-z])\.(?=\s)|!|\?(?=\s))")


def find_clauses(text: str, protected: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Clause spans; a period inside a time ("8:30 a.m. IVIG") or a date is no clause end."""
    starts = [a for a, _ in protected]
    out, lo = [], 0
    for m in _CLAUSE_END.finditer(text):
        i = bisect.bisect_right(starts, m.start()) - 1
        if i >= 0 and protected[i][1] > m.start():
            continue
        if m.start() > lo:
            out.append((lo, m.start()))
        lo = m.end()
    if lo < len(text):
        out.append((lo, len(text)))
    return out


def hits_between(hits: list, starts: list[int], a: int, b: int) -> list:
    """The hits that start in ``[a, b)``; ``starts`` are their start offsets, in order."""
    return hits[bisect.bisect_left(starts, a):bisect.bisect_left(starts, b)]
