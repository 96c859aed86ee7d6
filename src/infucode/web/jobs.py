"""Coding and parsing off the event loop, bounded in number and abandoned at the request's time limit.

Each job runs in its own daemon thread, so a request that hangs in coding never blocks other requests
and never keeps the process alive after SIGTERM. The request's time limit (:class:`.guard.RequestGuard`)
cancels the wait; the thread cannot be killed, so it keeps its slot until it ends: at most
:data:`.limits.MAX_CONCURRENT_JOBS` jobs, runaway or not, use the CPU at once.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio

from .limits import MAX_CONCURRENT_JOBS

T = TypeVar("T")
_POLL_SECONDS = 0.02


class JobSlots:
    def __init__(self, size: int = MAX_CONCURRENT_JOBS):
        # A thread semaphore, not an asyncio one: it is released by the job's thread, whichever event loop
        # (uvicorn's, or one per test client request) is waiting.
        self._slots = threading.BoundedSemaphore(size)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a daemon thread; its exception is raised here."""
        while not self._slots.acquire(blocking=False):
            await anyio.sleep(_POLL_SECONDS)     # cancelled by the request's time limit while waiting
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()

        def settle(result, error) -> None:
            if future.done():                    # the request gave up (time limit, disconnect)
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)

        def work() -> None:
            result = error = None
            try:
                result = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the request's task
                error = exc
            finally:
                self._slots.release()
            try:
                loop.call_soon_threadsafe(settle, result, error)
            except RuntimeError:                 # the loop is gone: nobody waits for this result
                pass

        threading.Thread(target=work, name="infucode-job", daemon=True).start()
        return await future


__all__ = ["JobSlots"]
