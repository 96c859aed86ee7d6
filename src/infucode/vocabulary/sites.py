"""Where a drug goes in: the words of IV access devices, of the body places of a peripheral line or a shot,
and of the side. One table, read by the note's site reader (knowledge.intake.segments), by the clock-time
reader (an "L" before a body place is the left side, not litres) and by the route guess from an IV site.

Each entry is a regular-expression alternative; the order inside a tuple is the order of preference
("upper arm" before "arm", "gluteal" before "glute").
"""
from __future__ import annotations

import re

__all__ = ["ACCESS_DEVICES", "INJECTION_PLACES", "PERIPHERAL_DEVICE", "PERIPHERAL_PLACES", "SIDE", "SIDES", "SIDE_BEFORE",
           "SIDE_WORDS", "SITE", "SITE_FIRST_WORDS", "access_kind", "peripheral_place"]

SIDE_WORDS = ("L", "R", "left", "right", "lt", "rt")
SIDES = {"l": "left", "lt": "left", "left": "left", "r": "right", "rt": "right", "right": "right"}
# body places of a peripheral IV line, and those where shots are given (never an IV access)
PERIPHERAL_PLACES = ("forearm", "hand", "antecubital", "AC", "wrist", "upper arm", "arm", "FA")
INJECTION_PLACES = ("deltoid", "thigh", "gluteal", "glute", "abdomen", "abd", "ventrogluteal", "vastus lateralis",
                    "buttock", "hip")
# IV access devices by kind ("port-a-cath" may be written "porta-cath" or "portacath")
ACCESS_DEVICES = (
    ("port", ("port-?a-?cath", "mediport", "implanted port", "chest port", "port")),
    ("picc", ("PICC(?: line)?",)),
    ("central line", ("central line", "CVC")),
    ("midline", ("midline",)),
    ("peripheral", ("PIV", "peripheral IV")),
)
# what may follow a body place to say it is a peripheral line: a device word or a catheter gauge ("20g")
_LINE_AFTER_PLACE = r"PIV|IV|peripheral IV|\d{2}\s*g(?:a|auge)?"
PERIPHERAL_DEVICE = re.compile(r"\b(?:PIV|IV|peripheral IV|\d{2}\s*g)", re.I)

SIDE = "(?:" + "|".join(SIDE_WORDS) + ")"
_PLACES = (*PERIPHERAL_PLACES[:-1], *INJECTION_PLACES, PERIPHERAL_PLACES[-1])   # "FA" last, as first written
_DEVICES = tuple(w for _, words in ACCESS_DEVICES for w in words)
_ALTERNATIVES = (*SIDE_WORDS, *_PLACES, *_DEVICES)


def _first_letters(alternatives) -> str:
    letters = {a[0].lower() for a in alternatives}
    return "".join(sorted(letters | {c.upper() for c in letters}))


# A site as a note writes it: an optional side and a body place with the line's words after it, or a device.
# Led by the characters a site can start with: the regex engine skips every other position.
SITE = re.compile(
    rf"(?=[{_first_letters(_ALTERNATIVES)}])(?:\b(?:{SIDE}\.?\s+)?(?:{'|'.join(_PLACES)})\b(?:\s+(?:{_LINE_AFTER_PLACE}))*"
    rf"|\b(?:{'|'.join(_DEVICES)})\b)",
    re.I)
# The words a site can start with (a side, a body place, a device, and "porta"/"portacath" for the port's other
# spellings): a long note is scanned once for the ones it has; a segment with none is not searched.
SITE_FIRST_WORDS = frozenset(
    {w.lower() for w in SIDE_WORDS} | {p.split()[0].lower() for p in _PLACES}
    | {re.sub(r"[-?(].*", "", d).split()[0].lower() for d in _DEVICES} | {"porta", "portacath"})
# The places after which an "L" is the left side, not litres: "0825 L forearm PIV placed", "1 L forearm".
SIDE_BEFORE = ("forearm", "hand", "AC", "arm", "antecubital", "wrist", "deltoid", "thigh", "FA", "upper")

_ACCESS_KINDS = tuple((kind, re.compile(rf"\b(?:{'|'.join(words)})\b", re.I)) for kind, words in ACCESS_DEVICES[:-1]) + (
    ("peripheral", re.compile(rf"\b(?:{'|'.join((*ACCESS_DEVICES[-1][1], *PERIPHERAL_PLACES))})\b", re.I)),)
_PERIPHERAL_PLACE = re.compile(rf"\b{SIDE}?\.?\s*(?:{'|'.join(PERIPHERAL_PLACES)})\b", re.I)


def access_kind(site: str) -> str | None:
    """The kind of IV access a site's words name: port, picc, central line, midline, peripheral (a
    peripheral device or body place); None for a place where shots are given."""
    return next((kind for kind, words in _ACCESS_KINDS if words.search(site)), None)


def peripheral_place(site: str) -> str | None:
    """'L forearm PIV' -> 'left forearm'; a bare 'PIV' -> None (no place written)."""
    m = _PERIPHERAL_PLACE.search(site)
    if not m:
        return None
    return " ".join(SIDES.get(w, w) for w in m.group(0).replace(".", " ").lower().split())
