"""Code reference: everything infucode knows about one code, from the same tables the engine runs,
with the worked scenarios that illustrate it coded live by the engine.

    ref = lookup("96366", load_ruleset())
    ref.wrvu, ref.mue["practitioner"]["value"], ref.mue["hospital"]["value"]   # 0.18, 8, 24
    print(render_reference(ref))                  # text;  render_reference(ref, "json") -> JSON
"""
from __future__ import annotations

import re
from typing import Any

import msgspec

from ..engine import code_encounter
from ..model import InputError
from ..ruleset import Ruleset
from . import _data


class RelatedCode(msgspec.Struct):
    code: str
    how_it_differs: str
    description: str = ""


class Differentiation(msgspec.Struct):
    codes: list[str]
    decides: str
    explanation: str
    rules: list[str]
    sources: list[str]
    top_confusion: bool = False


class ScenarioLine(msgspec.Struct):
    code: str
    units: int
    modifiers: list[str]
    rule: str
    explanation: str


class Scenario(msgspec.Struct, omit_defaults=True):
    name: str
    source: str
    encounter: dict
    profile: str
    lines: list[ScenarioLine]
    findings: list[str] = []
    note: str | None = None
    seed_answer: str | None = None
    why_differs: str | None = None
    rules: list[str] = []
    origin: str | None = None


class CodeReference(msgspec.Struct):
    code: str
    description: str
    family: str
    kind: str
    add_on: bool
    primaries: list[str]
    add_ons: list[str]
    time_rule: str | None
    min_minutes: int | None
    wrvu: float | None
    mue: dict[str, dict]
    mai: dict[str, int | None]
    pfs_status: str | None
    global_days: str | None
    related: list[RelatedCode]
    differentiation: list[Differentiation]
    documentation: list[str]
    denials: list[str]
    scenarios: list[Scenario]
    sources: dict[str, str]
    unconfirmed: list[str]
    profile: str
    release: str


class UnknownCode(KeyError):
    pass


def normalize_code(code: str) -> str:
    return str(code).strip().lstrip("+").upper()


def _cite(ruleset: Ruleset, key: str) -> str:
    src = ruleset.rules.sources.get(key)
    return f"{key}: {src.cite}" if src else key


# Table values named in prose ({mue}, {mue_practitioner}, {mue_hospital:96366}): filled from the code table of the
# ruleset looked up, so after 'infucode data import' the words say the same number as the MUE line.
_TABLE_WORDS = re.compile(r"\{(mue|mue_practitioner|mue_hospital)(?::([0-9A-Z]{5}))?\}")
# What an MUE adjudication indicator means for a denial [S1-MUE]
_MAI_DENIAL = {1: "per claim line; a further line with a modifier can carry more",
               2: "per date of service, absolute: records cannot support more",
               3: "per date of service; records can support an appeal"}


def _mue_sentence(info: Any) -> str:
    p, h = info.mue_practitioner, info.mue_hospital
    values = f"{'none' if p.value is None else p.value} practitioner, {'none' if h.value is None else h.value} outpatient hospital"
    mais = {m for m in (p.mai, h.mai) if m is not None}
    meaning = f"; MAI {p.mai}, {_MAI_DENIAL.get(p.mai, 'see the CMS file')}" if len(mais) == 1 else ""
    return f"units above the MUE ({values}{meaning})"


def fill_table_words(text: str | None, code: str, ruleset: Ruleset) -> str | None:
    """``text`` with each ``{mue...}`` replaced by the value of the ruleset's code table (the date's table)."""
    if not text or "{" not in text:
        return text

    def value(m: re.Match) -> str:
        info = ruleset.codes.get(m.group(2) or code)
        if info is None:
            return m.group(0)
        if m.group(1) == "mue":
            return _mue_sentence(info)
        mue = info.mue_practitioner if m.group(1) == "mue_practitioner" else info.mue_hospital
        return "none published" if mue.value is None else str(mue.value)
    return _TABLE_WORDS.sub(value, text)


def _scenario(raw: dict, ruleset: Ruleset, code: str = "") -> Scenario:
    rs = ruleset.with_profile(raw["profile"]) if raw.get("profile") else ruleset
    lines: list[ScenarioLine] = []
    findings: list[str] = []
    try:
        result = code_encounter(raw["encounter"], rs)
        lines = [ScenarioLine(l.code, l.units, list(l.modifiers), l.rule, l.explanation)
                 for l in result.lines if l.kind == "administration"]
        findings = [f"{f.severity}: {f.message} [{f.rule}]" for f in result.findings if f.severity != "info"]
    except InputError as exc:  # pragma: no cover - data error, shown rather than raised
        findings = [f"error: {exc}"]
    return Scenario(name=raw["name"], source=raw.get("source", ""), encounter=raw["encounter"], profile=rs.profile,
                    lines=lines, findings=findings, note=fill_table_words(_flat(raw.get("note")), code, rs),
                    seed_answer=raw.get("seed_answer"), why_differs=_flat(raw.get("why_differs")),
                    rules=list(raw.get("rules") or ()), origin=raw.get("from"))


def _flat(text):
    return " ".join(str(text).split()) if text else None


def scenarios_for(code: str, ruleset: Ruleset) -> list[Scenario]:
    return [_scenario(s, ruleset, code) for s in _data.scenarios() if code in [str(c) for c in s.get("illustrates", ())]]


def lookup(code: str, ruleset: Ruleset, with_scenarios: bool = True) -> CodeReference:
    """The reference entry of ``code``; raises UnknownCode for a code outside the table."""
    code = normalize_code(code)
    info = ruleset.codes.get(code)
    if info is None:
        raise UnknownCode(f"{code} is not a drug-administration code infucode knows (96360-96549)")
    table = ruleset.codes

    def desc(c: str) -> str:
        other = table.get(c)
        return other.description if other else ""

    related = [RelatedCode(r.code, r.how_it_differs, desc(r.code)) for r in info.related]
    known = {r.code for r in related}
    diffs = []
    for p in _data.pairs_with(code):
        diffs.append(Differentiation(codes=p["codes"], decides=p["decides"], explanation=_flat(p["explanation"]),
                                     rules=list(p.get("rules") or ()), sources=list(p.get("sources") or ()),
                                     top_confusion=bool(p.get("top_confusion"))))
        for other in p["codes"]:
            if other != code and other not in known:
                related.append(RelatedCode(other, p["decides"], desc(other)))
                known.add(other)
    mue = {
        "practitioner": {"value": info.mue_practitioner.value, "mai": info.mue_practitioner.mai,
                         "rationale": info.mue_practitioner.rationale},
        "hospital": {"value": info.mue_hospital.value, "mai": info.mue_hospital.mai,
                     "rationale": info.mue_hospital.rationale},
    }
    return CodeReference(
        code=code, description=info.description, family=info.family, kind=info.kind, add_on=info.add_on,
        primaries=sorted(info.primaries), add_ons=sorted(table.add_ons_for(code)),
        time_rule=fill_table_words(info.time_rule, code, ruleset), min_minutes=info.min_minutes, wrvu=info.wrvu, mue=mue,
        mai={"practitioner": info.mue_practitioner.mai, "hospital": info.mue_hospital.mai},
        pfs_status=info.pfs_status, global_days=info.global_days, related=related, differentiation=diffs,
        documentation=[fill_table_words(d, code, ruleset) for d in info.documentation],
        denials=[fill_table_words(d, code, ruleset) for d in info.denials],
        scenarios=scenarios_for(code, ruleset) if with_scenarios else [],
        sources={k: _cite(ruleset, v) for k, v in info.sources.items()},
        unconfirmed=list(info.unconfirmed), profile=ruleset.profile, release=table.release,
    )


_MAI = {1: "per claim line", 2: "per date of service, absolute", 3: "per date of service, records can support more"}


def _mue_text(m: dict) -> str:
    if m["value"] is None:
        return "none published"
    mai = m["mai"]
    return f"{m['value']} (MAI {mai}: {_MAI.get(mai, '?')})"


def render_reference(ref: CodeReference, format: str = "text") -> str:
    """The reference as plain text (for a terminal; also fine for rich) or JSON."""
    if format == "json":
        return msgspec.json.encode(ref).decode()
    out: list[str] = []
    add = out.append
    title = f"{'+' if ref.add_on else ''}{ref.code}  {ref.description}"
    add(title)
    add("=" * min(len(title), 100))
    add(f"Family: {ref.family}    kind: {ref.kind.replace('_', ' ')}    add-on: {'yes' if ref.add_on else 'no'}"
        + (f"    PFS status: {ref.pfs_status}" if ref.pfs_status else "")
        + (f"    global: {ref.global_days}" if ref.global_days else ""))
    if ref.add_on:
        add(f"Eligible primaries (report only beside one of): {' '.join(ref.primaries) or 'none listed'}")
    if ref.add_ons:
        add(f"Add-on codes that may ride on it: {' '.join(ref.add_ons)}")
    if ref.time_rule:
        add(f"Time rule: {ref.time_rule}")
    wrvu = "not confirmed" if ref.wrvu is None else f"{ref.wrvu:.2f}"
    add(f"wRVU: {wrvu}" + (" (unconfirmed)" if "wrvu" in ref.unconfirmed else ""))
    add(f"MUE practitioner: {_mue_text(ref.mue['practitioner'])}")
    add(f"MUE outpatient hospital: {_mue_text(ref.mue['hospital'])}")
    if ref.differentiation:
        add("")
        add("How it differs")
        for d in ref.differentiation:
            mark = "  (top confusion point)" if d.top_confusion else ""
            add(f"  {' vs '.join(d.codes)}{mark}: {d.decides}")
            add(f"    {d.explanation}")
            add(f"    rules: {', '.join(d.rules)}; sources: {', '.join(d.sources)}")
    if ref.related:
        add("")
        add("Related codes")
        for r in ref.related:
            add(f"  {r.code}: {r.how_it_differs}")
    if ref.documentation:
        add("")
        add("Documentation the record needs")
        for d in ref.documentation:
            add(f"  - {d}")
    if ref.denials:
        add("")
        add("Common denials")
        for d in ref.denials:
            add(f"  - {d}")
    if ref.scenarios:
        add("")
        add(f"Worked scenarios (coded live, profile {ref.profile})")
        for s in ref.scenarios:
            coded = ", ".join(f"{l.code} x{l.units}" + (f"-{'-'.join(l.modifiers)}" if l.modifiers else "") for l in s.lines) or "no line"
            add(f"  * {s.name}  [{s.origin or s.source}]")
            add(f"    codes: {coded}")
            for f in s.findings:
                add(f"    {f}")
            if s.note:
                add(f"    {s.note}")
            if s.seed_answer:
                add(f"    The seed page says {s.seed_answer}. {s.why_differs or ''}".rstrip())
    if ref.unconfirmed:
        add("")
        add(f"Unconfirmed values: {', '.join(ref.unconfirmed)}")
    add("")
    add("Sources")
    seen = set()
    for fld, cite in ref.sources.items():
        if cite in seen:
            continue
        seen.add(cite)
        fields = [k for k, v in ref.sources.items() if v == cite]
        add(f"  {', '.join(fields)}: {cite}")
    add(f"(code table {ref.release}; descriptions are infucode's own words, not CPT descriptor text)")
    return "\n".join(out)
