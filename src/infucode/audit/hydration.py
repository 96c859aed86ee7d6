"""Hydration checks: hydration billed as the initial service, for fluid that only kept the line open or
carried a drug (KVO/TKO, carrier, diluent, flush), or without a documented reason.

Each check takes the prepared :class:`~.context.AuditContext` and returns findings; rule ids resolve in
``reference/data/rules.yaml``."""
from __future__ import annotations

from infucode.rules.method import keeps_line_open

from .context import HYDRATION_CODES, IV_KINDS, AuditContext, finding, units_list, units_text
from .model import AuditFinding


def hydration_as_initial(ctx: AuditContext) -> list[AuditFinding]:
    """audit.hydration_as_initial [CPT-FAC-HIERARCHY, S13, S4, S24]: 96360 is the initial service only when
    no therapeutic or chemotherapy infusion or push was given. Facility claim: always an error (the
    hierarchy); professional claim: a warning under the office_initial policy ``primary_reason`` (CPT lets
    the office choose the reason for the visit), an error under ``hierarchy``."""
    hyd = [b for b in ctx.admin_lines if b.code == "96360"]
    if not hyd:
        return []
    ranked = [b for b in ctx.admin_lines
              if b.info.family in ("therapeutic", "chemotherapy") and b.info.kind in IV_KINDS]
    if ctx.supported is not None and not ranked:
        ranked_codes = sorted({l.code for l in ctx.supported if (i := ctx.codes.get(l.code)) is not None
                               and i.family in ("therapeutic", "chemotherapy") and i.kind in IV_KINDS})
    else:
        ranked_codes = sorted({b.code for b in ranked})
    if not ranked_codes:
        return []
    office_policy = ctx.policies.get("office_initial", "primary_reason")
    severity = "error" if (not ctx.professional or office_policy == "hierarchy") else "warning"
    why = ("on a facility claim the hierarchy puts the therapeutic/chemotherapy service first" if not ctx.professional
           else f"office_initial policy '{office_policy}': " + (
               "the hierarchy decides" if office_policy == "hierarchy"
               else "allowed only when hydration was the documented primary reason for the visit; otherwise bill 96361"))
    delta = ctx.wrvu("96360", -1) + ctx.wrvu("96361", 1) if severity == "error" else 0.0
    return [finding("audit.hydration_as_initial", severity,
                  f"96360 billed as the initial service while {', '.join(ranked_codes)} was given: hydration is then an add-on "
                  f"(96361) at most; {why}", [b.number for b in hyd], delta, 0, "96360")]


def hydration_not_supported(ctx: AuditContext) -> list[AuditFinding]:
    """audit.hydration_kvo / audit.hydration_necessity [S5, CMS-CLM-4-230.2, NCCI-CH11, S23, S33]: billed
    hydration (96360/96361) needs a documented medical reason (dehydration, fluid loss...); fluid given only
    to keep a line open (KVO/TKO), as a drug's carrier or diluent, or as a flush is not hydration.

    The documented fluids are the administrations the engine coded as hydration plus any documented as
    KVO/carrier/flush. No fluid with a medical reason and at least one KVO/carrier/flush: error (the
    billed hydration the documentation would otherwise support is counted in wRVU; units the engine did
    not support are counted by audit.units_unsupported). No reason documented at all: warning. A reason
    documented but part of the fluid was KVO: warning (its minutes must not count). Without documentation
    nothing can be verified (audit.no_documentation)."""
    enc = ctx.claim.encounter
    billed = [b for b in ctx.admin_lines if b.code in HYDRATION_CODES]
    if enc is None or ctx.supported is None or not billed:
        return []
    coded_as_hydration = {a for line in ctx.supported if line.kind == "administration" and line.code in HYDRATION_CODES
                          for a in line.administrations}
    kvo: list[str] = []
    no_reason: list[str] = []
    reasoned: list[str] = []
    for adm in enc.administrations:
        aid = str(adm.id)
        match = ctx.drugs.match(adm.drug) if adm.drug else None
        flush = match is not None and match.drug.flush
        says_kvo = keeps_line_open(adm.indication, adm.drug)
        fluid = (aid in coded_as_hydration or adm.class_ == "hydration" or flush
                 or (match is not None and match.drug.family == "hydration") or (match is None and says_kvo))
        if not fluid:
            continue
        if says_kvo or flush:
            kvo.append(aid)
        elif not (adm.indication or "").strip():
            no_reason.append(aid)
        else:
            reasoned.append(aid)
    if not (kvo or no_reason or reasoned):
        return []  # no fluid documented at all: audit.units_unsupported reports the billed hydration
    what = units_list(billed)
    idx = [b.number for b in billed]
    if not reasoned and kvo:
        supported = ctx.supported_units()
        delta, units = 0.0, 0
        for (code, day), n in ctx.billed_units().items():
            if code in HYDRATION_CODES:
                covered = min(n, supported.get((code, day), 0))
                delta += ctx.wrvu(code, -covered)
                units -= covered
        return [finding("audit.hydration_kvo", "error",
                      f"{what} billed, but the fluid ({', '.join(kvo)}) is documented only to keep the line open, as a drug "
                      "carrier/diluent or as a flush" + (f", and {', '.join(no_reason)} has no documented reason" if no_reason else "")
                      + ": that is not hydration and is not reported separately; bill hydration only with a documented "
                      "medical need (dehydration, fluid loss, inability to take fluids)" + units_text(ctx, "96360/96361", -units),
                      idx, delta, units)]
    if not reasoned:
        return [finding("audit.hydration_necessity", "warning",
                      f"{what} billed, but no medical reason for the fluid ({', '.join(no_reason)}) is documented: the record must "
                      "show why hydration was needed (signs of dehydration or fluid loss, inability to take fluids); routine fluid "
                      "without it is not supported", idx)]
    if kvo:
        return [finding("audit.hydration_kvo", "warning",
                      f"{what} billed: part of the documented fluid ({', '.join(kvo)}) only kept the line open or carried a drug; "
                      "its minutes do not count toward hydration time, only the fluid given for the documented reason "
                      f"({', '.join(reasoned)})", idx)]
    return []
