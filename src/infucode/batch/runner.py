"""Coding a large file of encounters on every core, streaming, in input order.

``run_batch(IN, OUT)`` reads IN in chunks, sends each chunk to a pool of worker processes (each
loads the ruleset once, in its initializer), and writes the results as they come back, in input
order. Memory stays flat: at most a few chunks per worker are in flight.

Input (the format follows the extension, or ``in_format``):

* JSON Lines: one encounter per line, read as ``infucode code`` reads it: blank lines are skipped,
  a UTF-8 BOM on line 1 is ignored, a line over :data:`~infucode.adapters.encounter_io.MAX_LINE_BYTES`
  is an error without being read. For speed each line is decoded straight into the model; only when
  that fails is it decoded again by the readable path, for the error message.
* CSV: one administration per row (``infucode.adapters.flat.INPUT_COLUMNS``), rows grouped by
  consecutive ``encounter_id``; ``line`` in an error is the file's line number.
* Parquet: the same columns, typed or not, streamed by record batch (see
  :mod:`infucode.batch.parquet_io`); ``line`` in an error is the 1-based data row.

  For CSV and Parquet, ``columns`` maps an export's own headers onto ours (see
  :mod:`infucode.batch.columns`), and an error's ``line`` is the row of the administration its
  field names (``administrations[2].stop``), else the encounter's first row.

Output (from the extension, or ``out_format``):

* JSON Lines: one line per coded encounter, ``msgspec.json.encode(result)``: the same bytes
  ``infucode code --format jsonl`` prints for that encounter.
* CSV: one row per charge line, the columns and rows of ``infucode code --format csv``; the
  findings go to a CSV beside it (``OUT`` stem + ``.findings.csv``).
* Parquet: the CSV's rows and columns, typed, and the findings beside it (``OUT`` stem +
  ``.findings.parquet``); see :mod:`infucode.batch.parquet_io`.

Errors (an unreadable line, a field the model rejects, a duplicate encounter id, an encounter the
engine refuses) never stop the batch: each goes, as ``{"encounter", "error": {"field", "message",
"line"}}``, to ``OUT + ".errors.jsonl"``, which exists only when there was an error.

Every output (OUT, the errors and findings files, the summary) is written beside its path as
``.NAME.partial-<pid>`` and renamed into place only when the run is complete (OUT last); a run that
fails, is interrupted or finds the disk full leaves none of them (:mod:`infucode.adapters.output_files`).
An unreadable line or row costs that encounter only (and, for a CSV row, the encounters beside it).

Duplicate ids: the first encounter with an id is kept, later ones are errors. The ids seen are kept
in the parent as 64-bit hashes (:class:`~infucode.batch.seen_ids.SeenIds`, about 8 bytes per
encounter, computed by the workers); pass ``check_duplicates=False`` for inputs known to be unique.
"""

from __future__ import annotations

import csv
import gc
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

from infucode.adapters.input_limits import MAX_LINE_BYTES, decode_json, line_too_long, read_lines
from infucode.adapters.output_files import (
    AtomicOutputs,
    OutputWriteError,
    SameFileError,
    interrupts_as_exceptions,
    refuse_inputs_as_outputs,
)
from infucode.adapters.output import CSV_COLUMNS, FINDINGS_COLUMNS, CsvWriter, charge_line_rows, finding_rows
from infucode.decoding import decode_encounter, in_contract_forms
from infucode.model import Encounter, InputError, Result

from .columns import resolve_columns, validate_columns
from .errors import BatchError, BatchOutputError

__all__ = [
    "CHUNK_LINES",
    "FINDINGS_COLUMNS",
    "IN_FORMATS",
    "OUT_FORMATS",
    "BatchError",
    "BatchOutputError",
    "BatchSummary",
    "errors_path",
    "findings_path",
    "releases_dir",
    "run_batch",
]

#: Lines (JSON Lines) or rows (CSV, Parquet) per task sent to a worker.
CHUNK_LINES = 2000
IN_FORMATS = ("jsonl", "csv", "parquet")
OUT_FORMATS = ("jsonl", "csv", "parquet")

_IN_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}
_OUT_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}

# Status of one input encounter, as a worker reports it.
_OK = 0  # coded; the id counts for the duplicate check
_CODE_ERROR = 1  # read, but the engine refused it; the id still counts (as in ``infucode code``)
_READ_ERROR = 2  # could not be read into an encounter


@dataclass(frozen=True, slots=True)
class BatchSummary:
    coded: int
    failed: int
    seconds: float
    errors_file: str | None = None


def errors_path(out_path: str | Path) -> Path:
    """``OUT`` + ``.errors.jsonl``."""
    return Path(str(out_path) + ".errors.jsonl")


def findings_path(out_path: str | Path, out_format: str | None = None) -> Path:
    """The findings file beside a CSV or Parquet output: ``lines.csv`` -> ``lines.findings.csv``,
    ``lines.parquet`` -> ``lines.findings.parquet``. ``out_format`` (default: from the extension,
    CSV unless ``.parquet``) picks the extension."""
    p = Path(out_path)
    if out_format is None:
        out_format = "parquet" if p.suffix.lower() == ".parquet" else "csv"
    return p.with_name(p.stem + (".findings.parquet" if out_format == "parquet" else ".findings.csv"))


# --------------------------------------------------------------------------------------------
# Worker side: one chunk -> (records, hashes of their ids, Parquet batches)
# --------------------------------------------------------------------------------------------

_STATE: dict[str, Any] = {}


def _init_worker(profile: str, policies: dict[str, str] | None, out_format: str,
                 releases_dir: str | None = None, releases_file: str | None = None, with_summary: bool = False) -> None:
    from infucode import code_encounter, load_ruleset

    if _STATE.get("releases") is not None:
        _STATE["releases"].close()
    _STATE.clear()
    ruleset = load_ruleset(profile=profile, policies=policies)
    if releases_dir is not None or releases_file is not None:
        from infucode.reference.releases import ReleaseStore

        # each process its own SQLite connection, opened after the fork
        _STATE["releases"] = ReleaseStore(releases_dir, file=releases_file)
        ruleset = ruleset.with_releases(_STATE["releases"])
    _STATE["ruleset"] = ruleset
    _STATE["code"] = code_encounter
    _STATE["decoder"] = msgspec.json.Decoder(Encounter)
    _STATE["format"] = out_format
    _STATE["summary"] = with_summary
    if out_format == "csv":
        lines_buf, findings_buf = io.StringIO(), io.StringIO()
        writer = CsvWriter(lines_buf)
        _STATE["csv"] = (lines_buf, writer, findings_buf, csv.writer(findings_buf, lineterminator="\n"))


def _init_pool_worker(profile: str, policies: dict[str, str] | None, out_format: str,
                      releases_dir: str | None = None, with_summary: bool = False) -> None:
    _worker_signals()
    _init_worker(profile, policies, out_format, releases_dir, with_summary=with_summary)
    # The rule tables live as long as the worker process: move them out of the collector's sight, so a
    # full collection does not walk them again every few thousand encounters (5-10 % of coding time).
    gc.collect()
    gc.freeze()


def _worker_signals() -> None:
    """A worker leaves interruptions to the parent: it ignores Ctrl-C (the parent stops the pool),
    dies on SIGTERM (the parent's pool.terminate()), and, on Linux, gets SIGTERM when the parent dies,
    even by SIGKILL, instead of waiting for tasks forever."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl
            pass
        parent = multiprocessing.parent_process()
        if parent is not None and os.getppid() != parent.pid:  # the parent died before prctl: do not linger
            os._exit(1)


def _read(raw: bytes | None, number: int) -> Encounter:
    """One line into an Encounter; raises InputError with the readable message."""
    if raw is None:
        raise InputError(None, line_too_long(), line=number)
    try:
        enc = _STATE["decoder"].decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        pass  # the readable path below finds out why
    else:
        # what decode_encounter does after converting: ids as strings, administration ids unique
        enc.id = str(enc.id)
        ids = set()
        for adm in enc.administrations:
            adm.id = str(adm.id)
            ids.add(adm.id)
        if len(ids) == len(enc.administrations) and in_contract_forms(enc):
            return enc
    return decode_encounter(decode_json(raw, line=number), line=number)


def _encode(result: Result, parquet_rows: tuple[list, list] | None) -> Any:
    fmt = _STATE["format"]
    if fmt == "jsonl":
        return msgspec.json.encode(result)
    if fmt == "parquet":
        assert parquet_rows is not None
        lines, findings = charge_line_rows(result), finding_rows(result)
        parquet_rows[0].extend(lines)
        parquet_rows[1].extend(findings)
        return (len(lines), len(findings))
    lines_buf, writer, findings_buf, findings = _STATE["csv"]
    lines_buf.seek(0)
    lines_buf.truncate()
    writer.write(result)
    findings_buf.seek(0)
    findings_buf.truncate()
    findings.writerows(finding_rows(result))
    return lines_buf.getvalue().encode("utf-8"), findings_buf.getvalue().encode("utf-8")


# One input encounter: (line or row number, the encounter or why it could not be read, the line or
# row number of each of its administrations (CSV, Parquet) or None (JSON Lines)).
_Item = tuple[int, "Encounter | InputError", "list[int] | range | None"]


def _jsonl_items(first: int, raws: list[bytes | None]) -> Iterator[_Item]:
    for number, raw in enumerate(raws, first):
        if raw is not None:
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if not raw.strip():
                continue
        try:
            yield number, _read(raw, number), None
        except InputError as err:
            yield number, err, None


def _row_items(groups: list[tuple[list[int] | range, list[dict]]]) -> Iterator[_Item]:
    """CSV or Parquet: ``(row numbers, row dicts)`` per encounter -> items."""
    from infucode.adapters.flat import encounter_from_rows

    for rows_at, rows in groups:
        if _UNREADABLE in rows[0]:
            eid = (rows[0].get("encounter_id") or "").strip() or None
            yield rows_at[0], InputError(None, rows[0][_UNREADABLE], encounter=eid), rows_at
            continue
        try:
            yield rows_at[0], encounter_from_rows(rows), rows_at
        except InputError as err:
            eid = (rows[0].get("encounter_id") or "").strip()
            err.encounter = err.encounter or eid or None
            yield rows_at[0], err, rows_at


def _row_of(field: str | None, rows_at: list[int] | range) -> int:
    """The row of the administration that ``field`` names (``administrations[2].stop``), else the
    encounter's first row."""
    if field and field.startswith("administrations["):
        index = field[len("administrations["):].partition("]")[0]
        if index.isdigit() and int(index) < len(rows_at):
            return rows_at[int(index)]
    return rows_at[0]


def _place(err: InputError, number: int, rows_at: list[int] | range | None) -> None:
    if err.line is None or rows_at is not None:
        err.line = number if rows_at is None else _row_of(err.field, rows_at)


def _code_chunk(task: tuple) -> tuple[list[tuple[int, int, str | None, Any]], bytes, Any, tuple | None]:
    """One task (``("jsonl", first line, raw lines)``, ``("csv", row groups)`` or ``("parquet",
    first row, column names, Arrow IPC bytes)``) -> ``(records, id hashes, Parquet batches, summary)``.

    ``records``: ``(line number, status, encounter id, payload)`` for every encounter; the payload
    is the encoded result (JSON Lines: bytes; CSV: the lines and findings CSV bytes; Parquet: its
    number of line and finding rows), or the encoded ErrorResult. ``id hashes``: :func:`hash_ids`
    of the records' ids that are not None, in order. ``Parquet batches``: the chunk's line and
    finding rows, or None for the other formats. ``summary``: with a summary asked for, the chunk's
    :class:`~infucode.batch.summary.CodingSummary` and the :func:`~infucode.batch.summary.contribution` of
    each coded record by its index in ``records`` (to take back a duplicate); else None."""
    kind = task[0]
    if kind == "jsonl":
        items = _jsonl_items(task[1], task[2])
    elif kind == "csv":
        items = _row_items(task[1])
    else:
        from .parquet_io import parquet_groups

        items = _row_items(parquet_groups(task[1], task[2], task[3]))
    code = _STATE["code"]
    ruleset = _STATE["ruleset"]
    parquet_rows: tuple[list, list] | None = ([], []) if _STATE["format"] == "parquet" else None
    out: list[tuple[int, int, str | None, Any]] = []
    ids: list[str] = []
    shares: dict[int, Any] | None = None
    if _STATE["summary"]:
        from .summary import CodingSummary, contribution

        shares, tally = {}, CodingSummary()
    for number, enc, rows_at in items:
        if isinstance(enc, InputError):
            _place(enc, number, rows_at)
            out.append((number, _READ_ERROR, None, msgspec.json.encode(enc.to_result())))
            continue
        eid = enc.id if isinstance(enc.id, str) else str(enc.id)
        ids.append(eid)
        try:
            result = code(enc, ruleset)
        except InputError as err:
            if err.encounter is None:
                err.encounter = eid
            _place(err, number, rows_at)
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
        out.append((number, _OK, eid, _encode(result, parquet_rows)))
        if shares is not None:
            share = shares[len(out) - 1] = contribution(result)
            tally.add(share)
    from .seen_ids import hash_ids  # numpy: imported by the batch only, not by every `infucode` command

    batches = None
    if parquet_rows is not None:
        from .parquet_io import FINDINGS_SCHEMA, LINES_SCHEMA, rows_batch

        batches = (rows_batch(parquet_rows[0], LINES_SCHEMA), rows_batch(parquet_rows[1], FINDINGS_SCHEMA))
    return out, hash_ids(ids), batches, (tally, shares) if shares is not None else None


# --------------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------------


def releases_dir(data_dir: str | Path | None) -> str | None:
    """The directory of the imported CMS releases to code with, or None for the bundled tables:
    ``data_dir`` must hold the database; the default directory (``$INFUCODE_DATA_DIR``, else the user
    data directory) is used when it does."""
    from infucode.reference.releases import open_store

    try:  # read it here: a worker that fails to start would be started again and again
        store = open_store(data_dir)
    except ValueError as exc:
        raise BatchError(str(exc)) from None
    with store:
        return str(store.data_dir) if store.exists else None


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


def _jsonl_chunks(fh: IO[bytes], size: int) -> Iterator[tuple[tuple, int]]:
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


def _csv_chunks(fh: IO[bytes], size: int, columns: dict[str, str] | None, path: Path) -> Iterator[tuple[tuple, int]]:
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


#: Key of the one-row group that stands for a CSV row the csv module could not read (its message).
_UNREADABLE = "\0unreadable"


def _csv_rows(reader: csv.DictReader) -> Iterator[dict]:
    """The reader's rows; a row the csv module cannot read (a field over its size limit, a stray
    quote) becomes ``{_UNREADABLE: why}``, an error for that row only, and reading goes on."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield {_UNREADABLE: f"row cannot be read ({exc})"}


def _csv_groups(fh: IO[bytes], reader: csv.DictReader, size: int) -> Iterator[tuple[tuple, int]]:
    groups: list[tuple[list[int], list[dict]]] = []
    rows_in_chunk = 0
    current: str | None = None
    pos = 0
    after_bad: int | None = None  # line of an unreadable row just before this one
    for row in _csv_rows(reader):
        line = reader.reader.line_num  # DictReader's own line_num is not updated when a row fails
        bad = _UNREADABLE in row
        eid = "" if bad else (row.get("encounter_id") or "").strip()
        if not groups or eid != current or not eid:
            # never cut a chunk just before an unreadable row: the encounter before it must be marked
            if rows_in_chunk >= size and not bad:
                now = fh.tell()
                yield ("csv", groups), now - pos
                pos, groups, rows_in_chunk = now, [], 0
            if bad and groups and _UNREADABLE not in groups[-1][1][0]:
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
    rows[0][_UNREADABLE] = (f"not coded: the unreadable row at line {line} may be one of its administrations")


class _Sink:
    """Writes the results of each chunk in order: output, findings, errors, duplicate check."""

    def __init__(self, out: Path, out_format: str, check_duplicates: bool, summary: Any = None,
                 files: AtomicOutputs | None = None) -> None:
        # every file goes through ``files``: written beside its final path, renamed there by files.commit()
        self.files = files if files is not None else AtomicOutputs()
        self.out = out
        self.out_format = out_format
        self.summary = summary  # a batch.summary.CodingSummary, or None
        self.fh: IO[bytes] | None = None
        self.findings: IO[bytes] | None = None
        self.lines_pq = self.findings_pq = None
        self.errors_file = errors_path(out)
        self.errors: IO[bytes] | None = None
        from .seen_ids import SeenIds

        self.seen: SeenIds | None = SeenIds() if check_duplicates else None
        self.coded = 0
        self.failed = 0
        if out_format == "parquet":
            from .parquet_io import FINDINGS_SCHEMA, LINES_SCHEMA, ParquetTableWriter

            self.files.add(out)
            self.files.add(self.errors_file)
            try:
                self.lines_pq = ParquetTableWriter(self.files.temp(out), LINES_SCHEMA)
                self.findings_pq = ParquetTableWriter(self.files.temp(findings_path(out, "parquet")), FINDINGS_SCHEMA)
            except OSError as exc:
                raise OutputWriteError(f"cannot write {out}: {exc.strerror or str(exc).splitlines()[0]}") from None
            return
        self.fh = self.files.open(out, "wb")
        self.files.add(self.errors_file)
        if out_format == "csv":
            self.fh.write((",".join(CSV_COLUMNS) + "\n").encode())
            self.findings = self.files.open(findings_path(out, "csv"), "wb")
            self.findings.write((",".join(FINDINGS_COLUMNS) + "\n").encode())

    def _error(self, payload: bytes) -> None:
        if self.errors is None:
            self.errors = self.files.open(self.errors_file, "wb")
        self.errors.write(payload)
        self.errors.write(b"\n")
        self.failed += 1

    def write(self, chunk: tuple[list[tuple[int, int, str | None, Any]], bytes, Any, tuple | None]) -> None:
        try:
            self._write(chunk)
        except OSError as exc:  # a full disk, an I/O error: one clear line, not a traceback
            raise OutputWriteError(f"cannot write {self.out}: {exc.strerror or str(exc).splitlines()[0] or type(exc).__name__}") from None

    def _write(self, chunk: tuple[list[tuple[int, int, str | None, Any]], bytes, Any, tuple | None]) -> None:
        records, hashes, batches, counted = chunk
        if self.summary is not None and counted is not None:
            self.summary.merge(counted[0])
        duplicate = self.seen.add_hashes(hashes).tolist() if self.seen is not None else None
        k = 0
        out: list[Any] = []
        findings: list[bytes] = []
        dropped: list[int] = []  # Parquet: indices of coded records not written (duplicate ids)
        for i, (number, status, eid, payload) in enumerate(records):
            if duplicate is not None and eid is not None:
                k += 1
                if duplicate[k - 1]:
                    err = InputError("id", f"duplicate encounter id '{eid}' (the first one is kept)", encounter=eid, line=number)
                    self._error(msgspec.json.encode(err.to_result()))
                    if status == _OK and batches is not None:
                        dropped.append(i)
                    if status == _OK and self.summary is not None and counted is not None:
                        self.summary.add(counted[1][i], -1)  # not in the output: not in the summary
                    continue
            if status != _OK:
                self._error(payload)
                continue
            self.coded += 1
            if self.out_format == "jsonl":
                out.append(payload)
            elif self.out_format == "csv":
                out.append(payload[0])
                findings.append(payload[1])
        if self.out_format == "jsonl":
            if out:
                out.append(b"")
                assert self.fh is not None
                self.fh.write(b"\n".join(out))
        elif self.out_format == "csv":
            assert self.fh is not None and self.findings is not None
            self.fh.write(b"".join(out))
            self.findings.write(b"".join(findings))
        else:
            lines, found = batches
            if dropped:
                lines, found = _drop_rows(records, dropped, lines, found)
            else:
                lines, found = [lines], [found]
            for batch in lines:
                self.lines_pq.add(batch)
            for batch in found:
                self.findings_pq.add(batch)

    def close(self) -> None:
        """Close every file (the Parquet writers write their footers now)."""
        try:
            for f in (self.fh, self.findings, self.errors, self.lines_pq, self.findings_pq):
                if f is not None:
                    f.close()
        except OSError as exc:
            raise OutputWriteError(f"cannot write {self.out}: {exc.strerror or str(exc).splitlines()[0] or type(exc).__name__}") from None

    def commit(self) -> None:
        """Close, then rename the finished files into place (OUT last)."""
        self.close()
        self.files.commit()

    def discard(self) -> None:
        """Close quietly and remove every temporary file: no output at the final paths."""
        for f in (self.fh, self.findings, self.errors, self.lines_pq, self.findings_pq):
            if f is not None:
                try:
                    f.close()
                except Exception:  # noqa: BLE001, S110 - the files are removed below
                    pass
        self.files.discard()


def _drop_rows(records: list, dropped: list[int], lines: Any, found: Any) -> tuple[list, list]:
    """The Parquet rows of a chunk without those of the ``dropped`` records (duplicate ids), as
    slices (no ``pyarrow.compute``: its first use costs every process about 45 MB)."""
    gone = set(dropped)
    keep_lines: list = []
    keep_found: list = []
    at_line = at_found = 0
    for i, (_number, status, _eid, payload) in enumerate(records):
        if status != _OK:
            continue
        n_lines, n_found = payload
        if i not in gone:
            keep_lines.append(lines.slice(at_line, n_lines))
            keep_found.append(found.slice(at_found, n_found))
        at_line += n_lines
        at_found += n_found
    return keep_lines, keep_found


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


def _outputs(out_path: Path, fout: str) -> list[Path]:
    paths = [out_path, errors_path(out_path)]
    if fout in ("csv", "parquet"):
        paths.append(findings_path(out_path, fout))
    return paths


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
    columns: dict[str, str] | None = None,
    data_dir: str | Path | None = None,
    summary: str | Path | None = None,
) -> BatchSummary:
    """Code every encounter of ``in_path`` into ``out_path``; see the module docstring.

    ``workers``: processes to use (None: all cores; 1: in this process). ``progress``: a progress
    bar on stderr (None: only when stderr is a terminal). ``columns``: for CSV and Parquet input,
    our column name -> the input's header (:mod:`infucode.batch.columns`). ``data_dir``: the CMS
    files imported with ``infucode data import`` (:func:`releases_dir`); each encounter is coded with
    the MUE and wRVU in force on its date. ``summary``: also write the batch summary there (``.json``,
    ``.csv`` or ``.html``; :mod:`infucode.batch.summary`). Raises :class:`BatchError` when the job cannot start;
    encounter-level problems go to the errors file and count in ``failed``.
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
    if columns:
        if fin == "jsonl":
            raise BatchError("a column mapping applies to CSV or Parquet input, not JSON Lines")
        columns = validate_columns(columns)
    outputs = _outputs(out_path, fout)
    if summary is not None:
        from .summary import CodingSummary, check_summary_path, write_summary_output

        summary = check_summary_path(summary)
        if summary.resolve() in {p.resolve() for p in outputs}:
            raise BatchError(f"the summary {summary} would overwrite an output")
        outputs.append(summary)
    try:  # before anything is opened for writing: a hard link to IN would be truncated
        refuse_inputs_as_outputs(outputs, [in_path])
    except SameFileError as exc:
        raise BatchError(str(exc)) from None
    try:  # validate the profile and policies here, and warm the tables before any fork
        from infucode import load_ruleset

        load_ruleset(profile=profile, policies=policies)
    except (KeyError, ValueError) as exc:
        raise BatchError(str(exc.args[0] if exc.args else exc)) from None
    releases = releases_dir(data_dir)
    size = _check_input(in_path)
    source = None
    if fin == "parquet":
        from .parquet_io import ParquetInput

        source = ParquetInput(in_path, columns)

    files = AtomicOutputs()
    sink: _Sink | None = None
    bar = None
    pool = None
    try:
        with interrupts_as_exceptions():
            try:  # an output that cannot even be created is a usage error (exit 2), not a failed run
                sink = _Sink(out_path, fout, check_duplicates, CodingSummary() if summary is not None else None, files)
                if summary is not None:
                    files.open(summary, "wb").close()  # writable before hours of coding, not after
            except OutputWriteError as exc:
                raise BatchError(str(exc)) from None
            show = sys.stderr.isatty() if progress is None else progress
            bar = _progress(show)
            task_id = bar.add_task("coding", total=size, done=0, rate=0.0) if bar else None
            if bar:
                bar.start()
            with open(in_path, "rb") as fh:
                if fin == "jsonl":
                    chunks: Iterator[tuple[tuple, int]] = _jsonl_chunks(fh, chunk_lines)
                elif fin == "csv":
                    chunks = _csv_chunks(fh, chunk_lines, columns, in_path)
                else:
                    assert source is not None
                    chunks = source.chunks(chunk_lines, size)

                def advance(nbytes: int) -> None:
                    if bar is not None:
                        done = sink.coded + sink.failed
                        elapsed = time.perf_counter() - started
                        bar.update(task_id, advance=nbytes, done=done, rate=done / elapsed if elapsed else 0.0)

                if workers == 1:
                    _init_worker(profile, policies, fout, releases, with_summary=summary is not None)
                    for task, nbytes in chunks:
                        sink.write(_code_chunk(task))
                        advance(nbytes)
                else:
                    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
                    pool = ctx.Pool(workers, initializer=_init_pool_worker,
                                    initargs=(profile, policies, fout, releases, summary is not None))
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
            if sink.summary is not None:
                sink.summary.failed = sink.failed
                write_summary_output(files, summary, sink.summary, source=in_path.name,
                                     errors_file=sink.errors_file.name if sink.failed else None)
            sink.commit()
    except OutputWriteError as exc:
        raise BatchOutputError(f"{exc}; no output was written") from None
    finally:
        if pool is not None:
            pool.terminate()
        if source is not None:
            source.close()
        if bar:
            bar.stop()
        if not files.committed:  # the job did not finish: leave no output, and no temporary file
            if sink is not None:
                sink.discard()
            files.discard()
    return BatchSummary(
        coded=sink.coded,
        failed=sink.failed,
        seconds=time.perf_counter() - started,
        errors_file=str(sink.errors_file) if sink.failed else None,
    )
