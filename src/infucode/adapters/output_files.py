"""Output files that appear whole or not at all, shared by ``code -o``, ``batch`` and ``audit``.

A run writes each output (``OUT``, its ``.errors.jsonl`` and findings files, a summary) to a
temporary file beside it, named ``.OUT.partial-<pid>`` so that nobody takes it for a result, and
renames them into place only when the run is complete (the side files first, ``OUT`` last: when
``OUT`` exists, the run finished). An earlier run's outputs at those paths are removed when the run
starts, so a file at ``OUT`` is always the complete output of the latest run:

* an exception, Ctrl-C or SIGTERM (:func:`interrupts_as_exceptions`) removes the temporary files:
  no ``OUT``, no litter;
* SIGKILL or a power cut cannot be caught: at most a ``.OUT.partial-<pid>`` file stays, never ``OUT``;
* a full disk or an I/O error is an :class:`OutputWriteError` (one line, no traceback), and no ``OUT``.

:func:`refuse_inputs_as_outputs` stops a run before anything is opened for writing when an output
is one of its inputs (the same path, or the same file through a hard or symbolic link).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "EXIT_OUTPUT_FAILED",
    "AtomicOutputs",
    "Interrupted",
    "OutputWriteError",
    "SameFileError",
    "interrupted_status",
    "interrupts_as_exceptions",
    "partial_path",
    "refuse_inputs_as_outputs",
]

#: Exit status of a command whose output could not be written (disk full, I/O error).
EXIT_OUTPUT_FAILED = 4
PARTIAL_MARK = ".partial-"


class OutputWriteError(Exception):
    """An output could not be written; the message names the file and the system's reason."""


class SameFileError(ValueError):
    """An output is one of the inputs: a usage error, raised before anything is written."""


class Interrupted(KeyboardInterrupt):
    """SIGTERM (or SIGHUP) received: raised in the main thread so that cleanup runs, as for Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def interrupted_status(exc: KeyboardInterrupt) -> int:
    """The shell's status for a run stopped by a signal: 128 + its number (130 for Ctrl-C)."""
    return 128 + (exc.signum if isinstance(exc, Interrupted) else signal.SIGINT)


def interrupted_name(exc: KeyboardInterrupt) -> str:
    return signal.Signals(exc.signum).name if isinstance(exc, Interrupted) else "Ctrl-C (SIGINT)"


@contextlib.contextmanager
def interrupts_as_exceptions() -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP raise :class:`Interrupted` in the main thread (elsewhere: no
    change). Ctrl-C already raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: Any) -> None:
        raise Interrupted(signum)

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def partial_path(final: str | Path) -> Path:
    """``dir/OUT`` -> ``dir/.OUT.partial-<pid>``: beside it (a rename within one file system is atomic)."""
    p = Path(final)
    return p.with_name(f".{p.name}{PARTIAL_MARK}{os.getpid()}")


def refuse_inputs_as_outputs(outputs: Iterable[str | Path | None], inputs: Iterable[str | Path]) -> None:
    """SameFileError when an output is an input: the same path, or the same file (inode) through a
    hard or symbolic link. Outputs that do not exist yet cannot be an input."""
    ins = [Path(i) for i in inputs if str(i) != "-"]
    for out in outputs:
        if out is None or str(out) == "-":
            continue
        o = Path(out)
        for i in ins:
            same = o.resolve() == i.resolve()
            if not same:
                try:
                    same = os.path.samefile(o, i)
                except OSError:
                    same = False  # one of them does not exist
            if same:
                raise SameFileError(f"the output {o} is the input {i} (the same file); writing it would destroy the input")


def describe_os_error(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


class AtomicOutputs:
    """Outputs written under temporary names and renamed into place by :meth:`commit`.

    ``add(final)`` registers an output (and removes an earlier run's file there); ``open(final)``
    opens its temporary file; ``temp(final)`` is its temporary path for writers that take a path.
    Leaving the ``with`` block without ``commit()`` removes every temporary file."""

    def __init__(self) -> None:
        self._temps: dict[Path, Path] = {}
        self._open: list[IO[Any]] = []
        self.committed = False

    def __enter__(self) -> AtomicOutputs:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.committed:
            self.discard()

    def add(self, final: str | Path) -> Path:
        final = Path(final)
        if final not in self._temps:
            temp = partial_path(final)
            self._temps[final] = temp
            try:
                final.unlink(missing_ok=True)  # an earlier run's output must not pass for this run's
                temp.unlink(missing_ok=True)
            except IsADirectoryError:
                raise OutputWriteError(f"cannot write {final}: it is a directory") from None
            except OSError as exc:
                raise OutputWriteError(f"cannot write {final}: {describe_os_error(exc)}") from None
        return self._temps[final]

    def temp(self, final: str | Path) -> Path:
        return self.add(final)

    def open(self, final: str | Path, mode: str = "wb", **kwargs: Any) -> IO[Any]:
        temp = self.add(final)
        try:
            fh = open(temp, mode, **kwargs)  # noqa: SIM115 - closed by commit() or discard()
        except OSError as exc:
            raise OutputWriteError(f"cannot write {final}: {describe_os_error(exc)}") from None
        self._open.append(fh)
        return fh

    def commit(self) -> None:
        """Close, flush to disk and rename every temporary file into place, ``OUT`` (the first added)
        last. A full disk found now is an OutputWriteError, and nothing is renamed."""
        try:
            for fh in self._open:
                if not fh.closed:
                    fh.close()
            self._open.clear()
            present = [(final, temp) for final, temp in self._temps.items() if temp.exists()]
            for final, temp in present:
                fd = os.open(temp, os.O_RDONLY)
                try:
                    os.fsync(fd)  # a full disk can show only now (delayed allocation, network file systems)
                finally:
                    os.close(fd)
        except OSError as exc:
            self.discard()
            raise OutputWriteError(f"cannot write {self._name_of(exc)}: {describe_os_error(exc)}") from None
        for final, temp in reversed(present):
            os.replace(temp, final)
        self.committed = True
        for directory in {final.parent for final, _ in present}:
            with contextlib.suppress(OSError):
                fd = os.open(directory, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    def _name_of(self, exc: OSError) -> str:
        for final, temp in self._temps.items():
            if exc.filename and Path(exc.filename) == temp:
                return str(final)
        return str(next(iter(self._temps), "the output"))

    def discard(self) -> None:
        """Close and remove every temporary file (the final paths are left as they are)."""
        for fh in self._open:
            with contextlib.suppress(OSError):
                fh.close()
        self._open.clear()
        for temp in self._temps.values():
            with contextlib.suppress(OSError):
                temp.unlink(missing_ok=True)
