"""Coding (not only the audit) with the CMS files imported with ``infucode data import``: the MUE and work
RVU in force on each encounter's date of service, in the engine, ``infucode code``, ``infucode batch``
(local and Spark) and ``POST /v1/code``.

Fixture values (tests/fixtures/cms/, altered, NOT the CMS values; see test_data_import.py): 96366
practitioner MUE 4 from 2024-07-01 and 6 from 2024-10-01 (bundled 8); PPRRVU24_JUL (2024Q3) 96366 work
RVU 0.20 (bundled 0.18).

An IVIG infusion 08:00-13:31 runs 331 minutes: 96365 + 96366 x5 (five added hours: four full ones and a
tail of 31 minutes, more than 30) [CPT infusion guidelines; the 30-minute rule].
"""
from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from infucode import code_encounter, load_ruleset
from infucode.batch.runner import BatchError, releases_dir, run_batch
from infucode.cli import app
from infucode.engine import date_of_service
from infucode.model import Encounter
from infucode.reference.releases import DATABASE_NAME, ReleaseStore

CMS = Path(__file__).resolve().parent / "fixtures" / "cms"
MUE_Q3 = CMS / "MCR_MUE_PractitionerServices_Eff_07-01-2024.csv"
MUE_Q4 = CMS / "MCR_MUE_PractitionerServices_Eff_10-01-2024.csv"
RVU_Q3 = CMS / "PPRRVU24_JUL.csv"


def ivig(day: str | None, eid: str = "e1", start: str = "08:00", stop: str = "13:31") -> dict:
    enc = {"id": eid, "setting": "office",
           "administrations": [{"id": "a1", "drug": "Gammagard Liquid", "hcpcs": "J1569", "indication": "CIDP",
                                "route": "iv_infusion", "start": start, "stop": stop,
                                "dose": {"value": 30, "unit": "g"}}]}
    if day is not None:
        enc["date"] = day
    return enc


@pytest.fixture
def data_dir(tmp_path) -> Path:
    where = tmp_path / "data"
    with ReleaseStore(where, create=True) as store:
        for path in (MUE_Q3, MUE_Q4, RVU_Q3):
            assert store.import_file(path).status == "imported"
    return where


def _line(result, code: str):
    (line,) = [l for l in result.lines if l.code == code]
    return line


def _mue_findings(result) -> list[str]:
    return [f.message for f in result.findings if f.rule == "limits.mue"]


def test_the_engine_codes_with_the_tables_in_force_on_the_date_of_service(data_dir):
    with ReleaseStore(data_dir) as store:
        rs = load_ruleset().with_releases(store)
        q3, q4, before = (code_encounter(ivig(d), rs) for d in ("2024-08-15", "2024-11-15", "2023-02-01"))
    # the units are the clock's, whatever the table
    assert [_line(r, "96366").units for r in (q3, q4, before)] == [5, 5, 5]
    (above,) = _mue_findings(q3)
    assert "practitioner MUE of 4" in above                         # Q3 release
    assert _mue_findings(q4) == [] and _mue_findings(before) == []  # Q4: 6; before any import: bundled 8
    assert _line(q3, "96366").wrvu == pytest.approx(1.00)           # 5 x 0.20 (PPRRVU24_JUL)
    assert _line(q4, "96366").wrvu == pytest.approx(0.90)           # 5 x 0.18 (bundled: no RVU release for Q4)
    assert MUE_Q3.name in q3.data_releases["mue_practitioner"] and RVU_Q3.name in q3.data_releases["rvu"]
    assert MUE_Q4.name in q4.data_releases["mue_practitioner"]
    assert q4.data_releases["rvu"] == "bundled (no imported release in force on 2024-11-15)"
    # without the store nothing changes: bundled tables, and no release keys in the result
    plain = code_encounter(ivig("2024-08-15"), load_ruleset())
    assert _mue_findings(plain) == [] and "mue_practitioner" not in plain.data_releases


def test_without_an_encounter_date_the_first_documented_start_dates_it(data_dir):
    enc = ivig(None, start="2024-08-15T08:00", stop="2024-08-15T13:31")
    assert date_of_service(msgspec.convert(enc, Encounter), None) == "2024-08-15"
    with ReleaseStore(data_dir) as store:
        result = code_encounter(enc, load_ruleset().with_releases(store))
    assert len(_mue_findings(result)) == 1 and MUE_Q3.name in result.data_releases["mue_practitioner"]
    # nothing to date it by: the bundled tables (and the engine reports the clock times it cannot read)
    assert date_of_service(msgspec.convert(ivig(None), Encounter), None) is None


def test_the_dated_ruleset_is_built_once_per_date(data_dir):
    with ReleaseStore(data_dir) as store:
        rs = load_ruleset().with_releases(store)
        assert rs.for_date("2024-08-15") is rs.for_date("2024-08-15")
        assert rs.for_date("2024-08-15").codes is rs.for_date("2024-08-16").codes   # one release combination


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()


def test_code_command_reads_the_imported_data(data_dir, tmp_path, monkeypatch):
    src = tmp_path / "enc.jsonl"
    src.write_text("\n".join(json.dumps(ivig(d, eid=d)) for d in ("2024-08-15", "2024-11-15")) + "\n")
    result = _runner().invoke(app, ["code", str(src), "--format", "jsonl", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    q3, q4 = (json.loads(line) for line in result.stdout.splitlines())
    assert any(f["rule"] == "limits.mue" for f in q3["findings"])
    assert not any(f["rule"] == "limits.mue" for f in q4["findings"])
    # the default data directory is read too ($INFUCODE_DATA_DIR here)
    monkeypatch.setenv("INFUCODE_DATA_DIR", str(data_dir))
    by_default = _runner().invoke(app, ["code", str(src), "--format", "jsonl"])
    assert by_default.stdout == result.stdout
    # an explicit directory without a database is a usage error
    missing = _runner().invoke(app, ["code", str(src), "--data-dir", str(tmp_path / "nothing")])
    assert missing.exit_code == 2 and "no imported CMS data" in missing.stderr


def _encounters(n: int) -> list[dict]:
    days = ("2024-06-30", "2024-07-01", "2024-09-30", "2024-10-01", "2023-02-01")
    return [ivig(days[i % len(days)], eid=f"e{i}", stop=("13:31" if i % 2 else "12:45")) for i in range(n)]


@pytest.mark.parametrize("workers", [1, 2])
def test_batch_codes_each_encounter_with_its_own_dates_tables(data_dir, tmp_path, workers):
    encounters = _encounters(40)
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(e) for e in encounters) + "\n")
    out = tmp_path / "out.jsonl"
    summary = run_batch(src, out, workers=workers, progress=False, chunk_lines=7, data_dir=data_dir)
    assert (summary.coded, summary.failed) == (40, 0)
    with ReleaseStore(data_dir) as store:
        rs = load_ruleset().with_releases(store)
        expected = [msgspec.json.encode(code_encounter(e, rs)).decode() for e in encounters]
    assert out.read_text().splitlines() == expected
    flagged = {json.loads(line)["encounter"] for line in expected
               if any(f["rule"] == "limits.mue" for f in json.loads(line)["findings"])}
    # x5 units on the Q3 dates only (2024-07-01, 2024-09-30): the Q2 date and 2023 use bundled 8, Q4 uses 6
    assert flagged == {f"e{i}" for i in range(40) if i % 2 and i % 5 in (1, 2)}


def test_batch_data_dir_must_hold_a_database(tmp_path, monkeypatch):
    with pytest.raises(BatchError, match="no imported CMS data"):
        releases_dir(tmp_path)
    monkeypatch.setenv("INFUCODE_DATA_DIR", str(tmp_path / "empty"))
    assert releases_dir(None) is None                     # no default database: the bundled tables
    (tmp_path / DATABASE_NAME).write_bytes(b"not a database, " * 100)
    with pytest.raises(BatchError, match="cannot read the imported CMS data"):   # refused before any worker starts
        releases_dir(tmp_path)
    with pytest.raises(BatchError, match="cannot read the imported CMS data"):
        run_batch(MUE_Q3, tmp_path / "out.jsonl", in_format="jsonl", workers=2, progress=False, data_dir=tmp_path)
    ReleaseStore(tmp_path / "fine", create=True).close()
    assert releases_dir(tmp_path / "fine") == str(tmp_path / "fine")


def test_batch_cli_data_dir(data_dir, tmp_path):
    from infucode.batch.cli import batch_app

    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(ivig("2024-08-15")) + "\n")
    out = tmp_path / "out.jsonl"
    ok = _runner().invoke(batch_app, [str(src), str(out), "--workers", "1", "--data-dir", str(data_dir)])
    assert ok.exit_code == 0, ok.output
    assert MUE_Q3.name in json.loads(out.read_text())["data_releases"]["mue_practitioner"]
    bad = _runner().invoke(batch_app, [str(src), str(out), "--data-dir", str(tmp_path / "nothing")])
    assert bad.exit_code == 2 and "no imported CMS data" in bad.stderr


def test_code_endpoint_reads_the_imported_data(data_dir, tmp_path):
    from fastapi.testclient import TestClient

    from infucode.web.app import create_app

    with ReleaseStore(data_dir) as store:
        client = TestClient(create_app(db_url=f"sqlite:///{tmp_path}/c.db", releases=store))
        body = client.post("/v1/code", json=ivig("2024-08-15")).json()
        assert MUE_Q3.name in body["data_releases"]["mue_practitioner"]
        assert any(f["rule"] == "limits.mue" for f in body["findings"])
        batch = client.post("/v1/code/batch", json=[ivig("2024-11-15")]).json()
        assert "limits.mue" not in json.dumps(batch)


def test_lookup_shows_the_imported_values_in_force_on_a_date(data_dir, tmp_path):
    """`infucode lookup 96366 --date D` and GET /v1/codes/96366?date=D: the MUE and wRVU of the releases in force
    on D (default today); without imported data the bundled values (96366: practitioner MUE 8, wRVU 0.18)."""
    def ref(*args: str) -> dict:
        result = _runner().invoke(app, ["lookup", "96366", "--format", "json", *args])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    q3 = ref("--date", "2024-08-15", "--data-dir", str(data_dir))
    assert (q3["mue"]["practitioner"]["value"], q3["wrvu"]) == (4, 0.20)
    assert RVU_Q3.stem in q3["release"] and MUE_Q3.stem in q3["release"]
    q4 = ref("--date", "2024-11-15", "--data-dir", str(data_dir))
    assert (q4["mue"]["practitioner"]["value"], q4["wrvu"]) == (6, 0.18)
    bundled = ref("--date", "2024-08-15")                       # the default data dir is empty in the tests
    assert (bundled["mue"]["practitioner"]["value"], bundled["wrvu"]) == (8, 0.18)
    bad = _runner().invoke(app, ["lookup", "96366", "--date", "15/08/2024"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.stderr

    from fastapi.testclient import TestClient

    from infucode.web.app import create_app

    with ReleaseStore(data_dir) as store:
        client = TestClient(create_app(db_url=f"sqlite:///{tmp_path}/c.db", releases=store))
        body = client.get("/v1/codes/96366", params={"date": "2024-08-15", "scenarios": "false"}).json()
        assert body["mue"]["practitioner"]["value"] == 4
        assert client.get("/v1/codes/96366", params={"date": "2024-11-15"}).json()["mue"]["practitioner"]["value"] == 6
        wrong = client.get("/v1/codes/96366", params={"date": "soon"})
        assert wrong.status_code == 422 and wrong.json()["field"] == "date"
    plain = TestClient(create_app(db_url=f"sqlite:///{tmp_path}/d.db"))
    assert plain.get("/v1/codes/96366", params={"date": "2024-08-15"}).json()["mue"]["practitioner"]["value"] == 8


def test_lookup_prose_says_the_numbers_of_the_table_it_shows(data_dir):
    """After an import, `lookup 96366 --date D` shows the imported practitioner MUE (4 in the fixture) and its
    denial and scenario prose say 4 too, never the bundled 8; the bundled table's prose says 8."""
    def text(*args: str) -> str:
        result = _runner().invoke(app, ["lookup", "96366", *args])
        assert result.exit_code == 0, result.output
        return result.stdout

    imported = text("--date", "2024-08-15", "--data-dir", str(data_dir))
    assert "MUE practitioner: 4 " in imported
    assert "units above the MUE (4 practitioner" in imported and "MUE of 4" in imported
    assert "MUE of 8" not in imported and "(8 practitioner" not in imported
    bundled = text("--date", "2024-08-15")
    assert "MUE practitioner: 8 " in bundled and "units above the MUE (8 practitioner" in bundled and "MUE of 8" in bundled
    assert "{mue" not in imported + bundled


def test_lookup_96368_says_once_per_date_as_the_engine_codes_it():
    """The engine reports 96368 once per date of service (two dates: two units); the reference says so too."""
    out = _runner().invoke(app, ["lookup", "96368"]).stdout
    assert "once per encounter" not in out.lower() and "per encounter" not in out.lower()
    assert "once per date" in out.lower()
    three = {"id": "c3", "setting": "facility", "date": "2024-07-01", "administrations": [
        {"id": "a1", "drug": "vancomycin", "route": "iv_infusion", "start": "08:00", "stop": "10:00"},
        {"id": "a2", "drug": "ceftriaxone", "route": "iv_infusion", "start": "08:30", "stop": "09:30"},
        {"id": "a3", "drug": "metronidazole", "route": "iv_infusion", "start": "08:40", "stop": "09:40"}]}
    result = code_encounter(three, load_ruleset())
    assert [line.units for line in result.lines if line.code == "96368"] == [1]
