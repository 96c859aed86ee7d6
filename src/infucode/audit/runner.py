"""Auditing many claims on every core: the files read in chunks, each chunk audited by a worker of the
batch's pool (:mod:`infucode.batch.pool`), the results handed back in input order.

:func:`audit_chunks` gives ``on_chunk(path, chunk)`` an :class:`AuditedChunk` per chunk, in input order;
:func:`audit_files` gives ``on_result(path, item)`` exactly the items, in exactly the order, that
``audit_stream(iter_claims(path), ruleset)`` gives file after file, for any number of workers.

The parent does as little as possible per claim, so that two workers audit nearly twice as fast as one:
a worker renders its chunk for the streamed outputs (:class:`Outputs`: the JSON Lines or CSV text, a
partial :class:`~infucode.audit.summary.Summary`) and the parent writes the texts and merges the
summaries in chunk order; the audited items themselves cross back only for the outputs that need them
all (json, html, table). The chunks do not depend on the number of workers, so every output is the same
bytes for any number of workers.

JSON Lines are read in the parent only as raw lines (at most a chunk of lines in memory at a time);
each worker decodes, checks and audits its chunk (:func:`~infucode.audit.readers.claims_of_json_lines`).
The other formats (.json, .yaml, .csv, X12) are whole documents of bounded size: the parent reads their
claims and the workers audit them.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infucode.adapters.formats import format_of
from infucode.adapters.input_limits import MAX_LINE_BYTES, read_lines
from infucode.batch.pool import ChunkWorker, progress_bar, run_in_order
from infucode.model import InputError

from .engine import audit_stream
from .model import AuditError, AuditResult, error_result
from .readers import claims_of_json_lines, iter_claims
from .summary import Summary
from .writers import WRITERS

__all__ = ["CHUNK_CLAIMS", "AuditedChunk", "Outputs", "audit_chunk", "audit_chunks", "audit_files", "audit_worker",
           "init_audit_worker"]

#: Claims (or JSON lines) per task sent to a worker.
CHUNK_CLAIMS = 1000
_BOM = b"\xef\xbb\xbf"

# What this process audits with (the ruleset, its own connection to the imported CMS releases).
_STATE: dict[str, Any] = {}


@dataclass(frozen=True)
class Outputs:
    """What a worker makes of its chunk: the text of the streamed formats (writers that need "text":
    jsonl, csv), a summary of the chunk, and whether the items themselves go back to the parent."""

    texts: tuple[str, ...] = ()
    summary: bool = False
    items: bool = True
    #: A directory the workers write each chunk's texts to, handing back only the file's path: a chunk's
    #: text is megabytes, which a pipe moves 64 KB at a time, each a wake-up of the parent competing with the
    #: workers for the cores (1M claims: 1.59x with 2 workers through the pipe). Set by audit_chunks.
    spool: str | None = None


@dataclass
class AuditedChunk:
    """One chunk audited: ``count`` items, of which ``unreadable`` (the claims that could not be read or
    audited, for the parent to name on stderr); ``failed`` when any item is unreadable or has an error
    finding; ``texts`` (UTF-8; in a worker, the paths of spool files when ``Outputs.spool`` is set) in the order
    of ``Outputs.texts``; ``summary`` and ``items`` when asked for."""

    count: int
    failed: bool
    unreadable: list[AuditError]
    texts: tuple[bytes | str, ...] = ()
    summary: Summary | None = None
    items: list[AuditResult | AuditError] | None = None


def _audited(task: tuple, ruleset: Any) -> list[AuditResult | AuditError]:
    if task[0] == "jsonl":
        return list(audit_stream(claims_of_json_lines(enumerate(task[3], task[2])), ruleset))
    out: list[AuditResult | AuditError] = []
    for item, line in task[2]:
        if isinstance(item, AuditError):  # read as an error in the parent
            out.append(item)
        else:
            out.extend(audit_stream(((item, line),), ruleset))
    return out


def render_chunk(items: list[AuditResult | AuditError], outputs: Outputs) -> AuditedChunk:
    """The chunk as the parent's writers take it (see :class:`Outputs`)."""
    unreadable = [item for item in items if isinstance(item, AuditError)]
    failed = bool(unreadable) or any(item.has_errors for item in items if not isinstance(item, AuditError))
    summary = None
    if outputs.summary:
        summary = Summary()
        for item in items:
            summary.add(item)
    return AuditedChunk(count=len(items), failed=failed, unreadable=unreadable,
                        texts=tuple(_spooled(WRITERS[fmt].render_text(items), outputs.spool) for fmt in outputs.texts),
                        summary=summary, items=items if outputs.items else None)


def _spooled(data: bytes, spool: str | None) -> bytes | str:
    """``data``, or with a spool directory the path of a new file there that holds it."""
    if spool is None:
        return data
    fd, path = tempfile.mkstemp(dir=spool, suffix=".chunk")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


def _unspooled(text: bytes | str) -> bytes:
    """A chunk's text back from its spool file (which is removed)."""
    if isinstance(text, bytes):
        return text
    with open(text, "rb") as fh:
        data = fh.read()
    os.unlink(text)
    return data


# --------------------------------------------------------------------------------------------
# Worker side
# --------------------------------------------------------------------------------------------


def init_audit_worker(profile: str, releases_dir: str | None, outputs: Outputs | None = None) -> None:
    """Load the ruleset of ``profile`` with the imported CMS releases of ``releases_dir`` (each process its own
    SQLite connection, opened after the fork), as ``infucode audit`` does; ``outputs``: what each chunk is
    rendered into."""
    from infucode.reference.releases import ReleaseStore
    from infucode.ruleset import load_ruleset

    if _STATE.get("releases") is not None:
        _STATE["releases"].close()
    _STATE.clear()
    store = _STATE["releases"] = ReleaseStore(releases_dir)
    _STATE["ruleset"] = load_ruleset(profile).with_releases(store)
    _STATE["outputs"] = outputs or Outputs()


def audit_chunk(task: tuple, outputs: Outputs | None = None) -> tuple[int, AuditedChunk]:
    """One task -> ``(file index, the chunk audited and rendered)``. A task is ``("jsonl", file index, first
    line number, raw lines)`` or ``("claims", file index, [(Claim or AuditError, line)])``; ``outputs``:
    what to make of it (default: those :func:`audit_worker` was given)."""
    return task[1], render_chunk(_audited(task, _STATE["ruleset"]), outputs or _STATE["outputs"])


def audit_worker(profile: str, releases_dir: str | None, outputs: Outputs | None = None) -> ChunkWorker:
    """The worker that audits claims under ``profile`` with the releases of ``releases_dir`` into ``outputs``."""
    return ChunkWorker(init_audit_worker, (profile, releases_dir, outputs or Outputs()), audit_chunk)


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
        if format_of(path, "claims") == "jsonl":
            yield from _json_lines_tasks(index, path, size)
        else:
            yield from _claims_tasks(index, path, size)


def audit_files(files: Sequence[Path], on_result: Callable[[Path, AuditResult | AuditError], None], *,
                profile: str, releases_dir: str | None, workers: int | None = None, progress: bool = False,
                chunk_claims: int = CHUNK_CLAIMS) -> int:
    """Audit every claim of ``files`` and call ``on_result(path, item)`` for each, in input order; returns
    the number of items. The arguments are :func:`audit_chunks`'."""

    def each(path: Path, chunk: AuditedChunk) -> None:
        for item in chunk.items or ():
            on_result(path, item)

    return audit_chunks(files, each, Outputs(), profile=profile, releases_dir=releases_dir, workers=workers,
                        progress=progress, chunk_claims=chunk_claims)


def audit_chunks(files: Sequence[Path], on_chunk: Callable[[Path, AuditedChunk], None], outputs: Outputs, *,
                 profile: str, releases_dir: str | None, workers: int | None = None, progress: bool = False,
                 chunk_claims: int = CHUNK_CLAIMS) -> int:
    """Audit every claim of ``files`` and call ``on_chunk(path, chunk)`` for each chunk, rendered into
    ``outputs``, in input order; returns the number of items. ``workers``: processes (None: all cores; 1,
    or an input of one chunk: in this process). ``progress``: a progress bar on stderr. ``releases_dir``:
    the directory of the imported CMS releases (``ReleaseStore.data_dir``), opened again in each worker."""
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

    def write(result: tuple[int, AuditedChunk]) -> None:
        nonlocal done
        index, chunk = result
        chunk.texts = tuple(_unspooled(text) for text in chunk.texts)
        on_chunk(files[index], chunk)
        done += chunk.count

    def advance(nbytes: int) -> None:
        if bar is not None:
            elapsed = time.perf_counter() - started
            bar.update(task_id, advance=nbytes, done=done, rate=done / elapsed if elapsed else 0.0)

    try:
        spooling = workers > 1 and bool(outputs.texts)
        with tempfile.TemporaryDirectory(prefix="infucode-audit-") if spooling else contextlib.nullcontext() as spool:
            if spool is not None:
                outputs = dataclasses.replace(outputs, spool=spool)
            run_in_order(_tasks(files, chunk_claims), audit_worker(profile, releases_dir, outputs), write,
                         workers=workers, advance=advance, one_task_here=True)
    finally:
        if bar is not None:
            bar.stop()
    return done
