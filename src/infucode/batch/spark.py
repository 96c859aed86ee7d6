"""Apache Spark: the same pure ``code_encounter``, and the batch's own chunk workers, on a Spark DataFrame.

- ``code_administrations(df)``: a DataFrame of administrations (one row each, the columns of
  ``adapters.flat``), grouped by ``encounter_id`` and coded with ``applyInPandas``; returns one row per
  charge line (``flat.LINE_COLUMNS``), an unreadable encounter as one row with its error.
- ``run_on_lines(df, worker, ...)``: any :class:`~infucode.batch.pool.ChunkWorker` (the worker function the
  local pool runs) on a DataFrame of JSON Lines text (columns ``line`` number and ``value``), with
  ``mapInPandas``: each run of consecutive lines is one task ``("jsonl", first line number, raw lines)``.
- ``code_jsonl(df)``: ``run_on_lines`` with the batch's coding worker (:mod:`infucode.batch.coding`);
  returns ``line``, ``status``, ``eid`` and ``payload`` (the JSON exactly as ``infucode code --format
  jsonl`` prints it).
- ``run_spark_batch(in_path, out_path, master)``: JSON Lines file in, JSON Lines file out, in input order,
  written by the single-machine batch's writer (duplicate ids, errors file): byte-identical to
  ``infucode batch`` by construction.

The ruleset is loaded once per Python worker process (a worker's ``init`` runs once), never per row or group.
Known traps: PYSPARK_PYTHON must point at this interpreter (set here when unset), and pandas must
stay in the range PySpark supports (pinned < 3 in pyproject).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..adapters.input_limits import MAX_LINE_BYTES
from .coding import code_chunk, init_coding_worker
from .pool import ChunkWorker

_RULESETS: dict = {}
#: The worker whose ``init`` has run in this Python process (Spark reuses its Python workers).
_STARTED: dict[str, Any] = {}


def _ruleset(profile: str):
    rs = _RULESETS.get(profile)
    if rs is None:
        from ..ruleset import load_ruleset
        rs = _RULESETS[profile] = load_ruleset(profile)
    return rs


def _line_schema():
    from pyspark.sql.types import DoubleType, IntegerType, LongType, StringType, StructField, StructType
    types = {"line_index": LongType(), "units": IntegerType(), "wrvu": DoubleType()}
    from ..adapters.flat import LINE_COLUMNS
    return StructType([StructField(c, types.get(c, StringType()), True) for c in LINE_COLUMNS])


def _code_group(profile: str):
    def code_group(pdf):
        import pandas as pd

        from ..engine import code_encounter
        from ..model import InputError
        from ..adapters.flat import LINE_COLUMNS, encounter_from_rows, line_rows

        order = "seq" if "seq" in pdf.columns else "administration_id"
        records = pdf.sort_values(order, kind="stable").to_dict("records")
        try:
            item = code_encounter(encounter_from_rows(records), _ruleset(profile))
        except InputError as exc:
            exc.encounter = exc.encounter or (None if not records else str(records[0].get("encounter_id")))
            item = exc.to_result()
        return pd.DataFrame(line_rows(item), columns=list(LINE_COLUMNS))
    return code_group


def code_administrations(df, profile: str = "medicare"):
    """Code a DataFrame of administrations grouped by encounter; one output row per charge line."""
    return df.groupBy("encounter_id").applyInPandas(_code_group(profile), schema=_line_schema())


def _start(worker: ChunkWorker) -> None:
    """Run ``worker.init`` once in this Python process (again only for another worker or other arguments)."""
    key = (worker.init.__module__, worker.init.__qualname__, repr(worker.initargs))
    if _STARTED.get("key") != key:
        worker.init(*worker.initargs)
        _STARTED["key"] = key


def run_on_lines(df, worker: ChunkWorker, rows_of: Callable[[Any], Iterable[tuple]], columns: tuple[str, ...],
                 schema: str):
    """``worker`` on a DataFrame of JSON Lines (``line`` number, ``value`` text), with ``mapInPandas``: each
    run of consecutive lines in a batch is one task ``("jsonl", first line number, raw lines)`` (a line
    over the line limit is None, as the local readers give it); ``rows_of(result)`` gives the result's
    output rows, one value per name in ``columns``, of the Spark ``schema``."""
    def on_batches(batches):
        import pandas as pd

        _start(worker)
        for pdf in batches:
            numbers, values = pdf["line"].tolist(), pdf["value"].tolist()
            out: dict[str, list] = {name: [] for name in columns}
            start = 0
            for end in range(1, len(numbers) + 1):
                if end < len(numbers) and numbers[end] == numbers[end - 1] + 1:
                    continue
                raws = [None if len(v.encode()) > MAX_LINE_BYTES else v.encode() for v in values[start:end]]
                for row in rows_of(worker.work(("jsonl", int(numbers[start]), raws))):
                    for name, value in zip(columns, row):
                        out[name].append(value)
                start = end
            yield pd.DataFrame(out)
    return df.mapInPandas(on_batches, schema=schema)


def _init_coding_on_executor(profile: str, policies: dict[str, str] | None, releases_file: str | None) -> None:
    """The coding worker's init on a Spark executor: the releases database is the copy Spark shipped there."""
    shipped = None
    if releases_file is not None:
        from pyspark import SparkFiles
        shipped = SparkFiles.get(releases_file)
    init_coding_worker(profile, policies, "jsonl", releases_file=shipped)


def _coded_records(result: tuple) -> list[tuple]:
    return result[0]  # (line, status, encounter id, payload) per encounter


def code_jsonl(df, profile: str = "medicare", releases_file: str | None = None, policies: dict[str, str] | None = None):
    """Code a DataFrame of JSON Lines (`line` number, `value` text); returns `line`, `status` (0 coded, 1 the
    engine refused it, 2 unreadable), `eid` (the encounter id, when read) and `payload` (the result or error
    record, as bytes: exactly what ``infucode code --format jsonl`` / the errors file holds).
    ``releases_file``: the imported CMS releases database's file name, shipped to the executors with
    ``SparkContext.addFile`` (see :func:`run_spark_batch`)."""
    worker = ChunkWorker(_init_coding_on_executor, (profile, policies, releases_file), code_chunk)
    return run_on_lines(df, worker, _coded_records, ("line", "status", "eid", "payload"),
                        "line long, status int, eid string, payload binary")


def spark_session(master: str | None = None):
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession
    builder = (SparkSession.builder.appName("infucode").master(master or "local[*]")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.driver.host", "127.0.0.1"))
    return builder.getOrCreate()


def _ship(spark, database: Path) -> str:
    """Send the releases database to every executor under a name of its own (Spark refuses one file name
    for two paths in a session): a hard link, else a copy, named by the database's path, size and time."""
    import hashlib
    import shutil
    import tempfile

    st = database.stat()
    tag = hashlib.blake2b(f"{database.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode(), digest_size=8).hexdigest()
    name = f"infucode-releases-{tag}.sqlite3"
    shipped = Path(tempfile.gettempdir()) / name
    if not shipped.exists():
        try:
            os.link(database, shipped)
        except OSError:
            shutil.copyfile(database, shipped)
    spark.sparkContext.addFile(str(shipped))
    return name


def run_spark_batch(in_path: str | Path, out_path: str | Path, *, master: str | None = None,
                    profile: str = "medicare", chunk_lines: int = 2000, releases: str | None = None,
                    summary: str | Path | None = None, policies: dict[str, str] | None = None) -> tuple[int, int]:
    """JSON Lines in, JSON Lines out in input order, as `infucode batch` writes it (the same writer: results
    in OUT, unreadable encounters and duplicate ids in OUT.errors.jsonl). Returns (coded, failed).
    ``releases``: a directory of imported CMS releases (``batch.runner.releases_dir``); its database is
    shipped to every executor, so a cluster needs no shared file system. ``summary``: also write the batch
    summary there (``batch.summary``; the driver reads it from the results as they arrive)."""
    from .errors import BatchError, BatchOutputError
    from .seen_ids import hash_ids
    from .sink import ResultSink, errors_path
    from ..reference.releases import DATABASE_NAME

    tally = None
    if summary is not None:
        import msgspec

        from .summary import CodingSummary, check_summary_path, contribution, write_summary_output
        from ..model import Result

        summary = check_summary_path(summary)  # before Spark starts
        tally = CodingSummary()
    from ..adapters.output_files import AtomicOutputs, OutputWriteError, SameFileError, interrupts_as_exceptions, refuse_inputs_as_outputs

    outputs = [Path(out_path), errors_path(out_path)] + ([Path(summary)] if summary is not None else [])
    try:
        refuse_inputs_as_outputs(outputs, [in_path])
    except SameFileError as exc:
        raise BatchError(str(exc)) from None
    spark = spark_session(master)
    releases_file = None
    if releases is not None:
        releases_file = _ship(spark, Path(releases) / DATABASE_NAME)
    text = spark.read.text(str(in_path)).rdd.zipWithIndex().map(lambda r: (r[1] + 1, r[0].value))
    df = spark.createDataFrame(text, "line long, value string")
    files = AtomicOutputs()  # written beside OUT, renamed into place when complete (see output_files)
    try:
        sink = ResultSink(Path(out_path), "jsonl", check_duplicates=True, summary=tally, files=files)
        if summary is not None:
            files.add(summary)
    except OutputWriteError as exc:
        raise BatchError(str(exc)) from None
    records: list = []

    def flush() -> None:
        counted = None
        if tally is not None:
            shares = {i: contribution(msgspec.json.decode(r[3], type=Result)) for i, r in enumerate(records) if r[1] == 0}
            chunk = CodingSummary()
            for share in shares.values():
                chunk.add(share)
            counted = (chunk, shares)
        sink.write((records, hash_ids([r[2] for r in records if r[2] is not None]), None, counted))
        records.clear()

    try:
        with interrupts_as_exceptions():
            for row in code_jsonl(df, profile, releases_file, policies).orderBy("line").toLocalIterator():
                records.append((row.line, row.status, row.eid, bytes(row.payload)))
                if len(records) >= chunk_lines:
                    flush()
            flush()
            if tally is not None:
                tally.failed = sink.failed
                write_summary_output(files, summary, tally, source=Path(in_path).name,
                                     errors_file=sink.errors_file.name if sink.failed else None)
            sink.commit()
    except OutputWriteError as exc:
        raise BatchOutputError(f"{exc}; no output was written") from None
    finally:
        if not files.committed:
            sink.discard()
    return sink.coded, sink.failed
