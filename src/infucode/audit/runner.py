"""Auditing many claims on every core: the files read in chunks, each chunk audited by a worker of the
batch's pool (:mod:`infucode.batch.pool`), the results handed back in input order.

:func:`audit_files` gives ``on_result(path, item)`` exactly the items, in exactly the order, that
``audit_stream(iter_claims(path), ruleset)`` gives file after file, for any number of workers; the
writers (:mod:`infucode.audit.io`) run in the calling process, so every output is the same bytes.

JSON Lines are read in the parent only as raw lines (at most a chunk of lines in memory at a time);
each worker decodes, checks and audits its chunk (:func:`~infucode.audit.io.claims_of_json_lines`).
The other formats (.json, .yaml, .csv, X12) are whole documents of bounded size: the parent reads their
claims and the workers audit them.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from infucode.adapters.input_limits import MAX_LINE_BYTES, read_lines
from infucode.batch.pool import ChunkWorker, progress_bar, run_in_order
from infucode.model import InputError

from .io import audit_stream, claims_of_json_lines, iter_claims
from .model import AuditError, AuditResult, error_result

__all__ = ["CHUNK_CLAIMS", "audit_chunk", "audit_files", "audit_worker", "init_audit_worker"]

#: Claims (or JSON lines) per task sent to a worker.
CHUNK_CLAIMS = 1000
_JSON_LINES = (".jsonl", ".ndjson")
_BOM = b"\xef\xbb\xbf"

# What this process audits with (the ruleset, its own connection to the imported CMS releases).
_STATE: dict[str, Any] = {}


# --------------------------------------------------------------------------------------------
# Worker side
# --------------------------------------------------------------------------------------------


def init_audit_worker(profile: str, releases_dir: str | None) -> None:
    """Load the ruleset of ``profile`` with the imported CMS releases of ``releases_dir`` (each process its own
    SQLite connection, opened after the fork), as ``infucode audit`` does."""
    from infucode.reference.releases import ReleaseStore
    from infucode.ruleset import load_ruleset

    if _STATE.get("releases") is not None:
        _STATE["releases"].close()
    _STATE.clear()
    store = _STATE["releases"] = ReleaseStore(releases_dir)
    _STATE["ruleset"] = load_ruleset(profile).with_releases(store)


def audit_chunk(task: tuple) -> tuple[int, list[AuditResult | AuditError]]:
    """One task -> ``(file index, audited items in order)``. A task is ``("jsonl", file index, first line
    number, raw lines)`` or ``("claims", file index, [(Claim or AuditError, line)])``."""
    ruleset = _STATE["ruleset"]
    if task[0] == "jsonl":
        return task[1], list(audit_stream(claims_of_json_lines(enumerate(task[3], task[2])), ruleset))
    out: list[AuditResult | AuditError] = []
    for item, line in task[2]:
        if isinstance(item, AuditError):  # read as an error in the parent
            out.append(item)
        else:
            out.extend(audit_stream(((item, line),), ruleset))
    return task[1], out


def audit_worker(profile: str, releases_dir: str | None) -> ChunkWorker:
    """The worker that audits claims under ``profile`` with the releases of ``releases_dir``."""
    return ChunkWorker(init_audit_worker, (profile, releases_dir), audit_chunk)


# --------------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------------


def _error(index: int, err: InputError) -> tuple[tuple, int]:
    return ("claims", index, [(error_result(err), err.line)]), 0


def _json_lines_tasks(index: int, path: Path, size: int) -> Iterator[tuple[tuple, int]]:
    """Raw lines in chunks; the errors ``iter_claims`` gives for a file it cannot open or read, or that is empty."""
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        yield _error(index, InputError(None, f"file not found: {path}"))
        return
    except OSError as exc:
        yield _error(index, InputError(None, f"cannot read {path}: {type(exc).__name__}"))
        return
    empty = True
    first, raws, nbytes = 1, [], 0
    with fh:
        try:
            for number, raw in read_lines(fh):
                if empty and (raw is None or (raw[3:] if number == 1 and raw.startswith(_BOM) else raw).strip()):
                    empty = False
                raws.append(raw)
                nbytes += MAX_LINE_BYTES if raw is None else len(raw)
                if len(raws) >= size:
                    yield ("jsonl", index, first, raws), nbytes
                    first, raws, nbytes = first + len(raws), [], 0
        except OSError as exc:
            if raws:
                yield ("jsonl", index, first, raws), nbytes
            yield _error(index, InputError(None, f"cannot read {path}: {type(exc).__name__}"))
            return
    if raws:
        yield ("jsonl", index, first, raws), nbytes
    if empty:
        yield _error(index, InputError(None, f"file is empty: {path}"))


def _claims_tasks(index: int, path: Path, size: int) -> Iterator[tuple[tuple, int]]:
    """The claims ``iter_claims`` reads, in chunks; an unreadable one as its AuditError (what ``audit_stream``
    makes of it), so that no exception object crosses to a worker."""
    items: list[tuple[Any, int | None]] = []
    for item, line in iter_claims(path):
        items.append((error_result(item), line) if isinstance(item, InputError) else (item, line))
        if len(items) >= size:
            yield ("claims", index, items), 0
            items = []
    try:
        nbytes = path.stat().st_size
    except OSError:
        nbytes = 0
    if items or nbytes:
        yield ("claims", index, items), nbytes


def _tasks(files: Sequence[Path], size: int) -> Iterator[tuple[tuple, int]]:
    for index, path in enumerate(files):
        path = Path(path)
        if path.suffix.lower() in _JSON_LINES:
            yield from _json_lines_tasks(index, path, size)
        else:
            yield from _claims_tasks(index, path, size)


def audit_files(files: Sequence[Path], on_result: Callable[[Path, AuditResult | AuditError], None], *,
                profile: str, releases_dir: str | None, workers: int | None = None, progress: bool = False,
                chunk_claims: int = CHUNK_CLAIMS) -> int:
    """Audit every claim of ``files`` and call ``on_result(path, item)`` for each, in input order; returns
    the number of items. ``workers``: processes (None: all cores; 1, or an input of one chunk: in this
    process). ``progress``: a progress bar on stderr. ``releases_dir``: the directory of the imported CMS
    releases (``ReleaseStore.data_dir``), opened again in each worker."""
    if workers is None:
        workers = os.cpu_count() or 1
    started = time.perf_counter()
    done = 0
    bar = progress_bar(progress, "auditing", "claims")
    task_id = None
    if bar is not None:
        total = 0
        for path in files:
            try:
                total += Path(path).stat().st_size
            except OSError:
                pass
        task_id = bar.add_task("auditing", total=total, done=0, rate=0.0)
        bar.start()

    def write(result: tuple[int, list[AuditResult | AuditError]]) -> None:
        nonlocal done
        index, items = result
        for item in items:
            on_result(files[index], item)
        done += len(items)

    def advance(nbytes: int) -> None:
        if bar is not None:
            elapsed = time.perf_counter() - started
            bar.update(task_id, advance=nbytes, done=done, rate=done / elapsed if elapsed else 0.0)

    try:
        run_in_order(_tasks(files, chunk_claims), audit_worker(profile, releases_dir), write, workers=workers,
                     advance=advance, one_task_here=True)
    finally:
        if bar is not None:
            bar.stop()
    return done
