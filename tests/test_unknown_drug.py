"""A drug the catalog does not hold: one finding per administration (rule family.unknown_drug), and the
administration codes stand whenever the family is known without the drug - documented `class`, or a
route coded the same for every family (rules.yaml family.unknown_drug). Only the HCPCS drug line waits."""
from __future__ import annotations

import msgspec
import pytest

from infucode import code_encounter, load_ruleset
from infucode.model import Encounter

UNKNOWN = "investigational agent XR-17"


@pytest.fixture(scope="module")
def ruleset():
    return load_ruleset("medicare")


def _code(ruleset, *adms):
    enc = msgspec.convert({"id": "u1", "setting": "facility", "date": "2024-07-01", "administrations": list(adms)}, Encounter)
    return code_encounter(enc, ruleset)


def _unknown(result, aid="a2"):
    return [f for f in result.findings if f.rule == "family.unknown_drug" and aid in f.administrations]


def test_unknown_drug_with_class_does_not_hold_the_claim(ruleset):
    # rituximab 09:00-11:00 is the initial service (96413 + 96415); the unknown therapeutic drug after it
    # through the same line is a sequential infusion (96367). Expected from the CMS facility hierarchy.
    result = _code(ruleset,
                   {"id": "a1", "drug": "rituximab", "route": "iv_infusion", "start": "09:00", "stop": "11:00",
                    "dose": {"value": 500, "unit": "mg"}},
                   {"id": "a2", "drug": UNKNOWN, "class": "therapeutic", "route": "iv_infusion", "start": "11:00",
                    "stop": "12:00", "dose": {"value": 100, "unit": "mg"}})
    admin = sorted(l.code for l in result.lines if l.kind == "administration")
    assert admin == ["96367", "96413", "96415"]
    assert [l.code for l in result.lines if l.kind == "drug"] == ["J9312"]      # only the known drug's line
    found = _unknown(result)
    assert len(found) == 1 and found[0].severity == "warning"
    assert "HCPCS" in found[0].message
    assert not [f for f in result.findings if f.severity == "error"]


def test_unknown_drug_without_class_has_one_finding(ruleset):
    result = _code(ruleset, {"id": "a2", "drug": UNKNOWN, "route": "iv_infusion", "start": "08:00", "stop": "09:00"})
    found = _unknown(result)
    assert len(found) == 1, [(f.rule, f.severity) for f in result.findings]   # was a warning AND an error
    assert found[0].severity == "error"
    assert [l for l in result.lines if l.kind == "administration"] == []


def test_unknown_drug_by_subcutaneous_infusion_is_coded_without_class(ruleset):
    # 96369 is the subcutaneous infusion code for any drug (CPT code set): the route alone decides it.
    result = _code(ruleset, {"id": "a2", "drug": UNKNOWN, "route": "sc_infusion", "start": "08:00", "stop": "09:00",
                             "site": "abdomen", "dose": {"value": 10, "unit": "g"}})
    assert [(l.code, l.units) for l in result.lines] == [("96369", 1)]
    found = _unknown(result)
    assert len(found) == 1 and found[0].severity == "warning"
    assert not [f for f in result.findings if f.severity == "error"]


@pytest.mark.parametrize("route", ["iv_push", "sc", "im", "iv_infusion"])
def test_unknown_drug_each_route_one_finding(ruleset, route):
    result = _code(ruleset, {"id": "a2", "drug": UNKNOWN, "class": "therapeutic", "route": route,
                             "start": "08:00", "stop": "09:00"})
    assert len(_unknown(result)) == 1
