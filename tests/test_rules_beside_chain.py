"""Rules of rules/beside_chain.py that no worked case reaches with the bundled tables.

An NCCI pair whose column 2 is a service beside the chain and whose modifier indicator is 0 (no modifier
bypasses it) is not in the bundled PTP extract for the codes the engine builds beside the chain; a payer's
imported table may hold one. The rule (rules.yaml beside_chain.distinct_injection, [S1-PTP, S38a]): with
indicator 1 the distinct-service modifier is appended; with indicator 0 no modifier may be, and a finding says so.
"""
from dataclasses import replace

from infucode import code_encounter, load_ruleset
from infucode.reference.ncci import PtpEdit, PtpTable

ENCOUNTER = {"id": "ptp-0", "setting": "office", "date": "2024-07-01", "administrations": [
    {"id": "a1", "drug": "vancomycin", "route": "iv_infusion", "start": "10:00", "stop": "11:00"},
    {"id": "a2", "drug": "ceftriaxone", "route": "im", "start": "11:10"}]}


def _ruleset_with(indicator: int):
    rs = load_ruleset()
    edit = PtpEdit(col1="96365", col2="96372", modifier_indicator=indicator, rationale="test pair", setting="Practitioner")
    tables = replace(rs.tables, ptp=PtpTable([edit], release="test"))
    return load_ruleset(tables=tables)


def test_a_pair_that_allows_no_modifier_is_a_finding():
    result = code_encounter(ENCOUNTER, _ruleset_with(0))
    injection = [l for l in result.lines if l.code == "96372"]
    assert injection and injection[0].modifiers == [] and injection[0].rule == "beside_chain.injection"
    hits = [f for f in result.findings if f.rule == "beside_chain.distinct_injection"]
    assert [(f.severity, f.administrations) for f in hits] == [("warning", ["a2"])]


def test_a_pair_that_allows_a_modifier_takes_the_distinct_modifier():
    result = code_encounter(ENCOUNTER, _ruleset_with(1))
    injection = [l for l in result.lines if l.code == "96372"]
    assert injection[0].modifiers == ["59"] or injection[0].modifiers == ["XU"]
    assert not [f for f in result.findings if f.rule == "beside_chain.distinct_injection"]
