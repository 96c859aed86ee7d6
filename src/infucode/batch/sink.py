"""Writing a batch's results in input order: the output, the findings beside it, the errors file, and
the duplicate-id check (:class:`ResultSink`), with the paths of those files.

Every file goes through :class:`~infucode.adapters.output_files.AtomicOutputs`: written beside its
final path and renamed into place by :meth:`ResultSink.commit` (OUT last).
"""
from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import msgspec

from infucode.adapters.output import CSV_COLUMNS, FINDINGS_COLUMNS
from infucode.adapters.output_files import AtomicOutputs, OutputWriteError
from infucode.model import InputError

from .coding import OK

__all__ = ["ResultSink", "drop_rows", "errors_path", "findings_path", "output_paths"]


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


class ResultSink:
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
        from .seen_ids import SeenIds  # numpy: imported by the batch only, not by every `infucode` command

        self.seen: SeenIds | None = SeenIds() if check_duplicates else None
        self.coded = 0
        self.failed = 0
        if out_format == "parquet":
            from .parquet_io import FINDINGS_SCHEMA, LINES_SCHEMA, ParquetTableWriter  # pyarrow: only for Parquet

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
                    if status == OK and batches is not None:
                        dropped.append(i)
                    if status == OK and self.summary is not None and counted is not None:
                        self.summary.add(counted[1][i], -1)  # not in the output: not in the summary
                    continue
            if status != OK:
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
                lines, found = drop_rows(records, dropped, lines, found)
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


def drop_rows(records: list, dropped: list[int], lines: Any, found: Any) -> tuple[list, list]:
    """The Parquet rows of a chunk without those of the ``dropped`` records (duplicate ids), as
    slices (no ``pyarrow.compute``: its first use costs every process about 45 MB)."""
    gone = set(dropped)
    keep_lines: list = []
    keep_found: list = []
    at_line = at_found = 0
    for i, (_number, status, _eid, payload) in enumerate(records):
        if status != OK:
            continue
        n_lines, n_found = payload
        if i not in gone:
            keep_lines.append(lines.slice(at_line, n_lines))
            keep_found.append(found.slice(at_found, n_found))
        at_line += n_lines
        at_found += n_found
    return keep_lines, keep_found


def output_paths(out_path: Path, fout: str) -> list[Path]:
    """Every file a batch writes to ``out_path`` in format ``fout`` (the summary aside)."""
    paths = [out_path, errors_path(out_path)]
    if fout in ("csv", "parquet"):
        paths.append(findings_path(out_path, fout))
    return paths
