"""Bounded, derandomized fuzzing of every input surface (issue 12): no crash, no hang, no broken invariant.

The generators and the oracle are benchmarks/fuzz.py's (the long run: ``python benchmarks/fuzz.py --n 100000``);
here each surface gets a few hundred inputs, the same ones every run (``derandomize``), with hypothesis's own
values (text, bytes, numbers, nested JSON) beside them. The oracle (``fuzz.check``):

* the only acceptable exception is :class:`infucode.model.InputError` (raised by the engine, yielded by the
  readers); any other exception fails the test;
* every charge line has units > 0, cites a rule of the rules registry, and is an add-on only with one of its
  eligible primaries on the claim (reference codes table, CMS add-on code edits);
* no error message quotes free text (a marker planted in drug, site, indication and unit texts);
* one input finishes within ``LIMIT`` seconds of CPU time (an alarm stops it; hypothesis's deadline is off; CPU
  time, so a busy machine does not fail the test).

A failing example prints the seed: ``fuzz.make(surface, random.Random(seed))`` rebuilds the input.
"""
from __future__ import annotations

import importlib.util
import math
import random
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis.control import currently_in_test_context
from hypothesis import strategies as st

from test_properties import encounter as realistic_encounter

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_fuzz", ROOT / "benchmarks" / "fuzz.py")
fz = importlib.util.module_from_spec(_spec)
sys.modules["bench_fuzz"] = fz  # dataclasses look their module up
assert _spec.loader is not None
_spec.loader.exec_module(fz)

#: One input must finish within this many seconds.
LIMIT = 5.0


def fuzz_settings(n: int) -> settings:
    # derandomized (the same inputs every run), no example database, no shrinking (bounded time: a failure
    # prints its seed or value), no deadline (the alarm below bounds one input instead)
    return settings(max_examples=n, derandomize=True, database=None, deadline=None,
                    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))


seeds = st.integers(min_value=0, max_value=2**32 - 1)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    context = fz.Context(tmp=tmp_path_factory.mktemp("fuzz"))
    context.ruleset()
    return context


def run(surface: str, payload, ctx, limit: float = LIMIT) -> None:
    """One input through the oracle, under an alarm of ``limit`` seconds."""
    if currently_in_test_context():  # printed on failure (no shrinking: the input as generated)
        suffix, data = fz.payload_file(surface, payload)
        note(f"{surface} input ({suffix}, {len(data)} bytes): {data[:2000]!r}")
    previous = fz.start_alarm(limit)
    t0 = time.process_time()
    try:
        breaks = fz.check(surface, payload, ctx)
    except fz.InputTimeout:
        pytest.fail(f"{surface}: one input ran over {limit:g} s", pytrace=False)
    finally:
        fz.stop_alarm(previous)
    assert time.process_time() - t0 < limit
    assert not breaks, f"{surface}: " + "\n".join(breaks)


def test_oracle_catches_what_it_should(ctx):
    """The harness itself: a broken line, a leaking error and a slow input are caught (a fuzz test that cannot
    fail is a defect)."""
    from infucode.model import ChargeLine, InputError, Result

    rs = ctx.ruleset()
    line = ChargeLine(code="96366", units=0, modifiers=[], date=None, administrations=["a1"], rule="no.such.rule",
                      explanation="", wrvu=0.0)
    result = Result(encounter="e", profile="medicare", claim="facility", policies={}, lines=[line], findings=[],
                    wrvu_total=0.0)
    kinds = {b.split(":", 1)[0] for b in fz.line_breaks(result, rs)}
    assert kinds == {"units", "rule", "add-on"}
    assert fz.error_breaks(InputError("administrations[0].drug", f"unknown drug {fz.MARKER}"))
    assert not fz.error_breaks(InputError("administrations[0].route", "invalid value 'ivp'"))
    slow = fz.Context(tmp=ctx.tmp)
    def spin(profile="medicare"):  # a CPU-bound Python loop, like the hangs it stands for
        while True:
            pass

    slow.ruleset = spin
    with pytest.raises(pytest.fail.Exception, match="over 0.2 s"):
        run("engine", {"profile": "medicare", "encounter": {}}, slow, limit=0.2)


# --------------------------------------------------------------------------------------------------
# (a) the engine API on hostile encounters
# --------------------------------------------------------------------------------------------------
bases = st.one_of(realistic_encounter(), seeds.map(lambda s: fz.base_encounter(random.Random(s))))


@pytest.mark.parametrize("group", [
    "fields",
    "numbers",
    "clock",
    "ids_sites",
    "unicode",
    "many",
])
@fuzz_settings(100)
@given(base=bases, seed=seeds, profile=st.sampled_from(fz.PROFILES))
def test_engine_on_hostile_encounters(ctx, group, base, seed, profile):
    enc = fz.mutate(base, random.Random(seed), fz.MUTATION_GROUPS[group])
    run("engine", {"profile": profile, "encounter": enc}, ctx)


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.integers(min_value=2**62) | st.text(max_size=30)
    | st.sampled_from(fz.CLOCKS + fz.DATES + fz.TEXTS),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
PLACES = [f"adm.{f}" for f in fz.ADM_FIELDS] + [f"enc.{f}" for f in fz.ENC_FIELDS] + [
    "adm.dose.value", "adm.dose.unit", "adm.vial.size", "adm.vial.single_dose", "adm.interruptions", "enc.administrations"]


@fuzz_settings(120)
@given(enc=realistic_encounter(), place=st.sampled_from(PLACES), value=json_values)
def test_engine_on_any_value_in_any_field(ctx, enc, place, value):
    scope, _, name = place.partition(".")
    target = enc if scope == "enc" else enc["administrations"][0]
    if name.startswith("dose."):
        target["dose"] = {"value": 10, "unit": "mg"}
        target, name = target["dose"], name[5:]
    elif name.startswith("vial."):
        target["dose"], target["vial"] = {"value": 10, "unit": "mg"}, {"size": 10, "unit": "mg"}
        target, name = target["vial"], name[5:]
    target[name] = value
    run("engine", {"profile": "medicare", "encounter": enc}, ctx)


@fuzz_settings(100)
@given(enc=realistic_encounter(), minutes=st.integers(min_value=1, max_value=24 * 60 - 1),
       drug=st.sampled_from(["normal saline", "vancomycin", "paclitaxel", "rituximab"]))
def test_engine_on_long_infusions_within_a_day(ctx, enc, minutes, drug):
    """The non-hostile edge: one infusion of any length up to a day, beside the realistic ones."""
    enc["administrations"].append({"id": "long", "drug": drug, "route": "iv_infusion", "start": "00:00",
                                   "stop": f"{minutes // 60:02d}:{minutes % 60:02d}", "indication": "dehydration"})
    run("engine", {"profile": "medicare", "encounter": enc}, ctx)


# --------------------------------------------------------------------------------------------------
# (b) the CLI input readers on generated files and on arbitrary bytes
# --------------------------------------------------------------------------------------------------
READER_BUDGET = {"reader:yaml": 30, "claims:yaml": 30, "reader:fhir": 40, "claims:x12": 3}  # x12: ~1 s each (pyx12)


def _reader_params():
    for surface in fz.READERS:
        yield pytest.param(surface, READER_BUDGET.get(surface, 80), id=surface)


@pytest.mark.parametrize(("surface", "budget"), list(_reader_params()))
def test_reader_on_generated_files(ctx, surface, budget):
    @fuzz_settings(budget)
    @given(seed=seeds)
    def inner(seed):
        run(surface, fz.reader_file(surface, random.Random(seed)), ctx)

    inner()


@pytest.mark.parametrize("surface", [
    pytest.param(s, id=s)
    for s in fz.READERS if s not in ("reader:fhir", "reader:mar")])
@fuzz_settings(40)
@given(data=st.binary(max_size=400) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_reader_on_arbitrary_bytes(ctx, surface, data):
    run(surface, (fz.READERS[surface], data), ctx)


DEEP = 100_000


@pytest.mark.parametrize(("surface", "data"), [
    pytest.param("reader:json", b"[" * DEEP + b"]" * DEEP, id="json-list"),
    pytest.param("reader:jsonl", b'{"id":"d","setting":"office","administrations":' + b"[" * DEEP + b"]" * DEEP + b"}",
                 id="jsonl-in-encounter"),
    pytest.param("reader:yaml", b"[" * 5000 + b"]" * 5000, id="yaml-flow"),
    pytest.param("reader:yaml", b"".join(b"  " * k + b"- \n" for k in range(3000)), id="yaml-block"),
    pytest.param("claims:json", b'{"a":' * DEEP + b"1" + b"}" * DEEP, id="claims-json-object"),
    pytest.param("claims:yaml", b"{a: " * 5000 + b"1" + b"}" * 5000, id="claims-yaml-flow"),
])
def test_reader_on_deep_nesting(ctx, surface, data):
    run(surface, (fz.READERS[surface], data), ctx)


def _bomb(levels: int, width: int, claims: bool) -> bytes:
    """Billion laughs: anchor k is a list of ``width`` aliases of anchor k-1; the last one is the records."""
    anchors = ['  l0: &l0 ["lol"]'] + [f"  l{k}: &l{k} [{', '.join(f'*l{k - 1}' for _ in range(width))}]"
                                      for k in range(1, levels + 1)]
    if claims:
        head = ["- bomb:"] + ["  " + a for a in anchors]
        return "\n".join(head + ["  id: C1", "  claim_type: professional", "  date: '2024-07-01'",
                                  f"  lines: *l{levels}"]).encode() + b"\n"
    return "\n".join(["bomb:"] + anchors + ["id: b", "setting: office", f"administrations: *l{levels}"]).encode() + b"\n"


@pytest.mark.parametrize(("surface", "data"), [
    pytest.param("reader:yaml", _bomb(9, 9, False), id="encounter-9x9"),
    pytest.param("claims:yaml", _bomb(9, 9, True), id="claims-9x9"),
])
def test_reader_on_yaml_alias_bombs(ctx, surface, data):
    run(surface, (fz.READERS[surface], data), ctx)


# --------------------------------------------------------------------------------------------------
# (c) the note intake: case_memo on notes, email_text on e-mails
# --------------------------------------------------------------------------------------------------
@fuzz_settings(150)
@given(seed=seeds)
def test_intake_on_generated_notes(ctx, seed):
    run("intake:note", fz.note_text(random.Random(seed)), ctx)


@fuzz_settings(150)
@given(text=st.text(max_size=300) | st.lists(st.sampled_from(fz.NOTE_DRUGS + fz.NOTE_TIMES + fz.NOTE_DATES
                                                             + fz.NOTE_DURATIONS + (" ", "\n", "IV", "push", "started",
                                                                                    "stopped", "at", "via")),
                                             max_size=40).map(" ".join))
def test_intake_on_any_text(ctx, text):
    run("intake:note", text, ctx)


@fuzz_settings(150)
@given(seed=seeds)
def test_intake_on_generated_emails(ctx, seed):
    run("intake:email", fz.email_bytes(random.Random(seed)), ctx)


@pytest.mark.parametrize("run_of", ["1", " ", "\n", "a", "1 ", "a "])
def test_intake_on_long_runs_of_one_character(ctx, run_of):
    """Regular expressions that backtrack over a run (a rate searched inside 100,000 digits) made one note take
    minutes; a run of any character is read in bounded time (the alarm of ``run``, not a speed target)."""
    body = run_of * (30_000 // len(run_of))
    run("intake:note", "NS started 0830 " + body + " infusion complete 0930", ctx)


def test_intake_on_one_long_clause_of_many_actions(ctx):
    """A clause of a thousand drugless actions ('Paused ..., restarted ...') was read in quadratic time."""
    run("intake:note", "NS started 0830. " + "Paused 1:1:1, restarted 1:05 PM." * 1000, ctx, limit=2)


@fuzz_settings(150)
@given(data=st.binary(max_size=500) | st.text(max_size=300).map(lambda t: ("Subject: x\n\n" + t).encode("utf-8", "replace")))
def test_intake_on_any_bytes_as_email(ctx, data):
    run("intake:email", data, ctx)


def test_generators_are_reproducible():
    """Input i of seed s is the same every time: a reproducer is a seed and an index."""
    for i in (0, 7, 1234):
        a, b = fz.make_input(3, i), fz.make_input(3, i)
        assert a[0] == b[0]
        assert fz.payload_file(*a) == fz.payload_file(*b)
    assert any(isinstance(v, float) and math.isnan(v) for v in fz.NUMBERS)
