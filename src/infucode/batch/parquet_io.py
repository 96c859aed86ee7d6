"""Parquet for ``infucode batch``: administrations in (streamed), charge lines and findings out.

Input: the columns of a CSV of administrations (``infucode.adapters.flat.INPUT_COLUMNS``, after the
column mapping), one administration per row, grouped by consecutive ``encounter_id`` exactly like
the CSV reader groups them, across record-batch boundaries. The file is never read whole: the
parent reads record batches with :meth:`pyarrow.parquet.ParquetFile.iter_batches` (only the
columns it uses, buffered column-chunk reads), cuts them into chunks at encounter boundaries and
sends each chunk to a worker as Arrow IPC bytes; the worker turns each value into the text a CSV
export would hold and codes the encounter with ``encounter_from_rows``, so a typed Parquet file
gives the same encounters as the equivalent CSV:

* strings as they are; integers and decimals as digits; floats in their shortest form (``4.0`` ->
  ``4``, so an integer column that pandas stored as float because of missing values reads the
  same), NaN as a blank; booleans as ``true``/``false``;
* dates as ``YYYY-MM-DD``; times as ``HH:MM`` (``HH:MM:SS`` when there are seconds); timestamps as
  ISO 8601 (``2024-07-01T09:30``; a timestamp at midnight in the ``date`` column as its date);
* nulls as blanks. Any other type (lists, structs, binary...) is a usage error naming the column.

A value that does not fit its field (a text in a number column, a bad time) makes that encounter an
error record, as in a CSV; its ``line`` is the 1-based data row of the administration named by the
error's field (else of the encounter's first row).

Output: one row per charge line with the CSV output's columns (``units`` int32, ``wrvu`` float64,
the others strings; null where the CSV has an empty cell), and the findings with
``FINDINGS_COLUMNS`` (strings). Rows are written in row groups of exactly :data:`ROW_GROUP_ROWS`
rows (the last one shorter), so the file depends only on the input, not on the chunk size or the
number of workers; pyarrow writes no timestamps, so a re-run gives a byte-identical file (with the
same pyarrow version, which is recorded in the file's ``created_by``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from infucode.adapters.output import CSV_COLUMNS, FINDINGS_COLUMNS

from .columns import resolve_columns
from .errors import BatchError

__all__ = [
    "FINDINGS_SCHEMA",
    "LINES_SCHEMA",
    "ROW_GROUP_ROWS",
    "ParquetInput",
    "ParquetTableWriter",
    "parquet_groups",
    "rows_batch",
]

#: Rows per row group in the Parquet outputs.
ROW_GROUP_ROWS = 16_384
#: Bytes read at a time from one column chunk of the input (instead of the whole column chunk).
READ_BUFFER = 1 << 20

LINES_SCHEMA = pa.schema(
    [pa.field(c, pa.int32() if c == "units" else pa.float64() if c == "wrvu" else pa.string()) for c in CSV_COLUMNS]
)
FINDINGS_SCHEMA = pa.schema([pa.field(c, pa.string()) for c in FINDINGS_COLUMNS])


# --------------------------------------------------------------------------------------------
# Values -> the text a CSV export would hold
# --------------------------------------------------------------------------------------------


def _is_text(t: pa.DataType) -> bool:
    return (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or (hasattr(pa.types, "is_string_view") and pa.types.is_string_view(t))
    )


def _supported(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        return _supported(t.value_type)
    return (
        _is_text(t)
        or pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_decimal(t)
        or pa.types.is_null(t)
        or pa.types.is_date(t)
        or pa.types.is_time(t)
        or pa.types.is_timestamp(t)
    )


def _clock(value: time) -> str:
    if value.second or value.microsecond:
        return value.isoformat()
    return value.isoformat(timespec="minutes")


def _moment(value: datetime, date_only: bool) -> str:
    if date_only and value.time() == time(0) and value.tzinfo is None:
        return value.date().isoformat()
    if value.second or value.microsecond:
        return value.isoformat()
    return value.isoformat(timespec="minutes")


def _float(value: float) -> str | None:
    if value != value:  # NaN: a blank, as pandas writes a missing number
        return None
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def _texts(arr: pa.Array | pa.ChunkedArray, ours: str) -> list[str | None]:
    """One column's values as CSV-like text (None for a blank).

    Plain Python over ``to_pylist`` on purpose: the first call into ``pyarrow.compute`` builds its
    function registry, about 45 MB per process, which every worker would pay."""
    if isinstance(arr, pa.ChunkedArray):
        return [v for chunk in arr.chunks for v in _texts(chunk, ours)]
    t = arr.type
    if pa.types.is_dictionary(t):
        t = t.value_type  # to_pylist decodes
    if (pa.types.is_time64(t) or pa.types.is_timestamp(t)) and t.unit == "ns" and not pa.types.is_dictionary(arr.type):
        # whole microseconds (Python's datetime has no nanoseconds; to_pylist would want pandas)
        micros = [None if v is None else v // 1000 for v in arr.view(pa.int64()).to_pylist()]
        t = pa.time64("us") if pa.types.is_time64(t) else pa.timestamp("us", tz=t.tz)
        arr = column(micros, pa.int64()).view(t)
    values = arr.to_pylist()
    if _is_text(t) or pa.types.is_null(t):
        return values
    if pa.types.is_boolean(t):
        return [None if v is None else ("true" if v else "false") for v in values]
    if pa.types.is_floating(t):
        return [None if v is None else _float(v) for v in values]
    if pa.types.is_integer(t) or pa.types.is_decimal(t):
        return [None if v is None else str(v) for v in values]
    if pa.types.is_date(t):
        return [None if v is None else v.isoformat() for v in values]
    if pa.types.is_time(t):
        return [None if v is None else _clock(v) for v in values]
    if pa.types.is_timestamp(t):
        date_only = ours == "date"
        return [None if v is None else _moment(v, date_only) for v in values]
    raise TypeError(f"unsupported column type {t}")  # pragma: no cover - refused when the file is opened


def _ids(arr: pa.Array | pa.ChunkedArray) -> list[str]:
    """The encounter_id column as stripped text, blank for null: what rows are grouped by (as the
    CSV reader does)."""
    return ["" if v is None else v.strip() for v in _texts(arr, "encounter_id")]


def _group_starts(ids: list[str], previous: str | None) -> list[int]:
    """Where a new encounter starts: the id changes, or is blank (every blank-id row is its own
    encounter, as in the CSV reader). ``previous``: the last id of the batch before (None: the
    first row starts one)."""
    starts = []
    for i, eid in enumerate(ids):
        if eid != previous or not eid:  # the first row always starts one: "" != None
            starts.append(i)
        previous = eid
    return starts


# --------------------------------------------------------------------------------------------
# Reading (parent side: chunks; worker side: groups of row dicts)
# --------------------------------------------------------------------------------------------


class ParquetInput:
    """A Parquet file of administrations, checked and ready to be read in chunks."""

    def __init__(self, path: str | Path, columns: dict[str, str] | None = None) -> None:
        path = Path(path)
        try:
            self.file = pq.ParquetFile(path, buffer_size=READ_BUFFER, pre_buffer=False)
        except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
            raise BatchError(f"cannot read {path} as Parquet: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        try:
            self._check(path, columns)
        except BaseException:
            self.close()
            raise

    def _check(self, path: Path, columns: dict[str, str] | None) -> None:
        schema = self.file.schema_arrow
        header = list(schema.names)
        ours = resolve_columns(header, columns, f"the Parquet file {path}")
        self.read: list[str] = []  # the file's column names to read
        self.names: list[str] = []  # ours, in the same order
        bad = []
        for field, name in zip(schema, ours):
            if name is None:
                continue
            if not _supported(field.type):
                bad.append(f"{field.name} ({field.type})")
            self.read.append(field.name)
            self.names.append(name)
        if bad:
            raise BatchError(
                f"the Parquet file {path} has columns of a type infucode cannot read: {', '.join(bad)}; "
                "expected strings, numbers, booleans, dates, times or timestamps"
            )
        self.id_index = self.names.index("encounter_id")
        self.rows = self.file.metadata.num_rows
        if self.rows == 0:
            raise BatchError(f"input file has no rows: {path}")

    def close(self) -> None:
        self.file.close()

    def chunks(self, size: int, total_bytes: int) -> Iterator[tuple[tuple, int]]:
        """``(("parquet", first row, names, Arrow IPC bytes), approximate bytes read)`` per chunk of
        about ``size`` rows, cut only where an encounter starts."""
        names = tuple(self.names)
        per_row = total_bytes / max(self.rows, 1)
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        first_row = 1
        previous: str | None = None
        for batch in self.file.iter_batches(batch_size=size, columns=self.read, use_threads=False):
            n = batch.num_rows
            if n == 0:
                continue
            ids = _ids(batch.column(self.id_index))
            starts = _group_starts(ids, previous)
            previous = ids[-1]
            offset = 0
            for k in starts:
                if pending_rows + (k - offset) >= size and (k > offset or pending_rows):
                    if k > offset:
                        pending.append(batch.slice(offset, k - offset))
                    rows = pending_rows + (k - offset)
                    yield ("parquet", first_row, names, _ipc(pending, batch.schema)), round(rows * per_row)
                    first_row += rows
                    pending, pending_rows, offset = [], 0, k
            if offset < n:
                pending.append(batch.slice(offset))
                pending_rows += n - offset
        if pending_rows:
            yield ("parquet", first_row, names, _ipc(pending, pending[0].schema)), round(pending_rows * per_row)


def _ipc(batches: list[pa.RecordBatch], schema: pa.Schema) -> bytes:
    """Batches (possibly slices) as Arrow IPC stream bytes: only the sliced rows are copied, where
    pickling a slice would send its whole parent batch."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        for b in batches:
            writer.write_batch(b)
    return sink.getvalue().to_pybytes()


def parquet_groups(first_row: int, names: Sequence[str], data: bytes) -> list[tuple[range, list[dict]]]:
    """Worker side: a chunk's IPC bytes -> ``(data rows, row dicts)`` per encounter, the values as
    CSV-like text."""
    table = pa.ipc.open_stream(data).read_all()
    n = table.num_rows
    id_index = list(names).index("encounter_id")
    starts = _group_starts(_ids(table.column(id_index)), None)
    columns = [_texts(table.column(i), name) for i, name in enumerate(names)]
    keys = tuple(names)
    rows = [dict(zip(keys, values)) for values in zip(*columns)]
    bounds = starts + [n]
    return [(range(first_row + s, first_row + e), rows[s:e]) for s, e in zip(bounds, bounds[1:])]


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def column(values: Sequence[Any], kind: pa.DataType) -> pa.Array:
    """Python values (None for null) -> an Arrow array of type string, int32, int64 or float64,
    built from its buffers with numpy. ``pa.array()`` on Python objects would do, but its first
    call imports pandas when pandas is installed (about 55 MB more in every worker)."""
    n = len(values)
    valid = np.fromiter((v is not None for v in values), dtype=bool, count=n)
    nulls = n - int(np.count_nonzero(valid))
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
    if pa.types.is_string(kind):
        encoded = [b"" if v is None else v.encode("utf-8", "surrogatepass") for v in values]
        ends = np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=n))
        if n and ends[-1] >= 2**31:  # pragma: no cover - a chunk is a few MB
            raise ValueError("a string column over 2 GiB in one chunk")
        offsets = np.zeros(n + 1, dtype=np.int32)
        offsets[1:] = ends
        return pa.Array.from_buffers(kind, n, [bitmap, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))], null_count=nulls)
    dtype = {pa.int32(): np.int32, pa.int64(): np.int64, pa.float64(): np.float64}[kind]
    data = np.fromiter((0 if v is None else v for v in values), dtype=dtype, count=n)
    return pa.Array.from_buffers(kind, n, [bitmap, pa.py_buffer(data)], null_count=nulls)


def rows_batch(rows: list[tuple], schema: pa.Schema) -> pa.RecordBatch:
    """Row tuples (in ``schema``'s column order) -> one record batch."""
    columns = list(zip(*rows)) if rows else [()] * len(schema)
    return pa.RecordBatch.from_arrays([column(col, f.type) for col, f in zip(columns, schema)], schema=schema)


class ParquetTableWriter:
    """Appends record batches to a Parquet file in row groups of exactly ``group_rows`` rows."""

    def __init__(self, path: str | Path, schema: pa.Schema, group_rows: int | None = None) -> None:
        self.schema = schema
        self.group_rows = group_rows or ROW_GROUP_ROWS
        self.writer = pq.ParquetWriter(
            str(path),
            schema,
            compression="zstd",
            write_statistics=True,
            store_schema=True,
        )
        self.pending: list[pa.RecordBatch] = []
        self.pending_rows = 0
        self.rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        self.pending.append(batch)
        self.pending_rows += batch.num_rows
        while self.pending_rows >= self.group_rows:
            self._flush(self.group_rows)

    def _flush(self, n: int) -> None:
        table = pa.Table.from_batches(self.pending, schema=self.schema)
        # one contiguous chunk per column, so that pages do not depend on how the rows were batched
        self.writer.write_table(table.slice(0, n).combine_chunks(), row_group_size=n)
        rest = table.slice(n)
        self.pending = [b for b in rest.to_batches() if b.num_rows]
        self.pending_rows -= n
        self.rows += n

    def close(self) -> None:
        if self.pending_rows:
            self._flush(self.pending_rows)
        self.writer.close()
