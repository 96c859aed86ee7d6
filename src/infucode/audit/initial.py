"""A second initial service on one date: only with 59/XE/XS/XP/XU and a documented separate vascular access
(or a separate encounter).

Each check takes the prepared :class:`~.context.AuditContext` and returns findings; rule ids resolve in
``reference/data/rules.yaml``."""
from __future__ import annotations

from collections import defaultdict

from .context import (DISTINCT_MODIFIERS, FAMILY_RANK, IV_INITIAL_CODES, KIND_RANK, AuditContext, Billed, finding,
                      units_list, units_text)
from .model import AuditFinding


def _initial_rank(b: Billed) -> tuple[int, int, int]:
    return (-FAMILY_RANK.get(b.info.family, 0), -KIND_RANK.get(b.info.kind, 0), b.number)


def second_initial(ctx: AuditContext) -> list[AuditFinding]:
    """audit.second_initial [S4, NCCI-CH11, S14, CMS-CLM-4-230.2]: one initial IV service (96360, 96365, 96374,
    96409, 96413) per encounter; a second one only when a protocol required a separate vascular access or the
    patient came back for a separate encounter, and then with 59/XE/XS/XP/XU.

    Per date: initial units beyond the first (highest-ranked) without a distinct-service modifier: error.
    With the modifier but documentation that supports fewer initial services (one access, no separate site
    required): warning. Documented (the engine codes the second initial too) with the modifier: nothing.
    96360 beside a drug's initial service is left to audit.hydration_as_initial. wRVU: with documentation
    audit.units_unsupported counts the difference; without it the extra units are counted here unless an
    NCCI PTP edit between the two codes already counts them (audit.ptp)."""
    by_day: dict[str, list[Billed]] = defaultdict(list)
    for b in ctx.admin_lines:
        if b.code in IV_INITIAL_CODES:
            by_day[b.date].append(b)
    supported: dict[str, int] = defaultdict(int)
    for (code, day), n in ctx.supported_units().items():
        if code in IV_INITIAL_CODES:
            supported[day] += n
    out = []
    for day, lines in sorted(by_day.items()):
        if any(b.info.family in ("therapeutic", "chemotherapy") for b in lines):
            lines = [b for b in lines if b.code != "96360"]
        total = sum(b.units for b in lines)
        if total < 2:
            continue
        lines.sort(key=_initial_rank)
        plain = [b for b in lines if not b.modifiers & DISTINCT_MODIFIERS]
        marked = [b for b in lines if b.modifiers & DISTINCT_MODIFIERS]
        extra: list[tuple[Billed, int]] = []
        for i, b in enumerate(plain):
            units = b.units - 1 if i == 0 else b.units
            if units > 0:
                extra.append((b, units))
        documented = supported.get(day) if ctx.supported is not None else None
        codes = units_list(lines)
        if extra:
            where = ", ".join(f"line {b.number} ({b.code} x{n})" for b, n in extra)
            if documented is not None and documented >= total:
                why = "the documentation does show a separately required access, so append XU (or 59) to the added initial service"
            elif documented is not None:
                why = (f"the documentation supports {documented} initial service(s) on {day}: report the later services as "
                       "sequential, concurrent or added-hour codes")
            else:
                why = "unless the record shows a separate access required by protocol or a separate encounter, the later services are sequential or added-hour codes"
            delta, units = 0.0, 0
            if ctx.supported is None:
                others = [o.code for o in lines]
                for b, n in extra:
                    paired = any(ctx.ptp_on(day).pair(b.code, c, ctx.claim_kind) or ctx.ptp_on(day).pair(c, b.code, ctx.claim_kind)
                                 for c in others if c != b.code)
                    if not paired:
                        delta += ctx.wrvu(b.code, -n)
                        units -= n
            out.append(finding("audit.second_initial", "error",
                             f"{codes} on {day}: {total} initial services billed, and {where} carries no 59/XE/XS/XP/XU; only one "
                             f"initial service is reported per encounter and vascular access; {why}"
                             + units_text(ctx, extra[0][0].code, sum(n for _, n in extra)),
                             [b.number for b, _ in extra], delta, units,
                             extra[0][0].code if len({b.code for b, _ in extra}) == 1 else ""))
        if marked and documented is not None and documented < total:
            mods = ", ".join(f"line {b.number} ({b.code} {'/'.join(sorted(b.modifiers & DISTINCT_MODIFIERS))})" for b in marked)
            enc = ctx.claim.encounter
            sites = sorted({a.site for a in enc.administrations if a.site}) if enc is not None else []
            required = enc is not None and any(a.separate_site_required for a in enc.administrations)
            if len(sites) > 1 and not required:
                shown = f"sites {', '.join(sites)} are documented but no protocol requiring a separate access"
            elif not sites:
                shown = "no access site is documented"
            else:
                shown = "one access is documented"
            out.append(finding("audit.second_initial", "warning",
                             f"{mods} on {day} bills a second initial service as distinct, but the documentation supports "
                             f"{documented} initial service(s): {shown}, and no separate encounter; the modifier needs a "
                             "separately required vascular access or a separate encounter in the record",
                             [b.number for b in marked]))
    return out
