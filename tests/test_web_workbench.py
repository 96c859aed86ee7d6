"""Issue 15, the server side of the workbench: pasted rows read by the shared vocabulary, problem+json
for malformed JSON and wrong media types, files read as the CLI reads them, the whole case saved, and
what `serve` tells its user (URL, database, one access-log line per request without patient data)."""
import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from infucode.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
PATIENT = "John Q Patient MRN-99887766"


@pytest.fixture()
def client(tmp_path):
    return TestClient(create_app(db_url=f"sqlite:///{tmp_path}/cases.db"))


def _rows(client, rows, **extra):
    res = client.post("/v1/rows", json={"rows": rows, **extra})
    assert res.status_code == 200, res.text
    return res.json()


def _cell(row, column):
    return next(c for c in row["cells"] if c["column"] == column)


# --- pasted rows ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("written, route", [("IV Push", "iv_push"), ("IM", "im"), ("SQ", "sc"), ("IVPB", "iv_infusion"),
                                            ("IV Infusion", "iv_infusion"), ("Subcutaneous", "sc")])
def test_pasted_route_words_are_read_by_the_vocabulary(client, written, route):
    row = _rows(client, [["ceftriaxone", written, "09:00", "", ""]])["rows"][0]
    assert row["administration"]["route"] == route
    assert _cell(row, "route")["note"] == f"route '{written}' read as {route}"


@pytest.mark.parametrize("written", ["PO", "by mouth", "foo", "topical"])
def test_a_route_that_cannot_be_coded_is_an_error_on_its_cell_never_a_default(client, written):
    row = _rows(client, [["acetaminophen", written, "09:00", "", ""]])["rows"][0]
    assert "route" not in row["administration"]          # before issue 15: iv_infusion
    assert _cell(row, "route")["error"] and row["errors"] == 1


def test_pasted_times_and_dates(client):
    out = _rows(client, [["Drug", "Route", "Date", "Start", "Stop"],
                         ["vancomycin", "IVPB", "7/1/2024", "8:30 AM", "10:05 am"],
                         ["vancomycin", "IVPB", "7/2/2024", "0830", "25:99"]])
    assert out["header"] and out["columns"] == ["drug", "route", "date", "start", "stop"]
    assert out["date"] == "2024-07-01"
    first, second = out["rows"]
    assert (first["administration"]["start"], first["administration"]["stop"]) == ("08:30", "10:05")
    assert _cell(first, "date")["note"] == "date '7/1/2024' read as 2024-07-01"
    assert second["administration"]["start"] == "2024-07-02T08:30"     # another day than the encounter's
    assert "stop" not in second["administration"] and "not a clock time" in _cell(second, "stop")["error"]


def test_pasted_dose_and_hcpcs(client):
    out = _rows(client, [["Drug", "HCPCS", "Route", "Start", "Dose"],
                         ["Gammagard", "j1569", "IV", "08:30", "30 g"], ["x", "J15", "IM", "09:00", "lots"]])
    good, bad = out["rows"]
    assert good["administration"]["hcpcs"] == "J1569" and good["administration"]["dose"] == {"value": 30, "unit": "g"}
    assert _cell(bad, "hcpcs")["error"] and _cell(bad, "dose")["error"]


def test_im_ceftriaxone_pasted_is_an_injection_not_two_pushes(client):
    out = _rows(client, [["ceftriaxone", "IM", "9:00 AM", "", ""]])
    enc = {"id": "p1", "setting": "office", "date": "2024-07-01",
           "administrations": [r["administration"] for r in out["rows"]]}
    body = client.post("/v1/code", json=enc).json()
    assert [(x["code"], x["units"]) for x in body["lines"] if x["kind"] == "administration"] == [("96372", 1)]
    assert not [f for f in body["findings"] if f["severity"] == "error"]


def test_row_errors_never_quote_free_text(client):
    out = _rows(client, [[PATIENT, PATIENT, PATIENT, PATIENT, PATIENT]])
    said = [c.get("note", "") + c.get("error", "") for c in out["rows"][0]["cells"]]
    assert len(said) == 5 and not any("Patient" in s or "99887766" in s for s in said)
    res = client.post("/v1/rows", json={"rows": PATIENT})
    assert res.status_code == 422 and "Patient" not in res.text


# --- problem+json for every error ------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/v1/code", "/v1/code/batch", "/v1/audit", "/v1/cases", "/v1/ask", "/v1/rows"])
def test_malformed_json_is_a_400_problem(client, path):
    res = client.post(path, content=b'{"id": "x", ', headers={"content-type": "application/json"})
    assert res.status_code == 400 and res.headers["content-type"] == "application/problem+json"
    assert res.json()["title"] == "Malformed JSON" and "detail" in res.json()


@pytest.mark.parametrize("path, ctype", [("/v1/code", "text/plain"), ("/v1/code", "application/x-www-form-urlencoded"),
                                         ("/v1/cases", "text/csv"), ("/v1/files/parse", "application/json")])
def test_a_body_in_the_wrong_media_type_is_a_415_problem(client, path, ctype):
    res = client.post(path, content=b"id=1", headers={"content-type": ctype})
    assert res.status_code == 415 and res.headers["content-type"] == "application/problem+json"
    assert res.json()["status"] == 415


# --- files read as the CLI reads them --------------------------------------------------------------------

def test_a_jsonl_file_with_a_broken_line_keeps_the_others_with_its_error(client):
    data = (ROOT / "examples/batch.jsonl").read_bytes()
    body = client.post("/v1/files/parse", files={"file": ("batch.jsonl", data, "application/x-ndjson")}).json()
    assert [e["id"] for e in body["encounters"]] == ["b1", "b2", "b5"]
    assert {(e.get("line"), e.get("encounter")) for e in body["errors"]} == {(3, None), (4, "b4")}


def test_a_mar_csv_upload_is_read_as_the_cli_reads_it(client):
    data = (ROOT / "examples/mar/ivig-mar.csv").read_bytes()
    body = client.post("/v1/files/parse", files={"file": ("ivig-mar.csv", data, "text/csv")}).json()
    assert [e["id"] for e in body["encounters"]] == ["ivig-mar-1"]


def test_a_saved_case_keeps_every_field_of_the_encounter(client):
    enc = json.loads((ROOT / "examples/ivig-office.json").read_text())
    enc["administrations"][0].update(site="L forearm", interruptions=[{"start": "10:00", "stop": "10:20"}])
    saved = client.post("/v1/cases", json={"encounter": enc, "author": "c"}).json()
    current = client.get(f"/v1/cases/{saved['id']}").json()["current"]
    assert current["encounter"] == enc
    assert ("J1569", 60, ["JZ"]) in [(x["code"], x["units"], x["modifiers"]) for x in current["result"]["lines"]]


# --- serve: URL, database, access log ----------------------------------------------------------------------

def test_serve_prints_the_url_and_the_database_it_created(tmp_path, monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from infucode.cli import app
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: calls.append(k))
    monkeypatch.setenv("INFUCODE_DATA_DIR", str(tmp_path / "data"))
    db = tmp_path / "cases.db"
    out = CliRunner().invoke(app, ["serve", "--port", "8123", "--db", f"sqlite:///{db}"])
    assert out.exit_code == 0, out.output
    assert "http://127.0.0.1:8123/" in out.output
    assert f"{db} (created now)" in out.output and calls
    again = CliRunner().invoke(app, ["serve", "--port", "8123", "--db", f"sqlite:///{db}"])
    assert str(db) in again.output and "created now" not in again.output


def test_access_log_one_line_per_request_without_values(client, caplog):
    with caplog.at_level(logging.INFO, logger="infucode.web.access"):
        client.get(f"/v1/codes/96366?date={PATIENT}")
        client.get(f"/v1/cases/{PATIENT}")
        client.post("/v1/code", json={"id": PATIENT, "setting": "office", "administrations": []})
        client.get("/static/app.js")
    lines = [r.getMessage() for r in caplog.records if r.name == "infucode.web.access"]
    assert len(lines) == 4
    assert lines[0].startswith("GET /v1/codes/{code}?date= 422 ")
    assert lines[1].startswith("GET /v1/cases/{case_id} 422 ")
    assert lines[2].startswith("POST /v1/code 200 ")
    assert lines[3].startswith("GET /static/{path} 200 ")
    assert not any("Patient" in line or "99887766" in line for line in lines)
