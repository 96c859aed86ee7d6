"""X12 837P (professional) and 837I (institutional) claims into the audit's claim format.

Parsing and validation are pyx12's (a maintained X12 parser with the 5010 maps); only the mapping of
loops to our fields is written here, the attribution of pyx12's errors to claims in :mod:`.x12_errors`,
the checks of the envelope before parsing in :mod:`.x12_envelope` and the loading of pyx12's maps in
:mod:`.x12_maps`.
linuxforhealth-x12 was considered but needs pydantic 1, which conflicts with fhir.resources (pydantic 2).

837P: claim 2300 CLM01 id, CLM05-1 place of service; service lines 2400 SV1 (SV101-2 code, SV101-3..6
modifiers, SV104 units), DTP*472 date. 837I: CLM05-1 facility type (bill type), service lines SV2
(SV201 revenue code, SV202-2 code, SV202-3..6 modifiers, SV205 units), DTP*472 or the claim's
DTP*434 statement dates. Only ids the file gives appear in errors.

Broken files: pyx12 validates every segment against the implementation guide. A structural error inside
a claim (a missing 2400 loop, an unknown or missing segment, a CLM that is not under a subscriber loop) or
a bad element the audit reads (CLM, SV1, SV2, DTP) makes that claim unreadable, with the segment number
(and the file line, when segments are on lines of their own) and pyx12's explanation. Other errors (an
element the audit does not read, the billing provider or subscriber loops above the claim) do not stop the
audit: they reach the claim as ``reader_warnings`` and become an audit.input_validation finding. A wrong SE segment count (or a transaction set without SE) makes every claim
of that transaction set unreadable: a payer's 999 rejects the whole set, and a count that does not match
means segments were lost or added. Claims of other transaction sets are still audited. Errors in the GS/GE
or ISA/IEA envelope are reported once for the file and do not stop the claims.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Iterator

from ..model import InputError
from .model import units_from_text
from .x12_envelope import RawSegments, envelope_problem
from .x12_errors import X12Claim, X12Transaction, close_transaction
from .x12_maps import quiet_pyx12, reuse_pyx12_maps

__all__ = ["claims_from_837", "read_837"]

_PROFESSIONAL = "005010X222"
_INSTITUTIONAL = "005010X223"


def _date(value: str | None) -> str | None:
    if value and len(value) >= 8 and value[:8].isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:8]}"
    return None


def _modifiers(node, prefix: str) -> list[str]:
    return [m for m in (node.get_value(f"{prefix}-{k}") for k in range(3, 7)) if m]


def _last(node: Any) -> Any:
    children = getattr(node, "children", None)
    return children[-1] if children else None


def _claim_data(node: Any, kind: str | None) -> dict[str, Any]:
    """The audit's claim (as ``decode_claim`` reads it) from one 2300 loop and its 2400 service lines."""
    cid = node.get_value("CLM01")
    statement = _date(node.get_value("DTP[434]03")) if kind == "institutional" else None
    lines, dates = [], []
    for svc in node.select("2400"):
        prof = kind != "institutional"
        code = svc.get_value("SV101-2" if prof else "SV202-2")
        units = units_from_text(svc.get_value("SV104" if prof else "SV205"))
        line: dict[str, Any] = {"code": code, "units": units, "modifiers": _modifiers(svc, "SV101" if prof else "SV202")}
        day = _date(svc.get_value("DTP03")) or statement
        if day:
            line["date"] = day
            dates.append(day)
        if not prof and svc.get_value("SV201"):
            line["revenue_code"] = svc.get_value("SV201")
        ndc = svc.get_value("2410/LIN03")
        if ndc:
            line["ndc"] = ndc
        lines.append(line)
    claim: dict[str, Any] = {"id": cid, "claim_type": kind or "professional", "date": min(dates) if dates else statement,
                             "lines": lines}
    pos = node.get_value("CLM05-1")
    if kind == "professional" and pos:
        claim["place_of_service"] = pos
    return claim


def claims_from_837(text: str) -> Iterator[tuple[object, int | None]]:
    """(Claim | InputError, line) for each 2300 claim loop of an 837P or 837I interchange, in file order.

    A file that yields nothing (no transaction set, or pyx12 found no segment it could read) is an
    error: a broken file is never reported as an audit of zero claims."""
    produced = False
    for item in _claims_from_837(text):
        produced = True
        yield item
    if not produced:
        yield InputError(None, "the X12 file holds no 837 transaction set (ST ... SE) with a claim: nothing was audited"), None


def _claims_from_837(text: str) -> Iterator[tuple[object, int | None]]:
    import pyx12.error_handler
    import pyx12.params
    import pyx12.x12context

    problem = envelope_problem(text)
    if problem is not None:
        yield InputError("ISA" if "ISA" in problem or "terminator" in problem else None, problem), None
        return
    quiet_pyx12()
    reuse_pyx12_maps()
    lines = RawSegments(text)
    versions = lines.values("GS", 8)
    if versions and not any(v.startswith((_PROFESSIONAL, _INSTITUTIONAL)) for _, v in versions):
        yield InputError("GS08", f"the file holds {', '.join(sorted({v or '(empty)' for _, v in versions}))} transactions: "
                                 "only 837P (005010X222) and 837I (005010X223) claims are audited", line=lines(versions[0][0])), None
        return
    errh = pyx12.error_handler.err_handler()
    kind: str | None = None
    txn: X12Transaction | None = None
    segment = 0
    try:
        reader = pyx12.x12context.X12ContextReader(pyx12.params.params(), errh, io.StringIO(text))
        for node in reader.iter_segments("2300"):
            if node.id == "2300":
                data = _claim_data(node, kind)
                numbers = [s.cur_line_number for s in _segments(node) if s.cur_line_number]
                start = min(numbers, default=segment + 1)
                segment = max(numbers, default=start)
                if txn is not None:
                    _end_open_claim(txn, start)
                    claim = X12Claim(cid=data["id"] or None, start=start, hl=txn.hl[-1][1] if txn.hl else None,
                                     data=data, end=segment)
                    claim.lx = [s.cur_line_number for s in _segments(node)
                                if s.seg_data is not None and s.seg_data.get_seg_id() == "LX" and s.cur_line_number]
                    txn.claims.append(claim)
                continue
            segment = getattr(node, "cur_line_number", None) or segment + 1
            seg = node.seg_data
            seg_id = seg.get_seg_id() if seg is not None else node.id
            if txn is not None and seg_id in ("HL", "CLM", "SE"):
                _end_open_claim(txn, segment)
            if seg_id == "GS":
                version = seg.get_value("GS08") or ""
                kind = ("professional" if version.startswith(_PROFESSIONAL) else
                        "institutional" if version.startswith(_INSTITUTIONAL) else None)
            elif seg_id == "ST":
                txn = X12Transaction(control=seg.get_value("ST02"), start=segment)
            elif seg_id == "HL" and txn is not None:
                txn.hl.append((segment, seg.get_value("HL01") or "", seg.get_value("HL02") or None))
            elif seg_id == "CLM" and txn is not None:
                # a CLM the map could not place (e.g. no subscriber loop above it): the claim is still named
                txn.claims.append(X12Claim(cid=seg.get_value("CLM01") or None, start=segment,
                                           hl=txn.hl[-1][1] if txn.hl else None, data=None))
            elif seg_id == "SE" and txn is not None:
                yield from close_transaction(txn, kind, _last(_last(_last(errh))), segment, lines)
                txn = None
            elif seg_id in ("GE", "IEA"):
                node_err = _last(errh) if seg_id == "IEA" else _last(_last(errh))
                problems = [str(e[1]) for e in getattr(node_err, "errors", [])]
                if problems:
                    envelope = "functional group (GS/GE)" if seg_id == "GE" else "interchange (ISA/IEA)"
                    yield InputError(f"{seg_id}01", f"the {envelope} ending at segment {segment} is not valid: "
                                     f"{'; '.join(problems)} (its claims were read as reported above)",
                                     line=lines(segment)), None
        if txn is not None:
            # the file ends inside a transaction set: name the claims pyx12 did not get to yield
            known = {c.start for c in txn.claims}
            for number, cid in lines.values("CLM", 1):
                if number >= txn.start and number not in known and not any(c.start <= number <= (c.end or 0) for c in txn.claims):
                    txn.claims.append(X12Claim(cid=cid or None, start=number, hl=None, data=None, end=number))
            yield from close_transaction(txn, kind, _last(_last(_last(errh))), None, lines)
    except Exception as exc:  # pyx12 raises its own errors for broken envelopes; report, never crash a batch
        pending = [c.cid for c in txn.claims] if txn is not None else []
        claims = f"; claims not audited: {', '.join(str(c) for c in pending)}" if pending else ""
        where = f"after segment {segment}" if segment else "at its ISA segment"
        yield InputError(None, f"X12 file could not be parsed {where} ({type(exc).__name__}: "
                               f"{str(exc)[:200]}){claims}", line=lines(segment)), None


def _end_open_claim(txn: X12Transaction, next_segment: int) -> None:
    """A CLM found outside a claim loop runs until the next HL, CLM or SE."""
    if txn.claims and txn.claims[-1].end is None:
        txn.claims[-1].end = next_segment - 1


def _segments(node: Any) -> Iterator[Any]:
    """Every segment data node of a loop data node (depth first)."""
    for child in getattr(node, "children", []):
        if getattr(child, "type", None) == "seg":
            yield child
        else:
            yield from _segments(child)


def read_837(path: str | Path) -> Iterator[tuple[object, int | None]]:
    """The claims of one X12 file; an error about the whole file names it."""
    from ..adapters.input_limits import MAX_DOCUMENT_BYTES, read_limited

    p = Path(path)
    try:
        data = read_limited(p, MAX_DOCUMENT_BYTES, hint="split the interchange")
    except InputError as err:
        err.message = f"X12 file {p.name}: {err.message}"
        yield err, None
        return
    for item, line in claims_from_837(data.decode("utf-8", errors="replace")):
        if isinstance(item, InputError) and item.encounter is None and p.name not in item.message:
            item.message = f"X12 file {p.name}: {item.message}"
        yield item, line
