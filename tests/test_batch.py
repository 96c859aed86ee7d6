"""infucode batch: ordered, deterministic, byte-identical to `infucode code`, errors set aside."""

from __future__ import annotations

import io
import json
from pathlib import Path

import msgspec
import pytest
from typer.testing import CliRunner

from infucode import load_ruleset
from infucode.adapters.stream import code_stream
from infucode.adapters.encounter_io import iter_encounters
from infucode.adapters.output import CsvWriter
from infucode.batch import BatchError, errors_path, findings_path, run_batch
from infucode.batch.cli import batch_app



@pytest.fixture(scope="module")
def generated(tmp_path_factory, generator) -> Path:
    path = tmp_path_factory.mktemp("gen") / "in.jsonl"
    generator.write_jsonl(500, path, seed=7)
    return path


@pytest.fixture(scope="module")
def reference(generated) -> tuple[bytes, list[dict]]:
    """What `infucode code --format jsonl` writes, split into coded results and errors."""
    good, errors = [], []
    for result, ok in code_stream(iter_encounters(generated), load_ruleset()):
        (good if ok else errors).append(msgspec.json.encode(result) + b"\n")
    return b"".join(good), [json.loads(e) for e in errors]


def test_generator_is_seeded_and_realistic(tmp_path, generated, generator):
    again = tmp_path / "again.jsonl"
    generator.write_jsonl(500, again, seed=7)
    assert again.read_bytes() == generated.read_bytes()
    rows = [json.loads(line) for line in generated.read_bytes().splitlines()]
    assert len(rows) == 500 and len({r["id"] for r in rows}) == 500
    assert {r["setting"] for r in rows} == {"office", "facility"}
    routes = {a.get("route") for r in rows for a in r["administrations"]}
    assert {"iv_infusion", "iv_push", "sc", "im"} <= routes


def test_one_and_two_workers_match_infucode_code(tmp_path, generated, reference):
    good, errors = reference
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    s1 = run_batch(generated, one, workers=1, chunk_lines=64)
    s2 = run_batch(generated, two, workers=2, chunk_lines=64)
    assert one.read_bytes() == two.read_bytes() == good
    assert (s1.coded, s1.failed) == (s2.coded, s2.failed) == (500 - len(errors), len(errors))
    assert len(one.read_bytes().splitlines()) == 500 - s1.failed
    if errors:
        assert [json.loads(x) for x in errors_path(one).read_bytes().splitlines()] == errors
        assert errors_path(one).read_bytes() == errors_path(two).read_bytes()


def test_rerun_is_byte_identical(tmp_path, generated):
    out = tmp_path / "out.jsonl"
    run_batch(generated, out, workers=2, chunk_lines=50)
    first = out.read_bytes()
    run_batch(generated, out, workers=2, chunk_lines=50)
    assert out.read_bytes() == first


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


GOOD = '{"id": "%s", "setting": "office", "date": "2024-07-01", "administrations": [{"id": "a1", "drug": "ceftriaxone", "route": "iv_infusion", "start": "10:00", "stop": "10:40"}]}'


@pytest.mark.parametrize("workers", [1, 2])
def test_bad_lines_go_to_the_errors_file(tmp_path, workers):
    src = _write(tmp_path / "in.jsonl", [
        GOOD % "e1",
        '{"id": "e2", "setting": "office", "administrations": [',  # broken JSON
        "",  # blank: skipped, not an error
        '{"id": "e3", "setting": "clinic", "administrations": []}',  # bad enum
        GOOD % "e4",
        GOOD % "e1",  # duplicate id
        '{"id": "e5", "setting": "office", "date": "2024-07-01", "administrations": [{"id": "a1", "drug": "ondansetron", "route": "iv_push", "start": "half past nine"}]}',
    ])
    out = tmp_path / "out.jsonl"
    summary = run_batch(src, out, workers=workers, chunk_lines=2)
    assert (summary.coded, summary.failed) == (2, 4)
    assert [json.loads(x)["encounter"] for x in out.read_bytes().splitlines()] == ["e1", "e4"]
    errors = [json.loads(x) for x in errors_path(out).read_bytes().splitlines()]
    assert [(e["encounter"], e["error"]["line"]) for e in errors] == [(None, 2), ("e3", 4), ("e1", 6), ("e5", 7)]
    assert errors[1]["error"]["field"] == "setting" and "allowed values" in errors[1]["error"]["message"]
    assert "duplicate encounter id" in errors[2]["error"]["message"]
    assert errors[3]["error"]["field"] == "administrations[0].start"
    # the same messages as `infucode code`
    expected = [msgspec.json.decode(msgspec.json.encode(r)) for r, ok in code_stream(iter_encounters(src), load_ruleset()) if not ok]
    assert errors == expected
    # a clean re-run removes the stale errors file
    _write(src, [GOOD % "e1"])
    assert run_batch(src, out, workers=workers).failed == 0
    assert not errors_path(out).exists()


def test_csv_output_rows_and_findings(tmp_path, generated):
    out = tmp_path / "lines.csv"
    run_batch(generated, out, workers=2, chunk_lines=100)
    buf = io.StringIO()
    writer = CsvWriter(buf)
    findings = 0
    for result, ok in code_stream(iter_encounters(generated), load_ruleset()):
        if ok:
            writer.write(result)
            findings += len(result.findings)
    assert out.read_text(encoding="utf-8") == buf.getvalue()
    rows = findings_path(out).read_text(encoding="utf-8").splitlines()
    assert rows[0] == "encounter,rule,severity,administrations,message,source"
    assert sum(1 for _ in __import__("csv").reader(rows[1:])) == findings


def test_empty_input_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"\n  \n")
    with pytest.raises(BatchError, match="input file is empty"):
        run_batch(empty, tmp_path / "out.jsonl", workers=1)
    assert not (tmp_path / "out.jsonl").exists()


def test_cli_exit_codes(tmp_path):
    runner = CliRunner()
    good = _write(tmp_path / "good.jsonl", [GOOD % "e1", GOOD % "e2"])
    bad = _write(tmp_path / "bad.jsonl", [GOOD % "e1", "{not json"])
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")

    res = runner.invoke(batch_app, [str(good), str(tmp_path / "o.jsonl"), "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert len((tmp_path / "o.jsonl").read_bytes().splitlines()) == 2

    res = runner.invoke(batch_app, [str(bad), str(tmp_path / "o2.jsonl"), "--workers", "2"])
    assert res.exit_code == 1
    assert "o2.jsonl.errors.jsonl" in res.output
    assert json.loads(errors_path(tmp_path / "o2.jsonl").read_text())["error"]["line"] == 2

    for args in (
        [str(empty), str(tmp_path / "o3.jsonl")],
        [str(tmp_path / "missing.jsonl"), str(tmp_path / "o4.jsonl")],
        [str(good), str(tmp_path / "o5.xml")],
        [str(good), str(tmp_path / "o6.jsonl"), "--out-format", "xml"],
        [str(good), str(tmp_path / "o7.jsonl"), "--profile", "nope"],
        [str(good), str(tmp_path / "o8.jsonl"), "--policy", "nope"],
        [str(good), str(tmp_path / "o9.jsonl"), "--workers", "0"],
        [str(good)],
    ):
        res = runner.invoke(batch_app, args)
        assert res.exit_code == 2, (args, res.output)
    res = runner.invoke(batch_app, [str(empty), str(tmp_path / "o3.jsonl")])
    assert "input file is empty" in res.output


def test_csv_input_grouped_by_encounter(tmp_path):
    header = "encounter_id,setting,date,administration_id,drug,route,start,stop,dose_value,dose_unit"
    src = _write(tmp_path / "in.csv", [
        header,
        "c1,office,2024-07-01,a1,ondansetron,iv_push,09:00,,4,mg",
        "c1,office,2024-07-01,a2,ceftriaxone,iv_infusion,09:10,09:50,1000,mg",
        "c2,facility,2024-07-01,a1,normal saline,iv_infusion,08:00,10:30,,",
        "c3,office,2024-07-01,a1,ondansetron,iv_drip,09:00,,,",  # bad route
        "c4,office,2024-07-01,a1,denosumab,sc,10:00,,60,mg",
    ])
    out = tmp_path / "out.jsonl"
    summary = run_batch(src, out, workers=2, chunk_lines=2)
    assert (summary.coded, summary.failed) == (3, 1)
    results = [json.loads(x) for x in out.read_bytes().splitlines()]
    assert [r["encounter"] for r in results] == ["c1", "c2", "c4"]
    assert [l["code"] for l in results[0]["lines"] if l["kind"] == "administration"] == \
        [l.code for l in __import__("infucode").code_encounter({"id": "c1", "setting": "office", "date": "2024-07-01", "administrations": [
            {"id": "a1", "drug": "ondansetron", "route": "iv_push", "start": "09:00", "dose": {"value": 4, "unit": "mg"}},
            {"id": "a2", "drug": "ceftriaxone", "route": "iv_infusion", "start": "09:10", "stop": "09:50", "dose": {"value": 1000, "unit": "mg"}}]},
            load_ruleset()).lines if l.kind == "administration"]
    error = json.loads(errors_path(out).read_text())
    assert (error["encounter"], error["error"]["line"], error["error"]["field"]) == ("c3", 5, "administrations[0].route")
    header_only = _write(tmp_path / "h.csv", [header])
    with pytest.raises(BatchError, match="no encounters"):
        run_batch(header_only, tmp_path / "o.jsonl", workers=1)
    assert not (tmp_path / "o.jsonl").exists()


def test_progress_bar_can_be_forced(tmp_path, capsys):
    src = _write(tmp_path / "in.jsonl", [GOOD % "e1", GOOD % "e2"])
    summary = run_batch(src, tmp_path / "out.jsonl", workers=1, progress=True)
    assert summary.coded == 2
    assert "coding" in capsys.readouterr().err


def test_engine_spark_without_pyspark_is_a_usage_error_naming_the_extra(tmp_path, monkeypatch):
    """pyspark missing (simulated: a None entry in sys.modules makes its import fail) is exit 2 with the
    extra to install from pyproject's [project.optional-dependencies], never a ModuleNotFoundError traceback."""
    import sys
    import tomllib

    extras = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    extra = next(name for name, deps in extras.items() if name != "test" and any(d.startswith("pyspark") for d in deps))
    monkeypatch.setitem(sys.modules, "pyspark", None)
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "e1", "setting": "facility", "date": "2024-07-01", "administrations": []}\n')
    result = CliRunner().invoke(batch_app, [str(src), str(tmp_path / "out.jsonl"), "--engine", "spark"])
    assert result.exit_code == 2, result.output
    assert f"infucode[{extra}]" in result.output
    assert "pyspark" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not (tmp_path / "out.jsonl").exists()
