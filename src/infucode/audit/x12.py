"""X12 837P (professional) and 837I (institutional) claims into the audit's claim format.

Parsing is pyx12's (a maintained X12 parser with the 5010 maps); only the mapping of loops to our
fields is written here. linuxforhealth-x12 was considered but needs pydantic 1, which conflicts with
fhir.resources (pydantic 2).

837P: claim 2300 CLM01 id, CLM05-1 place of service; service lines 2400 SV1 (SV101-2 code, SV101-3..6
modifiers, SV104 units), DTP*472 date. 837I: CLM05-1 facility type (bill type), service lines SV2
(SV201 revenue code, SV202-2 code, SV202-3..6 modifiers, SV205 units), DTP*472 or the claim's
DTP*434 statement dates. Only ids the file gives appear in errors.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Iterator

from ..model import InputError
from .model import decode_claim

_PROFESSIONAL = "005010X222"
_INSTITUTIONAL = "005010X223"


def _date(value: str | None) -> str | None:
    if value and len(value) >= 8 and value[:8].isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:8]}"
    return None


def _modifiers(node, prefix: str) -> list[str]:
    return [m for m in (node.get_value(f"{prefix}-{k}") for k in range(3, 7)) if m]


def _units(value: str | None) -> int | float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return int(number) if number.is_integer() else number


def claims_from_837(text: str) -> Iterator[tuple[object, int | None]]:
    """(Claim | InputError, None) for each 2300 claim loop of an 837P or 837I interchange."""
    import pyx12.error_handler
    import pyx12.params
    import pyx12.x12context

    if not text.strip().startswith("ISA"):
        yield InputError(None, "not an X12 interchange: it must start with an ISA segment"), None
        return
    params = pyx12.params.params()
    errors = pyx12.error_handler.errh_null()
    kind = None
    try:
        reader = pyx12.x12context.X12ContextReader(params, errors, io.StringIO(text))
        for node in reader.iter_segments("2300"):
            if node.id == "GS":
                version = node.get_value("GS08") or ""
                kind = ("professional" if version.startswith(_PROFESSIONAL) else
                        "institutional" if version.startswith(_INSTITUTIONAL) else None)
                continue
            if node.id != "2300":
                continue
            cid = node.get_value("CLM01")
            if kind is None:
                yield InputError("GS08", "only 837P (005010X222) and 837I (005010X223) claims are audited",
                                 encounter=cid), None
                continue
            statement = _date(node.get_value("DTP[434]03")) if kind == "institutional" else None
            lines, dates = [], []
            for svc in node.select("2400"):
                prefix = "SV1" if kind == "professional" else "SV2"
                code = svc.get_value("SV101-2" if kind == "professional" else "SV202-2")
                units = _units(svc.get_value("SV104" if kind == "professional" else "SV205"))
                line = {"code": code, "units": units,
                        "modifiers": _modifiers(svc, "SV101" if prefix == "SV1" else "SV202")}
                day = _date(svc.get_value("DTP03")) or statement
                if day:
                    line["date"] = day
                    dates.append(day)
                if kind == "institutional" and svc.get_value("SV201"):
                    line["revenue_code"] = svc.get_value("SV201")
                ndc = svc.get_value("2410/LIN03")
                if ndc:
                    line["ndc"] = ndc
                lines.append(line)
            claim = {"id": cid, "claim_type": kind, "date": min(dates) if dates else statement, "lines": lines}
            pos = node.get_value("CLM05-1")
            if kind == "professional" and pos:
                claim["place_of_service"] = pos
            try:
                yield decode_claim(claim), None
            except InputError as err:
                err.encounter = err.encounter or cid
                yield err, None
    except Exception as exc:  # pyx12 raises its own errors for broken envelopes; report, never crash a batch
        yield InputError(None, f"X12 file could not be parsed ({type(exc).__name__})"), None


def read_837(path: str | Path) -> Iterator[tuple[object, int | None]]:
    yield from claims_from_837(Path(path).read_text(encoding="utf-8", errors="replace"))
