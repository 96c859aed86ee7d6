"""The route of a MedicationAdministration: SNOMED CT route codes (FHIR's own coding of ``dosage.route``) and the
words of the route and method, read with the shared route vocabulary (:mod:`infucode.vocabulary.routes`)."""
from __future__ import annotations

import re
from collections.abc import Iterable

from infucode.vocabulary import UNSUPPORTED_ROUTES, find_route_words, own_code_route, resolve_route

from .systems import SNOMED_SYSTEM

_SNOMED_ROUTES = {
    "47625008": "iv",              # Intravenous route
    "34206005": "sc",              # Subcutaneous route
    "78421000": "im",              # Intramuscular route
    "58100008": "intra_arterial",  # Intra-arterial route
}
_SNOMED_NOT_CODED = {
    "26643006": "oral",            # Oral route
    "6064005": "topical",          # Topical route
    "447694001": "respiratory tract",  # Respiratory tract route
    "37161004": "rectal",          # Rectal route
}
_METHOD_ONLY = frozenset({"iv_push", "iv_infusion"})
_NAMES_THE_VEIN = re.compile(r"i\.?v|intraven", re.I)       # "IVP", "IVPB", "IV push": the site and the method
# the engine route each SNOMED CT base route gives, as a route concept of the shared vocabulary
_BASE_CONCEPT = {"iv": "iv", "sc": "sc", "im": "im", "intra_arterial": "intra_arterial"}


def map_route(route_codes: Iterable[tuple[str | None, str | None]] = (), route_text: Iterable[str | None] = (),
              method_text: Iterable[str | None] = ()) -> tuple[str | None, str | None]:
    """``(route, problem)``: our route value from SNOMED route codes ``(system, code)`` and the words of
    the route and method (the shared route vocabulary, :data:`infucode.vocabulary.ROUTE_WORDS`).
    ``problem`` is ``"not_coded"`` (a non-parenteral route) or ``"unknown"``. A coded route decides the
    site over the words; the route's words decide it over the method's."""
    for text in (*route_text, *method_text):
        own, _device = own_code_route(text)  # "Intrathecal route", "On-body injector", "Port flush"...
        if own is not None:
            return own, None
    base: str | None = None
    not_coded = False
    for system, code in route_codes:
        if code and (system in (None, SNOMED_SYSTEM)):
            if code in _SNOMED_ROUTES:
                base = base or _SNOMED_ROUTES[code]
            elif code in _SNOMED_NOT_CODED:
                not_coded = True
    rhits = [h for t in route_text if t for h in find_route_words(t)]
    rconcepts = {h.concept for h in rhits}
    mconcepts = {h.concept for t in method_text if t for h in find_route_words(t)}
    if base is None:
        # a route field saying only "Injection" or "Infusion" does not say which site: the method decides
        site, problem = resolve_route({h.concept for h in rhits
                                       if h.concept not in _METHOD_ONLY or _NAMES_THE_VEIN.match(h.text)})
        if problem is None:
            base = "iv" if site.startswith("iv") else "sc" if site.startswith("sc") else site
        elif problem == "not_a_service" or not_coded:
            return None, "not_coded"
        else:
            site, problem = resolve_route(mconcepts)  # "IV push" or "infusion" with no route: intravenous
            if problem is not None:
                return None, "unknown"
            base = "iv" if site.startswith("iv") else "sc" if site.startswith("sc") else site
    # the site is decided: the words now say only push or infusion
    how = (rconcepts | mconcepts) - {"sc", "im", "intra_arterial", "iv", "sc_infusion"}
    if "sc_infusion" in rconcepts | mconcepts:
        how.add("iv_infusion")
    route, _ = resolve_route((how - UNSUPPORTED_ROUTES) | {_BASE_CONCEPT[base]})
    return (route, None) if route else (None, "unknown")
