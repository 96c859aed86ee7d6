"""Reading a batch input in chunks, in the parent process: the format of a path, the input check, and
the JSON Lines and CSV chunk readers (Parquet: :mod:`infucode.batch.parquet_io`).

Each reader yields ``(task, bytes of input read)``; a task is what a worker of
:mod:`infucode.batch.coding` codes: ``("jsonl", first line number, raw lines)`` or ``("csv", [(line
numbers, row dicts of one encounter)])``.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from infucode.adapters.formats import READS, suffixes_of
from infucode.adapters.input_limits import MAX_LINE_BYTES, read_lines

from .columns import resolve_columns
from .errors import BatchError

__all__ = ["IN_FORMATS", "IN_SUFFIXES", "OUT_FORMATS", "OUT_SUFFIXES", "UNREADABLE", "check_input", "csv_chunks",
           "format_of", "jsonl_chunks"]

# the batch reads and writes the formats the shared format table lists for it
IN_FORMATS = OUT_FORMATS = READS["batch"]
IN_SUFFIXES = OUT_SUFFIXES = suffixes_of("batch")

#: Key of the one-row group that stands for a CSV row the csv module could not read (its message).
UNREADABLE = "\0unreadable"


def format_of(path: Path, given: str | None, table: dict[str, str], allowed: tuple[str, ...], what: str) -> str:
    """The format ``given`` (``ndjson`` is ``jsonl``), else the one of ``path``'s extension in ``table``;
    BatchError naming ``what`` (``in`` or ``out``) when it is unknown."""
    if given is not None:
        fmt = given.lower().lstrip(".")
        if fmt == "ndjson":
            fmt = "jsonl"
        if fmt not in allowed:
            raise BatchError(f"unknown {what} format '{given}'; allowed: {', '.join(allowed)}")
        return fmt
    fmt = table.get(path.suffix.lower())
    if fmt is None:
        raise BatchError(
            f"cannot tell the {what} format of {path} from its extension '{path.suffix or '(none)'}'; "
            f"use {', '.join(sorted(table))} or --{what.split()[0]}-format"
        )
    return fmt


def check_input(path: Path) -> int:
    """The input's size in bytes; BatchError when it is missing, unreadable or holds only blanks."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            while True:
                block = fh.read(1 << 20)
                if not block:
                    raise BatchError(f"input file is empty: {path}")
                if block.replace(b"\xef\xbb\xbf", b"").strip():
                    break
    except FileNotFoundError:
        raise BatchError(f"cannot read {path}: no such file") from None
    except IsADirectoryError:
        raise BatchError(f"cannot read {path}: it is a directory") from None
    except OSError as exc:
        raise BatchError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    return size


def jsonl_chunks(fh: IO[bytes], size: int) -> Iterator[tuple[tuple, int]]:
    """``(("jsonl", first line number, raw lines), bytes read)`` per chunk of ``size`` lines."""
    first = 1
    raws: list[bytes | None] = []
    nbytes = 0
    for _number, raw in read_lines(fh):
        raws.append(raw)
        nbytes += MAX_LINE_BYTES if raw is None else len(raw)
        if len(raws) >= size:
            yield ("jsonl", first, raws), nbytes
            first += len(raws)
            raws, nbytes = [], 0
    if raws:
        yield ("jsonl", first, raws), nbytes


def csv_chunks(fh: IO[bytes], size: int, columns: dict[str, str] | None, path: Path) -> Iterator[tuple[tuple, int]]:
    """``(("csv", [(line numbers, rows of one encounter)]), bytes read)`` per chunk of about
    ``size`` rows. Rows are grouped by consecutive ``encounter_id``: a CSV whose encounters are not
    contiguous gives the later group as a duplicate encounter id (sort it by encounter_id). The
    header is checked (and mapped) before the first chunk is yielded."""
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    try:
        header = reader.fieldnames
    except UnicodeDecodeError:
        raise BatchError(f"cannot read {path}: its header is not UTF-8 text") from None
    except csv.Error as exc:
        raise BatchError(f"cannot read the header of {path}: {exc}") from None
    if not header:
        raise BatchError("a CSV of administrations needs a header row with an encounter_id column")
    ours = resolve_columns(header, columns, f"the CSV {path}")
    # our name for each header; a header that is not ours gets a name encounter_from_rows ignores
    reader.fieldnames = [name if name is not None else f"\0{i}" for i, name in enumerate(ours)]
    return _csv_groups(fh, reader, size)


def _csv_rows(reader: csv.DictReader) -> Iterator[dict]:
    """The reader's rows; a row the csv module cannot read (a field over its size limit, a stray
    quote) becomes ``{UNREADABLE: why}``, an error for that row only, and reading goes on."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield {UNREADABLE: f"row cannot be read ({exc})"}


def _csv_groups(fh: IO[bytes], reader: csv.DictReader, size: int) -> Iterator[tuple[tuple, int]]:
    groups: list[tuple[list[int], list[dict]]] = []
    rows_in_chunk = 0
    current: str | None = None
    pos = 0
    after_bad: int | None = None  # line of an unreadable row just before this one
    for row in _csv_rows(reader):
        line = reader.reader.line_num  # DictReader's own line_num is not updated when a row fails
        bad = UNREADABLE in row
        eid = "" if bad else (row.get("encounter_id") or "").strip()
        if not groups or eid != current or not eid:
            # never cut a chunk just before an unreadable row: the encounter before it must be marked
            if rows_in_chunk >= size and not bad:
                now = fh.tell()
                yield ("csv", groups), now - pos
                pos, groups, rows_in_chunk = now, [], 0
            if bad and groups and UNREADABLE not in groups[-1][1][0]:
                _suspect(groups[-1][1], line)
            groups.append(([], []))
            current = eid
            if after_bad is not None and not bad:
                _suspect([row], after_bad)
        after_bad = line if bad else None
        groups[-1][0].append(line)
        groups[-1][1].append(row)
        rows_in_chunk += 1
    if groups:
        yield ("csv", groups), fh.tell() - pos


def _suspect(rows: list[dict], line: int) -> None:
    """Mark the encounter whose rows are next to an unreadable row: that row may be one of its
    administrations, so it is an error, never coded without it."""
    rows[0][UNREADABLE] = (f"not coded: the unreadable row at line {line} may be one of its administrations")
