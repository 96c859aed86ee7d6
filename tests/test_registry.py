"""The rule base is consistent, in both directions: every rule id the code can emit is documented with
sources, every documented id is emitted by some worked case, and an id's prefix names the rules module that
emits it (rules.yaml ``modules``). Every source key cited by a rule, policy or code resolves in sources.yaml."""
import re
from pathlib import Path

import pytest
import yaml

from infucode import code_encounter, load_ruleset
from infucode.audit import audit_claim
from infucode.model import InputError

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[0] / "src" / "infucode"
RULES_YAML = SRC / "reference" / "data" / "rules.yaml"
MODULES = yaml.safe_load(RULES_YAML.read_text(encoding="utf-8"))["modules"]  # id prefix -> rules module
RULE_ID = re.compile(r'"((?:%s)\.[a-z_0-9]+)"' % "|".join(MODULES))
# Ids built from a field name: doc.missing_{missing} with missing in (start, stop).
F_RULE_IDS = {'f"doc.missing_{missing}"': ("doc.missing_start", "doc.missing_stop")}


@pytest.fixture(scope="module")
def rs():
    return load_ruleset()


def ids_in(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    ids = set(RULE_ID.findall(text))
    for pattern, expanded in F_RULE_IDS.items():
        if pattern in text:
            ids |= set(expanded)
    return ids


def emitted_rule_ids() -> dict[str, set[str]]:
    """Rule ids named in the code that emits lines and findings, by file (rules modules, engine, audit)."""
    files = [*sorted((SRC / "rules").glob("*.py")), SRC / "engine.py", *sorted((SRC / "audit").glob("*.py"))]
    return {str(p.relative_to(SRC)): ids_in(p) for p in files}


def test_the_id_scan_finds_what_it_should():
    # the scan itself can fail: a rule id the code is known to emit, and the f-string ids
    ids = set().union(*emitted_rule_ids().values())
    assert {"continuity.hydration_concurrent", "doc.missing_stop", "doc.missing_start", "audit.mue", "initial.separate_access"} <= ids
    assert len(ids) > 70, "the scan found too few rule ids; the pattern is broken"


def test_every_emitted_rule_is_documented(rs):
    ids = set().union(*emitted_rule_ids().values())
    missing = sorted(i for i in ids if i not in rs.rules.rules)
    assert not missing, f"rule ids used in code but not in rules.yaml: {missing}"


def test_rule_ids_follow_the_module_that_emits_them():
    problems = []
    for file, ids in emitted_rule_ids().items():
        if file.startswith("rules/"):
            module = file.removeprefix("rules/").removesuffix(".py")
        elif file.startswith("audit/"):
            module = "audit"
        else:
            module = file.removesuffix(".py")  # engine.py: emits none itself
        for rid in ids:
            owner = MODULES.get(rid.split(".")[0])
            if owner != module:
                problems.append(f"{file} emits {rid}, whose prefix belongs to {owner or 'no module'}")
    assert not problems, "\n".join(sorted(problems))


def test_every_documented_prefix_names_a_module():
    for prefix, module in MODULES.items():
        path = SRC / "audit" if module == "audit" else SRC / "rules" / f"{module}.py"
        assert path.exists(), f"rules.yaml modules: {prefix} -> {module}, which does not exist"
    doc = yaml.safe_load(RULES_YAML.read_text(encoding="utf-8"))["rules"]
    assert all(rid.split(".")[0] in MODULES for rid in doc), sorted(r for r in doc if r.split(".")[0] not in MODULES)


def worked_case_rule_ids(rs) -> set[str]:
    """Every rule id on a line or finding of the worked cases (tests/cases, tests/audit_cases), as coded now."""
    from test_audit import CASES as AUDIT_CASES  # noqa: PLC0415
    from test_cases import CASES, get_ruleset  # noqa: PLC0415

    seen: set[str] = set()
    for _, case in CASES:
        try:
            result = code_encounter(case["encounter"], get_ruleset(case.get("profile", "medicare"), case.get("policies")))
        except InputError:
            continue
        seen |= {l.rule for l in result.lines} | {f.rule for f in result.findings}
    for case in AUDIT_CASES:
        result = audit_claim(case["claim"], rs)
        seen |= {f.rule for f in result.findings} | {l.rule for l in (result.supported or ())}
    return seen


def test_every_documented_rule_is_emitted_by_a_worked_case(rs):
    from test_cases import ASSERTED_ELSEWHERE  # noqa: PLC0415  (reached only with other tables; a named test asserts it)

    doc = yaml.safe_load(RULES_YAML.read_text(encoding="utf-8"))["rules"]
    cited_only = {rid for rid, v in doc.items() if v.get("cited_only")}
    emitted = worked_case_rule_ids(rs)
    never = sorted(set(rs.rules.rules) - emitted - cited_only - set(ASSERTED_ELSEWHERE))
    assert not never, f"rules.yaml documents ids no worked case emits (dead rule, or a case is missing): {never}"
    assert not (cited_only & emitted), f"rules marked cited_only are emitted: {sorted(cited_only & emitted)}"


def test_former_ids_lead_to_one_current_rule(rs):
    registry = rs.rules
    for old, new in registry.formerly.items():
        assert old not in registry.rules, f"{old} is both a current id and a former id of {new}"
        assert registry.resolve(old) == new and registry[old].id == new
    assert sum(len(r.formerly) for r in registry.rules.values()) == len(registry.formerly), "a former id is claimed twice"
    # the renames of issue 16 stay findable
    assert registry.resolve("initial.one_per_encounter") == "initial.separate_access"
    assert registry.resolve("subsequent.hydration_concurrent") == "continuity.hydration_concurrent"
    assert registry.resolve("timing.added_hours") == "subsequent.added_hours"
    assert registry.resolve("no.such_rule") is None


def test_every_rule_cites_a_resolvable_source(rs):
    for rule in rs.rules.rules.values():
        assert rule.sources, rule.id
        assert all(k in rs.rules.sources for k in rule.sources), rule.id
        assert rule.citation


def test_every_policy_option_cites_a_resolvable_source(rs):
    for policy in rs.tables.policies.policies.values():
        assert policy.default in policy.options
        for option in policy.options.values():
            assert option.sources, f"{policy.name}={option.value}"
            missing = [k for k in option.sources if k not in rs.rules.sources]
            assert not missing, f"{policy.name}={option.value} cites unknown {missing}"
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", option.since), f"{policy.name}={option.value} has no date"


def test_every_code_source_resolves(rs):
    for info in rs.codes:
        for field, key in info.sources.items():
            assert key in rs.rules.sources, f"{info.code}.{field} cites unknown source {key}"


def test_profiles_name_the_documented_divergences(rs):
    seed = load_ruleset("seed-page")
    assert seed.policies["added_hour_threshold"] == "at_least_30"
    assert seed.policies["complex_biologics"] == "therapeutic"
    assert rs.policies["added_hour_threshold"] == "more_than_30"


def test_unknown_profile_and_policy_values_are_refused():
    with pytest.raises(KeyError, match="known profiles"):
        load_ruleset("no-such-payer")
    with pytest.raises(ValueError, match="allowed"):
        load_ruleset(policies={"added_hour_threshold": "sometimes"})
    with pytest.raises(KeyError, match="known policies"):
        load_ruleset(policies={"no_such_policy": "x"})


def test_every_threshold_is_dated_sourced_and_read_by_the_rules(rs):
    from infucode.rules import timing  # noqa: PLC0415

    doc = yaml.safe_load((SRC / "reference" / "data" / "policies.yaml").read_text(encoding="utf-8"))["thresholds"]
    for name, th in doc.items():
        assert th["sources"] and all(k in rs.rules.sources for k in th["sources"]), name
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", th["since"]), name
    assert (timing.PUSH_MAX_MINUTES, timing.HYDRATION_MAX_UNREPORTED, timing.ADDED_HOUR_TAIL, timing.SAME_DRUG_PUSH_GAP,
            timing.BAG_CHANGE_MAX_GAP, timing.PROLONGED_PUMP_MINUTES, timing.LONG_DURATION_MINUTES) == (
        doc["push_max_minutes"]["value"], doc["hydration_max_unreported"]["value"], doc["added_hour_tail_minutes"]["value"],
        doc["same_drug_push_gap"]["value"], doc["bag_change_max_gap"]["value"], doc["prolonged_pump_minutes"]["value"],
        doc["long_duration_minutes"]["value"])
