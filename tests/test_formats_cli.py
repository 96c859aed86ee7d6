"""`infucode code` detects FHIR bundles and MAR/administration CSVs and codes them like our own format."""
import json
from pathlib import Path

from typer.testing import CliRunner

from infucode.cli import app

ROOT = Path(__file__).resolve().parents[1]


def _codes(output: str) -> dict:
    out = {}
    for line in output.splitlines():
        d = json.loads(line)
        out[d["encounter"]] = [(x["code"], x["units"]) for x in d.get("lines", []) if x["kind"] == "administration"]
    return out


def test_fhir_bundle_codes_like_its_equivalent():
    runner = CliRunner()
    fhir = runner.invoke(app, ["code", str(ROOT / "examples/fhir/chemo-day-bundle.json"), "--format", "jsonl"])
    ours = runner.invoke(app, ["code", str(ROOT / "examples/fhir/chemo-day-equivalent.yaml"), "--format", "jsonl"])
    assert fhir.exit_code == 0 and ours.exit_code == 0
    assert list(_codes(fhir.stdout).values()) == list(_codes(ours.stdout).values())


def test_mar_csv_codes_like_its_equivalent():
    runner = CliRunner()
    mar = runner.invoke(app, ["code", str(ROOT / "examples/mar/ivig-mar.csv"), "--format", "jsonl"])
    ours = runner.invoke(app, ["code", str(ROOT / "examples/mar/ivig-equivalent.yaml"), "--format", "jsonl"])
    assert mar.exit_code == 0
    assert list(_codes(mar.stdout).values()) == list(_codes(ours.stdout).values()) == [[("96365", 1), ("96366", 3)]]


def test_administration_rows_csv(tmp_path):
    f = tmp_path / "rows.csv"
    f.write_text("encounter_id,setting,date,administration_id,drug,route,start,stop\n"
                 "c1,office,2024-07-01,a1,Gammagard,iv_infusion,08:30,12:45\n"
                 "c2,office,2024-07-01,a1,ondansetron,iv_drip,09:00,\n")
    result = CliRunner().invoke(app, ["code", str(f), "--format", "jsonl"])
    assert result.exit_code == 1                       # c2 is bad, c1 still coded
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    assert [(x["code"], x["units"]) for x in lines[0]["lines"]] == [("96365", 1), ("96366", 3)]
    assert lines[1]["encounter"] == "c2" and lines[1]["error"]["field"] == "administrations[0].route"


def test_audit_command_is_registered():
    result = CliRunner().invoke(app, ["audit", str(ROOT / "examples/claims/documented.yaml"), "--format", "json"])
    assert result.exit_code in (0, 1)
    assert json.loads(result.stdout)[0]["claim"]


def test_knowledge_commands_are_registered():
    runner = CliRunner()
    look = runner.invoke(app, ["lookup", "96366"])
    assert look.exit_code == 0 and "0.18" in look.stdout and "24" in look.stdout
    ask = runner.invoke(app, ["ask", "how many units of 96366 for 2 hours 15 minutes?"])
    assert ask.exit_code == 0 and "96366" in ask.stdout
    case = runner.invoke(app, ["case", str(ROOT / "examples/cases/seed-scenario-2.txt")])
    assert case.exit_code == 0 and "96366" in case.stdout
    assert runner.invoke(app, ["search", "sequntial push"]).exit_code == 0


def test_fhir_output_validates(tmp_path):
    from fhir.resources.R4B.bundle import Bundle

    result = CliRunner().invoke(app, ["code", str(ROOT / "examples/ivig-office.json"), "--format", "fhir"])
    assert result.exit_code == 0
    bundle = json.loads(result.stdout)
    Bundle.model_validate(bundle)
    codes = [e["resource"]["code"]["coding"][0]["code"] for e in bundle["entry"] if e["resource"]["resourceType"] == "ChargeItem"]
    assert codes == ["96365", "96366", "J1569"]


def test_batch_command_is_registered_with_both_engines():
    result = CliRunner().invoke(app, ["batch", "--help"])
    assert result.exit_code == 0 and "--engine" in result.stdout and "--workers" in result.stdout
