"""Drug lines: billed units against the documented dose, and JW/JZ on single-dose vials.

Each check takes the prepared :class:`~.context.AuditContext` and returns findings; rule ids resolve in
``reference/data/rules.yaml``."""
from __future__ import annotations

from collections import defaultdict

from infucode.model import Administration, ChargeLine

from .context import DRUG_CODE, EXPLANATION_TAG, JZ_REQUIRED_FROM, AuditContext, Billed, finding
from .model import AuditFinding


def _drug_lines(ctx: AuditContext) -> dict[tuple[str, str], list[Billed]]:
    """Billed drug lines (HCPCS Level II drug codes, or any code the drug catalog knows) by code and date."""
    out: dict[tuple[str, str], list[Billed]] = defaultdict(list)
    for b in ctx.lines:
        if not b.admin and (DRUG_CODE.match(b.code) or ctx.drugs.by_hcpcs(b.code) is not None):
            out[(b.code, b.date)].append(b)
    return out


def _supported_drug_lines(ctx: AuditContext) -> dict[tuple[str, str], list[ChargeLine]]:
    out: dict[tuple[str, str], list[ChargeLine]] = defaultdict(list)
    for line in ctx.supported or ():
        if line.kind == "drug":
            out[(line.code, line.date or ctx.claim.date)].append(line)
    return out


def _drug_key(ctx: AuditContext, adm: Administration) -> str | None:
    hit = ctx.drugs.by_hcpcs(adm.hcpcs) if adm.hcpcs else None
    if hit is not None:
        return hit[0].key
    match = ctx.drugs.match(adm.drug) if adm.drug else None
    return match.drug.key if match is not None else None


def drug_units(ctx: AuditContext) -> list[AuditFinding]:
    """audit.drug_units [S1-HCPCS, CMS-CLM-17-40, CMS-JW-JZ-FAQ]: billed units of a drug's HCPCS code against
    the documented dose over the code's billing unit, rounded up, plus any discarded amount from a single-dose
    vial (the engine's drug lines). Compared per code and date over all lines (administered + JW).

    More units than documented: error (overbilled). Fewer: warning. A drug billed that the documentation
    does not show given: error; shown but without a usable dose: info (not verified); documented under
    another code of the same drug: warning. A drug code the catalog does not hold: info (not checked).
    Only with documentation. Drug lines carry no work RVU."""
    if ctx.supported is None or ctx.claim.encounter is None:
        return []
    billed = _drug_lines(ctx)
    supported = _supported_drug_lines(ctx)
    documented: dict[str, list[str]] = defaultdict(list)
    for adm in ctx.claim.encounter.administrations:
        key = _drug_key(ctx, adm)
        if key is not None:
            documented[key].append(str(adm.id))
    supported_by_key: dict[str, set[str]] = defaultdict(set)
    for code, _ in supported:
        hit = ctx.drugs.by_hcpcs(code)
        if hit is not None:
            supported_by_key[hit[0].key].add(code)
    out = []
    explained: set[str] = set()
    for key in sorted(set(billed) | set(supported)):
        code, day = key
        lines = billed.get(key, [])
        b = sum(x.units for x in lines)
        s = sum(x.units for x in supported.get(key, []))
        idx = [x.number for x in lines]
        hit = ctx.drugs.by_hcpcs(code)
        if b == s:
            continue
        if lines and hit is None and not s:
            out.append(finding("audit.drug_units", "info",
                             f"{code} x{b} on {day}: not in the drug catalog, so its billing unit is unknown and the units were not "
                             "checked against the documented dose", idx))
            continue
        why = "; ".join(EXPLANATION_TAG.sub("", x.explanation) for x in supported.get(key, []))
        if lines and not s:
            name = hit[0].name
            others = sorted(supported_by_key.get(hit[0].key, set()) - {code})
            if others:
                explained.update(others)
                out.append(finding("audit.drug_units", "warning",
                                 f"{code} x{b} billed on {day}, but the documented {name} codes to {', '.join(others)}: bill the "
                                 "code of the product given, in units of that code's billing unit", idx))
            elif documented.get(hit[0].key):
                out.append(finding("audit.drug_units", "info",
                                 f"{code} x{b} on {day}: {name} is documented ({', '.join(documented[hit[0].key])}) without a dose that "
                                 "converts to the code's billing unit, so the units were not verified; document the dose given", idx))
            else:
                out.append(finding("audit.drug_units", "error",
                                 f"{code} x{b} billed on {day}, but no administration of {name} is documented: the units are not "
                                 "supported", idx))
            continue
        if b > s:
            out.append(finding("audit.drug_units", "error",
                             f"{code} x{b} billed on {day}, the documented dose supports {s} ({why}): {b - s} unit(s) overbilled", idx))
        elif code not in explained:
            missing = "not billed" if b == 0 else f"{b} billed"
            out.append(finding("audit.drug_units", "warning",
                             f"{code} x{s} supported on {day} by the documented dose ({why}) but {missing}: {s - b} unit(s) under-billed", idx))
    return out


def jw_jz_modifiers(ctx: AuditContext) -> list[AuditFinding]:
    """audit.jw_jz_both / audit.jw_missing / audit.jz_with_waste / audit.jw_without_waste / audit.jz_missing /
    audit.jw_jz_multi_dose [CMS-JW-JZ-FAQ, CMS-CLM-17-40, CMS-CR-JZ-2023]: on the drug line of a single-dose
    container, the discarded amount goes on its own line with JW; JZ says nothing was discarded and is required
    from 2023-07-01 when nothing was; never both; neither on a multi-dose vial.

    JW/JZ on an administration line is audit.modifier_misplaced, not counted here. JW with JZ on one drug is
    checked on the billed lines alone; the rest needs the documented vial (the engine's drug lines decide the
    discarded units). JZ missing on an institutional claim is a warning: packaged OPPS drugs (not separately
    payable) do not need it, and the status indicator is not on the claim."""
    out = []
    billed = _drug_lines(ctx)
    both: set[tuple[str, str]] = set()
    for key, lines in sorted(billed.items()):
        mods = set().union(*(b.modifiers for b in lines))
        if {"JW", "JZ"} <= mods:
            both.add(key)
            out.append(finding("audit.jw_jz_both", "error",
                             f"{key[0]} on {key[1]} carries both JW (an amount discarded) and JZ (nothing discarded): the two "
                             "contradict each other; one drug from one single-dose container takes one or the other",
                             [b.number for b in lines if b.modifiers & {"JW", "JZ"}]))
    enc = ctx.claim.encounter
    if ctx.supported is None or enc is None:
        return out
    by_id = {str(a.id): a for a in enc.administrations}
    supported = _supported_drug_lines(ctx)
    for key, lines in sorted(billed.items()):
        code, day = key
        if key in both or key not in supported:
            continue  # unsupported drug lines: audit.drug_units
        s_lines = supported[key]
        vials = [by_id[a].vial for line in s_lines for a in line.administrations if a in by_id]
        single = any(v is not None and v.single_dose for v in vials)
        multi = bool(vials) and all(v is not None and not v.single_dose for v in vials)
        waste = sum(line.units for line in s_lines if "JW" in line.modifiers)
        jw = [b.number for b in lines if "JW" in b.modifiers]
        jz = [b.number for b in lines if "JZ" in b.modifiers]
        idx = [b.number for b in lines]
        if multi:
            if jw or jz:
                out.append(finding("audit.jw_jz_multi_dose", "warning",
                                 f"{code} on {day}: {'JW' if jw else 'JZ'} on a drug documented from a multi-dose vial; JW and JZ "
                                 "apply only to single-dose containers", jw + jz))
            continue
        if not single:
            continue  # the vial is not documented: JW/JZ cannot be decided
        if waste:
            if jz:
                out.append(finding("audit.jz_with_waste", "error",
                                 f"{code} on {day}: JZ says nothing was discarded, but the record shows {waste} billing unit(s) "
                                 "discarded from the single-dose vial; report the administered units on one line and the "
                                 "discarded units on their own line with JW", jz))
            elif not jw:
                out.append(finding("audit.jw_missing", "error",
                                 f"{code} on {day}: the record shows {waste} billing unit(s) discarded from the single-dose vial "
                                 "but no line carries JW; report the discarded units on their own line with JW (Medicare pays "
                                 "the discarded amount only when it is reported that way and documented)", idx))
        elif jw:
            out.append(finding("audit.jw_without_waste", "error",
                             f"{code} on {day}: JW bills a discarded amount, but the documented dose and vial leave nothing "
                             "billable discarded (the dose rounded up to whole billing units uses the vial); the JW units are "
                             "not supported", jw))
        elif not jz and day >= JZ_REQUIRED_FROM:
            severity = "error" if ctx.professional else "warning"
            out.append(finding("audit.jz_missing", severity,
                             f"{code} on {day}: a single-dose vial with nothing discarded needs JZ on the drug line (required "
                             "from July 1, 2023; claims without JW or JZ are returned or denied)"
                             + ("" if ctx.professional else "; not needed if the drug is packaged under OPPS (not separately payable)"),
                             idx))
    return out
