"""Writing FHIR: a coded result as a Bundle of ChargeItems (and optionally a Claim), validated with the R4B models."""
from __future__ import annotations

import re
from datetime import date
from typing import Any

from infucode.model import Encounter, Result

from .systems import CPT_SYSTEM, EXT_MODIFIER, EXT_RULE, HCPCS_SYSTEM

def _modifier_coding(mod: str) -> dict:
    # numeric modifiers (25, 53, 59) are CPT's; letters (XU, JW, JZ) are HCPCS Level II modifiers
    return {"system": CPT_SYSTEM if mod.isdigit() else HCPCS_SYSTEM, "code": mod}


def _safe_id(text: str) -> str:
    """A FHIR id: [A-Za-z0-9-.]{1,64}."""
    out = re.sub(r"[^A-Za-z0-9\-.]", "-", text)[:64]
    return out or "x"


def to_fhir_bundle(result: Result, encounter: Encounter, *, patient_ref: str | None = None,
                   encounter_ref: str | None = None, include_claim: bool = False,
                   provider_ref: str | None = None, coverage_ref: str | None = None,
                   created: str | None = None) -> dict:
    """The charge lines of ``result`` as a FHIR R4 ``collection`` Bundle (a plain dict) of ChargeItems
    and, with ``include_claim``, one Claim. Validated with the R4B models before it is returned.

    ChargeItem.subject is required by FHIR: without ``patient_ref`` it is a display-only reference.
    A Claim also requires a provider and an insurance coverage: ``provider_ref``/``coverage_ref``
    (e.g. ``"Organization/o1"``, ``"Coverage/c1"``), else display-only references; ``created``
    defaults to today.
    """
    from fhir.resources.R4B.bundle import Bundle

    subject = {"reference": patient_ref} if patient_ref else {"display": "patient not given"}
    context = {"reference": encounter_ref} if encounter_ref else None
    eid = _safe_id(str(encounter.id))
    entries: list[dict] = []
    for n, line in enumerate(result.lines, start=1):
        system = HCPCS_SYSTEM if line.kind == "drug" else CPT_SYSTEM
        ext = [{"url": EXT_RULE, "valueString": line.rule}]
        ext += [{"url": EXT_MODIFIER, "valueCoding": _modifier_coding(m)} for m in line.modifiers]
        item: dict[str, Any] = {
            "resourceType": "ChargeItem",
            "id": _safe_id(f"{eid}-{n}"),
            "extension": ext,
            "status": "billable",
            "code": {"coding": [{"system": system, "code": line.code}]},
            "subject": subject,
            "quantity": {"value": line.units},
            "note": [{"text": f"{line.rule}: {line.explanation}"}],
        }
        if context:
            item["context"] = context
        if line.date:
            item["occurrenceDateTime"] = line.date
        if line.administrations:
            item["service"] = [{"reference": f"MedicationAdministration/{a}"} for a in line.administrations]
        entries.append({"resource": item})

    if include_claim:
        claim_items = []
        for n, line in enumerate(result.lines, start=1):
            ci: dict[str, Any] = {
                "sequence": n,
                "productOrService": {"coding": [{"system": HCPCS_SYSTEM if line.kind == "drug" else CPT_SYSTEM,
                                                  "code": line.code}]},
                "quantity": {"value": line.units},
            }
            if line.modifiers:
                ci["modifier"] = [{"coding": [_modifier_coding(m)]} for m in line.modifiers]
            if line.date:
                ci["servicedDate"] = line.date
            if encounter_ref:
                ci["encounter"] = [{"reference": encounter_ref}]
            claim_items.append(ci)
        claim = {
            "resourceType": "Claim",
            "id": _safe_id(f"{eid}-claim"),
            "status": "draft",
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type",
                                 "code": "institutional" if result.claim == "facility" else "professional"}]},
            "use": "claim",
            "patient": subject,
            "created": created or date.today().isoformat(),
            "provider": {"reference": provider_ref} if provider_ref else {"display": "provider not given"},
            "priority": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]},
            "insurance": [{"sequence": 1, "focal": True,
                           "coverage": {"reference": coverage_ref} if coverage_ref else {"display": "coverage not given"}}],
            "item": claim_items,
        }
        entries.append({"resource": claim})

    bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
    Bundle.model_validate(bundle)  # raises if we ever produce something FHIR R4 does not accept
    return bundle
