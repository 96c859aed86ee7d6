"""Reading claims: one file, chosen by extension (.json, .jsonl/.ndjson, .yaml/.yml, .csv, .x12/.837/.edi).

Every problem with one claim becomes an :class:`InputError` that is *yielded*, not raised, so a batch
goes on with the next claim. The error names the claim id (the error's ``encounter`` attribute), the
field and, where known, the line of the file; it never echoes record content.

The raw documents are read by the adapters' shared readers (:mod:`infucode.adapters.input_limits`:
size and line limits, BOM, nesting depth; :func:`~infucode.adapters.yaml_documents.iter_yaml_documents`:
the bounded YAML loader), the same that read encounters; only the decoding into a :class:`Claim` is here.
CSV claims: :mod:`infucode.audit.csv_claims`; X12 837: :mod:`infucode.audit.x12`.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from infucode.adapters.formats import format_of, unknown_format
from infucode.adapters.input_limits import (
    MAX_DOCUMENT_BYTES,
    MAX_YAML_BYTES,
    decode_json_document,
    json_line_values,
    read_limited,
    read_lines,
)
from infucode.adapters.yaml_documents import iter_yaml_documents
from infucode.model import InputError

from .csv_claims import read_csv_claims
from .model import Claim, decode_claim

__all__ = ["Item", "claims_of_json_lines", "iter_claims"]

#: A claim as read, or why it could not be, with the line of the file it starts on (None when unknown).
Item = tuple[Claim | InputError, int | None]

_BOM = b"\xef\xbb\xbf"


def iter_claims(path: str | Path) -> Iterator[Item]:
    """Claims of one file, chosen by extension: .json, .jsonl/.ndjson, .yaml/.yml, .csv, .x12/.837/.edi (837P/837I)."""
    p = Path(path)
    kind = format_of(p, "claims")
    if kind is None:
        yield InputError(None, unknown_format(p, "claims")), None
        return
    try:
        if kind == "x12":
            from .x12 import read_837
            yield from read_837(p)
            return
        if kind == "csv":
            if p.stat().st_size > MAX_DOCUMENT_BYTES:
                raise InputError(None, f"file is larger than the limit of {MAX_DOCUMENT_BYTES:,} bytes for a CSV of claims; "
                                       "split it")
            with p.open(encoding="utf-8-sig", newline="") as fh:
                yield from read_csv_claims(fh, name=p.name)
            return
        if kind == "jsonl":
            with p.open("rb") as fh:
                yield from _iter_jsonl(fh, p)
            return
        data = read_limited(p, MAX_YAML_BYTES if kind == "yaml" else MAX_DOCUMENT_BYTES)
    except FileNotFoundError:
        yield InputError(None, f"file not found: {p}"), None
        return
    except InputError as err:
        err.message = f"{p}: {err.message}"
        yield err, None
        return
    except (OSError, UnicodeDecodeError) as exc:
        yield InputError(None, f"cannot read {p}: {type(exc).__name__}"), None
        return
    if data.startswith(_BOM):
        data = data[3:]
    if not data.strip():
        yield InputError(None, f"file is empty: {p}"), None
    elif kind == "json":
        yield from _iter_json(data)
    else:
        yield from _iter_yaml(data)


def _decode(obj: Any, line: int | None, position: int | None = None) -> Item:
    try:
        return decode_claim(obj, line=line), line
    except InputError as err:
        if err.encounter is None and line is None and position is not None:
            err.field = f"[{position}].{err.field}" if err.field else f"[{position}]"
        return err, line


def _decode_value(obj: Any, lines: list[int] | int | None) -> Iterator[Item]:
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            line = lines[i] if isinstance(lines, list) and i < len(lines) else None
            yield _decode(item, line, i)
    else:
        yield _decode(obj, lines if isinstance(lines, int) else None)


def _iter_json(data: bytes) -> Iterator[Item]:
    try:
        obj = decode_json_document(data)
    except InputError as err:
        yield err, err.line
        return
    yield from _decode_value(obj, None)


def _iter_jsonl(fh: Any, p: Path) -> Iterator[Item]:
    """The JSON Lines reader ``infucode code`` uses (BOM, line size and nesting limits), claim by claim."""
    empty = True
    for item in claims_of_json_lines(read_lines(fh)):
        empty = False
        yield item
    if empty:
        yield InputError(None, f"file is empty: {p}"), None


def claims_of_json_lines(lines: Iterable[tuple[int, bytes | None]]) -> Iterator[Item]:
    """Claims of JSON Lines already read (``(line number, bytes or None)``, see ``input_limits.read_lines``),
    one per non-blank line: what a worker process of ``infucode audit`` reads from its chunk of a file."""
    for number, value in json_line_values(lines):
        if isinstance(value, InputError):
            yield value, number
            continue
        yield _decode(value, number)


def _iter_yaml(data: bytes) -> Iterator[Item]:
    for document in iter_yaml_documents(data):
        if isinstance(document, InputError):
            yield document, document.line
            return
        yield from _decode_value(*document)
