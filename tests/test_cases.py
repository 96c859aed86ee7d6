"""Worked cases from tests/cases/*.yaml, each coded by the engine and compared with its expectation.

Every case names its source (seed page + section, CPT guideline, CMS/MAC source key or "rule
boundary"). The expectations are written independently of the engine; a failing case is a question
for the engine *or* the case - see the case's `source` and `note`.

Comparison
- ``expect.lines``: the exact multiset of administration lines (kind "administration"). Lines with the
  same (code, modifiers[, date]) are merged (units summed, administrations united) on both sides first,
  so "96366 x3" and three "96366 x1" lines are the same claim. ``modifiers`` omitted = []; ``date`` is
  compared only when some expected line of the case gives one; ``administrations`` only when given;
  ``rule``: the rule id that produced the line (compared when given: the set of rules behind the merged line);
  ``minutes``: the counted minutes the line's explanation states ("... 255 min"), when given.
- ``expect.drug_lines``: the same for kind "drug" lines.
- ``expect.findings``: each {rule, severity?} must be present (severity omitted = any).
- ``expect.no_findings``: rule ids that must not be present.
- ``expect.error_field``: code_encounter must raise InputError whose .field contains this text.
- ``expect.wrvu_total``: optional, compared to 0.005.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

CASES_DIR = Path(__file__).parent / "cases"
RULES_DIR = Path(__file__).parents[1] / "src" / "infucode" / "rules"
RULES_YAML = Path(__file__).parents[1] / "src" / "infucode" / "reference" / "data" / "rules.yaml"
# Whole-encounter scenarios from cited public pages exercise many rules at once: the one case file not named
# after a rules module (issue 16).
SCENARIOS_FILE = "scenarios.yaml"

CASE_KEYS = {"name", "source", "profile", "policies", "note", "encounter", "expect"}
EXPECT_KEYS = {"lines", "drug_lines", "findings", "no_findings", "error_field", "wrvu_total"}
LINE_KEYS = {"code", "units", "modifiers", "date", "administrations", "rule", "minutes"}
PROFILES = {"medicare", "seed-page", "commercial-example"}


# --------------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------------
def load_cases() -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        assert isinstance(data, list), f"{path.name}: a YAML list of cases expected"
        for case in data:
            out.append((f"{path.stem}:{case.get('name', '?')}", case))
    return out


CASES = load_cases()


def _import_engine():
    try:
        from infucode import code_encounter, load_ruleset  # noqa: PLC0415
        from infucode.model import InputError  # noqa: PLC0415
    except ImportError as exc:  # the engine is not there (yet): a failure, not a skip
        pytest.fail(f"engine not importable: {exc}", pytrace=False)
    return code_encounter, load_ruleset, InputError


_RULESETS: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}


def get_ruleset(profile: str, policies: dict[str, Any] | None):
    _, load_ruleset, _ = _import_engine()
    key = (profile, tuple(sorted((str(k), str(v)) for k, v in (policies or {}).items())))
    if key not in _RULESETS:
        if policies:
            _RULESETS[key] = load_ruleset(profile, policies={str(k): str(v) for k, v in policies.items()})
        else:
            _RULESETS[key] = load_ruleset(profile)
    return _RULESETS[key]


# --------------------------------------------------------------------------------------------------
# normalisation
# --------------------------------------------------------------------------------------------------
def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _mods(line: Any) -> tuple[str, ...]:
    return tuple(sorted(str(m) for m in (_get(line, "modifiers") or [])))


def merge_lines(lines: list[Any], use_date: bool) -> dict[tuple, dict[str, Any]]:
    """(code, modifiers, date|None) -> {units, administrations}."""
    merged: dict[tuple, dict[str, Any]] = {}
    for line in lines:
        date = _get(line, "date") if use_date else None
        key = (str(_get(line, "code")), _mods(line), None if date is None else str(date))
        slot = merged.setdefault(key, {"units": 0, "administrations": set(), "rules": set(), "minutes": set(), "text": ""})
        slot["units"] += int(_get(line, "units", 1))
        slot["administrations"].update(str(a) for a in (_get(line, "administrations") or []))
        if _get(line, "rule"):
            slot["rules"].add(str(_get(line, "rule")))
        if _get(line, "minutes") is not None:
            slot["minutes"].add(int(_get(line, "minutes")))
        slot["text"] += " " + str(_get(line, "explanation") or "")
    return merged


def fmt_line(line: Any) -> str:
    mods = _mods(line)
    parts = [f"{_get(line, 'code')} x{_get(line, 'units')}"]
    if mods:
        parts.append("-" + "-".join(mods))
    if _get(line, "date"):
        parts.append(f"@{_get(line, 'date')}")
    if _get(line, "administrations"):
        parts.append(f"[{','.join(str(a) for a in _get(line, 'administrations'))}]")
    if _get(line, "rule"):
        parts.append(f"({_get(line, 'rule')})")
    return " ".join(parts)


def fmt_result(result: Any) -> str:
    out = ["  actual lines:"]
    for line in result.lines:
        out.append(f"    {getattr(line, 'kind', 'administration'):14s} {fmt_line(line)}")
    if not result.lines:
        out.append("    (none)")
    out.append("  actual findings:")
    for f in result.findings:
        out.append(f"    {f.severity:7s} {f.rule} {list(f.administrations)}: {f.message}")
    if not result.findings:
        out.append("    (none)")
    out.append(f"  profile={result.profile} claim={result.claim} wrvu_total={result.wrvu_total}")
    return "\n".join(out)


def compare_lines(label: str, expected: list[dict], actual: list[Any]) -> list[str]:
    problems: list[str] = []
    use_date = any("date" in e for e in expected)
    exp = merge_lines(expected, use_date)
    act = merge_lines(actual, use_date)
    for key in sorted(set(exp) | set(act), key=str):
        e, a = exp.get(key), act.get(key)
        code, mods, date = key
        name = code + ("-" + "-".join(mods) if mods else "") + (f"@{date}" if date else "")
        if e is None:
            problems.append(f"{label}: unexpected {name} x{a['units']}")
        elif a is None:
            problems.append(f"{label}: missing {name} x{e['units']}")
        elif e["units"] != a["units"]:
            problems.append(f"{label}: {name} units {a['units']}, expected {e['units']}")
        elif e["administrations"] and e["administrations"] != a["administrations"]:
            problems.append(
                f"{label}: {name} covers {sorted(a['administrations'])}, expected {sorted(e['administrations'])}"
            )
        elif e["rules"] and e["rules"] != a["rules"]:
            problems.append(f"{label}: {name} was produced by rule {sorted(a['rules'])}, expected {sorted(e['rules'])}")
        else:
            for m in sorted(e["minutes"]):
                if not re.search(rf"(?<![\d.]){m} min\b", a["text"]):
                    problems.append(f"{label}: {name} does not count {m} minutes (explanation:{a['text']})")
    return problems


# --------------------------------------------------------------------------------------------------
# the tests
# --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case_id,case", CASES, ids=[c[0] for c in CASES])
def test_case(case_id: str, case: dict[str, Any]) -> None:
    code_encounter, _, InputError = _import_engine()
    expect = case["expect"]
    rs = get_ruleset(case.get("profile", "medicare"), case.get("policies"))
    header = [f"case {case_id}", f"  source: {case['source']}"]
    if case.get("note"):
        header.append(f"  note: {case['note']}")

    if "error_field" in expect:
        with pytest.raises(InputError) as info:
            code_encounter(case["encounter"], rs)
        field = info.value.field or ""
        assert expect["error_field"] in field, "\n".join(
            header + [f"  InputError.field={field!r} (message {info.value.message!r}), expected it to contain {expect['error_field']!r}"]
        )
        return

    try:
        result = code_encounter(case["encounter"], rs)
    except InputError as exc:
        pytest.fail("\n".join(header + [f"  unexpected InputError field={exc.field!r}: {exc.message}"]), pytrace=False)

    admin_lines = [l for l in result.lines if getattr(l, "kind", "administration") == "administration"]
    drug_lines = [l for l in result.lines if getattr(l, "kind", "administration") == "drug"]
    problems: list[str] = []
    if "lines" in expect:
        problems += compare_lines("lines", expect["lines"], admin_lines)
    if "drug_lines" in expect:
        problems += compare_lines("drug lines", expect["drug_lines"], drug_lines)
    for f in expect.get("findings", []):
        hits = [x for x in result.findings if x.rule == f["rule"]]
        if not hits:
            problems.append(f"finding {f['rule']} ({f.get('severity', 'any')}) missing")
        elif "severity" in f and not any(x.severity == f["severity"] for x in hits):
            problems.append(f"finding {f['rule']} has severity {[x.severity for x in hits]}, expected {f['severity']}")
    for rule in expect.get("no_findings", []):
        if any(x.rule == rule for x in result.findings):
            problems.append(f"finding {rule} present but must not be")
    if "wrvu_total" in expect and not math.isclose(result.wrvu_total, expect["wrvu_total"], abs_tol=0.005):
        problems.append(f"wrvu_total {result.wrvu_total}, expected {expect['wrvu_total']}")

    if problems:
        exp_lines = ["  expected lines:"] + ([f"    {fmt_line(l)}" for l in expect.get("lines", [])] or ["    (none)"])
        if "drug_lines" in expect:
            exp_lines += ["  expected drug lines:"] + [f"    {fmt_line(l)}" for l in expect["drug_lines"]]
        if expect.get("findings"):
            exp_lines += ["  expected findings: " + ", ".join(f"{f['rule']}({f.get('severity', 'any')})" for f in expect["findings"])]
        pytest.fail(
            "\n".join(header + ["  problems:"] + [f"    - {p}" for p in problems] + exp_lines + [fmt_result(result)]),
            pytrace=False,
        )


# --------------------------------------------------------------------------------------------------
# the case files themselves (run without the engine)
# --------------------------------------------------------------------------------------------------
def _rule_ids() -> set[str]:
    return set((yaml.safe_load(RULES_YAML.read_text(encoding="utf-8")) or {}).get("rules", {}))


@pytest.mark.parametrize("case_id,case", CASES, ids=[c[0] for c in CASES])
def test_case_has_source(case_id: str, case: dict[str, Any]) -> None:
    assert isinstance(case.get("source"), str) and case["source"].strip(), f"{case_id}: empty source"


def test_case_files_are_well_formed() -> None:
    import msgspec  # noqa: PLC0415

    from infucode.model import Encounter  # noqa: PLC0415  (model.py is the input contract)

    rule_ids = _rule_ids()
    problems: list[str] = []
    names: set[str] = set()
    encounter_ids: set[str] = set()
    assert len(CASES) >= 60, f"only {len(CASES)} cases"
    for case_id, case in CASES:
        if case_id in names:
            problems.append(f"{case_id}: duplicate name")
        names.add(case_id)
        if set(case) - CASE_KEYS:
            problems.append(f"{case_id}: unknown keys {set(case) - CASE_KEYS}")
        if case.get("profile", "medicare") not in PROFILES:
            problems.append(f"{case_id}: unknown profile {case.get('profile')}")
        expect = case.get("expect") or {}
        if set(expect) - EXPECT_KEYS:
            problems.append(f"{case_id}: unknown expect keys {set(expect) - EXPECT_KEYS}")
        if not (set(expect) & {"lines", "drug_lines", "findings", "no_findings", "error_field"}):
            problems.append(f"{case_id}: expects nothing")
        for key in ("lines", "drug_lines"):
            for line in expect.get(key, []) or []:
                if set(line) - LINE_KEYS or not isinstance(line.get("code"), str) or not isinstance(line.get("units"), int):
                    problems.append(f"{case_id}: bad {key} entry {line}")
                if not all(isinstance(m, str) for m in line.get("modifiers", [])):
                    problems.append(f"{case_id}: modifiers must be strings (quote 59/53): {line}")
        for key in ("lines", "drug_lines"):
            for line in expect.get(key, []) or []:
                if "rule" in line and line["rule"] not in rule_ids:
                    problems.append(f"{case_id}: line rule {line['rule']} not in rules.yaml")
                if "minutes" in line and not isinstance(line["minutes"], int):
                    problems.append(f"{case_id}: line minutes must be a whole number: {line}")
        for f in expect.get("findings", []) or []:
            if f.get("rule") not in rule_ids:
                problems.append(f"{case_id}: finding rule {f.get('rule')} not in rules.yaml")
            if "severity" in f and f["severity"] not in {"error", "warning", "info"}:
                problems.append(f"{case_id}: bad severity {f}")
        for r in expect.get("no_findings", []) or []:
            if r not in rule_ids:
                problems.append(f"{case_id}: no_findings rule {r} not in rules.yaml")
        enc = case.get("encounter") or {}
        if str(enc.get("id")) in encounter_ids:
            problems.append(f"{case_id}: encounter id {enc.get('id')} reused")
        encounter_ids.add(str(enc.get("id")))
        for adm in enc.get("administrations", []):
            for t in ("start", "stop"):
                if t in adm and not isinstance(adm[t], str):
                    problems.append(f"{case_id}: {t} {adm[t]!r} is not a string (quote clock times in YAML)")
        if "error_field" not in expect:
            try:
                msgspec.convert(enc, Encounter)
            except msgspec.ValidationError as exc:
                problems.append(f"{case_id}: encounter does not fit model.Encounter: {exc}")
    assert not problems, "\n".join(problems)


def case_rule_ids(case: dict[str, Any]) -> set[str]:
    """Rule ids one worked case asserts: on an expected line or as a finding."""
    expect = case.get("expect") or {}
    ids: set[str] = set()
    for key in ("lines", "drug_lines"):
        ids |= {line["rule"] for line in expect.get(key, []) or [] if "rule" in line}
    return ids | {f["rule"] for f in expect.get("findings", []) or []}


def asserted_rule_ids() -> set[str]:
    """Rule ids some worked case asserts: on an expected line, as a finding, or (audit) as an expected finding."""
    ids: set[str] = set()
    for _, case in CASES:
        ids |= case_rule_ids(case)
    for path in sorted((Path(__file__).parent / "audit_cases").glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            ids |= {f["rule"] for f in case.get("expect", []) or []}
    return ids


# Rules no worked case can reach with the bundled tables, each asserted by the named test instead.
ASSERTED_ELSEWHERE = {
    "beside_chain.distinct_injection": "tests/test_rules_beside_chain.py::test_a_pair_that_allows_no_modifier_is_a_finding",
    "audit.input_validation": "tests/test_audit_x12.py (an 837 file error outside the audited fields)",
    "input.read_as": "tests/test_spreadsheet_input.py (route 'IV Push', dates and times as spreadsheets write them)",
    "input.unknown_column": "tests/test_spreadsheet_input.py (a CSV header the flat reader does not know)",
}


def test_every_rule_is_asserted_by_a_worked_case() -> None:
    documented = _rule_ids()
    cited_only = {rid for rid, v in yaml.safe_load(RULES_YAML.read_text(encoding="utf-8"))["rules"].items() if v.get("cited_only")}
    unasserted = sorted(documented - asserted_rule_ids() - set(ASSERTED_ELSEWHERE) - cited_only)
    assert not unasserted, f"no worked case asserts these rule ids (add `rule:` to a line or a finding): {unasserted}"


def test_case_files_mirror_the_rules_modules() -> None:
    """Issue 16: one case file per rules module, named alike, so a rule's cases are found beside its module's name."""
    modules = {p.stem for p in RULES_DIR.glob("*.py") if p.stem != "__init__"}
    owner = yaml.safe_load(RULES_YAML.read_text(encoding="utf-8"))["modules"]  # rule id prefix -> module
    files = {p.name for p in CASES_DIR.glob("*.yaml")}
    stray = sorted(f for f in files - {SCENARIOS_FILE} if f.removesuffix(".yaml") not in modules)
    assert not stray, f"case files not named after a rules module (src/infucode/rules/<module>.py): {stray}"
    asserted = {owner[rid.split(".")[0]] for _, case in CASES for rid in case_rule_ids(case)} & modules
    missing = sorted(f"{m}.yaml" for m in asserted if f"{m}.yaml" not in files)
    assert not missing, f"rules modules whose ids the cases assert have no case file of their own: {missing}"
