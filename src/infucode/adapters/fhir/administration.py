"""One MedicationAdministration resource (validated R4B model) -> one :class:`Administration`: status, drug,
clock, route, dose, rate and site, with a finding for each thing not coded or needing a look."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from infucode.model import Administration, Quantity
from infucode.vocabulary import own_code_route

from .findings import FhirFinding, Severity
from .routes import map_route
from .systems import HCPCS_SYSTEM, SNOMED_SYSTEM

def ref_key(ref: str | None) -> str | None:
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



def administration_of(label: str, ma: Any, models: dict[str, Any]) -> tuple[Administration | None, list[FhirFinding], datetime | None]:
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
        ref = ref_key(ma.medicationReference.reference)
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
