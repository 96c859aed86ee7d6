"""Refreshing the drug catalog from the official HCPCS Level II file: each code's long description, billing unit
(read from the description), added and termination dates; the catalog's names, families and MUEs stay as bundled."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .drugs import BillingUnit, Drug, DrugCatalog, HcpcsCode

__all__ = ["RefreshReport", "billing_unit_from_description", "refreshed_catalog"]

# The billing unit in a HCPCS long description: its last amount with a unit ("Injection, rituximab,
# 10 mg", "per 250 mg", "up to 50 mg", "1 microgram", "1000 units", "per 2 meq", "(500 ml = 1 unit)",
# "1000 cc"). A description without one (a drug billed "per vial", "per dose") gives None.
_UNIT_WORDS = {
    "mg": "mg", "milligram": "mg", "milligrams": "mg", "mcg": "mcg", "microgram": "mcg", "micrograms": "mcg",
    "g": "g", "gm": "g", "gram": "g", "grams": "g", "unit": "units", "units": "units", "iu": "units",
    "meq": "meq", "ml": "ml", "cc": "ml",
}
_PER_UNIT_VOLUME = re.compile(r"\(\s*(\d[\d,]*(?:\.\d+)?)\s*(ml|cc)\s*=\s*1\s*unit\s*\)", re.I)
_AMOUNT_UNIT = re.compile(
    r"(?<![\w.])(\d[\d,]*(?:\.\d+)?|\.\d+)\s*(milligrams?|micrograms?|grams?|mg|mcg|gm|g|units?|iu|meq|ml|cc)\b(?!\s*/\s*(?:ml|kg))",
    re.I)


def billing_unit_from_description(text: str) -> BillingUnit | None:
    """The billing unit a HCPCS long description states (its last amount with a unit), or None."""
    m = _PER_UNIT_VOLUME.search(text)
    if m is not None:
        return BillingUnit(float(m.group(1).replace(",", "")), "ml")
    found = list(_AMOUNT_UNIT.finditer(text))
    if not found:
        return None
    if len(found) >= 2 and re.fullmatch(r"[\w\s-]*\band\b[\w\s-]*", text[found[-2].end():found[-1].start()]):
        return None     # two ingredients with their own amounts ("235 mg and palonosetron 0.25 mg"): a person reads it
    amount, word = found[-1].group(1), found[-1].group(2).lower()
    value = float(amount.replace(",", ""))
    return BillingUnit(value, _UNIT_WORDS[word]) if value > 0 else None


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """What :func:`refreshed_catalog` did with an official HCPCS file."""

    release: str
    updated: tuple[str, ...]           # codes whose description/dates/unit now come from the file
    unit_changed: tuple[str, ...]      # codes whose billing unit differs from the bundled one (file wins)
    unit_unread: tuple[str, ...]       # codes whose description states no readable unit (bundled unit kept, unconfirmed)
    missing: tuple[str, ...]           # catalog codes the file does not hold (kept, marked unconfirmed)
    candidates: tuple[tuple[str, str, str], ...]   # (code, description, drug key): file codes naming a catalog drug, not added


def _refresh_code(c: HcpcsCode, rec, release: str) -> tuple[HcpcsCode, str]:
    """The code with the file's values; the second value says how the unit fared ("", "changed", "unread")."""
    unit = billing_unit_from_description(rec.long_description)
    status, unconfirmed = "", None
    if unit is None:
        unit, status = c.billing_unit, "unread"
        unconfirmed = f"billing unit not stated in the {release} description; bundled unit kept"
    elif unit != c.billing_unit:
        status = "changed"
    return HcpcsCode(code=c.code, billing_unit=unit, description=rec.long_description, added=rec.added,
                     terminated=rec.terminated, names=c.names, unconfirmed=unconfirmed,
                     mue_practitioner=c.mue_practitioner, mue_hospital=c.mue_hospital), status


def refreshed_catalog(catalog: DrugCatalog, records, release: str) -> tuple[DrugCatalog, RefreshReport]:
    """A copy of ``catalog`` whose HCPCS codes take their long description, billing unit (read from the
    description), added and termination dates from the official HCPCS Level II file (``records``:
    {code: record with long_description, added, terminated}, e.g. ``cms_files.read_hcpcs_file``).
    Names, families and MUEs stay as bundled. A catalog code the file lacks is kept and marked
    unconfirmed; a file code whose description names a catalog drug but is not in the catalog is listed
    in ``candidates`` for review, never added (its family and brand names need a person)."""
    updated, changed, unread, missing = [], [], [], []
    drugs = []
    for d in catalog:
        codes = []
        for c in d.hcpcs:
            rec = records.get(c.code)
            if rec is None:
                missing.append(c.code)
                note = f"not in the HCPCS file {release}"
                codes.append(HcpcsCode(c.code, c.billing_unit, c.description, c.added, c.terminated, c.names,
                                       f"{c.unconfirmed}; {note}" if c.unconfirmed else note,
                                       c.mue_practitioner, c.mue_hospital))
                continue
            new, status = _refresh_code(c, rec, release)
            codes.append(new)
            updated.append(c.code)
            if status == "changed":
                changed.append(c.code)
            elif status == "unread":
                unread.append(c.code)
        drugs.append(Drug(d.key, d.name, d.family, d.complex_biologic, d.payer_dependent, d.hormonal, d.electrolyte,
                          tuple(codes), d.source, d.unconfirmed, d.aliases, d.flush, d.note))
    candidates = []
    for code, rec in sorted(records.items()):
        if catalog.by_hcpcs(code) is not None:
            continue
        named = _drug_named_in(catalog, rec.long_description)
        if named is not None:
            candidates.append((code, rec.long_description, named.key))
    cat = DrugCatalog(drugs, release=release, source=f"CMS HCPCS Level II file {release} (refreshed from {catalog.release})")
    return cat, RefreshReport(release, tuple(updated), tuple(changed), tuple(unread), tuple(missing), tuple(candidates))


def _drug_named_in(catalog: DrugCatalog, description: str) -> Drug | None:
    """The catalog drug a HCPCS description names in its second part ("Injection, <drug>, 10 mg");
    exact or normalised matches only."""
    parts = [p.strip() for p in description.split(",")]
    for p in parts[1:3] if len(parts) > 1 else parts:
        # a biosimilar's name is the reference name with a 4-letter suffix ("bevacizumab-maly")
        for name in (p, p.rsplit("-", 1)[0] if "-" in p else ""):
            m = catalog.match(name) if name else None
            if m is not None and m.how in ("exact", "normalized"):
                return m.drug
    return None
