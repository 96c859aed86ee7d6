"""The IV access a note documents once ("Port accessed 0815", "L forearm PIV placed") is the site of the
drugs given IV when it is the only access the note names (segments.note_access). The site only feeds the
memo's documentation list: a note with a port must not be told, drug by drug, that the access site is
missing. Two accesses, a second or separate line, or no device word at all: nothing is inferred."""
from __future__ import annotations

import random

import pytest

from conftest import load_note_corpus
from infucode import load_ruleset
from infucode.knowledge.intake import case_memo, parse_note
from infucode.knowledge.intake.segments import note_access, site_starts
from infucode.vocabulary.names import distinct_words, gate_words

RS = load_ruleset("medicare")


def sites(note: str) -> dict[str, str | None]:
    enc, _, _ = parse_note(note, RS, default_date="2026-12-03")
    return {a["drug"]: a.get("site") for a in enc["administrations"]}


def site_gaps(note: str) -> list[str]:
    return [m for m in case_memo(note, RS).missing_documentation if "access site" in m]


def test_a_port_accessed_once_is_the_site_of_every_iv_drug():
    note = ("HOPD 12/03/2026. Port accessed 0815, +blood return.\nZofran 16 mg IVPB 0830-0845.\n"
            "Oxaliplatin 150 mg in D5W 500 mL started 0905, completed 1110.\n5-FU 700 mg IV push 1115.")
    assert sites(note) == {"Zofran": "Port", "Oxaliplatin": "Port", "5-FU": "Port"}
    assert site_gaps(note) == []


def test_a_peripheral_line_placed_once_is_the_site_and_its_later_mentions_agree():
    note = ("Office 12/03/2026. 0825 L forearm PIV placed, 22g.\nIVIG 30 g started 0830, completed 1245.\n"
            "Zofran 4 mg IVP 1315. PIV flushed and removed.")
    assert sites(note) == {"IVIG": "L forearm PIV", "Zofran": "L forearm PIV"}


def test_an_injection_is_not_given_through_the_port():
    note = "HOPD 12/03/2026. Port accessed 0815.\nZofran 8 mg IVP 0830.\nToradol 30 mg IM 0840."
    got = sites(note)
    assert got["Zofran"] == "Port"
    assert got["Toradol"] is None


@pytest.mark.parametrize("note", [
    # two kinds of access
    "HOPD 12/03/2026. Port accessed 0815. PICC flushed 0820.\nZofran 8 mg IVP 0830.",
    # two peripheral places
    "ED 12/03/2026. L forearm PIV placed 0815. R hand PIV placed 0820.\nZofran 8 mg IVP 0830.",
    # a second line, said in words
    "ED 12/03/2026. Port accessed 0815; second PIV placed.\nZofran 8 mg IVP 0830.",
    # a body part without a device word is not an access ("hand hygiene")
    "ED 12/03/2026. Hand hygiene performed.\nZofran 8 mg IVP 0830.",
])
def test_nothing_is_inferred_when_the_note_names_more_than_one_access_or_none(note):
    assert sites(note) == {"Zofran": None}
    assert site_gaps(note) == ["Zofran: the IV access site is not documented"]


def test_a_port_and_a_place_on_the_arm_leave_the_other_drugs_without_a_site():
    """The Zofran went in the left forearm, perhaps a second line: the saline's access is not said."""
    note = "HOPD 12/03/2026. Port accessed 0815.\nZofran 8 mg IVP 0830 L forearm.\nNS 1 L 0900-1000 for dehydration."
    assert sites(note) == {"Zofran": "L forearm", "NS": None}


def test_a_drug_s_own_site_is_kept():
    note = "ED 12/03/2026. R AC PIV placed 0815.\nZofran 8 mg IVP via R AC PIV 0830.\nNS 1 L 0900-1000 for dehydration."
    got = sites(note)
    assert got["Zofran"] == "R AC PIV" and got["NS"] == "R AC PIV"


def _corpus_texts() -> list[str]:
    corpus = load_note_corpus()
    return [corpus.note_text(n) for n in corpus.load_notes()]


def test_the_word_places_find_what_a_scan_of_the_whole_note_finds():
    """note_access with site_starts (bytes.find per word) equals note_access scanning every position, on the
    corpus and on its lines shuffled and joined at random (sites from several notes meet)."""
    texts = _corpus_texts()
    rnd = random.Random(5)
    mixed = ["\n".join(rnd.sample("\n".join(rnd.sample(texts, 3)).splitlines(), 8)) for _ in range(300)]
    seen = 0
    for t in texts + mixed:
        gate = gate_words(t, distinct_words(t))
        got = note_access(t, site_starts(t, gate))
        assert got == note_access(t, None), t
        seen += got is not None
    assert seen > 20          # the comparison is not only of Nones
