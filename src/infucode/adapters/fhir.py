"""HL7 FHIR R4 in and out: MedicationAdministration resources in, ChargeItem (and Claim) resources out.

Reading (:func:`read_fhir`): a Bundle (JSON), an NDJSON file, a list of resources or one resource.
Each resource is validated on its own with ``fhir.resources``' R4B models (R4B shares R4's
MedicationAdministration, Medication, Encounter and Patient), so one bad resource becomes a finding
naming it (``MedicationAdministration/ma-7``) and the rest of the batch is still read.

Mapping decisions (documented here because a reader of the output has to know them):

* **Status.** ``completed`` is coded. ``stopped`` (FHIR: halted before all of it occurred) is coded
  too, with ``discontinued: true`` and an info finding: the part that was given is a service, and
  the engine's ``discontinued`` policy decides what an early stop means for the claim.
  ``not-done`` and ``entered-in-error`` are not coded (info finding); ``in-progress``, ``on-hold``
  and ``unknown`` are not coded yet (warning finding: code them once completed).
* **Setting.** FHIR's ``Encounter.class`` (AMB, IMP, ...) does not say whether an ambulatory visit
  is a hospital outpatient department (facility claim) or a physician office, so the setting is a
  parameter (``setting="facility"`` by default), one value for the whole input.
* **Drug.** ``medicationCodeableConcept``, or the Medication a ``medicationReference`` points to
  (contained ``#id``, ``Medication/id`` or a ``fullUrl`` in the bundle). A coding in the CMS HCPCS
  system gives ``hcpcs``; the text (or the display of an RxNorm/NDC/other coding) gives ``drug``.
  A reference that cannot be resolved uses its ``display``.
* **Route** (``dosage.route`` and ``dosage.method``, SNOMED CT codes or text). SNOMED 47625008
  intravenous, 34206005 subcutaneous, 78421000 intramuscular, 58100008 intra-arterial; text such as
  "IV", "subcutaneous", "SQ", "IM". Push or infusion comes from the method (or route) words:
  push/bolus/IVP/injection -> ``iv_push``; infusion/drip/IVPB/piggyback/continuous -> ``iv_infusion``;
  subcutaneous + infusion -> ``sc_infusion``. IV with neither -> ``iv`` (coded from the clock, with
  a finding). A known non-parenteral route (oral, topical, inhaled, ...) is not coded (info finding).
* **Times.** ``effectivePeriod.start/end`` -> ``start``/``stop`` as ISO datetimes (the end is
  expressed in the start's UTC offset, so a daylight-saving change does not add or lose an hour; the
  engine then uses the wall clock). ``effectiveDateTime`` -> ``start`` only. A date without a time
  of day is reported and the administration is kept without times.
* **Dose and rate.** ``dosage.dose`` -> ``dose`` (and ``volume_ml`` when in mL);
  ``rateQuantity`` or ``rateRatio`` in mL per hour (or per minute) -> ``rate_ml_per_hr``.
  ``dosage.site`` text -> ``site``; ``reasonCode`` text -> ``indication``.
* **Grouping.** By ``context`` (``Encounter/<id>``), so an encounter crossing midnight stays whole;
  without a context, by patient (``subject``) and the start date:
  ``<patient id>_<YYYY-MM-DD>``. Administration ids are the resource ids.

Writing (:func:`to_fhir_bundle`): one ChargeItem per charge line (status billable, the CPT or
HCPCS code, quantity = units, occurrenceDateTime = line date, ``service`` = the
MedicationAdministrations behind it, a note with the rule and explanation, modifiers and the rule id
as extensions), optionally a Claim; the Bundle is validated with the R4B models before it is returned.

For the command line: :func:`looks_like_fhir` and :func:`encounters_from_fhir_json`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple

from infucode.vocabulary import UNSUPPORTED_ROUTES, find_route_words, own_code_route, resolve_route
from infucode.model import (  # noqa: F401
    Administration,
    Encounter,
    InputError,
    Interruption,
    Quantity,
    Result,
)

__all__ = [
    "CPT_SYSTEM",
    "EXTENSION_BASE",
    "HCPCS_SYSTEM",
    "SNOMED_SYSTEM",
    "FhirFinding",
    "FhirRead",
    "encounters_from_fhir_json",
    "looks_like_fhir",
    "map_route",
    "read_fhir",
    "to_fhir_bundle",
]

HCPCS_SYSTEM = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
SNOMED_SYSTEM = "http://snomed.info/sct"
RXNORM_SYSTEM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM_SYSTEM = "http://unitsofmeasure.org"
#: Base of infucode's own extension URLs (rule id, modifier). A site publishing StructureDefinitions
#: for them replaces this with its canonical base.
EXTENSION_BASE = "urn:infucode:fhir:StructureDefinition:"
EXT_RULE = EXTENSION_BASE + "rule"
EXT_MODIFIER = EXTENSION_BASE + "modifier"

Severity = Literal["error", "warning", "info"]

#: Resource types read; everything else in a bundle is ignored.
_READ_TYPES = ("MedicationAdministration", "Medication", "Encounter", "Patient")


@dataclass
class FhirFinding:
    """A problem with one FHIR resource. Never echoes record content, only ids and field names."""

    resource: str          # "MedicationAdministration/ma-7" (or "entry[3]" when it has no id)
    severity: Severity
    code: str              # fhir.invalid, fhir.status, fhir.missing_medication, fhir.period, fhir.route, ...
    message: str
    encounter: str | None = None

    def to_input_error(self) -> InputError:
        return InputError(self.resource, self.message, encounter=self.encounter)


class FhirRead(NamedTuple):
    """One encounter read from FHIR (``None`` for findings that belong to no encounter)."""

    encounter: Encounter | None
    findings: list[FhirFinding]
    patient_ref: str | None = None     # "Patient/p1", for to_fhir_bundle
    encounter_ref: str | None = None   # "Encounter/e1" when the administrations named one


# --------------------------------------------------------------------------------------------
# Route and method words
# --------------------------------------------------------------------------------------------

_SNOMED_ROUTES = {
    "47625008": "iv",              # Intravenous route
    "34206005": "sc",              # Subcutaneous route
    "78421000": "im",              # Intramuscular route
    "58100008": "intra_arterial",  # Intra-arterial route
}
_SNOMED_NOT_CODED = {
    "26643006": "oral",            # Oral route
    "6064005": "topical",          # Topical route
    "447694001": "respiratory tract",  # Respiratory tract route
    "37161004": "rectal",          # Rectal route
}
_METHOD_ONLY = frozenset({"iv_push", "iv_infusion"})
_NAMES_THE_VEIN = re.compile(r"i\.?v|intraven", re.I)       # "IVP", "IVPB", "IV push": the site and the method
# the engine route each SNOMED CT base route gives, as a route concept of the shared vocabulary
_BASE_CONCEPT = {"iv": "iv", "sc": "sc", "im": "im", "intra_arterial": "intra_arterial"}


def map_route(route_codes: Iterable[tuple[str | None, str | None]] = (), route_text: Iterable[str | None] = (),
              method_text: Iterable[str | None] = ()) -> tuple[str | None, str | None]:
    """``(route, problem)``: our route value from SNOMED route codes ``(system, code)`` and the words of
    the route and method (the shared route vocabulary, :data:`infucode.vocabulary.ROUTE_WORDS`).
    ``problem`` is ``"not_coded"`` (a non-parenteral route) or ``"unknown"``. A coded route decides the
    site over the words; the route's words decide it over the method's."""
    for text in (*route_text, *method_text):
        own, _device = own_code_route(text)  # "Intrathecal route", "On-body injector", "Port flush"...
        if own is not None:
            return own, None
    base: str | None = None
    not_coded = False
    for system, code in route_codes:
        if code and (system in (None, SNOMED_SYSTEM)):
            if code in _SNOMED_ROUTES:
                base = base or _SNOMED_ROUTES[code]
            elif code in _SNOMED_NOT_CODED:
                not_coded = True
    rhits = [h for t in route_text if t for h in find_route_words(t)]
    rconcepts = {h.concept for h in rhits}
    mconcepts = {h.concept for t in method_text if t for h in find_route_words(t)}
    if base is None:
        # a route field saying only "Injection" or "Infusion" does not say which site: the method decides
        site, problem = resolve_route({h.concept for h in rhits
                                       if h.concept not in _METHOD_ONLY or _NAMES_THE_VEIN.match(h.text)})
        if problem is None:
            base = "iv" if site.startswith("iv") else "sc" if site.startswith("sc") else site
        elif problem == "not_a_service" or not_coded:
            return None, "not_coded"
        else:
            site, problem = resolve_route(mconcepts)  # "IV push" or "infusion" with no route: intravenous
            if problem is not None:
                return None, "unknown"
            base = "iv" if site.startswith("iv") else "sc" if site.startswith("sc") else site
    # the site is decided: the words now say only push or infusion
    how = (rconcepts | mconcepts) - {"sc", "im", "intra_arterial", "iv", "sc_infusion"}
    if "sc_infusion" in rconcepts | mconcepts:
        how.add("iv_infusion")
    route, _ = resolve_route((how - UNSUPPORTED_ROUTES) | {_BASE_CONCEPT[base]})
    return (route, None) if route else (None, "unknown")


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def looks_like_fhir(obj: Any) -> bool:
    """True for a FHIR Bundle or resource (an object with ``resourceType``), or a list of them."""
    if isinstance(obj, dict):
        return isinstance(obj.get("resourceType"), str)
    if isinstance(obj, list) and obj:
        return all(isinstance(o, dict) and isinstance(o.get("resourceType"), str) for o in obj)
    return False


def _load(source: Any) -> tuple[list[tuple[str, Any]], list[FhirFinding]]:
    """``[(label, resource dict)]`` in input order, with findings for what could not be read."""
    findings: list[FhirFinding] = []
    if isinstance(source, (str, Path)):
        p = Path(source)
        try:
            data = p.read_bytes()
        except OSError as exc:
            return [], [FhirFinding(str(p), "error", "fhir.file", f"cannot read the file: {exc.strerror or type(exc).__name__}")]
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        if p.suffix.lower() in (".ndjson", ".jsonl"):
            items: list[tuple[str, Any]] = []
            for n, raw in enumerate(data.splitlines(), start=1):
                if not raw.strip():
                    continue
                try:
                    items.append((f"line {n}", json.loads(raw)))
                except (ValueError, UnicodeDecodeError):
                    findings.append(FhirFinding(f"line {n}", "error", "fhir.json", "not valid JSON"))
            source = items
        else:
            try:
                source = json.loads(data)
            except (ValueError, UnicodeDecodeError):
                return [], [FhirFinding(str(p), "error", "fhir.json", "not valid JSON")]
    elif isinstance(source, (bytes, bytearray)):
        try:
            source = json.loads(source)
        except (ValueError, UnicodeDecodeError):
            return [], [FhirFinding("input", "error", "fhir.json", "not valid JSON")]

    out: list[tuple[str, Any]] = []

    def add(label: str, obj: Any) -> None:
        if isinstance(obj, dict) and obj.get("resourceType") == "Bundle":
            entries = obj.get("entry") or []
            if not isinstance(entries, list):
                findings.append(FhirFinding(label, "error", "fhir.invalid", "Bundle.entry is not a list"))
                return
            for i, entry in enumerate(entries):
                where = f"{label}.entry[{i}]" if label else f"entry[{i}]"
                res = entry.get("resource") if isinstance(entry, dict) else None
                if not isinstance(res, dict):
                    findings.append(FhirFinding(where, "error", "fhir.invalid", "bundle entry without a resource"))
                    continue
                out.append((where, {**res, "__fullUrl": entry.get("fullUrl")}))
            return
        if isinstance(obj, dict) and isinstance(obj.get("resourceType"), str):
            out.append((label or "resource", obj))
            return
        findings.append(FhirFinding(label or "input", "error", "fhir.invalid", "not a FHIR resource (no resourceType)"))

    if isinstance(source, list):
        for i, item in enumerate(source):
            if isinstance(item, tuple):
                add(*item)
            else:
                add(f"[{i}]", item)
    else:
        add("", source)
    return out, findings


def _label(rtype: str, rid: Any, where: str) -> str:
    return f"{rtype}/{rid}" if isinstance(rid, str) and rid else f"{rtype} at {where}"


def _validation_message(exc: Exception) -> str:
    """A pydantic error without the input values (they can be patient data)."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return "invalid resource"
    parts = []
    for err in errors()[:3]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "__root__")
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    more = len(errors()) - 3
    return "invalid per FHIR R4: " + "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _ref_key(ref: str | None) -> str | None:
    return ref.strip() if isinstance(ref, str) and ref.strip() else None


def _text_of(cc: Any) -> str | None:
    """A CodeableConcept's text, else its first coding display."""
    if cc is None:
        return None
    if getattr(cc, "text", None):
        return cc.text
    for c in getattr(cc, "coding", None) or []:
        if c.display:
            return c.display
    return None


def _codes(cc: Any) -> list[tuple[str | None, str | None]]:
    return [(c.system, c.code) for c in (getattr(cc, "coding", None) or [])] if cc is not None else []


def _displays(cc: Any) -> list[str | None]:
    if cc is None:
        return []
    return [cc.text] + [c.display for c in (cc.coding or [])] + [c.code for c in (cc.coding or []) if c.system != SNOMED_SYSTEM]


def _drug_from_concept(cc: Any) -> tuple[str | None, str | None]:
    """``(drug text, hcpcs)`` from a medication CodeableConcept."""
    hcpcs = None
    for system, code in _codes(cc):
        if system == HCPCS_SYSTEM and code:
            hcpcs = code.strip().upper()
            break
    text = cc.text if cc is not None and cc.text else None
    if text is None and cc is not None:
        # prefer a non-HCPCS display (RxNorm, NDC, local): the drug's name, not the code's descriptor
        for c in cc.coding or []:
            if c.display and c.system != HCPCS_SYSTEM:
                text = c.display
                break
        if text is None:
            for c in cc.coding or []:
                if c.display:
                    text = c.display
                    break
    return text, hcpcs


def _moment(value: Any) -> datetime | None | Literal[False]:
    """A datetime, None (absent) or False (present but with no time of day)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return False
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return False
    return False


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="minutes" if moment.second == 0 and moment.microsecond == 0 else "seconds")


_ML = {"ml", "milliliter", "millilitre", "cc", "ml/h"}
_PER_HOUR = {"h", "hr", "hour", "/h", "/hr"}
_PER_MIN = {"min", "minute", "/min"}


def _unit(q: Any) -> str:
    return (q.code or q.unit or "").strip() if q is not None else ""


def _rate_ml_per_hr(dosage: Any) -> float | None:
    if dosage is None:
        return None
    if dosage.rateQuantity is not None and dosage.rateQuantity.value is not None:
        unit = _unit(dosage.rateQuantity).lower().replace(" ", "").replace("hr", "h")
        value = float(dosage.rateQuantity.value)
        if unit in ("ml/h", "ml/hour", "cc/h"):
            return value
        if unit in ("ml/min", "cc/min"):
            return value * 60
        return None
    ratio = dosage.rateRatio
    if ratio is not None and ratio.numerator is not None and ratio.denominator is not None:
        num, den = ratio.numerator, ratio.denominator
        if num.value is None or _unit(num).lower() not in _ML:
            return None
        per = float(den.value) if den.value is not None else 1.0
        dunit = _unit(den).lower()
        if not per:
            return None
        if dunit in _PER_HOUR:
            return float(num.value) / per
        if dunit in _PER_MIN:
            return float(num.value) / per * 60
    return None


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

    items, loose = _load(source)
    models: dict[str, Any] = {}          # "Medication/x", fullUrl -> model
    admins: list[tuple[str, Any]] = []   # (label, MedicationAdministration model)
    for where, raw in items:
        rtype = raw.get("resourceType")
        full_url = raw.pop("__fullUrl", None) if isinstance(raw, dict) else None
        if rtype not in _READ_TYPES:
            continue
        label = _label(rtype, raw.get("id"), where)
        try:
            model = get_fhir_model_class(rtype).model_validate(raw)
        except Exception as exc:  # noqa: BLE001 - pydantic ValidationError and friends: one bad resource
            loose.append(FhirFinding(label, "error", "fhir.invalid", _validation_message(exc)))
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
        patient_ref = _ref_key(ma.subject.reference) if ma.subject is not None else None
        adm, problems, start = _administration(label, ma, models)
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
    ref = _ref_key(ma.context.reference) if ma.context is not None else None
    if ref is None:
        return None
    target = models.get(ref)
    if target is not None and target.id:
        return f"Encounter/{target.id}"
    if ref.startswith("urn:"):
        return "Encounter/" + ref.rsplit(":", 1)[-1]
    return "Encounter/" + ref.rstrip("/").rsplit("/", 1)[-1] if "/" in ref else f"Encounter/{ref}"


def _administration(label: str, ma: Any, models: dict[str, Any]) -> tuple[Administration | None, list[FhirFinding], datetime | None]:
    findings: list[FhirFinding] = []

    def note(severity: Severity, code: str, message: str) -> None:
        findings.append(FhirFinding(label, severity, code, message))

    status = (ma.status or "").strip()
    if status in ("not-done", "entered-in-error"):
        note("info", "fhir.status", f"status {status}: nothing was given, not coded")
        return None, findings, None
    if status in ("in-progress", "on-hold", "unknown") or status not in ("completed", "stopped"):
        note("warning", "fhir.status", f"status {status or '(none)'}: only completed administrations are coded; "
                                       "code it once it is completed")
        return None, findings, None

    # --- the drug --------------------------------------------------------------------------
    drug = hcpcs = None
    if ma.medicationCodeableConcept is not None:
        drug, hcpcs = _drug_from_concept(ma.medicationCodeableConcept)
    elif ma.medicationReference is not None:
        ref = _ref_key(ma.medicationReference.reference)
        med = None
        if ref and ref.startswith("#"):
            med = next((c for c in (ma.contained or []) if getattr(c, "id", None) == ref[1:]), None)
        elif ref:
            med = models.get(ref) or models.get("Medication/" + ref.rsplit("/", 1)[-1])
        if med is not None and getattr(med, "code", None) is not None:
            drug, hcpcs = _drug_from_concept(med.code)
        if drug is None and hcpcs is None and ma.medicationReference.display:
            drug = ma.medicationReference.display
        if med is None and (drug or hcpcs):
            note("info", "fhir.medication_reference", "the referenced Medication is not in the input; its display is used")
    if not drug and not hcpcs:
        note("error", "fhir.missing_medication", "no medication code, text or resolvable Medication; not coded")
        return None, findings, None

    # --- the clock -------------------------------------------------------------------------
    start_s = stop_s = None
    start_m: datetime | None = None
    if ma.effectivePeriod is not None:
        start = _moment(ma.effectivePeriod.start)
        end = _moment(ma.effectivePeriod.end)
        if start is False or end is False:
            note("warning", "fhir.period", "effectivePeriod has a date without a time of day; times not used")
        else:
            if start is not None:
                start_m = start
                start_s = _iso(start)
            if end is not None:
                if start is not None and start.tzinfo is not None and end.tzinfo is not None:
                    end = end.astimezone(start.tzinfo)
                if start is not None and end < start:
                    note("error", "fhir.period", "effectivePeriod.end is before effectivePeriod.start; not coded")
                    return None, findings, None
                stop_s = _iso(end)
            if start is None:
                note("warning", "fhir.period", "effectivePeriod has no start")
    elif ma.effectiveDateTime is not None:
        moment = _moment(ma.effectiveDateTime)
        if moment is False:
            note("warning", "fhir.period", "effectiveDateTime is a date without a time of day; time not used")
        elif moment is not None:
            start_m = moment
            start_s = _iso(moment)
    else:
        note("warning", "fhir.period", "no effective time")

    # --- route, method, dose, rate, site ------------------------------------------------------
    dosage = ma.dosage
    route = None
    device = None
    if dosage is not None:
        route_words = _displays(dosage.route) + [dosage.text if not dosage.method else None]
        route, problem = map_route(_codes(dosage.route), route_words, _displays(dosage.method))
        if route in ("flush", "pump_refill"):  # the device the words name ("Port flush", "CADD refill")
            device = next((d for t in route_words + _displays(dosage.method) if t for d in [own_code_route(t)[1]] if d), None)
    else:
        problem = "unknown"
    if problem == "not_coded":
        note("info", "fhir.route", "a non-parenteral route: not a drug-administration service, not coded")
        return None, findings, None
    if problem == "unknown":
        note("warning", "fhir.route", "dosage.route/method not recognised (SNOMED CT 47625008, 34206005, 78421000, "
                                      "58100008 or words such as IV, push, infusion, SC, IM)")

    dose = volume = None
    if dosage is not None and dosage.dose is not None and dosage.dose.value is not None:
        unit = _unit(dosage.dose) or "unit"
        dose = Quantity(value=float(dosage.dose.value), unit=unit)
        if unit.lower() in ("ml", "cc"):
            volume = float(dosage.dose.value)
    site = _text_of(dosage.site) if dosage is not None else None
    indication = next((t for t in (_text_of(rc) for rc in (ma.reasonCode or [])) if t), None)

    discontinued = status == "stopped"
    if discontinued:
        note("info", "fhir.status", "status stopped: coded as given until its end, with discontinued=true")

    adm = Administration(
        id=ma.id,
        drug=drug,
        hcpcs=hcpcs,
        route=route,  # type: ignore[arg-type]
        indication=indication,
        start=start_s,
        stop=stop_s,
        site=site,
        discontinued=discontinued,
        volume_ml=volume,
        rate_ml_per_hr=_rate_ml_per_hr(dosage),
        dose=dose,
        device=device,  # type: ignore[arg-type]
    )
    return adm, findings, start_m


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


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


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
