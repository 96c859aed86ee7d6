"""Whether a mention documents something that happened: negated ("not given", "held per MD"),
planned or hypothetical ("if needed", "to be given", "Rx", "will"), or given.

A small hand-written cue table in the manner of ConText (Harkema et al. 2009, the algorithm behind
medspaCy's ConText): a cue applies to the clause it is in. A clause that says what was done at a
clock time ("given 10:15", "started 0830") is actual even when it also says "ordered" or "prn";
negation always wins ("ordered, not given").
"""
from __future__ import annotations

import re

from ...vocabulary.names import may_say

__all__ = ["ACTUAL_CUES", "HYPOTHETICAL_CUES", "NEGATION_CUES", "PLANNED_DURATION", "clause_status"]

# each cue table led by the letters its cues start with: the regex engine skips every other position
NEGATION_CUES = re.compile(
    r"(?=[nhwdrocNHWDROC])\b"
    r"(?:not\s+(?:given|administered|infused|started|done|hung|received|needed)|never\s+(?:given|started)"
    r"|held\s+(?:per|by|due|today|this)|hold\s+per|was\s+held|declined|refused|omitted|deferred|cancell?ed"
    r"|did\s+not\s+(?:receive|get|tolerate\s+start)|no\s+(?:premeds?|medications?)\s+given)\b", re.I)
HYPOTHETICAL_CUES = re.compile(
    r"(?=[iapwtscnfhdeorqbxmIAPWTSCNFHDEORQBXM])\b"
    r"(?:if\s+(?:needed|necessary|nausea|pain|fever|symptoms|tolerated|reaction)|as\s+needed|prn|may\s+(?:repeat|give)"
    r"|to\s+be\s+(?:given|administered|infused|started)|will\s+(?:give|start|receive|be|infuse|continue|return)"
    r"|plan(?:ned)?\s+to|should|would|consider|next\s+(?:visit|week|cycle|dose|infusion)|at\s+home|for\s+home"
    r"|home\s+with|discharged\s+(?:with|on)|prescribed|prescription|e-?prescribed|sent\s+to\s+pharmacy|rx"
    r"|ordered|order\s+for|scheduled|q\s?\d+\s?h|bid|tid|qid|daily|x\s?\d+\s?days)\b", re.I)
# Words that say something was done (with a clock time, they make the clause actual).
ACTUAL_CUES = re.compile(
    r"(?=[gapisbhcrRGAPISBHC])\b"
    r"(?:given|administered|pushed|injected|started|begun|began|hung|infusing|infused|completed|stopped"
    r"|connected|applied|received|ran|running|restarted|resumed)\b", re.I)
# the first words of the negation cues: a note with none of them is not searched for one (names.may_say)
NEGATION_FIRST_WORDS = frozenset({"not", "never", "held", "hold", "was", "declined", "refused", "omitted", "deferred",
                                  "cancelled", "canceled", "did", "no"})
# "to run over 30 min": the ordered duration, not the time it took.
PLANNED_DURATION = re.compile(
    r"\b(?:to\s+(?:run|infuse|be\s+infused|go|be\s+given)|ordered|scheduled|planned|set\s+to\s+run|rate\s+to\s+run)"
    r"(?:\s+\w+){0,2}?\s*$", re.I)


def clause_status(clause: str, has_time: bool, words: set[str] | None = None) -> tuple[str, re.Match | None]:
    """``("negated" | "hypothetical" | "actual", the cue)`` for one clause. ``words``: the note's words to
    skip searches on (names.gate_words)."""
    neg = NEGATION_CUES.search(clause) if may_say(words, NEGATION_FIRST_WORDS) else None
    if neg and has_time and neg.group(0).lower().startswith(("held", "was held")):
        neg = None   # "held at 1000 for hives": a pause of the running infusion, read as an event
    if neg:
        return "negated", neg
    hyp = HYPOTHETICAL_CUES.search(clause)
    if hyp and not (has_time and ACTUAL_CUES.search(clause)):
        return "hypothetical", hyp
    return "actual", None
