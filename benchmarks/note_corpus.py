"""How well the case intake reads the nurse-note corpus of issue 13 (tests/notes/). Prints figures; asserts nothing.

Per note the intake (``infucode.knowledge.intake.case_memo``) reads the text (an e-mail through
``read_case_file``) with ``default_date`` 2024-07-01, and its administration lines are compared with the
note's expectation (tests/notes/corpus.py explains the scoring). Figures:

- exact match: the emitted administration lines equal the expectation (and a question is asked where one
  is required) - the strict target of the rewrite;
- no silent wrong code: right lines, or a question / hold (tests/test_note_corpus.py asserts this);
- questions per note: all of the memo's questions, and those that count (date questions on undated notes
  do not);
- decoy-coded notes: a code was emitted from a mention the note marks as oral, planned, prescribed,
  historical or not given (target 0);
- MAR twins: the note codes like its MAR action-log CSV.

Usage: python benchmarks/note_corpus.py [--verbose] [--json]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

from infucode import code_encounter, load_ruleset
from infucode.adapters.mar import read_mar

ROOT = Path(__file__).resolve().parents[1]


def load_corpus_module():
    if "note_corpus" not in sys.modules:
        spec = importlib.util.spec_from_file_location("note_corpus", ROOT / "tests" / "notes" / "corpus.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["note_corpus"] = module
        assert spec.loader is not None
        spec.loader.exec_module(module)
    return sys.modules["note_corpus"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--verbose", action="store_true", help="one line per note")
    ap.add_argument("--json", action="store_true", help="the figures as JSON")
    args = ap.parse_args()
    corpus = load_corpus_module()
    rs = load_ruleset(corpus.PROFILE)
    notes = corpus.load_notes()

    verdicts = []
    crashed: list[str] = []
    mar_total = mar_same = 0
    by_cause_exact: Counter = Counter()
    by_cause_total: Counter = Counter()
    for note in notes:
        try:
            memo, text = corpus.run_intake(note, rs)
        except Exception as exc:  # noqa: BLE001 - a crash is a figure here, not a stop
            crashed.append(f"{note['id']}: {type(exc).__name__}")
            continue
        v = corpus.score(note, memo, text, rs)
        verdicts.append(v)
        for cause in note.get("causes", []):
            by_cause_total[cause] += 1
            by_cause_exact[cause] += v.exact_match
        twin = corpus.mar_twin(note)
        if twin is not None and memo.result is not None:
            mar_total += 1
            enc = [r.encounter for r in read_mar(twin) if r.encounter is not None][0]
            a = corpus.merged(corpus.admin_lines(memo.result), use_date=True, use_modifiers=True)
            b = corpus.merged(corpus.admin_lines(code_encounter(enc, rs)), use_date=True, use_modifiers=True)
            mar_same += a == b
        if args.verbose:
            flag = "EXACT" if v.exact_match else ("ASKED" if v.no_silent_wrong_code else "WRONG")
            print(f"{flag:5s} {v.note_id:40s} emitted {v.emitted}; {'; '.join(v.problems) or 'ok'}"
                  + (f"; decoy coded {v.decoys_coded}" if v.decoys_coded else ""))

    n = len(notes)
    figures = {
        "notes": n,
        "crashed": len(crashed),
        "exact_match": sum(v.exact_match for v in verdicts),
        "exact_match_rate": round(sum(v.exact_match for v in verdicts) / n, 3),
        "no_silent_wrong_code": sum(v.no_silent_wrong_code for v in verdicts),
        "silent_wrong": [v.note_id for v in verdicts if not v.no_silent_wrong_code] + [c.split(":")[0] for c in crashed],
        "questions_per_note": round(sum(len(v.questions) for v in verdicts) / n, 2),
        "counted_questions_per_note": round(sum(len(v.counted_questions) for v in verdicts) / n, 2),
        "notes_with_a_counted_question_or_hold": sum(v.asked for v in verdicts),
        "decoy_coded_notes": sum(bool(v.decoys_coded) for v in verdicts),
        "decoy_coded": [v.note_id for v in verdicts if v.decoys_coded],
        "mar_twins_same": f"{mar_same}/{mar_total}",
        "exact_by_cause": {c: f"{by_cause_exact[c]}/{by_cause_total[c]}" for c in sorted(by_cause_total)},
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"notes: {n} (crashed: {len(crashed)})")
    print(f"exact match: {figures['exact_match']}/{n} = {figures['exact_match_rate']:.1%}")
    print(f"no silent wrong code: {figures['no_silent_wrong_code']}/{n}; silent wrong: {len(figures['silent_wrong'])} "
          f"{figures['silent_wrong']}")
    print(f"questions per note: {figures['questions_per_note']}, counted {figures['counted_questions_per_note']} (notes asking a counted question or holding: "
          f"{figures['notes_with_a_counted_question_or_hold']})")
    print(f"notes coding an oral/planned/prescribed/historical/not-given mention: {figures['decoy_coded_notes']} "
          f"(target 0) {figures['decoy_coded']}")
    print(f"note and MAR twin code the same: {figures['mar_twins_same']}")
    print("exact match by cause: " + ", ".join(f"{c} {r}" for c, r in figures["exact_by_cause"].items()))


if __name__ == "__main__":
    main()
