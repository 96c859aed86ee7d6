"""Services reported beside the IV initial/add-on chain: SC/IM injections (96372, 96401, 96402),
subcutaneous infusion (96369-96371), intra-arterial administration (96373, 96420-96425), a
prolonged chemotherapy infusion started on a pump (96416), and the routes of ``other_routes`` (96377,
96405/96406, 96440-96450, 96521/96522, 96542, 96379/96549).

Sources: CPT code set and guidelines; hormonal vs non-hormonal anti-neoplastics [S36]; add-on edits
[S1-AOC]; NCCI PTP edits [S1-PTP] for the distinct-service modifier.
"""
from __future__ import annotations

from . import family as fam
from . import method as meth
from .administration import Service
from .context import CodingContext
from .other_routes import code_other_route, code_pump_refill
from .subsequent import ADDED_HOURS, TimedLine, emit_added_hours
from .timing import PROLONGED_PUMP_MINUTES, PUSH_MAX_MINUTES


def is_prolonged_pump(s: Service) -> bool:
    """A chemotherapy infusion of more than 8 hours started on a portable or implantable pump."""
    return (s.family == fam.CHEMOTHERAPY and s.pump and s.minutes is not None
            and s.minutes > PROLONGED_PUMP_MINUTES and s.method in (meth.INFUSION, meth.INTRA_ARTERIAL))


def pump_presumed(ctx: CodingContext, s: Service) -> bool:
    """A chemotherapy infusion without a documented pump that runs past any plausible chair time (limit
    longest_chair_time_minutes): policy chemo_past_chair_time decides whether it is coded as the prolonged pump
    (96416/96425) or by the hour; either way a warning asks for the pump [CPT-CHEMO-GUIDE; S1-MUE 96415 = 8]."""
    if (s.family != fam.CHEMOTHERAPY or s.pump or s.minutes is None
            or s.method not in (meth.INFUSION, meth.INTRA_ARTERIAL)):
        return False
    limit = ctx.limits["longest_chair_time_minutes"]
    if s.minutes <= limit:
        return False
    policy = ctx.policy("chemo_past_chair_time")
    code = "96425" if s.method == meth.INTRA_ARTERIAL else "96416"
    how = (f"coded as the prolonged pump infusion {code}, not an added hour for every hour (policy chemo_past_chair_time=prolonged_pump)"
           if policy == "prolonged_pump" else "coded by the hour as documented (policy chemo_past_chair_time=hourly)")
    ctx.add_finding("beside_chain.pump_not_documented", "warning",
                    f"administration {s.id}: chemotherapy infusion of {s.minutes} minutes, longer than any chair time "
                    f"({limit // 60} hours, limit longest_chair_time_minutes), with no pump documented; {how}. "
                    "Document the portable or implantable pump (field pump)", s.ids)
    if policy != "prolonged_pump":
        return False
    s.pump = True
    return True


def injection_code(ctx: CodingContext, s: Service) -> tuple[str | None, str]:
    if s.family == fam.HYDRATION:
        return None, "hydration by injection is not a reportable drug administration"
    if s.family == fam.THERAPEUTIC:
        return "96372", "a non-chemotherapy SC/IM injection"
    if s.hormonal:
        if s.cancer is False:
            return "96372", "a hormonal anti-neoplastic given for a non-cancer purpose is a therapeutic injection"
        if s.cancer is None:
            fam.hormonal_purpose_not_documented(ctx, s.ids, s.drug_name)
        return "96402", "a hormonal anti-neoplastic by SC/IM injection"
    return "96401", "a non-hormonal anti-neoplastic or complex drug by SC/IM injection"


def code_beside_chain(ctx: CodingContext, services: list[Service]) -> list[int]:
    """Lines for services outside the IV chain; returns the indexes of the lines added (for NCCI modifiers)."""
    first_line = len(ctx.lines)
    threshold = ctx.policies["added_hour_threshold"]
    sc_started: list[Service] = []
    for s in sorted(services, key=lambda s: (s.start is None, s.start.isoformat() if s.start else "", s.id)):
        day = s.day(ctx.encounter_date)
        who = f"{s.drug_name} (administration {', '.join(s.ids)})"
        if s.method == meth.OTHER_ROUTE:
            code_other_route(ctx, s)
        elif s.method == meth.PUMP_REFILL:
            code_pump_refill(ctx, s)
        elif is_prolonged_pump(s):
            code = "96425" if s.method == meth.INTRA_ARTERIAL else "96416"
            ctx.add_line(code, 1, s.ids, "beside_chain.prolonged_pump",
                         f"{who} ran {s.minutes} min (more than 8 hours) started on a portable or implantable pump", date=day)
        elif s.method == meth.INJECTION:
            code, why = injection_code(ctx, s)
            if code is None:
                ctx.add_finding("beside_chain.injection", "info", f"administration {s.id}: {why}; no line", s.ids)
                continue
            ctx.add_line(code, 1, s.ids, "beside_chain.injection", f"{who} by {s.route.upper()}: {why}", date=day)
        elif s.method == meth.SC_INFUSION:
            if not sc_started:
                ctx.add_line("96369", 1, s.ids, "beside_chain.sc_infusion",
                             f"{who} subcutaneous infusion {s.minutes} min: first hour, pump set-up and sites included", date=day)
                emit_added_hours(ctx, TimedLine(s, "96370", s.minutes or 0, list(s.ids), 60, None, "beside_chain.sc_infusion",
                                                f"{who} subcutaneous infusion ran {s.minutes} min"), threshold)
            elif s.site and all(s.site != o.site for o in sc_started) and not any(l.code == "96371" for l in ctx.lines):
                ctx.add_line("96371", 1, s.ids, "beside_chain.sc_infusion", f"{who}: an added pump set-up at a new subcutaneous site", date=day)
            else:
                ctx.add_finding("beside_chain.sc_infusion", "info",
                                f"administration {s.id}: further subcutaneous infusion through the same set-up is not separately reported", s.ids)
            sc_started.append(s)
        elif s.method == meth.INTRA_ARTERIAL:
            if s.family == fam.HYDRATION:
                ctx.add_finding("beside_chain.intra_arterial", "info", f"administration {s.id}: intra-arterial hydration is not reported", s.ids)
            elif s.family == fam.THERAPEUTIC:
                ctx.add_line("96373", 1, s.ids, "beside_chain.intra_arterial", f"{who}: a non-chemotherapy intra-arterial injection", date=day)
            elif s.minutes is None or s.minutes <= PUSH_MAX_MINUTES:
                ctx.add_line("96420", 1, s.ids, "beside_chain.intra_arterial", f"{who}: chemotherapy intra-arterial push", date=day)
            else:
                ctx.add_line("96422", 1, s.ids, "beside_chain.intra_arterial",
                             f"{who}: chemotherapy intra-arterial infusion {s.minutes} min, first hour", date=day)
                emit_added_hours(ctx, TimedLine(s, "96423", s.minutes, list(s.ids), 60, None, ADDED_HOURS,
                                                f"{who} intra-arterial infusion ran {s.minutes} min"), threshold)
    return list(range(first_line, len(ctx.lines)))


def distinct_service_modifiers(ctx: CodingContext, beside: list[int]) -> None:
    """Where an NCCI PTP edit pairs a line beside the chain (column 2) with another line on the claim
    (column 1) and allows a modifier, append the distinct-service modifier; where it allows none, say so."""
    if not beside:
        return
    codes = {line.code for line in ctx.lines}
    ptp = ctx.ruleset.ptp
    for i in beside:
        line = ctx.lines[i]
        for col1 in sorted(codes):
            if col1 == line.code:
                continue
            edit = ptp.pair(col1, line.code, ctx.claim)
            if edit is None:
                continue
            if edit.modifier_indicator == 1:
                mod = ctx.policy("distinct_modifier")
                if mod not in line.modifiers:
                    line.modifiers.append(mod)
                    line.explanation += f"; NCCI pairs it with {col1} (modifier allowed): {mod} marks a distinct service"
            elif edit.modifier_indicator == 0:
                ctx.add_finding("beside_chain.distinct_injection", "warning",
                                f"administrations {', '.join(line.administrations)}: NCCI edits deny {line.code} beside {col1} "
                                "and allow no modifier", line.administrations)
