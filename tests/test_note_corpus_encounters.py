"""The nurse-note corpus of issue 13 (tests/notes/), checked on its structured side.

Each note's expectation was written from how the nurse charted it (CPT/CMS reading in the note's `note:`
where it is not obvious); here the engine codes the note's `encounter` twin - the same services in the input
contract - and must give exactly the expected administration lines. The engine is the reference for
structured input, so a failure here is a mistake in the corpus (or an engine regression), never in the
intake. The MAR CSV twins (tests/notes/mar/<id>.csv) go through the MAR adapter and must code the same.
"""
from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import msgspec
import pytest
import yaml

from conftest import load_note_corpus
from infucode import code_encounter, load_ruleset
from infucode.adapters.mar import read_mar
from infucode.model import Encounter



corpus = load_note_corpus()

NOTES = corpus.load_notes()
IDS = [n["id"] for n in NOTES]
RULES_YAML = Path(__file__).parents[1] / "src" / "infucode" / "reference" / "data" / "rules.yaml"


@pytest.fixture(scope="module")
def rs():
    return load_ruleset(corpus.PROFILE)


@pytest.mark.parametrize("note", NOTES, ids=IDS)
def test_encounter_twin_codes_to_the_expectation(note, rs):
    result = code_encounter(note["encounter"], rs)
    exp = note["expected"]
    problems = corpus.line_problems(exp.get("lines", []), corpus.admin_lines(result))
    if "drug_lines" in exp:
        problems += [f"drug {p}" for p in corpus.line_problems(exp["drug_lines"], corpus.drug_lines(result))]
    rules = {f.rule for f in result.findings}
    problems += [f"finding {r} missing" for r in exp.get("findings", []) if r not in rules]
    assert not problems, (f"{note['id']} ({note['_file']}): {problems}; engine gave "
                          f"{corpus.fmt_lines(corpus.admin_lines(result))}; findings {sorted(rules)}")


@pytest.mark.parametrize("note", NOTES, ids=IDS)
def test_twin_without_question_has_no_error_finding(note, rs):
    """A note that needs no question documents everything: its twin codes without an error finding."""
    if note["expected"].get("questions") == "required":
        pytest.skip("a question is expected for this note")
    result = code_encounter(note["encounter"], rs)
    errors = [f"{f.rule}: {f.message}" for f in result.findings if f.severity == "error"]
    assert not errors, f"{note['id']}: {errors}"


MAR_NOTES = [n for n in NOTES if corpus.mar_twin(n)]


@pytest.mark.parametrize("note", MAR_NOTES, ids=[n["id"] for n in MAR_NOTES])
def test_mar_twin_codes_like_the_encounter_twin(note, rs):
    reads = [r for r in read_mar(corpus.mar_twin(note)) if r.encounter is not None]
    findings = [f for r in read_mar(corpus.mar_twin(note)) for f in r.findings if f.severity != "info"]
    assert len(reads) == 1 and not findings, (note["id"], findings)
    from_mar = code_encounter(reads[0].encounter, rs)
    from_twin = code_encounter(note["encounter"], rs)
    as_lines = lambda r: corpus.merged(corpus.admin_lines(r), use_date=True, use_modifiers=True)  # noqa: E731
    assert as_lines(from_mar) == as_lines(from_twin), (
        f"{note['id']}: MAR {corpus.fmt_lines(corpus.admin_lines(from_mar))} vs twin "
        f"{corpus.fmt_lines(corpus.admin_lines(from_twin))}")


# --------------------------------------------------------------------------------------------------
# the corpus itself
# --------------------------------------------------------------------------------------------------
def test_corpus_is_well_formed():
    rule_ids = set((yaml.safe_load(RULES_YAML.read_text(encoding="utf-8")) or {}).get("rules", {}))
    problems: list[str] = []
    assert len(NOTES) >= 80, f"only {len(NOTES)} notes"
    for note_id, count in Counter(IDS).items():
        if count > 1:
            problems.append(f"{note_id}: id used {count} times")
    for note in NOTES:
        nid = note["id"]
        keys = set(note) - {"_file"}
        if keys - corpus.NOTE_KEYS:
            problems.append(f"{nid}: unknown keys {keys - corpus.NOTE_KEYS}")
        if ("text" in note) == ("file" in note):
            problems.append(f"{nid}: give exactly one of text / file")
        for k in ("source", "setting", "encounter", "expected"):
            if not note.get(k):
                problems.append(f"{nid}: {k} missing")
        enc = note.get("encounter") or {}
        if enc.get("id") != nid:
            problems.append(f"{nid}: encounter id {enc.get('id')!r} differs from the note id")
        if enc.get("setting") != note.get("setting"):
            problems.append(f"{nid}: encounter setting differs from the note's setting")
        try:
            msgspec.convert(enc, Encounter)
        except msgspec.ValidationError as exc:
            problems.append(f"{nid}: encounter does not fit model.Encounter: {exc}")
        for adm in enc.get("administrations", []):
            for t in ("start", "stop"):
                if t in adm and not isinstance(adm[t], str):
                    problems.append(f"{nid}: {t} is not a string (quote clock times)")
        exp = note.get("expected") or {}
        if set(exp) - corpus.EXPECTED_KEYS:
            problems.append(f"{nid}: unknown expected keys {set(exp) - corpus.EXPECTED_KEYS}")
        if "lines" not in exp:
            problems.append(f"{nid}: expected.lines missing (an empty list says: no line)")
        if "questions" in exp and exp["questions"] not in corpus.QUESTIONS:
            problems.append(f"{nid}: expected.questions must be one of {sorted(corpus.QUESTIONS)}")
        for line in exp.get("lines", []) + exp.get("drug_lines", []):
            if set(line) - corpus.LINE_KEYS or not isinstance(line.get("code"), str) or not isinstance(line.get("units"), int):
                problems.append(f"{nid}: bad line {line}")
        for r in exp.get("findings", []):
            if r not in rule_ids:
                problems.append(f"{nid}: finding {r} is not in rules.yaml")
        for cause in note.get("causes", []):
            if cause not in corpus.CAUSES:
                problems.append(f"{nid}: unknown cause {cause}")
        if "on_body_injector" in note.get("causes", []) and not any(l.get("code") == "96377" for l in exp.get("lines", [])):
            problems.append(f"{nid}: an on-body injector applied is 96377 (route on_body_injector): expected.lines must hold it")
        if "text" in note:
            for decoy in note.get("decoys", []):
                if decoy not in note["text"]:
                    problems.append(f"{nid}: decoy {decoy!r} is not in the text")
        if "file" in note and not (corpus.EML_DIR / note["file"]).exists():
            problems.append(f"{nid}: {note['file']} missing")
    assert not problems, "\n".join(problems)


def test_every_cause_of_the_brief_has_two_notes():
    counts = Counter(c for n in NOTES for c in n.get("causes", []))
    short = []
    for cause in corpus.REQUIRED_CAUSES:
        group = cause if isinstance(cause, tuple) else (cause,)
        if sum(counts[c] for c in group) < 2:
            short.append(f"{'/'.join(group)}: {sum(counts[c] for c in group)}")
    assert not short, short


def test_corpus_mix():
    settings = Counter(n["setting"] for n in NOTES)
    assert settings["facility"] >= 40 and settings["office"] >= 12, settings
    emails = [n for n in NOTES if "file" in n]
    assert len(emails) >= 8
    raw = [(corpus.EML_DIR / n["file"]).read_text(encoding="utf-8") for n in emails]
    assert all("\nDate: " in r for r in raw)
    assert any("text/html" in r and "text/plain" not in r for r in raw), "one HTML-only e-mail"
    assert len(MAR_NOTES) >= 6
    assert sum(n["expected"].get("questions") == "required" for n in NOTES) >= 8
    # every MAR twin belongs to a note
    assert {p.stem for p in corpus.MAR_DIR.glob("*.csv")} <= set(IDS)
