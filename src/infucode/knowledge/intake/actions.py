"""The action words of a note (hung/started, given, rate change, held, restarted, new bag,
completed/stopped, and line care) and which action each clock time documents.

The action names are the MAR fold's, plus "line" for line care (access, flush, lock, removal), which is
no event of a drug. A time is labelled by the nearest action word around it in its clause; a range
("0830-1245") is a start and a stop, or a pause and a restart ("held 1015-1030").
"""
from __future__ import annotations

import functools
import re
from bisect import bisect_left

from ...vocabulary import ClockTime, is_range_separator
from ...vocabulary.names import (LONG_NOTE_CHARS, ascii_classes_hold, char_places, distinct_words, folds_to_ascii,
                                 letter_runs, word_places)
from .clauses import hits_between

__all__ = ["ACTION_FIRST_RUNS", "ACTION_RE", "find_actions", "label_times"]

# action words -> event action (the MAR fold's action names, plus "line" for line care)
_ACTION_WORDS: list[tuple[str, str]] = [
    ("paused", r"held|paused|on hold|interrupted|stopped\s+temporarily|temporarily\s+stopped"),
    ("restarted", r"re-?started|resumed|restart(?:s|ing)?|resume"),
    ("new_bag", r"new\s+bag|bag\s+(?:changed|change|#?\s*2)|(?:second|2nd|another|next)\s+(?:bag|liter|litre|l\b)|re-?hung"
                r"|#\s*[2-9]\s+(?:hung|started|up|on)"),
    ("rate_change", r"rate\s+(?:increased|decreased|changed|titrated|adjusted|up|down|to|inc|dec|\d)|titrated|titration"
                    r"|increased|decreased|(?:inc|dec)\s+rate|advanced|rate\s+change"),
    ("stopped", r"complete[ds]?|completion|stop(?:ped|s)?|end(?:ed|s)?|finish(?:ed|es)?|done|off|d/?c'?d|dc'?ed"
                r"|discontinued|infused\s+by|ran\s+until|disconnected|until|till"
                # "1105 Actemra infused.": the infusion is in (not "infused over 30 min", "infused at 100 mL/h")
                r"|(?<!being )infused(?!\s+(?:over|at|@|via|with|per|into|through|in|on|\d))"),
    ("start", r"start(?:ed|s|ing)?|strt|begin|began|begun|initiated|init|hung|commenced|infusing|running"
              r"|connected|applied|attached|on\s+at|from"),
    # "pt flushed, itchy": the patient's skin (a reaction), not a line flush
    ("line", r"accessed|access|de-?accessed|placed|inserted|(?<!pt )(?<!patient )(?<!face )flushed|flush|locked"
             r"|hep\s*lock|removed|pulled|blood\s+return"
             r"|labs?\s+drawn|drawn|vitals?|vs\b|assessed"),
    ("given", r"given|administered|pushed|injected|push|at|@"),
]
# the lookahead lets the regex engine skip the positions no action word can start at (2x faster per MB)
ACTION_RE = re.compile(r"(?=[A-Za-z#@])(?<![A-Za-z])(?:" + "|".join(f"(?P<{a}>{p})" for a, p in _ACTION_WORDS) + r")(?![A-Za-z])", re.I)

# The first letter run of every phrase of _ACTION_WORDS (a phrase starts at a run of letters, or at "#" or "@").
# Only the runs of a note that are in this set are tried: the action scan is then about twice as fast per MB.
# tests/test_intake_events.py checks that the scan finds what one pass of ACTION_RE finds.
ACTION_FIRST_RUNS = frozenset("""
    held paused on interrupted stopped temporarily
    re restarted started resumed restart restarts restarting resume
    new bag second another next rehung hung
    rate titrated titration increased decreased inc dec advanced
    complete completes completed completion stop stops end ended ends finish finished finishes done off d dc dcd
    discontinued infused ran disconnected until till
    start starts starting strt begin began begun initiated init commenced infusing running connected applied
    attached from
    accessed access de deaccessed placed inserted flushed flush locked hep heplock removed pulled blood labs lab
    drawn vitals vital vs assessed
    given administered pushed injected push at""".split())


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a regex ("a|b(?:c|d)" -> ["a", "b(?:c|d)"]); joined by "|" they are the
    pattern again."""
    out, depth, start, i, in_class = [], 0, 0, 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            out.append(pattern[start:i])
            start = i + 1
        i += 1
    out.append(pattern[start:])
    return out


_LOOKBEHIND = re.compile(r"\(\?<[!=][^()]*\)")


def _leading_letters(phrase: str) -> str:
    """The letters every match of ``phrase`` starts with, lower case ("re-?started" -> "re", "hours?" ->
    "hour", "(?:second|2nd)..." -> ""): its leading lookbehinds skipped, up to the first letter that is not
    plainly there."""
    while (m := _LOOKBEHIND.match(phrase)) is not None:
        phrase = phrase[m.end():]
    out = []
    for i, c in enumerate(phrase):
        if not c.isascii() or not c.isalpha() or phrase[i + 1:i + 2] in ("?", "*", "+", "{"):
            break
        out.append(c.lower())
    return "".join(out)


_PHRASES = [(kind, [(p, _leading_letters(p)) for p in _alternatives(pattern)]) for kind, pattern in _ACTION_WORDS]


@functools.lru_cache(maxsize=64)
def _action_re_for(keys: frozenset[str], ascii_classes: bool = False) -> re.Pattern:
    """ACTION_RE with only the phrases that can start where a text starts with one of ``keys`` (the first
    runs of ACTION_FIRST_RUNS a note has, "#", "@"): the phrases whose leading letters agree with a key, in
    the same order and groups. At a place the scan finds, it matches exactly what ACTION_RE matches (a
    phrase left out cannot start there); trying the whole alternation at each of a long note's action words
    was most of the cost of finding them. ``ascii_classes``: compiled with re.ASCII, for a note where
    names.ascii_classes_hold."""
    groups = []
    for kind, phrases in _PHRASES:
        kept = [p for p, lead in phrases if any(k.startswith(lead) or lead.startswith(k) for k in keys)]
        if kept:
            groups.append(f"(?P<{kind}>" + "|".join(kept) + ")")
    return re.compile(r"(?=[A-Za-z#@])(?<![A-Za-z])(?:" + "|".join(groups) + r")(?![A-Za-z])",
                      re.I | re.A if ascii_classes else re.I)


def find_actions(text: str, words: set[str] | None = None) -> list[re.Match]:
    """The action words of ``text`` as one ``ACTION_RE.finditer`` pass finds them, trying the regex only
    where a phrase can start: at the runs of letters that begin one (found with one small alternation of
    the runs the text has), and at "#" and "@". ``words``: the text's :func:`distinct_words`, when the
    caller has them."""
    if folds_to_ascii(text):
        return list(ACTION_RE.finditer(text))     # "ſtarted": a letter only the full scan folds to ASCII
    if words is None:
        words = distinct_words(text)
    runs = letter_runs(words) & ACTION_FIRST_RUNS
    if "#" not in text and "@" not in text and not runs:
        return []
    places = [a for a, _ in word_places(text, runs, words, letters=True, prefix=True)]
    # "#" and "@" not after an ASCII letter (the lookbehind of ACTION_RE)
    marks = [a for a in char_places(text, "#@") if not (a and text[a - 1].isascii() and text[a - 1].isalpha())]
    if marks:
        places = sorted(places + marks)
    out: list[re.Match] = []
    skip_to = 0
    match = ACTION_RE.match if len(text) < LONG_NOTE_CHARS else \
        _action_re_for(frozenset(runs | {"#", "@"}), ascii_classes_hold(text)).match
    for a in places:
        if a < skip_to:
            continue
        m = match(text, a)
        if m is not None:
            out.append(m)
            skip_to = m.end()
    return out


_PAUSE_BEFORE = re.compile(r"\b(?:held|paused|on hold|interrupted|stopped)\s*(?:from\s*)?$", re.I)
# bounded repeats: matched at every mention, so the cost of one match must not grow with a long run of text
_STOP_RIGHT_AFTER = re.compile(r"\s{0,20}(?:\w{1,30}\s{1,20}){0,2}?(?:complete[ds]?|done|finished|infused|in)\b", re.I)
_NEXT_BAG = re.compile(r"\b(?:2nd|second|3rd|third|#\s*[2-9]|another|next|new)\b", re.I)
_WEAK_LINK = re.compile(r"[.,]\s")
# How far after a time the reader looks for the next bag being hung ("0020 #1 complete, KCl #2 hung") and for
# the action of a line-leading time ("0900 Paclitaxel 175 mg/m2 in 500 mL NS IV infusion started"), in
# characters. Bounded, so a clause that never ends (no line or sentence break in 30 KB) costs each time a
# fixed look, not a pass over the rest of the clause.
NEXT_BAG_REACH = 120
LEAD_REACH = 160


def label_times(text: str, times: list[ClockTime], a: int, b: int, actions: list[re.Match],
                action_starts: list[int], kinds: set[str] | None = None) -> list[tuple[ClockTime, str | None]]:
    """Each time of the clause ``[a, b)`` with the action it documents (None: no action word near it).
    ``actions``: the note's action words (or the clause's), ``action_starts`` their starts; only those
    inside the clause are read. ``kinds``: the kinds of all of ``actions`` (their ``lastgroup``), when the
    caller has them: a note with no new bag is not searched for one near each start."""
    out: list[tuple[ClockTime, str | None]] = []
    n = len(times)
    unlabelled = False
    i = 0
    while i < n:
        t = times[i]
        ts, te = t.start, t.end
        if i + 1 < n and is_range_separator(text[te:times[i + 1].start]):
            # "0830-1245", "from 0830 until 1245": a start and a stop; "held 1015-1030": a pause and a restart
            held = _PAUSE_BEFORE.search(text, max(a, ts - 20), ts)
            out += [(t, "paused"), (times[i + 1], "restarted")] if held else [(t, "start"), (times[i + 1], "stopped")]
            i += 2
            continue
        lo = ts - 40 if ts - 40 > a else a
        if i and times[i - 1].end > lo:
            lo = times[i - 1].end
        hi = te + 35 if te + 35 < b else b
        if i + 1 < n and times[i + 1].start < hi:
            hi = times[i + 1].start
        # the nearest action word wins: the gap in characters, twice, plus one when it comes after the time
        best: tuple[int, str | None, int] | None = None
        for m in actions[bisect_left(action_starts, lo):bisect_left(action_starts, hi)]:
            ms, me = m.span()
            if ts <= ms < te:
                continue
            if me <= ts:
                between, gap, after = text[me:ts], ts - me, 0
            else:
                between, gap, after = text[te:ms], ms - te + 3, 1
            if ("," in between or "." in between) and _WEAK_LINK.search(between):
                gap += 30       # a comma or period between the word and the time weakens the link
            kind = m.lastgroup
            if kind == "given" and m.group(0).lower() in ("at", "@"):
                gap += 20       # "at" is weaker than a real action word
            elif kind == "new_bag" and _STOP_RIGHT_AFTER.match(text, me):
                kind = "stopped"     # "1230 second liter complete": the bag is named, the action is its end
            score = 2 * gap + after
            if best is None or score < best[0]:
                best = (score, kind, me)
        if best is None and not text[a:ts].strip():
            # a flowsheet line "0900 Paclitaxel ... IV infusion started": the time leads the clause
            lead = next((m.lastgroup for m in hits_between(actions, action_starts, te, min(b, te + LEAD_REACH))
                         if m.lastgroup not in ("line",) and m.group(0).lower() not in ("at", "@")), None)
            best = (0, lead, te) if lead else None
        kind = best[1] if best else None
        if kind == "start" and (kinds is None or "new_bag" in kinds) and \
                any(m.lastgroup == "new_bag" for m in hits_between(actions, action_starts, max(a, ts - 40), hi)):
            kind = "new_bag"     # "second liter NS hung 1420": a new bag, not a new drug
        elif kind == "stopped" and any(
                m.lastgroup == "new_bag" or (m.lastgroup == "start" and _NEXT_BAG.search(text, te, m.start()))
                for m in hits_between(actions, action_starts, max(te, best[2]), min(b, te + NEXT_BAG_REACH))
                if not _STOP_RIGHT_AFTER.match(text, m.end())):
            # "0020 #1 complete, KCl #2 hung", "1st run complete, 2nd KCl hung": one bag ends as the next is
            # hung; the order runs on
            kind = "new_bag"
        elif kind is None:
            unlabelled = True
        out.append((t, kind))
        i += 1
    if not unlabelled:
        return out
    # a line-leading time repeated by a range of the same value ("0840 ... 0840-0855") is one time
    starts = {t.value for t, k in out if k == "start"}
    return [(t, k) for t, k in out if not (k is None and t.value in starts)]
