"""Reading encounters: formats, the YAML time trap, streaming, and error reporting without record content."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infucode.adapters import encounter_io, input_limits  # noqa: F401
from infucode.adapters.encounter_io import iter_encounters, read_encounters
from infucode.adapters.yaml_documents import EncounterYamlLoader
from infucode.decoding import decode_encounter
from infucode.model import Encounter, InputError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

DRUG = "Zyxorubicin"  # a drug name that must never show up in an error message


def enc(eid="e1", **adm_fields) -> dict:
    adm = {"id": "a1", "drug": DRUG, "route": "iv_infusion", "start": "08:30", "stop": "09:45"}
    adm.update(adm_fields)
    return {"id": eid, "setting": "office", "date": "2024-07-01", "administrations": [adm]}


def write_jsonl(path: Path, objs_or_lines) -> Path:
    with open(path, "w", encoding="utf-8") as fh:
        for item in objs_or_lines:
            fh.write((item if isinstance(item, str) else json.dumps(item)) + "\n")
    return path


def errors(items) -> list[InputError]:
    return [i for i in items if isinstance(i, InputError)]


def encounters(items) -> list[Encounter]:
    return [i for i in items if isinstance(i, Encounter)]


def assert_no_content(err: InputError) -> None:
    text = f"{err.field} {err.message} {err.encounter}"
    for secret in (DRUG, "08:30", "09:45", "2024-07-01"):
        assert secret not in text, f"record content {secret!r} leaked into {text!r}"


# ---------------------------------------------------------------------------------- YAML


def test_yaml_unquoted_times_and_dates_stay_strings(tmp_path):
    p = tmp_path / "e.yaml"
    p.write_text(
        "id: 7\n"
        "setting: office\n"
        "date: 2024-07-01\n"
        "administrations:\n"
        "  - {id: 1, drug: x, route: iv_infusion, start: 8:30, stop: 12:45, minutes: 255}\n"
        "  - {id: 2, drug: y, route: iv_push, start: 0730, stop: 13:05:30}\n"
    )
    [e] = list(read_encounters(p))
    assert isinstance(e, Encounter)
    assert e.id == "7" and e.date == "2024-07-01"
    a, b = e.administrations
    assert (a.id, a.start, a.stop, a.minutes) == ("1", "8:30", "12:45", 255)
    # a clock with seconds (spreadsheet exports) is read to the minute by the vocabulary, and said
    assert (b.id, b.start, b.stop) == ("2", "0730", "13:05")
    assert e.read_as == [(["2"], "administration 2: stop '13:05:30' read as 13:05")]


def test_yaml_loader_scalars_follow_yaml_12_core():
    import yaml

    data = yaml.load(
        "a: 8:30\nb: 2024-07-01\nc: 12\nd: 1.5\ne: 1e3\nf: true\ng: yes\nh: off\ni: ~\nj: -3\nk: 1_000\n",
        Loader=EncounterYamlLoader,
    )
    assert data == {
        "a": "8:30", "b": "2024-07-01", "c": 12, "d": 1.5, "e": 1000.0, "f": True,
        "g": "yes", "h": "off", "i": None, "j": -3, "k": "1_000",
    }
    # the stock SafeLoader is left alone
    assert yaml.safe_load("a: 8:30")["a"] == 510


def test_yaml_example_keeps_times(tmp_path):
    [e] = list(read_encounters(EXAMPLES / "chemo-day-facility.yaml"))
    assert isinstance(e, Encounter)
    assert e.setting == "facility" and e.date == "2024-07-01"
    starts = {a.id: a.start for a in e.administrations}
    assert all(isinstance(s, str) for s in starts.values())
    assert starts["paclitaxel"] == "9:15"
    assert {a.id: a.stop for a in e.administrations}["paclitaxel"] == "12:15"


def test_yaml_list_and_multiple_documents_with_lines(tmp_path):
    p = tmp_path / "many.yml"
    p.write_text(
        "- id: a\n  setting: office\n  administrations: []\n"
        "- id: b\n  setting: home\n  administrations: []\n"
        "---\n"
        "id: c\nsetting: facility\nadministrations: []\n"
    )
    items = list(iter_encounters(p))
    assert [(type(i).__name__, line) for i, line in items] == [
        ("Encounter", 1), ("InputError", 5), ("Encounter", 8),
    ]
    err = items[1][0]  # the line of the bad field (setting: home), not of its encounter's first line
    assert err.encounter == "b" and err.field == "setting" and err.line == 5
    assert "facility" in err.message and "office" in err.message


def test_yaml_syntax_error_has_line_and_no_content(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(f"id: e1\nsetting: office\nadministrations:\n  - id: a1\n    drug: {DRUG}\n   bad: [\n")
    [err] = list(read_encounters(p))
    assert isinstance(err, InputError)
    assert err.message.startswith("not valid YAML")
    assert err.line is not None
    assert_no_content(err)


# ---------------------------------------------------------------------------------- JSON Lines


def test_jsonl_bad_line_reported_and_others_come_through(tmp_path):
    p = write_jsonl(
        tmp_path / "b.jsonl",
        [enc("e1"), "", f'{{"id": "e2", "drug": "{DRUG}", ', "   ", enc("e3"), enc("e4")],
    )
    items = list(read_encounters(p))
    assert [e.id for e in encounters(items)] == ["e1", "e3", "e4"]
    [err] = errors(items)
    assert err.line == 3
    assert err.message.startswith("not valid JSON")
    assert_no_content(err)


def test_batch_example(tmp_path):
    items = list(iter_encounters(EXAMPLES / "batch.jsonl"))
    assert len(items) == 5
    bad = [(i.line, i.field) for i, _ in items if isinstance(i, InputError)]
    assert bad == [(3, None), (4, "administrations[0].route")]


def test_jsonl_non_object_line(tmp_path):
    p = write_jsonl(tmp_path / "b.ndjson", ["[1, 2]", "42", enc("e1")])
    items = list(read_encounters(p))
    errs = errors(items)
    assert [(e.line, e.field, e.message) for e in errs] == [
        (1, None, "expected an encounter object"),
        (2, None, "expected an encounter object"),
    ]
    assert [e.id for e in encounters(items)] == ["e1"]


def test_jsonl_bom_and_crlf(tmp_path):
    p = tmp_path / "bom.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps(enc("e1")).encode() + b"\r\n" + json.dumps(enc("e2")).encode() + b"\r\n")
    assert [e.id for e in read_encounters(p)] == ["e1", "e2"]


def test_jsonl_invalid_utf8_line(tmp_path):
    p = tmp_path / "u.jsonl"
    p.write_bytes(b'{"id": "e1", "setting": "office", "administrations": [], "payer": "\xff"}\n' + json.dumps(enc("e2")).encode() + b"\n")
    items = list(read_encounters(p))
    assert isinstance(items[0], InputError) and items[0].line == 1
    assert [e.id for e in encounters(items)] == ["e2"]


def test_stdin_is_jsonl(monkeypatch):
    import io
    import sys

    data = (json.dumps(enc("s1")) + "\n" + json.dumps(enc("s2")) + "\n").encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert [e.id for e in read_encounters("-")] == ["s1", "s2"]


# ---------------------------------------------------------------------------------- JSON


def test_json_object_and_array(tmp_path):
    one = tmp_path / "one.json"
    one.write_text(json.dumps(enc("e1")))
    assert [e.id for e in read_encounters(one)] == ["e1"]

    many = tmp_path / "many.json"
    many.write_text(json.dumps([enc("e1"), enc("e2", route="iv_drip"), {"setting": "office", "administrations": [5]}]))
    items = list(read_encounters(many))
    assert isinstance(items[0], Encounter)
    assert items[1].encounter == "e2" and items[1].field == "administrations[0].route"
    # no id and no line: the list position locates the record
    assert items[2].encounter is None and items[2].field.startswith("[2]")


def test_json_syntax_error_has_line(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{\n  "id": "e1",\n  "setting": "office",,\n  "administrations": []\n}\n')
    [err] = list(read_encounters(p))
    assert err.line == 3 and "not valid JSON" in err.message


def test_example_ivig_reads():
    [e] = list(read_encounters(EXAMPLES / "ivig-office.json"))
    assert isinstance(e, Encounter)
    [a] = e.administrations
    assert (a.start, a.stop, a.dose.value, a.vial.size, a.vial.single_dose) == ("08:30", "12:45", 30, 10, True)


# ---------------------------------------------------------------------------------- field errors


def test_type_error_is_readable():
    with pytest.raises(InputError) as info:
        decode_encounter(enc("e1", start=830), line=12)
    err = info.value
    assert (err.field, err.message, err.encounter, err.line) == (
        "administrations[0].start", "expected a string, got an integer", "e1", 12,
    )


def test_unknown_enum_value_names_field_and_allowed_values():
    with pytest.raises(InputError) as info:
        decode_encounter(enc("e1", route="iv_drip"))
    err = info.value
    assert err.field == "administrations[0].route"
    assert "'iv_drip' is not one of the allowed values" in err.message  # reads as a vocabulary word: quoted
    for allowed in ("iv_infusion", "iv_push", "sc", "im", "sc_infusion", "intra_arterial", "iv"):
        assert allowed in err.message
    assert_no_content(err)


def test_unknown_enum_value_of_class_and_setting():
    with pytest.raises(InputError) as info:
        decode_encounter(enc("e1", **{"class": "chemo"}))
    assert info.value.field == "administrations[0].class"
    assert "chemotherapy" in info.value.message
    obj = enc("e1")
    obj["setting"] = "home"
    with pytest.raises(InputError) as info:
        decode_encounter(obj)
    assert info.value.field == "setting" and "facility" in info.value.message


def test_unknown_field_typo_is_named():
    obj = enc("e1")
    obj["administrations"][0]["strat"] = obj["administrations"][0].pop("start")
    with pytest.raises(InputError) as info:
        decode_encounter(obj)
    err = info.value
    assert err.field == "administrations[0].strat"
    assert "unknown field 'strat'" in err.message and "did you mean 'start'" in err.message
    assert_no_content(err)


def test_missing_required_field():
    obj = enc("e1")
    del obj["setting"]
    with pytest.raises(InputError) as info:
        decode_encounter(obj)
    assert info.value.field == "setting" and "required" in info.value.message


def test_nested_type_errors():
    with pytest.raises(InputError) as info:
        decode_encounter(enc("e1", dose={"value": "thirty", "unit": "g"}))
    assert info.value.field == "administrations[0].dose.value"
    assert info.value.message == "expected a number, got a string"
    with pytest.raises(InputError) as info:
        decode_encounter(enc("e1", id=1.5))
    assert info.value.message == "expected an integer or a string, got a number"


def test_non_object_encounter():
    with pytest.raises(InputError) as info:
        decode_encounter(["not", "an", "object"], line=3)
    assert (info.value.field, info.value.message, info.value.line) == (None, "expected an encounter object", 3)


def test_ids_become_strings():
    e = decode_encounter({"id": 12, "setting": "office", "administrations": [{"id": 1}, {"id": "2"}]})
    assert e.id == "12" and [a.id for a in e.administrations] == ["1", "2"]


def test_duplicate_administration_ids():
    obj = enc("e1")
    obj["administrations"].append({"id": "a1", "drug": DRUG, "route": "iv_push", "start": "10:00"})
    with pytest.raises(InputError) as info:
        decode_encounter(obj)
    err = info.value
    assert err.field == "administrations[1].id" and "duplicate administration id 'a1'" in err.message
    assert err.encounter == "e1"
    # 1 and "1" are the same id once ids are strings
    with pytest.raises(InputError):
        decode_encounter({"id": "x", "setting": "office", "administrations": [{"id": 1}, {"id": "1"}]})


def test_duplicate_encounter_ids_keep_the_first(tmp_path):
    first = enc("dup")
    second = enc("dup", route="iv_push")
    p = write_jsonl(tmp_path / "d.jsonl", [first, enc("other"), second, {**enc(7)}, {**enc("7")}])
    items = list(read_encounters(p))
    kept = encounters(items)
    assert [e.id for e in kept] == ["dup", "other", "7"]
    assert kept[0].administrations[0].route == "iv_infusion"
    errs = errors(items)
    assert [(e.field, e.line, e.encounter) for e in errs] == [("id", 3, "dup"), ("id", 5, "7")]
    assert "duplicate encounter id" in errs[0].message


def test_duplicate_ids_across_files_with_shared_set(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [enc("e1")])
    b = write_jsonl(tmp_path / "b.jsonl", [enc("e1"), enc("e2")])
    seen: set[str] = set()
    items = list(read_encounters(a, seen_ids=seen)) + list(read_encounters(b, seen_ids=seen))
    assert [type(i).__name__ for i in items] == ["Encounter", "InputError", "Encounter"]


# ---------------------------------------------------------------------------------- files


@pytest.mark.parametrize("name", ["e.jsonl", "e.json", "e.yaml", "e.ndjson", "e.yml"])
@pytest.mark.parametrize("content", ["", "  \n\n \t\n"])
def test_empty_file(tmp_path, name, content):
    p = tmp_path / name
    p.write_text(content)
    [err] = list(read_encounters(p))
    assert isinstance(err, InputError)
    assert err.field is None and err.message == f"file is empty: {p}"


def test_missing_file(tmp_path):
    p = tmp_path / "nope.jsonl"
    [err] = list(read_encounters(p))
    assert isinstance(err, InputError) and str(p) in err.message and "no such file" in err.message


def test_directory_and_unknown_extension(tmp_path):
    d = tmp_path / "dir.json"
    d.mkdir()
    [err] = list(read_encounters(d))
    assert "directory" in err.message
    t = tmp_path / "e.txt"
    t.write_text("{}")
    [err] = list(read_encounters(t))
    assert ".txt" in err.message and ".jsonl" in err.message


# ---------------------------------------------------------------------------------- big input


class CountingReader:
    """Wraps a binary file and records how far it has been read."""

    def __init__(self, fh):
        self.fh = fh
        self.read_bytes = 0

    def readline(self, size=-1):
        line = self.fh.readline(size)
        self.read_bytes += len(line)
        return line


def test_huge_jsonl_is_streamed(tmp_path, monkeypatch):
    n = 20_000
    p = tmp_path / "huge.jsonl"
    with open(p, "w") as fh:
        for i in range(n):
            fh.write(json.dumps({"id": f"e{i}", "setting": "office", "administrations": [{"id": "a", "route": "iv_push", "start": "08:00"}]}) + "\n")
    size = p.stat().st_size

    gen = read_encounters(p)
    assert inspect.isgenerator(gen)
    first = next(gen)
    assert isinstance(first, Encounter) and first.id == "e0"
    gen.close()

    # the lazy reader pulls lines one at a time: after one item only the first line was read
    with open(p, "rb") as raw:
        reader = CountingReader(raw)
        lazy = encounter_io._iter_jsonl(reader, str(p))
        item, line = next(lazy)
        assert item.id == "e0" and line == 1
        assert reader.read_bytes < 1000 < size

    count = 0
    for item in read_encounters(p):
        assert isinstance(item, Encounter)
        count += 1
    assert count == n


def test_oversize_line_is_an_error_for_that_line_only(tmp_path, monkeypatch):
    monkeypatch.setattr(input_limits, "MAX_LINE_BYTES", 1024)
    big = enc("big")
    big["administrations"][0]["indication"] = "x" * 5000
    p = write_jsonl(tmp_path / "big.jsonl", [enc("e1"), big, enc("e3")])
    items = list(iter_encounters(p))
    assert [type(i).__name__ for i, _ in items] == ["Encounter", "InputError", "Encounter"]
    err = items[1][0]
    assert err.line == 2 and "1024" in err.message and err.encounter is None
    assert items[2][0].id == "e3" and items[2][1] == 3


def test_oversize_last_line_without_newline(tmp_path, monkeypatch):
    monkeypatch.setattr(input_limits, "MAX_LINE_BYTES", 100)
    p = tmp_path / "tail.jsonl"
    p.write_text(json.dumps({"id": "a", "setting": "office", "administrations": []}) + "\n" + "{" + " " * 500)
    items = list(read_encounters(p))
    assert isinstance(items[0], Encounter) and isinstance(items[1], InputError) and items[1].line == 2


# ---------------------------------------------------------------------------------- robustness

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {"id": st.one_of(st.text(max_size=5), st.integers()), "setting": st.sampled_from(["office", "facility", "x"])},
        optional={
            "administrations": st.lists(
                st.dictionaries(
                    st.sampled_from(["id", "drug", "route", "start", "stop", "minutes", "dose", "strat", "class"]),
                    json_values,
                    max_size=6,
                ),
                max_size=3,
            ),
            "date": json_values,
            "extra": json_values,
        },
    )
)
def test_decode_only_ever_raises_input_error(obj):
    try:
        e = decode_encounter(obj)
    except InputError as err:
        assert err.message
        assert err.field is None or isinstance(err.field, str)
    else:
        assert isinstance(e.id, str)
