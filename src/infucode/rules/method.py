"""Method: infusion, push or injection, from the documented route and the clock.

Sources: push = the clinician continuously present, or an infusion of 15 minutes or less
(CPT; CMS Transmittal 573 [S27]; Noridian [S6, S7]); an infusion needs 16+ minutes [S30b, S32];
SC/IM injections, subcutaneous infusion and intra-arterial administration have their own codes (CPT).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .timing import PUSH_MAX_MINUTES

INFUSION = "infusion"
PUSH = "push"
INJECTION = "injection"
SC_INFUSION = "sc_infusion"
INTRA_ARTERIAL = "intra_arterial"
OTHER_ROUTE = "other_route"     # a route with its own code and no clock rule (rules.other_routes)
FLUSH = "flush"                 # a port, catheter or line flush (rules.other_routes.code_flushes)
PUMP_REFILL = "pump_refill"     # refilling and maintaining a drug-delivery pump (96521/96522)

# Routes coded by rules.other_routes, each by its own code whatever the clock says [CPT-INF-GUIDE, CPT-CHEMO-GUIDE].
OTHER_ROUTES = frozenset({"on_body_injector", "intralesional", "intrapleural", "intraperitoneal", "intrathecal",
                          "cns_reservoir", "unlisted"})
# Routes that document a service on an access or a device rather than a drug: no drug needs to be named.
DEVICE_SERVICE_ROUTES = frozenset({"pump_refill", "flush"})


# Fluid documented only to keep a line open (KVO/TKO), as a drug's carrier or diluent, or as a flush: not
# hydration (CMS RAC topic 0137 [S5]; NCCI Policy Manual ch. XI [NCCI-CH11]; IOM 100-04 ch.12 s.30.5 [S33]).
_KEEP_OPEN = re.compile(r"\b(?:kvo|tko|keep(?:s|ing)?\s+(?:the\s+)?(?:vein|line|iv|access)?\s*open|to\s+keep\s+open|"
                        r"(?:line|iv|vein|access)\s+patency|carrier|diluent|flush(?:ed|es)?)\b", re.I)


def keeps_line_open(*documented: str | None) -> bool:
    """The documented purpose (indication, drug text) says the fluid only kept the line open or carried a drug."""
    return any(text and _says_keep_open(text) for text in documented)


@lru_cache(maxsize=4096)
def _says_keep_open(text: str) -> bool:
    return _KEEP_OPEN.search(text) is not None  # the same few indications and fluid names, again and again


@dataclass(frozen=True, slots=True)
class MethodDecision:
    method: str
    rule: str
    note: str | None = None
    severity: str = "info"


def administration_method(route: str, minutes: int | None) -> MethodDecision:
    """How the drug went in. `minutes` is the documented run time (None when it cannot be known)."""
    if route == "iv_push":
        if minutes is not None and minutes > PUSH_MAX_MINUTES:
            return MethodDecision(PUSH, "method.documented_push",
                                  f"documented as a push over {minutes} minutes: a push stays a push (clinician present); confirm it was not an infusion")
        return MethodDecision(PUSH, "method.documented_push")
    if route == "iv_infusion":
        if minutes is not None and minutes <= PUSH_MAX_MINUTES:
            return MethodDecision(PUSH, "method.short_infusion_is_push",
                                  f"infusion of {minutes} minutes (15 or less) is reported as a push")
        return MethodDecision(INFUSION, "method.short_infusion_is_push")
    if route == "iv":
        if minutes is not None and minutes > PUSH_MAX_MINUTES:
            return MethodDecision(INFUSION, "method.unclear_route",
                                  f"route 'iv' does not say push or infusion; {minutes} minutes on the clock is coded as an infusion", "warning")
        return MethodDecision(PUSH, "method.unclear_route",
                              "route 'iv' does not say push or infusion; without more than 15 minutes on the clock it is coded as a push", "warning")
    if route in ("sc", "im"):
        return MethodDecision(INJECTION, "method.injection")
    if route in OTHER_ROUTES:
        return MethodDecision(OTHER_ROUTE, "method.other_route")
    if route == "sc_infusion":
        if minutes is not None and minutes <= PUSH_MAX_MINUTES:
            return MethodDecision(INJECTION, "method.sc_infusion",
                                  f"subcutaneous infusion of {minutes} minutes (15 or less) is reported as an injection")
        return MethodDecision(SC_INFUSION, "method.sc_infusion")
    return MethodDecision(INTRA_ARTERIAL, "method.intra_arterial")
