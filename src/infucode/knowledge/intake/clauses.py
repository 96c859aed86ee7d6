"""A note cut into clauses (sentence ends, semicolons, lines), and the hits of a scan that fall inside a
span of it. Every scan of the note is done once; a clause takes its share of the hits by bisection, so
reading a clause costs nothing for the rest of the note.
"""
from __future__ import annotations

import bisect
import re

__all__ = ["find_clauses", "hits_between", "hits_by_clause"]

# A line break, semicolon or "!"; a period or "?" before a space, a period not after an abbreviation ("Dr.",
# "a.m."). The character is matched first and looked back at: a pattern that starts with a plain character
# class lets the regex engine jump from one such character to the next.
_CLAUSE_END = re.compile(r"[\n;.!?](?:(?<=\.)(?<![A-Z][a-z]\.)(?<!\b[A-Za-z]\.)(?=\s)|(?<=\?)(?=\s)|(?<=[\n;!]))")


def find_clauses(text: str, protected: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Clause spans; a period inside a time ("8:30 a.m. IVIG") or a date is no clause end. ``protected``:
    the spans of the times and dates, in order."""
    cuts = [m.start() for m in _CLAUSE_END.finditer(text)]     # every clause end is one character
    if protected:
        starts = [a for a, _ in protected]
        ends = [b for _, b in protected]
        find = bisect.bisect_right
        # the cuts inside a span, found span by span (a note has fewer times and dates than clause ends); each
        # is dropped when the span starting last before it covers it
        inside = []
        n = len(cuts)
        for a, b in protected:
            k = bisect.bisect_left(cuts, a)
            while k < n and cuts[k] < b:
                c = cuts[k]
                if ends[find(starts, c) - 1] > c:
                    inside.append(k)
                k += 1
        if inside:
            dropped = set(inside)
            cuts = [c for k, c in enumerate(cuts) if k not in dropped]
    lows = [0] + [c + 1 for c in cuts]
    cuts.append(len(text))
    return [(lo, c) for lo, c in zip(lows, cuts) if c > lo]


def hits_between(hits: list, starts: list[int], a: int, b: int) -> list:
    """The hits that start in ``[a, b)``; ``starts`` are their start offsets, in order."""
    return hits[bisect.bisect_left(starts, a):bisect.bisect_left(starts, b)]


def hits_by_clause(clauses: list[tuple[int, int]], clause_starts: list[int], hits: list, starts: list[int]
                   ) -> dict[int, list]:
    """The hits of each clause that has any (clause index -> its hits, in order): one bisection per hit,
    where asking each clause costs two, and most clauses of a long note have none."""
    out: dict[int, list] = {}
    find = bisect.bisect_right
    for h, s in zip(hits, starts):
        i = find(clause_starts, s) - 1
        if i >= 0 and s < clauses[i][1]:
            got = out.get(i)
            if got is None:
                out[i] = [h]
            else:
                got.append(h)
    return out
