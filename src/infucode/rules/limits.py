"""Limits and values: MUEs of the claim's table, wRVU, and the add-on/primary relationship.

Sources: CMS MUE tables, practitioner and outpatient hospital [S1-MUE], with the MUE adjudication
indicator (MAI) read per Noridian and First Coast [S38b, S38c]; PFS relative value file [S1-RVU];
CMS add-on code edits [S1-AOC].
"""
from __future__ import annotations

from collections import defaultdict

from .context import CodingContext

MAI_MEANING = {
    1: "a claim-line edit (MAI 1): the units on one line are limited",
    2: "a date-of-service edit set by policy (MAI 2): absolute, no appeal can exceed it",
    3: "a date-of-service edit set on clinical grounds (MAI 3): it may be exceeded on appeal with documentation",
}


def medically_unlikely_edits(ctx: CodingContext) -> None:
    """Units above the MUE keep the computed units and raise an error: the whole line is denied."""
    table = "practitioner" if ctx.claim == "professional" else "outpatient hospital"
    per_date: dict[tuple[str, str | None], list] = defaultdict(list)
    for line in ctx.lines:
        if line.kind == "administration":
            per_date[(line.code, line.date)].append(line)
    codes = ctx.ruleset.codes
    for (code, day), lines in per_date.items():
        info = codes.get(code)
        if info is None:
            continue
        mue = info.mue(ctx.claim)
        if mue is None or mue.value is None:
            continue
        groups = [[l] for l in lines] if mue.mai == 1 else [lines]
        for group in groups:
            units = sum(l.units for l in group)
            if units > mue.value:
                ids = sorted({a for l in group for a in l.administrations})
                ctx.add_finding("limits.mue", "error",
                                f"{code} x{units} on {day or 'the date of service'} is above the {table} MUE of {mue.value}; "
                                f"the MUE is {MAI_MEANING.get(mue.mai, f'MAI {mue.mai}')}. The whole line is denied, not only "
                                "the excess: check the documented times, or bill the supported units and appeal with the record", ids)


def add_on_primaries(ctx: CodingContext) -> None:
    """Every add-on line needs an eligible primary among the encounter's lines (CMS add-on code edits).

    An add-on whose eligible primaries are all absent (e.g. 96368 beside a chemotherapy push, which is not
    one of its primaries) would be denied by the edit: it is withdrawn and the finding says why.
    """
    changed = True
    while changed:
        changed = False
        codes = {l.code for l in ctx.lines if l.kind == "administration"}
        for line in ctx.lines:
            info = ctx.ruleset.codes.get(line.code) if line.kind == "administration" else None
            if info is None or not info.add_on or (info.primaries & codes):
                continue
            ctx.lines.remove(line)
            ctx.add_finding("limits.add_on_primary", "warning",
                            f"{line.code} x{line.units} not reported: it is an add-on code and none of its eligible primaries "
                            f"({', '.join(sorted(info.primaries))}) is on the claim, so the CMS add-on edit would deny it",
                            line.administrations)
            changed = True
            break


def wrvu_total(ctx: CodingContext) -> float:
    total = round(sum(l.wrvu for l in ctx.lines), 2)
    if ctx.claim == "facility" and any(l.kind == "administration" for l in ctx.lines):
        ctx.add_finding("limits.wrvu_facility", "info",
                        "wRVU is shown for reference only: work RVUs price the physician fee schedule, and a facility claim is paid under OPPS", [])
    return total


def facility_only_on_professional_claim(ctx: CodingContext, code: str, ids: list[str], what: str) -> bool:
    """A facility-only code (PFS status X, e.g. 96376) is not reported on a professional claim [S1-RVU, S19]:
    True (and the finding) when the claim is professional."""
    if ctx.claim == "facility":
        return False
    ctx.add_finding("limits.professional_status", "info",
                    f"{what} is {code}, a facility-only code (PFS status X); not reported on a professional claim", ids)
    return True
