"""Apache Spark adapter: the same pure ``code_encounter`` on a Spark DataFrame.

- ``code_administrations(df)``: a DataFrame of administrations (one row each, the columns of
  ``adapters.flat``), grouped by ``encounter_id`` and coded with ``applyInPandas``; returns one row per
  charge line (``flat.LINE_COLUMNS``), an unreadable encounter as one row with its error.
- ``code_jsonl(df)``: a DataFrame of JSON Lines text (columns ``line`` number and ``value``) coded with
  ``mapInPandas``; returns ``line`` and ``result`` (the JSON exactly as ``infucode code --format jsonl``
  prints it), so Spark's output can be compared byte for byte with the single-machine output.
- ``run_spark_batch(in_path, out_path, master)``: JSON Lines file in, JSON Lines file out, in input order.

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


def _code_lines(profile: str):
    def code_lines(batches):
        import msgspec
        import pandas as pd

        from ..engine import code_encounter
        from ..model import ErrorDetail, ErrorResult, InputError

        rs = _ruleset(profile)
        for pdf in batches:
            out, ok = [], []
            for line, value in zip(pdf["line"], pdf["value"]):
                try:
                    obj = msgspec.json.decode(value)
                    item = code_encounter(obj, rs)
                except msgspec.DecodeError:
                    item = ErrorResult(encounter=None, error=ErrorDetail(field=None, message="not valid JSON", line=int(line)))
                except InputError as exc:
                    exc.line = int(line)
                    item = exc.to_result()
                out.append(msgspec.json.encode(item).decode())
                ok.append(not isinstance(item, ErrorResult))
            yield pd.DataFrame({"line": pdf["line"], "result": out, "ok": ok})
    return code_lines


def code_jsonl(df, profile: str = "medicare"):
    """Code a DataFrame of JSON Lines (`line`, `value`); returns `line`, `result` (the JSON Lines output), `ok`."""
    return df.mapInPandas(_code_lines(profile), schema="line long, result string, ok boolean")


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


def run_spark_batch(in_path: str | Path, out_path: str | Path, *, master: str | None = None,
                    profile: str = "medicare") -> tuple[int, int]:
    """JSON Lines in, JSON Lines out in input order (blank lines skipped), as `infucode batch` writes it:
    results in OUT, unreadable encounters in OUT.errors.jsonl. Returns (coded, failed)."""
    spark = spark_session(master)
    text = spark.read.text(str(in_path)).rdd.zipWithIndex().map(lambda r: (r[1] + 1, r[0].value))
    df = spark.createDataFrame(text, "line long, value string").filter("trim(value) != ''")
    coded = failed = 0
    errors_path = Path(f"{out_path}.errors.jsonl")
    errors = None
    try:
        with open(out_path, "w", encoding="utf-8") as out:
            for row in code_jsonl(df, profile).orderBy("line").toLocalIterator():
                if row.ok:
                    out.write(row.result + "\n")
                    coded += 1
                else:
                    errors = errors or open(errors_path, "w", encoding="utf-8")
                    errors.write(row.result + "\n")
                    failed += 1
    finally:
        if errors is not None:
            errors.close()
    if errors is None and errors_path.exists():
        errors_path.unlink()  # a stale file from an earlier run
    return coded, failed
