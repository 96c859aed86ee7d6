"""Coding a large JSON Lines file on every core, streaming, in input order.

``run_batch(IN, OUT)`` reads IN in chunks of lines, sends each chunk's raw bytes to a pool of worker
processes (each loads the ruleset once, in its initializer), and writes the results as they come
back, in input order. Memory stays flat: at most a few chunks per worker are in flight.

* JSON Lines output: one line per coded encounter, ``msgspec.json.encode(result)``: the same bytes
  ``infucode code --format jsonl`` prints for that encounter.
* CSV output: one row per charge line, the columns and rows of ``infucode code --format csv``; the
  findings go to a CSV beside it (``OUT`` stem + ``.findings.csv``).
* Errors (an unreadable line, a field the model rejects, a duplicate encounter id, an encounter the
  engine refuses) never stop the batch: each goes, as ``{"encounter", "error": {"field", "message",
  "line"}}``, to ``OUT + ".errors.jsonl"``, which exists only when there was an error.

Reading follows ``infucode code``: blank lines are skipped, a UTF-8 BOM on line 1 is ignored, a line
over :data:`~infucode.adapters.encounter_io.MAX_LINE_BYTES` is an error without being read, the
first of two encounters with one id is kept. For speed each line is decoded straight into the
model; only when that fails is it decoded again by the readable path, for the error message.

Duplicate-id checking keeps every encounter id seen in the parent process (about 100 bytes per
encounter); pass ``check_duplicates=False`` for inputs known to be unique.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import msgspec

from infucode.adapters.encounter_io import (
    MAX_LINE_BYTES,
    _json_syntax_message,
    _read_lines,
)
from infucode.adapters.output import CSV_COLUMNS, CsvWriter
from infucode.decoding import decode_encounter
from infucode.model import Encounter, InputError, Result

__all__ = [
    "CHUNK_LINES",
    "FINDINGS_COLUMNS",
    "IN_FORMATS",
    "OUT_FORMATS",
    "BatchError",
    "BatchSummary",
    "errors_path",
    "findings_path",
    "run_batch",
]

#: Lines per task sent to a worker.
CHUNK_LINES = 2000
IN_FORMATS = ("jsonl", "csv")
OUT_FORMATS = ("jsonl", "csv")
FINDINGS_COLUMNS = ("encounter", "rule", "severity", "administrations", "message", "source")

_IN_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}
_OUT_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}

# Status of one input line, as a worker reports it.
_OK = 0  # coded; the id counts for the duplicate check
_CODE_ERROR = 1  # read, but the engine refused it; the id still counts (as in ``infucode code``)
_READ_ERROR = 2  # could not be read into an encounter


class BatchError(Exception):
    """A problem with the job itself (bad format, missing or empty input, unknown profile): nothing
    was coded. The CLI turns it into exit status 2."""


@dataclass(frozen=True, slots=True)
class BatchSummary:
    coded: int
    failed: int
    seconds: float
    errors_file: str | None = None


def errors_path(out_path: str | Path) -> Path:
    """``OUT`` + ``.errors.jsonl``."""
    return Path(str(out_path) + ".errors.jsonl")


def findings_path(out_path: str | Path) -> Path:
    """The findings CSV beside a CSV output: ``lines.csv`` -> ``lines.findings.csv``."""
    p = Path(out_path)
    return p.with_name(p.stem + ".findings.csv")


# --------------------------------------------------------------------------------------------
# Worker side: one chunk of raw lines -> one (status, id, payload) per non-blank line
# --------------------------------------------------------------------------------------------

_STATE: dict[str, Any] = {}


def _init_worker(profile: str, policies: dict[str, str] | None, out_format: str) -> None:
    from infucode import code_encounter, load_ruleset

    _STATE.clear()
    _STATE["ruleset"] = load_ruleset(profile=profile, policies=policies)
    _STATE["code"] = code_encounter
    _STATE["decoder"] = msgspec.json.Decoder(Encounter)
    _STATE["format"] = out_format
    if out_format == "csv":
        lines_buf, findings_buf = io.StringIO(), io.StringIO()
        writer = CsvWriter(lines_buf)
        _STATE["csv"] = (lines_buf, writer, findings_buf, csv.writer(findings_buf, lineterminator="\n"))


def _read(raw: bytes | None, number: int) -> Encounter:
    """One line into an Encounter; raises InputError with the readable message."""
    if raw is None:
        raise InputError(None, f"line is longer than the limit of {MAX_LINE_BYTES} bytes", line=number)
    try:
        enc = _STATE["decoder"].decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError):
        pass  # the readable path below finds out why
    else:
        # what decode_encounter does after converting: ids as strings, administration ids unique
        enc.id = str(enc.id)
        ids = set()
        for adm in enc.administrations:
            adm.id = str(adm.id)
            ids.add(adm.id)
        if len(ids) == len(enc.administrations):
            return enc
    try:
        obj = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise InputError(None, _json_syntax_message(str(exc)), line=number) from None
    except UnicodeDecodeError:
        raise InputError(None, "line is not valid UTF-8 text", line=number) from None
    return decode_encounter(obj, line=number)


def _encode(result: Result) -> Any:
    if _STATE["format"] == "jsonl":
        return msgspec.json.encode(result)
    lines_buf, writer, findings_buf, findings = _STATE["csv"]
    lines_buf.seek(0)
    lines_buf.truncate()
    writer.write(result)
    findings_buf.seek(0)
    findings_buf.truncate()
    for f in result.findings:
        findings.writerow((result.encounter, f.rule, f.severity, ";".join(f.administrations), f.message, f.source))
    return lines_buf.getvalue().encode("utf-8"), findings_buf.getvalue().encode("utf-8")


def _jsonl_items(first: int, raws: list[bytes | None]) -> Iterator[tuple[int, Encounter | InputError]]:
    for number, raw in enumerate(raws, first):
        if raw is not None:
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
        try:
            yield number, _read(raw, number)
        except InputError as err:
            yield number, err


def _csv_items(groups: list[tuple[int, list[dict]]]) -> Iterator[tuple[int, Encounter | InputError]]:
    from infucode.adapters.flat import encounter_from_rows

    for number, rows in groups:
        try:
            yield number, encounter_from_rows(rows)
        except InputError as err:
            eid = (rows[0].get("encounter_id") or "").strip()
            err.encounter = err.encounter or eid or None
            err.line = number
            yield number, err


def _code_chunk(task: tuple[str, int, list]) -> list[tuple[int, int, str | None, Any]]:
    """``(input format, first line number, raw lines or row groups)`` -> ``(line number, status,
    encounter id, payload)`` for every encounter; the payload is the encoded result, or the encoded
    ErrorResult."""
    kind, first, data = task
    items = _jsonl_items(first, data) if kind == "jsonl" else _csv_items(data)
    code = _STATE["code"]
    ruleset = _STATE["ruleset"]
    out: list[tuple[int, int, str | None, Any]] = []
    for number, enc in items:
        if isinstance(enc, InputError):
            out.append((number, _READ_ERROR, None, msgspec.json.encode(enc.to_result())))
            continue
        eid = enc.id
        try:
            result = code(enc, ruleset)
        except InputError as err:
            if err.encounter is None:
                err.encounter = eid
            if err.line is None:
                err.line = number
            out.append((number, _CODE_ERROR, eid, msgspec.json.encode(err.to_result())))
            continue
        except Exception as exc:  # noqa: BLE001 - one broken encounter must not stop a batch
            err = InputError(
                None,
                f"internal error while coding this encounter ({type(exc).__name__}); please report it",
                encounter=eid,
                line=number,
            )
            out.append((number, _CODE_ERROR, eid, msgspec.json.encode(err.to_result())))
            continue
        out.append((number, _OK, eid, _encode(result)))
    return out


# --------------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------------


def _format_of(path: Path, given: str | None, table: dict[str, str], allowed: tuple[str, ...], what: str) -> str:
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


def _check_input(path: Path) -> int:
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


def _jsonl_chunks(fh: IO[bytes], size: int) -> Iterator[tuple[tuple[str, int, list], int]]:
    """``(("jsonl", first line number, raw lines), bytes read)`` per chunk of ``size`` lines."""
    first = 1
    raws: list[bytes | None] = []
    nbytes = 0
    for _number, raw in _read_lines(fh):
        raws.append(raw)
        nbytes += MAX_LINE_BYTES if raw is None else len(raw)
        if len(raws) >= size:
            yield ("jsonl", first, raws), nbytes
            first += len(raws)
            raws, nbytes = [], 0
    if raws:
        yield ("jsonl", first, raws), nbytes


def _csv_chunks(fh: IO[bytes], size: int) -> Iterator[tuple[tuple[str, int, list], int]]:
    """``(("csv", 0, [(first line, rows of one encounter)]), bytes read)`` per chunk of about
    ``size`` rows. Rows are grouped by consecutive ``encounter_id``: a CSV whose encounters are not
    contiguous gives the later group as a duplicate encounter id (sort it by encounter_id)."""
    text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    if not reader.fieldnames or "encounter_id" not in reader.fieldnames:
        raise BatchError("a CSV of administrations needs a header row with an encounter_id column")
    groups: list[tuple[int, list[dict]]] = []
    rows_in_chunk = 0
    current: str | None = None
    pos = 0
    for row in reader:
        eid = (row.get("encounter_id") or "").strip()
        if not groups or eid != current or not eid:
            if rows_in_chunk >= size:
                now = fh.tell()
                yield ("csv", 0, groups), now - pos
                pos, groups, rows_in_chunk = now, [], 0
            groups.append((reader.line_num, []))
            current = eid
        groups[-1][1].append(row)
        rows_in_chunk += 1
    if groups:
        yield ("csv", 0, groups), fh.tell() - pos


class _Sink:
    """Writes the results of each chunk in order: output, findings, errors, duplicate check."""

    def __init__(self, out: Path, out_format: str, check_duplicates: bool) -> None:
        self.out_format = out_format
        self.fh = open(out, "wb")  # noqa: SIM115 - closed in close()
        self.findings = None
        if out_format == "csv":
            self.fh.write((",".join(CSV_COLUMNS) + "\n").encode())
            self.findings = open(findings_path(out), "wb")  # noqa: SIM115
            self.findings.write((",".join(FINDINGS_COLUMNS) + "\n").encode())
        self.errors_file = errors_path(out)
        self.errors: IO[bytes] | None = None
        self.seen: set[str] | None = set() if check_duplicates else None
        self.coded = 0
        self.failed = 0

    def _error(self, payload: bytes) -> None:
        if self.errors is None:
            self.errors = open(self.errors_file, "wb")  # noqa: SIM115
        self.errors.write(payload)
        self.errors.write(b"\n")
        self.failed += 1

    def write(self, records: list[tuple[int, int, str | None, Any]]) -> None:
        seen = self.seen
        out: list[bytes] = []
        findings: list[bytes] = []
        for number, status, eid, payload in records:
            if seen is not None and eid is not None:
                if eid in seen:
                    err = InputError("id", f"duplicate encounter id '{eid}' (the first one is kept)", encounter=eid, line=number)
                    self._error(msgspec.json.encode(err.to_result()))
                    continue
                seen.add(eid)
            if status != _OK:
                self._error(payload)
                continue
            self.coded += 1
            if self.out_format == "jsonl":
                out.append(payload)
            else:
                out.append(payload[0])
                findings.append(payload[1])
        if self.out_format == "jsonl":
            if out:
                out.append(b"")
                self.fh.write(b"\n".join(out))
        else:
            self.fh.write(b"".join(out))
            assert self.findings is not None
            self.findings.write(b"".join(findings))

    def close(self) -> None:
        self.fh.close()
        if self.findings is not None:
            self.findings.close()
        if self.errors is not None:
            self.errors.close()


def _progress(enabled: bool):
    """A rich progress bar on stderr (bytes of input read, encounters done, rate, ETA), or None."""
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("coding"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[done]:,} encounters  {task.fields[rate]:,.0f}/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


def run_batch(
    in_path: str | Path,
    out_path: str | Path,
    *,
    workers: int | None = None,
    in_format: str | None = None,
    out_format: str | None = None,
    profile: str = "medicare",
    policies: dict[str, str] | None = None,
    progress: bool | None = None,
    chunk_lines: int = CHUNK_LINES,
    check_duplicates: bool = True,
) -> BatchSummary:
    """Code every encounter of ``in_path`` into ``out_path``; see the module docstring.

    ``workers``: processes to use (None: all cores; 1: in this process). ``progress``: a progress
    bar on stderr (None: only when stderr is a terminal). Raises :class:`BatchError` when the job
    cannot start; encounter-level problems go to the errors file and count in ``failed``.
    """
    started = time.perf_counter()
    in_path, out_path = Path(in_path), Path(out_path)
    fin = _format_of(in_path, in_format, _IN_SUFFIXES, IN_FORMATS, "in")
    fout = _format_of(out_path, out_format, _OUT_SUFFIXES, OUT_FORMATS, "out")
    if workers is None:
        workers = os.cpu_count() or 1
    if workers < 1:
        raise BatchError(f"workers must be 1 or more, got {workers}")
    if chunk_lines < 1:
        raise BatchError(f"chunk_lines must be 1 or more, got {chunk_lines}")
    if in_path.resolve() == out_path.resolve():
        raise BatchError("the output would overwrite the input")
    try:  # validate the profile and policies here, and warm the tables before any fork
        from infucode import load_ruleset

        load_ruleset(profile=profile, policies=policies)
    except (KeyError, ValueError) as exc:
        raise BatchError(str(exc.args[0] if exc.args else exc)) from None
    size = _check_input(in_path)
    stale = errors_path(out_path)
    if stale.exists():
        stale.unlink()

    try:
        sink = _Sink(out_path, fout, check_duplicates)
    except OSError as exc:
        raise BatchError(f"cannot write {out_path}: {exc.strerror or type(exc).__name__}") from None
    show = sys.stderr.isatty() if progress is None else progress
    bar = _progress(show)
    task_id = bar.add_task("coding", total=size, done=0, rate=0.0) if bar else None
    pool = None
    ok = False
    try:
        if bar:
            bar.start()
        with open(in_path, "rb") as fh:
            chunks = (_jsonl_chunks if fin == "jsonl" else _csv_chunks)(fh, chunk_lines)

            def advance(nbytes: int) -> None:
                if bar is not None:
                    done = sink.coded + sink.failed
                    elapsed = time.perf_counter() - started
                    bar.update(task_id, advance=nbytes, done=done, rate=done / elapsed if elapsed else 0.0)

            if workers == 1:
                _init_worker(profile, policies, fout)
                for task, nbytes in chunks:
                    sink.write(_code_chunk(task))
                    advance(nbytes)
            else:
                ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
                pool = ctx.Pool(workers, initializer=_init_worker, initargs=(profile, policies, fout))
                inflight: deque[tuple[Any, int]] = deque()
                limit = workers * 3
                for task, nbytes in chunks:
                    inflight.append((pool.apply_async(_code_chunk, (task,)), nbytes))
                    while len(inflight) >= limit:
                        pending, n = inflight.popleft()
                        sink.write(pending.get())
                        advance(n)
                while inflight:
                    pending, n = inflight.popleft()
                    sink.write(pending.get())
                    advance(n)
                pool.close()
                pool.join()
                pool = None
        if sink.coded + sink.failed == 0:
            raise BatchError(f"input file has no encounters: {in_path}")
    except BatchError:
        ok = False
        raise
    else:
        ok = True
    finally:
        if pool is not None:
            pool.terminate()
        sink.close()
        if bar:
            bar.stop()
        if not ok:  # the job could not run: leave no half-written outputs behind
            for path in (out_path, findings_path(out_path), errors_path(out_path)):
                if fout == "csv" or path == out_path or path == errors_path(out_path):
                    path.unlink(missing_ok=True)
    return BatchSummary(
        coded=sink.coded,
        failed=sink.failed,
        seconds=time.perf_counter() - started,
        errors_file=str(sink.errors_file) if sink.failed else None,
    )
