"""X12 837P and 837I claims are read with pyx12 into the audit's claim format and audited."""
import json
from pathlib import Path

from typer.testing import CliRunner

from infucode import load_ruleset
from infucode.audit import audit_claim
from infucode.audit.readers import iter_claims
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


# --------------------------------------------------------------------------------------------
# Broken 837s: a clear error naming the claim and the segment (and the file line when segments are on
# lines of their own); every other claim still audited
# --------------------------------------------------------------------------------------------

IVIG = (ROOT / "examples/claims/ivig-837p.x12").read_text()
CHEMO = (ROOT / "examples/claims/chemo-837i.x12").read_text()


def _segments(text: str) -> list[str]:
    return [s for s in text.strip().split("~") if s]


def _x12(segments: list[str], sep: str = "~") -> str:
    """Segments back into a file with the right SE count for each transaction set."""
    out, start = list(segments), None
    for i, seg in enumerate(out):
        if seg.startswith("ST*"):
            start = i
        elif seg.startswith("SE*") and start is not None:
            out[i] = f"SE*{i - start + 1}*{seg.split('*')[2]}"
    return sep.join(out) + sep


def _claim_block(segments: list[str]) -> tuple[int, int]:
    clm = next(i for i, s in enumerate(segments) if s.startswith("CLM*"))
    se = next(i for i, s in enumerate(segments) if s.startswith("SE*"))
    return clm, se


def _two_claims(first_claim_edit) -> str:
    """The IVIG 837P with a second, good claim (CLAIM2) after a first one changed by ``first_claim_edit``."""
    segs = _segments(IVIG)
    clm, se = _claim_block(segs)
    claim = segs[clm:se]
    good = [s.replace("CLAIM1", "CLAIM2") for s in claim]
    return _x12(segs[:clm] + first_claim_edit(claim) + good + segs[se:])


def _read(text: str) -> list:
    return [item for item, _ in claims_from_837(text)]


def test_bundled_837s_are_valid_x12():
    for text in (IVIG, CHEMO):
        [claim] = _read(text)
        assert not isinstance(claim, InputError), claim
        assert claim.reader_warnings == []


def test_wrong_se_segment_count_names_the_claim():
    broken = IVIG.replace("SE*29*0001", "SE*25*0001")
    [err] = _read(broken)
    assert isinstance(err, InputError) and err.encounter == "CLAIM1" and err.field == "SE01"
    assert "SE count of 25" in err.message and "I count 29" in err.message and "transaction set 0001" in err.message


def test_claim_without_service_lines_is_reported_and_the_next_is_audited():
    first, second = _read(_two_claims(lambda claim: claim[:2]))   # CLM and HI only: no 2400 loop
    assert isinstance(first, InputError) and first.encounter == "CLAIM1"
    assert "segment 22" in first.message and "(2400) missing" in first.message
    assert second.id == "CLAIM2" and [l.code for l in second.lines] == ["96365", "96366", "J1569"]


def test_bad_service_line_names_the_claim_segment_and_line():
    first, second = _read(_two_claims(lambda claim: [s.replace("UN*3", "UN*X") for s in claim]))
    assert isinstance(first, InputError) and (first.encounter, first.field) == ("CLAIM1", "SV104")
    assert "segment 26 (SV1), service line 2" in first.message
    assert second.id == "CLAIM2"
    first, _ = _read(_two_claims(lambda claim: [s.replace("SV1*HC:96366", "SV1*") for s in claim]))
    assert first.encounter == "CLAIM1" and "service line 2" in first.message


def test_missing_subscriber_loop_names_the_claim():
    segs = _segments(IVIG)
    hl2 = next(i for i, s in enumerate(segs) if s.startswith("HL*2"))
    clm, _ = _claim_block(segs)
    [err] = _read(_x12(segs[:hl2] + segs[clm:]))
    assert isinstance(err, InputError) and err.encounter == "CLAIM1" and err.field == "CLM"
    assert "outside a claim loop" in err.message and "2000B" in err.message


def test_missing_claim_id_names_the_segment():
    first, second = _read(_two_claims(lambda claim: [claim[0].replace("CLM*CLAIM1", "CLM*"), *claim[1:]]))
    assert isinstance(first, InputError) and first.encounter is None and first.field == "CLM01"
    assert "segment 20" in first.message and second.id == "CLAIM2"


def test_a_broken_transaction_set_does_not_stop_the_next():
    segs = _segments(IVIG)
    st = next(i for i, s in enumerate(segs) if s.startswith("ST*"))
    _, se = _claim_block(segs)
    second = [s.replace("CLAIM1", "CLAIM3").replace("ST*837*0001", "ST*837*0002") for s in segs[st:se]] + ["SE*20*0002"]
    text = "~".join(segs[:se + 1] + second + [s.replace("GE*1*1", "GE*2*1") for s in segs[se + 1:]]) + "~"
    good, bad = _read(text)
    assert good.id == "CLAIM1"
    assert isinstance(bad, InputError) and bad.encounter == "CLAIM3" and "transaction set 0002" in bad.message


def test_truncated_file_names_the_claim():
    segs = _segments(IVIG)
    cut = next(i for i, s in enumerate(segs) if s.startswith("LX*2"))
    [err] = _read("~".join(segs[:cut + 2]) + "~")
    assert isinstance(err, InputError) and err.encounter == "CLAIM1" and "no SE segment" in err.message


def test_segments_on_their_own_lines_report_the_file_line():
    text = _x12([s.replace("UN*3", "UN*X") for s in _segments(IVIG)], sep="~\n")
    [err] = _read(text)
    assert err.encounter == "CLAIM1" and err.line == 26 and err.field == "SV104"


def test_envelope_count_error_is_reported_once_and_the_claims_audited():
    claim, err = _read(IVIG.replace("GE*1*1", "GE*3*1"))
    assert claim.id == "CLAIM1"
    assert isinstance(err, InputError) and err.encounter is None and err.field == "GE01" and "GE count" in err.message


def test_not_an_837():
    [err] = _read(IVIG.replace("005010X222A1", "005010X221A1"))
    assert isinstance(err, InputError) and err.field == "GS08" and "837P" in err.message


def test_errors_outside_the_audited_fields_are_a_warning_finding():
    text = CHEMO.replace("N4*CITY*NY*100011234", "N4*CITY*NY*10001")   # 837I billing provider ZIP must have 9 digits
    [claim] = _read(text)
    assert not isinstance(claim, InputError) and "segment 11 (N4)" in claim.reader_warnings[0]
    result = audit_claim(claim, load_ruleset())
    [finding] = [f for f in result.findings if f.rule == "audit.input_validation"]
    assert finding.severity == "warning" and "ZIP" in finding.message and finding.source


def test_pyx12_does_not_print_validation_errors(capfd):
    _read(IVIG.replace("SE*29*0001", "SE*25*0001"))
    out, err = capfd.readouterr()
    assert "SE count" not in out + err


def test_cli_reports_a_broken_837_and_audits_the_rest(tmp_path):
    path = tmp_path / "batch.x12"
    path.write_text(_two_claims(lambda claim: claim[:2]), encoding="utf-8")
    result = CliRunner().invoke(app, ["audit", str(path), "--format", "jsonl"])
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["claim"] == "CLAIM1" and "2400" in lines[0]["error"]["message"]
    assert lines[1]["claim"] == "CLAIM2" and lines[1]["findings"] is not None
    assert "CLAIM1" in result.stderr and "Traceback" not in result.stderr


def test_maps_are_loaded_once_and_carry_nothing_from_one_file_to_the_next():
    # pyx12 re-read its XML maps for every file (0.6 s CPU per one-claim 837); the maps are now loaded once per
    # process. A broken file read between two good ones must not change what either good or broken file gives.
    import pyx12.map_if

    broken = IVIG.replace("SE*29*0001", "SE*25*0001")
    described = lambda items: [(type(i).__name__, getattr(i, "message", None), getattr(i, "id", None),
                                [(l.code, l.units) for l in getattr(i, "lines", [])]) for i in items]
    first_good, first_broken = described(_read(IVIG)), described(_read(broken))
    assert getattr(pyx12.map_if.load_map_file, "infucode_cached", False)
    for _ in range(2):
        assert described(_read(CHEMO)) and described(_read(IVIG)) == first_good
        assert described(_read(broken)) == first_broken


def test_finding_lines_are_the_837s_lx_numbers(tmp_path):
    """The line a finding names is the 837's LX number (LX*1 is line 1), in the finding, its message and the table."""
    text = (ROOT / "examples/claims/ivig-837p.x12").read_text()
    path = tmp_path / "mue.x12"
    path.write_text(text.replace("SV1*HC:96366*150*UN*3***1", "SV1*HC:96366*150*UN*9***1"))  # LX*2: 96366 x9 > MUE 8
    lx = [seg.split("*")[1] for seg in text.split("~") if seg.strip().startswith("LX*")]
    [(claim, _)] = list(read_837(path))
    codes_by_lx = dict(zip((int(n) for n in lx), (line.code for line in claim.lines)))
    result = audit_claim(claim, load_ruleset())
    [mue] = [f for f in result.findings if f.rule == "audit.mue"]
    assert [codes_by_lx[n] for n in mue.lines] == ["96366"] and mue.lines == [2]
    table = CliRunner().invoke(app, ["audit", str(path)]).output
    assert "│ 2 │ 96366 │ 9" in table and "│ 0 │" not in table
