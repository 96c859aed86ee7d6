"""X12 837P (professional) and 837I (institutional) claims into the audit's claim format.

Parsing and validation are pyx12's (a maintained X12 parser with the 5010 maps); only the mapping of
loops to our fields and the attribution of pyx12's errors to claims are written here.
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

import functools
import io
import logging
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..model import InputError
from .model import decode_claim, units_from_text

_PROFESSIONAL = "005010X222"
_INSTITUTIONAL = "005010X223"
#: pyx12 error code for a required segment or loop that is missing: it is detected at the next segment.
_MISSING = "3"
_ELEMENT_ID = re.compile(r"\(([A-Z][A-Z0-9]{1,2}\d{2}(?:-\d+)?)\)")
_MAX_LISTED = 3
#: Segments whose elements the audit reads: an element error there makes the claim unreadable.
_READ_SEGMENTS = frozenset({"CLM", "SV1", "SV2", "DTP"})
_STARTED_AT = re.compile(r"\s*Started at \S+")


def _date(value: str | None) -> str | None:
    if value and len(value) >= 8 and value[:8].isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:8]}"
    return None


def _modifiers(node, prefix: str) -> list[str]:
    return [m for m in (node.get_value(f"{prefix}-{k}") for k in range(3, 7)) if m]


_MAPS_LOCK = threading.Lock()


def _reuse_pyx12_maps() -> None:
    """Load each implementation-guide map once per process instead of once per file.

    pyx12 parses its XML map (0.6 s CPU for the 837 maps) every time a file is opened, which made a one-claim
    837 cost more than a thousand JSON claims. Since pyx12 2.x a map holds no walking state (loop and segment
    counts moved to the walker's ``nodeCounter``), so one loaded map can serve every file and thread.
    The parameters are always pyx12's defaults here, so the map file and path are the whole key.
    """
    import pyx12.map_if

    with _MAPS_LOCK:
        load = pyx12.map_if.load_map_file
        if getattr(load, "infucode_cached", False):
            return

        @functools.lru_cache(maxsize=16)
        def loaded(map_file: str, map_path: str | None, param: Any) -> Any:
            return load(map_file, param.param, map_path)

        def load_map_file(map_file: str, param: Any, map_path: str | None = None) -> Any:
            return loaded(map_file, map_path, _DefaultParams(param))

        load_map_file.infucode_cached = True  # type: ignore[attr-defined]
        pyx12.map_if.load_map_file = load_map_file


class _DefaultParams:
    """Cache key for pyx12 params: equal when the settings are equal (pyx12 builds a new params object per file)."""

    def __init__(self, param: Any):
        self.param = param
        self.key = repr(sorted(getattr(param, "params", {}).items()))

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _DefaultParams) and other.key == self.key


def _quiet_pyx12() -> None:
    """pyx12 logs every validation error; they are reported through InputError instead."""
    logger = logging.getLogger("pyx12")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    logger.propagate = False


@dataclass
class _X12Error:
    segment: int                # pyx12's segment number (1 = ISA)
    seg_id: str
    code: str
    text: str

    @property
    def field(self) -> str:
        m = _ELEMENT_ID.search(self.text)
        return m.group(1) if m else self.seg_id

    @property
    def at(self) -> int:
        """The segment the error is about: a missing segment/loop is detected at the segment after it."""
        return self.segment - 1 if self.code == _MISSING else self.segment


@dataclass
class _Claim:
    cid: str | None
    start: int
    hl: str | None
    data: dict[str, Any] | None          # None: the CLM segment was found outside a claim loop
    end: int | None = None
    lx: list[int] = field(default_factory=list)
    errors: list[_X12Error] = field(default_factory=list)     # inside the claim's own segments
    context: list[_X12Error] = field(default_factory=list)    # in the envelope or the HL loops above it

    def fatal(self) -> list[_X12Error]:
        """Errors that stop the audit: the claim's structure, or an element the audit reads."""
        return [e for e in self.errors if e.code != "ele" or e.seg_id in _READ_SEGMENTS]

    def warnings(self) -> list[_X12Error]:
        fatal = self.fatal()
        return [e for e in self.errors if e not in fatal] + self.context


@dataclass
class _Transaction:
    control: str | None
    start: int
    claims: list[_Claim] = field(default_factory=list)
    hl: list[tuple[int, str, str | None]] = field(default_factory=list)   # (segment, HL01, HL02)


class _Raw:
    """The file split into segments (by the terminator ISA gives), for what pyx12 cannot tell: the file line
    of a segment (when segments are on lines of their own), GS08 before parsing, CLM ids in a truncated file."""

    def __init__(self, text: str):
        body = text.lstrip()
        self.segments: list[str] = []
        self.element = body[3] if len(body) > 3 else "*"
        self.lines: list[int] | None = None
        if len(body) < 106:
            return
        terminator = body[105]
        parts = body.split(terminator)
        self.segments = [p.strip() for p in parts]
        if "\n" not in body.strip() or terminator == "\n":
            return
        line = text.count("\n", 0, len(text) - len(body)) + 1
        lines = []
        for part in parts:
            lines.append(line + part.count("\n", 0, len(part) - len(part.lstrip())))
            line += part.count("\n")
        self.lines = lines

    def __call__(self, segment: int | None) -> int | None:
        """The file line of segment number ``segment`` (1 = ISA), or None when the file is one line."""
        if self.lines is None or segment is None or not 0 < segment <= len(self.lines):
            return None
        return self.lines[segment - 1]

    def values(self, seg_id: str, position: int) -> list[tuple[int, str]]:
        """(segment number, element value) of every ``seg_id`` segment."""
        out = []
        for number, seg in enumerate(self.segments, start=1):
            elements = seg.split(self.element)
            if elements[0] == seg_id:
                out.append((number, elements[position] if len(elements) > position else ""))
        return out


def _errors_of(node: Any) -> list[_X12Error]:
    """The segment and element errors of one pyx12 error-tree transaction node (err_st)."""
    out = []
    for seg in getattr(node, "children", []):
        seg_id = getattr(seg, "seg_id", "?")
        line = getattr(seg, "cur_line", 0) or 0
        for err in getattr(seg, "errors", []):
            out.append(_X12Error(line, seg_id, str(err[0]), str(err[1])))
        for ele in getattr(seg, "elements", []):
            for err in getattr(ele, "errors", []):
                out.append(_X12Error(line, seg_id, "ele", str(err[1])))
    return out


def _last(node: Any) -> Any:
    children = getattr(node, "children", None)
    return children[-1] if children else None


def _describe(err: _X12Error, claim: _Claim | None) -> str:
    where = f"segment {err.segment} ({err.seg_id})"
    if claim is not None and claim.lx:
        n = sum(1 for lx in claim.lx if lx <= err.at)
        if n:
            where += f", service line {n}"
    return f"{where}: {_STARTED_AT.sub('', err.text).strip().rstrip('.')}"


def _claim_error(claim: _Claim, errors: list[_X12Error], lines: _Raw) -> InputError:
    first = errors[0]
    text = "; ".join(_describe(e, claim) for e in errors[:_MAX_LISTED])
    if len(errors) > _MAX_LISTED:
        text += f"; and {len(errors) - _MAX_LISTED} more X12 error(s)"
    prefix = (f"the claim starting at segment {claim.start} is not valid X12 837, so it was not audited: "
              if claim.data is not None else
              f"CLM at segment {claim.start} is outside a claim loop (no subscriber loop 2000B above it?), "
              "so it was not audited: ")
    return InputError(first.field, prefix + text, encounter=claim.cid, line=lines(first.at))


def _attribute(txn: _Transaction, errors: list[_X12Error]) -> list[_X12Error]:
    """Errors to the claims they fall in (or the claims under the HL loop they fall in); the rest is returned."""
    unplaced = []
    parents = {hl_id: parent for _, hl_id, parent in txn.hl}

    def under(claim_hl: str | None, hl_id: str) -> bool:
        seen = set()
        while claim_hl is not None and claim_hl not in seen:
            if claim_hl == hl_id:
                return True
            seen.add(claim_hl)
            claim_hl = parents.get(claim_hl)
        return False

    for err in errors:
        at = err.at
        owner = next((c for c in txn.claims if c.start <= at <= (c.end or at)), None)
        if owner is not None:
            owner.errors.append(err)
            continue
        block = [h for h in txn.hl if h[0] <= at]
        if block:
            hl_id = block[-1][1]
            affected = [c for c in txn.claims if under(c.hl, hl_id)]
            if affected:
                for c in affected:
                    c.context.append(err)
                continue
        unplaced.append(err)
    return unplaced


def _close(txn: _Transaction, kind: str | None, st_node: Any, se_segment: int | None, lines: _Raw
           ) -> Iterator[tuple[object, int | None]]:
    """The claims of one transaction set, at its SE (or at the end of a truncated file)."""
    if txn.claims and txn.claims[-1].end is None:
        txn.claims[-1].end = (se_segment - 1) if se_segment else None
    st_errors = [str(e[1]) for e in getattr(st_node, "errors", [])] if st_node is not None else []
    errors = _errors_of(st_node) if st_node is not None else []
    unplaced = _attribute(txn, errors)
    name = f"transaction set {txn.control or '?'} (ST at segment {txn.start})"
    if se_segment is None:
        st_errors.append("no SE segment: the file ends inside the transaction set (truncated?)")
    if unplaced and not txn.claims:
        st_errors.extend(_describe(e, None) for e in unplaced)
    elif unplaced:
        for claim in txn.claims:
            claim.context.extend(unplaced)
    if not txn.claims:
        if st_errors:
            yield InputError("ST" if se_segment is None else "SE", f"{name}: {'; '.join(st_errors)}; it holds no readable claim",
                             line=lines(se_segment or txn.start)), None
        return
    for claim in txn.claims:
        if st_errors:
            yield InputError("SE01" if se_segment is not None else "SE",
                             f"{name} is broken: {'; '.join(st_errors)}; a payer rejects the whole transaction set, so its "
                             "claims were not audited", encounter=claim.cid, line=lines(se_segment or claim.start)), None
        elif claim.fatal():
            yield _claim_error(claim, claim.fatal(), lines), None
        elif claim.data is None:
            yield InputError("CLM", f"CLM at segment {claim.start} is outside a claim loop; it was not audited",
                             encounter=claim.cid, line=lines(claim.start)), None
        elif kind is None:
            yield InputError("GS08", "only 837P (005010X222) and 837I (005010X223) claims are audited",
                             encounter=claim.cid, line=lines(claim.start)), None
        else:
            warnings = claim.warnings()
            if warnings:
                claim.data["reader_warnings"] = [
                    f"X12 {_describe(e, claim if e in claim.errors else None)}" for e in warnings[:_MAX_LISTED]
                ] + ([f"and {len(warnings) - _MAX_LISTED} more X12 error(s)"] if len(warnings) > _MAX_LISTED else [])
            try:
                yield decode_claim(claim.data), None
            except InputError as err:
                err.encounter = err.encounter or claim.cid
                err.line = err.line or lines(claim.start)
                if err.field and err.field.startswith("lines["):
                    err.message = f"{err.message} (837 service line {int(err.field[6:].split(']')[0]) + 1})"
                yield err, None


def _claim_data(node: Any, kind: str | None) -> dict[str, Any]:
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


#: Length of the fixed-width ISA segment, with its terminator (X12 5010 ISA: 16 fixed-width elements).
_ISA_LENGTH = 106


def _envelope_problem(text: str) -> str | None:
    """What makes the file unreadable as X12 before any claim: a cut ISA, no segment terminator, binary
    data. None when the envelope can be parsed. Never quotes the file's content."""
    body = text.lstrip()
    if not body.startswith("ISA"):
        return "not an X12 interchange: it must start with an ISA segment"
    if len(body) < _ISA_LENGTH:
        return (f"the ISA segment is cut short ({len(body)} of its {_ISA_LENGTH} characters): the file is truncated "
                "or is not X12")
    element, terminator = body[3], body[_ISA_LENGTH - 1]
    if terminator.isalnum() or terminator in (element, " ") or body[:_ISA_LENGTH - 1].count(element) != 16:
        return (f"no valid segment terminator after the ISA segment (character {_ISA_LENGTH} must end it): the "
                "segments cannot be told apart")
    separators = {element, terminator, body[_ISA_LENGTH - 2], body[82], "\r", "\n", "\t"}
    control = "".join(re.escape(chr(c)) for c in [*range(32), 0x7F, 0xFFFD] if chr(c) not in separators)
    binary = re.search(f"[{control}]", body)
    if binary is not None:
        return (f"binary data (bytes that are not X12 text) in segment {body.count(terminator, 0, binary.start()) + 1}: "
                "the file is damaged or is not X12")
    if not body[_ISA_LENGTH:].strip(" \r\n\t" + terminator):
        return "the file holds only an ISA segment: no functional group (GS) and no claim"
    return None


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

    problem = _envelope_problem(text)
    if problem is not None:
        yield InputError("ISA" if "ISA" in problem or "terminator" in problem else None, problem), None
        return
    _quiet_pyx12()
    _reuse_pyx12_maps()
    lines = _Raw(text)
    versions = lines.values("GS", 8)
    if versions and not any(v.startswith((_PROFESSIONAL, _INSTITUTIONAL)) for _, v in versions):
        yield InputError("GS08", f"the file holds {', '.join(sorted({v or '(empty)' for _, v in versions}))} transactions: "
                                 "only 837P (005010X222) and 837I (005010X223) claims are audited", line=lines(versions[0][0])), None
        return
    errh = pyx12.error_handler.err_handler()
    kind: str | None = None
    txn: _Transaction | None = None
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
                    claim = _Claim(cid=data["id"] or None, start=start, hl=txn.hl[-1][1] if txn.hl else None, data=data,
                                   end=segment)
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
                txn = _Transaction(control=seg.get_value("ST02"), start=segment)
            elif seg_id == "HL" and txn is not None:
                txn.hl.append((segment, seg.get_value("HL01") or "", seg.get_value("HL02") or None))
            elif seg_id == "CLM" and txn is not None:
                # a CLM the map could not place (e.g. no subscriber loop above it): the claim is still named
                txn.claims.append(_Claim(cid=seg.get_value("CLM01") or None, start=segment,
                                         hl=txn.hl[-1][1] if txn.hl else None, data=None))
            elif seg_id == "SE" and txn is not None:
                yield from _close(txn, kind, _last(_last(_last(errh))), segment, lines)
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
                    txn.claims.append(_Claim(cid=cid or None, start=number, hl=None, data=None, end=number))
            yield from _close(txn, kind, _last(_last(_last(errh))), None, lines)
    except Exception as exc:  # pyx12 raises its own errors for broken envelopes; report, never crash a batch
        pending = [c.cid for c in txn.claims] if txn is not None else []
        claims = f"; claims not audited: {', '.join(str(c) for c in pending)}" if pending else ""
        where = f"after segment {segment}" if segment else "at its ISA segment"
        yield InputError(None, f"X12 file could not be parsed {where} ({type(exc).__name__}: "
                               f"{str(exc)[:200]}){claims}", line=lines(segment)), None


def _end_open_claim(txn: _Transaction, next_segment: int) -> None:
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
