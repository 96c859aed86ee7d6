"""Every name form of every catalog entry resolves to that entry (issue 14): its key, display name,
aliases and brand names, the names that select one of its HCPCS codes, the drug named in each HCPCS
long description, and brand and generic together in either order in parentheses. Resolution is exact
or normalised through infucode.vocabulary.drug_names; rapidfuzz only ever suggests (no HCPCS code)."""
from __future__ import annotations

import pytest

from infucode.reference.drugs import Drug, DrugCatalog, HcpcsCode


CATALOG = DrugCatalog.load()

# HCPCS long descriptions that name another entry's ingredient; the entry is told apart by its own names.
DESCRIPTION_NAMES_ANOTHER = {
    "Q2050": "names doxorubicin hydrochloride; the liposomal product is named 'liposomal'/Doxil",
    "J1642": "names heparin sodium; the lock flush is named 'heparin lock flush'",
    "J9316": "names pertuzumab first of three ingredients; the combination is named Phesgo",
}


def name_forms(drug: Drug) -> list[tuple[str, HcpcsCode | None, str]]:
    """(text, the code it must select, kind) for each name form of an entry."""
    default = drug.default_hcpcs
    forms = [(drug.key, default, "key"), (drug.key.replace("_", " "), default, "key"), (drug.name, default, "name")]
    forms += [(a, default, "alias") for a in drug.aliases]
    for c in drug.hcpcs:
        forms += [(n, c, "code name") for n in c.names]
    return forms


def description_name(description: str) -> str:
    """The drug a HCPCS long description names: "Injection, <drug>, <unit>" -> "<drug>"."""
    parts = [p.strip() for p in description.split(",")]
    return parts[1] if parts[0].lower() in ("injection", "infusion") and len(parts) > 1 else parts[0]


ALL_FORMS = [(d, text, code, kind) for d in CATALOG for text, code, kind in name_forms(d)]


def test_the_catalog_is_the_issue_14_size():
    assert len(CATALOG) >= 300
    assert len(ALL_FORMS) >= 1500


@pytest.mark.parametrize("drug, text, code, kind", ALL_FORMS, ids=[f"{d.key}:{t}" for d, t, _, _ in ALL_FORMS])
def test_every_name_form_resolves_to_its_entry(drug, text, code, kind):
    m = CATALOG.match(text)
    assert m is not None, f"{kind} {text!r} of {drug.key} is unknown"
    assert m.drug is drug, f"{kind} {text!r} of {drug.key} resolves to {m.drug.key}"
    assert m.how in ("exact", "normalized")
    assert m.hcpcs is code, (text, m.hcpcs and m.hcpcs.code, code and code.code)


def test_no_name_form_is_shared_by_two_entries():
    owner: dict[str, str] = {}
    for drug, text, _, _ in ALL_FORMS:
        key = " ".join(text.lower().split())
        assert owner.setdefault(key, drug.key) == drug.key, f"{text!r}: {owner[key]} and {drug.key}"


BRACKETED = [(d, f"{a} ({d.name})") for d in CATALOG for a in d.aliases if "(" not in a and "(" not in d.name]
BRACKETED += [(d, f"{d.name} ({a})") for d in CATALOG for a in d.aliases if "(" not in a and "(" not in d.name]


@pytest.mark.parametrize("drug, text", BRACKETED, ids=[t for _, t in BRACKETED])
def test_brand_and_generic_in_either_order(drug, text):
    m = CATALOG.match(text)
    assert m is not None and m.drug is drug and m.how in ("exact", "normalized"), (text, m and m.drug.key)


CODED = [(d, c) for d in CATALOG for c in d.hcpcs]


@pytest.mark.parametrize("drug, code", CODED, ids=[c.code for _, c in CODED])
def test_the_drug_a_hcpcs_description_names(drug, code):
    name = description_name(code.description)
    m = CATALOG.match(name)
    if code.code in DESCRIPTION_NAMES_ANOTHER:
        assert m is None or m.drug is not drug
        return
    assert m is not None and m.drug is drug and m.how in ("exact", "normalized"), (code.code, name, m and m.drug.key)


@pytest.mark.parametrize("text, key, code", [
    # issue 14's examples: salts and concentrations, abbreviations, brand/generic in parentheses
    ("0.9% sodium chloride", "normal_saline", "J7030"),
    ("sodium chloride 0.9% 1000 mL", "normal_saline", "J7030"),
    ("NS", "normal_saline", "J7030"),
    ("D5W", "d5w", "J7070"),
    ("D5 1/2 NS", "d5_half_ns", None),
    ("LR", "lactated_ringers", "J7120"),
    ("KCl 20 mEq", "potassium_chloride", "J3480"),
    ("magnesium sulfate 2 g", "magnesium_sulfate", "J3475"),
    ("heparin lock flush 100 units/mL 5 mL", "heparin_lock_flush", "J1642"),
    ("Azactam (aztreonam)", "aztreonam", None),
    ("aztreonam (Azactam)", "aztreonam", None),
    ("Flagyl (metronidazole)", "metronidazole", None),
    ("metronidazole 500 mg IVPB", "metronidazole", None),
    ("levetiracetam", "levetiracetam", "J1953"),
    ("Keppra 1000 mg IV", "levetiracetam", "J1953"),
    ("levetiracetam (Keppra)", "levetiracetam", "J1953"),
    ("Zosyn (piperacillin-tazobactam) 3.375 g", "piperacillin_tazobactam", "J2543"),
    ("haloperidol decanoate 50 mg IM", "haloperidol", "J1631"),
    ("Haldol 5 mg IM", "haloperidol", "J1630"),
    ("potassium phosphate 15 mmol in NS 250 mL", "potassium_phosphate", None),
    ("D50", "hypertonic_dextrose", None),
    ("calcium chloride 1 g", "calcium_chloride", None),
    ("Kcentra 2000 units", "prothrombin_complex", "J7168"),
])
def test_issue_examples(text, key, code):
    m = CATALOG.match(text)
    assert m is not None and m.drug.key == key, (text, m and m.drug.key)
    assert m.how != "fuzzy"
    assert (m.hcpcs.code if m.hcpcs else None) == code


@pytest.mark.parametrize("text", ["dextrose", "dextrose 10%", "chloride"])
def test_what_names_no_single_entry_matches_nothing(text):
    assert CATALOG.match(text) is None


@pytest.mark.parametrize("text, key", [("levetiracetum", "levetiracetam"), ("metronidazol", "metronidazole"),
                                       ("aztreonum", "aztreonam")])
def test_a_misspelling_is_only_a_suggestion(text, key):
    m = CATALOG.match(text)
    assert m is not None and m.drug.key == key and m.how == "fuzzy" and m.hcpcs is None
