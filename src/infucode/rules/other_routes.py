"""Routes with a code of their own and no clock rule, beside the IV chain (issue 14):

- an on-body injector applied for timed subcutaneous delivery: 96377, professional and facility claims; a
  hospital's payment for it is packaged [CPT-INF-GUIDE; CMS billing article A54682 (CMS-A54682)];
- an anti-cancer drug into skin lesions: 96405 up to 7 lesions, 96406 for more [CPT-CHEMO-GUIDE];
- chemotherapy into the pleural cavity with the thoracentesis (96440), into the peritoneal cavity through an
  indwelling port or catheter (96446), into the spinal fluid by spinal puncture (96450), or through a
  subcutaneous reservoir such as an Ommaya (96542) [CPT-CHEMO-GUIDE]. These are procedures the physician also
  reports on a professional claim in a facility [CPT-INF-GUIDE, CPT-CHEMO-GUIDE: the facility exclusion names
  96360-96379, 96401-96402, 96409-96425 and 96521-96523 only];
- a pump refilled and maintained: 96521 portable, 96522 implanted [CPT-CHEMO-GUIDE; S1-PTP];
- a port or central catheter flushed: 96523 only when no other service is reported that day, otherwise part
  of the administration [CPT-CHEMO-GUIDE; S1-PTP: column 2, modifier indicator 0, under every administration
  code; S1-RVU: PFS status T];
- a service no code describes: 96379 (therapeutic) or 96549 (chemotherapy/complex), with the record's
  description on the claim [CPT-INF-GUIDE, CPT-CHEMO-GUIDE; CMS-CLM-26-10.2].
"""
from __future__ import annotations

from . import family as fam
from . import method as meth
from .administration import Service
from .context import CodingContext

# Largest number of lesions 96405 covers; more is 96406 [CPT-CHEMO-GUIDE].
INTRALESIONAL_MOST_LESIONS = 7
# Chemotherapy into a body cavity or the spinal fluid: one code per route [CPT-CHEMO-GUIDE].
CAVITY_CODE = {"intrapleural": "96440", "intraperitoneal": "96446", "intrathecal": "96450", "cns_reservoir": "96542"}
_CAVITY_WORDS = {"intrapleural": "into the pleural cavity (thoracentesis included)",
                 "intraperitoneal": "into the peritoneal cavity through an indwelling port or catheter",
                 "intrathecal": "into the spinal fluid by spinal puncture (the puncture included)",
                 "cns_reservoir": "into a subcutaneous CNS reservoir (e.g. Ommaya)"}
# Codes a physician reports on a professional claim in a facility setting: the drug-administration codes
# outside the ranges CPT reserves to the facility [CPT-INF-GUIDE, CPT-CHEMO-GUIDE].
PROFESSIONAL_IN_FACILITY_CODES = frozenset({"96405", "96406", "96440", "96446", "96450", "96542", "96549"})
# Routes whose service may be such a code.
PROFESSIONAL_IN_FACILITY_ROUTES = frozenset({"intralesional", "intrapleural", "intraperitoneal", "intrathecal",
                                             "cns_reservoir", "unlisted"})
PUMP_REFILL_CODE = {"portable_pump": "96521", "implanted_pump": "96522"}
FLUSH_ALONE_CODE = "96523"
FLUSHABLE_DEVICES = frozenset({"implanted_port", "central_catheter"})


def _who(s: Service) -> str:
    return f"{s.drug_name} (administration {', '.join(s.ids)})"


def code_other_route(ctx: CodingContext, s: Service) -> None:
    """The line (or the finding) for one service by a route of ``method.OTHER_ROUTES``."""
    day = s.day(ctx.encounter_date)
    route = s.route
    if route == "on_body_injector":
        if s.family == fam.HYDRATION:
            ctx.add_finding("other_routes.on_body_injector", "info",
                            f"administration {s.id}: fluid by an on-body injector is not a drug-administration service; no line", s.ids)
            return
        ctx.add_line("96377", 1, s.ids, "other_routes.on_body_injector",
                     f"{_who(s)}: an on-body injector applied for timed subcutaneous delivery"
                     + ("; a hospital's payment for it is packaged" if ctx.claim == "facility" else ""), date=day)
        return
    if route == "unlisted":
        code = "96549" if s.family == fam.CHEMOTHERAPY else "96379"
        ctx.add_line(code, 1, s.ids, "other_routes.unlisted",
                     f"{_who(s)}: a {'chemotherapy or complex drug' if code == '96549' else 'therapeutic, prophylactic or diagnostic'} "
                     "administration no other code describes (unlisted)", date=day)
        if s.described:
            ctx.add_finding("other_routes.unlisted", "info",
                            f"administration {s.id}: {code} is unlisted; send the documented description with the claim "
                            "(the payer prices it by hand)", s.ids)
        else:
            ctx.add_finding("other_routes.unlisted", "warning",
                            f"administration {s.id}: {code} is unlisted and the service is not described; document what was "
                            "done (field description) and send it with the claim, or the payer cannot price it", s.ids)
        return
    if s.family != fam.CHEMOTHERAPY:
        # These codes are for anti-cancer and complex drugs; other drugs by these routes are procedures outside
        # the drug-administration range (e.g. a steroid into a lesion, a spinal injection).
        rule = "other_routes.intralesional" if route == "intralesional" else "other_routes.intracavitary"
        ctx.add_finding(rule, "warning",
                        f"administration {s.id}: a {s.family} drug by route {route}; the {route} codes of the drug-administration "
                        "range are for chemotherapy and complex drugs, so no line: code the procedure by hand", s.ids)
        return
    if route == "intralesional":
        if s.lesions is None:
            ctx.add_finding("other_routes.intralesional", "warning",
                            f"administration {s.id}: the number of lesions injected is not documented (field lesions); coded "
                            f"96405 (up to {INTRALESIONAL_MOST_LESIONS}); more than {INTRALESIONAL_MOST_LESIONS} lesions is 96406", s.ids)
        code = "96406" if s.lesions is not None and s.lesions > INTRALESIONAL_MOST_LESIONS else "96405"
        count = f"{s.lesions} lesion(s)" if s.lesions is not None else "lesions not counted"
        ctx.add_line(code, 1, s.ids, "other_routes.intralesional", f"{_who(s)} injected into skin lesions, {count}", date=day)
        return
    code = CAVITY_CODE[route]
    rule = "other_routes.intracavitary" if route in ("intrapleural", "intraperitoneal") else "other_routes.intrathecal"
    ctx.add_line(code, 1, s.ids, rule, f"{_who(s)}: chemotherapy {_CAVITY_WORDS[route]}", date=day)


def code_pump_refill(ctx: CodingContext, s: Service) -> None:
    """96521 (portable pump) or 96522 (implanted pump or reservoir); a question when the device is not said."""
    code = PUMP_REFILL_CODE.get(s.device or "")
    if code is None:
        ctx.add_finding("other_routes.pump_refill", "warning",
                        f"administration {s.id}: a pump refill without its pump (field device: portable_pump for 96521, "
                        "implanted_pump for 96522); no line until it is documented", s.ids)
        return
    kind = "portable" if code == "96521" else "implanted"
    ctx.add_line(code, 1, s.ids, "other_routes.pump_refill", f"{_who(s)}: {kind} pump refilled and maintained",
                 date=s.day(ctx.encounter_date))


def code_flushes(ctx: CodingContext, flushes: list[Service]) -> None:
    """After every other line is known: a port or catheter flush is 96523 only on a day with no other
    administration line; otherwise (and a peripheral line's flush always) it is part of the administration."""
    if not flushes:
        return
    busy = {l.date for l in ctx.lines if l.kind == "administration"}
    alone: dict[str | None, list[Service]] = {}
    for s in flushes:
        day = s.day(ctx.encounter_date)
        if day in busy or (None in busy) or (day is None and busy):
            meth.flush_not_reported(ctx, s.id, s.ids)
        elif s.device in FLUSHABLE_DEVICES:
            alone.setdefault(day, []).append(s)
        elif s.device is None:
            ctx.add_finding("other_routes.flush_alone", "warning",
                            f"administration {s.id}: a flush is the only service of the day; an implanted port or central "
                            "catheter flushed alone is 96523, a peripheral line's flush is not reported. Document the device "
                            "(field device); no line until then", s.ids)
        else:
            meth.flush_not_reported(ctx, s.id, s.ids, s.device)
    for day, group in alone.items():
        ids = [a for s in group for a in s.ids]
        ctx.add_line(FLUSH_ALONE_CODE, 1, ids, "other_routes.flush_alone",
                     f"{', '.join(_who(s) for s in group)}: implanted port or central catheter flushed, the only service of the day",
                     date=day)
