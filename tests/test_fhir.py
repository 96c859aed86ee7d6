"""FHIR R4 in (MedicationAdministration) and out (ChargeItem/Claim): issue 6."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

pytest.importorskip("fhir.resources")

from fhir.resources.R4B.bundle import Bundle

from infucode import code_encounter, load_ruleset
from infucode.adapters.encounter_io import read_encounters
from infucode.adapters.fhir import (
    CPT_SYSTEM,
    HCPCS_SYSTEM,
    encounters_from_fhir_json,
    looks_like_fhir,
    map_route,
    read_fhir,
    to_fhir_bundle,
)
from infucode.model import Encounter, InputError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "fhir"
SCT = "http://snomed.info/sct"
DRUG = "Zyxorubicin"  # must never appear in a finding


@pytest.fixture(scope="module")
def rs():
    return load_ruleset("medicare")


def lines_of(result):
    return [(l.code, l.units, l.modifiers, l.date, l.administrations, l.rule, l.kind, l.explanation) for l in result.lines]


def ma(id="a1", *, status="completed", context="Encounter/e1", start="2024-07-01T08:30:00-05:00",
       end="2024-07-01T09:45:00-05:00", route_code="47625008", method="infusion", **extra) -> dict:
    r = {"resourceType": "MedicationAdministration", "id": id, "status": status,
         "medicationCodeableConcept": {"text": "ondansetron"},
         "subject": {"reference": "Patient/p1"},
         "dosage": {"route": {"coding": [{"system": SCT, "code": route_code}]}}}
    if method:
        r["dosage"]["method"] = {"text": method}
    if context:
        r["context"] = {"reference": context}
    if end:
        r["effectivePeriod"] = {"start": start, "end": end}
    else:
        r["effectiveDateTime"] = start
    r.update(extra)
    return r


def bundle(*resources) -> dict:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def only(reads):
    encs = [r for r in reads if r.encounter is not None]
    assert len(encs) == 1, reads
    return encs[0]


def all_findings(reads):
    return [f for r in reads for f in r.findings]


# --- the bundled example ---------------------------------------------------------------------


def test_example_bundle_codes_like_its_hand_written_equivalent(rs):
    read = only(read_fhir(EXAMPLES / "chemo-day-bundle.json"))
    assert read.findings == []
    (equivalent,) = list(read_encounters(EXAMPLES / "chemo-day-equivalent.yaml"))
    assert isinstance(equivalent, Encounter)
    got, want = code_encounter(read.encounter, rs), code_encounter(equivalent, rs)
    assert lines_of(got) == lines_of(want)
    assert [l.code for l in got.lines if l.kind == "administration"] == ["96413", "96415", "96361", "96367", "96375", "96417"]
    assert read.patient_ref == "Patient/pt-1001" and read.encounter_ref == "Encounter/chemo-day-1"


def test_example_mapping(rs):
    enc = only(read_fhir(EXAMPLES / "chemo-day-bundle.json")).encounter
    by_id = {a.id: a for a in enc.administrations}
    assert enc.id == "chemo-day-1" and enc.setting == "facility" and enc.date == "2024-07-01"
    ns = by_id["ns"]  # contained Medication
    assert (ns.drug, ns.hcpcs, ns.route, ns.volume_ml, ns.rate_ml_per_hr) == ("normal saline 0.9%", "J7030", "iv_infusion", 1000.0, 1333.0)
    dex = by_id["dexamethasone"]  # Medication/<id> reference, effectiveDateTime, "IV push"
    assert (dex.hcpcs, dex.route, dex.start, dex.stop) == ("J1100", "iv_push", "2024-07-01T09:07-05:00", None)
    assert by_id["ondansetron"].route == "iv_infusion"  # method IVPB
    assert by_id["paclitaxel"].site == "right forearm port"
    assert by_id["ns"].indication == "pre-hydration"


def test_ndjson_reads_like_the_bundle(tmp_path, rs):
    data = json.loads((EXAMPLES / "chemo-day-bundle.json").read_text())
    path = tmp_path / "chemo.ndjson"
    path.write_text("\n".join(json.dumps(e["resource"]) for e in data["entry"]) + "\n")
    a = only(read_fhir(path)).encounter
    b = only(read_fhir(data)).encounter
    assert lines_of(code_encounter(a, rs)) == lines_of(code_encounter(b, rs))


def test_setting_is_a_parameter():
    assert only(read_fhir(EXAMPLES / "chemo-day-bundle.json", setting="office")).encounter.setting == "office"


# --- routes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("codes,route_text,method,expected", [
    ([(SCT, "47625008")], [], ["IV push"], "iv_push"),
    ([(SCT, "47625008")], [], ["bolus"], "iv_push"),
    ([(SCT, "47625008")], [], ["IVP"], "iv_push"),
    ([(SCT, "47625008")], [], ["Continuous infusion"], "iv_infusion"),
    ([(SCT, "47625008")], [], ["drip"], "iv_infusion"),
    ([(SCT, "47625008")], [], ["IVPB"], "iv_infusion"),
    ([(SCT, "47625008")], [], [], "iv"),
    ([(SCT, "34206005")], [], [], "sc"),
    ([(SCT, "34206005")], [], ["infusion"], "sc_infusion"),
    ([(SCT, "78421000")], [], [], "im"),
    ([(SCT, "58100008")], [], [], "intra_arterial"),
    ([], ["Intravenous"], ["Drug Push"], "iv_push"),
    ([], ["SQ"], [], "sc"),
    ([], ["IM"], [], "im"),
    ([], [], ["IV infusion"], "iv_infusion"),
])
def test_route_mapping(codes, route_text, method, expected):
    assert map_route(codes, route_text, method) == (expected, None)


def test_route_problems():
    assert map_route([(SCT, "26643006")], [], []) == (None, "not_coded")
    assert map_route([], ["by mouth PO"], []) == (None, "not_coded")
    assert map_route([], ["wibble"], []) == (None, "unknown")


def test_unclear_iv_and_oral_resources():
    reads = read_fhir(bundle(ma("a1", method=None), ma("a2", route_code="26643006", method=None)))
    enc = only(reads).encounter
    assert [(a.id, a.route) for a in enc.administrations] == [("a1", "iv")]
    (f,) = all_findings(reads)
    assert f.resource == "MedicationAdministration/a2" and f.code == "fhir.route" and f.severity == "info"


# --- statuses --------------------------------------------------------------------------------


def test_statuses():
    reads = read_fhir(bundle(
        ma("done"), ma("nd", status="not-done"), ma("eie", status="entered-in-error"),
        ma("ip", status="in-progress"), ma("oh", status="on-hold"), ma("st", status="stopped"),
    ))
    enc = only(reads).encounter
    assert [a.id for a in enc.administrations] == ["done", "st"]
    assert [a.discontinued for a in enc.administrations] == [False, True]
    by = {f.resource: f for f in all_findings(reads)}
    assert by["MedicationAdministration/nd"].severity == "info"
    assert by["MedicationAdministration/eie"].severity == "info"
    assert by["MedicationAdministration/ip"].severity == "warning"
    assert by["MedicationAdministration/oh"].severity == "warning"
    assert by["MedicationAdministration/st"].severity == "info"
    assert all(f.encounter == "e1" for f in by.values())


# --- bad resources ---------------------------------------------------------------------------


def test_bad_resources_are_findings_naming_the_resource_and_never_stop_the_batch():
    no_med = ma("no-med")
    del no_med["medicationCodeableConcept"]
    bad_period = ma("bad-period", start="2024-07-01T25:61:00Z", end="2024-07-01T26:00:00Z")
    backwards = ma("backwards", start="2024-07-01T10:00:00Z", end="2024-07-01T09:00:00Z")
    unresolved = ma("unresolved")
    del unresolved["medicationCodeableConcept"]
    unresolved["medicationReference"] = {"reference": "Medication/nowhere"}
    wrong_type = ma("wrong-type")
    wrong_type["dosage"] = "IV"
    date_only = ma("date-only", start="2024-07-01", end="2024-07-01")
    reads = read_fhir(bundle(ma("ok"), no_med, bad_period, backwards, unresolved, wrong_type, date_only,
                             {"resourceType": "MedicationAdministration", "status": "completed"}))
    enc = only(reads).encounter
    assert [a.id for a in enc.administrations] == ["ok", "date-only"]
    assert enc.administrations[1].start is None
    found = {f.resource: f for f in all_findings(reads)}
    for rid in ("no-med", "bad-period", "backwards", "unresolved", "wrong-type", "date-only"):
        assert f"MedicationAdministration/{rid}" in found, rid
    assert found["MedicationAdministration/no-med"].severity == "error"
    assert found["MedicationAdministration/unresolved"].code == "fhir.missing_medication"
    assert found["MedicationAdministration/backwards"].code == "fhir.period"
    assert found["MedicationAdministration/date-only"].severity == "warning"
    assert "MedicationAdministration at entry[7]" in found
    assert not any(DRUG in f.message or "ondansetron" in f.message for f in found.values())


def test_unreadable_inputs(tmp_path):
    p = tmp_path / "broken.json"
    p.write_text("{not json")
    (read,) = read_fhir(p)
    assert read.encounter is None and read.findings[0].code == "fhir.json"
    nd = tmp_path / "x.ndjson"
    nd.write_text(json.dumps(ma("a1")) + "\n{oops\n")
    reads = read_fhir(nd)
    assert only(reads).encounter.administrations[0].id == "a1"
    assert any(f.resource == "line 2" for f in all_findings(reads))
    assert read_fhir(tmp_path / "missing.json")[0].findings[0].code == "fhir.file"


def test_duplicate_resource_ids():
    reads = read_fhir(bundle(ma("a1"), ma("a1", start="2024-07-01T10:00:00Z", end="2024-07-01T11:00:00Z")))
    assert len(only(reads).encounter.administrations) == 1
    assert [f.code for f in all_findings(reads)] == ["fhir.duplicate_id"]


# --- grouping --------------------------------------------------------------------------------


def test_context_keeps_an_encounter_crossing_midnight_whole(rs):
    reads = read_fhir(bundle(
        ma("late", start="2024-07-01T22:30:00-05:00", end="2024-07-02T01:00:00-05:00"),
        ma("after", start="2024-07-02T01:05:00-05:00", end="2024-07-02T01:50:00-05:00", method="infusion"),
    ))
    enc = only(reads).encounter
    assert enc.id == "e1" and [a.id for a in enc.administrations] == ["late", "after"]
    assert enc.date == "2024-07-01"
    code_encounter(enc, rs)  # codes without error


def test_without_context_by_patient_and_start_date():
    r1 = ma("a", context=None)
    r2 = ma("b", context=None, start="2024-07-02T08:00:00Z", end="2024-07-02T09:00:00Z")
    r3 = ma("c", context=None, subject={"reference": "Patient/p2"})
    reads = read_fhir(bundle(r1, r2, r3))
    got = {r.encounter.id: [a.id for a in r.encounter.administrations] for r in reads}
    assert got == {"p1_2024-07-01": ["a"], "p1_2024-07-02": ["b"], "p2_2024-07-01": ["c"]}


def test_context_by_full_url():
    enc = {"resourceType": "Encounter", "id": "visit-9", "status": "finished",
           "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}}
    b = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:0b1c", "resource": enc, "request": {"method": "POST", "url": "Encounter"}},
        {"fullUrl": "urn:uuid:aa11", "resource": ma("a1", context="urn:uuid:0b1c"), "request": {"method": "POST", "url": "MedicationAdministration"}},
    ]}
    assert only(read_fhir(b)).encounter.id == "visit-9"


# --- rate and dose ---------------------------------------------------------------------------


def test_rate_ratio_and_dose():
    r = ma("a1")
    r["dosage"]["dose"] = {"value": 250, "unit": "mL", "system": "http://unitsofmeasure.org", "code": "mL"}
    r["dosage"]["rateRatio"] = {"numerator": {"value": 5, "unit": "mL", "code": "mL"},
                                "denominator": {"value": 1, "unit": "min", "code": "min"}}
    adm = only(read_fhir(bundle(r))).encounter.administrations[0]
    assert adm.rate_ml_per_hr == 300 and adm.volume_ml == 250 and adm.dose.unit == "mL"


# --- the command line hooks ------------------------------------------------------------------


def test_looks_like_fhir():
    assert looks_like_fhir(bundle(ma()))
    assert looks_like_fhir(ma())
    assert looks_like_fhir([ma(), ma("a2")])
    assert not looks_like_fhir({"id": "e1", "setting": "office", "administrations": []})
    assert not looks_like_fhir([])


def test_encounters_from_fhir_json():
    items = list(encounters_from_fhir_json(bundle(ma("a1"), ma("ip", status="in-progress"), ma("nd", status="not-done"))))
    encs = [i for i in items if isinstance(i, Encounter)]
    errs = [i for i in items if isinstance(i, InputError)]
    assert [e.id for e in encs] == ["e1"]
    assert [(e.field, e.encounter) for e in errs] == [("MedicationAdministration/ip", "e1")]


# --- output ----------------------------------------------------------------------------------


def test_charge_item_bundle_validates(rs):
    read = only(read_fhir(EXAMPLES / "chemo-day-bundle.json"))
    result = code_encounter(read.encounter, rs)
    out = to_fhir_bundle(result, read.encounter, patient_ref=read.patient_ref, encounter_ref=read.encounter_ref,
                         include_claim=True, created="2024-07-02")
    parsed = Bundle.model_validate(copy.deepcopy(out))
    items = [e.resource for e in parsed.entry if e.resource.__resource_type__ == "ChargeItem"]
    claims = [e.resource for e in parsed.entry if e.resource.__resource_type__ == "Claim"]
    assert len(items) == len(result.lines) and len(claims) == 1
    first = items[0]
    assert first.status == "billable"
    assert (first.code.coding[0].system, first.code.coding[0].code) == (CPT_SYSTEM, "96413")
    assert first.quantity.value == 1
    assert str(first.occurrenceDateTime) == "2024-07-01"
    assert [s.reference for s in first.service] == ["MedicationAdministration/paclitaxel"]
    assert first.subject.reference == "Patient/pt-1001" and first.context.reference == "Encounter/chemo-day-1"
    assert "initial.facility_hierarchy" in first.note[0].text
    drug = next(i for i in items if i.code.coding[0].code == "J9267")
    assert drug.code.coding[0].system == HCPCS_SYSTEM and drug.quantity.value == 300
    assert [ci.sequence for ci in claims[0].item] == list(range(1, len(result.lines) + 1))
    assert claims[0].type.coding[0].code == "institutional"
    json.dumps(out)  # plain JSON


def test_charge_items_carry_modifiers(rs):
    # two infusions that each need their own access: the second chain takes a distinct-service modifier
    enc = {"id": "m1", "setting": "office", "date": "2024-07-01", "administrations": [
        {"id": "x", "drug": "ondansetron", "route": "im", "start": "08:00"},
        {"id": "y", "drug": "ondansetron", "route": "im", "start": "08:05"},
    ]}
    result = code_encounter(enc, rs)
    result.lines[0].modifiers = ["59", "XU"]  # whatever the engine decided, both kinds must serialise
    out = to_fhir_bundle(result, Encounter(id="m1", setting="office", administrations=[]), include_claim=True)
    Bundle.model_validate(copy.deepcopy(out))
    ext = out["entry"][0]["resource"]["extension"]
    mods = [e["valueCoding"] for e in ext if e["url"].endswith("modifier")]
    assert mods == [{"system": CPT_SYSTEM, "code": "59"}, {"system": HCPCS_SYSTEM, "code": "XU"}]
    claim = out["entry"][-1]["resource"]
    assert claim["item"][0]["modifier"][1]["coding"][0]["code"] == "XU"
    assert out["entry"][0]["resource"]["subject"] == {"display": "patient not given"}


@pytest.mark.parametrize("route_text,method,expected", [
    (["IA"], [], ("intra_arterial", None)),              # the vocabulary's capitals-only abbreviation
    (["Injection"], [], (None, "unknown")),              # a route field naming no site does not decide one
    (["Intravenous"], ["SCIG"], ("iv_infusion", None)),  # the route decides the site, the method push/infusion
    (["I.V."], ["piggy-back"], ("iv_infusion", None)),
])
def test_route_words_are_the_shared_vocabulary(route_text, method, expected):
    assert map_route([], route_text, method) == expected
