"""Coding a large file of encounters on every core, streaming, in input order.

``run_batch(IN, OUT)`` reads IN in chunks (:mod:`~infucode.batch.chunks`), sends each chunk to the
worker pool (:mod:`~infucode.batch.pool`; each worker loads the ruleset once, :mod:`~infucode.batch.coding`),
and writes the results as they come back, in input order (:mod:`~infucode.batch.sink`). Memory stays
flat: at most a few chunks per worker are in flight.

Input (the format follows the extension, or ``in_format``):

* JSON Lines: one encounter per line, read as ``infucode code`` reads it: blank lines are skipped,
  a UTF-8 BOM on line 1 is ignored, a line over :data:`~infucode.adapters.input_limits.MAX_LINE_BYTES`
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

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from infucode.adapters.output import FINDINGS_COLUMNS
from infucode.adapters.output_files import (
    AtomicOutputs,
    OutputWriteError,
    SameFileError,
    interrupts_as_exceptions,
    refuse_inputs_as_outputs,
)

from .chunks import IN_FORMATS, IN_SUFFIXES, OUT_FORMATS, OUT_SUFFIXES, check_input, csv_chunks, format_of, jsonl_chunks
from .coding import coding_worker
from .columns import validate_columns
from .errors import BatchError, BatchOutputError
from .pool import progress_bar, run_in_order
from .sink import ResultSink, errors_path, findings_path, output_paths

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


@dataclass(frozen=True, slots=True)
class BatchSummary:
    coded: int
    failed: int
    seconds: float
    errors_file: str | None = None


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
    fin = format_of(in_path, in_format, IN_SUFFIXES, IN_FORMATS, "in")
    fout = format_of(out_path, out_format, OUT_SUFFIXES, OUT_FORMATS, "out")
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
    outputs = output_paths(out_path, fout)
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
    size = check_input(in_path)
    source = None
    if fin == "parquet":
        from .parquet_io import ParquetInput

        source = ParquetInput(in_path, columns)

    files = AtomicOutputs()
    sink: ResultSink | None = None
    bar = None
    try:
        with interrupts_as_exceptions():
            try:  # an output that cannot even be created is a usage error (exit 2), not a failed run
                sink = ResultSink(out_path, fout, check_duplicates, CodingSummary() if summary is not None else None, files)
                if summary is not None:
                    files.open(summary, "wb").close()  # writable before hours of coding, not after
            except OutputWriteError as exc:
                raise BatchError(str(exc)) from None
            show = sys.stderr.isatty() if progress is None else progress
            bar = progress_bar(show, "coding", "encounters")
            task_id = bar.add_task("coding", total=size, done=0, rate=0.0) if bar else None
            if bar:
                bar.start()
            with open(in_path, "rb") as fh:
                if fin == "jsonl":
                    chunks = jsonl_chunks(fh, chunk_lines)
                elif fin == "csv":
                    chunks = csv_chunks(fh, chunk_lines, columns, in_path)
                else:
                    assert source is not None
                    chunks = source.chunks(chunk_lines, size)

                def advance(nbytes: int) -> None:
                    if bar is not None:
                        done = sink.coded + sink.failed
                        elapsed = time.perf_counter() - started
                        bar.update(task_id, advance=nbytes, done=done, rate=done / elapsed if elapsed else 0.0)

                worker = coding_worker(profile, policies, fout, releases, with_summary=summary is not None)
                run_in_order(chunks, worker, sink.write, workers=workers, advance=advance)
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
