"""The drug catalog: generic and brand names, abbreviations, HCPCS codes with billing units, and
the administration family each drug takes. Matching is tolerant of case, salt names and spelling
slips; a fuzzy match says so and never selects an HCPCS code.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# CONTRACT (filled in by the drug-catalog work; the engine relies on these names):


@dataclass(frozen=True, slots=True)
class BillingUnit:
    amount: float       # e.g. 10
    unit: str           # canonical: "mg", "mcg", "g", "units", "meq", "ml"


@dataclass(frozen=True, slots=True)
class HcpcsCode:
    code: str                   # "J9312"
    billing_unit: BillingUnit
    description: str            # CMS HCPCS long description (public domain)
    added: str | None = None    # YYYY-MM-DD
    terminated: str | None = None


@dataclass(frozen=True, slots=True)
class Drug:
    key: str                          # active ingredient; the same key = the same drug
    name: str                         # display name
    family: str                       # "chemotherapy" | "therapeutic" | "hydration"
    complex_biologic: bool = False    # monoclonal antibody / complex biologic outside oncology
    payer_dependent: bool = False     # family decided by the profile's complex-biologic policy (e.g. infliximab)
    hormonal: bool = False            # hormonal anti-neoplastic (96402 by SC/IM for cancer)
    electrolyte: bool = False         # family decided by indication (deficiency vs dehydration)
    hcpcs: tuple[HcpcsCode, ...] = ()
    source: str = ""
    unconfirmed: str | None = None


@dataclass(frozen=True, slots=True)
class DrugMatch:
    drug: Drug
    text: str                                    # what the user wrote
    how: Literal["exact", "normalized", "fuzzy", "hcpcs"]
    score: float                                 # 100 for exact
    hcpcs: HcpcsCode | None                      # the code this name selects; None for a fuzzy match


class DrugCatalog:
    release: str

    @classmethod
    def load(cls, path=None) -> "DrugCatalog":  # pragma: no cover - stub
        raise NotImplementedError

    def match(self, name: str) -> DrugMatch | None:  # pragma: no cover - stub
        raise NotImplementedError

    def by_hcpcs(self, code: str) -> tuple[Drug, HcpcsCode] | None:  # pragma: no cover - stub
        raise NotImplementedError
