"""One runner for every large job: chunks of work sent to a pool of worker processes, results written
back in input order.

A job gives a :class:`ChunkWorker` (a function run once in each worker process to load what it needs,
and a function from one task to its result) and an iterable of ``(task, bytes of input it covers)``;
:func:`run_in_order` calls ``write(result)`` for each task in the order the tasks came, whatever the
number of workers, so the output is the same for any ``workers``. Memory stays flat: at most three
tasks per worker are in flight. ``infucode batch`` (coding) and ``infucode audit`` (claims) run on it,
and the Spark path (:mod:`infucode.batch.spark`) runs the same ``ChunkWorker`` on Spark's executors.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["ChunkWorker", "progress_bar", "run_in_order", "worker_signals"]

#: Tasks in flight per worker: enough to keep every worker busy while the parent writes.
IN_FLIGHT_PER_WORKER = 3


@dataclass(frozen=True)
class ChunkWorker:
    """What a worker process runs: ``init(*initargs)`` once, then ``work(task)`` for each task.

    Both must be module-level functions (a pool sends them to its processes by name)."""

    init: Callable[..., None]
    initargs: tuple
    work: Callable[[Any], Any]


def _start_pool_worker(init: Callable[..., None], initargs: tuple) -> None:
    worker_signals()
    init(*initargs)
    # What init loaded (the rule tables) lives as long as the worker: move it out of the collector's sight,
    # so a full collection does not walk it again every few thousand records (5-10 % of the work).
    gc.collect()
    gc.freeze()


def worker_signals() -> None:
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


def run_in_order(tasks: Iterable[tuple[Any, int]], worker: ChunkWorker, write: Callable[[Any], None], *,
                 workers: int, advance: Callable[[int], None] | None = None, one_task_here: bool = False) -> None:
    """Run ``worker`` on every task and ``write`` the results in the order of ``tasks``.

    ``workers``: 1 runs everything in this process; more start a pool of that many processes (fork on
    Linux). ``advance(nbytes)`` is called after each result is written (a progress bar). With
    ``one_task_here``, an input of a single task is run in this process, without starting a pool (a
    small file is done before a pool would have started). On any exception the pool is terminated."""
    if workers < 1:
        raise ValueError(f"workers must be 1 or more, got {workers}")
    tasks = iter(tasks)
    if workers > 1 and one_task_here:
        first = next(tasks, None)
        second = next(tasks, None) if first is not None else None
        if second is None:
            workers = 1
        tasks = _chain(first, second, tasks)
    if workers == 1:
        worker.init(*worker.initargs)
        for task, nbytes in tasks:
            write(worker.work(task))
            if advance is not None:
                advance(nbytes)
        return
    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    pool = ctx.Pool(workers, initializer=_start_pool_worker, initargs=(worker.init, worker.initargs))
    try:
        inflight: deque[tuple[Any, int]] = deque()
        limit = workers * IN_FLIGHT_PER_WORKER
        for task, nbytes in tasks:
            inflight.append((pool.apply_async(worker.work, (task,)), nbytes))
            while len(inflight) >= limit:
                _write_next(inflight, write, advance)
        while inflight:
            _write_next(inflight, write, advance)
        pool.close()
        pool.join()
    finally:
        pool.terminate()


def _chain(first: Any, second: Any, rest: Iterable[Any]) -> Iterable[Any]:
    for item in (first, second):
        if item is not None:
            yield item
    yield from rest


def _write_next(inflight: deque, write: Callable[[Any], None], advance: Callable[[int], None] | None) -> None:
    pending, nbytes = inflight.popleft()
    write(pending.get())
    if advance is not None:
        advance(nbytes)


def progress_bar(enabled: bool, what: str, unit: str):
    """A rich progress bar on stderr (bytes of input read, ``unit`` done, rate, ETA), or None.

    Its task takes ``done`` and ``rate`` fields: ``bar.add_task(what, total=bytes, done=0, rate=0.0)``."""
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
        TextColumn(what),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[done]:,} " + unit + "  {task.fields[rate]:,.0f}/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
