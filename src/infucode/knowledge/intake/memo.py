"""The coding memo of a case note: the encounter read from it (every field traced to its words), the
engine's lines, the documentation that is missing and the questions for the author of the note."""
from __future__ import annotations

import contextlib
import datetime as dt
import gc
from collections.abc import Iterator
from dataclasses import dataclass, field

import msgspec

from ...engine import code_encounter
from ...model import InputError, Result
from ...ruleset import Ruleset
from .encounter import IV_ROUTES, Extraction, Question, fold_timeline
from .events import read_timeline
from .header import date_of_service, setting_of

__all__ = ["MAX_NOTE_ADMINISTRATIONS", "MAX_NOTE_CHARS", "Extraction", "Memo", "case_memo", "parse_note", "read_note", "render_memo"]

# Policy (infucode, 2026-12; a parameter of this tool, not a payer rule): one visit's note documents a few
# administrations (the corpus's largest has 7; a 24-hour observation stay with a push every hour has ~25).
# A note with more than this many is several visits (or a pasted export) and is not coded as one
# encounter: the memo says so and asks for one note per visit.
MAX_NOTE_ADMINISTRATIONS = 200

# Policy (infucode, 2026-12; a parameter of this tool, not a payer rule): the text of one visit's note is a
# few kilobytes (the corpus's longest is under 4 KB; a 24-hour observation stay's nursing notes some 30 KB).
# Longer text is several visits or an export, and is not read at all. Reading costs about 0.7 µs a character
# for a realistic note and up to about 2 µs for one that is nothing but administrations (measured 2026-12-06:
# a 64 K note of "Zofran 4mg IVP 10:15" lines reads in 0.12 s; benchmarks/intake_speed.py --unlimited). The
# case file's own limit (files.MAX_CASE_FILE_BYTES) is larger: an e-mail's markup, headers and encoding are
# dropped before this limit applies to the text that is left.
MAX_NOTE_CHARS = 64 * 1024


@dataclass
class Memo:
    encounter: dict
    extractions: list[Extraction]
    questions: list[str]
    result: Result | None
    error: str | None = None
    missing_documentation: list[str] = field(default_factory=list)
    text: str = ""
    findings: list[dict] = field(default_factory=list)      # one per question: rule, message, administration
    held_back: list[dict] = field(default_factory=list)     # read but not coded (the engine cannot express them)

    def to_dict(self) -> dict:
        return {
            "encounter": self.encounter,
            "extractions": [e.to_dict() for e in self.extractions],
            "questions": self.questions,
            "findings": self.findings,
            "held_back": self.held_back,
            "result": msgspec.to_builtins(self.result) if self.result is not None else None,
            "error": self.error,
            "missing_documentation": self.missing_documentation,
        }


@dataclass
class NoteReading:
    encounter: dict
    extractions: list[Extraction]
    questions: list[Question]
    held_back: list[dict]
    refused: str | None = None        # why nothing was read (the note is longer than MAX_NOTE_CHARS)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector held off while a note is read and coded. Reading creates hundreds of
    thousands of small objects (matches, events) that reference counting frees; the collector would
    walk them again and again (a fifth of the time on a 1 MB note). It is switched back on after, so any
    cycle is still collected then."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def read_note(text: str, ruleset: Ruleset, *, encounter_id: str = "case", default_date: str | None = None) -> NoteReading:
    """Free text -> the encounter, its extractions, questions (with rule and administration) and the
    administrations held back."""
    with _collector_paused():
        return _read_note(text, ruleset, encounter_id=encounter_id, default_date=default_date)


def _too_long(text: str, encounter_id: str, default_date: str | None) -> NoteReading:
    why = (f"the note is {len(text):,} characters, more than one visit's note holds (limit {MAX_NOTE_CHARS:,}, "
           "MAX_NOTE_CHARS): it was not read")
    question = Question(f"The note is {len(text):,} characters long: it looks like several visits (or an export). "
                        "Please send one note per visit; nothing is coded until then.", "intake.note_too_long")
    encounter = {"id": encounter_id, "setting": None, "date": default_date, "administrations": []}
    return NoteReading(encounter, [], [question], [], refused=why)


def _read_note(text: str, ruleset: Ruleset, *, encounter_id: str, default_date: str | None) -> NoteReading:
    if len(text) > MAX_NOTE_CHARS:
        return _too_long(text, encounter_id, default_date)
    return _read_whole(text, ruleset, encounter_id=encounter_id, default_date=default_date)


def _read_whole(text: str, ruleset: Ruleset, *, encounter_id: str, default_date: str | None) -> NoteReading:
    ex: list[Extraction] = []
    questions: list[Question] = []
    tl = read_timeline(text, ruleset)

    chosen, qs = date_of_service(text, tl.dates, tl.words)
    if chosen is not None:
        date = chosen.value
        ex.append(Extraction("date", date, chosen.text, chosen.start, chosen.end))
    else:
        date = default_date or dt.date.today().isoformat()
        where = "the e-mail's Date: header or the caller's default" if default_date else "today"
        qs.append(f"No date of service found in the note; coded as {date} ({where}). What was the date?")
    questions += [Question(q, "intake.date") for q in qs]

    setting, span, qs = setting_of(text, tl.words)
    if span is not None:
        ex.append(Extraction("setting", setting, text[span[0]:span[1]], *span))
    questions += [Question(q, "intake.setting") for q in qs]

    adms, held, aex, aqs = fold_timeline(tl, ruleset, date, encounter_id)
    ex += aex
    questions += aqs
    if not adms and not held:
        questions.append(Question("No drug administration could be read from the note. Which drug(s) were given, "
                                  "by which route and when?", "intake.no_drug"))
    encounter = {"id": encounter_id, "setting": setting, "date": date, "administrations": adms}
    return NoteReading(encounter, ex, questions, held)


def _unique(qs: list[Question]) -> list[Question]:
    seen: set[str] = set()
    return [q for q in qs if not (q.text in seen or seen.add(q.text))]


def parse_note(text: str, ruleset: Ruleset, *, encounter_id: str = "case",
               default_date: str | None = None) -> tuple[dict, list[Extraction], list[str]]:
    """Free text -> (encounter dict, extractions with spans, questions)."""
    r = read_note(text, ruleset, encounter_id=encounter_id, default_date=default_date)
    return r.encounter, r.extractions, [q.text for q in _unique(r.questions)]


def case_memo(text: str, ruleset: Ruleset, *, encounter_id: str = "case", default_date: str | None = None,
              notices: list[str] | tuple[str, ...] = ()) -> Memo:
    """Parse the note, code it with the engine and collect what documentation is missing.
    ``notices`` (from reading the file: a charset replaced...) come first among the questions."""
    r = read_note(text, ruleset, encounter_id=encounter_id, default_date=default_date)
    qs = [Question(n, "intake.file") for n in notices] + _unique(r.questions)
    encounter = r.encounter
    result = None
    error = None
    missing: list[str] = []
    n = len(encounter["administrations"])
    if r.refused is not None:
        error = r.refused
    elif n > MAX_NOTE_ADMINISTRATIONS:
        many = f"{n:,} administrations"
        error = (f"the note documents {many}, more than one visit holds (limit {MAX_NOTE_ADMINISTRATIONS}, "
                 "MAX_NOTE_ADMINISTRATIONS): it is not coded as one encounter")
        qs.insert(0, Question(f"The note reads as {many}: it looks like several visits (or an export). "
                           "Please send one note per visit; nothing is coded until then.",
                           "intake.too_many_administrations"))
    elif encounter["administrations"]:
        try:
            with _collector_paused():
                result = code_encounter(encounter, ruleset)
        except InputError as exc:
            error = str(exc)
    else:
        error = "no administration could be read from the note"
    if result is not None:
        for f in result.findings:
            if (f.rule.startswith("doc.") and f.severity != "info") or f.severity == "error":
                missing.append(f"{f.message} [{f.rule}]")
    for a in encounter["administrations"]:
        if a.get("route") in IV_ROUTES and "site" not in a:
            missing.append(f"{a['drug']}: the IV access site is not documented")
        # a pump that goes home is disconnected at a later visit: its programmed run stands in for the stop
        home_pump = a.get("pump") and "minutes" in a
        if a.get("route") in ("iv_infusion", "sc_infusion") and "start" in a and "stop" not in a and not home_pump:
            msg = f"{a['drug']}: clock stop time"
            if not any(msg in m for m in missing):
                missing.append(msg)
    findings = [{"rule": q.rule, "severity": "warning", "message": q.text,
                 "administrations": [q.administration] if q.administration else []} for q in qs]
    memo = Memo(encounter, r.extractions, [q.text for q in qs], result, error, missing, text, findings, r.held_back)
    return memo


def render_memo(memo: Memo, format: str = "text") -> str:
    if format == "json":
        return msgspec.json.encode(memo.to_dict()).decode()
    out: list[str] = []
    enc = memo.encounter
    if enc["setting"] is None:
        out.append("Coding memo - the note was not read")
    else:
        out.append(f"Coding memo - {enc['setting']} ({'facility' if enc['setting'] == 'facility' else 'professional'} "
                   f"claim), date {enc.get('date')}")
    out.append("")
    out.append("Administrations read from the note")
    # each administration's extractions and open questions, found in one pass (a long note has thousands)
    by_index: dict[str, list[Extraction]] = {}
    for e in memo.extractions:
        if e.field.startswith("administrations[") and "]." in e.field:
            by_index.setdefault(e.field.split("].", 1)[0] + "]", []).append(e)
    questions_of: dict[str, list[str]] = {}
    for f in memo.findings:
        for adm in f["administrations"]:
            questions_of.setdefault(adm, []).append(f["message"])
    for i, a in enumerate(enc["administrations"]):
        bits = [a.get("drug") or "?", a.get("route") or "route ?"]
        if a.get("start") or a.get("stop"):
            bits.append(f"{a.get('start', '?')}-{a.get('stop', '?')}")
        if a.get("minutes"):
            bits.append(f"{a['minutes']} min (duration only)")
        if a.get("site"):
            bits.append(f"site {a['site']}")
        open_qs = questions_of.get(a["id"], [])
        mark = f"   ? uncertain: {len(open_qs)} question(s) below" if open_qs else ""
        out.append(f"  {a['id']}: " + ", ".join(bits) + mark)
        for e in by_index.get(f"administrations[{i}]", ()):
            out.append(f"      {e.field.split('.', 1)[1]:<12} <- \"{e.text}\" [{e.start}:{e.end}]")
    for e in memo.extractions:
        if e.administration is None:
            out.append(f"  {e.field:<12} <- \"{e.text}\" [{e.start}:{e.end}]" +
                       (f"  ({e.value})" if e.field not in ("setting", "date") else ""))
    for h in memo.held_back:
        out.append(f"  held back (not coded): {h['drug']}, {h['reason']}")
    out.append("")
    if memo.result is not None:
        out.append(f"Lines (profile {memo.result.profile})")
        if not memo.result.lines:
            out.append("  none")
        for l in memo.result.lines:
            mods = f" -{'-'.join(l.modifiers)}" if l.modifiers else ""
            unsure = any(f["administrations"] and set(f["administrations"]) & set(l.administrations) for f in memo.findings)
            out.append(f"  {l.code}{mods} x{l.units}   [{l.rule}]" + ("   ? depends on an open question" if unsure else ""))
            out.append(f"      why: {l.explanation}")
        notes = [f for f in memo.result.findings if f.severity != "info"]
        if notes:
            out.append("")
            out.append("Findings")
            for f in notes:
                out.append(f"  {f.severity}: {f.message} [{f.rule}]")
    if memo.error:
        out.append(f"Not coded: {memo.error}")
    if memo.missing_documentation:
        out.append("")
        out.append("Documentation missing")
        for m in memo.missing_documentation:
            out.append(f"  - {m}")
    if memo.questions:
        out.append("")
        out.append("Questions for the author of the note")
        for q in memo.questions:
            out.append(f"  ? {q}")
    return "\n".join(out)
