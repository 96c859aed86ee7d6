"""X12 837P and 837I claims are read with pyx12 into the audit's claim format and audited."""
import json
from pathlib import Path

from typer.testing import CliRunner

from infucode import load_ruleset
from infucode.audit import audit_claim
from infucode.audit.io import iter_claims
from infucode.audit.x12 import claims_from_837, read_837
from infucode.cli import app
from infucode.model import InputError

ROOT = Path(__file__).resolve().parents[1]


def test_837p_professional_claim_lines():
    [(claim, _)] = list(read_837(ROOT / "examples/claims/ivig-837p.x12"))
    assert claim.id == "CLAIM1" and claim.claim_type == "professional" and claim.place_of_service == "11"
    assert [(l.code, l.units, l.modifiers) for l in claim.lines] == [("96365", 1, []), ("96366", 3, []), ("J1569", 60, ["JZ"])]
    assert claim.date == "2024-07-01"


def test_837i_institutional_claim_lines_with_revenue_codes():
    [(claim, _)] = list(read_837(ROOT / "examples/claims/chemo-837i.x12"))
    assert claim.claim_type == "institutional"
    assert [(l.code, l.units, l.revenue_code) for l in claim.lines] == [("96413", 1, "0335"), ("96415", 2, "0335"), ("96365", 1, "0260")]


def test_837i_audit_flags_a_second_initial_without_modifier():
    [(claim, _)] = list(iter_claims(ROOT / "examples/claims/chemo-837i.x12"))
    result = audit_claim(claim, load_ruleset())
    assert any(f.rule == "audit.ptp" for f in result.findings)   # 96413 / 96365 NCCI pair, no modifier


def test_not_x12_and_broken_files_are_reported_not_raised():
    [(err, _)] = list(claims_from_837("hello"))
    assert isinstance(err, InputError) and "ISA" in err.message
    items = list(claims_from_837("ISA*00*garbage~"))
    assert items and all(isinstance(i, InputError) for i, _ in items)


def test_cli_audits_x12():
    result = CliRunner().invoke(app, ["audit", str(ROOT / "examples/claims/ivig-837p.x12"), "--format", "json"])
    assert result.exit_code in (0, 1)
    body = json.loads(result.stdout)
    assert (body[0] if isinstance(body, list) else body)["claim"] == "CLAIM1"
