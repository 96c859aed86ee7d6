"""Whether a mention documents something that happened: negated ("not given", "held per MD"),
planned or hypothetical ("if needed", "to be given", "Rx", "will"), or given.

A small hand-written cue table in the manner of ConText (Harkema et al. 2009, the algorithm behind
medspaCy's ConText): a cue applies to the clause it is in. A clause that says what was done at a
clock time ("given 10:15", "started 0830") is actual even when it also says "ordered" or "prn";
negation always wins ("ordered, not given").
"""
from __future__ import annotations

import re
from bisect import bisect_left
from typing import NamedTuple

from ...vocabulary.names import LONG_NOTE_CHARS, WordAlternation, phrase, word_places

__all__ = ["ACTUAL_CUES", "ALL_CUES", "ClauseCues", "HYPOTHETICAL_CUES", "NEGATION_CUES", "PLANNED_DURATION",
           "clause_cues", "clause_status", "status_between"]

# Each cue table: its phrases, each with its first words and the later words it needs (names.phrase). A note
# is searched only for the phrases it can hold, and only in the clauses where one can start; the order is the
# order of preference at one place.
NEGATION = WordAlternation([
    phrase(["not"], r"not\s+(?:given|administered|infused|started|done|hung|received|needed)",
           ["given", "administered", "infused", "started", "done", "hung", "received", "needed"]),
    phrase(["never"], r"never\s+(?:given|started)", ["given", "started"]),
    phrase(["held"], r"held\s+(?:per|by|due|today|this)", ["per", "by", "due", "today", "this"]),
    phrase(["hold"], r"hold\s+per", ["per"]), phrase(["was"], r"was\s+held", ["held"]),
    phrase(["declined"], "declined"), phrase(["refused"], "refused"), phrase(["omitted"], "omitted"),
    phrase(["deferred"], "deferred"), phrase(["cancelled", "canceled"], "cancell?ed"),
    phrase(["did"], r"did\s+not\s+(?:receive|get|tolerate\s+start)", ["not"], ["receive", "get", "tolerate"]),
    phrase(["no"], r"no\s+(?:premeds?|medications?)\s+given", ["premed", "premeds", "medication", "medications"],
           ["given"]),
])
HYPOTHETICAL = WordAlternation([
    phrase(["if"], r"if\s+(?:needed|necessary|nausea|pain|fever|symptoms|tolerated|reaction)",
           ["needed", "necessary", "nausea", "pain", "fever", "symptoms", "tolerated", "reaction"]),
    phrase(["as"], r"as\s+needed", ["needed"]), phrase(["prn"], "prn"),
    phrase(["may"], r"may\s+(?:repeat|give)", ["repeat", "give"]),
    phrase(["to"], r"to\s+be\s+(?:given|administered|infused|started)", ["be"],
           ["given", "administered", "infused", "started"]),
    phrase(["will"], r"will\s+(?:give|start|receive|be|infuse|continue|return)",
           ["give", "start", "receive", "be", "infuse", "continue", "return"]),
    phrase(["plan", "planned"], r"plan(?:ned)?\s+to", ["to"]),
    phrase(["should"], "should"), phrase(["would"], "would"), phrase(["consider"], "consider"),
    phrase(["next"], r"next\s+(?:visit|week|cycle|dose|infusion)", ["visit", "week", "cycle", "dose", "infusion"]),
    phrase(["at"], r"at\s+home", ["home"]), phrase(["for"], r"for\s+home", ["home"]),
    phrase(["home"], r"home\s+with", ["with"]), phrase(["discharged"], r"discharged\s+(?:with|on)", ["with", "on"]),
    phrase(["prescribed"], "prescribed"), phrase(["prescription"], "prescription"),
    phrase(["e", "eprescribed"], "e-?prescribed"),
    phrase(["sent"], r"sent\s+to\s+pharmacy", ["to"], ["pharmacy"]), phrase(["rx"], "rx"),
    phrase(["ordered"], "ordered"), phrase(["order"], r"order\s+for", ["for"]), phrase(["scheduled"], "scheduled"),
    phrase(None, r"q\s?\d+\s?h", runs=["q"]), phrase(["bid"], "bid"), phrase(["tid"], "tid"), phrase(["qid"], "qid"),
    phrase(["daily"], "daily"), phrase(None, r"x\s?\d+\s?days", runs=["x"]),
])
# Words that say something was done (with a clock time, they make the clause actual).
ACTUAL = WordAlternation([([w], w) for w in (
    "given", "administered", "pushed", "injected", "started", "begun", "began", "hung", "infusing", "infused",
    "completed", "stopped", "connected", "applied", "received", "ran", "running", "restarted", "resumed")])
NEGATION_CUES, HYPOTHETICAL_CUES, ACTUAL_CUES = NEGATION.full, HYPOTHETICAL.full, ACTUAL.full


class ClauseCues(NamedTuple):
    """The cue tables one note is searched with (None: the note has none of that table's cues), and the
    places in the note where a negation or hypothetical cue can start, in order (None: anywhere)."""

    negation: re.Pattern | None
    hypothetical: re.Pattern | None
    actual: re.Pattern | None
    places: list[int] | None = None


ALL_CUES = ClauseCues(NEGATION_CUES, HYPOTHETICAL_CUES, ACTUAL_CUES)


def clause_cues(text: str, words: set[str] | None) -> ClauseCues:
    """The cue tables for a note: only the cues it can hold (``words``: names.gate_words), and where they can
    start."""
    if words is None or len(text) < LONG_NOTE_CHARS:
        return ALL_CUES
    places = None
    starts = [NEGATION.starts_for(words), HYPOTHETICAL.starts_for(words)]
    if None not in starts:
        firsts = starts[0][0] | starts[1][0]
        runs = starts[0][1] | starts[1][1]
        places = sorted([p for p, _ in word_places(text, firsts, words)] +
                        [p for p, _ in word_places(text, runs, words, letters=True)])
    return ClauseCues(NEGATION.for_words(words), HYPOTHETICAL.for_words(words), ACTUAL.for_words(words), places)


_ACTUAL = ("actual", None)


def status_between(text: str, a: int, b: int, has_time: bool, cues: ClauseCues = ALL_CUES
                   ) -> tuple[str, re.Match | None]:
    """:func:`clause_status` of the clause ``text[a:b]``: a clause where no cue can start is not searched."""
    places = cues.places
    if places is not None:
        i = bisect_left(places, a)
        if i == len(places) or places[i] >= b:
            return _ACTUAL
    return clause_status(text[a:b], has_time, cues)


# "to run over 30 min": the ordered duration, not the time it took.
PLANNED_DURATION = re.compile(
    r"\b(?:to\s+(?:run|infuse|be\s+infused|go|be\s+given)|ordered|scheduled|planned|set\s+to\s+run|rate\s+to\s+run)"
    r"(?:\s+\w+){0,2}?\s*$", re.I)


def clause_status(clause: str, has_time: bool, cues: ClauseCues = ALL_CUES) -> tuple[str, re.Match | None]:
    """``("negated" | "hypothetical" | "actual", the cue)`` for one clause; ``cues``: the note's
    (:func:`clause_cues`)."""
    neg = cues.negation.search(clause) if cues.negation is not None else None
    if neg and has_time and neg.group(0).lower().startswith(("held", "was held")):
        neg = None   # "held at 1000 for hives": a pause of the running infusion, read as an event
    if neg:
        return "negated", neg
    hyp = cues.hypothetical.search(clause) if cues.hypothetical is not None else None
    if hyp and not (has_time and cues.actual is not None and cues.actual.search(clause)):
        return "hypothetical", hyp
    return "actual", None
