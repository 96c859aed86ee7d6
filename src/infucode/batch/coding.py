"""The coding worker of the batch: one task (a chunk of lines or rows) -> the chunk's coded records.

A worker process loads the ruleset once (:func:`init_coding_worker`), then codes tasks
(:func:`code_chunk`) made by the chunk readers (:mod:`infucode.batch.chunks`,
:mod:`infucode.batch.parquet_io`). :func:`coding_worker` gives both as the
:class:`~infucode.batch.pool.ChunkWorker` the pool (:mod:`infucode.batch.pool`) and Spark
(:mod:`infucode.batch.spark`) run.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import msgspec

from infucode.adapters.input_limits import decode_json, line_too_long
from infucode.adapters.output import CsvWriter, charge_line_rows, finding_rows
from infucode.decoding import decode_encounter, in_contract_forms
from infucode.model import Encounter, InputError, Result

from .chunks import UNREADABLE
from .pool import ChunkWorker

__all__ = ["CODE_ERROR", "OK", "READ_ERROR", "code_chunk", "coding_worker", "init_coding_worker"]

# Status of one input encounter, as a worker reports it.
OK = 0  # coded; the id counts for the duplicate check
CODE_ERROR = 1  # read, but the engine refused it; the id still counts (as in ``infucode code``)
READ_ERROR = 2  # could not be read into an encounter

# What this process loaded to code with (one ruleset, one releases connection), set by init_coding_worker.
_STATE: dict[str, Any] = {}


def init_coding_worker(profile: str, policies: dict[str, str] | None, out_format: str,
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
        if UNREADABLE in rows[0]:
            eid = (rows[0].get("encounter_id") or "").strip() or None
            yield rows_at[0], InputError(None, rows[0][UNREADABLE], encounter=eid), rows_at
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


def code_chunk(task: tuple) -> tuple[list[tuple[int, int, str | None, Any]], bytes, Any, tuple | None]:
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
            out.append((number, READ_ERROR, None, msgspec.json.encode(enc.to_result())))
            continue
        eid = enc.id if isinstance(enc.id, str) else str(enc.id)
        ids.append(eid)
        try:
            result = code(enc, ruleset)
        except InputError as err:
            if err.encounter is None:
                err.encounter = eid
            _place(err, number, rows_at)
            out.append((number, CODE_ERROR, eid, msgspec.json.encode(err.to_result())))
            continue
        except Exception as exc:  # noqa: BLE001 - one broken encounter must not stop a batch
            err = InputError(
                None,
                f"internal error while coding this encounter ({type(exc).__name__}); please report it",
                encounter=eid,
                line=number,
            )
            out.append((number, CODE_ERROR, eid, msgspec.json.encode(err.to_result())))
            continue
        out.append((number, OK, eid, _encode(result, parquet_rows)))
        if shares is not None:
            share = shares[len(out) - 1] = contribution(result)
            tally.add(share)
    from .seen_ids import hash_ids  # numpy: imported by the batch only, not by every `infucode` command

    batches = None
    if parquet_rows is not None:
        from .parquet_io import FINDINGS_SCHEMA, LINES_SCHEMA, rows_batch

        batches = (rows_batch(parquet_rows[0], LINES_SCHEMA), rows_batch(parquet_rows[1], FINDINGS_SCHEMA))
    return out, hash_ids(ids), batches, (tally, shares) if shares is not None else None


def coding_worker(profile: str, policies: dict[str, str] | None, out_format: str, releases_dir: str | None = None,
                  with_summary: bool = False) -> ChunkWorker:
    """The worker that codes a batch's chunks into ``out_format`` (jsonl, csv or parquet)."""
    return ChunkWorker(init_coding_worker, (profile, policies, out_format, releases_dir, None, with_summary), code_chunk)
