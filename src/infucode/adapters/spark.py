"""Apache Spark adapter: the same pure ``code_encounter`` on a Spark DataFrame.

- ``code_administrations(df)``: a DataFrame of administrations (one row each, the columns of
  ``adapters.flat``), grouped by ``encounter_id`` and coded with ``applyInPandas``; returns one row per
  charge line (``flat.LINE_COLUMNS``), an unreadable encounter as one row with its error.
- ``code_jsonl(df)``: a DataFrame of JSON Lines text (columns ``line`` number and ``value``) coded with
  ``mapInPandas`` by the single-machine batch's own worker function; returns ``line``, ``status``,
  ``eid`` and ``payload`` (the JSON exactly as ``infucode code --format jsonl`` prints it).
- ``run_spark_batch(in_path, out_path, master)``: JSON Lines file in, JSON Lines file out, in input order,
  written by the single-machine batch's writer (duplicate ids, errors file): byte-identical to
  ``infucode batch`` by construction.

The ruleset is loaded once per Python worker process (module-level cache), never per row or group.
Known traps: PYSPARK_PYTHON must point at this interpreter (set here when unset), and pandas must
stay in the range PySpark supports (pinned < 3 in pyproject).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

_RULESETS: dict = {}


def _ruleset(profile: str):
    rs = _RULESETS.get(profile)
    if rs is None:
        from ..ruleset import load_ruleset
        rs = _RULESETS[profile] = load_ruleset(profile)
    return rs


def _line_schema():
    from pyspark.sql.types import DoubleType, IntegerType, LongType, StringType, StructField, StructType
    types = {"line_index": LongType(), "units": IntegerType(), "wrvu": DoubleType()}
    from .flat import LINE_COLUMNS
    return StructType([StructField(c, types.get(c, StringType()), True) for c in LINE_COLUMNS])


def _code_group(profile: str):
    def code_group(pdf):
        import pandas as pd

        from ..engine import code_encounter
        from ..model import InputError
        from .flat import LINE_COLUMNS, encounter_from_rows, line_rows

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


def _code_lines(profile: str, releases_file: str | None = None, policies: dict[str, str] | None = None):
    """mapInPandas over (line, value) batches: each run of consecutive lines is coded by the local batch's
    own worker function, so reading, coding, encoding and error records are the same code, not a copy.
    ``releases_file``: the name of the imported CMS releases database shipped with ``SparkContext.addFile``."""
    def code_lines(batches):
        import pandas as pd

        from ..batch import runner

        key = (profile, releases_file, tuple(sorted((policies or {}).items())))
        if runner._STATE.get("spark_key") != key:
            shipped = None
            if releases_file is not None:
                from pyspark import SparkFiles
                shipped = SparkFiles.get(releases_file)
            runner._init_worker(profile, policies, "jsonl", releases_file=shipped)
            runner._STATE["spark_key"] = key
        for pdf in batches:
            numbers, values = pdf["line"].tolist(), pdf["value"].tolist()
            out: dict[str, list] = {"line": [], "status": [], "eid": [], "payload": []}
            start = 0
            for end in range(1, len(numbers) + 1):
                if end < len(numbers) and numbers[end] == numbers[end - 1] + 1:
                    continue
                raws = [None if len(v.encode()) > runner.MAX_LINE_BYTES else v.encode() for v in values[start:end]]
                records, _hashes, _, _ = runner._code_chunk(("jsonl", int(numbers[start]), raws))
                for number, status, eid, payload in records:
                    out["line"].append(number)
                    out["status"].append(status)
                    out["eid"].append(eid)
                    out["payload"].append(payload)
                start = end
            yield pd.DataFrame(out)
    return code_lines


def code_jsonl(df, profile: str = "medicare", releases_file: str | None = None, policies: dict[str, str] | None = None):
    """Code a DataFrame of JSON Lines (`line` number, `value` text); returns `line`, `status` (0 coded, 1 the
    engine refused it, 2 unreadable), `eid` (the encounter id, when read) and `payload` (the result or error
    record, as bytes: exactly what ``infucode code --format jsonl`` / the errors file holds).
    ``releases_file``: the imported CMS releases database's file name, shipped to the executors with
    ``SparkContext.addFile`` (see :func:`run_spark_batch`)."""
    return df.mapInPandas(_code_lines(profile, releases_file, policies),
                          schema="line long, status int, eid string, payload binary")


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
    from ..batch.errors import BatchError, BatchOutputError
    from ..batch.runner import _Sink, errors_path
    from ..batch.seen_ids import hash_ids
    from ..reference.releases import DATABASE_NAME

    tally = None
    if summary is not None:
        import msgspec

        from ..batch.summary import CodingSummary, check_summary_path, contribution, write_summary_output
        from ..model import Result

        summary = check_summary_path(summary)  # before Spark starts
        tally = CodingSummary()
    from .output_files import AtomicOutputs, OutputWriteError, SameFileError, interrupts_as_exceptions, refuse_inputs_as_outputs

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
        sink = _Sink(Path(out_path), "jsonl", check_duplicates=True, summary=tally, files=files)
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
