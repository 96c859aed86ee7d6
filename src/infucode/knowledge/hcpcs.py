"""Answers about HCPCS Level II: the drug (supply) codes of the drug catalog (J1569, J9035 ...) and the
modifiers infucode's rules use (JW, JZ, XU, 59, 25 ...). A code or modifier the rule base does not
hold is refused, never guessed.

    drug_code_answer("J1569", rs).text     # "J1569 is the drug supply code of immune globulin ..."
    modifier_answer("JZ", rs).rule_ids     # ['drug.no_waste_jz', 'audit.jz_missing', ...]
"""
from __future__ import annotations

import re

from ..rules.drug_supply import billing_units, in_unit
from ..ruleset import Ruleset
from . import _data
from .answer import Answer, Citations, refuse

# "J1569", "Q5103", "j9035"; the letter codes the drug catalog uses
HCPCS_CODE = re.compile(r"(?<![\w-])([A-VX-Z]\d{4})(?![\w-])", re.I)
# a modifier named as such: "modifier JZ", "JZ modifier", "-XU", "what does JW mean"
_MOD_TOKEN = r"([A-Z]{2}|[A-Z]\d|\d{2})"
MODIFIER_NAMED = re.compile(
    rf"\bmod(?:ifier)?s?\s*[:#-]?\s*{_MOD_TOKEN}\b|\b{_MOD_TOKEN}\s+mod(?:ifier)?s?\b|"
    rf"\b(?:what\s+(?:does|is)|meaning\s+of|when\s+(?:do\s+i\s+|to\s+)?use|use\s+of)\s+(?:the\s+)?-?{_MOD_TOKEN}\b(?!\s*\d)",
    re.I)
# a dose written in the question ("for 10 grams", "1000 mg"); the J-code itself is never one
_DOSE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(mcg|ug|mg|milligrams?|gm|grams?|g|units?|iu|meq|ml|cc)\b", re.I)
_FAMILY_CODES = {"chemotherapy": "the chemotherapy and complex drug codes (96401-96549)",
                 "therapeutic": "the therapeutic codes (96365-96379)",
                 "hydration": "the hydration codes (96360/96361) when the fluid is hydration"}


def modifiers() -> dict[str, dict]:
    return {str(k).upper(): v for k, v in (_data.knowledge_file("modifiers.yaml").get("modifiers") or {}).items()}


def named_modifier(question: str) -> str | None:
    """The modifier a question asks about ("what does JZ mean?" -> "JZ"), known or not. An unknown one
    counts only when written as a code (capitals or digits), so "modifier is" is not modifier IS."""
    known = modifiers()
    for m in MODIFIER_NAMED.finditer(question):
        raw = next(g for g in m.groups() if g)
        token = raw.upper()
        if token in known or (re.search(r"mod", m.group(0), re.I) and raw == token):
            return token
    # a bare known modifier written in capitals ("JW vs JZ?", "XU or 59 for a second site?")
    caps = [t for t in re.findall(r"(?<![\w-])-?([A-Z]{2})(?![\w-])", question) if t in known]
    return caps[0] if caps else None


def modifier_answer(mod: str, rs: Ruleset) -> Answer:
    info = modifiers().get(mod.upper())
    if info is None:
        listed = ", ".join(modifiers())
        return refuse(f"modifier {mod.upper()} is not one that infucode's rules use (they use {listed})")
    c = Citations(rs)
    c.source(*info.get("sources", ()))
    c.rule(*info.get("rules", ()))
    text = [f"Modifier {mod.upper()}: {info['meaning']}"]
    if info.get("policy"):
        text.append(c.policy(info["policy"]))
    for rid in info.get("rules", ()):
        if rid in rs.rules:
            r = rs.rules[rid]
            text.append(f"{r.title} [{rid}]: {r.statement}")
    return c.answer(" ".join(text), [], "modifier")


def _dose_units(m: re.Match, hc) -> str:
    value, unit = float(m.group(1)), m.group(2).lower()
    unit = {"milligram": "mg", "milligrams": "mg", "gram": "g", "grams": "g", "unit": "units"}.get(unit, unit)
    bu = hc.billing_unit
    dose = in_unit(value, unit, bu.unit)
    if dose is None or dose <= 0:
        return f"A dose in {unit} does not convert to the billing unit ({bu.amount:g} {bu.unit}), so no units are given."
    n = billing_units(dose, hc)
    return (f"For {value:g} {unit}: {dose:g} {bu.unit} / {bu.amount:g} {bu.unit} = {n} unit{'s' if n != 1 else ''} "
            f"of {hc.code}, rounded up.")


def drug_code_answer(code: str, rs: Ruleset, question: str = "") -> Answer:
    """What a drug (HCPCS) code is; with a dose in the question, the drug line's units for it."""
    code = code.upper()
    dose_text = _DOSE.search(question)
    found = rs.drugs.by_hcpcs(code)
    if found is None:
        return refuse(f"{code} is not in infucode's drug catalog (release {rs.drugs.release}), so infucode "
                      "cannot say what it is")
    drug, hc = found
    c = Citations(rs)
    c.source("S1-HCPCS")
    bu = hc.billing_unit
    amount = f"{bu.amount:g} {bu.unit}"
    text = [f"{code} is a drug supply code (HCPCS Level II), not a drug-administration code. CMS text: "
            f"\"{hc.description}\". Drug: {drug.name}"
            + (f" (selected by the names {', '.join(hc.names)})" if hc.names else "") + "."]
    if hc.terminated:
        text.append(f"It was terminated on {hc.terminated}; infucode does not select it for a new claim.")
    text.append(f"Billing unit {amount}: the drug line's units are the dose given divided by {amount}, rounded up.")
    c.rule("drug.billing_units")
    if dose_text:
        text.append(_dose_units(dose_text, hc))
    if hc.mue_practitioner is not None or hc.mue_hospital is not None:
        text.append(f"MUE {hc.mue_practitioner if hc.mue_practitioner is not None else 'none listed'} practitioner / "
                    f"{hc.mue_hospital if hc.mue_hospital is not None else 'none listed'} outpatient hospital units per day.")
        c.source("S1-MUE")
    family = _FAMILY_CODES.get(drug.family, drug.family)
    if drug.payer_dependent:
        text.append(f"Its administration takes {family} under the catalog, but whether a payer lets this complex "
                    "biologic use the chemotherapy/complex codes is a profile policy. " + c.policy("complex_biologics"))
        c.rule("family.complex_biologic")
    else:
        text.append(f"Its administration is coded from {family}.")
    c.rule("family.catalog")
    text.append("From a single-dose container, a discarded amount goes on its own line with JW; with nothing "
                "discarded the line carries JZ; neither applies to a multi-dose vial.")
    c.rule("drug.discarded_jw", "drug.no_waste_jz")
    if hc.unconfirmed:
        text.append(f"Not confirmed: {hc.unconfirmed.rstrip('.')}.")
        if "S2" in hc.unconfirmed:
            c.source("S2")
    if drug.note:
        text.append(f"Note: {drug.note}.")
    return c.answer(" ".join(text), [code], "drug_code")
