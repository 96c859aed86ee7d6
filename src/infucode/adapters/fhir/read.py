"""Reading FHIR R4 MedicationAdministrations into encounters (the mapping is documented in :mod:`infucode.adapters.fhir`)."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from infucode.model import Administration, Encounter, InputError

from .administration import administration_of, ref_key
from .findings import FhirFinding, FhirRead
from .resources import load_resources, resource_label, validation_message

#: Resource types read; everything else in a bundle is ignored.
_READ_TYPES = ("MedicationAdministration", "Medication", "Encounter", "Patient")


@dataclass
class _Pending:
    key: str
    encounter_ref: str | None
    patient_ref: str | None
    administrations: list[Administration] = field(default_factory=list)
    findings: list[FhirFinding] = field(default_factory=list)
    first_start: datetime | None = None


def read_fhir(source: Any, *, setting: str = "facility", claim: str | None = None,
              payer: str | None = None) -> list[FhirRead]:
    """Read FHIR R4 MedicationAdministrations into encounters; never raises for bad input.

    ``source``: a path (``.json`` Bundle or resource, ``.ndjson``/``.jsonl`` one resource a line),
    a parsed dict (Bundle or resource), a list of resource dicts, or JSON bytes. ``setting`` (and
    ``claim``, ``payer``) apply to every encounter. Returns one :class:`FhirRead` per encounter, in
    order of first appearance, plus (first) one with ``encounter=None`` for findings that belong to
    no encounter (unreadable or invalid resources).
    """
    from fhir.resources.R4B import get_fhir_model_class

    items, loose = load_resources(source)
    models: dict[str, Any] = {}          # "Medication/x", fullUrl -> model
    admins: list[tuple[str, Any]] = []   # (label, MedicationAdministration model)
    for where, raw in items:
        rtype = raw.get("resourceType")
        full_url = raw.pop("__fullUrl", None) if isinstance(raw, dict) else None
        if rtype not in _READ_TYPES:
            continue
        label = resource_label(rtype, raw.get("id"), where)
        try:
            model = get_fhir_model_class(rtype).model_validate(raw)
        except Exception as exc:  # noqa: BLE001 - pydantic ValidationError and friends: one bad resource
            loose.append(FhirFinding(label, "error", "fhir.invalid", validation_message(exc)))
            continue
        if model.id:
            models[f"{rtype}/{model.id}"] = model
        if isinstance(full_url, str) and full_url:
            models[full_url] = model
        if rtype == "MedicationAdministration":
            if not model.id:
                loose.append(FhirFinding(label, "error", "fhir.missing_id",
                                         "MedicationAdministration without an id: the administration id is the resource id"))
                continue
            admins.append((label, model))

    groups: dict[str, _Pending] = {}
    seen_ids: set[str] = set()
    for label, ma in admins:
        enc_ref = _resolve_encounter_ref(ma, models)
        patient_ref = ref_key(ma.subject.reference) if ma.subject is not None else None
        adm, problems, start = administration_of(label, ma, models)
        if enc_ref is not None:
            key = enc_ref
        else:
            day = start.date().isoformat() if start is not None else "undated"
            who = (patient_ref or "unknown-patient").rsplit("/", 1)[-1]
            key = f"{who}_{day}"
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Pending(key, enc_ref, patient_ref)
        enc_id = key.rsplit("/", 1)[-1] if enc_ref else key
        for f in problems:
            f.encounter = enc_id
        group.findings.extend(problems)
        if adm is None:
            continue
        if adm.id in seen_ids:
            group.findings.append(FhirFinding(label, "error", "fhir.duplicate_id",
                                              "a second MedicationAdministration with this id; the first one is kept",
                                              encounter=enc_id))
            continue
        seen_ids.add(adm.id)
        group.administrations.append(adm)
        if start is not None and (group.first_start is None or start < group.first_start):
            group.first_start = start

    out: list[FhirRead] = []
    if loose:
        out.append(FhirRead(None, loose))
    for key, g in groups.items():
        enc_id = key.rsplit("/", 1)[-1] if g.encounter_ref else key
        if not g.administrations:
            out.append(FhirRead(None, g.findings, g.patient_ref, g.encounter_ref))
            continue
        enc = Encounter(
            id=enc_id,
            setting=setting,  # type: ignore[arg-type]
            administrations=g.administrations,
            date=g.first_start.date().isoformat() if g.first_start is not None else None,
            claim=claim,  # type: ignore[arg-type]
            payer=payer,
        )
        out.append(FhirRead(enc, g.findings, g.patient_ref, g.encounter_ref))
    return out


def _resolve_encounter_ref(ma: Any, models: dict[str, Any]) -> str | None:
    ref = ref_key(ma.context.reference) if ma.context is not None else None
    if ref is None:
        return None
    target = models.get(ref)
    if target is not None and target.id:
        return f"Encounter/{target.id}"
    if ref.startswith("urn:"):
        return "Encounter/" + ref.rsplit(":", 1)[-1]
    return "Encounter/" + ref.rstrip("/").rsplit("/", 1)[-1] if "/" in ref else f"Encounter/{ref}"


def encounters_from_fhir_json(obj: Any, *, setting: str = "facility", claim: str | None = None,
                              payer: str | None = None) -> Iterator[Encounter | InputError]:
    """For the command line: the encounters of a FHIR input, and an :class:`InputError` for each
    resource that was not coded or needs a look (``field`` = ``MedicationAdministration/<id>``,
    ``encounter`` = the encounter it belongs to, when known). Info findings (not-done,
    entered-in-error, stopped-and-coded) are not errors and are not yielded."""
    for read in read_fhir(obj, setting=setting, claim=claim, payer=payer):
        if read.encounter is not None:
            yield read.encounter
        for f in read.findings:
            if f.severity != "info":
                yield f.to_input_error()
