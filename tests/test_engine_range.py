"""Issue 14: the rest of the code range. Engine-level checks that the worked cases (tests/cases/other_routes.yaml,
beside_chain.yaml, subsequent.yaml: by the rule each is about) cannot express: properties over many inputs, and
what each finding says."""
import re

import pytest

from infucode import code_encounter, load_ruleset

RS = load_ruleset()
NEGATIVE_MINUTES = re.compile(r"-\d+ minutes")


def _enc(*adms, setting="facility", **extra):
    return {"id": "e", "setting": setting, "date": "2024-07-01", "administrations": list(adms), **extra}


def _codes(result):
    return sorted((l.code, l.units) for l in result.lines if l.kind == "administration")


# --- 96376: the distance to the nearest reported dose, either direction [CMS-CLM-4-230.2, HCPRO-APC-2013] ----
@pytest.mark.parametrize("push_at", ["06:00", "07:59", "08:15", "08:29", "08:30", "08:45", "09:00", "09:10",
                                     "09:30", "10:00", "10:01", "11:30"])
@pytest.mark.parametrize("setting", ["facility", "office"])
def test_same_drug_push_gap_is_a_distance_never_negative(push_at, setting):
    """A push of the drug anywhere around its 09:00-10:00 infusion: no finding ever reports negative minutes,
    and 96376 appears exactly when the push is more than 30 minutes from the infusion (facility only)."""
    result = code_encounter(_enc({"id": "i", "drug": "ondansetron", "route": "iv_infusion", "start": "09:00", "stop": "10:00"},
                                 {"id": "p", "drug": "ondansetron", "route": "iv_push", "start": push_at},
                                 setting=setting), RS)
    for f in result.findings:
        assert not NEGATIVE_MINUTES.search(f.message), f.message
    h, m = map(int, push_at.split(":"))
    t = h * 60 + m
    distance = 9 * 60 - t if t < 9 * 60 else max(0, t - 10 * 60)
    expect_96376 = setting == "facility" and distance > 30
    assert any(l.code == "96376" for l in result.lines) is expect_96376
    assert ("96365", 1) in _codes(result)


def test_same_drug_push_nearest_reported_dose_wins():
    """Pushes at 07:00 and 07:20 before an 08:00 infusion: 07:00 is 60 min from the infusion -> 96376; 07:20 is
    20 min from the reported 07:00 push (nearer than the infusion's 40) -> not reported."""
    result = code_encounter(_enc({"id": "i", "drug": "ondansetron", "route": "iv_infusion", "start": "08:00", "stop": "08:40"},
                                 {"id": "p1", "drug": "ondansetron", "route": "iv_push", "start": "07:00"},
                                 {"id": "p2", "drug": "ondansetron", "route": "iv_push", "start": "07:20"}), RS)
    line = next(l for l in result.lines if l.code == "96376")
    assert line.units == 1 and line.administrations == ["p1"]
    note = next(f for f in result.findings if f.rule == "subsequent.same_drug_push")
    assert note.administrations == ["p2"] and "20 minutes after" in note.message


# --- a chemotherapy infusion past any chair time [CPT-CHEMO-GUIDE; limits longest_chair_time_minutes] ---------
def test_chair_time_limit_is_named_dated_and_sourced():
    catalog = RS.tables.policies
    limit = catalog.limits["longest_chair_time_minutes"]
    assert limit.value > 8 * 60  # past the 8 hours of 96416, so a 9-hour chair day is still coded by the hour
    assert limit.since and limit.sources and limit.unconfirmed
    policy = catalog.policies["chemo_past_chair_time"]
    assert policy.default == "prolonged_pump" and set(policy.options) == {"prolonged_pump", "hourly"}


@pytest.mark.parametrize("hours", [13, 22, 30, 47])
def test_chemo_past_chair_time_is_never_coded_hour_by_hour(hours):
    start = "2024-07-01T08:00"
    stop = f"2024-07-{1 + (8 + hours) // 24:02d}T{(8 + hours) % 24:02d}:00"
    result = code_encounter(_enc({"id": "a", "drug": "fluorouracil", "route": "iv_infusion", "start": start, "stop": stop},
                                 setting="office"), RS)
    assert _codes(result) == [("96416", 1)]
    ask = [f for f in result.findings if f.rule == "beside_chain.pump_not_documented"]
    assert len(ask) == 1 and ask[0].severity == "warning" and "pump" in ask[0].message
    assert result.policies["chemo_past_chair_time"] == "prolonged_pump"


def test_intra_arterial_chemo_past_chair_time_is_96425():
    result = code_encounter(_enc({"id": "a", "drug": "fluorouracil", "route": "intra_arterial", "start": "08:00", "stop": "23:00"}), RS)
    assert _codes(result) == [("96425", 1)]
    assert any(f.rule == "beside_chain.pump_not_documented" for f in result.findings)


def test_non_chemotherapy_long_infusion_is_not_presumed_on_a_pump():
    result = code_encounter(_enc({"id": "a", "drug": "vancomycin", "route": "iv_infusion", "start": "08:00", "stop": "23:00"}), RS)
    assert "96416" not in {l.code for l in result.lines}
    assert not any(f.rule == "beside_chain.pump_not_documented" for f in result.findings)
