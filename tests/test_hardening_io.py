"""Hardening of the input readers and output files of `code`, `batch` and `audit` (issue 12).

Each test reproduces a finding of the fuzz/fault probe: a hostile or broken input must cost one
record (never the batch, never a traceback), and an output must appear whole or not at all.
"""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from infucode.adapters import input_limits, output_files
from infucode.adapters.encounter_io import iter_encounters
from infucode.adapters.yaml_documents import EncounterYamlLoader
from infucode.adapters.input_limits import MAX_NESTING_DEPTH, decode_json
from infucode.audit.cli import audit_app
from infucode.batch import BatchError, run_batch
from infucode.batch.cli import batch_app
from infucode.batch.columns import load_columns
from infucode.cli import app
from infucode.model import Encounter, InputError

ROOT = Path(__file__).resolve().parents[1]
GOOD = ('{"id": "%s", "setting": "office", "date": "2024-07-01", "administrations": [{"id": "a1", '
        '"drug": "ceftriaxone", "route": "iv_infusion", "start": "10:00", "stop": "10:40"}]}')
DEEP = "[" * 1000 + "]" * 1000
#: 300 bytes of YAML that expand to 9**9 (387 million) strings when written out
BILLION_LAUGHS = '''a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
'''


def make_runner() -> CliRunner:
    try:  # click < 8.2 mixes stderr into stdout unless told not to
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()


runner = make_runner()


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _litter(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if output_files.PARTIAL_MARK in p.name)


def _nested(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


# --------------------------------------------------------------------------------------------
# Nesting depth
# --------------------------------------------------------------------------------------------


def test_nesting_limit_is_a_boundary():
    assert decode_json(_nested(MAX_NESTING_DEPTH)) is not None
    with pytest.raises(InputError, match=f"deeper than the limit of {MAX_NESTING_DEPTH}"):
        decode_json(_nested(MAX_NESTING_DEPTH + 1), line=7)
    with pytest.raises(InputError) as err:  # far past Python's recursion limit: no RecursionError
        decode_json(_nested(100_000), line=7)
    assert err.value.line == 7


@pytest.mark.parametrize("workers", [1, 2])
def test_one_deeply_nested_line_costs_only_that_line(tmp_path, workers):
    src = _write(tmp_path / "in.jsonl", [GOOD % "e1", DEEP, GOOD % "e3"])
    out = tmp_path / "out.jsonl"
    done = run_batch(src, out, workers=workers, progress=False)
    assert (done.coded, done.failed) == (2, 1)
    assert [json.loads(x)["encounter"] for x in out.read_text().splitlines()] == ["e1", "e3"]
    error = json.loads((tmp_path / "out.jsonl.errors.jsonl").read_text())
    assert error["error"]["line"] == 2 and "nested deeper" in error["error"]["message"]


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_code_on_deep_nesting_is_a_clear_error_not_a_traceback(tmp_path, suffix):
    path = tmp_path / f"deep{suffix}"
    path.write_text(DEEP + "\n")
    r = runner.invoke(app, ["code", str(path), "--format", "jsonl"])
    assert r.exit_code == 1, r.output  # the documented exit for an encounter that cannot be read
    assert "nested deeper than the limit of 64 levels" in r.stderr
    assert r.exception is None or isinstance(r.exception, SystemExit)


# --------------------------------------------------------------------------------------------
# YAML: one bounded loader for encounters, claims, the web upload and the mapping files
# --------------------------------------------------------------------------------------------


def test_billion_laughs_is_refused_fast(tmp_path):
    path = tmp_path / "lol.yaml"
    path.write_text(BILLION_LAUGHS)
    started = time.perf_counter()
    items = [item for item, _line in iter_encounters(path)]
    assert time.perf_counter() - started < 5
    assert len(items) == 1 and isinstance(items[0], InputError)
    assert "aliases" in items[0].message and "limit" in items[0].message
    # the loader the web upload uses is the same class
    with pytest.raises(yaml.YAMLError):
        list(yaml.load_all(BILLION_LAUGHS, Loader=EncounterYamlLoader))  # noqa: S506


def test_billion_laughs_as_a_column_mapping_is_a_usage_error(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text(BILLION_LAUGHS)
    with pytest.raises(BatchError, match="aliases"):
        load_columns(path)


def test_a_few_aliases_still_read(tmp_path):
    # an anchor reused for a repeated administration is legitimate YAML
    path = tmp_path / "enc.yaml"
    path.write_text(
        "id: e1\nsetting: office\ndate: 2024-07-01\nadministrations:\n"
        "  - &push {id: a1, drug: ondansetron, route: iv_push, start: '9:00'}\n"
        "  - {<<: *push, id: a2, start: '9:30'}\n"
    )
    [(item, _line)] = list(iter_encounters(path))
    assert isinstance(item, Encounter) and [a.start for a in item.administrations] == ["9:00", "9:30"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- " + "[" * 1000 + "]" * 1000 + "\n", "nested deeper"),
        ("a: &a [*a]\n", "refers to the node that contains it"),
        # 70 anchors, each one level deeper than the last: too deep only through the aliases
        ("x0: &a0 [1]\n" + "".join(f"x{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 70)), "through aliases"),
    ],
)
def test_yaml_limits(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    items = [item for item, _line in iter_encounters(path)]
    assert len(items) == 1 and isinstance(items[0], InputError) and message in items[0].message


def test_yaml_file_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(input_limits, "MAX_YAML_BYTES", 100)
    monkeypatch.setattr("infucode.adapters.encounter_io.MAX_YAML_BYTES", 100)
    path = tmp_path / "big.yaml"
    path.write_text("id: e1\n" + "# padding\n" * 20)
    [item] = [item for item, _line in iter_encounters(path)]
    assert isinstance(item, InputError) and "larger than the limit" in item.message


# --------------------------------------------------------------------------------------------
# audit reads JSON and JSON Lines with the same reader as `code`
# --------------------------------------------------------------------------------------------

CLAIM = '{"id": "%s", "claim_type": "professional", "date": "2024-07-01", "lines": [{"code": "96365", "units": 1}]}'


def test_audit_jsonl_shares_the_reader(tmp_path):
    path = tmp_path / "claims.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + (CLAIM % "c1").encode() + b"\n" + DEEP.encode() + b"\n" + (CLAIM % "c3").encode() + b"\n")
    r = runner.invoke(audit_app, [str(path), "--format", "jsonl"])
    records = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["claim"] for x in records if "error" not in x] == ["c1", "c3"]  # the BOM did not break line 1
    [bad] = [x for x in records if "error" in x]
    assert bad["error"]["line"] == 2 and "nested deeper" in bad["error"]["message"]
    assert r.exit_code == 1


# --------------------------------------------------------------------------------------------
# CSV: an unreadable row
# --------------------------------------------------------------------------------------------


def _csv_with_giant_field(tmp_path: Path) -> tuple[Path, str, str]:
    header = "encounter_id,setting,date,administration_id,drug,route,start,stop"
    rows = [header,
            "e1,office,2024-07-01,a1,ceftriaxone,iv_infusion,10:00,10:40",
            "e2,office,2024-07-01,a1,ceftriaxone,iv_infusion,10:00,10:40",
            'e2,office,2024-07-01,a2,"' + "x" * 200_000 + '",iv_push,11:00,',
            "e3,office,2024-07-01,a1,ceftriaxone,iv_infusion,10:00,10:40",
            "e4,office,2024-07-01,a1,ceftriaxone,iv_infusion,10:00,10:40"]
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(rows) + "\n")
    return path, "e2", "e3"


@pytest.mark.parametrize("workers", [1, 2])
def test_unreadable_csv_row_never_shortens_an_encounter(tmp_path, workers):
    path, before, after = _csv_with_giant_field(tmp_path)
    out = tmp_path / "out.jsonl"
    done = run_batch(path, out, workers=workers, progress=False, chunk_lines=2)
    coded = [json.loads(x)["encounter"] for x in out.read_text().splitlines()]
    # e2 without its unreadable administration would be a wrong code: it and its neighbour are errors
    assert coded == ["e1", "e4"]
    errors = [json.loads(x) for x in (tmp_path / "out.jsonl.errors.jsonl").read_text().splitlines()]
    assert {e["encounter"] for e in errors} == {before, after, None}
    assert done.failed == 3
    assert any(e["error"]["line"] == 4 and "field larger than field limit" in e["error"]["message"] for e in errors)


def test_unreadable_csv_row_in_code(tmp_path):
    path, before, after = _csv_with_giant_field(tmp_path)
    items = [item for item, _line in iter_encounters(path)]
    assert [i.id for i in items if isinstance(i, Encounter)] == ["e1", "e4"]
    assert {i.encounter for i in items if isinstance(i, InputError)} == {before, after, None}


# --------------------------------------------------------------------------------------------
# Outputs: the same file as an input
# --------------------------------------------------------------------------------------------


def test_batch_refuses_an_output_hard_linked_to_the_input(tmp_path):
    src = _write(tmp_path / "in.jsonl", [GOOD % "e1", GOOD % "e2"])
    before = src.read_bytes()
    os.link(src, tmp_path / "out.jsonl")
    r = runner.invoke(batch_app, [str(src), str(tmp_path / "out.jsonl"), "--workers", "1"])
    assert r.exit_code == 2 and "same file" in r.output
    assert src.read_bytes() == before


def test_batch_refuses_a_summary_hard_linked_to_the_input(tmp_path):
    src = _write(tmp_path / "in.jsonl", [GOOD % "e1"])
    before = src.read_bytes()
    os.link(src, tmp_path / "summary.json")
    r = runner.invoke(batch_app, [str(src), str(tmp_path / "out.jsonl"), "--workers", "1",
                                  "--summary", str(tmp_path / "summary.json")])
    assert r.exit_code == 2 and src.read_bytes() == before
    assert not (tmp_path / "out.jsonl").exists()


def test_code_and_audit_refuse_an_output_that_is_an_input(tmp_path):
    enc = _write(tmp_path / "enc.jsonl", [GOOD % "e1"])
    os.link(enc, tmp_path / "link.jsonl")
    r = runner.invoke(app, ["code", str(enc), "-o", str(tmp_path / "link.jsonl")])
    assert r.exit_code == 2 and enc.read_text().startswith("{")
    claims = _write(tmp_path / "claims.jsonl", [CLAIM % "c1"])
    os.link(claims, tmp_path / "claims-link.jsonl")
    r = runner.invoke(audit_app, [str(claims), "-o", str(tmp_path / "claims-link.jsonl")])
    assert r.exit_code == 2 and claims.read_text().startswith("{")


# --------------------------------------------------------------------------------------------
# Outputs: a full disk, an exception, Ctrl-C
# --------------------------------------------------------------------------------------------


class _FullDisk:
    """A file whose writes fail with ENOSPC after ``room`` bytes, as on a full disk."""

    def __init__(self, fh, room: int) -> None:
        self._fh, self._room = fh, room

    def write(self, data):
        self._room -= len(data)
        if self._room < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self._fh.write(data)

    def __getattr__(self, name):
        return getattr(self._fh, name)


@pytest.fixture
def full_disk(monkeypatch):
    real_open = open

    def fake_open(path, *args, **kwargs):
        return _FullDisk(real_open(path, *args, **kwargs), room=300)

    monkeypatch.setattr(output_files, "open", fake_open, raising=False)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_batch_on_a_full_disk(tmp_path, full_disk, fmt):
    src = _write(tmp_path / "in.jsonl", [GOOD % f"e{i}" for i in range(50)])
    out = tmp_path / f"out.{fmt}"
    r = runner.invoke(batch_app, [str(src), str(out), "--workers", "1", "--no-progress"])
    assert r.exit_code == output_files.EXIT_OUTPUT_FAILED, r.output
    assert "No space left on device" in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert not out.exists() and _litter(tmp_path) == []


def test_audit_and_code_on_a_full_disk(tmp_path, full_disk):
    claims = _write(tmp_path / "claims.jsonl", [CLAIM % f"c{i}" for i in range(20)])
    out = tmp_path / "audit.json"
    r = runner.invoke(audit_app, [str(claims), "--format", "json", "-o", str(out)])
    assert r.exit_code == output_files.EXIT_OUTPUT_FAILED and "No space left" in r.output
    assert not out.exists() and _litter(tmp_path) == []
    enc = _write(tmp_path / "enc.jsonl", [GOOD % f"e{i}" for i in range(20)])
    out = tmp_path / "coded.jsonl"
    r = runner.invoke(app, ["code", str(enc), "--format", "jsonl", "-o", str(out)])
    assert r.exit_code == output_files.EXIT_OUTPUT_FAILED and "No space left" in r.stderr
    assert not out.exists() and _litter(tmp_path) == []


@pytest.mark.parametrize("stop", [KeyboardInterrupt, RuntimeError])
def test_batch_stopped_midway_leaves_no_output(tmp_path, monkeypatch, stop):
    from infucode.batch import coding

    src = _write(tmp_path / "in.jsonl", [GOOD % f"e{i}" for i in range(20)])
    out = tmp_path / "out.jsonl"
    out.write_text("an earlier run's output\n")
    real = coding.code_chunk
    calls = []

    def flaky(task):
        calls.append(1)
        if len(calls) == 1:  # the outputs are open, the first chunk is being coded
            raise stop()
        return real(task)

    monkeypatch.setattr(coding, "code_chunk", flaky)
    r = runner.invoke(batch_app, [str(src), str(out), "--workers", "1", "--no-progress", "--summary",
                                  str(tmp_path / "s.json")], env={"INFUCODE_DEBUG": ""})
    assert r.exit_code == (130 if stop is KeyboardInterrupt else output_files.EXIT_OUTPUT_FAILED), r.output
    assert "no output was written" in r.output and "Traceback" not in r.output
    assert not out.exists() and not (tmp_path / "s.json").exists() and _litter(tmp_path) == []


def test_a_finished_batch_replaces_an_earlier_errors_file(tmp_path):
    src = _write(tmp_path / "in.jsonl", [GOOD % "e1"])
    out = tmp_path / "out.jsonl"
    (tmp_path / "out.jsonl.errors.jsonl").write_text("stale\n")
    run_batch(src, out, workers=1, progress=False)
    assert out.exists() and not (tmp_path / "out.jsonl.errors.jsonl").exists() and _litter(tmp_path) == []


# --------------------------------------------------------------------------------------------
# Signals: a real `infucode batch` process, stopped mid-run
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_input(tmp_path_factory, generator) -> Path:
    path = tmp_path_factory.mktemp("long") / "in.jsonl"
    generator.write_jsonl(10_000, path, seed=11)
    return path


def _start_and_stop(long_input: Path, out: Path, sig: int) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "infucode", "batch", str(long_input), str(out), "--workers", "2", "--no-progress"],
        stderr=subprocess.PIPE, env=env, cwd=out.parent,
    )
    partial = out.with_name(f".{out.name}{output_files.PARTIAL_MARK}{proc.pid}")
    deadline = time.monotonic() + 60
    try:
        # mid-run: once the first results are in the temporary file
        while time.monotonic() < deadline and proc.poll() is None:
            if partial.exists() and partial.stat().st_size > 0:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the batch finished before it could be stopped"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err.decode()


def test_sigterm_mid_run_leaves_no_output(tmp_path, long_input):
    out = tmp_path / "out.jsonl"
    status, err = _start_and_stop(long_input, out, signal.SIGTERM)
    assert status == 128 + signal.SIGTERM, err
    assert "SIGTERM" in err and "no output was written" in err
    assert not out.exists() and not (tmp_path / "out.jsonl.errors.jsonl").exists()
    assert _litter(tmp_path) == []


def _processes_naming(text: str) -> list[int]:
    """Live processes whose command line holds ``text`` (the forked workers keep the parent's)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_sigkill_mid_run_leaves_at_most_a_partial_file(tmp_path, long_input):
    out = tmp_path / "out.jsonl"
    status, _ = _start_and_stop(long_input, out, signal.SIGKILL)
    assert status == -signal.SIGKILL
    assert not out.exists() and not (tmp_path / "out.jsonl.errors.jsonl").exists()
    assert all(name.startswith(".out.jsonl") for name in _litter(tmp_path))
    if sys.platform.startswith("linux"):  # the workers do not outlive their parent (PR_SET_PDEATHSIG)
        deadline = time.monotonic() + 10
        while _processes_naming(str(out)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _processes_naming(str(out)) == []


# --------------------------------------------------------------------------------------------
# Broken X12 files
# --------------------------------------------------------------------------------------------

X12 = (ROOT / "examples" / "claims" / "ivig-837p.x12").read_bytes()


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("isa-only", X12[:106], "only an ISA segment"),
        ("cut-isa", X12[:50], "ISA segment is cut short"),
        ("no-terminator", X12.replace(b"~", b""), "no valid segment terminator"),
        ("binary", X12[:106] + bytes(range(256)) * 2, "binary data"),
        ("truncated-in-st", X12[:300], "no SE segment"),
        ("no-transaction", X12[:X12.index(b"ST*")], "no 837 transaction set"),
    ],
)
def test_broken_x12_is_an_error_naming_the_file(tmp_path, name, data, problem):
    path = tmp_path / f"{name}.x12"
    path.write_bytes(data)
    r = runner.invoke(audit_app, [str(path), "--format", "jsonl"])
    assert r.exit_code == 1, r.output
    [record] = [json.loads(x) for x in r.stdout.splitlines()]
    assert problem in record["error"]["message"] and path.name in record["error"]["message"]
    assert path.name in r.stderr and problem in r.stderr


def test_a_good_x12_file_still_audits(tmp_path):
    r = runner.invoke(audit_app, [str(ROOT / "examples" / "claims" / "ivig-837p.x12"), "--format", "jsonl"])
    assert r.exit_code == 0, r.output
    [record] = [json.loads(x) for x in r.stdout.splitlines()]
    assert record["claim"] == "CLAIM1" and "error" not in record


def test_unreadable_csv_row_in_audit(tmp_path):
    rows = ["claim_id,claim_type,date,code,units",
            "c1,professional,2024-07-01,96365,1",
            "c2,professional,2024-07-01,96365,1",
            'c2,professional,2024-07-01,"' + "9" * 200_000 + '",1',
            "c3,professional,2024-07-01,96365,1",
            "c4,professional,2024-07-01,96365,1"]
    path = tmp_path / "claims.csv"
    path.write_text("\n".join(rows) + "\n")
    r = runner.invoke(audit_app, [str(path), "--format", "jsonl"])
    records = [json.loads(x) for x in r.stdout.splitlines()]
    # c2 without its unreadable line (and c3, which it may belong to) would get wrong findings
    assert sorted(x["claim"] for x in records if "error" not in x) == ["c1", "c4"]
    assert sorted(str(x["claim"]) for x in records if "error" in x) == ["None", "c2", "c3"]
    assert r.exit_code == 1
