"""The rule base is consistent: every rule id the code emits is documented with sources, and every
source key cited by a rule, policy or code resolves in sources.yaml."""
import re
from pathlib import Path

import pytest

from infucode import load_ruleset

SRC = Path(__file__).resolve().parents[1] / "src" / "infucode"
RULE_ID = re.compile(r'"((?:method|family|timing|initial|subsequent|who|doc|limits|drug)\.[a-z_]+)"')
F_RULE_ID = re.compile(r'f"doc\.missing_\{missing\}"')


@pytest.fixture(scope="module")
def rs():
    return load_ruleset()


def emitted_rule_ids() -> set[str]:
    ids: set[str] = set()
    for path in (SRC / "rules").glob("*.py"):
        ids |= set(RULE_ID.findall(path.read_text()))
    ids |= set(RULE_ID.findall((SRC / "engine.py").read_text()))
    return ids


def test_every_emitted_rule_is_documented(rs):
    ids = emitted_rule_ids()
    assert len(ids) > 30, "the scan found too few rule ids; the pattern is broken"
    missing = sorted(i for i in ids if i not in rs.rules)
    assert not missing, f"rule ids used in code but not in rules.yaml: {missing}"
    # the f-string ids
    assert "doc.missing_start" in rs.rules and "doc.missing_stop" in rs.rules


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
