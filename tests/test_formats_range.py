"""Issue 14: each route with a code of its own is reachable from every input format (CSV, MAR, FHIR) and is
described by ``infucode schema``. Expectations: the code each route's documentation gives (codes_2024.yaml;
tests/cases/other_routes.yaml names the sources)."""
import io
import json
import subprocess
import sys

import pytest

from infucode import code_encounter, load_ruleset
from infucode.adapters.fhir import map_route, read_fhir
from infucode.adapters.flat import encounters_from_csv
from infucode.adapters.mar import encounters_from_mar
from infucode.vocabulary import own_code_route

RS = load_ruleset()

# (route cell as written, drug, expected code)
ROUTE_CELLS = [
    ("On-body injector", "pegfilgrastim", "96377"),
    ("Intralesional", "bleomycin", "96405"),
    ("Intrapleural", "bleomycin", "96440"),
    ("Intraperitoneal", "cisplatin", "96446"),
    ("Intrathecal", "methotrexate", "96450"),
    ("Ommaya", "cytarabine", "96542"),
    ("CADD refill", "fluorouracil", "96521"),
    ("Implanted pump refill", "fluorouracil", "96522"),
    ("Port flush", "heparin lock flush", "96523"),
    ("Unlisted", "ondansetron", "96379"),
    ("Unlisted", "cisplatin", "96549"),
]


def _codes(result):
    return [l.code for l in result.lines if l.kind == "administration"]


@pytest.mark.parametrize("cell,drug,code", ROUTE_CELLS)
def test_mar_route_cell_reaches_the_code(cell, drug, code):
    text = ("encounter_id,setting,order_id,action,time,route,drug\n"
            f"e1,office,o1,given,2024-07-01T10:00,{cell},{drug}\n")
    [enc] = list(encounters_from_mar(io.StringIO(text)))
    assert _codes(code_encounter(enc, RS)) == [code]


@pytest.mark.parametrize("cell,drug,code", ROUTE_CELLS)
def test_fhir_route_text_reaches_the_code(cell, drug, code):
    ma = {"resourceType": "MedicationAdministration", "id": "a1", "status": "completed",
          "medicationCodeableConcept": {"text": drug}, "subject": {"reference": "Patient/p1"},
          "context": {"reference": "Encounter/e1"}, "effectiveDateTime": "2024-07-01T10:00:00-05:00",
          "dosage": {"route": {"text": cell}}}
    reads = [r for r in read_fhir({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": ma}]}, setting="office")
             if r.encounter is not None]
    assert len(reads) == 1
    assert _codes(code_encounter(reads[0].encounter, RS)) == [code]


def test_csv_carries_the_new_fields():
    text = ("encounter_id,setting,date,administration_id,drug,route,start,device,lesions,description\n"
            "e1,office,2024-07-01,a1,bleomycin,intralesional,09:00,,8,\n"
            "e2,office,2024-07-01,a1,,flush,09:00,implanted_port,,\n"
            "e3,office,2024-07-01,a1,,pump_refill,09:00,portable_pump,,\n"
            "e4,office,2024-07-01,a1,cisplatin,unlisted,09:00,,,what was done\n")
    got = [_codes(code_encounter(e, RS)) for e in encounters_from_csv(text)]
    assert got == [["96406"], ["96523"], ["96521"], ["96549"]]


def test_csv_lesions_must_be_a_whole_number():
    text = ("encounter_id,setting,date,administration_id,drug,route,lesions\n"
            "e1,office,2024-07-01,a1,bleomycin,intralesional,2.5\n")
    [err] = encounters_from_csv(text)
    assert "lesions" in err.field


@pytest.mark.parametrize("text,expected", [
    ("IV push, then flush", (None, None)),          # the flush of another service is not a route
    ("Flush", ("flush", None)),
    ("port flush", ("flush", "implanted_port")),
    ("PICC flush", ("flush", "central_catheter")),
    ("IV", (None, None)),
])
def test_own_code_route_words(text, expected):
    assert own_code_route(text) == expected


def test_fhir_ordinary_routes_unchanged():
    assert map_route([], ["Intravenous"], ["Drug Push"]) == ("iv_push", None)


def test_schema_names_the_new_routes_and_fields():
    out = subprocess.run([sys.executable, "-m", "infucode", "schema"], capture_output=True, text=True, check=True).stdout
    doc = json.loads(out)
    text = json.dumps(doc)
    for word in ("on_body_injector", "intralesional", "intrapleural", "intraperitoneal", "intrathecal", "cns_reservoir",
                 "pump_refill", "flush", "unlisted", "portable_pump", "implanted_port", "lesions", "description", "device"):
        assert word in text, word
