"""Structured input in spreadsheet forms (issue 15): read through the one vocabulary, said in the result, and
errors that name the field, the encounter, the real line, and the bad value only when it is a vocabulary form."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infucode import code_encounter, load_ruleset
from infucode.adapters.encounter_io import iter_encounters
from infucode.cli import app
from infucode.model import InputError
from infucode.vocabulary import route_of_words

RS = load_ruleset()
PATIENT = "John Q Patient MRN-99887766"


def enc(**adm) -> dict:
    a = {"id": "a1", "drug": "ceftriaxone", "route": "iv_infusion", "start": "08:00", "stop": "09:00", **adm}
    return {"id": "e1", "setting": "office", "date": "2024-07-01", "administrations": [a]}


def read_as(result) -> list[str]:
    return [f.message for f in result.findings if f.rule == "input.read_as"]


@pytest.mark.parametrize("written", ["IV Infusion", "IV Push", "IM", "SQ", "Subcutaneous", "IVPB", "iv push"])
def test_route_forms_read_as_the_mar_reader_reads_them(written):
    """The same words as the MAR reader (vocabulary.route_of_words): one table, not a second one."""
    expected, _ = route_of_words(written)
    result = code_encounter(enc(route=written), RS)
    assert read_as(result) == [f"administration a1: route '{written}' read as {expected}"]


def test_ceftriaxone_im_is_an_injection_not_an_infusion():
    result = code_encounter(enc(route="IM", stop=None), RS)
    assert [(l.code, l.units) for l in result.lines if l.kind == "administration"] == [("96372", 1)]
    assert not [f for f in result.findings if f.rule.startswith("doc.missing")]


@pytest.mark.parametrize("date", ["7/1/2024", "07/01/2024"])
@pytest.mark.parametrize("start, stop, minutes", [("8:30 AM", "10:45 AM", 135), ("0830", "1045", 135)])
def test_dates_and_times_in_spreadsheet_forms(date, start, stop, minutes):
    e = enc(start=start, stop=stop)
    e["date"] = date
    result = code_encounter(e, RS)
    assert [(l.code, l.units, l.date) for l in result.lines if l.kind == "administration"] == [
        ("96365", 1, "2024-07-01"), ("96366", 1, "2024-07-01")]
    notes = read_as(result)
    assert f"date '{date}' read as 2024-07-01" in notes
    if ":" in start:   # 0830 is the contract's own form: nothing to say
        assert f"administration a1: start '{start}' read as 08:30" in notes
    else:
        assert not [n for n in notes if "start" in n]


def test_a_date_and_time_in_one_cell_is_an_iso_datetime():
    result = code_encounter(enc(start="7/1/2024 11:00 PM", stop="7/2/2024 1:00 AM"), RS)
    assert [(l.code, l.units) for l in result.lines if l.kind == "administration"] == [("96365", 1), ("96366", 1)]


@pytest.mark.parametrize("route", ["PO", "Oral"])
def test_a_route_that_is_no_service_stays_an_error_naming_field_and_encounter(route):
    with pytest.raises(InputError) as exc:
        code_encounter(enc(route=route), RS)
    assert (exc.value.field, exc.value.encounter) == ("administrations[0].route", "e1")
    assert f"'{route}'" in exc.value.message and "not a drug-administration service" in exc.value.message


@pytest.mark.parametrize("field, value", [("route", PATIENT), ("route", "given in the left arm by nurse"),
                                          ("start", PATIENT), ("start", "about half past eight")])
def test_free_text_is_never_read_nor_quoted(field, value):
    with pytest.raises(InputError) as exc:
        code_encounter(enc(**{field: value}), RS)
    assert exc.value.field == f"administrations[0].{field}"
    assert value not in exc.value.message and "John" not in exc.value.message


def test_a_bad_closed_vocabulary_value_is_quoted():
    with pytest.raises(InputError) as exc:
        code_encounter(enc(route="iv_drip"), RS)
    assert "'iv_drip'" in exc.value.message
    with pytest.raises(InputError) as exc:
        code_encounter(enc(stop="25:00"), RS)
    assert "'25:00'" in exc.value.message and exc.value.field == "administrations[0].stop"


def test_yaml_errors_give_the_line_of_the_field(tmp_path):
    """A bad value on line 7 (read by the decoder) and on line 9 (read by the engine): those lines, not line 1."""
    p = tmp_path / "e.yaml"
    p.write_text('id: e1\nsetting: office\ndate: "2024-07-01"\nadministrations:\n  - id: a1\n    drug: ceftriaxone\n'
                 '    route: iv_drip\n    start: "08:00"\n    stop: "09:00"\n')
    [(err, line)] = list(iter_encounters(p))
    assert isinstance(err, InputError) and (err.line, line, err.field) == (7, 7, "administrations[0].route")
    p.write_text(p.read_text().replace("iv_drip", "iv_infusion").replace('stop: "09:00"', 'stop: "29:00"'))
    r = CliRunner().invoke(app, ["code", str(p)])
    assert r.exit_code == 1 and "line 9, field administrations[0].stop" in r.stderr


def test_the_cli_says_what_it_read(tmp_path):
    p = tmp_path / "sheet.json"
    p.write_text(json.dumps(enc(route="IV Push", start="8:30 AM", stop=None)))
    out = json.loads(CliRunner().invoke(app, ["code", str(p), "--format", "json"]).stdout)
    messages = [f["message"] for f in out["findings"] if f["rule"] == "input.read_as"]
    assert messages == ["administration a1: route 'IV Push' read as iv_push", "administration a1: start '8:30 AM' read as 08:30"]
    assert [l["code"] for l in out["lines"] if l["kind"] == "administration"] == ["96374"]
    assert "ceftriaxone" not in " ".join(messages)


SHEET = ("Encounter ID,Setting,Date,Administration ID,Drug,Route,start_time,stop_time,Nurse\n"
         "e1,office,7/1/2024,a1,ceftriaxone,IV Infusion,8:30 AM,10:45 AM,RN17\n"
         "e1,office,7/1/2024,a2,ondansetron,IV Push,8:20 AM,,RN17\n")


def test_title_case_headers_and_synonyms_are_administration_rows_not_a_mar_log(tmp_path):
    p = tmp_path / "sheet.csv"
    p.write_text(SHEET)
    r = CliRunner().invoke(app, ["code", str(p), "--format", "json"])
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert [(l["code"], l["units"]) for l in out["lines"] if l["kind"] == "administration"] == [
        ("96365", 1), ("96366", 1), ("96375", 1)]
    [unknown] = [f for f in out["findings"] if f["rule"] == "input.unknown_column"]
    assert unknown["severity"] == "warning" and "'nurse'" in unknown["message"]
    assert "RN17" not in r.stdout


def test_the_synonym_table_is_documented_in_the_readme():
    from infucode.adapters.flat import HEADER_SYNONYMS
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for synonym, ours in HEADER_SYNONYMS.items():
        assert synonym in readme and ours in readme


def test_batch_reads_the_same_synonyms(tmp_path):
    from infucode.batch import run_batch
    p = tmp_path / "sheet.csv"
    p.write_text(SHEET)
    done = run_batch(p, tmp_path / "out.jsonl", workers=1)
    assert (done.coded, done.failed) == (1, 0)
    [row] = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(l["code"], l["units"]) for l in row["lines"] if l["kind"] == "administration"] == [
        ("96365", 1), ("96366", 1), ("96375", 1)]


# ------------------------------------------------------------------ stop before start (clock-only times)
def test_a_hand_typed_stop_before_start_is_an_error_not_a_23_hour_infusion():
    result = code_encounter(enc(start="10:00", stop="09:00"), RS)
    assert [f.rule for f in result.findings if f.severity == "error"] == ["doc.stop_before_start"]
    assert not [l for l in result.lines if l.kind == "administration"]
    assert "longest_clock_only_overnight_minutes" in result.findings[0].message


@pytest.mark.parametrize("start, stop, units", [
    ("22:00", "01:30", [("96365", 1, "2024-07-01"), ("96366", 1, "2024-07-01"), ("96366", 1, "2024-07-02")]),
    ("20:00", "08:00", [("96365", 1, "2024-07-01"), ("96366", 3, "2024-07-01"), ("96366", 8, "2024-07-02")]),  # 12 h: the limit
])
def test_an_overnight_infusion_on_clock_times_within_the_limit_still_crosses_midnight(start, stop, units):
    result = code_encounter(enc(drug="vancomycin", start=start, stop=stop), RS)
    assert [(l.code, l.units, l.date) for l in result.lines if l.kind == "administration"] == units


def test_a_longer_overnight_infusion_is_written_with_dates():
    over = code_encounter(enc(drug="vancomycin", start="20:00", stop="08:01"), RS)
    assert "doc.stop_before_start" in [f.rule for f in over.findings]
    dated = code_encounter(enc(drug="vancomycin", start="2024-07-01T20:00", stop="2024-07-02T10:00"), RS)
    assert sum(l.units for l in dated.lines if l.code == "96366") == 13
    assert "doc.stop_before_start" not in [f.rule for f in dated.findings]


def test_the_overnight_limit_is_a_named_dated_sourced_limit():
    from infucode.reference.policies import PolicyCatalog
    limit = PolicyCatalog.load().limits["longest_clock_only_overnight_minutes"]
    assert (limit.value, limit.unit) == (720, "minutes") and limit.since and limit.sources


def test_a_rejected_encounter_does_not_make_the_next_file_a_duplicate(tmp_path):
    """The first file's e1 is refused by the engine (a date outside the accepted dates); the second file's e1 is
    then coded, not refused as a duplicate of an encounter that was never coded."""
    bad, good = enc(), enc()
    bad["date"] = "1800-01-01"
    (tmp_path / "one.json").write_text(json.dumps(bad))
    (tmp_path / "two.json").write_text(json.dumps(good))
    r = CliRunner().invoke(app, ["code", str(tmp_path / "one.json"), str(tmp_path / "two.json"), "--format", "jsonl"])
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert r.exit_code == 1 and len(rows) == 2
    assert "error" in rows[0] and rows[1]["encounter"] == "e1" and rows[1]["lines"]
    assert "duplicate" not in r.stderr
    # a coded e1 still makes a later one a duplicate
    (tmp_path / "three.json").write_text(json.dumps(good))
    r = CliRunner().invoke(app, ["code", str(tmp_path / "two.json"), str(tmp_path / "three.json"), "--format", "jsonl"])
    assert "duplicate encounter id" in r.stderr


# ------------------------------------------------------------------ --columns
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _coded(*args: str) -> list[tuple]:
    r = CliRunner().invoke(app, ["code", *args, "--format", "json"])
    assert r.exit_code == 0, r.stderr
    return [(l["code"], l["units"], l["modifiers"]) for l in json.loads(r.stdout)["lines"]]


def test_the_bundled_epic_style_mapping_works_with_columns():
    """The MAR export in its site's names, read with the bundled mapping, codes like the equivalent encounter."""
    mapped = _coded(str(EXAMPLES / "mar/ivig-mar-epic-style.csv"), "--columns", str(EXAMPLES / "mar/epic-style-mapping.yaml"))
    assert mapped == _coded(str(EXAMPLES / "mar/ivig-equivalent.yaml"))
    assert ("96366", 3, []) in mapped


def test_columns_maps_administration_rows_for_code_too(tmp_path):
    r = CliRunner().invoke(app, ["code", str(EXAMPLES / "batch/export.csv"), "--columns",
                                 str(EXAMPLES / "batch/export-mapping.yaml"), "--format", "jsonl"])
    assert r.exit_code in (0, 1) and "ENC-1001" in r.stdout


def test_a_mar_mapping_given_to_batch_says_where_it_belongs(tmp_path):
    from infucode.batch.cli import batch_app
    r = CliRunner().invoke(batch_app, [str(EXAMPLES / "mar/ivig-mar-epic-style.csv"), str(tmp_path / "o.jsonl"),
                                       "--columns", str(EXAMPLES / "mar/epic-style-mapping.yaml")])
    assert r.exit_code == 2 and "infucode code" in r.output and "MAR action log" in r.output
