"""Whether a mention documents something that happened: negated ("not given", "held per MD"),
planned or hypothetical ("if needed", "to be given", "Rx", "will"), or given.

A small hand-written cue table in the manner of ConText (Harkema et al. 2009, the algorithm behind
medspaCy's ConText): a cue applies to the clause it is in. A clause that says what was done at a
clock time ("given 10:15", "started 0830") is actual even when it also says "ordered" or "prn";
negation always wins ("ordered, not given").
"""
from __future__ import annotations

import re
from typing import NamedTuple

from ...vocabulary.names import LONG_NOTE_CHARS, WordAlternation

__all__ = ["ACTUAL_CUES", "ALL_CUES", "ClauseCues", "HYPOTHETICAL_CUES", "NEGATION_CUES", "PLANNED_DURATION",
           "clause_cues", "clause_status"]

# Each cue table: (its first words, the cue). A note is searched only for the cues whose first words it has
# (names.WordAlternation); the order is the order of preference at one place.
NEGATION = WordAlternation([
    (["not"], r"not\s+(?:given|administered|infused|started|done|hung|received|needed)"),
    (["never"], r"never\s+(?:given|started)"),
    (["held"], r"held\s+(?:per|by|due|today|this)"), (["hold"], r"hold\s+per"), (["was"], r"was\s+held"),
    (["declined"], "declined"), (["refused"], "refused"), (["omitted"], "omitted"), (["deferred"], "deferred"),
    (["cancelled", "canceled"], "cancell?ed"),
    (["did"], r"did\s+not\s+(?:receive|get|tolerate\s+start)"),
    (["no"], r"no\s+(?:premeds?|medications?)\s+given"),
])
HYPOTHETICAL = WordAlternation([
    (["if"], r"if\s+(?:needed|necessary|nausea|pain|fever|symptoms|tolerated|reaction)"), (["as"], r"as\s+needed"),
    (["prn"], "prn"), (["may"], r"may\s+(?:repeat|give)"), (["to"], r"to\s+be\s+(?:given|administered|infused|started)"),
    (["will"], r"will\s+(?:give|start|receive|be|infuse|continue|return)"), (["plan", "planned"], r"plan(?:ned)?\s+to"),
    (["should"], "should"), (["would"], "would"), (["consider"], "consider"),
    (["next"], r"next\s+(?:visit|week|cycle|dose|infusion)"), (["at"], r"at\s+home"), (["for"], r"for\s+home"),
    (["home"], r"home\s+with"), (["discharged"], r"discharged\s+(?:with|on)"), (["prescribed"], "prescribed"),
    (["prescription"], "prescription"), (["e", "eprescribed"], "e-?prescribed"),
    (["sent"], r"sent\s+to\s+pharmacy"), (["rx"], "rx"), (["ordered"], "ordered"), (["order"], r"order\s+for"),
    (["scheduled"], "scheduled"), (None, r"q\s?\d+\s?h"), (["bid"], "bid"), (["tid"], "tid"), (["qid"], "qid"),
    (["daily"], "daily"), (None, r"x\s?\d+\s?days"),
])
# Words that say something was done (with a clock time, they make the clause actual).
ACTUAL = WordAlternation([([w], w) for w in (
    "given", "administered", "pushed", "injected", "started", "begun", "began", "hung", "infusing", "infused",
    "completed", "stopped", "connected", "applied", "received", "ran", "running", "restarted", "resumed")])
NEGATION_CUES, HYPOTHETICAL_CUES, ACTUAL_CUES = NEGATION.full, HYPOTHETICAL.full, ACTUAL.full


class ClauseCues(NamedTuple):
    """The cue tables one note is searched with (None: the note has none of that table's cues)."""

    negation: re.Pattern | None
    hypothetical: re.Pattern | None
    actual: re.Pattern | None


ALL_CUES = ClauseCues(NEGATION_CUES, HYPOTHETICAL_CUES, ACTUAL_CUES)


def clause_cues(text: str, words: set[str] | None) -> ClauseCues:
    """The cue tables for a note: only the cues whose first words it has (``words``: names.gate_words)."""
    if words is None or len(text) < LONG_NOTE_CHARS:
        return ALL_CUES
    return ClauseCues(NEGATION.for_words(words), HYPOTHETICAL.for_words(words), ACTUAL.for_words(words))


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
