"""Checks of the billed lines against the documentation (the engine's supported lines): what could not be
read or verified, the claim's setting, units against the clock, 96367 for a continuing drug, the code family.

Each check takes the prepared :class:`~.context.AuditContext` and returns findings; rule ids resolve in
``reference/data/rules.yaml``."""
from __future__ import annotations

from .context import CHEMO_CODES, THERAPEUTIC_CODES, AuditContext, finding, units_text
from .model import AuditFinding


def input_validation(ctx: AuditContext) -> list[AuditFinding]:
    """audit.input_validation [X12-5010-IG, INFUCODE]: the claim was read and audited, but its file has
    validation errors outside the fields the audit reads (e.g. an 837 billing provider ZIP code); a payer's
    acknowledgement (999) may reject the claim for them."""
    if not ctx.claim.reader_warnings:
        return []
    return [finding("audit.input_validation", "warning",
                  "the claim was audited, but its file has errors outside the audited fields that a payer may reject: "
                  + "; ".join(ctx.claim.reader_warnings), [])]


def no_documentation(ctx: AuditContext) -> list[AuditFinding]:
    """audit.no_documentation [INFUCODE]: without the encounter, units, drug families and sequence cannot be
    verified; the checks on the billed lines alone still ran."""
    if ctx.supported is not None or not ctx.admin_lines:
        return []
    return [finding("audit.no_documentation", "info",
                  "no documented encounter on the claim: units against the clock, drug family and sequence could not be "
                  "verified; only the billed-line edits (add-on, MUE, NCCI, setting) were checked",
                  [b.number for b in ctx.admin_lines])]


def encounter_mismatch(ctx: AuditContext) -> list[AuditFinding]:
    """audit.encounter_mismatch [INFUCODE]: the embedded encounter's setting/claim or date disagrees with the claim."""
    enc = ctx.claim.encounter
    if enc is None:
        return []
    out = []
    if enc.claim_type != ctx.claim_kind:
        out.append(finding("audit.encounter_mismatch", "warning",
                         f"the documented encounter is coded for a {enc.claim_type} claim (setting {enc.setting}) but this is a "
                         f"{ctx.claim.claim_type} claim; the documentation was coded as the claim says ({ctx.claim_kind})", []))
    if enc.date and enc.date != ctx.claim.date and not any(b.date == enc.date for b in ctx.lines):
        out.append(finding("audit.encounter_mismatch", "warning",
                         f"the documented encounter is dated {enc.date}, the claim {ctx.claim.date}, and no billed line carries that date", []))
    return out


def billed_vs_supported(ctx: AuditContext) -> list[AuditFinding]:
    """audit.units_unsupported / audit.under_coded [SEED-003, CPT-INF-GUIDE, S26]: per code and date, billed
    units above what the documented clock supports are an error (negative wRVU delta); fewer units than
    supported are under-coding (warning when the code is missing altogether, info when units are short)."""
    if ctx.supported is None:
        return []
    billed, supported = ctx.billed_units(), ctx.supported_units()
    out = []
    for key in sorted(set(billed) | set(supported)):
        code, day = key
        b, s = billed.get(key, 0), supported.get(key, 0)
        if b > s:
            tail = f"{b - s} unit(s) above the documentation" + units_text(ctx, code, b - s)
            out.append(finding("audit.units_unsupported", "error",
                             f"{code} x{b} billed on {day}, the documentation supports {s}: {tail}",
                             ctx.numbers(code, day), ctx.wrvu(code, s - b), s - b, code))
        elif s > b:
            severity = "warning" if b == 0 else "info"
            out.append(finding("audit.under_coded", severity,
                             f"{code} x{s} supported on {day} but {b} billed: {s - b} unit(s) under-coded"
                             + units_text(ctx, code, s - b), ctx.numbers(code, day), ctx.wrvu(code, s - b), s - b, code))
    return out


def sequential_for_same_drug(ctx: AuditContext) -> list[AuditFinding]:
    """audit.sequential_same_drug [SEED-003, CPT-INF-GUIDE]: 96367 with 96366 billed where the documentation
    shows one drug continuing (96366, no 96367): a new-drug code for a continuing infusion is unbundling.
    (96366 after a 96367 for a different drug is correct and supported by the documentation.) The wRVU is
    counted by audit.units_unsupported."""
    if ctx.supported is None:
        return []
    billed = ctx.billed_units()
    supported = ctx.supported_units()
    out = []
    for (code, day), units in billed.items():
        if code != "96367" or units <= supported.get(("96367", day), 0):
            continue
        if supported.get(("96366", day), 0):
            out.append(finding("audit.sequential_same_drug", "error",
                                 f"96367 billed on {day} for an infusion the documentation shows continuing the same drug "
                                 "(96366): 96367 is for a different drug given in sequence", ctx.numbers("96367", day)))
    return out


def family_mismatch(ctx: AuditContext) -> list[AuditFinding]:
    """audit.family_mismatch [SEED-003, S8, S34, CPT-CHEMO-GUIDE]: 96365-96368 billed where the drug is
    chemotherapy (96413/96415/96417), and the reverse. With documentation the engine's codes decide; without it,
    the claim's J-code lines do when every drug on the claim belongs to one family. The wRVU is counted by
    audit.units_unsupported when documentation is present."""
    billed_codes = {b.code for b in ctx.admin_lines}
    if ctx.supported is not None:
        sup = {l.code for l in ctx.supported if l.kind == "administration"}
        chemo_doc = bool(sup & CHEMO_CODES) and not (sup & THERAPEUTIC_CODES)
        ther_doc = bool(sup & THERAPEUTIC_CODES) and not (sup & CHEMO_CODES)
        basis, severity = "the documented drug", "error"
    else:
        families = set()
        for b in ctx.lines:
            hit = ctx.drugs.by_hcpcs(b.code) if b.info is None else None
            if hit is not None and hit[0].family in ("chemotherapy", "therapeutic") and not hit[0].payer_dependent:
                families.add(hit[0].family)
        chemo_doc, ther_doc = families == {"chemotherapy"}, families == {"therapeutic"}
        basis, severity = "every drug (J-code) on the claim", "warning"
    out = []
    wrong = sorted(billed_codes & THERAPEUTIC_CODES) if chemo_doc else []
    if wrong:
        out.append(finding("audit.family_mismatch", severity,
                         f"{', '.join(wrong)} billed but {basis} is chemotherapy or a complex biologic: it takes 96413, "
                         "96415 for an added hour and 96417 for a sequential drug, not 96365-96368", [i for c in wrong for i in ctx.numbers(c)]))
    wrong = sorted(billed_codes & CHEMO_CODES) if ther_doc else []
    if wrong:
        out.append(finding("audit.family_mismatch", severity,
                         f"{', '.join(wrong)} billed but {basis} is a therapeutic drug: it takes 96365, 96366 for an added "
                         "hour and 96367 for a new drug in sequence, not the chemotherapy codes", [i for c in wrong for i in ctx.numbers(c)]))
    return out
