"""pyx12's validation errors attributed to the claims of an 837 transaction set, and the verdict on each
claim at the set's SE: decoded, audited with reader warnings, or unreadable with the segment (and file
line) and pyx12's explanation.

A structural error inside a claim, or a bad element the audit reads (CLM, SV1, SV2, DTP), makes the claim
unreadable; other errors reach it as ``reader_warnings``. A broken SE (or none) makes every claim of the
set unreadable. Only ids the file gives appear in errors.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator

from ..model import InputError
from .model import decode_claim
from .x12_envelope import RawSegments

__all__ = ["X12Claim", "X12Error", "X12Transaction", "close_transaction"]

#: pyx12 error code for a required segment or loop that is missing: it is detected at the next segment.
_MISSING = "3"
_ELEMENT_ID = re.compile(r"\(([A-Z][A-Z0-9]{1,2}\d{2}(?:-\d+)?)\)")
_MAX_LISTED = 3
#: Segments whose elements the audit reads: an element error there makes the claim unreadable.
_READ_SEGMENTS = frozenset({"CLM", "SV1", "SV2", "DTP"})
_STARTED_AT = re.compile(r"\s*Started at \S+")


@dataclass
class X12Error:
    """One error pyx12 found, at a segment."""

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
class X12Claim:
    """One claim of a transaction set (a 2300 loop, or a CLM outside one): where it lies and the errors in it."""

    cid: str | None
    start: int
    hl: str | None
    data: dict[str, Any] | None          # None: the CLM segment was found outside a claim loop
    end: int | None = None
    lx: list[int] = field(default_factory=list)
    errors: list[X12Error] = field(default_factory=list)     # inside the claim's own segments
    context: list[X12Error] = field(default_factory=list)    # in the envelope or the HL loops above it

    def fatal(self) -> list[X12Error]:
        """Errors that stop the audit: the claim's structure, or an element the audit reads."""
        return [e for e in self.errors if e.code != "ele" or e.seg_id in _READ_SEGMENTS]

    def warnings(self) -> list[X12Error]:
        fatal = self.fatal()
        return [e for e in self.errors if e not in fatal] + self.context


@dataclass
class X12Transaction:
    """One transaction set (ST ... SE): its claims and HL loops, in file order."""

    control: str | None
    start: int
    claims: list[X12Claim] = field(default_factory=list)
    hl: list[tuple[int, str, str | None]] = field(default_factory=list)   # (segment, HL01, HL02)


def _errors_of(node: Any) -> list[X12Error]:
    """The segment and element errors of one pyx12 error-tree transaction node (err_st)."""
    out = []
    for seg in getattr(node, "children", []):
        seg_id = getattr(seg, "seg_id", "?")
        line = getattr(seg, "cur_line", 0) or 0
        for err in getattr(seg, "errors", []):
            out.append(X12Error(line, seg_id, str(err[0]), str(err[1])))
        for ele in getattr(seg, "elements", []):
            for err in getattr(ele, "errors", []):
                out.append(X12Error(line, seg_id, "ele", str(err[1])))
    return out


def _describe(err: X12Error, claim: X12Claim | None) -> str:
    where = f"segment {err.segment} ({err.seg_id})"
    if claim is not None and claim.lx:
        n = sum(1 for lx in claim.lx if lx <= err.at)
        if n:
            where += f", service line {n}"
    return f"{where}: {_STARTED_AT.sub('', err.text).strip().rstrip('.')}"


def _claim_error(claim: X12Claim, errors: list[X12Error], lines: RawSegments) -> InputError:
    first = errors[0]
    text = "; ".join(_describe(e, claim) for e in errors[:_MAX_LISTED])
    if len(errors) > _MAX_LISTED:
        text += f"; and {len(errors) - _MAX_LISTED} more X12 error(s)"
    prefix = (f"the claim starting at segment {claim.start} is not valid X12 837, so it was not audited: "
              if claim.data is not None else
              f"CLM at segment {claim.start} is outside a claim loop (no subscriber loop 2000B above it?), "
              "so it was not audited: ")
    return InputError(first.field, prefix + text, encounter=claim.cid, line=lines(first.at))


def _attribute(txn: X12Transaction, errors: list[X12Error]) -> list[X12Error]:
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


def close_transaction(txn: X12Transaction, kind: str | None, st_node: Any, se_segment: int | None,
                      lines: RawSegments) -> Iterator[tuple[object, int | None]]:
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
