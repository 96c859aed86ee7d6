"""REST API: every endpoint, problem details naming the field, auth, size limits, saved cases."""
import json

import pytest
from fastapi.testclient import TestClient

from infucode.web.app import MAX_BODY_BYTES, create_app, is_loopback

IVIG = {"id": "s2", "setting": "office", "date": "2024-07-01",
        "administrations": [{"id": "a1", "drug": "Gammagard", "route": "iv_infusion", "start": "08:30", "stop": "12:45"}]}


@pytest.fixture()
def client(tmp_path):
    return TestClient(create_app(db_url=f"sqlite:///{tmp_path}/cases.db"))


def codes(body):
    return [(l["code"], l["units"]) for l in body["lines"] if l["kind"] == "administration"]


def test_healthz_schema_openapi_and_page(client):
    assert client.get("/healthz").json()["status"] == "ok"
    assert "administrations" in client.get("/v1/schema").text
    assert "/v1/code" in client.get("/openapi.json").json()["paths"]
    page = client.get("/")
    assert page.status_code == 200 and "infucode" in page.text
    assert client.get("/static/app.js").status_code == 200


def test_code_one_encounter_seed_scenario_2(client):
    res = client.post("/v1/code", json=IVIG)
    assert res.status_code == 200
    assert codes(res.json()) == [("96365", 1), ("96366", 3)]


def test_profile_query_changes_the_reading(client):
    enc = json.loads(json.dumps(IVIG))
    enc["administrations"][0]["stop"] = "10:00"   # 1:30
    assert codes(client.post("/v1/code", json=enc).json()) == [("96365", 1)]
    assert codes(client.post("/v1/code?profile=seed-page", json=enc).json()) == [("96365", 1), ("96366", 1)]
    assert client.post("/v1/code?profile=nope", json=enc).status_code == 400


def test_bad_time_is_a_problem_naming_the_field(client):
    enc = json.loads(json.dumps(IVIG))
    enc["administrations"][0]["start"] = "25:99"
    res = client.post("/v1/code", json=enc)
    assert res.status_code == 422
    assert res.headers["content-type"].startswith("application/problem+json")
    body = res.json()
    assert body["field"] == "administrations[0].start" and body["encounter"] == "s2"
    assert "Gammagard" not in res.text


def test_bad_enum_is_a_problem_naming_the_field(client):
    enc = json.loads(json.dumps(IVIG))
    enc["administrations"][0]["route"] = "iv_drip"
    body = client.post("/v1/code", json=enc).json()
    assert body["field"] == "administrations[0].route" and "iv_push" in body["detail"]


def test_batch_codes_the_good_and_reports_the_bad(client):
    bad = dict(IVIG, id="bad", setting="home")
    body = client.post("/v1/code/batch", json=[IVIG, bad, dict(IVIG, id="s3")]).json()
    assert codes(body[0]) == [("96365", 1), ("96366", 3)]
    assert body[1]["error"]["field"] == "setting" and body[1]["encounter"] == "bad"
    assert body[2]["encounter"] == "s3"


def test_code_reference(client):
    body = client.get("/v1/codes/96366").json()
    assert body["wrvu"] == 0.18 and body["mue"]["practitioner"]["value"] == 8 and body["mue"]["hospital"]["value"] == 24
    assert set(body["primaries"]) == {"96360", "96365", "96367", "96413"}
    assert body["scenarios"], "worked scenarios are coded live"
    assert client.get("/v1/codes/99213").status_code == 404


def test_request_size_limit(client):
    res = client.post("/v1/code", content=b"{" + b" " * (MAX_BODY_BYTES + 10) + b"}",
                      headers={"content-type": "application/json"})
    assert res.status_code == 413


def test_file_upload_parses_yaml_with_unquoted_times(client):
    text = "id: up1\nsetting: office\ndate: 2024-07-01\nadministrations:\n  - {id: a1, drug: IVIG, route: iv_infusion, start: 8:30, stop: 12:45}\n"
    body = client.post("/v1/files/parse", files={"file": ("case.yaml", text, "application/yaml")}).json()
    assert body["encounters"][0]["administrations"][0]["start"] == "8:30"
    empty = client.post("/v1/files/parse", files={"file": ("empty.json", b"", "application/json")})
    assert empty.status_code == 422 and empty.json()["field"] == "file"


def test_a_yaml_upload_over_the_yaml_limit_is_refused_before_it_is_parsed(client):
    """input_limits.MAX_YAML_BYTES (YAML is for hand-written files) holds for the page as for the CLI: at the limit
    the file is read, one byte over it is a 422 naming the limit and JSON Lines."""
    from infucode.adapters.input_limits import MAX_YAML_BYTES

    head = "id: big1\nsetting: office\ndate: 2024-07-01\nadministrations:\n  - {id: a1, drug: IVIG, route: iv_infusion, start: '08:30', stop: '12:45'}\n"
    at = head + "#" * (MAX_YAML_BYTES - len(head) - 1) + "\n"
    assert len(at) == MAX_YAML_BYTES
    ok = client.post("/v1/files/parse", files={"file": ("big.yaml", at, "application/yaml")})
    assert ok.status_code == 200 and ok.json()["encounters"][0]["id"] == "big1"
    over = client.post("/v1/files/parse", files={"file": ("big.yaml", at + "#", "application/yaml")})
    assert over.status_code == 422 and over.json()["field"] == "file"
    assert f"{MAX_YAML_BYTES:,} bytes" in over.json()["detail"] and ".jsonl" in over.json()["detail"]


def test_saved_cases_keep_every_revision(client):
    saved = client.post("/v1/cases", json={"encounter": IVIG, "author": "coder-7"})
    assert saved.status_code == 201
    case = saved.json()
    assert case["current"]["number"] == 1
    override = {"accepted": [0], "overrides": [{"code": "96366", "units": 2}]}
    assert client.post(f"/v1/cases/{case['id']}/revisions",
                       json={"encounter": IVIG, "author": "coder-7", "decision": override}).status_code == 422  # no reason
    rev = client.post(f"/v1/cases/{case['id']}/revisions",
                      json={"encounter": IVIG, "author": "auditor-2", "decision": override, "reason": "payer caps at 2"})
    assert rev.status_code == 201
    history = client.get(f"/v1/cases/{case['id']}").json()["history"]
    assert [h["number"] for h in history] == [1, 2]
    assert history[0]["decision"]["overrides"] == []        # the first decision is untouched
    assert history[1]["reason"] == "payer caps at 2"
    assert client.get("/v1/cases").json()[0]["revisions"] == 2
    export = client.get(f"/v1/cases/{case['id']}/export")
    assert "attachment" in export.headers["content-disposition"]
    assert client.get("/v1/cases/999").status_code == 404
    assert client.post("/v1/cases", json={"encounter": IVIG}).json()["field"] == "author"


def test_bearer_token(tmp_path):
    client = TestClient(create_app(db_url=f"sqlite:///{tmp_path}/c.db", token="s3cret"))
    assert client.post("/v1/code", json=IVIG).status_code == 401
    assert client.post("/v1/code", json=IVIG, headers={"authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_server_refuses_public_address_without_token(monkeypatch):
    from typer.testing import CliRunner

    from infucode.cli import app
    monkeypatch.delenv("INFUCODE_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert is_loopback("127.0.0.1") and not is_loopback("0.0.0.0")


def test_file_upload_csv_rows_grouped_by_encounter(client):
    text = ("encounter_id,setting,date,administration_id,drug,route,start,stop\n"
            "c1,office,2024-07-01,a1,Gammagard,iv_infusion,08:30,12:45\n"
            "c2,facility,2024-07-01,a1,ondansetron,iv_push,09:00,\n")
    body = client.post("/v1/files/parse", files={"file": ("mar.csv", text, "text/csv")}).json()
    assert [e["id"] for e in body["encounters"]] == ["c1", "c2"]
    assert codes(client.post("/v1/code", json=body["encounters"][0]).json()) == [("96365", 1), ("96366", 3)]
    # no encounter column and no action column: read as administration rows, as `infucode code` reads it,
    # which names the column it misses
    bad = client.post("/v1/files/parse", files={"file": ("bad.csv", "drug,route\nx,iv_push\n", "text/csv")})
    assert bad.status_code == 422 and "needs an encounter_id column" in bad.json()["detail"]


def test_audit_endpoint_flags_an_add_on_without_primary(client):
    claim = {"id": "c1", "claim_type": "professional", "place_of_service": "11", "date": "2024-07-01",
             "lines": [{"code": "96366", "units": 2}]}
    body = client.post("/v1/audit", json=claim).json()
    assert body["claim"] == "c1"
    assert any(f["rule"] == "audit.add_on_without_primary" and f["severity"] == "error" for f in body["findings"])


def test_audit_endpoint_uses_the_imported_cms_data_by_date_of_service(tmp_path):
    from pathlib import Path

    from infucode.reference.releases import ReleaseStore
    mue_q3 = Path(__file__).resolve().parent / "fixtures/cms/MCR_MUE_PractitionerServices_Eff_07-01-2024.csv"
    with ReleaseStore(tmp_path / "data", create=True) as store:
        store.import_file(mue_q3)                       # 96366 practitioner MUE 4 in 2024Q3 (altered fixture)
        client = TestClient(create_app(db_url=f"sqlite:///{tmp_path}/c.db", releases=store))
        claim = {"id": "c1", "claim_type": "professional", "place_of_service": "11", "date": "2024-08-15",
                 "lines": [{"code": "96365", "units": 1}, {"code": "96366", "units": 5}]}
        body = client.post("/v1/audit", json=claim).json()
        assert mue_q3.name in body["data_releases"]["mue_practitioner"]
        assert any(f["rule"] == "audit.mue" and "MUE of 4" in f["message"] for f in body["findings"])
        claim["date"] = "2023-02-01"                       # before the release: bundled 8, no finding
        body = client.post("/v1/audit", json=claim).json()
        assert body["data_releases"]["mue_practitioner"].startswith("bundled")
        assert not any(f["rule"] == "audit.mue" for f in body["findings"])


def test_file_upload_fhir_bundle(client):
    from pathlib import Path
    data = (Path(__file__).resolve().parents[1] / "examples/fhir/chemo-day-bundle.json").read_bytes()
    body = client.post("/v1/files/parse", files={"file": ("bundle.json", data, "application/fhir+json")}).json()
    assert len(body["encounters"]) == 1
    coded = client.post("/v1/code?profile=medicare", json=body["encounters"][0]).json()
    assert ("96413", 1) in codes(coded)


def test_search_and_ask(client):
    hits = client.get("/v1/search", params={"q": "sequntial push"}).json()
    assert any(h["id"] == "96375" for h in hits[:3])
    answer = client.post("/v1/ask", json={"question": "how many units of 96366 for 2 hours 15 minutes?"}).json()
    assert "96366" in answer["text"] and answer["rule_ids"] and not answer["refused"]
    refused = client.post("/v1/ask", json={"question": "what E/M level should I bill?"}).json()
    assert refused["refused"]
    assert client.post("/v1/ask", json={}).json()["field"] == "question"


def test_profiles_endpoint(client):
    rows = client.get("/v1/profiles").json()
    threshold = next(r for r in rows if r["name"] == "added_hour_threshold")
    assert threshold["default"] == "more_than_30" and threshold["by_profile"]["seed-page"] == "at_least_30"
