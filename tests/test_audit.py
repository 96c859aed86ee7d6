"""Claim audit: worked claims (tests/audit_cases/*.yaml, each naming its source), the readers, the
writers and the command line."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from infucode import load_ruleset
from infucode.adapters.encounter_io import EncounterYamlLoader
from infucode.audit import audit_claim, decode_claim
from infucode.audit.cli import audit_app
from infucode.audit.io import audit_stream, iter_claims, render
from infucode.audit.model import AuditError, AuditResult
from infucode.model import ErrorDetail, InputError

HERE = Path(__file__).resolve().parent
CASES_DIR = HERE / "audit_cases"
EXAMPLES = HERE.parent / "examples" / "claims"
SRC = HERE.parent / "src" / "infucode" / "audit"


def _load_cases() -> list[dict]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.load(path.read_text(encoding="utf-8"), Loader=EncounterYamlLoader):
            case["file"] = path.name
            cases.append(case)
    return cases


CASES = _load_cases()


@pytest.fixture(scope="module")
def rs():
    return load_ruleset()


def test_cases_name_their_sources():
    assert len(CASES) >= 20
    for case in CASES:
        assert case.get("source"), case["name"]


@pytest.mark.parametrize("case", CASES, ids=[c["claim"]["id"] for c in CASES])
def test_worked_claim(case, rs):
    result = audit_claim(case["claim"], rs)
    got = [(f.rule, f.severity) for f in result.findings]
    if case.get("clean"):
        assert result.findings == [], got
    if "supported" in case:
        assert [[l.code, l.units] for l in result.supported if l.kind == "administration"] == case["supported"]
    for want in case.get("expect", []):
        hits = [f for f in result.findings if f.rule == want["rule"] and f.severity == want["severity"]
                and ("lines" not in want or f.lines == want["lines"])]
        assert hits, f"{case['name']}: expected {want}, got {got}"
        if "wrvu_delta" in want:
            assert any(f.wrvu_delta == pytest.approx(want["wrvu_delta"]) for f in hits), [f.wrvu_delta for f in hits]
    for rule in case.get("absent", []):
        assert rule not in {f.rule for f in result.findings}, f"{case['name']}: {rule} fired: {got}"


def test_every_finding_cites_a_documented_rule(rs):
    emitted = set(re.findall(r'"(audit\.[a-z_]+)"', (SRC / "checks.py").read_text()))
    assert len(emitted) >= 14
    assert not sorted(r for r in emitted if r not in rs.rules)
    for case in CASES:
        for f in audit_claim(case["claim"], rs).findings:
            assert f.rule in rs.rules and f.source, f.rule


def test_institutional_claims_carry_no_wrvu(rs):
    for case in CASES:
        if case["claim"]["claim_type"] == "institutional":
            assert all(f.wrvu_delta == 0 for f in audit_claim(case["claim"], rs).findings)


def test_result_shape(rs):
    case = next(c for c in CASES if c["claim"]["id"] == "units-1")
    out = json.loads(render([audit_claim(case["claim"], rs)], "json"))
    assert list(out)[:5] == ["claim", "billed", "supported", "findings", "data_releases"]
    assert out["claim"] == "units-1"
    assert set(out["findings"][0]) >= {"rule", "severity", "message", "lines", "wrvu_delta"}
    assert out["data_releases"]["ncci_ptp"]
    no_doc = audit_claim({"id": "n", "claim_type": "professional", "date": "2024-07-01",
                          "lines": [{"code": "96365", "units": 1}]}, rs)
    assert no_doc.supported is None


def test_lines_outside_the_family_pass_through(rs):
    claim = {"id": "p", "claim_type": "professional", "date": "2024-07-01",
             "lines": [{"code": "J1569", "units": 40, "modifiers": ["JW"]}, {"code": "99214", "units": 1, "modifiers": ["25"]}]}
    result = audit_claim(claim, rs)
    assert result.findings == []
    assert [l.code for l in result.billed] == ["J1569", "99214"]


def test_payer_profile_decides_office_hydration(rs):
    claim = {"id": "h", "claim_type": "professional", "date": "2024-07-01", "payer": "commercial-example",
             "lines": [{"code": "96360", "units": 1}, {"code": "96367", "units": 1}]}
    result = audit_claim(claim, rs)
    assert result.profile == "commercial-example"
    assert [f.severity for f in result.findings if f.rule == "audit.hydration_as_initial"] == ["error"]
    with pytest.raises(InputError) as exc:
        audit_claim({**claim, "payer": "nobody"}, rs)
    assert exc.value.field == "payer" and exc.value.encounter == "h"


@pytest.mark.parametrize("claim, field", [
    ({"id": "b1", "claim_type": "professional", "date": "2024-07-01", "lines": [{"code": "96365", "units": "two"}]}, "lines[0].units"),
    ({"id": "b2", "claim_type": "hospital", "date": "2024-07-01", "lines": []}, "claim_type"),
    ({"id": "b3", "claim_type": "professional", "date": "07/01/2024", "lines": []}, "date"),
    ({"id": "b4", "claim_type": "professional", "date": "2024-07-01", "place_of_service": "1", "lines": []}, "place_of_service"),
    ({"id": "b5", "claim_type": "professional", "date": "2024-07-01", "lines": [{"code": "96365", "unit": 1}]}, "lines[0].unit"),
    ({"id": "b6", "claim_type": "professional", "date": "2024-07-01", "lines": [],
      "encounter": {"id": "e", "setting": "home", "administrations": []}}, "encounter.setting"),
])
def test_bad_claims_name_the_claim_and_field(claim, field):
    with pytest.raises(InputError) as exc:
        decode_claim(claim)
    assert exc.value.field == field and exc.value.encounter == claim["id"]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_malformed_claim_is_reported_and_the_next_is_audited(tmp_path, rs):
    path = _write(tmp_path, "claims.jsonl",
                  '{"id": "bad", "claim_type": "professional", "date": "2024-07-01", "lines": [{"code": "96365", "units": "one"}]}\n'
                  '{"id": "good", "claim_type": "professional", "date": "2024-07-01", "lines": [{"code": "96366", "units": 2}]}\n')
    out = list(audit_stream(iter_claims(path), rs))
    assert isinstance(out[0], AuditError)
    assert (out[0].claim, out[0].error.field, out[0].error.line) == ("bad", "lines[0].units", 1)
    assert isinstance(out[1], AuditResult) and out[1].claim == "good"
    assert "audit.add_on_without_primary" in {f.rule for f in out[1].findings}


def test_yaml_claims_keep_times_and_report_lines(tmp_path, rs):
    path = _write(tmp_path, "claims.yaml", """
- id: y1
  claim_type: professional
  date: 2024-07-01
  lines: [{code: "96365", units: 1}, {code: "96366", units: 2}]
  encounter: {id: e, setting: office, administrations: [{id: a1, drug: Gammagard, route: iv_infusion, start: 8:30, stop: 11:45}]}
- id: y2
  claim_type: professional
  date: 2024-07-01
  lines: [{code: "96365", units: true}]
""")
    out = list(audit_stream(iter_claims(path), rs))
    assert isinstance(out[0], AuditResult) and out[0].findings == []
    assert isinstance(out[1], AuditError) and out[1].error.field == "lines[0].units" and out[1].error.line == 7


def test_csv_claims(tmp_path, rs):
    path = _write(tmp_path, "claims.csv",
                  "claim_id,claim_type,place_of_service,date,code,units,modifiers\n"
                  "c1,professional,11,2024-07-01,96365,1,\n"
                  "c1,professional,11,2024-07-01,96360,1,XU;\n"
                  "c2,professional,11,2024-07-01,96366,x,\n"
                  "c3,institutional,22,2024-07-01,96366,9,\n")
    out = list(audit_stream(iter_claims(path), rs))
    assert [o.claim for o in out] == ["c1", "c2", "c3"]
    assert out[0].billed[1].modifiers == ["XU"]
    assert [f.severity for f in out[0].findings if f.rule == "audit.ptp"] == ["info"]
    assert (out[1].error.field, out[1].error.line) == ("lines[0].units", 4)
    assert "audit.add_on_without_primary" in {f.rule for f in out[2].findings}


def test_csv_missing_column(tmp_path, rs):
    path = _write(tmp_path, "claims.csv", "claim_id,claim_type,date,code\nc1,professional,2024-07-01,96365\n")
    out = list(audit_stream(iter_claims(path), rs))
    assert len(out) == 1 and isinstance(out[0], AuditError) and out[0].error.field == "units"


def test_writers(rs):
    items = [audit_claim(c["claim"], rs) for c in CASES if c["claim"]["id"] in ("clean-1", "aoc-1", "mue-prof")]
    items.append(AuditError(claim="x<script>", error=ErrorDetail(field="lines[0].units", message="expected <b>an integer</b>")))
    csv_text = render(items, "csv")
    assert csv_text.splitlines()[0].startswith("claim,claim_type,rule,severity")
    assert "audit.add_on_without_primary" in csv_text
    assert len(render(items, "jsonl").splitlines()) == 4
    page = render(items, "html")
    assert page.startswith("<!DOCTYPE html>") and "x&lt;script&gt;" in page and "<script>" not in page and "<b>" not in page
    assert "audit.mue" in render(items, "table")


runner = CliRunner()


def test_cli_exit_codes(tmp_path):
    clean = next(c for c in CASES if c["claim"]["id"] == "clean-1")["claim"]
    good = _write(tmp_path, "clean.json", json.dumps(clean))
    result = runner.invoke(audit_app, [str(good), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["findings"] == []

    bad = _write(tmp_path, "bad.json", json.dumps({**clean, "lines": [{"code": "96366", "units": 9}]}))
    assert runner.invoke(audit_app, [str(bad)]).exit_code == 1
    assert runner.invoke(audit_app, [str(good), "--format", "pdf"]).exit_code == 2
    assert runner.invoke(audit_app, [str(good), "--profile", "nobody"]).exit_code == 2
    assert runner.invoke(audit_app, [str(tmp_path / "missing.json")]).exit_code == 1


def test_cli_bundled_examples(tmp_path):
    files = sorted(EXAMPLES.glob("*"))
    assert {p.suffix for p in files} >= {".csv", ".yaml"}
    out = tmp_path / "report.html"
    result = runner.invoke(audit_app, [*map(str, files), "--format", "html", "--output", str(out)])
    assert result.exit_code == 1, result.output   # the examples show findings and one unreadable claim
    assert "Findings by rule" in out.read_text(encoding="utf-8")
    result = runner.invoke(audit_app, [*map(str, files), "--format", "csv"])
    assert "audit.units_unsupported" in result.stdout
