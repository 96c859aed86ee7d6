"""Route words as nurses, MAR exports and order sets write them, and what each one means for coding.

One table (:data:`ROUTE_WORDS`) maps a written word or abbreviation to a route *concept*. The
concepts that are engine routes (``iv``, ``iv_push``, ``iv_infusion``, ``sc``, ``sc_infusion``,
``im``, ``intra_arterial``) are resolved with :func:`resolve_route`; the others say what the words
are: a route that is never a drug-administration service (:data:`NOT_ADMINISTRATION_SERVICES`), a
way of keeping a line open (KVO, heparin lock), a device (ambulatory pump, on-body injector) or a
route the engine has no code path for (intrathecal).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from .names import folds_to_ascii, letter_runs, word_places, word_scan

__all__ = ["DEVICE_CONCEPTS", "LINE_CARE_CONCEPTS", "NOT_ADMINISTRATION_SERVICES", "OWN_CODE_ROUTE_WORDS", "ROUTE_WORDS",
           "RouteHit", "UNSUPPORTED_ROUTES", "find_route_words", "own_code_route", "resolve_route", "route_of_words"]

# word or phrase (lower case; whitespace any run) -> concept
ROUTE_WORDS: dict[str, str] = {
    # intravenous, push or infusion not said
    "iv": "iv", "i.v.": "iv", "intravenous": "iv", "intravenously": "iv", "ivf": "iv_infusion",
    # push
    "ivp": "iv_push", "iv push": "iv_push", "ivpush": "iv_push", "push": "iv_push", "pushed": "iv_push",
    "slow push": "iv_push", "slow iv push": "iv_push", "iv bolus": "iv_push", "bolus": "iv_push",
    "injection": "iv_push", "inject": "iv_push",
    # infusion
    "ivpb": "iv_infusion", "piggyback": "iv_infusion", "piggy back": "iv_infusion", "piggy-back": "iv_infusion",
    "infusion": "iv_infusion", "infuse": "iv_infusion", "infused": "iv_infusion", "infusing": "iv_infusion",
    "drip": "iv_infusion", "gtt": "iv_infusion", "continuous": "iv_infusion", "intermittent": "iv_infusion",
    "ml/hr": "iv_infusion", "ml/h": "iv_infusion", "ml per hour": "iv_infusion",
    # subcutaneous, intramuscular, intra-arterial
    "sc": "sc", "s.c.": "sc", "sq": "sc", "subq": "sc", "sub-q": "sc", "sub q": "sc", "subcut": "sc",
    "subcutaneous": "sc", "subcutaneously": "sc", "scig": "sc_infusion",
    "im": "im", "i.m.": "im", "intramuscular": "im", "intramuscularly": "im",
    "intra-arterial": "intra_arterial", "intraarterial": "intra_arterial", "intra arterial": "intra_arterial",
    "intra-arterially": "intra_arterial", "ia": "intra_arterial",
    # routes the engine has no service for here
    "intrathecal": "intrathecal", "intrathecally": "intrathecal", "it": "intrathecal",
    # never a drug-administration service
    "po": "po", "p.o.": "po", "oral": "po", "orally": "po", "by mouth": "po",
    "sl": "sl", "sublingual": "sl", "sublingually": "sl",
    "pr": "pr", "rectal": "pr", "rectally": "pr", "per rectum": "pr",
    "topical": "topical", "topically": "topical", "transdermal": "topical", "ophthalmic": "topical",
    "otic": "topical", "intranasal": "topical", "nasal": "topical",
    "inhaled": "inhaled", "inhalation": "inhaled", "neb": "inhaled", "nebulized": "inhaled",
    "nebulizer": "inhaled", "mdi": "inhaled", "enteral": "po", "per tube": "po", "via g-tube": "po",
    # keeping a line open: part of the administration, never its own service
    "kvo": "kvo", "tko": "kvo", "keep vein open": "kvo", "to keep open": "kvo",
    "hep lock": "hep_lock", "heplock": "hep_lock", "heparin lock": "hep_lock", "saline lock": "hep_lock",
    "locked": "hep_lock",
    # devices
    "cadd": "ambulatory_pump", "ambulatory pump": "ambulatory_pump", "ambulatory infusion pump": "ambulatory_pump",
    "portable pump": "ambulatory_pump", "home pump": "ambulatory_pump", "homepump": "ambulatory_pump",
    "elastomeric pump": "ambulatory_pump", "infusor": "ambulatory_pump",
    "on-body injector": "on_body_injector", "on body injector": "on_body_injector", "onpro": "on_body_injector",
    "on-pro": "on_body_injector", "obi": "on_body_injector",
}
# Abbreviations that are ordinary words in lower case ("it", "pr"): only as written in capitals.
_CAPITALS_ONLY = frozenset({"it", "pr", "sl", "im", "obi", "ia"})

ENGINE_ROUTES = frozenset({"iv", "iv_push", "iv_infusion", "sc", "sc_infusion", "im", "intra_arterial"})
# Oral, sublingual, rectal, topical and inhaled drugs are not injections or infusions: CPT's drug
# administration services (96360-96549) and CMS IOM 100-04 ch.4 s.230.2 cover parenteral routes only.
NOT_ADMINISTRATION_SERVICES = frozenset({"po", "sl", "pr", "topical", "inhaled"})
LINE_CARE_CONCEPTS = frozenset({"kvo", "hep_lock"})
DEVICE_CONCEPTS = frozenset({"ambulatory_pump", "on_body_injector"})
# Parenteral routes the engine's input cannot express: raised as a question, never coded as something else.
UNSUPPORTED_ROUTES = frozenset({"intrathecal", "on_body_injector"})


def _matchers() -> dict[str, list[tuple[re.Pattern, str, frozenset[str]]]]:
    """Route phrases grouped by their first run of letters, longest first: the text's letter runs are
    looked up once each, and only the phrases that can start there are tried (a 100-word alternation
    tried at every position costs seconds per megabyte). Each with its words (runs of ASCII letters and
    digits, lower case): a phrase matches whole words, so a note without one of them cannot hold it."""
    out: dict[str, list[tuple[int, re.Pattern, str, frozenset[str]]]] = {}
    for word, concept in ROUTE_WORDS.items():
        body = r"\s+".join(re.escape(w) for w in word.split())
        pat = re.compile(f"(?:{body.upper()})(?![A-Za-z0-9])" if word in _CAPITALS_ONLY else f"(?:{body})(?![A-Za-z0-9])",
                         0 if word in _CAPITALS_ONLY else re.I)
        first = re.match(r"[a-z]+", word).group(0)
        out.setdefault(first, []).append((len(word), pat, concept, frozenset(re.findall("[a-z0-9]+", word))))
    return {k: [(p, c, ws) for _, p, c, ws in sorted(v, key=lambda x: -x[0])] for k, v in out.items()}


_PHRASE_WORDS = _matchers()
_MATCHERS = {first: [(p, c) for p, c, _ in phrases] for first, phrases in _PHRASE_WORDS.items()}
_LETTERS = re.compile(r"[A-Za-z]+")
# below this many characters the route words are found run by run, above it with one scan of the
# runs that can start a phrase (a MAR route cell is short; a note is long)
_SHORT_TEXT = 2000


_new_hit = tuple.__new__      # a hit made from its fields in C (a named tuple's own constructor is a Python function)


class RouteHit(NamedTuple):      # a tuple: made three times faster than a frozen dataclass
    start: int
    end: int
    text: str
    concept: str


def find_route_words(text: str, start: int = 0, end: int | None = None, words: set[str] | None = None, *,
                     every_phrase: bool = False) -> list[RouteHit]:
    """Every route word in ``text[start:end]``, left to right, the longest phrase at each place. ``words``:
    the whole text's ``distinct_words``, when the caller has them. ``every_phrase``: try the phrases the
    text cannot hold too (the reference the tests hold that cut against)."""
    end = len(text) if end is None else end
    out: list[RouteHit] = []
    if end - start < _SHORT_TEXT:
        # a cell or a sentence: each letter run looked up (building the scan below costs more)
        skip_to = start
        for m in _LETTERS.finditer(text, start, end):
            a = m.start()
            if a < skip_to:
                continue
            cands = _MATCHERS.get(m.group(0).lower())
            if cands is None or (a > 0 and text[a - 1].isalnum()):
                continue
            for pat, concept in cands:
                hit = pat.match(text, a, end)
                if hit:
                    out.append(_new_hit(RouteHit, (a, hit.end(), hit.group(0), concept)))
                    skip_to = hit.end()
                    break
        return out
    # a note: only the letter runs that can start a route phrase are visited: the distinct runs are looked up
    # once, and one small alternation of those finds where they are (ASCII case folding, as runs are ASCII)
    if words is not None and start == 0 and end == len(text):
        runs = letter_runs(words)
    else:
        runs = {r.lower() for r in set(_LETTERS.findall(text, start, end))}
    matchers = _MATCHERS
    if words is not None and start == 0 and end == len(text) and not every_phrase and not folds_to_ascii(text):
        # only the phrases the text can hold (it has all their words): "per rectum" is not tried at each "per"
        matchers = {}
        for w in runs:
            phrases = _PHRASE_WORDS.get(w)
            if phrases is not None:
                held = [(pat, concept) for pat, concept, need in phrases if need <= words]
                if held:
                    matchers[w] = held
    firsts = {w for w in runs if w in matchers}
    if not firsts:
        return out
    skip_to = start
    if start == 0 and end == len(text):
        places = word_places(text, firsts, words, letters=True)
    else:
        places = [(m.start(), m.group(0).lower()) for m in word_scan(firsts, "A-Za-z").finditer(text, start, end)]
    for a, first in places:
        if a < skip_to or (a > 0 and text[a - 1].isalnum()):
            continue
        for pat, concept in matchers[first]:
            hit = pat.match(text, a, end)
            if hit:
                out.append(_new_hit(RouteHit, (a, hit.end(), hit.group(0), concept)))
                skip_to = hit.end()
                break
    return out


def resolve_route(concepts: Iterable[str]) -> tuple[str | None, str | None]:
    """``(engine route, problem)`` from the concepts written for one administration.

    A subcutaneous, intramuscular or intra-arterial word decides the site; IV push and infusion words
    then decide the method (both or neither: ``iv``, the clock decides). ``problem`` is
    ``"not_a_service"`` (PO, SL, PR, topical, inhaled only), ``"unsupported"`` (intrathecal, on-body
    injector) or ``"unknown"`` (no route word)."""
    cs = set(concepts)
    if cs & UNSUPPORTED_ROUTES:
        return None, "unsupported"
    push = "iv_push" in cs
    infusion = "iv_infusion" in cs or "sc_infusion" in cs or "ambulatory_pump" in cs
    if cs & {"sc", "sc_infusion"}:
        return ("sc_infusion" if infusion else "sc"), None
    if "im" in cs:
        return "im", None
    if "intra_arterial" in cs:
        return "intra_arterial", None
    if cs & {"iv", "iv_push", "iv_infusion", "ambulatory_pump"}:
        if infusion and not push:
            return "iv_infusion", None
        if push and not infusion:
            return "iv_push", None
        return "iv", None
    if cs & NOT_ADMINISTRATION_SERVICES:
        return None, "not_a_service"
    return None, "unknown"


# Words of a route cell or coded-route text (a MAR export, FHIR dosage.route/method) that name a route with a
# code of its own (issue 14), with the device some of them imply. Read only in such short fields, never in a
# note's free text, where "flushed" or "refill" mean line care or a prescription (the note reader keeps its
# questions for those). Longest phrase first.
OWN_CODE_ROUTE_WORDS: dict[str, tuple[str, str | None]] = {
    "on-body injector": ("on_body_injector", None), "on body injector": ("on_body_injector", None),
    "onpro": ("on_body_injector", None), "onbody": ("on_body_injector", None),
    "intralesional": ("intralesional", None), "intra-lesional": ("intralesional", None),
    "intrapleural": ("intrapleural", None), "intra-pleural": ("intrapleural", None), "pleural": ("intrapleural", None),
    "intraperitoneal": ("intraperitoneal", None), "intra-peritoneal": ("intraperitoneal", None),
    "peritoneal": ("intraperitoneal", None),
    "intrathecal": ("intrathecal", None), "intrathecally": ("intrathecal", None), "lumbar puncture": ("intrathecal", None),
    "ommaya": ("cns_reservoir", None), "intraventricular": ("cns_reservoir", None), "cns reservoir": ("cns_reservoir", None),
    "portable pump refill": ("pump_refill", "portable_pump"), "ambulatory pump refill": ("pump_refill", "portable_pump"),
    "cadd refill": ("pump_refill", "portable_pump"), "implanted pump refill": ("pump_refill", "implanted_pump"),
    "implantable pump refill": ("pump_refill", "implanted_pump"), "pump refill": ("pump_refill", None),
    "port flush": ("flush", "implanted_port"), "port irrigation": ("flush", "implanted_port"),
    "central line flush": ("flush", "central_catheter"), "cvc flush": ("flush", "central_catheter"),
    "picc flush": ("flush", "central_catheter"), "catheter flush": ("flush", "central_catheter"),
    "peripheral flush": ("flush", "peripheral_iv"), "flush": ("flush", None),
    "unlisted": ("unlisted", None),
}
# Bare words that name the route only when they are the whole cell.
_WHOLE_CELL_ONLY = frozenset({"flush", "unlisted"})
_OWN_CODE_RX = re.compile(r"(?<![a-z0-9])(" + "|".join(
    r"\s+".join(re.escape(w) for w in word.split()) for word in sorted(OWN_CODE_ROUTE_WORDS, key=len, reverse=True))
    + r")(?![a-z0-9])", re.I)


def own_code_route(text: str | None) -> tuple[str | None, str | None]:
    """``(route, device)`` when a route cell or coded-route text names a route with a code of its own
    (on-body injector, intrathecal, port flush, pump refill...); ``(None, None)`` otherwise."""
    if not text:
        return None, None
    for m in _OWN_CODE_RX.finditer(text):
        word = " ".join(m.group(1).lower().split())
        if word in _WHOLE_CELL_ONLY and text.strip().lower() != word:
            continue  # "IV push, then flush": the flush of another service, not a route
        return OWN_CODE_ROUTE_WORDS[word]
    return None, None


def route_of_words(text: str | None) -> tuple[str | None, str | None]:
    """The engine route of a route cell ("IV", "IVPB", "IV Push", "Subcutaneous", "PO", "Intrathecal", "Port flush"...)."""
    if not text:
        return None, "unknown"
    own, _device = own_code_route(text)
    if own is not None:
        return own, None
    return resolve_route(h.concept for h in find_route_words(text))
