"""Properties every coding result must have, checked on random encounters (hypothesis).

(a) the added-hour units of one infusion never decrease as its minutes grow (both profiles);
(b) no add-on line without an eligible primary line on the same result (CMS add-on code edits);
(c) every line cites a rule and covers at least one administration id of the input;
(d) shuffling the administrations never changes a facility result.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DRUGS = ["ondansetron", "normal saline", "paclitaxel", "vancomycin", "rituximab", "dexamethasone", "diphenhydramine"]
ROUTES = ["iv_infusion", "iv_push"]
ADDED_HOUR_CODES = {"96361", "96366", "96370", "96415", "96423"}

# CMS NCCI add-on code edits 2024-06-03 (drug-admin-reference.md A1 [S1-AOC]): add-on -> eligible primaries.
AOC_PRIMARIES: dict[str, set[str]] = {
    "96361": {"96360", "96365", "96374", "96409", "96413"},
    "96366": {"96360", "96365", "96367", "96413"},
    "96367": {"96360", "96365", "96374", "96409", "96413"},
    "96368": {"96360", "96365", "96366", "96413", "96415", "96416", "C8957"},
    "96370": {"96369"},
    "96371": {"96369"},
    "96375": {"96360", "96365", "96374", "96409", "96413"},
    "96376": {"96365", "96374", "96409", "96413"},
    "96411": {"96409", "96413"},
    "96415": {"96413"},
    "96417": {"96413"},
}

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _engine():
    try:
        from infucode import code_encounter, load_ruleset  # noqa: PLC0415
    except ImportError as exc:
        pytest.fail(f"engine not importable: {exc}", pytrace=False)
    return code_encounter, load_ruleset


_RS: dict[str, object] = {}


def ruleset(profile: str = "medicare"):
    _, load_ruleset = _engine()
    if profile not in _RS:
        _RS[profile] = load_ruleset(profile)
    return _RS[profile]


def hhmm(minute_of_day: int) -> str:
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"


def admin_lines(result):
    return [l for l in result.lines if getattr(l, "kind", "administration") == "administration"]


# --------------------------------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------------------------------
@st.composite
def administration(draw, idx: int) -> dict:
    drug = draw(st.sampled_from(DRUGS))
    route = draw(st.sampled_from(ROUTES))
    start = draw(st.integers(min_value=6 * 60, max_value=18 * 60))
    adm = {"id": f"a{idx}", "drug": drug, "route": route, "start": hhmm(start)}
    if route == "iv_infusion":
        minutes = draw(st.integers(min_value=1, max_value=300))
        adm["stop"] = hhmm(min(start + minutes, 23 * 60 + 59))
    if drug == "normal saline":
        adm["indication"] = "dehydration"
    return adm


@st.composite
def encounter(draw, setting: str | None = None) -> dict:
    n = draw(st.integers(min_value=1, max_value=6))
    adms = [draw(administration(i + 1)) for i in range(n)]
    return {
        "id": "prop",
        "setting": setting or draw(st.sampled_from(["facility", "office"])),
        "date": "2024-07-01",
        "administrations": adms,
    }


# --------------------------------------------------------------------------------------------------
# (a) monotone added hours
# --------------------------------------------------------------------------------------------------
def _added_units(result) -> int:
    return sum(l.units for l in admin_lines(result) if l.code in ADDED_HOUR_CODES)


@pytest.mark.parametrize("profile", ["medicare", "seed-page"])
@pytest.mark.parametrize("drug", ["vancomycin", "paclitaxel", "normal saline"])
@SETTINGS
@given(m1=st.integers(min_value=1, max_value=900), m2=st.integers(min_value=1, max_value=900))
def test_added_hours_monotone(profile: str, drug: str, m1: int, m2: int) -> None:
    code_encounter, _ = _engine()
    rs = ruleset(profile)
    lo, hi = sorted((m1, m2))
    start = 6 * 60

    def units(minutes: int) -> int:
        enc = {
            "id": f"mono-{minutes}",
            "setting": "facility",
            "date": "2024-07-01",
            "administrations": [
                {"id": "a1", "drug": drug, "route": "iv_infusion", "start": hhmm(start), "stop": hhmm(start + minutes),
                 "indication": "dehydration" if drug == "normal saline" else None}
            ],
        }
        if enc["administrations"][0]["indication"] is None:
            del enc["administrations"][0]["indication"]
        return _added_units(code_encounter(enc, rs))

    if drug == "paclitaxel" and hi > rs.limits["longest_chair_time_minutes"]:
        # past any chair time with no pump documented, chemotherapy is the prolonged pump code (policy
        # chemo_past_chair_time), with no added hours: tests/test_engine_range.py covers it
        hi = rs.limits["longest_chair_time_minutes"]
        lo = min(lo, hi)
    u_lo, u_hi = units(lo), units(hi)
    assert u_lo <= u_hi, f"{profile} {drug}: {lo} min -> {u_lo} added hours, {hi} min -> {u_hi}"


# --------------------------------------------------------------------------------------------------
# (b) add-ons have a primary
# --------------------------------------------------------------------------------------------------
def primaries_for(rs, code: str) -> set[str] | None:
    """Eligible primaries of an add-on code, from the ruleset's code table if it has one."""
    codes = getattr(rs, "codes", None)
    if codes is not None:
        try:
            info = codes[code]
        except Exception:  # noqa: BLE001 - a table without the code: fall back to the CMS edits
            info = None
        if info is not None:
            if not getattr(info, "add_on", True):
                return None
            prim = getattr(info, "primaries", None)
            if prim:
                return {str(p) for p in prim}
    return AOC_PRIMARIES.get(code)


@SETTINGS
@given(enc=encounter())
def test_add_on_has_primary(enc: dict) -> None:
    code_encounter, _ = _engine()
    rs = ruleset()
    result = code_encounter(enc, rs)
    lines = admin_lines(result)
    codes_on_claim = {l.code for l in lines}
    for line in lines:
        prim = primaries_for(rs, line.code)
        if prim is None:
            continue
        assert codes_on_claim & prim, (
            f"add-on {line.code} without an eligible primary ({sorted(prim)}); claim has {sorted(codes_on_claim)}\n"
            f"encounter: {enc}"
        )


# --------------------------------------------------------------------------------------------------
# (c) lines cite a rule and real administrations
# --------------------------------------------------------------------------------------------------
@SETTINGS
@given(enc=encounter())
def test_lines_cite_rule_and_administrations(enc: dict) -> None:
    code_encounter, _ = _engine()
    result = code_encounter(enc, ruleset())
    ids = {str(a["id"]) for a in enc["administrations"]}
    for line in result.lines:
        assert isinstance(line.rule, str) and line.rule.strip(), f"line {line.code} cites no rule\nencounter: {enc}"
        covered = {str(a) for a in line.administrations}
        assert covered, f"line {line.code} covers no administration\nencounter: {enc}"
        assert covered <= ids, f"line {line.code} covers unknown ids {covered - ids}\nencounter: {enc}"


# --------------------------------------------------------------------------------------------------
# (d) order of the administrations does not matter at a facility
# --------------------------------------------------------------------------------------------------
def canon(result) -> list[tuple]:
    return sorted(
        (l.code, l.units, tuple(sorted(l.modifiers)), l.date or "", tuple(sorted(str(a) for a in l.administrations)))
        for l in result.lines
    )


@SETTINGS
@given(data=st.data())
def test_facility_result_independent_of_order(data) -> None:
    code_encounter, _ = _engine()
    rs = ruleset()
    enc = data.draw(encounter(setting="facility"))
    shuffled = dict(enc, administrations=data.draw(st.permutations(enc["administrations"])))
    a, b = canon(code_encounter(enc, rs)), canon(code_encounter(shuffled, rs))
    assert a == b, f"order changed the result\n  original: {a}\n  shuffled: {b}\nencounter: {enc}\nshuffled: {shuffled}"


def test_every_written_form_of_a_clock_time_reads_as_that_minute():
    """HH:MM, H:MM and HHMM for every minute of the day read as that minute on the encounter date (the
    table the engine looks them up in agrees with the rule); near misses are errors naming the field."""
    from datetime import date, datetime

    from infucode.model import InputError
    from infucode.rules.timing import parse_clock

    on = date(2024, 2, 29)
    for h in range(24):
        for m in range(60):
            expected = (datetime(2024, 2, 29, h, m), True)
            for form in (f"{h:02d}:{m:02d}", f"{h}:{m:02d}", f"{h:02d}{m:02d}", f" {h:02d}:{m:02d} "):
                assert parse_clock(form, on, "f") == expected, form
    for bad in ("24:00", "9:5", "930", "12:60", "1:2:3", "ab:cd", "", "09:30pm"):
        with pytest.raises(InputError) as err:
            parse_clock(bad, on, "administrations[0].start")
        assert err.value.field == "administrations[0].start"
    with pytest.raises(InputError, match="needs the encounter `date`"):
        parse_clock("09:30", None, "administrations[0].start")
    assert parse_clock("2024-03-01T09:30:00+01:00", None, "f") == (datetime(2024, 3, 1, 9, 30), False)
