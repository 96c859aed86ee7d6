"""The bundled drug catalog and its name matcher."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infucode.reference.drugs import (
    FAMILIES,
    UNITS,
    BillingUnit,
    Drug,
    DrugCatalog,
    DrugMatch,
    HcpcsCode,
)

CSV = Path("/work/shared/reference/cms-2024q3/jcodes_2024Q3.csv")


@pytest.fixture(scope="module")
def cat() -> DrugCatalog:
    return DrugCatalog.load()


# ------------------------------------------------------------------ the data


def test_catalog_size_and_release(cat):
    assert len(cat) >= 95
    assert len(list(cat)) == len(cat)
    assert all(isinstance(d, Drug) for d in cat)
    assert cat.release == "2024-07"


def test_load_is_cached_and_path_loads(cat, tmp_path):
    assert DrugCatalog.load() is cat
    src = Path(__file__).parents[1] / "src/infucode/reference/data/drugs.yaml"
    again = DrugCatalog.load(src)
    assert again is not cat and len(again) == len(cat)


def test_every_drug_well_formed(cat):
    keys = set()
    for d in cat:
        assert d.key and d.key == d.key.lower() and " " not in d.key, d.key
        assert d.key not in keys
        keys.add(d.key)
        assert d.family in FAMILIES, d.key
        assert d.source, f"{d.key} has no source"
        if d.payer_dependent:
            assert d.family == "chemotherapy" and d.complex_biologic, d.key
        if d.hormonal:
            assert d.family == "chemotherapy", d.key
        if d.flush:
            assert d.family == "therapeutic", d.key


def test_hcpcs_codes_unique_and_well_formed(cat):
    seen: dict[str, str] = {}
    for d in cat:
        for c in d.hcpcs:
            assert isinstance(c, HcpcsCode)
            assert re.fullmatch(r"[A-Z]\d{4}", c.code), c.code
            assert c.code not in seen, f"{c.code} in {seen.get(c.code)} and {d.key}"
            seen[c.code] = d.key
            assert isinstance(c.billing_unit, BillingUnit)
            assert c.billing_unit.unit in UNITS, c.code
            assert c.billing_unit.amount > 0, c.code
            assert c.description, c.code
            for date in (c.added, c.terminated):
                assert date is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", date), (c.code, date)
            assert cat.by_hcpcs(c.code) == (d, c)
    assert len(seen) >= 150


# Normalised forms two drugs may share, each with why no input is lost: such a form matches nothing.
DECLARED_SHARED_FORMS = {
    "chloride": "'sodium chloride' and 'calcium chloride' lose their salt word at stage C; a text reduced to "
                "'chloride' alone names neither (each full name matches at an earlier stage)",
}


def test_no_normalised_name_is_shared_by_two_drugs(cat):
    assert {form for _, form in cat.ambiguous_forms()} <= set(DECLARED_SHARED_FORMS)
    for form in DECLARED_SHARED_FORMS:
        assert cat.match(form) is None


@pytest.mark.skipif(not CSV.exists(), reason="shared CMS extract not available")
def test_csv_codes_copied_verbatim(cat):
    for row in csv.DictReader(CSV.open()):
        hit = cat.by_hcpcs(row["hcpcs"])
        assert hit is not None, row["hcpcs"]
        _, code = hit
        assert code.description == row["hcpcs_long_description_2024"]
        assert code.added == (row["date_added"] or None)
        assert code.terminated == (row["date_terminated"] or None)
        assert "[S2]" not in (code.unconfirmed or "")      # July-2024 text, not the 2020 table


@pytest.mark.parametrize("code, amount, unit", [
    ("J9312", 10, "mg"), ("J2543", 1.125, "g"), ("J7030", 1000, "ml"), ("J7040", 500, "ml"),
    ("J3480", 2, "meq"), ("J0885", 1000, "units"), ("J0881", 1, "mcg"), ("J2550", 50, "mg"),
    ("J1626", 100, "mcg"), ("J0129", 10, "mg"), ("J7120", 1000, "ml"), ("J1642", 10, "units"),
])
def test_billing_units(cat, code, amount, unit):
    _, c = cat.by_hcpcs(code)
    assert c.billing_unit == BillingUnit(amount, unit)


def test_classification(cat):
    fam = {d.key: d for d in cat}
    for k in ("rituximab", "cisplatin", "methotrexate", "cyclophosphamide", "pembrolizumab"):
        assert fam[k].family == "chemotherapy", k
    for k in ("infliximab", "tocilizumab", "vedolizumab", "ocrelizumab", "natalizumab", "eculizumab"):
        assert fam[k].family == "chemotherapy" and fam[k].payer_dependent and fam[k].complex_biologic, k
    for k in ("leuprolide", "goserelin", "triptorelin", "degarelix", "fulvestrant"):
        assert fam[k].hormonal and fam[k].family == "chemotherapy", k
    for k in ("ondansetron", "epoetin_alfa", "pegfilgrastim", "ceftriaxone", "dexamethasone", "diphenhydramine",
              "iron_sucrose", "immune_globulin", "zoledronic_acid", "denosumab", "leucovorin"):
        assert fam[k].family == "therapeutic", k
    for k in ("normal_saline", "d5w", "d5ns", "lactated_ringers", "d5lr", "half_normal_saline", "d5_half_ns"):
        assert fam[k].family == "hydration", k
    for k in ("potassium_chloride", "magnesium_sulfate", "calcium_gluconate"):
        assert fam[k].electrolyte, k
    assert fam["heparin_lock_flush"].flush and fam["heparin_lock_flush"].family == "therapeutic"
    assert not fam["heparin"].flush


def test_terminated_codes_are_not_defaults(cat):
    mp = cat.get("methylprednisolone")
    assert mp.default_hcpcs.code == "J2919"
    assert cat.by_hcpcs("J2930")[1].terminated == "2024-03-31"
    assert cat.get("rituximab").default_hcpcs.code == "J9312"


def test_fluid_code_by_volume(cat):
    ns = cat.get("normal_saline")
    assert cat.code_for_volume(ns, 250).code == "J7050"
    assert cat.code_for_volume(ns, 500).code == "J7040"
    assert cat.code_for_volume(ns, 1000).code == "J7030"
    assert cat.code_for_volume(ns, 750).code == "J7030"
    assert cat.code_for_volume(cat.get("d5w"), 500).code == "J7060"


# ------------------------------------------------------------------ by_hcpcs


def test_by_hcpcs(cat):
    drug, code = cat.by_hcpcs("j9312")
    assert drug.key == "rituximab" and code.code == "J9312"
    assert cat.by_hcpcs(" Q5117 ")[0].key == "trastuzumab"
    assert cat.by_hcpcs("J9999") is None
    assert cat.by_hcpcs("") is None


# ------------------------------------------------------------------ match


@pytest.mark.parametrize("text, key, how, code", [
    ("Remicade", "infliximab", "exact", "J1745"),
    ("Gammagard", "immune_globulin", "exact", "J1569"),
    ("IVIG", "immune_globulin", "exact", "J1599"),
    ("Privigen", "immune_globulin", "exact", "J1459"),
    ("NS", "normal_saline", "exact", "J7030"),
    ("normal saline", "normal_saline", "exact", "J7030"),
    ("0.9% sodium chloride", "normal_saline", "exact", "J7030"),
    ("0.9% NaCl", "normal_saline", "exact", "J7030"),
    ("sodium chloride 0.9%", "normal_saline", "exact", "J7030"),
    ("1/2NS", "half_normal_saline", "exact", None),
    ("0.45% NaCl", "half_normal_saline", "exact", None),
    ("D5W", "d5w", "exact", "J7070"),
    ("dextrose 5% in water", "d5w", "exact", "J7070"),
    ("D5NS", "d5ns", "exact", "J7042"),
    ("D5 1/2NS", "d5_half_ns", "exact", None),
    ("D5LR", "d5lr", "exact", "J7121"),
    ("LR", "lactated_ringers", "exact", "J7120"),
    ("lactated Ringer's", "lactated_ringers", "exact", "J7120"),
    ("Ringer's lactate", "lactated_ringers", "exact", "J7120"),
    ("KCl", "potassium_chloride", "exact", "J3480"),
    ("potassium", "potassium_chloride", "exact", "J3480"),
    ("Mag sulfate", "magnesium_sulfate", "exact", "J3475"),
    ("magnesium", "magnesium_sulfate", "exact", "J3475"),
    ("Zofran", "ondansetron", "exact", "J2405"),
    ("Benadryl", "diphenhydramine", "exact", "J1200"),
    ("Solu-Medrol", "methylprednisolone", "exact", "J2919"),
    ("Decadron", "dexamethasone", "exact", "J1100"),
    ("Taxol", "paclitaxel", "exact", "J9267"),
    ("Herceptin", "trastuzumab", "exact", "J9355"),
    ("Kanjinti", "trastuzumab", "exact", "Q5117"),
    ("Keytruda", "pembrolizumab", "exact", "J9271"),
    ("Lupron Depot", "leuprolide", "exact", "J9217"),
    ("Prolia", "denosumab", "exact", "J0897"),
    ("Xgeva", "denosumab", "exact", "J0897"),
    ("Venofer", "iron_sucrose", "exact", "J1756"),
    ("Injectafer", "ferric_carboxymaltose", "exact", "J1439"),
    ("Reclast", "zoledronic_acid", "exact", "J3489"),
    ("Zometa", "zoledronic_acid", "exact", "J3489"),
    ("Neulasta", "pegfilgrastim", "exact", "J2506"),
    ("Rocephin", "ceftriaxone", "exact", "J0696"),
    ("Vanc", "vancomycin", "exact", "J3370"),
    ("vanco", "vancomycin", "exact", "J3370"),
    ("Zosyn", "piperacillin_tazobactam", "exact", "J2543"),
    ("pip-tazo", "piperacillin_tazobactam", "exact", "J2543"),
    ("Truxima", "rituximab", "exact", "Q5115"),
    ("rituximab-abbs", "rituximab", "exact", "Q5115"),
    ("Inflectra", "infliximab", "exact", "Q5103"),
    ("heparin lock flush", "heparin_lock_flush", "exact", "J1642"),
    ("immune_globulin", "immune_globulin", "exact", "J1599"),
    ("  rocephin  ", "ceftriaxone", "exact", "J0696"),
    ("ONDANSETRON HCL 4 MG IVPB", "ondansetron", "normalized", "J2405"),
    ("Ondansetron 8 mg in NS 50 mL IVPB", "ondansetron", "normalized", "J2405"),
    ("Remicade (infliximab)", "infliximab", "normalized", "J1745"),
    ("infliximab (Inflectra)", "infliximab", "normalized", "Q5103"),
    ("Solu Medrol 125 mg IV", "methylprednisolone", "normalized", "J2919"),
    ("solumedrol 40mg", "methylprednisolone", "normalized", "J2919"),
    ("dexamethasone sodium phosphate 12 mg", "dexamethasone", "normalized", "J1100"),
    ("KCl 20 mEq in NS 1000 mL", "potassium_chloride", "normalized", "J3480"),
    ("magnesium sulfate 2 g in 50 mL", "magnesium_sulfate", "normalized", "J3475"),
    ("Sodium Chloride 0.9% (NS) 1000 mL", "normal_saline", "normalized", "J7030"),
    ("0.9% Sodium Chloride Injection USP 1000 mL", "normal_saline", "normalized", "J7030"),
    ("normal saline 0.9% 1000 mL @ 250 mL/hr", "normal_saline", "normalized", "J7030"),
    ("dextrose 5% in 0.9% NaCl 1000 mL", "d5ns", "normalized", "J7042"),
    ("5% Dextrose Injection USP 1000 mL", "d5w", "normalized", "J7070"),
    ("Lactated Ringers Injection USP 1000 mL", "lactated_ringers", "normalized", "J7120"),
    ("Gammagard Liquid 10% 30 g", "immune_globulin", "normalized", "J1569"),
    ("IVIG 10%", "immune_globulin", "normalized", "J1599"),
    ("Opdivo 480", "nivolumab", "normalized", "J9299"),
    ("carboplatin AUC 5", "carboplatin", "normalized", "J9045"),
    ("fluorouracil 2400 mg/m2 over 46 hr", "fluorouracil", "normalized", "J9190"),
    ("Sandostatin LAR 30 mg", "octreotide", "normalized", "J2353"),
    ("Retacrit 40000 units", "epoetin_alfa", "normalized", "Q5106"),
    ("heparin 500 units flush", "heparin_lock_flush", "normalized", "J1642"),
    ("heparin sodium 5000 units in NS 500 mL", "heparin", "normalized", "J1644"),
    ("potassium chloride 40 mEq in 0.9% sodium chloride 1000 mL", "potassium_chloride", "normalized", "J3480"),
    ("leucovorin calcium 400 mg/m2 in D5W 250 mL", "leucovorin", "normalized", "J0640"),
])
def test_match(cat, text, key, how, code):
    m = cat.match(text)
    assert isinstance(m, DrugMatch), text
    assert m.drug.key == key
    assert m.how == how
    assert m.text == text
    assert (m.hcpcs.code if m.hcpcs else None) == code
    if how != "fuzzy":
        assert m.score == 100


@pytest.mark.parametrize("text, key", [
    ("ondansteron", "ondansetron"),
    ("cisplatinn", "cisplatin"),
    ("carboplatn", "carboplatin"),
    ("vincristin", "vincristine"),
    ("vinblastin", "vinblastine"),
    ("dexamethazone", "dexamethasone"),
    ("pembrolizamab", "pembrolizumab"),
    ("gemcitibine 1000 mg/m2", "gemcitabine"),
    ("infliximab-xyzz", "infliximab"),          # unknown biosimilar: drug known, code not
])
def test_fuzzy_never_selects_a_code(cat, text, key):
    m = cat.match(text)
    assert m is not None and m.drug.key == key
    assert m.how == "fuzzy"
    assert m.hcpcs is None
    assert m.score < 100


@pytest.mark.parametrize("text, key", [
    ("cisplatin", "cisplatin"), ("carboplatin", "carboplatin"), ("oxaliplatin", "oxaliplatin"),
    ("vinblastine", "vinblastine"), ("vincristine", "vincristine"), ("vinorelbine", "vinorelbine"),
    ("doxorubicin", "doxorubicin"), ("daunorubicin", "daunorubicin"), ("idarubicin", "idarubicin"),
    ("epirubicin", "epirubicin"), ("Doxil", "doxorubicin_liposomal"), ("Abraxane", "paclitaxel_protein_bound"),
    ("Taxotere", "docetaxel"), ("trastuzumab emtansine", "ado_trastuzumab_emtansine"),
    ("hydroxyzine", "hydroxyzine"), ("Emend", "fosaprepitant"), ("Cinvanti", "aprepitant"),
    ("G-CSF", "filgrastim"), ("GM-CSF", "sargramostim"), ("Neupogen", "filgrastim"), ("Neulasta", "pegfilgrastim"),
])
def test_false_friends_stay_apart(cat, text, key):
    assert cat.match(text).drug.key == key


@pytest.mark.parametrize("text", [
    "unobtainium", "", "   ", "cangrelor", "zidovudine", "dextrose 10%", "dextrose", "D10W", "D5 1/4 NS",
    "normal salene",                 # fluids never match fuzzily
    "R-CHOP", "Taxol/Carbo", "Taxol (carboplatin)", "NS 1000 mL + 20 mEq KCl",
])
def test_no_match(cat, text):
    assert cat.match(text) is None


def test_vinca_and_platinum_typos_do_not_cross(cat):
    for text, wrong in [("cisplatn", "carboplatin"), ("carboplatn", "cisplatin"),
                        ("vinblastin", "vincristine"), ("vincristin", "vinblastine")]:
        m = cat.match(text)
        assert m is None or m.drug.key != wrong


def test_hypertonic_saline_is_not_hydration(cat):
    for text in ("sodium chloride 3%", "3% NaCl 250 mL", "sodium chloride 23.4%"):
        m = cat.match(text)
        assert m.drug.key == "hypertonic_saline" and m.drug.family == "therapeutic", text


def test_salt_form_of_another_product_is_kept_apart(cat):
    m = cat.match("methylprednisolone acetate 80 mg IM")
    assert m.drug.key == "methylprednisolone_acetate" and m.hcpcs is None


def test_match_is_memoised(cat):
    first = cat.match("Zofran 8 mg IVPB")
    assert cat.match("Zofran 8 mg IVPB") is first
    assert cat.match("ondansteron") is cat.match("ondansteron")
    assert cat.match("unobtainium") is None and cat.match("unobtainium") is None


def test_non_string_input(cat):
    assert cat.match(None) is None  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_match_never_raises_and_fuzzy_has_no_code(text):
    m = DrugCatalog.load().match(text)
    if m is not None:
        assert m.how in ("exact", "normalized", "fuzzy")
        if m.how == "fuzzy":
            assert m.hcpcs is None


def test_bad_catalog_is_rejected(tmp_path):
    bad = tmp_path / "drugs.yaml"
    bad.write_text(
        'release: "x"\n'
        "drugs:\n"
        "  - {key: a, name: a, family: chemo, source: s}\n"
    )
    with pytest.raises(ValueError, match="family"):
        DrugCatalog.load(bad)
    bad.write_text(
        'release: "x"\n'
        "drugs:\n"
        "  - key: a\n    family: therapeutic\n    source: s\n"
        "    hcpcs: [{code: J0001, billing_unit: {amount: 1, unit: mg}, description: d}]\n"
        "  - key: b\n    family: therapeutic\n    source: s\n"
        "    hcpcs: [{code: J0001, billing_unit: {amount: 1, unit: mg}, description: d}]\n"
    )
    with pytest.raises(ValueError, match="J0001"):
        DrugCatalog.load(bad)
