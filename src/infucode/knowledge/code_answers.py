"""Answers about the codes themselves: what a code is, its MUE and wRVU, how two codes differ and
whether two codes go on one claim. Built from the code table, the NCCI tables, the differentiation
pairs and the rules registry."""
from __future__ import annotations

import re

from ..engine import code_encounter
from ..ruleset import Ruleset
from . import _data
from .answer import Answer, Citations
from .lookup import lookup


def lines_text(result) -> str:
    """The administration lines of a result, as "96365 x1 + 96366 x3"."""
    parts = []
    for line in result.lines:
        if line.kind != "administration":
            continue
        mods = f"-{'-'.join(line.modifiers)}" if line.modifiers else ""
        parts.append(f"{line.code}{mods} x{line.units}")
    return " + ".join(parts) or "no administration line"


# the IV initial services of the CPT chain (the hierarchy chooses among them); intra-arterial codes sit beside it
_IV_CHAIN_INITIALS = frozenset({"96360", "96365", "96374", "96409", "96413"})
_INTRA_ARTERIAL = frozenset({"96420", "96422", "96423"})     # 96425, the pump, cites its own rule


def _mue_text(mue: dict) -> str:
    p, h = mue["practitioner"].get("value"), mue["hospital"].get("value")
    if p is None and h is None:
        return "no MUE in the loaded MUE table"
    return f"MUE {p if p is not None else 'none'} practitioner / {h if h is not None else 'none'} outpatient hospital"


def what_is(code: str, rs: Ruleset) -> Answer:
    ref = lookup(code, rs, with_scenarios=False)
    c = Citations(rs)
    text = [f"{code}: {ref.description}"]
    if ref.add_on:
        text.append(f"It is an add-on code: report it only beside one of {', '.join(ref.primaries)} (CMS add-on code edits).")
        c.rule("limits.add_on_primary")
    else:
        text.append("It is not an add-on code.")
    if ref.time_rule:
        text.append(f"Time: {ref.time_rule}")
    if code in _IV_CHAIN_INITIALS:
        text.append("As the encounter's initial service it is picked by the hierarchy on a facility claim (chemotherapy "
                    "over therapeutic over hydration, infusion over push) and as the main reason for the visit on a "
                    "professional claim.")
        c.rule("initial.facility_hierarchy")
        c.rule("initial.office_primary")
    elif code in _INTRA_ARTERIAL:
        c.rule("beside_chain.intra_arterial")
    text.append(f"wRVU {ref.wrvu if ref.wrvu is not None else 'not confirmed'}; {_mue_text(ref.mue)}.")
    for r in rs.rules.rules.values():
        if code in r.statement or code in r.title:
            c.rule(r.id)
    c.source(*dict.fromkeys(ref_src.split(":")[0] for ref_src in ref.sources.values()))
    return c.answer(" ".join(text), [code], "what_is")


def mue_wrvu(code: str, q: str, rs: Ruleset) -> Answer:
    ref = lookup(code, rs, with_scenarios=False)
    c = Citations(rs)
    parts = []
    want_mue = bool(re.search(r"\bMUE|medically unlikely|max(?:imum)? (?:units|number)|unit limit|how many units .* (?:allowed|max)", q, re.I))
    want_rvu = bool(re.search(r"RVU|relative value", q, re.I))
    if not (want_mue or want_rvu):
        want_mue = want_rvu = True
    if want_rvu:
        parts.append(f"The work RVU of {code} is {ref.wrvu if ref.wrvu is not None else 'not confirmed'} "
                     f"(CMS physician fee schedule, {rs.codes.values_as_of.get('wrvu', rs.codes.release)}); "
                     "it prices the professional claim, not a facility claim.")
        c.rule("limits.wrvu_facility")
        c.source(rs.codes[code].sources.get("wrvu", "S1-RVU"))
    if want_mue:
        p, h = ref.mue["practitioner"], ref.mue["hospital"]
        parts.append(f"The MUE of {code} is {p['value']} per day on a practitioner claim (MAI {p['mai']}) and "
                     f"{h['value']} on an outpatient hospital claim (MAI {h['mai']}). Units above it deny the line; "
                     "MAI 3 means records can support more on appeal, MAI 2 is absolute, MAI 1 is per line.")
        c.rule("limits.mue")
    return c.answer(" ".join(parts), [code], "mue_wrvu")


def differ(a: str, b: str, rs: Ruleset) -> Answer:
    c = Citations(rs)
    pair = _data.pair_for(a, b)
    ra, rb = rs.codes[a], rs.codes[b]
    text = [f"{a}: {ra.description}", f"{b}: {rb.description}"]
    if pair:
        text.append(f"The question that decides: {pair['decides']}")
        text.append(" ".join(pair["explanation"].split()))
        c.rule(*pair.get("rules", ()))
        c.source(*pair.get("sources", ()))
        if pair.get("top_confusion"):
            ex = next((s for s in _data.scenarios() if s["encounter"]["id"] == "scenario-2"), None)
            if ex:
                res = code_encounter(ex["encounter"], rs)
                text.append(f"Example: {ex['name']} codes as {lines_text(res)} (the same drug throughout, so its "
                            "further hours are 96366, never 96367).")
    else:
        for x, y in ((ra, b), (rb, a)):
            rel = next((r for r in x.related if r.code == y), None)
            if rel:
                text.append(f"Against {x.code}, {y} is {rel.how_it_differs}.")
        c.source(ra.sources.get("description", ""), rb.sources.get("description", ""))
    return c.answer(" ".join(text), [a, b], "differentiate")


def together(a: str, b: str, rs: Ruleset) -> Answer:
    c = Citations(rs)
    text = []
    verdict = "yes"
    for x, y in ((a, b), (b, a)):
        info = rs.codes[x]
        if info.add_on:
            c.rule("limits.add_on_primary")
            if y in info.primaries:
                text.append(f"{x} is an add-on and {y} is one of its eligible primaries ({', '.join(sorted(info.primaries))}).")
            else:
                text.append(f"{x} is an add-on whose eligible primaries are {', '.join(sorted(info.primaries))}; {y} is not one "
                            f"of them, so {x} needs one of those on the claim as well.")
    for claim, label in (("professional", "practitioner"), ("facility", "outpatient hospital")):
        for x, y in ((a, b), (b, a)):
            e = rs.ptp.pair(x, y, claim)
            if e is None:
                continue
            c.source(e.source)
            if e.modifier_indicator == 0:
                verdict = "no"
                text.append(f"NCCI {label} edit: {x} (column 1) with {y} (column 2), modifier indicator 0: {y} is not paid "
                            f"with {x}, no modifier bypasses it ({e.rationale}).")
            elif e.modifier_indicator == 1:
                verdict = "distinct" if verdict == "yes" else verdict
                text.append(f"NCCI {label} edit: {x} (column 1) with {y} (column 2), modifier indicator 1: only when the "
                            f"services are distinct, with an NCCI modifier (XU or 59) on {y} ({e.rationale}).")
                c.rule("beside_chain.distinct_injection")
            else:
                text.append(f"NCCI {label} edit {x}/{y} has indicator 9 (not applied).")
    if a != b and not rs.codes[a].add_on and not rs.codes[b].add_on:
        c.rule("initial.separate_access")
        text.append("Both are initial services: an encounter reports one initial service, so the other is reported as its "
                    "subsequent/sequential code unless a protocol required a separate IV access (then modifier XU or 59).")
    if not any("NCCI" in t for t in text):
        text.append(f"No NCCI procedure-to-procedure edit pairs {a} and {b} (practitioner or outpatient hospital, "
                    f"{rs.ptp.release}).")
        c.source("S1-PTP")
    if {a, b} == {"96366", "96367"}:
        c.rule("subsequent.added_hours", "subsequent.sequential_infusion")
        text.append("For one drug on one date, no: more of the same drug is 96366 and a new drug is 96367, so the pair "
                    "only appears together for two different drugs (the second drug's further hours are 96366).")
        c.source("SEED-003")
    if a == b:
        text.append(f"The same code twice is reported as units on one line, within its MUE ({rs.codes[a].mue_practitioner.value} "
                    f"practitioner / {rs.codes[a].mue_hospital.value} outpatient hospital).")
        c.rule("limits.mue")
    head = {"yes": f"Yes, {a} and {b} can be on the same claim.",
            "no": f"No, {a} and {b} are not paid together.",
            "distinct": f"Only as distinct services: {a} and {b} are paired by an NCCI edit that a modifier may bypass."}[verdict]
    if verdict == "yes" and any("is not one of them" in t for t in text):
        head = "Yes, provided the add-on's own primary is also on the claim."
    return c.answer(head + " " + " ".join(text), [a, b], "together")
