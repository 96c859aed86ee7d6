"""`infucode ask` (issue 13): questions as coders type them -> the facts the answer must carry.

Expected units are worked out by hand from the CPT added-hour rule under the default policy
(more_than_30: a further unit needs a full hour or more than 30 minutes past the last full hour, so
89 and 90 minutes are the first hour only and 91 adds one) and the 15/16-minute push/infusion line;
the seed-page profile's at_least_30 reading adds a unit at exactly 90. Facts about drug codes and
modifiers are the catalog's and the rule registry's, named by rule id.
"""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from infucode import load_ruleset
from infucode.knowledge import ask
from infucode.knowledge.answer import OUTSIDE
from infucode.knowledge.ask import render_answer
from infucode.knowledge.cli import knowledge_app

RS = load_ruleset()


def units(a) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in a.lines:
        if line["kind"] == "administration":
            out[line["code"]] = out.get(line["code"], 0) + line["units"]
    return out


# q: the question; lines: administration code -> units (exactly); intent; rules (each must be cited);
# sources (keys that must be cited); text (substrings of the answer); refused.
QUESTIONS = [
    # --- the failures reported in issue 13 ------------------------------------------------------------
    {"q": "Remicade infusion 1 hour 45 minutes", "intent": "situation", "lines": {"96413": 1, "96415": 1},
     "text": ["infliximab, IV infusion 08:00-09:45 (105 min)", "setting office"], "rules": ["subsequent.added_hours"]},
    {"q": "how many units of 96366 for 08:30 to 12:45?", "intent": "units", "lines": {"96365": 1, "96366": 3},
     "text": ["That is 3 units of 96366", "08:30-12:45 (255 min)"], "rules": ["subsequent.added_hours"]},
    {"q": "what modifier for a second IV site?", "intent": "rule", "text": ["XU", "59"],
     "rules": ["initial.separate_access", "audit.second_initial"], "sources": ["NCCI-CH11", "S4"]},
    {"q": "does hydration count when it runs with a drug?", "intent": "rule",
     "rules": ["continuity.hydration_concurrent"], "sources": ["CPT-HYD-GUIDE"], "text": ["not reported"]},
    {"q": "what is J1569?", "intent": "drug_code", "codes": ["J1569"],
     "text": ["immune globulin", "500 mg", "MUE 400"], "rules": ["drug.billing_units", "family.catalog"],
     "sources": ["S1-HCPCS"]},
    {"q": "what does JZ mean?", "intent": "modifier", "rules": ["drug.no_waste_jz", "audit.jz_missing"],
     "sources": ["CMS-JW-JZ-FAQ"], "text": ["July 1, 2023", "multi-dose"]},
    # --- durations, as written -------------------------------------------------------------------------
    {"q": "Remicade infusion 1h45", "lines": {"96413": 1, "96415": 1}, "text": ["(105 min)"]},
    {"q": "remicade infusion 1 hr 45 min in the office", "lines": {"96413": 1, "96415": 1}, "text": ["(105 min)"]},
    {"q": "Remicade infused over 105 min", "lines": {"96413": 1, "96415": 1}},
    {"q": "remicade 1.75 hours hospital outpatient", "lines": {"96413": 1, "96415": 1},
     "text": ["setting facility"], "rules": ["initial.facility_hierarchy"]},
    {"q": "how many units of 96366 for 2 hrs 15 min", "lines": {"96365": 1, "96366": 1}, "text": ["1 unit of 96366"]},
    {"q": "how many units of 96366 for 2h15m", "lines": {"96365": 1, "96366": 1}},
    {"q": "96366 units for 135 mins", "lines": {"96365": 1, "96366": 1}},
    {"q": "how many units for 1 1/2 hrs of vanco", "lines": {"96365": 1}, "rules": ["timing.threshold_boundary"]},
    {"q": "how many units for an hour and a half infusion", "lines": {"96365": 1}},
    {"q": "how many untis of 96366 for 3 hrs", "lines": {"96365": 1, "96366": 2}, "text": ["2 units of 96366"]},
    {"q": "HOW MANY UNITS OF 96366 FOR 4 HOURS 15 MINUTES", "lines": {"96365": 1, "96366": 3}},
    {"q": "how many units of 96366 for 1 hour 45 min infusion in the hospital", "lines": {"96365": 1, "96366": 1},
     "text": ["setting facility (facility claim)"]},
    # --- clock ranges ------------------------------------------------------------------------------------
    {"q": "how many units of 96366 from 0830-1245", "lines": {"96365": 1, "96366": 3}, "text": ["3 units of 96366"]},
    {"q": "how many units of 96366 for 8:30 AM - 12:45 PM?", "lines": {"96365": 1, "96366": 3},
     "text": ["08:30-12:45"]},
    {"q": "how many units of 96366 between 0830 and 1245", "lines": {"96365": 1, "96366": 3}},
    {"q": "units of 96366 for 22:00 to 01:30", "lines": {"96365": 1, "96366": 2}, "text": ["210 minutes"]},
    {"q": "how many units for 1:00 - 3:00 PM", "lines": {"96365": 1, "96366": 1}, "text": ["13:00-15:00 (120 min)"]},
    {"q": "IVIG 0830 until 1245 office", "intent": "situation", "lines": {"96365": 1, "96366": 3}},
    {"q": "Gammagard started 08:30 stopped 12:45 in the office", "intent": "situation",
     "lines": {"96365": 1, "96366": 3}, "text": ["immune globulin, IV infusion 08:30-12:45 (255 min)"]},
    {"q": "vanco 08:30 to 10:15 then zosyn 10:20 to 10:50 in the ED", "intent": "situation",
     "lines": {"96365": 1, "96366": 1, "96367": 1}, "rules": ["subsequent.sequential_infusion"]},
    # --- boundaries under the default policy (more_than_30) and the seed page's reading -------------------
    {"q": "how many units of 96366 for 1:29", "lines": {"96365": 1}, "text": ["0 units of 96366"]},
    {"q": "how many units of 96366 for 1:30", "lines": {"96365": 1}, "text": ["0 units of 96366"],
     "rules": ["timing.threshold_boundary"]},
    {"q": "how many units of 96366 for 1:31", "lines": {"96365": 1, "96366": 1}, "text": ["1 unit of 96366"]},
    {"q": "how many units of 96366 for 89 min", "lines": {"96365": 1}},
    {"q": "how many units of 96366 for 91 minutes", "lines": {"96365": 1, "96366": 1}},
    {"q": "how many units 96366 for 2hrs 30min", "lines": {"96365": 1, "96366": 1}, "rules": ["timing.threshold_boundary"]},
    {"q": "units of 96366 for 2 hrs 31 min", "lines": {"96365": 1, "96366": 2}},
    {"q": "how many units of 96366 for 1:30 under the seed page profile", "lines": {"96365": 1, "96366": 1},
     "text": ["profile seed-page"]},
    {"q": "how many units of 96366 from 08:00 to 09:30", "lines": {"96365": 1}, "text": ["0 units of 96366"]},
    {"q": "how many units of 96366 from 08:00 to 09:31", "lines": {"96365": 1, "96366": 1}},
    {"q": "how many units for a 15 min infusion", "lines": {"96374": 1}, "rules": ["method.short_infusion_is_push"]},
    {"q": "how many units for a 16 min infusion", "lines": {"96365": 1}},
    {"q": "15 minute infusion of ondansetron how should I code it", "lines": {"96374": 1},
     "rules": ["method.short_infusion_is_push"]},
    {"q": "16 min infusion of ondansetron what do i code", "lines": {"96365": 1}},
    {"q": "hydration 31 minutes how many units", "lines": {"96360": 1}},
    {"q": "hydration 30 min how many units", "lines": {}, "rules": ["method.hydration_minimum"]},
    {"q": "units of 96415 for 2 hours 31 minutes of chemo", "lines": {"96413": 1, "96415": 2}},
    {"q": "96365 x1 and 96366 x2 for 2h40m?", "intent": "units", "lines": {"96365": 1, "96366": 2},
     "text": ["2 units of 96366"]},
    {"q": "is 96365 x1 + 96366 x3 right for 2 hours 40 min?", "lines": {"96365": 1, "96366": 2},
     "text": ["96366 x3 as written is more than the time supports"]},
    # --- HCPCS drug codes --------------------------------------------------------------------------------
    {"q": "what is J9035", "intent": "drug_code", "text": ["bevacizumab", "10 mg", "96401-96549"]},
    {"q": "what's j1569", "intent": "drug_code", "codes": ["J1569"]},
    {"q": "MUE of J1569?", "intent": "drug_code", "text": ["MUE 400 practitioner / 400 outpatient hospital"],
     "sources": ["S1-MUE"]},
    {"q": "how many units of J1569 for 10 grams", "intent": "drug_code", "text": ["= 20 units of J1569"],
     "rules": ["drug.billing_units"]},
    {"q": "J9035 units for 400 mg", "intent": "drug_code", "text": ["= 40 units of J9035"]},
    {"q": "zofran ivp in the office", "intent": "situation", "lines": {"96374": 1}},
    {"q": "what is J1745", "intent": "drug_code", "text": ["infliximab"], "rules": ["family.complex_biologic"]},
    {"q": "What is J9999?", "refused": True, "text": ["not in infucode's drug catalog"]},
    # --- modifiers -----------------------------------------------------------------------------------------
    {"q": "what does JW mean", "intent": "modifier", "rules": ["drug.discarded_jw"], "sources": ["CMS-CLM-17-40"]},
    {"q": "what is modifier XU", "intent": "modifier", "rules": ["audit.second_initial"], "text": ["distinct_modifier"]},
    {"q": "when do I use modifier 59", "intent": "modifier", "rules": ["initial.separate_access"]},
    {"q": "XE vs XS?", "intent": "modifier", "text": ["separate encounter"]},
    {"q": "what does modifier 25 mean", "intent": "modifier", "rules": ["audit.modifier_misplaced"], "text": ["E/M line"]},
    {"q": "does modifier 25 go on the E/M or the infusion line?", "intent": "modifier", "rules": ["audit.modifier_misplaced"]},
    {"q": "what does modifier 53 mean", "intent": "modifier", "rules": ["method.discontinued"]},
    {"q": "what does modifier GY mean", "refused": True, "text": ["GY is not one that infucode's rules use"]},
    # --- rule-base topics ------------------------------------------------------------------------------------
    {"q": "can I bill two initial codes for two IV sites?", "intent": "rule", "rules": ["audit.second_initial"]},
    {"q": "is saline running with vanco billable as hydration?", "intent": "rule", "rules": ["continuity.hydration_concurrent"]},
    {"q": "what is the 30 minute rule", "intent": "rule", "rules": ["subsequent.added_hours"], "text": ["91 minutes adds one"],
     "sources": ["S24"]},
    {"q": "what is the 16 minute rule", "intent": "rule", "rules": ["method.short_infusion_is_push"]},
    {"q": "is a 15 minute infusion a push?", "intent": "rule", "rules": ["method.short_infusion_is_push"],
     "sources": ["CMS-TR573"]},
    {"q": "what's the difference between office and facility coding", "intent": "rule",
     "rules": ["initial.facility_hierarchy", "initial.office_primary", "who.facility_setting_professional_claim"]},
    {"q": "can the physician bill 96365 in the hospital?", "intent": "rule", "rules": ["who.facility_setting_professional_claim"]},
    {"q": "what are the add-on rules", "intent": "rule", "rules": ["limits.add_on_primary"], "sources": ["S1-AOC"],
     "text": ["96366 (beside"]},
    {"q": "can I bill the flush", "intent": "rule", "rules": ["method.flush"]},
    {"q": "is kvo fluid billable", "intent": "rule", "rules": ["method.keep_open_fluid"]},
    {"q": "do hydration minutes add up", "intent": "rule", "rules": ["continuity.hydration_pieces"], "text": ["hydration_pieces"]},
    {"q": "is potassium in fluids hydration?", "intent": "rule", "rules": ["family.electrolyte_indication"]},
    {"q": "is remicade billed with chemo codes?", "intent": "rule", "rules": ["family.complex_biologic"],
     "text": ["complex_biologics"]},
    {"q": "what if the stop time is missing?", "intent": "rule", "rules": ["doc.missing_stop"], "text": ["missing_stop"]},
    {"q": "what if the infusion was stopped early for a reaction?", "intent": "rule", "rules": ["method.discontinued"]},
    {"q": "infusion crosses midnight, what do I do", "intent": "rule", "text": ["midnight"]},
    # --- codes (unchanged routes) ------------------------------------------------------------------------------
    {"q": "96366 vs 96367", "intent": "differentiate", "codes": ["96366", "96367"]},
    {"q": "what is the MUE of 96365", "intent": "mue_wrvu", "rules": ["limits.mue"]},
    {"q": "is 96366 an add-on code?", "intent": "what_is", "text": ["add-on code"]},
    # --- a service and a time, no drug named: the family's stand-in drug, said so ---------------------------
    {"q": "hydration 0900 to 0945", "intent": "units", "lines": {"96360": 1},
     "text": ["45 minutes of IV hydration", "stands in for any hydration drug"]},
    {"q": "IV fluids 1 hour 31 minutes", "intent": "units", "lines": {"96360": 1, "96361": 1}},
    {"q": "IV fluids 1 hour 30 minutes", "intent": "units", "lines": {"96360": 1}},
    {"q": "hydration 2 hours in hospital", "intent": "units", "lines": {"96360": 1, "96361": 1},
     "text": ["(facility, profile medicare)"]},
    {"q": "chemo infusion 0900-1131", "intent": "units", "lines": {"96413": 1, "96415": 2},
     "rules": ["subsequent.added_hours"]},
    # --- a code looked up by words: one service is the initial code, not its add-on or the unlisted code ---
    {"q": "what code for a chemo push?", "intent": "search", "codes": ["96409"],
     "rules": ["initial.facility_hierarchy", "initial.office_primary"]},
    {"q": "IV push", "intent": "search", "codes": ["96374"]},
    {"q": "therapeutic infusion", "intent": "search", "codes": ["96365"]},
    {"q": "each additional hour of hydration", "text": ["96361"]},
    {"q": "pump refill 96521", "codes": ["96521"], "text": ["no MUE in the loaded MUE table"]},
    # --- refusals --------------------------------------------------------------------------------------------
    {"q": "how much does medicare pay for J1569?", "refused": True},
    {"q": "what dose of IVIG should I give?", "refused": True},
    {"q": "what's the weather", "refused": True},
    {"q": "what is 99213?", "refused": True},
    {"q": "What E/M level should I bill?", "refused": True},
]


def test_question_count():
    assert len(QUESTIONS) >= 60
    assert sum(1 for q in QUESTIONS if q.get("refused")) >= 6
    assert sum(1 for q in QUESTIONS if "lines" in q) >= 25


@pytest.mark.parametrize("case", QUESTIONS, ids=lambda c: c["q"][:60])
def test_ask_question(case):
    a = ask(case["q"], RS)
    assert a.refused == bool(case.get("refused")), a.text
    for needle in case.get("text", ()):
        assert needle in a.text, a.text
    if a.refused:
        assert a.text.startswith(OUTSIDE) and not a.rule_ids
        return
    # every answer cites rule ids that exist and the sources they came from
    assert a.rule_ids and a.sources, a.text
    assert all(r in RS.rules for r in a.rule_ids)
    if "intent" in case:
        assert a.intent == case["intent"], a.text
    if "lines" in case:
        assert units(a) == case["lines"], a.text
        assert a.encounter is not None and "Encounter coded:" in a.text
        for line in a.lines:
            assert f"{line['code']}" in a.text and line["rule"] in a.rule_ids
    for code in case.get("codes", ()):
        assert code in a.codes, a.codes
    for rid in case.get("rules", ()):
        assert rid in a.rule_ids, (a.rule_ids, a.text)
    for key in case.get("sources", ()):
        assert any(s.startswith(key + ":") for s in a.sources), a.sources


def test_coded_answer_shows_the_encounter_it_coded():
    a = ask("how many units of 96366 for 08:30 to 12:45?", RS)
    adm = a.encounter["administrations"][0]
    assert (adm["route"], adm["start"], adm["stop"], a.encounter["setting"]) == ("iv_infusion", "08:30", "12:45", "office")
    assert "Lines: 96365 x1 [initial.office_primary]; 96366 x3 [subsequent.added_hours]." in a.text


def test_rules_and_sources_block_rendered_once():
    # the web page prints text + its own Rules/Sources block; the text must not carry one already
    a = ask("96366 vs 96367?", RS)
    assert "Rules:" not in a.text and "Sources:" not in a.text
    shown = render_answer(a)
    assert shown.count("Rules:") == 1 and shown.count("Sources:") == 1
    assert render_answer(ask("what is the weather?", RS)).count("Rules:") == 0


def test_cli_ask_prints_rules_once_and_exit_codes():
    runner = CliRunner()
    r = runner.invoke(knowledge_app, ["ask", "what does JZ mean?"])
    assert r.exit_code == 0 and r.output.count("Rules:") == 1 and "drug.no_waste_jz" in r.output
    r = runner.invoke(knowledge_app, ["ask", "what is J9999?"])
    assert r.exit_code == 1 and "outside what infucode knows" in r.output
    r = runner.invoke(knowledge_app, ["ask", "--format", "json", "how many units of 96366 from 0830-1245"])
    assert r.exit_code == 0 and '"encounter"' in r.output and '"lines"' in r.output


def test_no_cpt_descriptor_text_in_answers():
    markers = ("List separately in addition", "specify substance or drug", "American Medical Association")
    for case in QUESTIONS:
        text = ask(case["q"], RS).text
        assert not any(m in text for m in markers), case["q"]


def test_every_modifier_and_topic_cites_rules_that_exist():
    from infucode.knowledge import _data

    for mod, info in _data.knowledge_file("modifiers.yaml")["modifiers"].items():
        assert info["rules"] and all(r in RS.rules for r in info["rules"]), mod
        assert all(s in RS.rules.sources for s in info["sources"]), mod
    for topic in _data.knowledge_file("topics.yaml")["topics"]:
        assert all(r in RS.rules for r in topic["rules"]), topic["id"]
        assert all(p in RS.policies for p in topic.get("policies", ())), topic["id"]
        assert all(re.compile(p) for p in topic["match"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(["how", "many", "units", "of", "96366", "J1569", "for", "1h45", "08:30", "to", "12:45",
                                 "0830-1245", "vanco", "remicade", "push", "infusion", "hydration", "with", "modifier",
                                 "XU", "JZ", "GY", "office", "hospital", "2:15", "hours", "min", "then", "?", "10", "g",
                                 "x2", "midnight", "99213", "MUE", "vs", "stopped", "started"]), min_size=1, max_size=10))
def test_any_question_is_answered_with_citations_or_refused(words):
    a = ask(" ".join(words), RS)
    assert a.refused or (a.rule_ids and a.sources) or (a.intent == "situation" and "could not be coded" in a.text)
