"""Every drug-administration code 96360-96549 that the reference code table lists can be produced by some input
(issue 14). Each code has one encounter here, written from the code's meaning (codes_2024.yaml and the sources
it cites), and the rule id the line must cite. A code added to the table without an input fails the test."""
import pytest

from infucode import code_encounter, load_ruleset

RS = load_ruleset()
D = "2024-07-01"


def enc(*adms, setting="facility", **extra):
    return {"id": "range", "setting": setting, "date": D, "administrations": list(adms), **extra}


def adm(aid, drug, route, start=None, stop=None, **more):
    a = {"id": aid, "drug": drug, "route": route, **more}
    if start:
        a["start"] = start
    if stop:
        a["stop"] = stop
    return a


CHEMO_2H = adm("c", "carboplatin", "iv_infusion", "08:00", "10:00")
# code -> (encounter, rule id the code's line cites)
PRODUCERS = {
    "96360": (enc(adm("h", "normal saline", "iv_infusion", "08:00", "09:00")), "initial.facility_hierarchy"),
    "96361": (enc(adm("h", "normal saline", "iv_infusion", "08:00", "10:00")), "subsequent.added_hours"),
    "96365": (enc(adm("v", "vancomycin", "iv_infusion", "08:00", "09:00")), "initial.facility_hierarchy"),
    "96366": (enc(adm("v", "vancomycin", "iv_infusion", "08:00", "10:00")), "subsequent.added_hours"),
    "96367": (enc(adm("v", "vancomycin", "iv_infusion", "08:00", "09:00"), adm("c", "ceftriaxone", "iv_infusion", "09:00", "09:30")),
              "subsequent.sequential_infusion"),
    "96368": (enc(adm("v", "vancomycin", "iv_infusion", "08:00", "10:00"), adm("c", "ceftriaxone", "iv_infusion", "08:30", "09:30")),
              "subsequent.concurrent_infusion"),
    "96369": (enc(adm("s", "immune globulin subcutaneous", "sc_infusion", "08:00", "09:00")), "beside_chain.sc_infusion"),
    "96370": (enc(adm("s", "immune globulin subcutaneous", "sc_infusion", "08:00", "10:00")), "beside_chain.sc_infusion"),
    "96371": (enc(adm("s1", "immune globulin subcutaneous", "sc_infusion", "08:00", "09:00", site="left abdomen"),
                  adm("s2", "immune globulin subcutaneous", "sc_infusion", "08:00", "09:00", site="right thigh")), "beside_chain.sc_infusion"),
    "96372": (enc(adm("i", "ceftriaxone", "im", "08:00")), "beside_chain.injection"),
    "96373": (enc(adm("a", "heparin", "intra_arterial", "08:00")), "beside_chain.intra_arterial"),
    "96374": (enc(adm("p", "ondansetron", "iv_push", "08:00")), "initial.facility_hierarchy"),
    "96375": (enc(adm("p", "ondansetron", "iv_push", "08:00"), adm("q", "famotidine", "iv_push", "08:10")), "subsequent.sequential_push"),
    "96376": (enc(adm("p", "ondansetron", "iv_push", "08:00"), adm("q", "ondansetron", "iv_push", "08:45")), "subsequent.same_drug_push"),
    "96377": (enc(adm("o", "pegfilgrastim", "on_body_injector", "10:00")), "other_routes.on_body_injector"),
    "96379": (enc(adm("u", "ondansetron", "unlisted", "10:00")), "other_routes.unlisted"),
    "96401": (enc(adm("i", "bortezomib", "sc", "08:00")), "beside_chain.injection"),
    "96402": (enc(adm("i", "leuprolide", "im", "08:00", indication="prostate cancer")), "beside_chain.injection"),
    "96405": (enc(adm("l", "bleomycin", "intralesional", lesions=3)), "other_routes.intralesional"),
    "96406": (enc(adm("l", "bleomycin", "intralesional", lesions=9)), "other_routes.intralesional"),
    "96409": (enc(adm("p", "doxorubicin", "iv_push", "08:00")), "initial.facility_hierarchy"),
    "96411": (enc(adm("p", "doxorubicin", "iv_push", "08:00"), adm("q", "vincristine", "iv_push", "08:10")), "subsequent.sequential_push"),
    "96413": (enc(CHEMO_2H), "initial.facility_hierarchy"),
    "96415": (enc(CHEMO_2H), "subsequent.added_hours"),
    "96416": (enc(adm("f", "fluorouracil", "iv_infusion", "08:00", "18:00", pump=True)), "beside_chain.prolonged_pump"),
    "96417": (enc(CHEMO_2H, adm("d", "paclitaxel", "iv_infusion", "10:00", "10:45")), "subsequent.sequential_infusion"),
    "96420": (enc(adm("a", "fluorouracil", "intra_arterial", "08:00")), "beside_chain.intra_arterial"),
    "96422": (enc(adm("a", "fluorouracil", "intra_arterial", "08:00", "09:00")), "beside_chain.intra_arterial"),
    "96423": (enc(adm("a", "fluorouracil", "intra_arterial", "08:00", "10:00")), "subsequent.added_hours"),
    "96425": (enc(adm("a", "fluorouracil", "intra_arterial", "08:00", "18:00", pump=True)), "beside_chain.prolonged_pump"),
    "96440": (enc(adm("x", "bleomycin", "intrapleural", "08:00")), "other_routes.intracavitary"),
    "96446": (enc(adm("x", "cisplatin", "intraperitoneal", "08:00")), "other_routes.intracavitary"),
    "96450": (enc(adm("x", "methotrexate", "intrathecal", "08:00")), "other_routes.intrathecal"),
    "96521": (enc(adm("r", "fluorouracil", "pump_refill", "08:00", device="portable_pump")), "other_routes.pump_refill"),
    "96522": (enc({"id": "r", "route": "pump_refill", "start": "08:00", "device": "implanted_pump"}), "other_routes.pump_refill"),
    "96523": (enc({"id": "f", "route": "flush", "start": "08:00", "device": "implanted_port"}), "other_routes.flush_alone"),
    "96542": (enc(adm("x", "cytarabine", "cns_reservoir", "08:00")), "other_routes.intrathecal"),
    "96549": (enc(adm("u", "cisplatin", "unlisted", "08:00", description="what was done")), "other_routes.unlisted"),
}


def listed_codes() -> list[str]:
    return sorted(c for c in RS.codes.codes() if "96360" <= c <= "96549")


def test_the_reference_lists_the_range():
    codes = listed_codes()
    assert len(codes) >= 38 and "96379" in codes and "96549" in codes  # the table itself, not this file


@pytest.mark.parametrize("code", listed_codes())
def test_every_listed_code_is_reachable(code):
    assert code in PRODUCERS, f"{code} is in the reference code table but no input here produces it"
    encounter, rule = PRODUCERS[code]
    result = code_encounter(encounter, RS)
    lines = [l for l in result.lines if l.kind == "administration" and l.code == code]
    assert lines, f"{code} not produced: {[(l.code, l.units) for l in result.lines]}"
    assert lines[0].rule == rule
    assert lines[0].rule in RS.rules


def test_no_producer_for_a_code_the_table_does_not_list():
    assert set(PRODUCERS) <= set(listed_codes())


def test_lookup_knows_96379_and_says_what_is_unconfirmed():
    """Issue 14: `infucode lookup 96379` knew no such code. Its values no CMS file here confirms are marked."""
    from infucode.knowledge.lookup import lookup

    ref = lookup("96379", RS)
    assert ref.kind == "unlisted" and ref.family == "therapeutic" and not ref.add_on
    assert ref.wrvu is None
    info = RS.codes.get("96379")
    assert {"wrvu", "mue_practitioner", "mue_hospital"} <= set(info.unconfirmed)
