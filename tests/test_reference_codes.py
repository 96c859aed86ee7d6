"""Reference data: the code table, the NCCI PTP table and the readers for the official CMS files."""
from __future__ import annotations

import csv
import importlib.resources
from datetime import date
from pathlib import Path

import pytest
import yaml

from infucode.reference import cms_files
from infucode.reference.codes import CodeInfo, CodeTable, Mue
from infucode.reference.ncci import PtpEdit, PtpTable

DATA = Path(__file__).parent / "data"
CMS = DATA / "cms"
CSV_ROWS = list(csv.DictReader((DATA / "drug_admin_codes_2024Q3.csv").open(newline="")))

EXPECTED_CODES = {
    "96360", "96361", *(str(c) for c in range(96365, 96378)), "96379",
    "96401", "96402", "96405", "96406", "96409", "96411", "96413", "96415", "96416", "96417",
    "96420", "96422", "96423", "96425", "96440", "96446", "96450", "96521", "96522", "96523",
    "96542", "96549",
}
AMA_PHRASES = ("specify substance or drug", "list separately in addition to code for primary procedure")


@pytest.fixture(scope="module")
def table() -> CodeTable:
    return CodeTable.load()


@pytest.fixture(scope="module")
def ptp() -> PtpTable:
    return PtpTable.load()


@pytest.fixture(scope="module")
def source_keys() -> set[str]:
    text = (importlib.resources.files("infucode.reference.data") / "sources.yaml").read_text(encoding="utf-8")
    return set(yaml.safe_load(text)["sources"])


# ------------------------------------------------------------------ code table
def test_release_and_codes(table):
    assert table.release == "2024Q3"
    assert table.values_as_of["mue"] == "2024-07-01"
    assert set(table.codes()) == EXPECTED_CODES
    assert len(table) == len(EXPECTED_CODES) == 38
    assert [c.code for c in table] == sorted(EXPECTED_CODES)
    assert all(isinstance(c, CodeInfo) for c in table)
    assert CodeTable.load() is table            # cached per process


def test_lookup_api(table):
    assert "96365" in table and "99999" not in table and 96365 not in table
    assert table.get("99999") is None
    assert table.get("96365") is table["96365"]
    with pytest.raises(KeyError):
        table["99999"]
    with pytest.raises(ValueError):
        table.mue("96365", "inpatient")


@pytest.mark.parametrize("row", CSV_ROWS, ids=[r["code"] for r in CSV_ROWS])
def test_matches_cms_2024q3_csv(table, row):
    info = table[row["code"]]
    assert info.wrvu == pytest.approx(float(row["wrvu_2024_jul"]))
    assert info.pfs_status == row["pfs_status"]
    assert info.global_days == row["global_days"]
    assert info.add_on is (row["add_on"] == "Y")
    assert info.primaries == frozenset(row["aoc_primaries_2024_06"].split())
    assert info.mue_practitioner.value == int(row["mue_prac"])
    assert info.mue_practitioner.mai == int(row["mai_prac"])
    assert info.mue_practitioner.rationale == row["mue_prac_rationale"]
    assert info.mue_hospital.value == int(row["mue_oph"])
    assert info.mue_hospital.mai == int(row["mai_oph"])
    assert info.mue_hospital.rationale == row["mue_oph_rationale"]
    assert table.mue(row["code"], "professional") == info.mue_practitioner
    assert table.mue(row["code"], "facility") == info.mue_hospital
    # CMS-confirmed values are never marked unconfirmed
    assert not {"wrvu", "mue_practitioner", "mue_hospital", "primaries", "pfs_status"} & set(info.unconfirmed)


def test_96366(table):
    info = table["96366"]
    assert info.wrvu == 0.18
    assert table.mue("96366", "professional").value == 8
    assert table.mue("96366", "facility").value == 24
    assert info.primaries == {"96360", "96365", "96367", "96413"}
    assert info.kind == "added_hour" and info.family == "therapeutic"
    assert info.documentation and info.denials


def test_96376_facility_only(table):
    assert table["96376"].pfs_status == "X"
    assert table.mue("96376", "professional").value == 0
    assert table.mue("96376", "facility").value == 10


def test_kinds_and_minutes(table):
    kinds = {
        "96360": "initial_infusion", "96365": "initial_infusion", "96413": "initial_infusion",
        "96369": "initial_infusion", "96422": "initial_infusion",
        "96361": "added_hour", "96366": "added_hour", "96370": "added_hour", "96415": "added_hour",
        "96423": "added_hour", "96367": "sequential_infusion", "96417": "sequential_infusion",
        "96368": "concurrent_infusion", "96374": "initial_push", "96409": "initial_push",
        "96420": "initial_push", "96375": "sequential_push", "96411": "sequential_push",
        "96376": "same_drug_push", "96372": "injection", "96373": "injection", "96401": "injection",
        "96402": "injection", "96371": "added_site", "96377": "on_body_injector",
        "96416": "prolonged_pump", "96425": "prolonged_pump", "96523": "port_irrigation",
        "96549": "unlisted",
    }
    for code, kind in kinds.items():
        assert table[code].kind == kind, code
    minutes = {c.code: c.min_minutes for c in table if c.min_minutes is not None}
    assert minutes == {"96360": 31, "96365": 16, "96413": 16, "96422": 16}
    assert {c.code for c in table if c.family == "access"} == {"96521", "96522", "96523"}


def test_every_add_on_has_primaries_and_no_other_code_does(table):
    for info in table:
        if info.add_on:
            assert info.primaries, info.code
            assert info.global_days in (None, "ZZZ"), info.code
        else:
            assert not info.primaries, info.code


def test_add_ons_for(table):
    assert set(table.add_ons_for("96369")) == {"96370", "96371"}
    assert "96366" in table.add_ons_for("96413")


@pytest.mark.parametrize("code", sorted(EXPECTED_CODES))
def test_descriptions_are_own_words(table, code):
    info = table[code]
    text = " ".join([info.description, info.time_rule or "",
                     *(r.how_it_differs for r in info.related), *info.documentation, *info.denials]).lower()
    assert info.description.strip()
    for phrase in AMA_PHRASES:
        assert phrase not in text


@pytest.mark.parametrize("code", sorted(EXPECTED_CODES))
def test_every_code_has_resolvable_sources(table, source_keys, code):
    info = table[code]
    assert info.sources
    assert set(info.sources.values()) <= source_keys, set(info.sources.values()) - source_keys
    assert info.mue_practitioner.source in source_keys and info.mue_hospital.source in source_keys
    for name in ("description", "family", "kind"):
        assert name in info.sources
    if info.wrvu is not None:
        assert "wrvu" in info.sources
    if info.primaries:
        assert "primaries" in info.sources
    if info.mue_practitioner.value is not None:
        assert "mue_practitioner" in info.sources and "mue_hospital" in info.sources
    assert info.effective_year == 2024


def test_unconfirmed_values_are_marked(table):
    for info in table:
        if info.code not in {r["code"] for r in CSV_ROWS}:
            assert "mue_practitioner" in info.unconfirmed and "wrvu" in info.unconfirmed, info.code
        for name in ("mue_practitioner", "mue_hospital"):
            if getattr(info, name).value is None:
                assert name in info.unconfirmed, (info.code, name)
        if info.wrvu is None:
            assert "wrvu" in info.unconfirmed


def test_main_codes_have_documentation_and_denials(table):
    main = ["96360", "96361", *(str(c) for c in range(96365, 96378)),
            "96409", "96411", "96413", "96415", "96416", "96417"]
    for code in main:
        assert table[code].documentation, code
        assert table[code].denials, code


def test_seed_page_errors_not_repeated(table):
    everything = " ".join(
        " ".join([c.time_rule or "", *c.documentation, *c.denials, *(r.how_it_differs for r in c.related)])
        for c in table).lower()
    assert "bypass an incorrect" not in everything
    assert "general supervision" not in everything
    # 96366 denials name all eligible primaries and both MUE tables (the numbers filled from the table by the lookup)
    from infucode import load_ruleset
    from infucode.knowledge.lookup import lookup
    denials = " ".join(lookup("96366", load_ruleset(), with_scenarios=False).denials)
    assert "96360" in denials and "96367" in denials and "96413" in denials
    assert "8 practitioner" in denials and "24 outpatient hospital" in denials
    # more than 30 minutes, not "at least 30"
    assert "more than 30 minutes" in table["96366"].time_rule


def test_load_rejects_bad_yaml(tmp_path):
    bad = tmp_path / "codes.yaml"
    bad.write_text('release: "x"\ncodes:\n  "96365":\n    description: "a"\n    family: nonsense\n')
    with pytest.raises(ValueError, match="96365"):
        CodeTable.load(bad)
    bad.write_text('release: "x"\ncodes:\n  "96365": {description: a, family: therapeutic, kind: injection,'
                   ' add_on: false, primaries: ["96360"], wrvu: 0.1, sources: {wrvu: S1-RVU},'
                   ' mue: {practitioner: {value: 1, mai: 3}, hospital: {value: 1, mai: 3}}}\n')
    with pytest.raises(ValueError, match="only add-on codes have primaries"):
        CodeTable.load(bad)


# ------------------------------------------------------------------ PTP
def test_ptp_pairs(ptp):
    assert ptp.release == "2024-07-01"
    assert len(ptp) == 652
    edit = ptp.pair("96365", "96360", "professional")
    assert isinstance(edit, PtpEdit)
    assert edit.modifier_indicator == 1 and edit.bypassable and edit.setting == "Practitioner"
    assert edit.rationale == "CPT Manual or CMS manual coding instruction"
    assert ptp.pair("96374", "96375", "professional") is None
    assert ptp.pair("96374", "96375", "facility") is None
    assert ptp.pair("96413", "96523", "professional").modifier_indicator == 0
    assert ptp.pair("96413", "96523", "facility").modifier_indicator == 0
    assert ptp.pair("96360", "96365", "professional") is None          # direction matters


def test_ptp_99211_differs_by_setting(ptp):
    prac = ptp.pair("96365", "99211", "professional")
    oph = ptp.pair("96365", "99211", "facility")
    assert prac.modifier_indicator == 0 and oph.modifier_indicator == 1


def test_edits_between(ptp):
    found = ptp.edits_between({"96413", "96365", "96360", "96523", "96415"}, "professional")
    pairs = {(e.col1, e.col2) for e in found}
    assert ("96413", "96365") in pairs and ("96365", "96360") in pairs and ("96413", "96523") in pairs
    assert all(e.setting == "Practitioner" for e in found)
    assert [(e.col1, e.col2) for e in found] == sorted(pairs)
    assert ptp.edits_between({"96374", "96375"}, "facility") == []
    with pytest.raises(ValueError):
        ptp.edits_between({"96374"}, "dme")


def test_bundled_ptp_is_the_shared_csv():
    bundled = (importlib.resources.files("infucode.reference.data") / "ncci_ptp_2024-07-01.csv").read_text()
    assert bundled.splitlines()[0] == "setting,col1,col2,mod,rationale"
    assert len(bundled.splitlines()) == 653


def test_ptp_load_rejects_bad_csv(tmp_path):
    bad = tmp_path / "ptp.csv"
    bad.write_text("setting,col1,col2,mod,rationale\nPractitioner,96365,96360,7,x\n")
    with pytest.raises(ValueError, match="line 2"):
        PtpTable.load(bad)


# ------------------------------------------------------------------ CMS file readers
def test_read_mue_file():
    mues = cms_files.read_mue_file(CMS / "MCR_MUE_PractitionerServices_Eff_fixture.csv")
    assert mues["96366"] == Mue(10, 3, "Clinical: Data", source="CMS-MUE-FILE")
    assert mues["96368"].mai == 2
    assert mues["96376"].value == 0
    assert mues["J1745"].value == 150
    assert len(mues) == 8


def test_with_mue_replaces_values(table):
    prac = cms_files.read_mue_file(CMS / "MCR_MUE_PractitionerServices_Eff_fixture.csv")
    oph = cms_files.read_mue_file(CMS / "MCR_MUE_OutpatientHospitalServices_Eff_fixture.csv")
    newer = table.with_mue(prac, oph, "2025Q1")
    assert newer.mue("96366", "professional").value == 10
    assert newer.mue("96366", "facility").value == 30
    assert newer["96366"].sources["mue_practitioner"] == "CMS-MUE-FILE"
    assert newer.release == "2024Q3+mue:2025Q1" and newer.values_as_of["mue"] == "2025Q1"
    # absent from the file: value kept, with a note
    assert newer.mue("96361", "professional").value == 8
    assert any("mue_practitioner" in n and "2025Q1" in n for n in newer["96361"].notes)
    # a value from the file clears the unconfirmed mark
    assert newer.mue("96405", "professional").value == 1
    assert "mue_practitioner" not in newer["96405"].unconfirmed
    assert "mue_hospital" in newer["96405"].unconfirmed
    # the original table is untouched
    assert table.mue("96366", "professional").value == 8 and not table["96361"].notes
    # one column only
    only_prac = table.with_mue(prac, None, "2025Q1")
    assert only_prac.mue("96366", "facility").value == 24
    assert not any("mue_hospital" in n for c in only_prac for n in c.notes)


def test_read_pfs_rvu_file_and_with_wrvu(table):
    rvus = cms_files.read_pfs_rvu_file(CMS / "PPRRVU_fixture.csv")
    assert rvus["96365"] == 0.21                  # the modifier-26 row is skipped
    assert rvus["96366"] == 0.20 and rvus["96440"] == 2.15
    assert set(rvus) == {"96360", "96365", "96366", "96376", "96440", "99213"}
    newer = table.with_wrvu(rvus, "RVU25A")
    assert newer["96366"].wrvu == 0.20
    assert newer["96366"].sources["wrvu"] == "CMS-RVU-FILE"
    assert newer["96440"].wrvu == 2.15 and "wrvu" not in newer["96440"].unconfirmed
    assert newer["96361"].wrvu == 0.09 and any("wrvu" in n for n in newer["96361"].notes)
    assert newer.values_as_of["wrvu"] == "RVU25A"


def test_read_ptp_file():
    path = CMS / "ccipra-fixture-f1.txt"
    edits = cms_files.read_ptp_file(path, "Practitioner", as_of="2024-07-01")
    pairs = {(e.col1, e.col2): e for e in edits}
    assert set(pairs) == {("96365", "96360"), ("96365", "96372"), ("96401", "96521"),
                          ("96413", "96523"), ("99283", "96372")}
    assert pairs[("96413", "96523")].modifier_indicator == 0
    assert pairs[("96401", "96521")].deletion == "20250101"
    assert pairs[("96365", "96360")].rationale == "CPT Manual or CMS manual coding instruction"
    # later date: 96401/96521 deleted, 96360/96374 now in effect
    later = {(e.col1, e.col2) for e in cms_files.read_ptp_file(path, "professional", as_of=date(2025, 2, 1))}
    assert ("96401", "96521") not in later and ("96360", "96374") in later
    # all codes
    everything = cms_files.read_ptp_file(path, "Practitioner", as_of="20240701", code_range=None)
    assert ("12001", "12002") in {(e.col1, e.col2) for e in everything}
    table = cms_files.ptp_table_from_cms_files(practitioner=[path], release="fixture", as_of="2024-07-01")
    assert table.pair("96365", "96360", "professional").modifier_indicator == 1
    assert table.pair("96365", "96360", "facility") is None


@pytest.mark.parametrize("reader, name, text, row", [
    (cms_files.read_mue_file, "mue.csv",
     '"copyright\nnotice"\n"HCPCS/\nCPT Code",Practitioner Services MUE Values,MUE Adjudication Indicator,'
     'MUE Rationale\n96360,1,3 Date of Service Edit: Clinical,Clinical: Data\n96365,1,X Edit,Clinical: Data\n',
     4),
    (cms_files.read_mue_file, "mue.csv",
     '"HCPCS/\nCPT Code",Practitioner Services MUE Values,MUE Adjudication Indicator,MUE Rationale\n'
     '96360,1,3 Date of Service Edit: Clinical,Clinical: Data\n96365,one,3 Clinical,Clinical: Data\n', 3),
    (cms_files.read_pfs_rvu_file, "PPRRVU.csv",
     "header,,,,,\nHCPCS,MOD,DESCRIPTION,CODE,PAYMENT,RVU\n96360,,x,A,,0.17\n96365,,x,A,,abc\n", 4),
    (cms_files.read_pfs_rvu_file, "PPRRVU.csv",
     "header,,,,,\nHCPCS,MOD,DESCRIPTION,CODE,PAYMENT,RVU\n96360,,x,A,,0.17\ngarbage line,,\n", 4),
    (cms_files.read_ptp_file, "ptp.txt",
     "copyright\nColumn 1\tColumn 2\n96365\t96360\t\t20090101\t*\t1\tx\n96365\t96372\t\t2009-01-01\t*\t1\tx\n", 4),
    (cms_files.read_ptp_file, "ptp.txt",
     "copyright\n96365\t96360\t\t20090101\t*\t1\tx\n96365\t96372\t\t20090101\t*\t5\tx\n", 3),
])
def test_garbled_files_raise_with_row(tmp_path, reader, name, text, row):
    path = tmp_path / name
    path.write_text(text)
    args = (path, "Practitioner") if reader is cms_files.read_ptp_file else (path,)
    with pytest.raises(ValueError) as err:
        reader(*args)
    assert str(path) in str(err.value)
    assert f"row {row} " in str(err.value)


@pytest.mark.parametrize("reader", [cms_files.read_mue_file, cms_files.read_pfs_rvu_file])
def test_wrong_file_raises(tmp_path, reader):
    path = tmp_path / "notes.csv"
    path.write_text("just,some\nunrelated,text\n")
    with pytest.raises(ValueError, match="notes.csv"):
        reader(path)
    with pytest.raises(ValueError, match="no PTP rows"):
        cms_files.read_ptp_file(path, "facility")
    xlsx = tmp_path / "MCR_MUE.xlsx"
    xlsx.write_bytes(b"PK")
    with pytest.raises(ValueError, match="Excel"):
        cms_files.read_mue_file(xlsx)
