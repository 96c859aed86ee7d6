"""The official CMS HCPCS Level II file (ANWEB fixed-width TXT or a CSV export of its XLSX) and the drug
catalog refreshed from it. Fixture: tests/data/cms/HCPC2024_JUL_ANWEB_fixture.txt, records laid out at
the positions of the CMS record layout (drug-admin-reference.md D5), texts from the July 2024 file
(jcodes_2024Q3.csv) plus a modifier record and a biosimilar code (Q5126) the catalog does not hold."""
from __future__ import annotations

from pathlib import Path

import pytest

from infucode.reference.cms_files import HcpcsRecord, read_hcpcs_file
from infucode.reference.drugs import BillingUnit, DrugCatalog
from infucode.reference.hcpcs_refresh import billing_unit_from_description, refreshed_catalog

FIXTURE = Path(__file__).parent / "data" / "cms" / "HCPC2024_JUL_ANWEB_fixture.txt"


@pytest.fixture(scope="module")
def records() -> dict[str, HcpcsRecord]:
    return read_hcpcs_file(FIXTURE)


def test_fixed_width_records(records):
    assert sorted(records) == ["J1569", "J2919", "J2930", "J7040", "J9312", "J9999", "Q5126"]   # modifier 25 skipped
    assert records["J9312"] == HcpcsRecord("J9312", "Injection, rituximab, 10 mg", "Inj., rituximab, 10 mg",
                                           "2019-01-01", "2019-01-01", None, "N")
    # an 86-character description continues on a record-id-4 line; the record boundary follows "liquid),"
    assert records["J1569"].long_description == ("Injection, immune globulin, (gammagard liquid), non-lyophilized, "
                                                 "(e.g., liquid), 500 mg")
    assert records["J2930"].terminated == "2024-03-31" and records["J2930"].action == "D"
    assert records["J2919"].added == "2024-04-01"


def test_prefix_filter(records):
    assert set(read_hcpcs_file(FIXTURE, prefixes="Q")) == {"Q5126"}
    assert set(read_hcpcs_file(FIXTURE, prefixes=None)) == set(records)


def test_continuation_inside_a_word(tmp_path):
    # the record boundary at character 80 may fall inside a word: no space is added then
    long = "Injection, " + "x" * 60 + " abcdefghijklmnopqrstuvwxyz, 1 mg"
    first, rest = long[:80], long[80:]
    assert not first.endswith(" ") and not rest.startswith(" ")
    def rec(recid, text, code="J9998"):
        return f"{code}00100{recid}{text:<80}{'':<28}".rstrip()
    (tmp_path / "h.txt").write_text(rec("3", first) + "\n" + rec("4", rest) + "\n", encoding="latin-1")
    assert read_hcpcs_file(tmp_path / "h.txt")["J9998"].long_description == long


def test_csv_export_gives_the_same_records(tmp_path, records):
    rows = ["HCPC,SEQNUM,RECID,LONG DESCRIPTION,SHORT DESCRIPTION,ADD DT,ACT EFF DT,TERM DT,ACTION CD",
            '25,00100,7,"Significant, separately identifiable evaluation and management service",x,19900101,,,N',
            'J1569,00100,3,"Injection, immune globulin, (gammagard liquid), non-lyophilized, (e.g., liquid),",'
            "Gammagard liquid injection,20080101,20080101,,N",
            "J1569,00101,4,500 mg,,,,,",
            'J2930,00100,3,"Injection, methylprednisolone sodium succinate, up to 125 mg",Methylprednisolone inj,'
            "1/1/1984,2024-04-01,20240331,D"]
    path = tmp_path / "HCPC2024_JUL_ANWEB.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    got = read_hcpcs_file(path)
    assert got == {"J1569": records["J1569"], "J2930": records["J2930"]}


def test_bad_rows_name_the_row(tmp_path):
    bad = tmp_path / "bad.txt"
    good = FIXTURE.read_text(encoding="latin-1").splitlines()
    bad.write_text("\n".join(good[:3] + ["J12!400100" + "3Injection, nothing, 1 mg"]) + "\n", encoding="latin-1")
    with pytest.raises(ValueError, match=r"row 4 .*positions 1-5"):
        read_hcpcs_file(bad)
    dated = tmp_path / "dated.csv"
    dated.write_text("HCPC,RECID,LONG DESCRIPTION,ADD DT\nJ9312,3,\"Injection, rituximab, 10 mg\",2019-13-45\n")
    with pytest.raises(ValueError, match=r"row 2 .*ADD DT"):
        read_hcpcs_file(dated)
    with pytest.raises(ValueError, match="Excel"):
        read_hcpcs_file(tmp_path / "HCPC2024_JUL_ANWEB_v3.xlsx")
    (tmp_path / "empty.txt").write_text("\n", encoding="latin-1")
    with pytest.raises(ValueError, match="no HCPCS records"):
        read_hcpcs_file(tmp_path / "empty.txt")


@pytest.mark.parametrize("text, unit", [
    ("Injection, rituximab, 10 mg", BillingUnit(10, "mg")),
    ("Injection, ceftriaxone sodium, per 250 mg", BillingUnit(250, "mg")),
    ("Injection, diphenhydramine hcl, up to 50 mg", BillingUnit(50, "mg")),
    ("Injection, darbepoetin alfa, 1 microgram (non-esrd use)", BillingUnit(1, "mcg")),
    ("Injection, epoetin alfa, (for non-esrd use), 1000 units", BillingUnit(1000, "units")),
    ("Injection, potassium chloride, per 2 meq", BillingUnit(2, "meq")),
    ("Infusion, normal saline solution, sterile (500 ml = 1 unit)", BillingUnit(500, "ml")),
    ("Infusion, d5w, 1000 cc", BillingUnit(1000, "ml")),
    ("Injection, piperacillin sodium/tazobactam sodium, 1 gram/0.125 grams (1.125 grams)", BillingUnit(1.125, "g")),
    ("Injection, oxaliplatin, 0.5 mg", BillingUnit(0.5, "mg")),
    ("Injection, fosnetupitant 235 mg and palonosetron 0.25 mg", None),   # two ingredients: a person reads it
    ("Not otherwise classified, antineoplastic drugs", None),
])
def test_billing_unit_from_description(text, unit):
    assert billing_unit_from_description(text) == unit


def test_bundled_units_agree_with_their_descriptions():
    """The reader and the bundled catalog agree: a refresh from an unchanged file changes no unit."""
    for drug in DrugCatalog.load():
        for c in drug.hcpcs:
            read = billing_unit_from_description(c.description)
            assert read is None or read == c.billing_unit, (c.code, c.description, read, c.billing_unit)


def test_catalog_refreshed_from_the_file(records):
    cat = DrugCatalog.load()
    new, report = refreshed_catalog(cat, records, "HCPC2024_JUL")
    assert new.release == "HCPC2024_JUL" and len(new) == len(cat)
    assert set(report.updated) == {"J1569", "J2919", "J2930", "J7040", "J9312"}
    assert report.unit_changed == () and report.unit_unread == ()
    assert report.candidates == (("Q5126", records["Q5126"].long_description, "bevacizumab"),)
    assert new.by_hcpcs("Q5126") is None                           # a candidate is never added
    _, j2930 = new.by_hcpcs("J2930")
    assert j2930.terminated == "2024-03-31" and j2930.unconfirmed is None
    _, j1569 = new.by_hcpcs("J1569")
    assert j1569.description.endswith("(e.g., liquid), 500 mg")
    # a code the file lacks is kept, marked
    _, j9035 = new.by_hcpcs("J9035")
    assert "not in the HCPCS file HCPC2024_JUL" in j9035.unconfirmed
    assert len(report.missing) == sum(len(d.hcpcs) for d in cat) - len(report.updated)
    # names still select their codes
    assert new.match("Truxima").hcpcs.code == "Q5115"
    assert new.match("methylprednisolone").hcpcs.code == "J2919"


def test_refresh_takes_the_file_unit(records):
    changed = dict(records)
    changed["J9312"] = HcpcsRecord("J9312", "Injection, rituximab, 100 mg", added="2019-01-01")
    changed["J7040"] = HcpcsRecord("J7040", "Infusion, normal saline solution, sterile", added="1984-01-01")
    new, report = refreshed_catalog(DrugCatalog.load(), changed, "test")
    assert report.unit_changed == ("J9312",) and report.unit_unread == ("J7040",)
    assert new.by_hcpcs("J9312")[1].billing_unit == BillingUnit(100, "mg")
    j7040 = new.by_hcpcs("J7040")[1]
    assert j7040.billing_unit == BillingUnit(500, "ml") and "not stated" in j7040.unconfirmed
