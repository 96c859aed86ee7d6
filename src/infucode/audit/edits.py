"""Checks on the billed lines alone: unknown codes, add-on codes, MUEs, 96368 once, facility-only codes and
places of service, NCCI procedure-to-procedure pairs, misplaced modifiers.

Each check takes the prepared :class:`~.context.AuditContext` and returns findings; rule ids resolve in
``reference/data/rules.yaml``."""
from __future__ import annotations

from collections import defaultdict
from itertools import permutations

from .context import (DISTINCT_MODIFIERS, DRUG_MODIFIERS, FACILITY_POS, MAI_MEANING, AuditContext, Billed,
                      facility_only, finding, in_admin_range, units_text)
from .model import AuditFinding


def unknown_admin_codes(ctx: AuditContext) -> list[AuditFinding]:
    """audit.unknown_code [INFUCODE]: a code in 96360-96549 that the code table does not hold."""
    return [finding("audit.unknown_code", "warning",
                  f"line {b.number}: {b.code} is in the drug-administration range but not in the code table; it was not checked", [b.number])
            for b in ctx.lines if b.info is None and in_admin_range(b.code)]


def add_on_without_primary(ctx: AuditContext) -> list[AuditFinding]:
    """audit.add_on_without_primary [S1-AOC, SEED-003]: an add-on code needs one of its eligible primaries
    on the same date; on an institutional claim (e.g. an observation stay) anywhere on the same claim."""
    out = []
    for b in ctx.admin_lines:
        if not b.info.add_on or not b.info.primaries:
            continue
        others = {o.code for o in ctx.lines if o.number != b.number and (not ctx.professional or o.date == b.date)}
        if b.info.primaries & others:
            continue
        where = "on the claim" if not ctx.professional else f"on {b.date}"
        out.append(finding("audit.add_on_without_primary", "error",
                         f"line {b.number}: {b.code} x{b.units} is an add-on code and none of its eligible primaries "
                         f"({', '.join(sorted(b.info.primaries))}) is billed {where}; the CMS add-on edit denies it"
                         + units_text(ctx, b.code, b.units),
                         [b.number], ctx.wrvu(b.code, -b.units), -b.units, b.code))
    return out


def mue_exceeded(ctx: AuditContext) -> list[AuditFinding]:
    """audit.mue [S1-MUE, S38b, S38c]: units above the MUE of the claim's table (practitioner for a
    professional claim, outpatient hospital for an institutional one), read by the MAI: 1 per line,
    2 and 3 per date of service summed over lines. The whole line is denied, not only the excess."""
    table = "practitioner" if ctx.professional else "outpatient hospital"
    groups: dict[tuple[str, str], list[Billed]] = defaultdict(list)
    for b in ctx.admin_lines:
        groups[(b.code, b.date)].append(b)
    out = []
    for (code, day), lines in groups.items():
        mue = lines[0].info.mue(ctx.claim_kind)
        if mue.value is None or mue.value == 0:
            continue  # no MUE, or 0 = not payable in this setting (see audit.facility_only_code)
        for group in ([[b] for b in lines] if mue.mai == 1 else [lines]):
            units = sum(b.units for b in group)
            if units <= mue.value:
                continue
            out.append(finding("audit.mue", "error",
                             f"{code} x{units} on {day} is above the {table} MUE of {mue.value} "
                             f"({MAI_MEANING.get(mue.mai, f'MAI {mue.mai}')}); the whole line is denied, not only the excess"
                             + units_text(ctx, code, units),
                             [b.number for b in group], ctx.wrvu(code, -units), -units, code))
    return out


def concurrent_more_than_once(ctx: AuditContext) -> list[AuditFinding]:
    """audit.concurrent_once [CPT-INF-GUIDE, S29c]: 96368 is reported once per date of service."""
    per_day: dict[str, list[Billed]] = defaultdict(list)
    for b in ctx.admin_lines:
        if b.code == "96368":
            per_day[b.date].append(b)
    out = []
    for day, lines in per_day.items():
        units = sum(b.units for b in lines)
        if units > 1:
            out.append(finding("audit.concurrent_once", "error",
                             f"96368 x{units} on {day}: a concurrent infusion is reported once per date, however many drugs ran together; "
                             f"{units - 1} unit(s) too many" + units_text(ctx, "96368", units - 1),
                             [b.number for b in lines], ctx.wrvu("96368", -(units - 1)), -(units - 1), "96368"))
    return out


def facility_only_code(ctx: AuditContext) -> list[AuditFinding]:
    """audit.facility_only_code [S1-RVU, S19]: a code with PFS status X (96376) is not paid on a professional claim."""
    if not ctx.professional:
        return []
    return [finding("audit.facility_only_code", "error",
                  f"line {b.number}: {b.code} has PFS status {b.info.pfs_status} (not paid on the physician fee schedule); "
                  "only the hospital reports it", [b.number], ctx.wrvu(b.code, -b.units), -b.units, b.code)
            for b in ctx.admin_lines if b.info.pfs_status == "X"]


def facility_place_of_service(ctx: AuditContext) -> list[AuditFinding]:
    """audit.facility_pos_professional [CPT-INF-GUIDE, SEED-003]: on a professional claim with a facility
    place of service, 96360-96379, 96401-96402, 96409-96425 and 96521-96523 are the hospital's to report."""
    pos = ctx.claim.place_of_service
    if not ctx.professional or pos not in FACILITY_POS:
        return []
    return [finding("audit.facility_pos_professional", "error",
                  f"line {b.number}: {b.code} on a professional claim with facility place of service {pos}: the facility reports "
                  "drug administration; the physician reports a separately identifiable E/M with modifier 25",
                  [b.number], ctx.wrvu(b.code, -b.units), -b.units, b.code)
            for b in ctx.admin_lines if facility_only(b.code) and b.info.pfs_status != "X"]


def ptp_pairs(ctx: AuditContext) -> list[AuditFinding]:
    """audit.ptp [S1-PTP, S38a, NCCI-CH11]: NCCI procedure-to-procedure pairs billed on the same date.
    Modifier indicator 0: never bypassed (error); 1: bypassed only by 59/XE/XS/XP/XU on either line, or by
    25 on a column-2 E/M line (info when 59/X{EPSU} bypasses it, silent for 25 on the E/M and when the
    documentation codes the same pair with the modifier, error when absent); 9: the edit does not apply."""
    out = []
    by_day: dict[str, list[Billed]] = defaultdict(list)
    for b in ctx.lines:
        by_day[b.date].append(b)
    seen: set[tuple[int, int]] = set()
    for day, lines in by_day.items():
        for one, two in permutations(lines, 2):
            if one.code == two.code or (one.number, two.number) in seen:
                continue
            edit = ctx.ptp_on(day).pair(one.code, two.code, ctx.claim_kind)
            if edit is None or edit.modifier_indicator == 9:
                continue
            seen.add((one.number, two.number))
            em = two.code.startswith("99") or two.code == "G0463"
            bypass = (one.modifiers | two.modifiers) & DISTINCT_MODIFIERS
            if edit.modifier_indicator == 1 and em and "25" in two.modifiers and not bypass:
                continue  # a separately identifiable E/M with 25: the edit's intended bypass, nothing to report
            lines_at = [one.number, two.number]
            if edit.modifier_indicator == 0:
                out.append(finding("audit.ptp", "error",
                                 f"{two.code} (line {two.number}) is bundled into {one.code} (line {one.number}) on {day}: NCCI PTP edit "
                                 f"with modifier indicator 0, no modifier bypasses it ({edit.rationale})" + units_text(ctx, two.code, two.units),
                                 lines_at, ctx.wrvu(two.code, -two.units), -two.units, two.code))
            elif bypass:
                if _documented_distinct(ctx, day, one.code, two.code):
                    continue  # the engine codes the same pair with the modifier: the record shows the distinct service
                out.append(finding("audit.ptp", "info",
                                 f"{one.code}/{two.code} on {day} is an NCCI PTP pair (indicator 1) bypassed by modifier "
                                 f"{', '.join(sorted(bypass))}; the record must show a distinct service (separate site, access or encounter)",
                                 lines_at))
            else:
                allowed = "59/XE/XS/XP/XU" + (" or 25 on the E/M line" if em else "")
                out.append(finding("audit.ptp", "error",
                                 f"{two.code} (line {two.number}) is bundled into {one.code} (line {one.number}) on {day}: NCCI PTP edit "
                                 f"with modifier indicator 1 and no {allowed}; it is denied unless the services were distinct "
                                 f"({edit.rationale})" + units_text(ctx, two.code, two.units),
                                 lines_at, ctx.wrvu(two.code, -two.units), -two.units, two.code))
    return out


def _documented_distinct(ctx: AuditContext, day: str, one: str, two: str) -> bool:
    """The documentation supports both codes on ``day``, one of them with a distinct-service modifier."""
    found = {l.code: set(l.modifiers) for l in ctx.supported or ()
             if l.kind == "administration" and (l.date or ctx.claim.date) == day and l.code in (one, two)}
    return len(found) == 2 and any(m & DISTINCT_MODIFIERS for m in found.values())


def modifiers_on_administration(ctx: AuditContext) -> list[AuditFinding]:
    """audit.modifier_misplaced [CMS-JW-JZ-FAQ, NCCI-CH11]: 25 belongs on the E/M line and JA/JW/JZ on the
    drug line, not on an administration line."""
    out = []
    for b in ctx.admin_lines:
        wrong = sorted(b.modifiers & (DRUG_MODIFIERS | {"25"}))
        if wrong:
            out.append(finding("audit.modifier_misplaced", "warning",
                             f"line {b.number}: modifier {', '.join(wrong)} on administration code {b.code}: 25 goes on the "
                             "separately identifiable E/M line, JA/JW/JZ on the drug (J-code) line", [b.number]))
    return out
