"""The knowledge layer: lookup, search, ask, case intake and their commands (issue 7)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from infucode import code_encounter, load_ruleset
from infucode.knowledge import ask, case_memo, lookup, parse_note, read_case_file, render_memo, render_reference, search
from infucode.knowledge import _data
from infucode.knowledge.ask import parse_duration, render_answer
from infucode.knowledge.cli import ask_cmd, case_cmd, knowledge_app, lookup_cmd, search_cmd
from infucode.knowledge.lookup import UnknownCode

HERE = Path(__file__).parent
KDIR = HERE / "knowledge"
ROOT = HERE.parent
RS = load_ruleset()
CASES = yaml.safe_load((KDIR / "cases.yaml").read_text(encoding="utf-8"))
QUESTIONS = yaml.safe_load((KDIR / "questions.yaml").read_text(encoding="utf-8"))
# phrases of the AMA descriptor and of the seed page's slips that must never appear in a lookup
AMA_MARKERS = ("List separately in addition", "specify substance or drug", "Copyright", "American Medical Association")
SEED_SLIPS = ("general supervision", "bypass an incorrect", "GY", "cannot stand alone. 96365 must appear",
              "MUE = 8 units per date of service")


# ------------------------------------------------------------------------------------------- lookup
@pytest.mark.parametrize("code", RS.codes.codes())
def test_lookup_every_code(code):
    ref = lookup(code, RS)
    assert ref.code == code and ref.description.strip()
    assert ref.description == RS.codes[code].description
    text = render_reference(ref)
    data = json.loads(render_reference(ref, "json"))
    for key in ("code", "description", "add_on", "primaries", "wrvu", "mue", "mai", "related"):
        assert key in data
    for marker in AMA_MARKERS:
        assert marker not in text
    if ref.add_on:
        assert ref.primaries


def test_lookup_96366_shows_the_seed_reference_without_its_errors():
    ref = lookup("96366", RS)
    assert ref.wrvu == 0.18
    assert ref.mue["practitioner"]["value"] == 8 and ref.mue["hospital"]["value"] == 24
    assert ref.mai == {"practitioner": 3, "hospital": 3}
    assert ref.primaries == ["96360", "96365", "96367", "96413"]
    assert ref.add_on and ref.documentation and ref.denials
    top = [d for d in ref.differentiation if d.codes == ["96366", "96367"]]
    assert top and top[0].top_confusion and "subsequent.sequential_infusion" in top[0].rules
    assert {"96365", "96367", "96368", "96415", "96361"} <= {r.code for r in ref.related}
    text = render_reference(ref)
    for needle in ("wRVU: 0.18", "MUE practitioner: 8", "MUE outpatient hospital: 24", "96360 96365 96367 96413",
                   "96366 vs 96367", "Documentation the record needs", "Common denials"):
        assert needle in text
    for slip in SEED_SLIPS:
        assert slip not in text
    names = {s.name for s in ref.scenarios}
    assert any("IVIG" in n for n in names)
    s2 = next(s for s in ref.scenarios if "IVIG" in s.name)
    assert [(l.code, l.units) for l in s2.lines] == [("96365", 1), ("96366", 3)]
    s1 = next(s for s in ref.scenarios if "nfliximab" in s.name)
    assert s1.seed_answer and s1.why_differs and s1.lines[0].code == "96413"


def test_lookup_unknown_code():
    with pytest.raises(UnknownCode):
        lookup("99213", RS)


@pytest.mark.parametrize("scenario", _data.scenarios(), ids=lambda s: s["encounter"]["id"])
def test_scenarios_code_live_as_expected(scenario):
    result = code_encounter(scenario["encounter"], RS)
    got = [(l.code, l.units) for l in result.lines if l.kind == "administration"]
    assert got == [(str(e["code"]), e["units"]) for e in scenario["expect"]]
    for code in scenario["illustrates"]:
        assert str(code) in RS.codes
    for rid in scenario.get("rules", ()):
        assert rid in RS.rules


def test_differentiation_data_resolves():
    for p in _data.pairs():
        assert all(c in RS.codes for c in p["codes"])
        assert all(r in RS.rules for r in p["rules"])
        assert all(s in RS.rules.sources for s in p["sources"])


def test_scenario_3_differs_from_the_seed_with_reason():
    ref = lookup("96367", RS)
    s3 = next(s for s in ref.scenarios if s.encounter["id"] == "scenario-3")
    assert [(l.code, l.units) for l in s3.lines] == [("96413", 1), ("96415", 2), ("96367", 1)]
    assert "96365 x1 + 96413 x1" in s3.seed_answer and "one initial" in s3.why_differs.lower()


# ------------------------------------------------------------------------------------------- search
@pytest.mark.parametrize("query,expected", [
    ("sequntial push", "96375"),
    ("chemo add on hour", "96415"),
    ("intial infusion", "96365"),
    ("96366", "96366"),
    ("concurent infusion", "96368"),
    ("push of the same drug", "96376"),
])
def test_search_first_code(query, expected):
    hits = search(query, RS)
    first_code = next(h for h in hits if h.kind == "code")
    assert first_code.id == expected
    assert first_code.why


def test_search_hydration_finds_both_codes_first():
    codes = [h.id for h in search("hydration", RS) if h.kind == "code"][:2]
    assert set(codes) == {"96360", "96361"}


def test_search_rules_and_typos():
    assert search("missing stop time", RS)[0].id == "doc.missing_stop"
    assert any(h.id == "subsequent.concurrent_infusion" for h in search("concurent", RS))
    assert search("IVIG", RS)[0].kind == "drug"
    assert search("zzzzqqq", RS) == []


# ------------------------------------------------------------------------------------------- ask
def test_question_counts():
    assert len(QUESTIONS) >= 40
    assert sum(1 for q in QUESTIONS if q.get("refused")) >= 8


@pytest.mark.parametrize("case", QUESTIONS, ids=lambda c: c["q"][:50] or "empty")
def test_ask(case):
    a = ask(case["q"], RS)
    assert a.refused == bool(case.get("refused", False)), a.text
    if a.refused:
        assert "outside what infucode knows" in a.text
        return
    assert a.rule_ids and a.sources, a.text
    assert all(r in RS.rules for r in a.rule_ids)
    if "intent" in case:
        assert a.intent == case["intent"], a.text
    for code in case.get("codes", ()):
        assert code in a.codes, (a.codes, a.text)
    for rid in case.get("rules", ()):
        assert rid in a.rule_ids, (a.rule_ids, a.text)
    for key in case.get("sources", ()):
        assert any(s.startswith(key + ":") for s in a.sources), a.sources
    for needle in case.get("text", ()):
        assert needle in a.text, a.text


def test_ask_top_confusion_and_units_quote_rules_and_sources():
    a = ask("96366 vs 96367?", RS)
    # the Rules/Sources block is rendered once, under the answer text (the web page prints its own)
    assert "Rules: subsequent.added_hours, subsequent.sequential_infusion" in render_answer(a) and "Sources:" in render_answer(a)
    u = ask("how many units of 96366 for 2 hours 15 minutes", RS)
    assert u.codes == ["96365", "96366"] and "96365 x1 + 96366 x1" in u.text
    assert "subsequent.added_hours" in u.rule_ids and "Sources:" in render_answer(u)


@pytest.mark.parametrize("text,minutes", [("2 hours 15 minutes", 135), ("2:15", 135), ("135 minutes", 135),
                                          ("90 min", 90), ("2h15m", 135), ("1.5 hours", 90), ("an hour", 60),
                                          ("two hours", 120), ("no time", None)])
def test_parse_duration(text, minutes):
    assert parse_duration(text) == minutes


# ------------------------------------------------------------------------------------------- intake
def test_case_count():
    assert len(CASES) >= 25


def _case_text(case) -> str:
    return read_case_file(KDIR / case["file"]) if "file" in case else case["note"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_case_intake(case):
    text = _case_text(case)
    memo = case_memo(text, RS, default_date="2024-07-01")
    exp = case["expect"]
    enc = memo.encounter
    if "setting" in exp:
        assert enc["setting"] == exp["setting"]
    if "date" in exp:
        assert enc["date"] == exp["date"]
    adms = enc["administrations"]
    assert len(adms) == len(exp["administrations"]), adms
    for a, e in zip(adms, exp["administrations"]):
        for key, value in e.items():
            got = RS.drugs.match(a["drug"]).drug.key if key == "drug" else a.get(key)
            assert got == value, (key, a)
    if "codes" in exp:
        got = [[l.code, l.units] for l in memo.result.lines if l.kind == "administration"]
        assert got == exp["codes"]
    for needle in exp.get("questions_contain", ()):
        assert any(needle in q for q in memo.questions), memo.questions
    # every extracted field is traceable to the words it came from
    for e in memo.extractions:
        assert text[e.start:e.end] == e.text and e.text.strip()
    for i, a in enumerate(adms):
        fields = {e.field for e in memo.extractions}
        assert f"administrations[{i}].drug" in fields
        if "start" in a:
            assert f"administrations[{i}].start" in fields
    rendered = render_memo(memo)
    assert "Coding memo" in rendered
    json.loads(render_memo(memo, "json"))


def test_setting_defaults_to_office_with_a_question():
    enc, _, questions = parse_note("Zofran 4 mg IVP 10:15", RS, default_date="2024-07-01")
    assert enc["setting"] == "office"
    assert any("setting is not stated" in q for q in questions)


def test_seed_scenario_2_memo_and_missing_documentation():
    memo = case_memo("IVIG started 08:30, completed 12:45. Office.", RS, default_date="2024-07-01")
    assert [(l.code, l.units) for l in memo.result.lines if l.kind == "administration"] == [("96365", 1), ("96366", 3)]
    assert any("site" in m for m in memo.missing_documentation)


def test_eml_body_is_read(tmp_path):
    src = (ROOT / "examples" / "cases" / "ed-pushes.eml")
    text = read_case_file(src)
    assert "Zofran 4 mg IVP" in text and "<p>" not in text
    memo = case_memo(text, RS)
    assert memo.encounter["setting"] == "facility" and memo.encounter["date"] == "2024-07-02"
    assert [a["route"] for a in memo.encounter["administrations"]] == ["iv_infusion", "iv_push", "iv_push"]


# ------------------------------------------------------------------------------------------- commands
runner = CliRunner()


def test_cli_names_and_functions():
    names = {c.name for c in knowledge_app.registered_commands}
    assert names == {"lookup", "search", "ask", "case"}
    assert {c.callback for c in knowledge_app.registered_commands} == {lookup_cmd, search_cmd, ask_cmd, case_cmd}


def test_cli_lookup():
    r = runner.invoke(knowledge_app, ["lookup", "96366"])
    assert r.exit_code == 0 and "wRVU: 0.18" in r.output and "MUE outpatient hospital: 24" in r.output
    r = runner.invoke(knowledge_app, ["lookup", "96366", "--format", "json"])
    data = json.loads(r.output)
    assert data["wrvu"] == 0.18 and data["mue"]["practitioner"]["value"] == 8 and data["mai"]["hospital"] == 3
    assert runner.invoke(knowledge_app, ["lookup", "99213"]).exit_code == 1


def test_cli_search_ask_case():
    r = runner.invoke(knowledge_app, ["search", "sequntial push", "--limit", "3"])
    assert r.exit_code == 0 and "96375" in r.output
    r = runner.invoke(knowledge_app, ["ask", "What is the difference between 96366 and 96367?"])
    assert r.exit_code == 0 and "subsequent.sequential_infusion" in r.output
    r = runner.invoke(knowledge_app, ["ask", "What E/M level is this?"])
    assert r.exit_code == 1 and "outside what infucode knows" in r.output
    r = runner.invoke(knowledge_app, ["case", str(ROOT / "examples" / "cases" / "seed-scenario-2.txt")])
    assert r.exit_code == 0
    assert re.search(r"96365 x1\b", r.output) and re.search(r"96366 x3\b", r.output)
    r = runner.invoke(knowledge_app, ["case", str(ROOT / "examples" / "cases" / "ed-pushes.eml"), "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.output)["encounter"]["setting"] == "facility"
