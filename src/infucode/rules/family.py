"""Drug family: chemotherapy/complex (96401-96549), therapeutic (96365-96379) or hydration (96360-96361).

Sources: A52953 [S8] and CMS Transmittal 129 [S34] (anti-neoplastics, incl. non-cancer use, and
certain monoclonal antibodies take the chemotherapy codes); CR 3818 [S12] (anti-emetics and ESAs are
not chemotherapy); CR 13468 via Noridian [S9] (complex biologics); hydration = prepackaged fluid and
electrolytes [S25]. Contested points are profile policies (complex_biologics, electrolytes).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..model import Administration
from ..reference.drugs import Drug, DrugMatch
from .context import CodingContext

CHEMOTHERAPY = "chemotherapy"
THERAPEUTIC = "therapeutic"
HYDRATION = "hydration"
ACCESS = "access"  # a service on a device or access (pump refill, port flush), not on a drug: 96521-96523

# Words that show a fluid was given for dehydration / an electrolyte to correct a deficiency.
_DEHYDRATION_WORDS = ("dehydrat", "volume depletion", "hypovolem", "fluid loss", "e86")
_DEFICIENCY_WORDS = ("deficien", "hypokal", "hypomag", "hypocalc", "hypophos", "low potassium", "low magnesium",
                     "e87.6", "e876", "e83.4", "e834", "e83.5", "e835", "e83.3", "e833", "replace", "repletion")
_CANCER_WORDS = ("cancer", "carcinoma", "neoplasm", "malignan", "tumor", "tumour", "lymphoma", "leukemia",
                 "leukaemia", "myeloma", "sarcoma", "metasta", "oncolog")


@dataclass(frozen=True, slots=True)
class FamilyDecision:
    family: str | None       # None: cannot be decided (unknown drug, no class)
    rule: str
    note: str | None = None  # what a finding should say (None: nothing to report)
    severity: str = "info"
    policy: str | None = None  # the profile policy that decided it (named in the result)


def is_cancer_indication(indication: str | None) -> bool | None:
    """True/False when the indication says; None when it is not documented.
    ICD-10-CM C00-D49 are neoplasms; text is matched on common words."""
    if not indication:
        return None
    text = indication.strip().lower()
    code = text.replace(".", "")
    if len(code) >= 3 and code[0] in "cd" and code[1:3].isdigit():
        if code[0] == "c" or int(code[1:3]) <= 49:
            return True
    return any(w in text for w in _CANCER_WORDS)


def electrolyte_family(indication: str | None, policy: str) -> FamilyDecision:
    """Electrolytes in fluid: hydration for dehydration, therapeutic to correct a deficiency [S24, S25]."""
    if policy == "always_therapeutic":
        return FamilyDecision(THERAPEUTIC, "family.electrolyte_indication", "electrolyte coded as a therapeutic infusion (policy electrolytes=always_therapeutic)",
                              policy="electrolytes")
    text = (indication or "").lower()
    if any(w in text for w in _DEFICIENCY_WORDS):
        return FamilyDecision(THERAPEUTIC, "family.electrolyte_indication", "electrolyte given to correct a deficiency: therapeutic infusion",
                              policy="electrolytes")
    if any(w in text for w in _DEHYDRATION_WORDS):
        return FamilyDecision(HYDRATION, "family.electrolyte_indication", "electrolyte in fluid given for dehydration: hydration",
                              policy="electrolytes")
    return FamilyDecision(
        THERAPEUTIC, "family.electrolyte_indication",
        "electrolyte without a documented indication: coded as a therapeutic infusion; document whether it treated a deficiency (therapeutic) or dehydration (hydration)",
        "warning", "electrolytes",
    )


def drug_family(drug: Drug, indication: str | None, policies: dict[str, str]) -> FamilyDecision:
    """The family a catalog drug takes under the profile's policies."""
    if drug.electrolyte:
        return electrolyte_family(indication, policies["electrolytes"])
    if drug.payer_dependent:
        if policies["complex_biologics"] == "therapeutic":
            return FamilyDecision(THERAPEUTIC, "family.complex_biologic",
                                  f"{drug.name} is a complex biologic this profile keeps on the therapeutic codes (policy complex_biologics=therapeutic)",
                                  policy="complex_biologics")
        return FamilyDecision(CHEMOTHERAPY, "family.complex_biologic",
                              f"{drug.name} is a complex biologic this profile pays on the chemotherapy/complex codes (policy complex_biologics=complex)",
                              policy="complex_biologics")
    return FamilyDecision(drug.family, "family.catalog")


def administration_family(match: DrugMatch | None, declared: str | None, indication: str | None,
                          policies: dict[str, str], route: str | None = None) -> FamilyDecision:
    """The documented class overrides the catalog; an unknown drug: ``unknown_drug_family``."""
    if match is None:
        return unknown_drug_family(declared, route)
    if declared is not None:
        catalog = drug_family(match.drug, indication, policies).family
        if catalog != declared:
            return FamilyDecision(declared, "family.override",
                                  f"documented class {declared} overrides the catalog's {catalog} for {match.drug.name}")
        return FamilyDecision(declared, "family.override")
    return drug_family(match.drug, indication, policies)


# Routes whose administration code does not depend on the drug's family: a subcutaneous infusion is
# 96369-96371 whatever was infused (CPT code set), so an unknown drug given this way is still coded.
# Routes added for codes that exist only in one family (e.g. reservoir or intrathecal chemotherapy)
# belong here too.
ROUTES_CODED_WITHOUT_FAMILY: dict[str, str] = {"sc_infusion": THERAPEUTIC}


def unknown_drug_family(declared: str | None, route: str | None) -> FamilyDecision:
    """The one decision (and finding) for a drug the catalog does not hold [family.unknown_drug]:
    the documented class decides; else a route whose code needs no family is coded; else nothing.
    In the first two cases the administration lines stand and only the drug (HCPCS) line is missing."""
    ask = "which HCPCS code and billing unit does it take? The drug line is not built until it is documented"
    if declared is not None:
        return FamilyDecision(declared, "family.unknown_drug",
                              f"drug not in the catalog; its documented class {declared} decides the family; {ask}", "warning")
    if route in ROUTES_CODED_WITHOUT_FAMILY:
        return FamilyDecision(ROUTES_CODED_WITHOUT_FAMILY[route], "family.unknown_drug",
                              f"drug not in the catalog and no `class` documented; route {route} is coded the same for every "
                              f"family, so the administration is coded; {ask}", "warning")
    return FamilyDecision(None, "family.unknown_drug",
                          "drug not in the catalog and no `class` documented: no code family can be chosen; "
                          "document `class` (chemotherapy, therapeutic or hydration) or the drug's catalog name", "error")


def match_drug(ctx: CodingContext, adm: Administration, aid: str) -> DrugMatch | None:
    """The catalog drug of an administration (by name, else by HCPCS code); an approximate or missing match is said."""
    drugs = ctx.ruleset.drugs
    match = drugs.match(adm.drug) if adm.drug else None
    if match is None and adm.hcpcs:
        hit = drugs.by_hcpcs(adm.hcpcs)
        if hit is not None:
            match = DrugMatch(drug=hit[0], text=adm.hcpcs, how="hcpcs", score=100.0, hcpcs=hit[1])
    if match is not None and match.how == "fuzzy":
        ctx.add_finding("family.fuzzy_match", "info",
                        f"administration {aid}: drug name matched approximately to {match.drug.name} (score {match.score:.0f}); "
                        "no HCPCS code is chosen from an approximate match", [aid])
    return match  # an unknown drug (None) gets its one finding from the family decision (unknown_drug_family)


def hormonal_purpose_not_documented(ctx: CodingContext, ids: list[str], drug_name: str) -> None:
    """A hormonal anti-neoplastic by injection without an indication is taken as given for cancer (96402) [S36, S35]."""
    ctx.add_finding("family.hormonal_antineoplastic", "warning",
                    f"administration {ids[0]}: indication not documented; {drug_name} coded as a hormonal anti-neoplastic for cancer (96402). "
                    "For a non-cancer purpose (e.g. fertility, endometriosis) it is 96372", ids)
