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

Modules: :mod:`.systems` (code-system and extension URLs), :mod:`.findings`, :mod:`.routes` (SNOMED CT
route codes and the shared route words), :mod:`.resources` (files, bundles and NDJSON into resources),
:mod:`.administration` (one MedicationAdministration), :mod:`.read` (grouping into encounters) and
:mod:`.write` (ChargeItems and the Claim).
"""

from .findings import FhirFinding, FhirRead
from .read import encounters_from_fhir_json, read_fhir
from .resources import looks_like_fhir
from .routes import map_route
from .systems import CPT_SYSTEM, EXTENSION_BASE, HCPCS_SYSTEM, SNOMED_SYSTEM
from .write import to_fhir_bundle

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
