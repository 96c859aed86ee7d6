"""Typed contracts of the claim audit: what goes in (Claim) and what comes out (AuditResult).

A claim is billed lines plus, where available, the documented encounter (the engine's own
:class:`~infucode.model.Encounter`). msgspec validates the types and names the failing field
(``lines[1].units``); :func:`decode_claim` turns that into a readable :class:`InputError`.
"""
from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec

from infucode.decoding import user_id
from infucode.model import ChargeLine, Encounter, ErrorDetail, InputError, Severity

ClaimKind = Literal["professional", "institutional"]

#: claim_type -> the engine's claim ("professional" or "facility")
ENGINE_CLAIM: dict[str, str] = {"professional": "professional", "institutional": "facility"}

_DATE = r"^\d{4}-\d{2}-\d{2}$"
IsoDate = Annotated[str, msgspec.Meta(pattern=_DATE)]
PlaceOfService = Annotated[str, msgspec.Meta(pattern=r"^\d{2}$")]
Units = Annotated[int, msgspec.Meta(ge=0, le=9999)]
#: A CPT (5 digits) or HCPCS Level II (a letter and 4 digits) code; surrounding blanks are tolerated.
BilledCode = Annotated[str, msgspec.Meta(pattern=r"^\s*[A-Za-z0-9]{5}\s*$")]


class BilledLine(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    code: BilledCode
    units: Units
    modifiers: list[str] = []
    date: IsoDate | None = None
    revenue_code: str | None = None
    ndc: str | None = None


class Claim(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    id: str | int
    claim_type: ClaimKind
    date: IsoDate
    lines: list[BilledLine]
    place_of_service: PlaceOfService | None = None
    payer: str | None = None
    encounter: Encounter | None = None
    #: problems the reader found that did not stop the audit (e.g. X12 validation errors outside the audited fields)
    reader_warnings: list[str] = []

    @property
    def engine_claim(self) -> str:
        return ENGINE_CLAIM[self.claim_type]


class AuditFinding(msgspec.Struct):
    rule: str
    severity: Severity
    message: str
    lines: list[int]            # line numbers on the claim, 1 = its first billed line (the 837's LX 1)
    wrvu_delta: float = 0.0     # professional: supported minus billed wRVU (negative = overbilled); institutional: 0
    source: str = ""
    unit_delta: int = 0         # administration units: supported minus billed (negative = overbilled), both claim types
    code: str = ""              # the code unit_delta and wrvu_delta are of ("" when several or none)


class AuditResult(msgspec.Struct):
    claim: str
    billed: list[BilledLine]
    supported: list[ChargeLine] | None
    findings: list[AuditFinding]
    data_releases: dict[str, str] = {}
    claim_type: ClaimKind = "professional"
    profile: str = ""

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)


class AuditError(msgspec.Struct):
    """A claim that could not be read or audited; the rest of a batch is still audited."""

    claim: str | None
    error: ErrorDetail


def error_result(err: InputError) -> AuditError:
    return AuditError(claim=err.encounter, error=ErrorDetail(field=err.field, message=err.message, line=err.line))


# --------------------------------------------------------------------------------------------
# Decoding with readable field errors
# --------------------------------------------------------------------------------------------

_RX_AT_ENCOUNTER = re.compile(r" - at `\$\.encounter(?P<rest>[^`]*)`")
_RX_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`(?: - at `(?P<path>[^`]*)`)?")
_RX_PATTERN = re.compile(r"^Expected `str` matching regex '(?P<rx>[^']*)' - at `(?P<path>[^`]*)`")
_RX_BOUND = re.compile(r"^Expected `int` (?P<op>[<>]=) (?P<n>\d+) - at `(?P<path>[^`]*)`")

_FIELDS = {
    "": [f.encode_name for f in msgspec.structs.fields(Claim)],
    "line": [f.encode_name for f in msgspec.structs.fields(BilledLine)],
}


def _translate(message: str) -> tuple[str | None, str]:
    from infucode.decoding import field_name_like, translate_validation_error

    m = _RX_AT_ENCOUNTER.search(message)
    if m:
        # inside the embedded encounter: let the engine's translator resolve it against Encounter
        inner = _RX_AT_ENCOUNTER.sub(f" - at `${m.group('rest')}`", message)
        field, text = translate_validation_error(inner)
        return (f"encounter.{field}" if field else "encounter"), text
    if m := _RX_UNKNOWN.match(message):
        path = m.group("path") or "$"
        allowed = _FIELDS["line"] if "lines[" in path else _FIELDS[""]
        name = m.group("name")
        parent = path[2:] if path.startswith("$.") else None
        if not field_name_like(name):
            # a key that does not read as a field name may be patient data: the object is named, the key is not
            where = f"in {parent}" if parent else "in the claim"
            return parent, f"unknown field {where} (its name is not repeated here) (allowed: {', '.join(allowed)})"
        field = f"{parent}.{name}" if parent else name
        return field, f"unknown field '{name}' (allowed: {', '.join(allowed)})"
    if m := _RX_PATTERN.match(message):
        path = m.group("path")
        rx = m.group("rx")
        if "{5}" in rx:
            what = "a 5-character CPT or HCPCS code (e.g. 96365, J1569)"
        elif "{2}$" in rx and "-" not in rx:
            what = "two digits (e.g. 11, 22)"
        else:
            what = "a date YYYY-MM-DD"
        return path[2:] if path.startswith("$.") else None, f"expected {what}"
    if m := _RX_BOUND.match(message):
        path = m.group("path")
        word = "at least" if m.group("op") == ">=" else "at most"
        return path[2:] if path.startswith("$.") else None, f"expected an integer {word} {m.group('n')}"
    if message.startswith("Invalid enum value") and message.endswith("`$.claim_type`"):
        field, text = translate_validation_error(message)
        return field, f"{text}; allowed values: professional, institutional"
    return translate_validation_error(message)


def units_from_text(text: str | None) -> int | float | str | None:
    """Billed units as a text file gives them (CSV cell, X12 SV104/SV205): ``3``, ``3.0`` and ``3.000`` (X12
    sends a decimal quantity) are 3; a fraction or a word is passed on for :func:`decode_claim` to name."""
    if text is None:
        return None
    text = text.strip()
    if text.isascii() and text.isdigit():
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number


def decode_claim(obj: Any, line: int | None = None) -> Claim:
    """Validate one parsed JSON/YAML value as a :class:`Claim`; raises :class:`InputError` naming the field.

    The error's ``encounter`` attribute carries the claim id (the engine's error type is reused).
    """
    if isinstance(obj, Claim):
        return obj
    if not isinstance(obj, dict):
        raise InputError(None, "expected a claim object", line=line)
    cid = user_id(obj.get("id"))
    # The documentation is decoded once, by the encounters' own decoder (its spreadsheet forms and checks),
    # not first as part of the claim and then again.
    documentation = obj.get("encounter")
    if documentation is not None:
        obj = {key: value for key, value in obj.items() if key != "encounter"}
    try:
        claim = msgspec.convert(obj, Claim)
    except msgspec.ValidationError as exc:
        field, message = _translate(str(exc))
        raise InputError(field, message, encounter=cid, line=line) from None
    claim.id = str(claim.id)
    if documentation is not None:
        from infucode.decoding import decode_encounter

        try:
            claim.encounter = decode_encounter(documentation)
        except InputError as err:
            raise InputError(f"encounter.{err.field}" if err.field else "encounter", err.message,
                             encounter=claim.id, line=line) from None
    return claim
