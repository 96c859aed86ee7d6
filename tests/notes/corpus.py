"""The nurse-note corpus of issue 13 ("Read notes as nurses write them"): loading and scoring.

Loaded by path (this folder is not a package) from tests/test_note_corpus*.py and benchmarks/note_corpus.py.
The data are the YAML files beside this module (format: README.md); nothing here reads the intake's code:
the expectations were written from how nurses chart and checked against the engine on each note's
structured `encounter` twin.

The rule of the wave ("no silent wrong code"), per note: EITHER the administration lines the intake emits
equal `expected.lines`, OR the memo asks at least one question / holds a line. A note with
`expected.questions: required` must always ask or hold, whatever it emits.

What counts as asking or holding (see :func:`asks_or_holds`):
- a question in ``memo.questions``, except one about the date of service when the note's expected lines
  carry no date (the tests pass ``default_date``; a "what was the date?" there is not about the coding);
- a hold: ``memo.error``, no ``memo.result``, an error-severity finding in the result, or a truthy
  ``memo.held`` / ``memo.held_lines`` if the memo grows one.
"""
from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

NOTES_DIR = Path(__file__).resolve().parent
EML_DIR = NOTES_DIR / "eml"
MAR_DIR = NOTES_DIR / "mar"

# The date the tests give the intake as ``default_date``: notes without a date of their own are on it;
# notes that carry a date (header, dated lines, an e-mail's Date:) are on another day on purpose.
DEFAULT_DATE = "2024-07-01"
PROFILE = "medicare"

NOTE_KEYS = {"id", "source", "setting", "causes", "text", "file", "encounter", "expected", "decoys", "note", "engine_gap"}
EXPECTED_KEYS = {"lines", "drug_lines", "questions", "findings"}
LINE_KEYS = {"code", "units", "modifiers", "date"}
QUESTIONS = {"required", "optional"}

# What each note exercises. The brief of issue 13 asks for at least two notes per cause in REQUIRED_CAUSES.
CAUSES = {
    "completion_later_line": "the stop ('infusion complete', 'bolus in') is on a later line than the start",
    "hold_restart": "the infusion is held/paused and resumed: the hold is not infusion time",
    "rate_titration": "timed rate changes ('rate increased to 100 mL/h at 0915'): the same infusion continues",
    "new_bag_same_fluid": "a new bag of the same fluid continues the same infusion",
    "drug_in_heading": "a drug named in the reason-for-visit heading",
    "drug_in_regimen": "drugs named in a regimen line (FOLFOX...) beside the timed lines",
    "drug_in_diagnosis": "a drug named in the diagnosis line, not given today",
    "discharge_prescription": "a prescription at discharge (PO, not given here)",
    "oral_premed": "a PO premedication (not a drug administration code)",
    "oral_med": "another oral/SL medication on the note",
    "historical": "a drug taken before the visit (at home, by EMS)",
    "planned": "a plan/next-dose line",
    "negation": "a dose documented as not given / held",
    "diluent": "a drug in its diluent ('<drug> <dose>/250 mL NS'): the NS is not hydration",
    "flush": "a saline flush (not hydration, not a push)",
    "heparin_lock": "a heparin lock after the flush (not a push)",
    "ambulatory_pump": "a chemotherapy pump over more than 8 hours (96416), possibly disconnected days later",
    "on_body_injector": "an on-body injector applied (96377, route on_body_injector)",
    "non_facility": "a physician office that says it is non-facility",
    "own_date": "the note carries its own date (header or dated lines)",
    "eml_date_header": "an e-mail whose Date: header is the date of service",
    "missing_stop": "no documented end of an infusion",
    "missing_route": "no route documented",
    "unknown_drug": "the drug is not named",
    "setting_unclear": "the note does not say facility or office",
}
REQUIRED_CAUSES = ("completion_later_line", "hold_restart", "rate_titration", "new_bag_same_fluid",
                   ("drug_in_heading", "drug_in_regimen", "drug_in_diagnosis"), "discharge_prescription",
                   "oral_premed", "diluent", "heparin_lock", "ambulatory_pump", "on_body_injector", "non_facility",
                   "own_date", "eml_date_header")

_DATE_QUESTION = re.compile(r"\bdate\b", re.I)


# --------------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------------
def load_notes() -> list[dict[str, Any]]:
    """Every note: the per-category lists in tests/notes/*.yaml, then one YAML per e-mail in eml/."""
    notes: list[dict[str, Any]] = []
    for path in sorted(NOTES_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        if not isinstance(data, list):
            raise ValueError(f"{path.name}: a YAML list of notes expected")
        for note in data:
            notes.append({**note, "_file": path.name})
    for path in sorted(EML_DIR.glob("*.yaml")):
        note = yaml.safe_load(path.read_text(encoding="utf-8"))
        notes.append({**note, "_file": f"eml/{path.name}"})
    return notes


def note_text(note: dict[str, Any]) -> str:
    """The text the intake reads: the note's `text`, or the case file (e-mail) read as the CLI reads it."""
    if "file" in note:
        from infucode.knowledge.intake import read_case_file  # noqa: PLC0415

        return read_case_file(EML_DIR / note["file"])
    return note["text"]


def mar_twin(note: dict[str, Any]) -> Path | None:
    path = MAR_DIR / f"{note['id']}.csv"
    return path if path.exists() else None


# --------------------------------------------------------------------------------------------------
# comparing lines
# --------------------------------------------------------------------------------------------------
def _get(obj: Any, name: str, default: Any = None) -> Any:
    return obj.get(name, default) if isinstance(obj, dict) else getattr(obj, name, default)


def admin_lines(result: Any) -> list[Any]:
    return [l for l in (result.lines if result is not None else []) if _get(l, "kind", "administration") == "administration"]


def drug_lines(result: Any) -> list[Any]:
    return [l for l in (result.lines if result is not None else []) if _get(l, "kind") == "drug"]


def merged(lines: list[Any], *, use_date: bool, use_modifiers: bool) -> Counter:
    """(code, modifiers|None, date|None) -> units; 96366 x3 and three 96366 x1 lines are the same claim."""
    out: Counter = Counter()
    for line in lines:
        mods = tuple(sorted(str(m) for m in (_get(line, "modifiers") or []))) if use_modifiers else None
        date = str(_get(line, "date")) if use_date and _get(line, "date") is not None else None
        out[(str(_get(line, "code")), mods, date)] += int(_get(line, "units", 1))
    return out


def line_problems(expected: list[dict[str, Any]], actual: list[Any]) -> list[str]:
    """Differences between expected and actual lines; dates/modifiers compared only when the expectation gives them."""
    use_date = any("date" in e for e in expected)
    use_mods = any("modifiers" in e for e in expected)
    exp = merged(expected, use_date=use_date, use_modifiers=use_mods)
    act = merged(actual, use_date=use_date, use_modifiers=use_mods)
    problems = []
    for key in sorted(set(exp) | set(act), key=str):
        code, mods, date = key
        name = code + ("-" + "-".join(mods) if mods else "") + (f"@{date}" if date else "")
        if key not in act:
            problems.append(f"missing {name} x{exp[key]}")
        elif key not in exp:
            problems.append(f"unexpected {name} x{act[key]}")
        elif exp[key] != act[key]:
            problems.append(f"{name} x{act[key]}, expected x{exp[key]}")
    return problems


def fmt_lines(lines: list[Any]) -> str:
    parts = []
    for l in lines:
        mods = _get(l, "modifiers") or []
        parts.append(f"{_get(l, 'code')} x{_get(l, 'units', 1)}" + (f"-{'-'.join(mods)}" if mods else "")
                     + (f"@{_get(l, 'date')}" if _get(l, "date") else ""))
    return ", ".join(parts) or "(none)"


# --------------------------------------------------------------------------------------------------
# scoring a memo
# --------------------------------------------------------------------------------------------------
def relevant_questions(memo: Any, note: dict[str, Any]) -> list[str]:
    dated = any("date" in l for l in note["expected"].get("lines", []))
    return [q for q in (memo.questions or []) if dated or not _DATE_QUESTION.search(q)]


def holds(memo: Any) -> bool:
    if getattr(memo, "error", None) or getattr(memo, "result", None) is None:
        return True
    if getattr(memo, "held", None) or getattr(memo, "held_lines", None):
        return True
    return any(_get(f, "severity") == "error" for f in memo.result.findings)


def asks_or_holds(memo: Any, note: dict[str, Any]) -> bool:
    return bool(relevant_questions(memo, note)) or holds(memo)


def _decoy_spans(text: str, decoys: list[str]) -> list[tuple[int, int]]:
    """Where each decoy phrase occurs in the text the intake read; any run of blanks (or an HTML
    non-breaking space left in an HTML-only e-mail) between its words matches."""
    spans = []
    for decoy in decoys:
        pattern = r"(?:\s|&nbsp;|&#160;)+".join(re.escape(w) for w in html.unescape(decoy).split())
        spans += [(m.start(), m.end()) for m in re.finditer(pattern, text)]
    return spans


def decoy_coded(memo: Any, note: dict[str, Any], text: str, ruleset: Any = None) -> list[str]:
    """Administrations the memo codes (they are on an emitted administration line) that come from a phrase the
    note marks as oral, planned, prescribed, historical or not given (`decoys`).

    Two ways, so the figure does not hang on one intake's bookkeeping: the administration's drug was read
    (extraction span) inside a decoy phrase; or, given the ruleset, its drug is named in a decoy and is
    not among the drugs of the note's encounter twin at all."""
    result = getattr(memo, "result", None)
    if not note.get("decoys") or result is None:
        return []
    coded = {str(a) for l in admin_lines(result) for a in (_get(l, "administrations") or [])}
    hits: dict[str, str] = {}
    spans = _decoy_spans(text, note["decoys"])
    for e in getattr(memo, "extractions", []) or []:
        if not str(e.field).endswith(".drug") or e.administration is None or str(e.administration) not in coded:
            continue
        if any(s <= e.start and e.end <= t for s, t in spans):
            hits[str(e.administration)] = f"{e.administration} ({e.text!r} at {e.start})"
    if ruleset is not None:
        twin = {_drug_key(ruleset, a.get("drug")) for a in note["encounter"].get("administrations", [])}
        named = {k for d in note["decoys"] for k in _drugs_named(ruleset, d)} - twin - {None}
        for adm in (getattr(memo, "encounter", None) or {}).get("administrations", []):
            key = _drug_key(ruleset, adm.get("drug"))
            if str(adm.get("id")) in coded and key in named:
                hits.setdefault(str(adm.get("id")), f"{adm.get('id')} ({key}, named only in a decoy)")
    return sorted(hits.values())


def _drug_key(ruleset: Any, name: Any) -> str | None:
    if not name:
        return None
    m = ruleset.drugs.match(str(name))
    return None if m is None else m.drug.key


def _drugs_named(ruleset: Any, phrase: str) -> set[str | None]:
    words = re.findall(r"[A-Za-z][A-Za-z0-9-]+", html.unescape(phrase))
    grams = [" ".join(words[i:i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)]
    return {_drug_key(ruleset, g) for g in grams if len(g) > 3}


@dataclass
class Verdict:
    note_id: str
    exact: bool                     # emitted administration (and listed drug) lines equal the expectation
    asked: bool                     # a relevant question or a hold
    questions_required: bool
    decoys_coded: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    emitted: str = ""
    questions: list[str] = field(default_factory=list)
    counted_questions: list[str] = field(default_factory=list)

    @property
    def no_silent_wrong_code(self) -> bool:
        if self.questions_required:
            return self.asked
        return self.exact or self.asked

    @property
    def exact_match(self) -> bool:
        """The strict measurement: right lines, and a question when one is required."""
        return self.exact and (self.asked or not self.questions_required)


def run_intake(note: dict[str, Any], ruleset: Any) -> tuple[Any, str]:
    from infucode.knowledge.intake import case_memo  # noqa: PLC0415

    text = note_text(note)
    return case_memo(text, ruleset, encounter_id=str(note["id"]), default_date=DEFAULT_DATE), text


def score(note: dict[str, Any], memo: Any, text: str, ruleset: Any = None) -> Verdict:
    exp = note["expected"]
    result = getattr(memo, "result", None)
    problems = line_problems(exp.get("lines", []), admin_lines(result)) if result is not None else ["no result"]
    if "drug_lines" in exp and result is not None:
        problems += [f"drug {p}" for p in line_problems(exp["drug_lines"], drug_lines(result))]
    return Verdict(
        note_id=str(note["id"]),
        exact=not problems,
        asked=asks_or_holds(memo, note),
        questions_required=exp.get("questions") == "required",
        decoys_coded=decoy_coded(memo, note, text, ruleset),
        problems=problems,
        emitted=fmt_lines(admin_lines(result)),
        questions=list(getattr(memo, "questions", []) or []),
        counted_questions=relevant_questions(memo, note),
    )
