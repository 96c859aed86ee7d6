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
from infucode.adapters.yaml_documents import EncounterYamlLoader
from infucode.audit import audit_claim, decode_claim
from infucode.cli import app
from infucode.audit.cli import audit_app
from infucode.audit.engine import audit_stream
from infucode.audit.readers import iter_claims
from infucode.audit.writers import render
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
    emitted = {rule for path in SRC.glob("*.py") for rule in re.findall(r'"(audit\.[a-z_]+)"', path.read_text())}
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


@pytest.mark.parametrize("claim, field", [
    ({"id": "p1", "claim_type": "professional", "date": "2024-07-01", "lines": [],
      "John Q Patient MRN-99887766": 1}, None),
    ({"id": "p2", "claim_type": "professional", "date": "2024-07-01",
      "lines": [{"code": "96365", "units": 1, "John Q Patient MRN-99887766": 1}]}, "lines[0]"),
])
def test_unknown_key_that_is_not_a_field_name_is_not_repeated(claim, field):
    # issue 12: error messages never echo free text; a key like this one may be patient data
    with pytest.raises(InputError) as exc:
        decode_claim(claim)
    assert exc.value.field == field and exc.value.encounter == claim["id"]
    assert "MRN" not in str(exc.value) and "Patient" not in str(exc.value)
    assert "unknown field" in str(exc.value)


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
    # the new checks show in the bundled batch (CSV without documentation) and the documented claims
    for rule in ("audit.second_initial", "audit.jw_jz_both", "audit.unknown_code", "audit.hydration_kvo",
                 "audit.hydration_necessity", "audit.drug_units", "audit.jz_with_waste", "audit.jw_jz_multi_dose"):
        assert rule in result.stdout, rule
    clean = [line for line in result.stdout.splitlines() if line.startswith("DOC-2001,")]
    assert clean == ["DOC-2001,professional,,,,,,,,,,"]


# --------------------------------------------------------------------------------------------
# Bad input: a clear error naming the claim and the line; every other claim still audited
# --------------------------------------------------------------------------------------------


def test_csv_missing_column_names_the_column_and_the_file(tmp_path, rs):
    path = _write(tmp_path, "billing-export.csv", "claim_id,claim_type,date,code,unit\nc1,professional,2024-07-01,96365,1\n")
    [err] = list(audit_stream(iter_claims(path), rs))
    assert isinstance(err, AuditError) and err.error.field == "units" and err.error.line == 1
    assert "billing-export.csv" in err.error.message and "missing column(s) units" in err.error.message
    assert "unknown column(s): unit" in err.error.message


def test_csv_bad_rows_are_reported_and_the_other_claims_audited(tmp_path, rs):
    path = _write(tmp_path, "claims.csv",
                  "claim_id,claim_type,date,code,units,modifiers\n"
                  "c1,professional,2024-07-01,96365,1,\n"
                  "c2,professional,2024-07-01,9636,1,\n"            # not a 5-character code
                  "c3,professional,2024-07-01,96365,1,XU,extra\n"   # one field too many
                  "c4,professional,2024-07-01,96366,2,\n")
    out = {o.claim: o for o in audit_stream(iter_claims(path), rs)}
    assert isinstance(out["c1"], AuditResult) and isinstance(out["c4"], AuditResult)
    assert (out["c2"].error.field, out["c2"].error.line) == ("lines[0].code", 3)
    assert "5-character CPT or HCPCS code" in out["c2"].error.message
    assert out["c3"].error.line == 4 and "more fields than the header" in out["c3"].error.message


def test_csv_units_written_as_decimals_read_as_the_x12_reader_reads_them(tmp_path, rs):
    """A spreadsheet export writes 2 as "2.0", as X12 writes "2.000": both are 2; a fraction or a word is an
    error naming lines[i].units (one parser, audit.model.units_from_text, for both readers)."""
    from infucode.audit.model import units_from_text

    path = _write(tmp_path, "claims.csv",
                  "claim_id,claim_type,date,code,units,modifiers\n"
                  "d1,professional,2024-07-01,96365, 1.0 ,\n"
                  "d1,professional,2024-07-01,96366,2.0,\n"
                  "d2,professional,2024-07-01,96365,1.5,\n"
                  "d3,professional,2024-07-01,96365,two,\n"
                  "d4,professional,2024-07-01,96365,\u00b2,\n")
    out = {o.claim: o for o in audit_stream(iter_claims(path), rs)}
    assert [line.units for line in out["d1"].billed] == [1, 2]
    for claim, line in (("d2", 4), ("d3", 5), ("d4", 6)):
        assert (out[claim].error.field, out[claim].error.line) == ("lines[0].units", line)
    assert [units_from_text(t) for t in ("3", "3.000", " 3 ", "1.5", "x", None)] == [3, 3, 3, 1.5, "x", None]


def test_unknown_code_is_a_finding_and_the_next_claim_is_audited(tmp_path, rs):
    path = _write(tmp_path, "claims.jsonl",
                  '{"id": "u1", "claim_type": "institutional", "date": "2024-07-01", "lines": [{"code": "96365", "units": 1}, {"code": "96378", "units": 1}]}\n'
                  '{"id": "u2", "claim_type": "professional", "date": "2024-07-01", "lines": [{"code": "96366", "units": 2}]}\n')
    one, two = audit_stream(iter_claims(path), rs)
    [unknown] = [f for f in one.findings if f.rule == "audit.unknown_code"]
    assert unknown.severity == "warning" and unknown.lines == [2] and "96378" in unknown.message
    assert "audit.add_on_without_primary" in {f.rule for f in two.findings}


# --------------------------------------------------------------------------------------------
# The new checks: every rule has a worked claim; no double counting
# --------------------------------------------------------------------------------------------

NEW_RULES = ("audit.hydration_kvo", "audit.hydration_necessity", "audit.second_initial", "audit.drug_units",
             "audit.jw_jz_both", "audit.jw_missing", "audit.jz_with_waste", "audit.jw_without_waste", "audit.jz_missing",
             "audit.jw_jz_multi_dose")


def test_every_new_rule_has_a_worked_claim(rs):
    expected = {want["rule"] for case in CASES for want in case.get("expect", [])}
    assert not [r for r in NEW_RULES if r not in expected]
    for rule in NEW_RULES:
        assert rs.rules[rule].sources and rs.rules[rule].citation


def test_clean_claims_cover_the_new_checks(rs):
    clean = [c["claim"] for c in CASES if c.get("clean")]
    assert len(clean) >= 5
    lines = [l for c in clean for l in c["lines"]]
    assert any("JW" in l.get("modifiers", []) for l in lines) and any("JZ" in l.get("modifiers", []) for l in lines)
    assert any("XU" in l.get("modifiers", []) for l in lines)
    assert any(l["code"] in ("96360", "96361") for l in lines)


def test_second_initial_without_documentation_counts_wrvu_once(rs):
    # three initial services, no modifier and no documentation: 96413 ranks first, 96365 and 96374 are the extra
    # initials; each is in an NCCI PTP pair with another initial, so audit.ptp counts their wRVU, not this check.
    claim = {"id": "w", "claim_type": "professional", "date": "2024-07-01",
             "lines": [{"code": "96365", "units": 1}, {"code": "96374", "units": 1}, {"code": "96413", "units": 1}]}
    result = audit_claim(claim, rs)
    [second] = [f for f in result.findings if f.rule == "audit.second_initial"]
    assert second.severity == "error" and second.lines == [1, 2]   # 96413 ranks first; 96365 and 96374 are extra
    assert second.wrvu_delta == 0   # both are in an NCCI PTP pair with another initial: audit.ptp counts them


def test_kvo_counted_once_when_the_engine_does_not_support_the_hydration(rs):
    # 20 minutes of KVO saline: the engine supports no hydration (30 minutes or less), units_unsupported counts the
    # wRVU, the KVO finding explains why without counting it again.
    claim = {"id": "k", "claim_type": "professional", "date": "2024-07-01", "lines": [{"code": "96360", "units": 1}],
             "encounter": {"id": "e", "setting": "office", "administrations": [
                 {"id": "a1", "drug": "normal saline", "route": "iv_infusion", "start": "8:00", "stop": "8:20", "indication": "TKO"}]}}
    result = audit_claim(claim, rs)
    by_rule = {f.rule: f for f in result.findings}
    assert by_rule["audit.units_unsupported"].wrvu_delta == pytest.approx(-0.17)
    assert by_rule["audit.hydration_kvo"].severity == "error" and by_rule["audit.hydration_kvo"].wrvu_delta == 0


# --------------------------------------------------------------------------------------------
# Batch report: summary, summary CSV, HTML chart
# --------------------------------------------------------------------------------------------


def _batch(rs) -> list:
    items = [audit_claim(c["claim"], rs) for c in CASES]
    items.append(AuditError(claim="broken-1", error=ErrorDetail(field="lines[0].units", message="expected an integer", line=7)))
    return items


def test_summary_counts_rules_wrvu_and_worst_claims(rs):
    from infucode.audit.summary import summary

    items = _batch(rs)
    s = summary(items)
    results = [i for i in items if isinstance(i, AuditResult)]
    assert (s["claims"], s["audited"], s["unreadable"]) == (len(items), len(results), 1)
    assert s["with_errors"] == sum(1 for r in results if r.has_errors)
    assert s["clean"] == sum(1 for r in results if not any(f.severity != "info" for f in r.findings))
    assert s["clean"] >= sum(1 for c in CASES if c.get("clean"))
    assert s["unreadable_claims"] == [{"claim": "broken-1", "field": "lines[0].units", "line": 7, "message": "expected an integer"}]
    mue = s["findings_by_rule"]["audit.mue"]
    assert mue["error"] >= 2 and mue["claims"] >= 2 and mue["wrvu_overcoded"] < 0
    # rules with the most errors first
    errors = [row["error"] for row in s["findings_by_rule"].values()]
    assert errors == sorted(errors, reverse=True)
    assert s["wrvu_at_risk"]["overcoded"] < 0 < s["wrvu_at_risk"]["undercoded"]
    assert s["institutional"]["units_overbilled"] > 0 and s["institutional"]["lines_with_errors"] > 0
    worst = s["worst_claims"]
    assert len(worst) == 10 and all(w["error"] for w in worst)
    assert worst[0]["wrvu_overcoded"] == min(w["wrvu_overcoded"] for w in worst)


def test_summary_counts_a_code_once_per_claim(rs):
    from infucode.audit.summary import summary

    # 96366 x9 above the clock and above the MUE: audit.mue and audit.units_unsupported both report the same units
    claim = {"id": "dup", "claim_type": "professional", "date": "2024-07-01",
             "lines": [{"code": "96365", "units": 1}, {"code": "96366", "units": 9}],
             "encounter": {"id": "e", "setting": "office", "administrations": [
                 {"id": "a1", "drug": "Gammagard", "route": "iv_infusion", "start": "8:30", "stop": "11:45"}]}}
    result = audit_claim(claim, rs)
    deltas = {f.rule: f.wrvu_delta for f in result.findings if f.wrvu_delta < 0}
    assert deltas == {"audit.mue": pytest.approx(-1.62), "audit.units_unsupported": pytest.approx(-1.26)}
    s = summary([result])
    assert s["wrvu_at_risk"]["overcoded"] == pytest.approx(-1.62)
    assert s["worst_claims"][0]["units_overbilled"] == 9


def test_summary_csv(rs):
    import csv as csv_module
    import io

    rows = list(csv_module.DictReader(io.StringIO(render(_batch(rs), "summary-csv"))))
    sections = [r["section"] for r in rows]
    assert sections[:7] == ["total"] * 7 and {"rule", "claim", "unreadable"} <= set(sections)
    total = {r["key"]: r for r in rows if r["section"] == "total"}
    assert int(total["claims"]["claims"]) == len(CASES) + 1 and int(total["unreadable"]["claims"]) == 1
    assert float(total["professional"]["wrvu_overcoded"]) < 0
    assert int(total["institutional"]["units_overbilled"]) > 0
    rules = [r["key"] for r in rows if r["section"] == "rule"]
    assert "audit.second_initial" in rules and "audit.jz_missing" in rules
    claims = [r for r in rows if r["section"] == "claim"]
    assert int(claims[0]["errors"]) > 0 and claims[-1]["errors"] <= claims[0]["errors"]
    [bad] = [r for r in rows if r["section"] == "unreadable"]
    assert bad["key"] == "broken-1" and "lines[0].units" in bad["detail"] and "line 7" in bad["detail"]


def test_html_report_is_self_contained_with_a_chart(rs):
    page = render(_batch(rs), "html")
    assert page.count("<svg") == 1 and "Findings by rule" in page and "Worst claims" in page
    assert "<script" not in page and "src=" not in page and "<link" not in page and "@import" not in page
    assert "audit.second_initial" in page[page.index("<svg"):page.index("</svg>")]
    assert "wRVU at risk" in page and "administration units" in page
    # claims are listed worst first: the first claim section has error findings
    first = page.index("<h2>Claims</h2>")
    assert "could not be read" in page[first:first + 400]   # unreadable claims come first


def test_table_summary(rs):
    text = render(_batch(rs), "table")
    tail = text[text.index("Summary"):]
    assert "wRVU at risk" in tail and "findings by rule" in tail and "worst claims" in tail
    assert "institutional claim(s)" in tail


def test_cli_summary_csv(tmp_path):
    result = runner.invoke(audit_app, [str(EXAMPLES / "batch.csv"), "--format", "summary-csv"])
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[0].startswith("section,key,claim_type,claims")
    assert "rule,audit.second_initial" in result.stdout and "unreadable,CLM-1008" in result.stdout


def test_cli_summary_file_beside_the_per_claim_output(tmp_path):
    lines, report, table = tmp_path / "findings.csv", tmp_path / "summary.html", tmp_path / "summary.csv"
    result = runner.invoke(audit_app, [str(EXAMPLES / "batch.csv"), "--format", "csv", "-o", str(lines),
                                       "--summary", str(report)])
    assert result.exit_code == 1, result.output
    assert lines.read_text().startswith("claim,claim_type,rule")
    html = report.read_text()
    assert html.count("<svg") == 1 and "<script" not in html and "audit.second_initial" in html
    result = runner.invoke(audit_app, [str(EXAMPLES / "batch.csv"), "-o", str(tmp_path / "t.txt"), "--summary", str(table)])
    assert "rule,audit.second_initial" in table.read_text()
    bad = runner.invoke(audit_app, [str(EXAMPLES / "batch.csv"), "--summary", str(tmp_path / "s.txt")])
    assert bad.exit_code == 2 and "--summary" in bad.output


def test_over_coding_is_printed_as_a_positive_number_with_a_word(tmp_path):
    """96366 x9 against an MUE of 8: the table says 'over-coded by 9 units', never a bare '-9' or '-1.62'."""
    path = _write(tmp_path, "over.json", json.dumps({"id": "o1", "claim_type": "professional", "date": "2024-07-01",
                                                      "lines": [{"code": "96365", "units": 1}, {"code": "96366", "units": 9}]}))
    out = CliRunner().invoke(app, ["audit", str(path)]).output
    assert "over-coded by 9 units" in out
    assert "1.62 over-coded" in out
    assert "-1.62" not in out and "-9" not in out
    page = CliRunner().invoke(app, ["audit", str(path), "--format", "html"]).output
    assert "over-coded by 9 units" in page and "-1.62" not in page


def test_a_missing_claim_file_is_an_error_not_a_claim(tmp_path):
    """A file that is not there: exit 1, one error line naming it, and the summary counts only the claims read."""
    good = _write(tmp_path, "good.json", json.dumps({"id": "g1", "claim_type": "professional", "date": "2024-07-01",
                                                      "lines": [{"code": "96365", "units": 1}]}))
    result = CliRunner().invoke(app, ["audit", str(good), str(tmp_path / "missing.json")])
    assert result.exit_code == 1
    assert "missing.json: no such file" in result.stderr
    assert "1 claim(s): 1 audited, 0 unreadable" in result.stdout
