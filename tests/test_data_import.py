"""Importing the official CMS files (MUE, NCCI PTP, PPRRVU) into a data directory and auditing each claim
with the releases in force on its date of service.

The fixtures (tests/fixtures/cms/) are a handful of rows in the published layouts and CMS file names,
with values altered for the tests (not the CMS values):

* MUE practitioner 96366: 4 from 2024-07-01 (Q3), 6 from 2024-10-01 (Q4); bundled (2024-07-01): 8.
* MUE outpatient hospital 96366: 12 from 2024-10-01; bundled: 24.
* PTP practitioner ccipra-v302r0 (v30.2 = 2024Q3), parts f1 and f2: 96413/96523 deleted 2024-08-01,
  96372/96374 effective 2024-09-01. PTP outpatient hospital ccioph-v303r0 (2024Q4).
* PPRRVU24_JUL (2024Q3): 96366 work RVU 0.20 (bundled 0.18).
"""
from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infucode import load_ruleset
from infucode.audit import audit_claim
from infucode.cli import app
from infucode.reference.releases import (
    DATABASE_NAME,
    KINDS,
    ImportFailure,
    ReleaseStore,
    default_data_dir,
    detect_kind,
    period_from_name,
)

CMS = Path(__file__).resolve().parent / "fixtures" / "cms"
MUE_Q3 = CMS / "MCR_MUE_PractitionerServices_Eff_07-01-2024.csv"
MUE_Q4 = CMS / "MCR_MUE_PractitionerServices_Eff_10-01-2024.csv"
MUE_OPH_Q4 = CMS / "MCR_MUE_OutpatientHospitalServices_Eff_10-01-2024.csv"
PTP_F1 = CMS / "ccipra-v302r0-f1.txt"
PTP_F2 = CMS / "ccipra-v302r0-f2.txt"
PTP_OPH = CMS / "ccioph-v303r0-f1.txt"
RVU = CMS / "PPRRVU24_JUL.csv"
ALL = [MUE_Q3, MUE_Q4, MUE_OPH_Q4, PTP_F1, PTP_F2, PTP_OPH, RVU]

BUNDLED = "bundled (no imported release in force on {day})"


@pytest.fixture
def store(tmp_path):
    with ReleaseStore(tmp_path / "data", create=True) as s:
        yield s


@pytest.fixture
def loaded(store):
    for path in ALL:
        assert store.import_file(path).status == "imported"
    return store


def claim(day: str, *lines: tuple[str, int], kind: str = "professional", **extra) -> dict:
    return {"id": f"c-{day}", "claim_type": kind, "date": day, "place_of_service": "11" if kind == "professional" else None,
            "lines": [{"code": code, "units": units, **extra} for code, units in lines]}


def rules(result) -> set[str]:
    return {f.rule for f in result.findings}


# ------------------------------------------------------------------------------------------- importing
def test_import_each_kind_with_the_period_its_cms_name_says(loaded):
    files = {f.file_name: f for f in loaded.files()}
    assert {f.kind for f in files.values()} == set(KINDS)
    assert (files[MUE_Q3.name].kind, files[MUE_Q3.name].valid_from, files[MUE_Q3.name].valid_to) == \
        ("mue_practitioner", "2024-07-01", "2024-09-30")
    assert files[MUE_OPH_Q4.name].kind == "mue_outpatient_hospital"
    assert (files[PTP_F1.name].kind, files[PTP_F1.name].valid_from) == ("ptp_practitioner", "2024-07-01")
    assert (files[PTP_OPH.name].kind, files[PTP_OPH.name].valid_from) == ("ptp_hospital", "2024-10-01")
    assert (files[RVU.name].kind, files[RVU.name].valid_to) == ("rvu", "2024-09-30")
    # rows: MUE every code; PTP only the edits touching 96360-96549; PPRRVU rows without a modifier
    assert files[MUE_Q3.name].rows == 7
    assert files[PTP_F1.name].rows == 5 and files[RVU.name].rows == 5
    assert all(len(f.sha256) == 64 and f.imported_at for f in files.values())
    # the two PTP parts are one release
    ptp = [r for r in loaded.releases() if r.kind == "ptp_practitioner"]
    assert len(ptp) == 1 and ptp[0].name == "ccipra-v302r0" and [f.part for f in ptp[0].files] == ["f1", "f2"]
    # and the database is where the data directory says
    assert (loaded.data_dir / DATABASE_NAME).is_file()


@pytest.mark.parametrize("kind, name, period", [
    ("mue_practitioner", "MCR_MUE_PractitionerServices_Eff_10-01-2024.csv", ("2024-10-01", "2024-12-31")),
    ("mue_outpatient_hospital", "MCR_MUE_OutpatientHospitalServices_Eff_01-01-2025.csv", ("2025-01-01", "2025-03-31")),
    ("ptp_practitioner", "ccipra-v310r0-f3.txt", ("2025-01-01", "2025-03-31")),
    ("ptp_hospital", "ccioph-v302r0-f1.txt", ("2024-07-01", "2024-09-30")),
    ("rvu", "PPRRVU24_JUL.csv", ("2024-07-01", "2024-09-30")),
    ("rvu", "PPRRVU25_JAN.csv", ("2025-01-01", "2025-03-31")),
    ("rvu", "RVU24D.zip", ("2024-10-01", "2024-12-31")),
    ("mue_practitioner", "mue.csv", None),
    ("ptp_practitioner", "ccipra-v314r0-f1.txt", None),        # no fifth quarter
])
def test_period_from_cms_file_names(kind, name, period):
    got = period_from_name(KINDS[kind], name)
    assert (None if got is None else (got[0].isoformat(), got[1].isoformat())) == period


def test_kind_from_header_when_the_name_is_plain(tmp_path):
    plain = tmp_path / "mue.csv"
    shutil.copy(MUE_OPH_Q4, plain)
    assert detect_kind(plain).key == "mue_outpatient_hospital"
    rvu = tmp_path / "rates.csv"
    shutil.copy(RVU, rvu)
    assert detect_kind(rvu).key == "rvu"
    edits = tmp_path / "edits.txt"
    shutil.copy(PTP_F1, edits)
    with pytest.raises(ImportFailure, match=r"edits\.txt.*does not say the setting.*--kind"):
        detect_kind(edits)
    liar = tmp_path / "MCR_MUE_PractitionerServices_Eff_10-01-2024.csv"
    shutil.copy(MUE_OPH_Q4, liar)
    with pytest.raises(ImportFailure, match="name says mue_practitioner but the header says mue_outpatient_hospital"):
        detect_kind(liar)


def test_reimporting_the_same_file_does_nothing(store):
    first = store.import_file(MUE_Q3)
    again = store.import_file(MUE_Q3)
    assert again.status == "unchanged" and "already imported" in again.message and "nothing to do" in again.message
    assert len(store.files()) == 1 and store.files()[0].id == store.releases()[0].files[0].id
    assert first.rows == 7


def test_overlapping_release_of_the_same_kind_is_an_error_unless_replaced(store):
    store.import_file(MUE_Q3)
    with pytest.raises(ImportFailure) as err:
        store.import_file(MUE_Q4, valid_from=date(2024, 9, 1))
    message = str(err.value)
    assert MUE_Q4.name in message and "overlaps" in message and MUE_Q3.name in message and "--replace" in message
    assert [f.file_name for f in store.files()] == [MUE_Q3.name]       # nothing changed
    # another kind for the same period is fine
    store.import_file(MUE_OPH_Q4, valid_from=date(2024, 7, 1))
    outcome = store.import_file(MUE_Q4, valid_from=date(2024, 9, 1), replace=True)
    assert outcome.replaced == (MUE_Q3.stem,) and "replaced" in outcome.message
    practitioner = [f for f in store.files() if f.kind == "mue_practitioner"]
    assert [(f.file_name, f.valid_from, f.valid_to) for f in practitioner] == [(MUE_Q4.name, "2024-09-01", "2024-09-30")]


def test_same_ptp_part_twice_with_other_contents_overlaps(store, tmp_path):
    store.import_file(PTP_F1)
    changed = tmp_path / PTP_F1.name
    changed.write_text(PTP_F1.read_text().replace("20240801", "20240901"))
    with pytest.raises(ImportFailure, match="ccipra-v302r0 f1.*overlaps"):
        store.import_file(changed)
    store.import_file(PTP_F2)                    # another part of the same release is not an overlap


def test_unknown_kind_names_the_file(store, tmp_path):
    notes = tmp_path / "notes.csv"
    notes.write_text("just,some\nunrelated,text\n")
    with pytest.raises(ImportFailure, match=r"notes\.csv: not a CMS file infucode knows.*--kind"):
        store.import_file(notes)
    dme = tmp_path / "MCR_MUE_DMESupplierServices_Eff_10-01-2024.csv"
    dme.write_text('"HCPCS/\nCPT Code",DME Supplier Services MUE Values,MUE Adjudication Indicator,MUE Rationale\n')
    with pytest.raises(ImportFailure, match="DME supplier"):
        store.import_file(dme)
    assert store.files() == []


def test_bad_row_names_the_file_and_the_row_and_stores_nothing(store, tmp_path):
    bad = tmp_path / "MCR_MUE_PractitionerServices_Eff_01-01-2025.csv"
    bad.write_text(MUE_Q4.read_text().replace("96365,1,3 Date", "96365,one,3 Date"))
    with pytest.raises(ImportFailure) as err:
        store.import_file(bad)
    assert str(bad) in str(err.value) and "row 5 " in str(err.value) and "'one'" in str(err.value)
    assert store.files() == []
    bad_ptp = tmp_path / "ccipra-v310r0-f1.txt"
    bad_ptp.write_text(PTP_F1.read_text().replace("20240801\t0", "20240801\t7"))
    with pytest.raises(ImportFailure, match=r"ccipra-v310r0-f1\.txt: row 14 .*modifier indicator '7'"):
        store.import_file(bad_ptp)
    assert store.files() == []


def test_period_must_be_given_when_the_name_does_not_say(store, tmp_path):
    plain = tmp_path / "mue.csv"
    shutil.copy(MUE_Q3, plain)
    with pytest.raises(ImportFailure, match=r"mue\.csv: cannot tell .* --valid-from YYYY-MM-DD.*--quarter"):
        store.import_file(plain)
    outcome = store.import_file(plain, valid_from=date(2024, 8, 15))
    assert "2024-08-15 to 2024-09-30" in outcome.message         # to the end of that quarter by default


def test_remove_a_release_with_all_its_parts(loaded):
    removed = loaded.remove("ccipra-v302r0")
    assert sorted(f.part for f in removed) == ["f1", "f2"]
    assert not [f for f in loaded.files() if f.kind == "ptp_practitioner"]
    with pytest.raises(KeyError, match="no imported release"):
        loaded.remove("ccipra-v302r0")


# ------------------------------------------------------------------------------------------- date of service
def test_the_mue_release_in_force_on_the_date_of_service_decides(loaded):
    rs = load_ruleset().with_releases(loaded)
    lines = (("96365", 1), ("96366", 5))
    q3 = audit_claim(claim("2024-08-15", *lines), rs)
    q4 = audit_claim(claim("2024-11-15", *lines), rs)
    (mue,) = [f for f in q3.findings if f.rule == "audit.mue"]
    assert "practitioner MUE of 4" in mue.message
    assert mue.wrvu_delta == pytest.approx(-1.0)                  # 5 x 0.20 from PPRRVU24_JUL (bundled 0.18)
    assert "audit.mue" not in rules(q4)                           # 6 from 2024-10-01
    assert MUE_Q3.name in q3.data_releases["mue_practitioner"] and "2024-07-01 to 2024-09-30" in q3.data_releases["mue_practitioner"]
    assert MUE_Q4.name in q4.data_releases["mue_practitioner"]
    assert RVU.name in q3.data_releases["rvu"] and q4.data_releases["rvu"] == BUNDLED.format(day="2024-11-15")
    assert "PPRRVU24_JUL" in q3.data_releases["codes"] and "ccipra-v302r0" in q3.data_releases["ptp_practitioner"]
    # the outpatient hospital table for institutional claims: imported for Q4 only
    inst = (("96365", 1), ("96366", 13))
    assert "audit.mue" in rules(audit_claim(claim("2024-11-15", *inst, kind="institutional"), rs))   # 12
    q3_inst = audit_claim(claim("2024-08-15", *inst, kind="institutional"), rs)
    assert "audit.mue" not in rules(q3_inst)                                                         # bundled 24
    assert q3_inst.data_releases["mue_outpatient_hospital"] == BUNDLED.format(day="2024-08-15")


def test_a_ptp_edit_deleted_before_the_date_of_service_does_not_fire(loaded):
    rs = load_ruleset().with_releases(loaded)
    pair = (("96413", 1), ("96523", 1))            # deleted 2024-08-01 in ccipra-v302r0
    assert "audit.ptp" in rules(audit_claim(claim("2024-07-31", *pair), rs))
    assert "audit.ptp" not in rules(audit_claim(claim("2024-08-01", *pair), rs))
    assert "audit.ptp" not in rules(audit_claim(claim("2024-09-15", *pair), rs))
    new = (("96372", 1), ("96374", 1))             # effective 2024-09-01 (part f2)
    assert "audit.ptp" not in rules(audit_claim(claim("2024-08-31", *new), rs))
    assert "audit.ptp" in rules(audit_claim(claim("2024-09-01", *new), rs))
    # the bundled table still has 96413/96523: before any import it fires, and the result says so
    before = audit_claim(claim("2023-02-01", *pair), rs)
    assert "audit.ptp" in rules(before)
    assert before.data_releases["ptp_practitioner"] == BUNDLED.format(day="2023-02-01")
    # one claim, the pair billed on both sides of the deletion: only the earlier date's pair is an edit
    both = claim("2024-07-31", *pair)
    both["lines"] += [{"code": "96413", "units": 1, "date": "2024-08-01"}, {"code": "96523", "units": 1, "date": "2024-08-01"}]
    (edit,) = [f for f in audit_claim(both, rs).findings if f.rule == "audit.ptp"]
    assert edit.lines == [1, 2]  # line numbers, 1 = the first billed line (LX 1)


def test_a_date_before_any_import_falls_back_to_the_bundled_tables(loaded):
    rs = load_ruleset().with_releases(loaded)
    result = audit_claim(claim("2023-02-01", ("96365", 1), ("96366", 5)), rs)
    assert "audit.mue" not in rules(result)                       # bundled 96366 MUE 8
    for key in KINDS:
        assert result.data_releases[key] == BUNDLED.format(day="2023-02-01")
    plain = audit_claim(claim("2023-02-01", ("96365", 1), ("96366", 5)), load_ruleset())
    assert result.data_releases["codes"] == plain.data_releases["codes"]
    assert result.data_releases["ncci_ptp"] == plain.data_releases["ncci_ptp"]


def test_an_empty_store_says_every_table_is_bundled(tmp_path):
    store = ReleaseStore(tmp_path / "nothing-here")
    assert not store.exists and store.releases() == []
    result = audit_claim(claim("2024-08-15", ("96365", 1)), load_ruleset().with_releases(store))
    assert {result.data_releases[k] for k in KINDS} == {BUNDLED.format(day="2024-08-15")}
    assert not (tmp_path / "nothing-here").exists()              # reading never creates the database


def test_without_a_store_the_audit_is_unchanged():
    rs = load_ruleset()
    assert rs.for_date("2024-08-15") is rs
    result = audit_claim(claim("2024-08-15", ("96365", 1), ("96366", 9)), rs)
    assert not set(KINDS) & set(result.data_releases)
    assert "audit.mue" in rules(result)


def test_tables_are_built_once_per_release_combination(loaded):
    rs = load_ruleset().with_releases(loaded)
    aug, sep_early = rs.for_date("2024-08-02"), rs.for_date("2024-08-30")
    assert aug.codes is sep_early.codes and aug.ptp is sep_early.ptp      # same releases, same PTP epoch
    assert rs.for_date("2024-09-02").codes is aug.codes                   # same MUE/RVU releases...
    assert rs.for_date("2024-09-02").ptp is not aug.ptp                   # ...but 96372/96374 took effect
    assert rs.for_date("2024-10-02").codes is not aug.codes
    assert rs.for_date("2023-01-01").codes is rs.codes                    # nothing imported: the bundled table


def test_each_line_is_audited_on_the_tables_of_its_own_date(loaded):
    """A claim across a quarter's end: 96366 x5 is above the Q3 MUE (4) on 2024-09-30 and within the Q4
    MUE (6) on 2024-10-01; data_releases names the release of each date."""
    rs = load_ruleset().with_releases(loaded)
    c = claim("2024-09-30", ("96365", 1), ("96366", 5))
    c["lines"] += [{"code": "96365", "units": 1, "date": "2024-10-01"}, {"code": "96366", "units": 5, "date": "2024-10-01"}]
    result = audit_claim(c, rs)
    (mue,) = [f for f in result.findings if f.rule == "audit.mue"]
    assert mue.lines == [2] and "MUE of 4" in mue.message
    used = result.data_releases["mue_practitioner"]
    assert f"on 2024-09-30: " in used and MUE_Q3.name in used and f"on 2024-10-01: " in used and MUE_Q4.name in used
    same = claim("2024-08-01", ("96365", 1))
    same["lines"].append({"code": "96365", "units": 1, "date": "2024-08-02"})
    releases = audit_claim(same, rs).data_releases
    assert "dates_of_service" not in releases and not releases["mue_practitioner"].startswith("on ")


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("INFUCODE_DATA_DIR", str(tmp_path / "d"))
    assert default_data_dir() == tmp_path / "d"
    monkeypatch.delenv("INFUCODE_DATA_DIR")
    assert default_data_dir().name == "infucode"


# ------------------------------------------------------------------------------------------- command line
def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:  # click >= 8.2 keeps stderr apart already
        return CliRunner()


def test_data_command_is_registered():
    result = _runner().invoke(app, ["data", "--help"])
    assert result.exit_code == 0
    assert all(name in result.stdout for name in ("import", "list", "remove"))


def test_cli_round_trip(tmp_path):
    runner = _runner()
    data = tmp_path / "data"
    imported = runner.invoke(app, ["data", "import", *map(str, ALL), "--data-dir", str(data)])
    assert imported.exit_code == 0, imported.output
    assert imported.stdout.count("imported ") == len(ALL)

    again = runner.invoke(app, ["data", "import", str(MUE_Q3), "--data-dir", str(data)])
    assert again.exit_code == 0 and "nothing to do" in again.stdout

    listing = runner.invoke(app, ["data", "list", "--data-dir", str(data)])
    assert listing.exit_code == 0 and "ccipra-v302r0 f2" in listing.stdout and "2024-10-01" in listing.stdout
    as_json = json.loads(runner.invoke(app, ["data", "list", "--data-dir", str(data), "-f", "json"]).stdout)
    assert {r["kind"] for r in as_json} == set(KINDS) and len(as_json) == len(ALL)

    claims = tmp_path / "claims.jsonl"
    claims.write_text("\n".join(json.dumps(claim(d, ("96365", 1), ("96366", 5)))
                                for d in ("2024-08-15", "2024-11-15", "2023-02-01")) + "\n")
    audited = runner.invoke(app, ["audit", str(claims), "--data-dir", str(data), "--format", "jsonl"])
    assert audited.exit_code == 1, audited.output                      # the Q3 claim is above the MUE
    q3, q4, old = (json.loads(line) for line in audited.stdout.splitlines())
    assert "audit.mue" in {f["rule"] for f in q3["findings"]}
    assert "audit.mue" not in {f["rule"] for f in q4["findings"]} | {f["rule"] for f in old["findings"]}
    assert MUE_Q3.name in q3["data_releases"]["mue_practitioner"]
    assert MUE_Q4.name in q4["data_releases"]["mue_practitioner"]
    assert old["data_releases"]["mue_practitioner"] == BUNDLED.format(day="2023-02-01")

    removed = runner.invoke(app, ["data", "remove", MUE_Q3.stem, "--data-dir", str(data)])
    assert removed.exit_code == 0 and MUE_Q3.name in removed.stdout
    after = runner.invoke(app, ["audit", str(claims), "--data-dir", str(data), "--format", "jsonl"])
    first = json.loads(after.stdout.splitlines()[0])
    assert first["data_releases"]["mue_practitioner"] == BUNDLED.format(day="2024-08-15")
    assert runner.invoke(app, ["data", "remove", "nope", "--data-dir", str(data)]).exit_code == 1


def test_cli_audit_without_imports_says_bundled(tmp_path, monkeypatch):
    monkeypatch.setenv("INFUCODE_DATA_DIR", str(tmp_path / "empty"))
    claims = tmp_path / "claim.json"
    claims.write_text(json.dumps(claim("2024-08-15", ("96365", 1))))
    result = _runner().invoke(app, ["audit", str(claims), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["data_releases"]["mue_practitioner"] == BUNDLED.format(day="2024-08-15")
    # an explicit --data-dir without a database is a usage error
    missing = _runner().invoke(app, ["audit", str(claims), "--data-dir", str(tmp_path / "empty")])
    assert missing.exit_code == 2 and "no imported CMS data" in missing.stderr


def test_cli_import_failures_and_usage_errors(tmp_path):
    runner = _runner()
    data = ["--data-dir", str(tmp_path / "data")]
    notes = tmp_path / "notes.csv"
    notes.write_text("just,some\nunrelated,text\n")
    bad = tmp_path / "MCR_MUE_PractitionerServices_Eff_01-01-2025.csv"
    bad.write_text(MUE_Q4.read_text().replace("96366,6,3", "96366,6,X"))
    result = runner.invoke(app, ["data", "import", str(notes), str(bad), str(RVU), *data])
    assert result.exit_code == 1
    assert f"{notes}: not a CMS file" in result.stderr
    assert f"{bad}: row 6 " in result.stderr and "adjudication indicator 'X Date" in result.stderr
    assert "imported PFS RVU PPRRVU24_JUL" in result.stdout            # the good file is still imported

    overlap = runner.invoke(app, ["data", "import", str(MUE_Q4), "--valid-from", "2024-07-15", *data])
    assert overlap.exit_code == 0
    clash = runner.invoke(app, ["data", "import", str(MUE_Q3), *data])
    assert clash.exit_code == 1 and "overlaps" in clash.stderr
    assert runner.invoke(app, ["data", "import", str(MUE_Q3), "--replace", *data]).exit_code == 0

    plain = tmp_path / "mue.csv"
    shutil.copy(MUE_OPH_Q4, plain)
    assert runner.invoke(app, ["data", "import", str(plain), *data]).exit_code == 1          # no period
    quarter = runner.invoke(app, ["data", "import", str(plain), "--quarter", "2025Q1", *data])
    assert quarter.exit_code == 0 and "2025-01-01 to 2025-03-31" in quarter.stdout

    for usage in (["--kind", "mue_dental"], ["--quarter", "2024Q5"], ["--quarter", "2024Q1", "--year", "2024"],
                  ["--valid-from", "2024-13-01"], ["--valid-from", "2024-07-01", "--valid-to", "2024-06-30"],
                  ["--year", "2024", "--valid-to", "2024-06-30"]):
        result = runner.invoke(app, ["data", "import", str(plain), *usage, *data])
        assert result.exit_code == 2, (usage, result.output)
        assert "error" in result.stderr
    assert runner.invoke(app, ["data", "import", str(tmp_path / "missing.csv"), *data]).exit_code == 2

    kinded = tmp_path / "edits.txt"
    shutil.copy(PTP_OPH, kinded)
    ok = runner.invoke(app, ["data", "import", str(kinded), "--kind", "ptp-hospital", "--year", "2023", *data])
    assert ok.exit_code == 0 and "NCCI PTP outpatient hospital edits, in force 2023-01-01 to 2023-12-31" in ok.stdout
