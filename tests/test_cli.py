"""The command line and the output writers.

Writers and the CLI's error paths are tested with a small fake engine; the end-to-end tests at the
bottom (marked by the ``engine`` fixture) run the real one.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

import infucode
from infucode.adapters import code_stream, read_encounters
from infucode.adapters.output import CSV_COLUMNS, error_line, make_writer, write_results
from infucode.cli import app
from infucode.model import ChargeLine, Encounter, ErrorDetail, ErrorResult, Finding, InputError, Result

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def make_runner() -> CliRunner:
    try:  # click < 8.2 mixes stderr into stdout unless told not to
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()


runner = make_runner()


def invoke(*args: str, **kw):
    return runner.invoke(app, list(args), **kw)


# ---------------------------------------------------------------------------------- fakes


def fake_result(eid: str = "e1", n_lines: int = 2) -> Result:
    lines = [
        ChargeLine(code="96365", units=1, modifiers=[], date="2024-07-01", administrations=["a1"],
                   rule="timing.initial_hour", explanation="first hour [of] the infusion", wrvu=0.21),
        ChargeLine(code="96366", units=3, modifiers=["59", "XU"], date="2024-07-01", administrations=["a1", "a2"],
                   rule="timing.added_hour", explanation="hours 2-4", wrvu=0.54, kind="administration", source="S22"),
    ][:n_lines]
    return Result(
        encounter=eid, profile="medicare", claim="professional", policies={"added_hour_threshold": "over_30"},
        lines=lines,
        findings=[Finding(rule="method.unclear_route", severity="warning", message="say push or infusion", administrations=["a1"])],
        wrvu_total=round(sum(l.wrvu for l in lines), 2), data_releases={"codes": "2024Q3"},
    )


def fake_error(eid: str | None = "e9", line: int | None = 4) -> ErrorResult:
    return ErrorResult(encounter=eid, error=ErrorDetail(field="administrations[0].route", message="invalid value 'x'", line=line))


class FakeRuleset:
    def __init__(self, profile: str = "medicare", policies: dict | None = None):
        self.profile = profile
        self.policies = {"added_hour_threshold": "over_30", **(policies or {})}

    def profile_names(self):
        return ["medicare", "seed-page"]

    def policy_table(self):
        return [{
            "name": "added_hour_threshold", "question": "how long a tail makes an added hour", "value": self.policies["added_hour_threshold"],
            "default": "over_30", "by_profile": {"medicare": "over_30", "seed-page": "at_least_30"},
            "alternatives": {"over_30": {"summary": "", "sources": ["CPT-INF-GUIDE"], "since": None},
                             "at_least_30": {"summary": "", "sources": ["SEED-003"], "since": None}},
        }]


def fake_load_ruleset(profile: str = "medicare", policies: dict | None = None):
    if profile not in ("medicare", "seed-page"):
        raise KeyError(f"unknown profile '{profile}'")
    for name, value in (policies or {}).items():
        if name != "added_hour_threshold":
            raise KeyError(f"unknown policy '{name}'")
        if value not in ("over_30", "at_least_30"):
            raise ValueError(f"unknown value '{value}' for policy '{name}'")
    return FakeRuleset(profile, policies)


def fake_code_encounter(encounter: Encounter, ruleset) -> Result:
    if encounter.id == "boom":
        raise InputError("administrations[0].start", "cannot read the start time")
    if encounter.id == "crash":
        raise RuntimeError(f"engine bug with {encounter.administrations[0].drug}")
    r = fake_result(encounter.id)
    r.profile = ruleset.profile
    return r


@pytest.fixture
def fake_engine(monkeypatch):
    monkeypatch.setattr(infucode, "code_encounter", fake_code_encounter, raising=False)
    monkeypatch.setattr(infucode, "load_ruleset", fake_load_ruleset, raising=False)


@pytest.fixture
def engine():
    """The real engine; these tests fail (not skip) while it is missing."""
    from infucode import code_encounter, load_ruleset  # noqa: F401

    return load_ruleset


# ---------------------------------------------------------------------------------- writers


def render(fmt: str, items) -> str:
    buf = io.StringIO()
    write_results(items, fmt, buf)
    return buf.getvalue()


def test_json_one_object_key_order():
    out = render("json", [fake_result()])
    data = json.loads(out)
    assert isinstance(data, dict)
    assert list(data) == ["encounter", "profile", "claim", "policies", "lines", "findings", "wrvu_total", "data_releases"]
    assert list(data["lines"][0]) == ["code", "units", "modifiers", "date", "administrations", "rule", "explanation", "wrvu", "kind", "source"]
    assert out.startswith('{\n  "encounter": "e1"')


def test_json_several_is_array_and_errors_have_their_shape():
    out = render("json", [fake_result("e1"), fake_error(), fake_result("e3")])
    data = json.loads(out)
    assert [d["encounter"] for d in data] == ["e1", "e9", "e3"]
    assert data[1] == {"encounter": "e9", "error": {"field": "administrations[0].route", "message": "invalid value 'x'", "line": 4}}
    assert out.startswith("[\n  {\n    \"encounter\"")
    assert json.loads(render("json", [])) == []


def test_jsonl_one_compact_object_per_line():
    out = render("jsonl", [fake_result("e1"), fake_error(None, None), fake_result("e2")])
    rows = out.splitlines()
    assert len(rows) == 3 and all(": " not in r for r in rows)
    assert msgspec.json.decode(rows[1]) == {"encounter": None, "error": {"field": "administrations[0].route", "message": "invalid value 'x'", "line": None}}
    assert msgspec.json.decode(rows[2], type=Result).lines[1].units == 3


def test_csv_rows():
    out = render("csv", [fake_result("e1"), fake_error(), fake_result("e0", n_lines=0)])
    rows = list(csv.DictReader(io.StringIO(out)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(r["encounter"], r["code"], r["units"], r["modifiers"], r["administrations"]) for r in rows[:2]] == [
        ("e1", "96365", "1", "", "a1"), ("e1", "96366", "3", "59;XU", "a1;a2"),
    ]
    assert rows[1]["wrvu"] == "0.54" and rows[1]["kind"] == "administration" and rows[1]["error"] == ""
    assert (rows[2]["encounter"], rows[2]["error"], rows[2]["error_field"], rows[2]["error_line"], rows[2]["code"]) == (
        "e9", "invalid value 'x'", "administrations[0].route", "4", "",
    )
    assert rows[3]["encounter"] == "e0" and rows[3]["code"] == ""


def test_table_output_is_plain_when_not_a_terminal():
    out = render("table", [fake_result("e1"), fake_error()])
    assert "Encounter e1" in out and "profile medicare" in out and "professional claim" in out
    assert "96366" in out and "59, XU" in out and "timing.added_hour" in out
    assert "first hour [of] the infusion" in out  # rich markup in data is printed, not interpreted
    assert "warning" in out and "method.unclear_route" in out
    assert "wRVU total: 0.75" in out
    assert "encounter e9, line 4, field administrations[0].route: invalid value 'x'" in out
    assert "\x1b[" not in out


def test_table_can_leave_errors_out():
    buf = io.StringIO()
    w = make_writer("table", buf, show_errors=False)
    w.write(fake_error())
    w.close()
    assert buf.getvalue() == ""


def test_error_line_format():
    assert error_line(fake_error()) == "encounter e9, line 4, field administrations[0].route: invalid value 'x'"
    assert error_line(ErrorResult(None, ErrorDetail(None, "file is empty: x.jsonl"))) == "file is empty: x.jsonl"
    assert error_line(ErrorResult(None, ErrorDetail(None, "bad", 3)), source="b.jsonl") == "b.jsonl: line 3: bad"


def test_unknown_writer_format():
    with pytest.raises(ValueError, match="table, json, jsonl, csv"):
        make_writer("xml", io.StringIO())


def test_code_stream_turns_errors_into_results(fake_engine, tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text(
        '{"id": "ok", "setting": "office", "administrations": []}\n'
        "not json\n"
        '{"id": "boom", "setting": "office", "administrations": []}\n'
        '{"id": "crash", "setting": "office", "administrations": [{"id": "a", "drug": "Zyxorubicin"}]}\n'
    )
    from infucode.adapters import iter_encounters

    out = list(code_stream(iter_encounters(p), FakeRuleset()))
    assert [ok for _, ok in out] == [True, False, False, False]
    assert out[1][0].error.line == 2
    assert (out[2][0].encounter, out[2][0].error.field, out[2][0].error.line) == ("boom", "administrations[0].start", 3)
    assert out[3][0].encounter == "crash" and "internal error" in out[3][0].error.message
    assert "Zyxorubicin" not in out[3][0].error.message
    # plain items (no line numbers) work too
    assert [ok for _, ok in code_stream(read_encounters(p), FakeRuleset())] == [True, False, False, False]
    with pytest.raises(RuntimeError):
        list(code_stream(read_encounters(p), FakeRuleset(), catch_internal=False))


# ---------------------------------------------------------------------------------- CLI, no engine needed


def test_version():
    r = invoke("--version")
    assert r.exit_code == 0 and r.stdout.startswith("infucode ")


def test_bad_format_is_a_usage_error():
    r = invoke("code", str(EXAMPLES / "ivig-office.json"), "--format", "nope")
    assert r.exit_code == 2
    assert "nope" in r.stderr and "jsonl" in r.stderr


def test_schema_is_json_with_administrations():
    r = invoke("schema")
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    assert "administrations" in doc["$defs"]["Encounter"]["properties"]
    assert "route" in doc["$defs"]["Administration"]["properties"]
    assert "administrations" in r.stdout


def test_code_with_fake_engine_batch_exit_1(fake_engine):
    r = invoke("code", str(EXAMPLES / "batch.jsonl"), "--format", "jsonl")
    assert r.exit_code == 1
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["encounter"] for x in rows] == ["b1", "b2", None, "b4", "b5"]
    assert "error" in rows[2] and rows[2]["error"]["line"] == 3
    err_lines = r.stderr.strip().splitlines()
    assert err_lines == [
        "line 3: not valid JSON: unexpected end of data",
        "encounter b4, line 4, field administrations[0].route: 'iv_drip' is not one of the allowed values: "
        "cns_reservoir, flush, im, intra_arterial, intralesional, intraperitoneal, intrapleural, intrathecal, iv, iv_infusion, "
        "iv_push, on_body_injector, pump_refill, sc, sc_infusion, unlisted",
    ]
    for drug in ("vancomycin", "iron sucrose"):
        assert drug not in r.stderr


def test_code_with_fake_engine_all_good_exit_0(fake_engine, tmp_path):
    r = invoke("code", str(EXAMPLES / "ivig-office.json"), str(EXAMPLES / "chemo-day-facility.yaml"), "--format", "csv")
    assert r.exit_code == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert {x["encounter"] for x in rows} == {"ivig-office-1", "chemo-day-1"}
    assert r.stderr == ""


def test_code_output_file_and_multi_file_error_prefix(fake_engine, tmp_path):
    out = tmp_path / "out.json"
    r = invoke("code", str(EXAMPLES / "ivig-office.json"), str(tmp_path / "missing.jsonl"), "--format", "json", "-o", str(out))
    assert r.exit_code == 1
    assert r.stdout == ""
    data = json.loads(out.read_text())
    assert data[0]["encounter"] == "ivig-office-1" and "no such file" in data[1]["error"]["message"]
    assert r.stderr.startswith(str(tmp_path / "missing.jsonl") + ": cannot read")


def test_code_table_to_stdout_prints_errors_once(fake_engine):
    r = invoke("code", str(EXAMPLES / "batch.jsonl"))
    assert r.exit_code == 1
    assert "Encounter b1" in r.stdout and "iv_drip" not in r.stdout
    assert r.stderr.count("field administrations[0].route") == 1 and r.stderr.count("iv_drip") == 1


def test_code_duplicate_ids_across_files(fake_engine, tmp_path):
    a = tmp_path / "a.jsonl"
    a.write_text('{"id": "x", "setting": "office", "administrations": []}\n')
    r = invoke("code", str(a), str(a), "--format", "jsonl")
    assert r.exit_code == 1 and "duplicate encounter id" in r.stderr


def test_code_stdin(fake_engine):
    r = invoke("code", "-", "--format", "jsonl", input='{"id": "s1", "setting": "office", "administrations": []}\n')
    assert r.exit_code == 0 and json.loads(r.stdout)["encounter"] == "s1"


@pytest.mark.parametrize(
    "args, expect",
    [
        (["--profile", "nope"], ["unknown profile", "medicare", "seed-page"]),
        (["--policy", "nope=1"], ["unknown policy", "added_hour_threshold"]),
        (["--policy", "added_hour_threshold=sometimes"], ["sometimes", "over_30", "at_least_30"]),
        (["--policy", "added_hour_threshold"], ["name=value"]),
    ],
)
def test_unknown_profile_or_policy_is_a_usage_error(fake_engine, args, expect):
    r = invoke("code", str(EXAMPLES / "ivig-office.json"), *args)
    assert r.exit_code == 2
    for text in expect:
        assert text in r.stderr


def test_profiles_with_fake_engine(fake_engine):
    r = invoke("profiles", "--format", "json")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert data["profiles"] == ["medicare", "seed-page"]
    [pol] = data["policies"]
    assert pol["by_profile"] == {"medicare": "over_30", "seed-page": "at_least_30"}
    r = invoke("profiles")
    assert r.exit_code == 0 and "seed-page" in r.stdout and "at_least_30" in r.stdout


def test_python_dash_m(tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "infucode", "--version"], capture_output=True, text=True, check=False)
    assert r.returncode == 0 and r.stdout.startswith("infucode ")


# ---------------------------------------------------------------------------------- end to end (real engine)


def admin_codes(result: dict) -> dict[str, int]:
    return {l["code"]: l["units"] for l in result["lines"] if l.get("kind", "administration") == "administration"}


def test_e2e_ivig_office(engine):
    r = invoke("code", str(EXAMPLES / "ivig-office.json"), "--format", "json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["encounter"] == "ivig-office-1"
    assert admin_codes(data) == {"96365": 1, "96366": 3}


def test_e2e_batch_exits_1_and_prints_good_encounters(engine):
    r = invoke("code", str(EXAMPLES / "batch.jsonl"), "--format", "jsonl")
    assert r.exit_code == 1
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(rows) == 5
    good = [x for x in rows if "error" not in x]
    assert [x["encounter"] for x in good] == ["b1", "b2", "b5"]
    assert all(x["lines"] for x in good)
    assert len(r.stderr.strip().splitlines()) == 2


def test_e2e_chemo_day_yaml(engine):
    r = invoke("code", str(EXAMPLES / "chemo-day-facility.yaml"), "--format", "json")
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    codes = admin_codes(data)
    assert data["claim"] == "facility"
    assert codes.get("96413") == 1 and codes.get("96415") == 2


@pytest.mark.parametrize("fmt", ["table", "csv", "jsonl"])
def test_e2e_every_format(engine, fmt):
    r = invoke("code", str(EXAMPLES / "ivig-office.json"), str(EXAMPLES / "chemo-day-facility.yaml"), "--format", fmt)
    assert r.exit_code == 0, r.stderr
    assert "96366" in r.stdout


def test_e2e_profile_changes_a_90_minute_infusion(engine, tmp_path):
    p = tmp_path / "ninety.json"
    p.write_text(json.dumps({
        "id": "n1", "setting": "office", "date": "2024-07-01",
        "administrations": [{"id": "a1", "drug": "Gammagard Liquid", "route": "iv_infusion", "start": "09:00", "stop": "10:30"}],
    }))
    default = invoke("code", str(p), "--format", "json")
    seed = invoke("code", str(p), "--format", "json", "--profile", "seed-page")
    assert default.exit_code == 0 and seed.exit_code == 0, default.stderr + seed.stderr
    assert admin_codes(json.loads(default.stdout)) == {"96365": 1}
    assert admin_codes(json.loads(seed.stdout)) == {"96365": 1, "96366": 1}


def test_e2e_profiles_lists_medicare_and_seed_page(engine):
    r = invoke("profiles")
    assert r.exit_code == 0, r.stderr
    assert "medicare" in r.stdout and "seed-page" in r.stdout
    data = json.loads(invoke("profiles", "--format", "json").stdout)
    assert {"medicare", "seed-page"} <= set(data["profiles"])
    assert data["policies"] and all(p["by_profile"] for p in data["policies"])


def test_e2e_unknown_profile_exit_2(engine):
    r = invoke("code", str(EXAMPLES / "ivig-office.json"), "--profile", "no-such-payer")
    assert r.exit_code == 2
    assert "medicare" in r.stderr
