"""Case intake as an event model (issue 13): each failure seen in the field, as a note, against the
encounter a coder reads from it (CPT drug administration guidelines; CMS IOM 100-04 ch.4 s.230.2)."""
from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infucode import load_ruleset
from infucode.adapters.mar import read_mar
from infucode.knowledge.intake import case_memo, parse_note, render_memo
from infucode.vocabulary import find_times

RS = load_ruleset("medicare")


def adms(note: str) -> list[dict]:
    enc, _, _ = parse_note(note, RS, default_date="2026-03-02")
    return enc["administrations"]


def key(a: dict) -> str:
    return RS.drugs.match(a["drug"]).drug.key


def admin_codes(memo) -> list[tuple[str, int]]:
    return [(l.code, l.units) for l in memo.result.lines if l.kind == "administration"]


# ------------------------------------------------------------------ completion, stop, hold, rate, new bag
def test_a_later_completion_line_closes_the_running_infusion():
    got = adms("Office. 0900 IVIG started via R forearm PIV.\n1030 Benadryl 25 mg IVP given.\nInfusion complete 1215.")
    assert [(key(a), a["start"], a.get("stop")) for a in got] == \
        [("immune_globulin", "09:00", "12:15"), ("diphenhydramine", "10:30", None)]


def test_a_line_saying_only_the_fluid_was_stopped_closes_the_hydration():
    got = adms("Infusion center. 0800 NS 1000 mL IV started for dehydration.\n0805 Zofran 4 mg IVP.\nFluids stopped 1030.")
    assert [(key(a), a["start"], a.get("stop")) for a in got] == \
        [("normal_saline", "08:00", "10:30"), ("ondansetron", "08:05", None)]


def test_hold_and_restart_are_an_interruption_not_a_new_drug():
    got = adms("HOPD. Remicade 400 mg IV infusion started 1000 via port.\n1030 infusion held for itching.\n"
               "1100 infusion restarted.\nInfusion completed 1230.")
    assert len(got) == 1
    a = got[0]
    assert (a["start"], a["stop"], a["interruptions"]) == ("10:00", "12:30", [{"start": "10:30", "stop": "11:00"}])


def test_a_timed_rate_titration_is_not_the_stop_time():
    got = adms("Office. 0900 IVIG infusion started via L hand PIV.\n1000 rate increased to 200 mL/hr.\n"
               "IVIG completed 1215.")
    assert [(a["start"], a.get("stop")) for a in got] == [("09:00", "12:15")]


def test_a_new_bag_of_the_same_fluid_continues_the_hydration():
    memo = case_memo("Infusion center 3/2/2026. NS 1000 mL IV started 0800 for dehydration.\n"
                     "0930 new bag NS 1000 mL hung.\nFluids stopped 1100.", RS)
    got = memo.encounter["administrations"]
    assert [(a["start"], a.get("stop")) for a in got] == [("08:00", "11:00")]
    assert admin_codes(memo) == [("96360", 1), ("96361", 2)]        # 3 h of hydration: 96360 + 2 x 96361


# ------------------------------------------------------------------ mentions that are not administrations
def test_a_drug_in_the_heading_is_not_given_at_the_port_access_time():
    got = adms("Rituximab infusion\n0800 port accessed.\n0815 rituximab started.\n1145 rituximab completed.")
    assert [(key(a), a["start"], a.get("stop")) for a in got] == [("rituximab", "08:15", "11:45")]


@pytest.mark.parametrize("line", ["Dx: CIDP on IVIG.", "Regimen: pembrolizumab 200 mg IV q3w.",
                                  "Plan: zoledronic acid 4 mg IV at 1000.", "Order: Gammagard 30 g IV at 0800."])
def test_heading_regimen_diagnosis_plan_lines_are_not_administrations(line):
    got = adms(f"Office.\n{line}\n0830 NS 500 mL IV started for dehydration, stopped 0930.")
    assert [key(a) for a in got] == ["normal_saline"]


def test_a_discharge_prescription_is_not_an_infusion():
    got = adms("ED. Zofran 4 mg IVP 1010.\nDischarge prescriptions:\nondansetron 4 mg at 2000")
    assert [(key(a), a["route"], a["start"]) for a in got] == [("ondansetron", "iv_push", "10:10")]


@pytest.mark.parametrize("note", ["Office. Ceftriaxone 1 g IM ordered; held per MD, not given.",
                                  "Office. Zofran 4 mg IVP if needed for nausea.",
                                  "Office. Will give Prolia 60 mg SQ next visit."])
def test_negated_or_hypothetical_mentions_are_never_administrations(note):
    assert adms(note) == []


def test_an_ordered_duration_is_not_coded_as_the_infusion_time():
    memo = case_memo("Office 3/2/26. Vanco 1 g IVPB started 0900 to run over 60 min.", RS)
    a = memo.encounter["administrations"][0]
    assert "minutes" not in a and "stop" not in a
    assert any("ordered duration" in q for q in memo.questions)


# ------------------------------------------------------------------ routes
@pytest.mark.parametrize("route", ["PO", "SL", "PR", "topical", "inhaled", "by mouth"])
def test_non_parenteral_premedication_is_never_an_administration(route):
    memo = case_memo(f"Office 3/2/2026. Premeds: acetaminophen 650 mg {route} at 0900, diphenhydramine 25 mg IVP "
                     "0905.", RS)
    got = memo.encounter["administrations"]
    assert [key(a) for a in got] == ["diphenhydramine"]
    assert all(l.code != "J0131" for l in memo.result.lines)       # no injectable acetaminophen J-code
    assert not any("route" in q and "acetaminophen" in q for q in memo.questions)


def test_a_drug_written_with_its_diluent_keeps_its_route_and_the_diluent_is_not_hydration():
    got = adms("Office. Vancomycin 1 g/250 mL NS started via port 0915.\nVancomycin complete 1030.")
    assert [(key(a), a["route"], a["start"], a.get("stop")) for a in got] == \
        [("vancomycin", "iv_infusion", "09:15", "10:30")]


def test_a_heparin_lock_after_the_flush_is_not_a_push():
    got = adms("Office. Vancomycin 1 g IVPB 0915-1030 via port.\n1035 port flushed with 10 mL NS, heparin 500 units given as lock.")
    assert [key(a) for a in got] == ["vancomycin"]


def test_an_ambulatory_pump_for_a_multi_day_infusion_is_96416():
    memo = case_memo("HOPD 03/02/2026. Fluorouracil 2400 mg/m2 continuous infusion via CADD ambulatory pump "
                     "connected 1400 to run over 46 hours.", RS)
    a = memo.encounter["administrations"][0]
    assert a["pump"] is True and a["minutes"] == 46 * 60
    assert admin_codes(memo) == [("96416", 1)]
    assert any("pump" in q for q in memo.questions)


@pytest.mark.parametrize("written", ["connected 1120 for 46 hr infusion", "connected 1120, to run over 46 hr",
                                     "connected 1120, 46 h"])
def test_a_home_pump_s_run_is_its_duration_not_a_missing_stop(written):
    """FOLFOX: the pump goes home for 46 hours and is disconnected at a later visit. However the run is written,
    the memo asks to confirm it, codes 96416, and neither demands a clock stop time nor calls it over 24 hours
    [CPT-CHEMO-GUIDE 96416; rules.yaml doc.duration_only]."""
    memo = case_memo(f"HOPD 12/03/2026. Port accessed 0815. 5-FU 2400 mg/m2 via CADD pump {written}. "
                     "Pt d/c'd home with pump.", RS)
    [a] = memo.encounter["administrations"]
    assert a["pump"] is True and a["minutes"] == 46 * 60 and "stop" not in a
    assert admin_codes(memo) == [("96416", 1)]
    assert any("pump's programmed duration" in q for q in memo.questions)
    assert not any("clock stop time" in m or "over 24 hours" in m or "doc.duration_only" in m for m in memo.missing_documentation)
    assert {f.rule: f.severity for f in memo.result.findings}.get("doc.duration_only") == "info"


def test_a_pump_s_frequency_is_not_its_run():
    """"q 8 h" after a pump is how often, not how long: no duration is taken from it."""
    [a] = adms("HOPD. Hydromorphone PCA via CADD pump connected 1120, demand dose q 8 h.")
    assert "minutes" not in a


def test_an_on_body_injector_is_coded_96377():
    """Issue 14: the input contract has the route now; a note's on-body injector is coded, not held back
    [CMS billing article A54682: 96377, not 96372]."""
    memo = case_memo("Infusion center 3/2/2026. Neulasta on-body injector applied to L arm 1500.", RS)
    [adm] = memo.encounter["administrations"]
    assert adm["route"] == "on_body_injector" and adm["start"] == "15:00" and not memo.held_back
    assert admin_codes(memo) == [("96377", 1)]


# ------------------------------------------------------------------ setting and date
def test_non_facility_is_an_office():
    enc, _, _ = parse_note("Non-facility. Zofran 4 mg IVP 0900.", RS, default_date="2026-03-02")
    assert enc["setting"] == "office"


def test_the_notes_own_date_of_service_is_used_not_a_birth_date_or_the_default():
    enc, _, _ = parse_note("DOB 01/05/1950. Office. Date of service: Mar 2, 2026. Zofran 4 mg IVP 0900.", RS,
                           default_date="2024-07-01")
    assert enc["date"] == "2026-03-02"


# ------------------------------------------------------------------ uncertainty is a question, a finding, a mark
def test_an_unlabelled_time_is_a_question_a_finding_and_a_marked_line():
    memo = case_memo("Office 3/2/2026. Vancomycin 1 g IVPB 0900 1000 via L hand PIV.", RS)
    q = [f for f in memo.findings if f["rule"] == "intake.time_unlabelled"]
    assert q and q[0]["administrations"] == ["a1"]
    assert any("taken as the start time" in t for t in memo.questions)
    assert "? uncertain" in render_memo(memo) and "depends on an open question" in render_memo(memo)


# ------------------------------------------------------------------ the same events as a MAR and as a note
_NOTE_WORDS = {"given": "started", "rate_change": "rate increased to 150 mL/hr", "paused": "held",
               "restarted": "restarted", "stopped": "completed", "new_bag": "new bag hung"}
_MAR_WORDS = {"given": "Given", "rate_change": "Rate Change", "paused": "Paused", "restarted": "Restarted",
              "stopped": "Stopped", "new_bag": "New Bag"}


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def infusion_events(draw):
    """given [rate change] [pause restart]* [new bag] stopped, strictly increasing times in one day."""
    actions = ["given"]
    if draw(st.booleans()):
        actions.append("rate_change")
    for _ in range(draw(st.integers(0, 2))):
        actions += ["paused", "restarted"]
    if draw(st.booleans()):
        actions.append("new_bag")
    actions.append("stopped")
    gaps = draw(st.lists(st.integers(5, 90), min_size=len(actions), max_size=len(actions)))
    t, out = 7 * 60, []
    for a, g in zip(actions, gaps):
        t += g
        out.append((a, t))
    return out


@settings(max_examples=40, deadline=None)
@given(events=infusion_events(), drug=st.sampled_from(["vancomycin", "infliximab", "normal saline"]))
def test_a_mar_and_a_note_with_the_same_events_give_the_same_encounter(events, drug):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["order_id", "action", "time", "drug", "route", "site"])
    for action, t in events:
        w.writerow(["o1", _MAR_WORDS[action], f"2026-03-02T{_hhmm(t)}", drug, "IVPB", "L hand PIV"])
    mar = read_mar(io.StringIO(buf.getvalue()), setting="office", encounter_id="e")
    mar_adms = [a for r in mar if r.encounter for a in r.encounter.administrations]

    lines = [f"Office 3/2/2026. {_hhmm(events[0][1])} {drug} IVPB started via L hand PIV."]
    lines += [f"{_hhmm(t)} infusion {_NOTE_WORDS[a]}." for a, t in events[1:]]
    note_adms = adms("\n".join(lines))

    assert len(note_adms) == len(mar_adms) == 1
    n, m = note_adms[0], mar_adms[0]
    assert n["route"] == m.route == "iv_infusion"
    assert (n["start"], n["stop"]) == (m.start[11:16], m.stop[11:16])
    assert [(i["start"], i["stop"]) for i in n.get("interruptions", [])] == \
        [(i.start[11:16], i.stop[11:16]) for i in m.interruptions]


# ------------------------------------------------------------------ flowsheet-style notes
def test_times_on_lines_that_name_no_drug_belong_to_the_drug_just_described():
    got = adms("Office visit. IVIG (Privigen) 40 g via L AC 22g PIV.\n"
               "Start time 8:30 AM at 30 mL/hr; 9:00 AM rate 60 mL/hr; 9:30 AM rate 120 mL/hr.\n"
               "Infusion held 10:15-10:30 for chills; resumed at 60 mL/hr.\nEnd time 12:50 PM. PIV removed.")
    assert [(key(a), a["start"], a["stop"], a["interruptions"]) for a in got] == \
        [("immune_globulin", "08:30", "12:50", [{"start": "10:15", "stop": "10:30"}])]


def test_a_time_leading_a_flowsheet_line_takes_the_lines_action():
    memo = case_memo("HOPD 3/2/2026.\n0900 Paclitaxel 140 mg in 250 mL NS IV infusion started via port, rate 250 mL/hr.\n"
                     "1000 paclitaxel infusion complete.", RS)
    assert [(a["start"], a["stop"]) for a in memo.encounter["administrations"]] == [("09:00", "10:00")]
    assert not any("taken as the start time" in q for q in memo.questions)


def test_a_second_liter_hung_as_the_first_ends_is_one_continuous_hydration():
    got = adms("ED 3/2/26.\nNS 1 L bolus from 1310 until 1420.\nSecond liter NS hung 1420, completed 1530.")
    assert [(key(a), a["start"], a["stop"]) for a in got] == [("normal_saline", "13:10", "15:30")]


def test_heparin_after_a_flush_in_the_same_clause_is_line_care():
    got = adms("HOPD 3/2/2026. Vancomycin 1 g IVPB 0915-1030 via port.\n"
               "1005 port flushed with 10 mL NS and heparin 500 units, de-accessed.")
    assert [key(a) for a in got] == ["vancomycin"]


def test_a_push_and_a_pump_of_the_same_drug_are_two_administrations():
    memo = case_memo("Infusion center 03/02/2026. PIV L forearm.\n1035 5-FU 400 mg IV push given.\n"
                     "1040 5-FU 2400 mg/m2 continuous infusion via CADD pump connected, to run 46 hours.", RS)
    got = memo.encounter["administrations"]
    assert [(a["route"], a["start"], a.get("pump", False), a.get("minutes")) for a in got] == \
        [("iv_push", "10:35", False, None), ("iv_infusion", "10:40", True, 46 * 60)]
    assert ("96416", 1) in admin_codes(memo)


# --- issue 13, wave 2: the last silent-wrong and decoy notes ---------------------------------------------------------

def test_clinic_without_whose_it_is_asks_for_the_setting():
    # a clinic may be a hospital department (facility claim) or a physician office (CMS IOM 100-04 ch.4 s.230.2)
    memo = case_memo("Hem/Onc clinic - sickle cell pain\n1000 morphine 4 mg IVP via R AC PIV.\n"
                     "1100 morphine 4 mg IVP repeated.", RS, default_date="2026-03-02")
    assert any(f["rule"] == "intake.setting" and "clinic" in f["message"] for f in memo.findings)


def test_clinic_of_a_hospital_department_is_a_facility_without_a_setting_question():
    memo = case_memo("GI infusion clinic (hospital dept)\n1000 morphine 4 mg IVP via R AC PIV.", RS,
                     default_date="2026-03-02")
    assert memo.encounter["setting"] == "facility"
    assert not any(f["rule"] == "intake.setting" for f in memo.findings)


def test_kvo_fluid_after_a_push_is_line_care_not_hydration():
    # NS run only to keep the vein open is not hydration (CPT hydration guideline; CMS IOM 100-04 ch.4 s.230.2)
    note = ("Infusion MAR - hospital outpatient\n0900 NS 250 mL IV started KVO\n"
            "0915 Venofer 200 mg IVP given over 5 min\n1000 NS stopped")
    ns = next(a for a in adms(note) if key(a) != "iron_sucrose")
    assert ns["indication"].lower() == "kvo"
    memo = case_memo(note, RS, default_date="2026-03-02")
    assert admin_codes(memo) == [("96374", 1)]


def test_drug_in_an_infusion_center_title_and_held_below_is_not_coded():
    note = ("Infusion center (HOPD) - pancreatic ca, gemcitabine C3D8\n"
            "gemcitabine 1000 mg/m2 HELD today for ANC 0.8 - not given, per Dr. Lee.\n"
            "1005 Zofran 8 mg IVP.")
    assert [key(a) for a in adms(note)] == ["ondansetron"]


def test_bag_one_complete_as_bag_two_is_hung_is_one_running_infusion():
    # the MAR twin (tests/notes/mar/ob-02-...csv) logs Given, New Bag, Completed: one infusion 23:20-01:20
    note = ("Obs - hypokalemia\n07/01/2024 2320 KCl 10 mEq/100 mL IVPB #1 started at 100 mL/h.\n"
            "07/02/2024 0020 #1 complete, KCl 10 mEq/100 mL #2 hung.\n07/02/2024 0120 #2 complete.")
    kcl = adms(note)
    assert [(a["start"], a["stop"]) for a in kcl] == [("2024-07-01T23:20", "2024-07-02T01:20")] or \
        [(a["start"], a["stop"]) for a in kcl] == [("23:20", "2024-07-02T01:20")]
    memo = case_memo(note, RS, default_date="2026-03-02")
    assert memo.encounter["setting"] == "facility"
    assert not any("no drug named" in q for q in memo.questions)


def test_a_note_duration_is_read_with_the_shared_duration_grammar():
    # "1 1/2 hrs" was a question-only form before the vocabulary was one (vocabulary/durations.py)
    (a,) = adms("Office. Rocephin 1 g IV infusion started 1000, infused over 1 1/2 hrs via R AC PIV.")
    assert a.get("minutes") == 90 or a.get("stop") == "11:30"


def test_patient_flushed_is_a_reaction_and_the_hold_is_read():
    note = ("Hospital infusion center.\n0900 infliximab 500 mg/250 mL NS started @ 10 mL/h\n"
            "0945 pt flushed, itchy - infusion held\n1015 resumed @ 40 mL/h\n1200 infusion complete")
    (a,) = adms(note)
    assert a["interruptions"] == [{"start": "09:45", "stop": "10:15"}]


def test_first_run_complete_second_hung_is_one_running_order():
    note = ("ED nursing - hypokalemia\n1700 KCl 10 mEq/100 mL IVPB started at 100 mL/h via pump.\n"
            "1800 1st run complete, 2nd KCl 10 mEq/100 mL hung at 100 mL/h.\n1900 2nd run complete.")
    assert [(a["start"], a["stop"]) for a in adms(note)] == [("17:00", "19:00")]


def test_second_liter_complete_is_the_end_of_the_fluid():
    note = ("OB day infusion unit (hospital)\n0900 NS 1 L started at 1000 mL/h for dehydration.\n"
            "1030 first liter in. New bag NS 1 L hung at 500 mL/h.\n1230 second liter complete. d/c.")
    assert [(a["start"], a.get("stop")) for a in adms(note)] == [("09:00", "12:30")]


def test_drug_infused_at_a_time_is_its_end():
    note = "Infusion center (HOPD)\n1000 Actemra 560 mg/100 mL NS started.\n1105 Actemra infused. No reaction."
    assert [(a["start"], a.get("stop")) for a in adms(note)] == [("10:00", "11:05")]


def test_infused_over_is_a_duration_not_an_end():
    note = "Office. Rocephin 1 g IV started 1000, infused over 30 minutes via R AC PIV."
    (a,) = adms(note)
    assert a["start"] == "10:00" and a.get("stop") is None


def test_fluid_bolus_then_maintenance_rate_is_one_infusion():
    note = ("Observation - syncope\n07/03/2024 1900 LR 1 L bolus started via R AC 18g.\n"
            "07/03/2024 2000 bolus in; LR rate decreased to 100 mL/h maintenance.\n"
            "07/04/2024 0800 LR stopped, PIV saline locked.")
    assert [(a["start"], a.get("stop")) for a in adms(note)] == [("19:00", "2024-07-04T08:00")]


def test_a_title_naming_the_drug_documented_below_is_not_a_second_administration():
    note = ("HOPD infusion - 5-FU pump start, rectal ca\n1200 L chest port accessed, flushed 10 mL NS.\n"
            "1215 fluorouracil 2800 mg continuous infusion via CADD ambulatory pump connected, to run over 46 h.")
    assert [key(a) for a in adms(note)] == ["fluorouracil"]


def test_a_first_line_saying_the_drug_was_given_is_not_a_title():
    _, ex, _ = parse_note("Zofran IVP given for nausea\n1100 Zofran 4 mg IVP repeated.", RS, default_date="2026-03-02")
    assert not [e for e in ex if e.field == "order"]


def test_two_names_of_one_drug_written_together_are_coded_as_that_drug():
    (a,) = adms("Office (non-facility). Dx CIDP. Gamunex-C / IVIG 40 g.\n0910 IVIG started at 60 mL/h.\n1300 IVIG done.")
    assert key(a) == "immune_globulin" or RS.drugs.match(a["drug"]) is not None


@pytest.mark.parametrize("written,name,code", [
    ("IVIG (Gammagard) 30 g", "Gammagard", "J1569"),        # the product named, not IVIG's NOS code J1599
    ("Gamunex-C / IVIG 30 g", "Gamunex-C", "J1561"),
    ("IVIG 30 g", "IVIG", "J1599"),                          # no product named: the NOS code
    ("Remicade (infliximab) 400 mg", "Remicade", "J1745"),   # two names of one code: the first as written
])
def test_a_product_named_beside_the_generic_name_gives_the_product_s_code(written, name, code):
    memo = case_memo(f"Infusion center 3/2/2026. {written} IV started 0830.\nInfusion completed 1045.", RS)
    (a,) = memo.encounter["administrations"]
    assert a["drug"] == name
    assert [(line.code, line.rule) for line in memo.result.lines if line.kind != "administration"] == \
        [(code, "drug.billing_units")]


@pytest.mark.parametrize("written,quoted", [("IVIG (Gammagard) 30 g", "IVIG (Gammagard)"),
                                            ("IVIG ( Privigen ) 30 g", "IVIG ( Privigen )"),
                                            ("Gamunex-C / IVIG 30 g", "Gamunex-C / IVIG")])
def test_the_words_quoted_for_a_drug_named_twice_close_their_parenthesis(written, quoted):
    _, ex, _ = parse_note(f"Infusion center 3/2/2026. {written} IV started 0830.\nInfusion completed 1045.", RS)
    assert [e.text for e in ex if e.field.endswith(".drug")] == [quoted]


def test_a_drug_running_at_the_same_time_shares_the_clause_time():
    note = ("Cancer Center infusion (hospital outpatient dept)\n"
            "1030 irinotecan 330 mg/500 mL D5W started, leucovorin 750 mg/250 mL D5W running at the same time via Y-site.\n"
            "1200 irinotecan and leucovorin complete.")
    assert sorted((key(a), a["start"], a.get("stop")) for a in adms(note)) == [
        ("irinotecan", "10:30", "12:00"), ("leucovorin", "10:30", "12:00")]


def test_a_drug_given_later_does_not_take_the_clause_time():
    note = "ED. 1000 Zofran 4 mg IVP given, Toradol 15 mg IVP given later."
    toradol = [a for a in adms(note) if key(a) == "ketorolac"]
    assert all(a.get("start") != "10:00" for a in toradol)


def test_an_unnamed_antibiotic_is_read_and_asked_for_never_coded():
    memo = case_memo("ED nursing - UTI\n1000 abx IVPB started per order.\n1045 abx complete.", RS,
                     default_date="2026-03-02")
    assert admin_codes(memo) == []
    assert any(f["rule"] == "intake.unnamed_drug" for f in memo.findings)
    assert [(a["start"], a["stop"]) for a in memo.encounter["administrations"]] == [("10:00", "10:45")]


def test_a_class_word_next_to_the_drug_name_is_not_a_second_drug():
    note = "ED. 1000 Rocephin (antibiotic) 1 g IVPB started. 1030 Rocephin complete."
    assert [key(a) for a in adms(note)] == ["ceftriaxone"]


def test_obs_as_a_vital_signs_heading_does_not_make_a_facility_note():
    memo = case_memo("Obs: BP 120/80, HR 72.\n1000 Zofran 4 mg IVP via R AC PIV.", RS, default_date="2026-03-02")
    assert any(f["rule"] == "intake.setting" for f in memo.findings)   # not silently a facility claim


# every phrase form of the action words (actions._ACTION_WORDS), each in a sentence of a note
_ACTION_PHRASES = (
    "held 1015", "paused", "on hold", "interrupted", "stopped temporarily", "temporarily stopped", "re-started",
    "restarted", "resumed", "restarting", "resume", "new bag", "bag changed", "bag change", "bag # 2", "second liter",
    "2nd bag", "another litre", "next l hung", "re-hung", "rehung", "#2 hung", "# 3 started", "rate increased",
    "rate up", "rate to 200", "rate 2", "titrated", "titration", "increased", "decreased", "inc rate", "dec rate",
    "advanced", "rate change", "completed", "completion", "stops", "ended", "finishes", "done", "off", "d/c'd", "dcd",
    "dc'd", "dc'ed", "d/cd", "discontinued", "infused by", "ran until", "disconnected", "until", "till", "infused",
    "being infused", "infused over", "started", "strt", "begin", "began", "begun", "initiated", "init", "hung",
    "commenced", "infusing", "running", "connected", "applied", "attached", "on at", "from", "accessed", "access",
    "de-accessed", "deaccessed", "placed", "inserted", "flushed", "pt flushed", "flush", "locked", "hep lock",
    "heplock", "removed", "pulled", "blood return", "labs drawn", "lab drawn", "drawn", "vitals", "vital", "vs",
    "assessed", "given", "administered", "pushed", "injected", "push", "at", "@", "Started", "HELD", "Dc'd",
)


def test_action_scan_finds_what_the_full_scan_finds():
    """actions.find_actions tries the action regex only where a phrase can start (its first-run table); it
    must find exactly the matches of one full ACTION_RE pass, or a phrase form was left out of the table."""
    from infucode.knowledge.intake import actions

    texts = [f"0830 Remicade {p} 0915, NS {p}; {p}." for p in _ACTION_PHRASES]
    texts += [" ".join(_ACTION_PHRASES), "ſtarted 1030, Kelvin \u212astart ıt"]
    for text in texts:
        want = [(m.start(), m.end(), m.lastgroup) for m in actions.ACTION_RE.finditer(text)]
        got = [(m.start(), m.end(), m.lastgroup) for m in actions.find_actions(text)]
        assert got == want, text


def _pushes(n: int) -> str:
    return "07/01/2024 ED note, hospital outpatient.\n" + "\n".join(
        f"Zofran 4 mg IVP at {(360 + 4 * i) // 60:02d}:{(360 + 4 * i) % 60:02d} via R AC PIV." for i in range(n))


def test_a_note_of_more_administrations_than_a_visit_holds_is_not_coded_and_says_why():
    """memo.MAX_NOTE_ADMINISTRATIONS: at the limit the note is coded; one more and it is refused with a
    question, every administration still listed (none dropped)."""
    from infucode.knowledge.intake.memo import MAX_NOTE_ADMINISTRATIONS

    at = case_memo(_pushes(MAX_NOTE_ADMINISTRATIONS), RS)
    assert len(at.encounter["administrations"]) == MAX_NOTE_ADMINISTRATIONS
    assert at.result is not None and at.result.lines
    over = case_memo(_pushes(MAX_NOTE_ADMINISTRATIONS + 1), RS)
    assert len(over.encounter["administrations"]) == MAX_NOTE_ADMINISTRATIONS + 1
    assert over.result is None
    assert "MAX_NOTE_ADMINISTRATIONS" in over.error
    assert over.findings[0]["rule"] == "intake.too_many_administrations"


def test_a_long_note_under_the_limit_is_read_to_its_last_line():
    """A long note under memo.MAX_NOTE_CHARS is read whole: the push on its last line, after some 60 KB of
    assessment lines, is coded."""
    from infucode.knowledge.intake.memo import MAX_NOTE_CHARS

    filler = "Pt resting, denies pain; skin warm and dry, call light in reach.\n" * 900
    text = _pushes(3) + "\n" + filler + "Toradol 15 mg IVP at 23:10 via R AC PIV.\n"
    assert 0.8 * MAX_NOTE_CHARS < len(text) <= MAX_NOTE_CHARS
    memo = case_memo(text, RS)
    drugs = [a["drug"] for a in memo.encounter["administrations"]]
    assert len(drugs) == 4 and drugs[-1].lower() in ("toradol", "ketorolac")
    assert memo.result is not None and memo.error is None


def test_a_note_longer_than_one_visit_is_refused_unread_and_says_why():
    """memo.MAX_NOTE_CHARS: at the limit the note is read (its one push coded); one character more and nothing
    is read: no administration, no result, an error naming the limit and a question (intake.note_too_long)."""
    from infucode.knowledge.intake.memo import MAX_NOTE_CHARS

    head = "07/01/2024 ED note, hospital outpatient.\nZofran 4 mg IVP at 06:00 via R AC PIV.\n"
    at = head + "x" * (MAX_NOTE_CHARS - len(head))
    assert len(at) == MAX_NOTE_CHARS
    memo = case_memo(at, RS)
    assert [a["drug"].lower() for a in memo.encounter["administrations"]] in (["zofran"], ["ondansetron"])
    assert memo.result is not None and memo.error is None
    over = case_memo(at + "x", RS)
    assert over.encounter["administrations"] == [] and over.result is None
    assert "MAX_NOTE_CHARS" in over.error and f"{MAX_NOTE_CHARS + 1:,} characters" in over.error
    assert [f["rule"] for f in over.findings] == ["intake.note_too_long"]
    assert "not read" in render_memo(over)


@pytest.mark.parametrize("text", ["07/01/2024 clinic. Zofran 4 mg IVP 0900 L hand PIV.",
                                  "07/01/2024 clinic. Zofran 4 mg IVP given 0900 L hand."])
def test_a_time_before_a_left_side_site_is_a_time_not_litres(text):
    # "0900 L hand": L is the left side (the litre reading lost the time and asked "no time given")
    enc, _, questions = parse_note(text, RS)
    assert [(a["drug"], a["start"]) for a in enc["administrations"]] == [("Zofran", "09:00")]
    assert not any("no time given" in q for q in questions)
    assert find_times("NS 1000 L bag") == [] and find_times("0825 L forearm PIV placed")[0].value == "08:25"


# ------------------------------------------------------------------ an ED night without dates on its lines
ED_NIGHT = """ED nursing note 12/02/2026
2215 18g R AC PIV placed. Labs drawn.
2220 NS 1000 mL bolus started wide open for dehydration.
2225 Zofran 4 mg IVP.
2320 NS bolus complete. NS 125 mL/hr maintenance started.
0130 Rocephin 1 g IVPB started, infused over 30 min, 0200 complete.
0600 NS stopped, PIV saline locked.
"""


def test_a_bolus_complete_then_maintenance_started_on_one_line_is_one_running_fluid():
    """The maintenance rate shares the line's 2320 and the fluid runs on to 0600: one hydration 22:20-06:00,
    not a bolus that ends at 23:20 and a stop that is thrown away."""
    [ns] = [a for a in adms(ED_NIGHT) if key(a) == "normal_saline"]
    assert (ns["start"], ns["stop"]) == ("22:20", "2026-12-03T06:00")


def test_a_drug_first_given_after_midnight_is_dated_the_next_day_and_asked_about():
    """0130 after 2320 with no date: the next day (else the ceftriaxone would sit before the fluid and its 30
    minutes would not come off the hydration). 460 minutes of fluid less 30 alongside the drug: 96361 x7."""
    memo = case_memo(ED_NIGHT, RS)
    [ceftriaxone] = [a for a in memo.encounter["administrations"] if key(a) == "ceftriaxone"]
    assert ceftriaxone["start"] == "2026-12-03T01:30" and ceftriaxone["stop"] == "2026-12-03T02:00"
    assert any("taken as the next day (2026-12-03)" in q for q in memo.questions)
    assert dict(admin_codes(memo)).get("96365") == 1
    assert sum(u for c, u in admin_codes(memo) if c == "96361") == 7


def test_a_late_entry_a_little_earlier_is_the_same_day():
    """1400 then 1330 (a late entry): the same day, no question about the date."""
    memo = case_memo("Office 03/02/2026. 1400 NS 1 L started for dehydration, 1500 complete.\n"
                     "1330 Zofran 4 mg IVP (late entry).", RS)
    [zofran] = [a for a in memo.encounter["administrations"] if key(a) == "ondansetron"]
    assert zofran["start"] == "13:30"
    assert not any("next day" in q for q in memo.questions)
