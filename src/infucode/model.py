"""Typed contracts of the coding engine: what goes in (Encounter) and what comes out (Result).

These are msgspec Structs: decoding validates types and enum values and names the failing field
(``$.administrations[0].route``), and it is fast enough for the batch path. The engine never reads
files; adapters turn JSON/YAML/CSV/FHIR into these objects.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Setting = Literal["facility", "office"]
ClaimType = Literal["facility", "professional"]
# "iv" = documented as IV without saying push or infusion: coded from the clock, with a finding.
# The routes after "iv" have no clock rule (issue 14): an on-body injector applied (96377), an anti-cancer drug
# into skin lesions (96405/96406, field lesions), into the pleural or peritoneal cavity (96440, 96446), by
# spinal puncture (96450) or through a CNS reservoir such as an Ommaya (96542); a pump refilled and maintained
# (96521/96522, field device), a port or catheter flushed (96523 when it is the day's only service, field
# device); a service no code describes (96379/96549, field description).
Route = Literal["iv_infusion", "iv_push", "sc", "im", "sc_infusion", "intra_arterial", "iv",
                "on_body_injector", "intralesional", "intrapleural", "intraperitoneal", "intrathecal", "cns_reservoir",
                "pump_refill", "flush", "unlisted"]
# The device a pump refill or a flush was done on: a portable (external) pump (96521), an implanted pump or
# reservoir for systemic delivery (96522), an implanted port or a central venous catheter (96523 flush alone),
# a peripheral IV (its flush is never a service of its own).
Device = Literal["portable_pump", "implanted_pump", "implanted_port", "central_catheter", "peripheral_iv"]
DrugClass = Literal["chemotherapy", "therapeutic", "hydration"]
Severity = Literal["error", "warning", "info"]
LineKind = Literal["administration", "drug"]


class Quantity(msgspec.Struct, forbid_unknown_fields=True):
    value: float
    unit: str


class Vial(msgspec.Struct, forbid_unknown_fields=True):
    size: float
    unit: str
    single_dose: bool = True


class Interruption(msgspec.Struct, forbid_unknown_fields=True):
    """A documented stop of the infusion (paused, then restarted); its minutes are not infusion time."""

    start: str
    stop: str


class Administration(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    id: str | int
    drug: str | None = None
    hcpcs: str | None = None
    class_: DrugClass | None = msgspec.field(default=None, name="class")
    route: Route | None = None
    indication: str | None = None
    start: str | None = None
    stop: str | None = None
    minutes: int | None = None
    site: str | None = None
    separate_site_required: bool = False
    primary: bool = False
    discontinued: bool = False
    pump: bool = False
    volume_ml: float | None = None
    rate_ml_per_hr: float | None = None
    dose: Quantity | None = None
    vial: Vial | None = None
    discarded: float | None = None
    interruptions: list[Interruption] = []
    device: Device | None = None
    lesions: int | None = None          # intralesional: how many lesions were injected (96405 up to 7, 96406 more)
    description: str | None = None      # unlisted (96379/96549): what was done, for the claim; never echoed


class Encounter(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, dict=True):
    """One encounter. ``dict=True`` lets the decoder attach ``read_as`` (the spreadsheet forms it read through the
    vocabulary, decoding.read_spreadsheet_forms) without making it an input field: never decoded nor encoded."""

    id: str | int
    setting: Setting
    administrations: list[Administration]
    date: str | None = None
    claim: ClaimType | None = None
    payer: str | None = None

    @property
    def claim_type(self) -> ClaimType:
        """The claim this encounter is coded for; CPT/CMS give facility setting -> facility claim."""
        if self.claim is not None:
            return self.claim
        return "facility" if self.setting == "facility" else "professional"


class ChargeLine(msgspec.Struct):
    code: str
    units: int
    modifiers: list[str]
    date: str | None
    administrations: list[str]
    rule: str
    explanation: str
    wrvu: float
    kind: LineKind = "administration"
    source: str = ""


class Finding(msgspec.Struct):
    rule: str
    severity: Severity
    message: str
    administrations: list[str]
    source: str = ""


class Result(msgspec.Struct):
    encounter: str
    profile: str
    claim: ClaimType
    policies: dict[str, str]
    lines: list[ChargeLine]
    findings: list[Finding]
    wrvu_total: float
    data_releases: dict[str, str] = {}


class ErrorDetail(msgspec.Struct):
    field: str | None
    message: str
    line: int | None = None


class ErrorResult(msgspec.Struct):
    """An encounter that could not be read at all; the rest of a batch is still coded."""

    encounter: str | None
    error: ErrorDetail


class InputError(ValueError):
    """Bad input that stops one encounter from being coded. Carries only ids the user gave."""

    def __init__(self, field: str | None, message: str, encounter: str | None = None, line: int | None = None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.encounter = encounter
        self.line = line

    def to_result(self) -> ErrorResult:
        return ErrorResult(encounter=self.encounter, error=ErrorDetail(field=self.field, message=self.message, line=self.line))

    def __str__(self) -> str:  # pragma: no cover - formatting only
        where = f"encounter {self.encounter!r}" if self.encounter is not None else "input"
        if self.line is not None:
            where += f", line {self.line}"
        field = f", field {self.field!r}" if self.field else ""
        return f"{where}{field}: {self.message}"
