"""What reading FHIR found wrong with one resource, and one encounter as read."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from infucode.model import Encounter, InputError

Severity = Literal["error", "warning", "info"]


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
