"""The shared vocabulary (issue 13): route words, clock times, dates, durations, ranges, drug names."""
from __future__ import annotations

import pytest

from infucode.vocabulary import (NOT_ADMINISTRATION_SERVICES, NameIndex, find_dates, find_durations, find_route_words,
                                 find_times, is_range_separator, parse_duration, parse_timestamp, route_of_words)


@pytest.mark.parametrize("written,route", [
    ("IV", "iv"), ("IVP", "iv_push"), ("IV push", "iv_push"), ("slow IV push", "iv_push"), ("IVPB", "iv_infusion"),
    ("piggyback", "iv_infusion"), ("IV infusion", "iv_infusion"), ("SQ", "sc"), ("SC", "sc"), ("subQ", "sc"),
    ("sub-q", "sc"), ("subcut", "sc"), ("Subcutaneous", "sc"), ("SC infusion", "sc_infusion"), ("IM", "im"),
    ("intramuscular", "im"), ("intra-arterial", "intra_arterial"), ("CADD ambulatory pump", "iv_infusion"),
])
def test_engine_routes_from_their_abbreviations(written, route):
    assert route_of_words(written) == (route, None)


@pytest.mark.parametrize("written", ["PO", "p.o.", "by mouth", "SL", "sublingual", "PR", "rectal", "topical",
                                     "transdermal", "inhaled", "neb", "nebulized"])
def test_oral_sublingual_rectal_topical_inhaled_are_never_a_service(written):
    assert route_of_words(written) == (None, "not_a_service")


@pytest.mark.parametrize("written,problem", [("", "unknown"), ("as directed", "unknown")])
def test_routes_without_an_engine_route(written, problem):
    assert route_of_words(written) == (None, problem)


@pytest.mark.parametrize("written,route", [("intrathecal", "intrathecal"), ("on-body injector", "on_body_injector"),
                                           ("Ommaya", "cns_reservoir"), ("Port flush", "flush")])
def test_route_cells_name_the_routes_with_a_code_of_their_own(written, route):
    """Issue 14: the input contract has these routes now; a route cell (MAR, FHIR) reaches them."""
    assert route_of_words(written) == (route, None)


def test_a_note_still_holds_the_on_body_injector_with_a_question():
    """The note reader reads concepts, not cells: it keeps its question (its wiring is left for later)."""
    from infucode.vocabulary import resolve_route
    assert resolve_route({"on_body_injector"}) == (None, "unsupported")


def test_the_never_a_service_set_is_the_non_parenteral_routes():
    assert NOT_ADMINISTRATION_SERVICES == {"po", "sl", "pr", "topical", "inhaled"}


def test_line_care_words_are_their_own_concepts():
    assert [h.concept for h in find_route_words("NS at KVO, then hep lock")] == ["kvo", "hep_lock"]


def test_lower_case_pr_and_it_are_ordinary_words():
    assert find_route_words("give it to the pt pr n") == []


@pytest.mark.parametrize("written,value", [("0830", "08:30"), ("8:30", "08:30"), ("8:30 AM", "08:30"),
                                           ("8:30 pm", "20:30"), ("8 PM", "20:00"), ("0830h", "08:30"),
                                           ("08:30:00", "08:30"), ("12:15 a.m.", "00:15"), ("2359", "23:59")])
def test_clock_times(written, value):
    assert [t.value for t in find_times(f"started {written} via PIV")] == [value]


@pytest.mark.parametrize("written", ["1000 mL", "J1745", "2500 units", "#1234", "0.9%", "2460"])
def test_numbers_that_are_not_clock_times(written):
    assert find_times(f"NS {written} given") == []


@pytest.mark.parametrize("written,value", [("03/02/2026", "2026-03-02"), ("3/2/26", "2026-03-02"),
                                           ("2026-03-02", "2026-03-02"), ("Mar 2, 2026", "2026-03-02"),
                                           ("March 2nd 2026", "2026-03-02"), ("2 March 2026", "2026-03-02")])
def test_dates(written, value):
    assert [d.value for d in find_dates(f"DOS {written}.")] == [value]


def test_an_impossible_date_is_no_date():
    assert find_dates("on 2/30/2026") == []


@pytest.mark.parametrize("written,minutes", [("1 hour 45 minutes", 105), ("1h45", 105), ("105 min", 105),
                                             ("1.5 hr", 90), ("an hour", 60), ("2 hours", 120), ("46 hours", 2760),
                                             ("two and a half", None)])
def test_durations(written, minutes):
    assert parse_duration(f"over {written}") == minutes


def test_durations_are_found_with_their_span():
    text = "IVPB over 30 min"
    (hit,) = find_durations(text)
    assert text[hit.start:hit.end] == "30 min" and hit.minutes == 30


@pytest.mark.parametrize("text", ["08:30 to 12:45", "0830-1245", "from 0830 until 1245", "0830 - 1245",
                                  "0830 through 1245"])
def test_clock_ranges(text):
    a, b = find_times(text)
    assert (a.value, b.value) == ("08:30", "12:45") and is_range_separator(text[a.end:b.start])


def test_not_a_range():
    a, b = find_times("0830 started, stopped 1245")
    assert not is_range_separator(text := "0830 started, stopped 1245"[a.end:b.start]) and text


def test_timestamps_from_exports():
    assert parse_timestamp("2026-03-02T08:30").isoformat() == "2026-03-02T08:30:00"
    assert parse_timestamp("03/02/2026 08:30", ["%m/%d/%Y %H:%M"]).isoformat() == "2026-03-02T08:30:00"
    assert parse_timestamp("2026-03-02") is None      # a date alone is no time of day


def test_name_index_finds_longest_names_whole_words_and_case_rules():
    idx = NameIndex(["sodium chloride", "sodium chloride 0.9%", "NS", "Flagyl", "metronidazole", "5-FU"])
    text = "Flagyl (metronidazole) in 100 mL sodium chloride 0.9%; ns 500 mL; NS flush; ins; 5-FU; the ns"
    assert [h.name for h in idx.find(text)] == ["Flagyl", "metronidazole", "sodium chloride 0.9%", "NS", "NS", "5-FU"]


@pytest.mark.parametrize("written,stage_c", [("ondansetron HCl 4 mg IVP", "ondansetron"),
                                             ("Vancomycin 1 g in 250 mL NS", "vancomycin"),
                                             ("methylprednisolone sodium succinate", "methylprednisolone")])
def test_drug_name_stages_drop_doses_forms_diluents_and_salts(written, stage_c):
    from infucode.vocabulary.drug_names import name_stages

    assert name_stages(written)[3] == stage_c


@pytest.mark.parametrize("written,key", [("Remicade (infliximab)", "infliximab"), ("Zofran", "ondansetron"),
                                         ("0.9% sodium chloride", "normal_saline"), ("ondansetron HCl", "ondansetron")])
def test_brand_generic_salts_and_concentrations_reach_the_catalog_name(written, key):
    from infucode import load_ruleset

    assert load_ruleset().drugs.match(written).drug.key == key


def test_one_duration_grammar_for_notes_and_questions():
    # issue 13: the note reader and the question reader share one implementation
    from infucode.vocabulary import clock, durations
    assert find_durations is durations.find_durations and parse_duration is durations.parse_duration
    assert not hasattr(clock, "find_durations")


def test_durations_of_a_span_of_the_text():
    text = "NS over 2 hrs; then zosyn over 1 1/2 hrs"
    assert [d.minutes for d in find_durations(text, text.index("zosyn"))] == [90]


def test_a_range_word_table_shared_by_note_and_question_readers():
    from infucode.vocabulary import RANGE_WORDS, find_clock_range
    for word in RANGE_WORDS:
        a, b = find_times(f"0830 {word} 1245")
        assert is_range_separator(f" {word} ") and find_clock_range(f"0830 {word} 1245").minutes == 255


# --- the shared word set and the gates built on it (issue 13, 1 MB speed): each gate may only skip a scan
# that could not have found anything
def test_distinct_words_is_the_regex_word_set():
    import re

    from infucode.vocabulary.names import distinct_words, letter_runs
    text = "IVIG 2nd bag D5W\u00a0at 08:30; pt_ok caf\u00e9 \ud800x 5-FU/NS"
    assert distinct_words(text) == {w.lower() for w in re.findall("[A-Za-z0-9]+", text)}
    assert letter_runs(distinct_words(text)) == {w.lower() for w in re.findall("[A-Za-z]+", text)}


def test_folded_letters_turn_the_word_gates_off():
    from infucode.knowledge.intake.sections import find_sections
    from infucode.vocabulary.names import folds_to_ascii
    assert folds_to_ascii("hi\u017ftory") and not folds_to_ascii("history caf\u00e9")
    text = "Hi\u017ftory: Zofran at home\nZofran 4 mg IVP 10:15"
    assert [s.kind for s in find_sections(text, words={"zofran"}).sections] == ["history"]


@pytest.mark.parametrize("text,minutes", [
    ("onehour", [60]), ("1h45", [105]), ("1 \u00bd hr", [90]), ("over forty-five minutes", [45]),
    ("2 Hours", [120]), ("an hour and a half", [90]), ("half-hour", [30]), ("30 mL/hr via pump", []),
    ("with NS from 10:00", []), ("1 hour 75 minutes", [60, 75]),
])
def test_duration_gate_keeps_every_duration(text, minutes):
    assert [d.minutes for d in find_durations(text, bare_colon=False)] == minutes
