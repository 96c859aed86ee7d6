"""The input formats infucode reads: one table of format name -> file suffixes, and which formats each kind of
input comes in.

Every command that reads a file picks its format here, by the file's suffix, and refuses an unknown one in
the same words: ``infucode code`` and the web upload (encounters, :mod:`infucode.adapters.encounter_io`, whose
:data:`~infucode.adapters.encounter_io.ENCOUNTER_READERS` holds the reader of each format), ``infucode batch``
(:mod:`infucode.batch.chunks`), ``infucode audit`` (claims) and case intake (case notes). A reader of a kind is
keyed by the format names below; a test holds each kind's readers to its list in :data:`READS`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["INPUT_FORMATS", "READS", "InputFormat", "format_of", "suffixes_of", "unknown_format"]


@dataclass(frozen=True, slots=True)
class InputFormat:
    name: str
    suffixes: tuple[str, ...]   # lower case, with the dot; the first is the one written by default
    title: str


INPUT_FORMATS: dict[str, InputFormat] = {f.name: f for f in (
    InputFormat("json", (".json",), "JSON: one record, a list of them, or a FHIR R4 Bundle"),
    InputFormat("jsonl", (".jsonl", ".ndjson"), "JSON Lines: one record a line, streamed"),
    InputFormat("yaml", (".yaml", ".yml"), "YAML: one or several documents"),
    InputFormat("csv", (".csv",), "CSV with a header row"),
    InputFormat("parquet", (".parquet",), "Apache Parquet"),
    InputFormat("x12", (".x12", ".837", ".edi"), "X12 837P/837I claims"),
    InputFormat("text", (".txt",), "a plain-text note"),
    InputFormat("email", (".eml",), "an e-mail (RFC 822)"),
)}

#: The formats each kind of input comes in, in the order they are named to the user.
READS: dict[str, tuple[str, ...]] = {
    "encounters": ("json", "jsonl", "yaml", "csv"),       # infucode code, the web upload
    "batch": ("jsonl", "csv", "parquet"),                 # infucode batch (in and out)
    "claims": ("json", "jsonl", "yaml", "csv", "x12"),    # infucode audit
    "case notes": ("text", "email"),                      # infucode case
}


def suffixes_of(kind: str) -> dict[str, str]:
    """``{suffix: format name}`` of every format ``kind`` comes in."""
    return {suffix: name for name in READS[kind] for suffix in INPUT_FORMATS[name].suffixes}


def format_of(path: str | Path, kind: str) -> str | None:
    """The name of the format ``path`` is in, by its suffix (any case), among those ``kind`` comes in; None
    when its suffix is none of them."""
    return suffixes_of(kind).get(Path(path).suffix.lower())


def unknown_format(path: str | Path, kind: str) -> str:
    """Why ``path`` is not read as ``kind``: its suffix, and the suffixes that are."""
    suffix = Path(path).suffix.lower()
    known = list(suffixes_of(kind))
    return (f"cannot read {path}: unknown file type '{suffix or '(none)'}'; "
            f"use {', '.join(known[:-1])} or {known[-1]}")
