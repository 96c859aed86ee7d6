"""The engine's contract: a pure function of (encounter, ruleset), its output shape, and the errors it
raises for an encounter it cannot read (naming the encounter and the field)."""
import copy

import msgspec
import pytest

from infucode import InputError, code_encounter, load_ruleset

RS = load_ruleset()
IVIG = {"id": "e1", "setting": "office", "date": "2024-07-01",
        "administrations": [{"id": "a1", "drug": "Gammagard", "route": "iv_infusion", "start": "08:30", "stop": "12:45"}]}


def test_output_keys_follow_the_contract():
    out = msgspec.to_builtins(code_encounter(IVIG, RS))
    assert list(out)[:7] == ["encounter", "profile", "claim", "policies", "lines", "findings", "wrvu_total"]
    line = out["lines"][0]
    for key in ("code", "units", "modifiers", "date", "administrations", "rule", "explanation", "wrvu", "kind"):
        assert key in line
    assert out["wrvu_total"] == pytest.approx(0.21 + 3 * 0.18)


def test_pure_function_same_input_same_output_and_input_untouched():
    before = copy.deepcopy(IVIG)
    a = msgspec.json.encode(code_encounter(IVIG, RS))
    b = msgspec.json.encode(code_encounter(IVIG, RS))
    assert a == b
    assert IVIG == before


def test_encounter_payer_selects_its_profile():
    enc = dict(IVIG, payer="seed-page", administrations=[dict(IVIG["administrations"][0], stop="10:00")])  # 1:30
    result = code_encounter(enc, RS)
    assert result.profile == "seed-page"
    assert [(l.code, l.units) for l in result.lines if l.kind == "administration"] == [("96365", 1), ("96366", 1)]
    assert result.policies["added_hour_threshold"] == "at_least_30"


@pytest.mark.parametrize("change, field", [
    ({"payer": "no-such-payer"}, "payer"),
    ({"date": "31/31/2024"}, "date"),  # not a date in any form (7/1/2024 is read as 2024-07-01: see test_spreadsheet_input)
    ({"setting": "home"}, "setting"),
])
def test_unreadable_encounter_names_encounter_and_field(change, field):
    with pytest.raises(InputError) as exc:
        code_encounter(dict(IVIG, **change), RS)
    assert exc.value.encounter == "e1"
    assert exc.value.field == field


def test_clock_time_without_date_is_refused_with_field():
    enc = {k: v for k, v in IVIG.items() if k != "date"}
    with pytest.raises(InputError) as exc:
        code_encounter(enc, RS)
    assert exc.value.field == "administrations[0].start"


def test_full_datetimes_need_no_encounter_date():
    enc = {"id": "e2", "setting": "office", "administrations": [
        {"id": "a1", "drug": "Gammagard", "route": "iv_infusion", "start": "2024-07-01T08:30", "stop": "2024-07-01T12:45"}]}
    result = code_encounter(enc, RS)
    assert [(l.code, l.units, l.date) for l in result.lines] == [("96365", 1, "2024-07-01"), ("96366", 3, "2024-07-01")]


def test_duplicate_administration_ids_are_refused():
    enc = dict(IVIG, administrations=IVIG["administrations"] * 2)
    with pytest.raises(InputError) as exc:
        code_encounter(enc, RS)
    assert exc.value.field == "administrations[1].id"


def test_facility_claim_says_wrvu_does_not_drive_payment():
    result = code_encounter(dict(IVIG, setting="facility"), RS)
    assert any(f.rule == "limits.wrvu_facility" for f in result.findings)


def test_every_line_and_finding_carries_its_source():
    result = code_encounter(dict(IVIG, administrations=[dict(IVIG["administrations"][0], stop=None)]), RS)
    assert all(l.source for l in result.lines)
    assert all(f.source for f in result.findings)
