"""infucode batch with Parquet: typed administrations in (streamed), charge lines and findings out."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from infucode.adapters.output import CSV_COLUMNS
from infucode.batch import BatchError, errors_path, findings_path, run_batch
from infucode.batch import parquet_io
from infucode.batch.cli import batch_app



@pytest.fixture(scope="module")
def flat(tmp_path_factory, generator) -> dict[str, Path]:
    """The same 400 generated encounters as JSON Lines, flat CSV and typed flat Parquet (row groups
    of ~100 encounters, so encounters and chunks meet row-group and record-batch boundaries)."""
    gen = generator
    d = tmp_path_factory.mktemp("flat")
    src = d / "in.jsonl"
    gen.write_jsonl(400, src, seed=45)  # a seed with 3 unreadable times
    gen.jsonl_to_flat(src, d / "in.csv", fmt="csv")
    gen.jsonl_to_flat(src, d / "in.parquet", fmt="parquet", batch=97)
    return {"jsonl": src, "csv": d / "in.csv", "parquet": d / "in.parquet"}


def test_generated_parquet_is_typed_and_streams_in_row_groups(flat):
    f = pq.ParquetFile(flat["parquet"])
    assert f.num_row_groups > 3
    types = dict(zip(f.schema_arrow.names, f.schema_arrow.types))
    assert types["minutes"] == pa.int64() and types["dose_value"] == pa.float64() and types["pump"] == pa.bool_()


@pytest.mark.parametrize(("workers", "chunk"), [(1, 5), (2, 64)])
def test_parquet_in_codes_like_csv_in_and_jsonl_in(tmp_path, flat, workers, chunk):
    outs = {}
    for kind in ("jsonl", "csv", "parquet"):
        out = tmp_path / f"{kind}.jsonl"
        summary = run_batch(flat[kind], out, workers=workers, chunk_lines=chunk, progress=False)
        outs[kind] = (out.read_bytes(), summary)
    assert outs["parquet"][0] == outs["csv"][0] == outs["jsonl"][0]
    assert (outs["parquet"][1].coded, outs["parquet"][1].failed) == (outs["csv"][1].coded, outs["csv"][1].failed)
    # the same errors; CSV counts the header as line 1, Parquet counts data rows from 1
    pe = [json.loads(x) for x in errors_path(tmp_path / "parquet.jsonl").read_bytes().splitlines()]
    ce = [json.loads(x) for x in errors_path(tmp_path / "csv.jsonl").read_bytes().splitlines()]
    assert pe and [(e["encounter"], e["error"]["field"], e["error"]["line"] + 1) for e in pe] == \
        [(e["encounter"], e["error"]["field"], e["error"]["line"]) for e in ce]
    # the row named is the administration's own row
    rows = pq.read_table(flat["parquet"], columns=["encounter_id", "administration_id"]).to_pylist()
    for e in pe:
        index = int(e["error"]["field"].split("[")[1].split("]")[0])
        row = rows[e["error"]["line"] - 1]
        assert row["encounter_id"] == e["encounter"] and row["administration_id"] == f"a{index + 1}"


HEADER = ("encounter_id", "setting", "date", "claim", "administration_id", "drug", "route", "start", "stop",
          "minutes", "pump", "primary", "volume_ml", "dose_value", "dose_unit")


def _csv(path: Path, rows: list[tuple]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(HEADER)
        w.writerows(rows)
    return path


def test_typed_columns_give_the_same_encounters_as_the_csv(tmp_path):
    """ints, floats (NaN too), bools, nulls, dictionary strings, dates, times, timestamps."""
    nan = float("nan")
    table = pa.table({
        "encounter_id": pa.array([101, 101, 102, 103, 103], pa.int64()),
        "setting": pa.array(["office", "office", "facility", "office", "office"]).dictionary_encode(),
        "date": pa.array([date(2024, 7, 1)] * 3 + [date(2024, 7, 2)] * 2, pa.date32()),
        "claim": pa.array([None, None, "facility", None, None], pa.string()),
        "administration_id": pa.array([1, 2, 1, 1, 2], pa.int32()),
        "drug": ["Gammagard", "diphenhydramine", "normal saline", "ceftriaxone", "ondansetron"],
        "route": ["iv_infusion", "iv_push", "iv_infusion", "iv_infusion", "iv_push"],
        "start": pa.array([datetime(2024, 7, 1, 8, 30), datetime(2024, 7, 1, 8, 20), datetime(2024, 7, 1, 9),
                           datetime(2024, 7, 2, 10), datetime(2024, 7, 2, 10, 45)], pa.timestamp("ns")),
        "stop": pa.array([time(12, 45), None, time(11, 30), time(10, 40), None], pa.time32("s")),
        "minutes": pa.array([None, None, None, None, None], pa.null()),
        "pump": pa.array([True, None, False, None, None], pa.bool_()),
        "primary": pa.array([1, 0, None, None, None], pa.int8()),
        "volume_ml": pa.array([nan, nan, 1000.0, nan, nan], pa.float64()),
        "dose_value": pa.array([30.0, 25.0, None, 1000.0, 4.5], pa.float32()),
        "dose_unit": ["g", "mg", None, "mg", "mg"],
    })
    pq.write_table(table, tmp_path / "typed.parquet", row_group_size=2)
    _csv(tmp_path / "plain.csv", [
        ("101", "office", "2024-07-01", "", "1", "Gammagard", "iv_infusion", "2024-07-01T08:30", "12:45", "", "true", "1", "", "30", "g"),
        ("101", "office", "2024-07-01", "", "2", "diphenhydramine", "iv_push", "2024-07-01T08:20", "", "", "", "0", "", "25", "mg"),
        ("102", "facility", "2024-07-01", "facility", "1", "normal saline", "iv_infusion", "2024-07-01T09:00", "11:30", "", "false", "", "1000", "", ""),
        ("103", "office", "2024-07-02", "", "1", "ceftriaxone", "iv_infusion", "2024-07-02T10:00", "10:40", "", "", "", "", "1000", "mg"),
        ("103", "office", "2024-07-02", "", "2", "ondansetron", "iv_push", "2024-07-02T10:45", "", "", "", "", "", "4.5", "mg"),
    ])
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert run_batch(tmp_path / "typed.parquet", a, workers=1, chunk_lines=1, progress=False).failed == 0
    run_batch(tmp_path / "plain.csv", b, workers=1, progress=False)
    assert a.read_bytes() == b.read_bytes()
    results = [json.loads(x) for x in a.read_bytes().splitlines()]
    assert [r["encounter"] for r in results] == ["101", "102", "103"]
    assert ("96365", 1) in [(l["code"], l["units"]) for l in results[0]["lines"]]


def test_values_become_the_text_a_csv_would_hold():
    texts = parquet_io._texts
    assert texts(pa.array([4.0, 4.5, float("nan"), None, 1e20]), "dose_value") == ["4", "4.5", None, None, "1e+20"]
    assert texts(pa.array([True, False, None]), "pump") == ["true", "false", None]
    assert texts(pa.array([7, None], pa.uint16()), "minutes") == ["7", None]
    assert texts(pa.array([time(9, 5), time(9, 5, 30)]), "start") == ["09:05", "09:05:30"]
    assert texts(pa.array([datetime(2024, 7, 1), datetime(2024, 7, 1, 9, 5)], pa.timestamp("s")), "date") == \
        ["2024-07-01", "2024-07-01T09:05"]
    assert texts(pa.array([datetime(2024, 7, 1)], pa.timestamp("us", tz="UTC")), "start") == ["2024-07-01T00:00+00:00"]
    assert texts(pa.array([date(2024, 7, 1)], pa.date64()), "date") == ["2024-07-01"]
    assert texts(pa.array(["a", None, "a"]).dictionary_encode(), "drug") == ["a", None, "a"]
    assert texts(pa.array([None, None], pa.null()), "drug") == [None, None]
    assert texts(pa.chunked_array([pa.array([" x "]), pa.array(["y"])]), "drug") == [" x ", "y"]


def test_bad_typed_values_go_to_the_errors_file_with_id_and_row(tmp_path):
    table = pa.table({
        "encounter_id": ["e1", "e2", "e2", "e3", "e4", "e5", "e6"],
        "setting": ["office"] * 7,
        "date": ["2024-07-01"] * 7,
        "administration_id": ["a1", "a1", "a2", "a1", "a1", "a1", "a1"],
        "drug": ["ceftriaxone"] * 7,
        "route": ["iv_infusion"] * 7,
        "start": ["10:00", "10:00", "11:00", "25:70", "2024-07-01T10:00", "10:00", "10:00"],
        "stop": ["10:40", "10:40", "11:40", "11:00", "2024-07-01T09:00", "10:40", "10:40"],
        "dose_value": ["1000", "1000", "lots", "1000", "1000", "1000", "1000"],  # a text in a number column
        "dose_unit": ["mg"] * 7,
        "pump": ["true", "false", "false", "false", "false", "maybe", "false"],  # not a boolean
        "minutes": pa.array([None, None, None, None, None, None, 2.5], pa.float64()),
    })
    src = tmp_path / "bad.parquet"
    pq.write_table(table, src)
    out = tmp_path / "out.jsonl"
    summary = run_batch(src, out, workers=2, chunk_lines=2, progress=False)
    errors = [json.loads(x) for x in errors_path(out).read_bytes().splitlines()]
    assert [(e["encounter"], e["error"]["field"], e["error"]["line"]) for e in errors] == [
        ("e2", "administrations[1].dose_value", 3),
        ("e3", "administrations[0].start", 4),
        ("e5", "administrations[0].pump", 6),
    ]
    assert "expected a number" in errors[0]["error"]["message"]
    # a stop before its start (full date-times) is coded, with an error finding and no line for it
    coded = {r["encounter"]: r for r in map(json.loads, out.read_bytes().splitlines())}
    assert (summary.coded, summary.failed) == (3, 3) and list(coded) == ["e1", "e4", "e6"]
    assert [f["rule"] for f in coded["e4"]["findings"]] == ["doc.stop_before_start"]
    assert coded["e6"]["lines"]  # minutes 2.5 -> 2, as from a CSV "2.5"


def test_parquet_output_equals_the_csv_output(tmp_path, flat):
    pout, cout = tmp_path / "lines.parquet", tmp_path / "lines.csv"
    run_batch(flat["jsonl"], pout, workers=2, chunk_lines=50, progress=False)
    run_batch(flat["jsonl"], cout, workers=1, progress=False)
    table = pq.read_table(pout)
    assert tuple(table.column_names) == CSV_COLUMNS
    assert table.schema.field("units").type == pa.int32() and table.schema.field("wrvu").type == pa.float64()
    assert table.schema.field("code").type == pa.string()

    def cell(name, value):
        if value is None:
            return ""
        return f"{value:.2f}" if name == "wrvu" else str(value)

    rows = [[cell(c, v) for c, v in zip(table.column_names, r.values())] for r in table.to_pylist()]
    assert rows == list(csv.reader(io.StringIO(cout.read_text(encoding="utf-8"))))[1:]
    found = pq.read_table(findings_path(pout))
    assert findings_path(pout).name == "lines.findings.parquet"
    assert [list(r.values()) for r in found.to_pylist()] == \
        list(csv.reader(io.StringIO(findings_path(cout).read_text(encoding="utf-8"))))[1:]


def test_parquet_output_is_byte_identical_across_runs_workers_and_chunks(tmp_path, flat, monkeypatch):
    monkeypatch.setattr(parquet_io, "ROW_GROUP_ROWS", 300)  # several row groups
    outs = []
    for i, (src, workers, chunk) in enumerate([(flat["jsonl"], 2, 50), (flat["jsonl"], 2, 50), (flat["parquet"], 1, 7),
                                               (flat["csv"], 2, 333)]):
        out = tmp_path / f"run{i}.parquet"
        run_batch(src, out, workers=workers, chunk_lines=chunk, progress=False)
        outs.append((out.read_bytes(), findings_path(out).read_bytes()))
    assert all(o == outs[0] for o in outs[1:])
    meta = pq.ParquetFile(tmp_path / "run0.parquet").metadata
    assert meta.num_row_groups > 2 and all(meta.row_group(i).num_rows == 300 for i in range(meta.num_row_groups - 1))


def test_empty_result_set_is_a_valid_parquet_file(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "e1", "setting": "clinic", "administrations": []}\n{"id": "e2"}\n', encoding="utf-8")
    out = tmp_path / "out.parquet"
    summary = run_batch(src, out, workers=1, progress=False)
    assert (summary.coded, summary.failed) == (0, 2)
    for path, schema in ((out, parquet_io.LINES_SCHEMA), (findings_path(out), parquet_io.FINDINGS_SCHEMA)):
        table = pq.read_table(path)
        assert table.num_rows == 0 and table.schema.equals(schema)


def test_duplicate_ids_in_parquet_are_dropped_from_the_parquet_output(tmp_path):
    rows = []
    for eid in ("d1", "d2", "d1", "d3", "d2"):  # d1 and d2 come back later: duplicates
        rows += [{"encounter_id": eid, "setting": "office", "date": "2024-07-01", "administration_id": "a1",
                  "drug": "ceftriaxone", "route": "iv_infusion", "start": "10:00", "stop": "10:40"},
                 {"encounter_id": eid, "setting": "office", "date": "2024-07-01", "administration_id": "a2",
                  "drug": "ondansetron", "route": "iv_push", "start": "10:50"}]
    src = tmp_path / "dup.parquet"
    pq.write_table(pa.Table.from_pylist(rows), src)
    out = tmp_path / "out.parquet"
    summary = run_batch(src, out, workers=2, chunk_lines=3, progress=False)
    assert (summary.coded, summary.failed) == (3, 2)
    assert list(dict.fromkeys(pq.read_table(out).column("encounter").to_pylist())) == ["d1", "d2", "d3"]
    assert len(pq.read_table(out).to_pylist()) == 3 * len([r for r in pq.read_table(out).to_pylist() if r["encounter"] == "d1"])
    errors = [json.loads(x) for x in errors_path(out).read_bytes().splitlines()]
    assert [(e["encounter"], e["error"]["line"]) for e in errors] == [("d1", 5), ("d2", 9)]
    assert all("duplicate encounter id" in e["error"]["message"] for e in errors)


def test_an_encounter_longer_than_a_chunk_stays_whole(tmp_path):
    rows = [{"encounter_id": "big", "setting": "facility", "date": "2024-07-01", "administration_id": f"a{i}",
             "drug": "ondansetron", "route": "iv_push", "start": f"{8 + i:02d}:00"} for i in range(10)]
    rows.append({"encounter_id": "small", "setting": "office", "date": "2024-07-01", "administration_id": "a1",
                 "drug": "ondansetron", "route": "iv_push", "start": "09:00"})
    src = tmp_path / "big.parquet"
    pq.write_table(pa.Table.from_pylist(rows), src, row_group_size=3)
    out = tmp_path / "out.jsonl"
    assert run_batch(src, out, workers=1, chunk_lines=2, progress=False).coded == 2
    first = json.loads(out.read_bytes().splitlines()[0])
    assert first["encounter"] == "big"
    assert sorted(a for l in first["lines"] if l["kind"] == "administration" for a in l["administrations"]) == \
        sorted(f"a{i}" for i in range(10))


def test_parquet_usage_errors(tmp_path):
    empty = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"encounter_id": pa.array([], pa.string()), "setting": pa.array([], pa.string())}), empty)
    with pytest.raises(BatchError, match="no rows"):
        run_batch(empty, tmp_path / "o.jsonl", workers=1)
    assert not (tmp_path / "o.jsonl").exists()

    no_id = tmp_path / "no_id.parquet"
    pq.write_table(pa.table({"VISIT_KEY": ["e1"], "setting": ["office"]}), no_id)  # not ours nor a synonym (ENCOUNTER is)
    with pytest.raises(BatchError, match="no encounter_id column"):
        run_batch(no_id, tmp_path / "o.jsonl", workers=1)

    nested = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"encounter_id": ["e1"], "drug": pa.array([["a", "b"]])}), nested)
    with pytest.raises(BatchError, match=r"drug \(list<"):
        run_batch(nested, tmp_path / "o.jsonl", workers=1)

    fake = tmp_path / "fake.parquet"
    fake.write_text("encounter_id\ne1\n")
    with pytest.raises(BatchError, match="as Parquet"):
        run_batch(fake, tmp_path / "o.parquet", workers=1)
    assert not (tmp_path / "o.parquet").exists() and not (tmp_path / "o.findings.parquet").exists()

    runner = CliRunner()
    for src, needle in ((empty, "no rows"), (no_id, "encounter_id")):
        res = runner.invoke(batch_app, [str(src), str(tmp_path / "o.parquet"), "--workers", "1"])
        assert res.exit_code == 2 and needle in res.output, res.output
    assert not (tmp_path / "o.parquet").exists()


def test_cli_parquet_in_and_out(tmp_path, flat):
    res = CliRunner().invoke(batch_app, [str(flat["parquet"]), str(tmp_path / "o.parquet"), "--workers", "2"])
    assert res.exit_code == 1, res.output  # the generator puts a few bad times in on purpose
    assert pq.read_table(tmp_path / "o.parquet").num_rows > 400
    res = CliRunner().invoke(batch_app, [str(flat["parquet"]), str(tmp_path / "o.data"), "--out-format", "parquet",
                                         "--in-format", "parquet", "--workers", "1"])
    assert res.exit_code == 1, res.output
    assert (tmp_path / "o.data").read_bytes() == (tmp_path / "o.parquet").read_bytes()
    assert (tmp_path / "o.findings.parquet").exists()


def test_columns_are_built_from_buffers_like_pa_array():
    for kind, values in ((pa.string(), ["a", None, "héllo", "", "\U0001f600"]), (pa.string(), []),
                         (pa.int32(), [1, None, -7, 2**31 - 1]), (pa.int64(), [None, None]),
                         (pa.float64(), [0.1, None, 1e300, -0.0]), (pa.float64(), [1.0, 2.5])):
        arr = parquet_io.column(values, kind)
        arr.validate(full=True)
        assert arr.type == kind and arr.to_pylist() == values and arr.null_count == values.count(None)


def test_parquet_batches_do_not_import_pandas(tmp_path, flat):
    """pa.array() on Python objects imports pandas when it is installed: ~55 MB in every worker."""
    pytest.importorskip("pandas")
    import subprocess
    import sys

    code = ("import sys; from infucode.batch import run_batch; "
            f"run_batch({str(flat['parquet'])!r}, {str(tmp_path / 'o.parquet')!r}, workers=1, progress=False); "
            "print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "False"
