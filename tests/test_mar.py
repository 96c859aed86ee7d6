"""MAR action-log CSV in: issue 6."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from infucode import code_encounter, load_ruleset
from infucode.adapters.encounter_io import read_encounters
from infucode.adapters.mar import encounters_from_mar, load_mapping, read_mar
from infucode.model import Encounter, InputError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "mar"
HEADER = "encounter_id,order_id,action,time,rate,route,drug,dose,dose_unit\n"
DRUG = "Zyxorubicin"  # must never appear in a finding


@pytest.fixture(scope="module")
def rs():
    return load_ruleset("medicare")


def lines_of(result):
    return [(l.code, l.units, l.modifiers, l.date, l.administrations, l.rule, l.kind, l.explanation) for l in result.lines]


def mar(rows: str, **kw):
    return read_mar(io.StringIO(HEADER + rows), **kw)


def only(reads):
    encs = [r for r in reads if r.encounter is not None]
    assert len(encs) == 1, reads
    return encs[0]


def findings(reads):
    return [f for r in reads for f in r.findings]


def test_example_codes_like_its_hand_written_equivalent(rs):
    read = only(read_mar(EXAMPLES / "ivig-mar.csv"))
    assert read.findings == []
    (equivalent,) = list(read_encounters(EXAMPLES / "ivig-equivalent.yaml"))
    assert isinstance(equivalent, Encounter)
    got, want = code_encounter(read.encounter, rs), code_encounter(equivalent, rs)
    assert lines_of(got) == lines_of(want)
    assert [(l.code, l.units) for l in got.lines] == [("96365", 1), ("96366", 3), ("J1569", 60)]


def test_example_administration():
    enc = only(read_mar(EXAMPLES / "ivig-mar.csv")).encounter
    (adm,) = enc.administrations
    assert (enc.id, enc.setting, enc.date) == ("ivig-mar-1", "office", "2024-07-01")
    assert (adm.id, adm.route, adm.start, adm.stop) == ("ord-501", "iv_infusion", "2024-07-01T08:30", "2024-07-01T12:45")
    assert [(i.start, i.stop) for i in adm.interruptions] == [("2024-07-01T09:40", "2024-07-01T09:55")]
    assert adm.rate_ml_per_hr == 50 and (adm.dose.value, adm.dose.unit) == (30, "g")


def test_mapping_file_reads_a_site_export_the_same(rs):
    site = only(read_mar(EXAMPLES / "ivig-mar-epic-style.csv", mapping=EXAMPLES / "epic-style-mapping.yaml"))
    ours = only(read_mar(EXAMPLES / "ivig-mar.csv"))
    assert site.findings == []
    assert site.encounter == ours.encounter
    assert lines_of(code_encounter(site.encounter, rs)) == lines_of(code_encounter(ours.encounter, rs))


def test_mapping_errors():
    with pytest.raises(ValueError, match="unknown column"):
        load_mapping({"columns": {"order": "Order ID"}})
    with pytest.raises(ValueError, match="unknown action"):
        load_mapping({"actions": {"gave": ["Given"]}})
    with pytest.raises(ValueError, match="unknown keys"):
        load_mapping({"colums": {}})
    assert load_mapping({"actions": {"given": "Hung"}}).actions["hung"] == "given"


def test_missing_required_columns():
    (read,) = read_mar(io.StringIO("order,what,when\n1,Given,2024-07-01 08:00\n"))
    assert read.encounter is None and read.findings[0].code == "mar.columns" and read.findings[0].row == 1


def test_contradicting_rows_are_findings_naming_the_row():
    reads = mar(
        f"e1,o1,Given,2024-07-01 08:00,100,IV,{DRUG},10,mg\n"     # row 2
        f"e1,o1,Restarted,2024-07-01 08:10,,IV,{DRUG},,\n"        # row 3: restart without pause
        f"e1,o1,Stopped,2024-07-01 09:30,,IV,{DRUG},,\n"          # row 4
        f"e1,o1,Stopped,2024-07-01 09:40,,IV,{DRUG},,\n"          # row 5: second stop
        f"e1,o2,Stopped,2024-07-01 07:00,,IV,{DRUG},,\n"          # row 6: stop before the start
        f"e1,o2,Given,2024-07-01 08:00,,IV,{DRUG},,\n"            # row 7
        f"e1,o2,Stopped,2024-07-01 09:00,,IV,{DRUG},,\n"          # row 8
        f"e1,o3,Given,yesterday-ish,,IV,{DRUG},,\n"              # row 9: unparseable time
        f"e1,o3,Wibble,2024-07-01 08:00,,IV,{DRUG},,\n"          # row 10: unknown action
        f"e1,,Given,2024-07-01 08:00,,IV,{DRUG},,\n"             # row 11: no order id
        f"e1,o4,Paused,2024-07-01 08:00,,IV,{DRUG},,\n"          # row 12: pause before any start
    )
    enc = only(reads).encounter
    assert [(a.id, a.start, a.stop) for a in enc.administrations] == [
        ("o1", "2024-07-01T08:00", "2024-07-01T09:30"), ("o2", "2024-07-01T08:00", "2024-07-01T09:00")]
    got = {f.row: f for f in findings(reads)}
    assert set(got) == {3, 5, 6, 9, 10, 11, 12}
    assert "restart without a pause" in got[3].message
    assert "stop before any start" in got[6].message
    assert got[9].code == "mar.time" and got[10].code == "mar.action"
    assert all(f.encounter == "e1" for f in got.values())
    assert not any(DRUG in f.message for f in got.values())


def test_an_unknown_action_is_named_only_when_it_reads_as_an_action_name():
    # issue 12: an error never echoes free text; an export's own action names (closed vocabulary) may be named
    reads = mar(
        f"e1,o1,Given,2024-07-01 08:00,100,IV,{DRUG},10,mg\n"                 # row 2
        f"e1,o1,Wibble Bag,2024-07-01 08:30,,IV,{DRUG},,\n"                  # row 3: an action name
        f"e1,o1,John Q Patient MRN-99887766,2024-07-01 08:40,,IV,{DRUG},,\n"  # row 4: free text in the cell
    )
    got = {f.row: f.message for f in findings(reads)}
    assert "'Wibble Bag'" in got[3]
    assert "MRN" not in got[4] and "John" not in got[4] and "unknown action" in got[4]


def test_new_bags_and_rate_changes_continue_one_infusion():
    enc = only(mar(
        "e1,o1,New Bag,2024-07-01 08:00,125,IV,normal saline,1000,mL\n"
        "e1,o1,Rate Change,2024-07-01 09:00,250,IV,normal saline,,\n"
        "e1,o1,New Bag,2024-07-01 10:00,250,IV,normal saline,1000,mL\n"
        "e1,o1,Completed,2024-07-01 11:00,,IV,normal saline,,\n"
    )).encounter
    (adm,) = enc.administrations
    assert (adm.start, adm.stop, adm.route, adm.rate_ml_per_hr) == ("2024-07-01T08:00", "2024-07-01T11:00", "iv_infusion", 125)
    assert (adm.dose.value, adm.dose.unit) == (2000, "mL")


def test_pushes_and_repeat_orders():
    enc = only(mar(
        "e1,o1,Given,2024-07-01 08:00,,IV,ondansetron,4,mg\n"    # IV, no rate, no stop: a push
        "e1,o2,Given,2024-07-01 08:05,,IM,ondansetron,4,mg\n"
        "e1,o2,Given,2024-07-01 14:05,,IM,ondansetron,4,mg\n"    # instant route: each given is one
        "e1,o3,Given,2024-07-01 09:00,100,IV,ondansetron,,\n"
        "e1,o3,Stopped,2024-07-01 09:30,,IV,ondansetron,,\n"
        "e1,o3,Given,2024-07-01 13:00,100,IV,ondansetron,,\n"   # after a stop: a second administration
        "e1,o3,Stopped,2024-07-01 13:40,,IV,ondansetron,,\n"
    )).encounter
    got = [(a.id, a.route, a.start, a.stop) for a in enc.administrations]
    assert got == [
        ("o1", "iv_push", "2024-07-01T08:00", None),
        ("o2", "im", "2024-07-01T08:05", None), ("o2-2", "im", "2024-07-01T14:05", None),
        ("o3", "iv_infusion", "2024-07-01T09:00", "2024-07-01T09:30"),
        ("o3-2", "iv_infusion", "2024-07-01T13:00", "2024-07-01T13:40"),
    ]


def test_stopped_while_paused_ends_at_the_pause():
    reads = mar(
        "e1,o1,Given,2024-07-01 08:00,100,IV,ondansetron,,\n"
        "e1,o1,Paused,2024-07-01 08:40,,IV,ondansetron,,\n"
        "e1,o1,Stopped,2024-07-01 09:00,,IV,ondansetron,,\n"
    )
    (adm,) = only(reads).encounter.administrations
    assert adm.stop == "2024-07-01T08:40" and adm.interruptions == []
    assert [f.row for f in findings(reads)] == [4]


def test_rows_out_of_file_order_are_read_in_time_order():
    enc = only(mar(
        "e1,o1,Stopped,2024-07-01 10:00,,IV,ondansetron,,\n"
        "e1,o1,Given,2024-07-01 08:00,100,IV,ondansetron,,\n"
    )).encounter
    assert (enc.administrations[0].start, enc.administrations[0].stop) == ("2024-07-01T08:00", "2024-07-01T10:00")


def test_grouping_and_setting():
    reads = mar(
        "e1,o1,Given,2024-07-01 08:00,,IV push,ondansetron,,\n"
        "e2,o1,Given,2024-07-01 23:30,100,IV,ondansetron,,\n"
        "e2,o1,Stopped,2024-07-02 01:00,,IV,ondansetron,,\n",   # crosses midnight, one encounter
        setting="office",
    )
    encs = [r.encounter for r in reads]
    assert [(e.id, e.setting, [a.id for a in e.administrations]) for e in encs] == [
        ("e1", "office", ["o1"]), ("e2", "office", ["o1"])]
    assert encs[1].date == "2024-07-01"
    no_col = read_mar(io.StringIO("order_id,action,time,route,drug\no1,Given,2024-07-01T08:00,IV push,ondansetron\n"),
                      encounter_id="visit-7")
    assert only(no_col).encounter.id == "visit-7" and only(no_col).encounter.setting == "facility"


def test_setting_column_conflicts():
    reads = read_mar(io.StringIO(
        "encounter_id,setting,order_id,action,time,route,drug\n"
        "e1,office,o1,Given,2024-07-01 08:00,IV push,ondansetron\n"
        "e1,facility,o2,Given,2024-07-01 08:30,IV push,ondansetron\n"
        "e1,hospital,o3,Given,2024-07-01 09:00,IV push,ondansetron\n"))
    assert only(reads).encounter.setting == "office"
    assert [f.row for f in findings(reads)] == [3, 4]


def test_encounters_from_mar(rs):
    items = list(encounters_from_mar(io.StringIO(HEADER +
        "e1,o1,Given,2024-07-01 08:00,,IV push,ondansetron,,\n"
        "e1,o1,Restarted,2024-07-01 08:10,,IV,ondansetron,,\n")))
    assert [type(i) for i in items] == [Encounter, InputError]
    assert (items[1].field, items[1].line, items[1].encounter) == ("row 3", 3, "e1")
    code_encounter(items[0], rs)
