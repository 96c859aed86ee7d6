"""Drug supply lines: the HCPCS drug code with billing units, and JW/JZ for single-dose vials.

Sources: billing units = dose over the HCPCS billing unit, rounded up (HCPCS long descriptors
[S1-HCPCS]; IOM 100-04 ch.17 s.40); discarded drug from a single-dose vial on its own JW line, JZ when
nothing billable was discarded, required since July 1, 2023, never for multi-dose vials (CMS JW/JZ FAQ).
"""
from __future__ import annotations

import math

from ..model import Administration
from ..reference.drugs import HcpcsCode
from .context import CodingContext

# Canonical unit -> (dimension, factor to the dimension's base unit).
_UNITS = {
    "mcg": ("mass", 0.001), "ug": ("mass", 0.001), "µg": ("mass", 0.001), "microgram": ("mass", 0.001), "micrograms": ("mass", 0.001),
    "mg": ("mass", 1.0), "milligram": ("mass", 1.0), "milligrams": ("mass", 1.0),
    "g": ("mass", 1000.0), "gm": ("mass", 1000.0), "gram": ("mass", 1000.0), "grams": ("mass", 1000.0),
    "units": ("units", 1.0), "unit": ("units", 1.0), "u": ("units", 1.0), "iu": ("units", 1.0),
    "meq": ("meq", 1.0),
    "ml": ("volume", 1.0), "cc": ("volume", 1.0), "l": ("volume", 1000.0),
}
_EPSILON = 1e-9


def in_unit(amount: float, unit: str, target: str) -> float | None:
    """`amount unit` expressed in `target`, or None when they do not convert (e.g. mg to ml)."""
    a = _UNITS.get(unit) or _UNITS.get(unit.strip().lower())  # as written, usually
    b = _UNITS.get(target) or _UNITS.get(target.strip().lower())
    if a is None or b is None or a[0] != b[0]:
        return None
    return amount * a[1] / b[1]


def billing_units(amount: float, code: HcpcsCode) -> int:
    return max(1, math.ceil(amount / code.billing_unit.amount - _EPSILON))


def _amount(value: float | None) -> float | None:
    """A documented amount the rules can compute with: finite and not negative; else None."""
    return value if value is not None and math.isfinite(value) and value >= 0 else None


def drug_lines(ctx: CodingContext, adm: Administration, hcpcs: HcpcsCode | None, day: str | None, why_no_code: str | None) -> None:
    aid = str(adm.id)
    if adm.dose is None:
        return  # no dose, no drug line: the administration lines stand on their own
    if hcpcs is None and why_no_code is None:
        return  # bundled (a flush): nothing to bill
    if hcpcs is None:
        ctx.add_finding("drug.not_built", "info", f"administration {aid}: drug line not built: {why_no_code}", [aid])
        return
    bu = hcpcs.billing_unit
    given = adm.dose.value
    if not (math.isfinite(given) and given > 0):  # NaN fails the comparison too
        ctx.add_finding("drug.invalid_amount", "error",
                        f"administration {aid}: field dose.value is not a positive number; no drug line", [aid])
        return
    dose = in_unit(given, adm.dose.unit, bu.unit)
    if dose is None:
        ctx.add_finding("drug.not_built", "warning",
                        f"administration {aid}: dose unit {adm.dose.unit!r} does not convert to {hcpcs.code}'s billing unit ({bu.amount:g} {bu.unit})", [aid])
        return
    most = ctx.limits["most_drug_billing_units"]
    if not dose / bu.amount <= most:  # also an overflow to infinity
        ctx.add_finding("drug.invalid_amount", "error",
                        f"administration {aid}: field dose.value comes to more than {most} billing units of {hcpcs.code}, more than "
                        "a claim line carries (limit most_drug_billing_units); check the dose and its unit; no drug line", [aid])
        return
    units = billing_units(dose, hcpcs)
    why = f"dose {adm.dose.value:g} {adm.dose.unit} / billing unit {bu.amount:g} {bu.unit} = {units} unit(s), rounded up"
    modifiers: list[str] = []
    vial = adm.vial
    jw_units = 0
    if vial is not None and vial.single_dose:
        discarded = None
        problem = None  # why a documented amount could not be used (named by field, never quoted)
        if adm.discarded is not None:
            amount = _amount(adm.discarded)
            if amount is None:
                problem = "field discarded is not a finite amount of zero or more"
            else:
                discarded = in_unit(amount, adm.dose.unit, bu.unit)
        else:
            size = in_unit(vial.size, vial.unit, bu.unit)
            if size is not None and not (math.isfinite(size) and size > 0):
                problem = "field vial.size is not a positive number"
            elif size and dose / size <= most:  # vials counted by division: a sliver of a vial is refused below
                vials = math.ceil(dose / size - _EPSILON)
                discarded = vials * size - dose
            elif size:
                problem = "field vial.size makes more vials than a claim line carries"
        if discarded is not None and not (dose + discarded) / bu.amount <= most + units:
            discarded = None
            problem = "the discarded amount comes to more billing units than a claim line carries (limit most_drug_billing_units)"
        if discarded is None:
            ctx.add_finding("drug.discarded_jw", "warning",
                            f"administration {aid}: the discarded amount could not be worked out in {bu.unit}"
                            + (f" ({problem})" if problem else "") + "; JW/JZ not decided", [aid])
        else:
            jw_units = math.ceil((dose + discarded) / bu.amount - _EPSILON) - units
            if jw_units > 0:
                ctx.add_line(hcpcs.code, units, [aid], "drug.billing_units", why, date=day, kind="drug")
                ctx.add_line(hcpcs.code, jw_units, [aid], "drug.discarded_jw",
                             f"{discarded:g} {bu.unit} discarded from a single-dose vial = {jw_units} billing unit(s) beyond the administered units",
                             date=day, modifiers=["JW"], kind="drug")
                return
            modifiers.append("JZ")
            why += "; nothing billable discarded from the single-dose vial (JZ)" + (
                " - rounding up already covers the waste" if discarded > _EPSILON else "")
            ctx.add_line(hcpcs.code, units, [aid], "drug.no_waste_jz", why, date=day, modifiers=modifiers, kind="drug")
            return
    elif vial is None:
        why += "; vial type not documented, so JW/JZ not decided"
    ctx.add_line(hcpcs.code, units, [aid], "drug.billing_units", why, date=day, kind="drug")
