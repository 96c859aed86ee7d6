"""infucode batch --columns / --column: an export's own headers mapped onto ours."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from infucode.batch import BatchError, run_batch
from infucode.batch.cli import batch_app
from infucode.batch.columns import load_columns, resolve_columns

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT / "examples" / "batch" / "export.csv"
MAPPING = ROOT / "examples" / "batch" / "export-mapping.yaml"


def _plain(tmp_path: Path) -> Path:
    """The bundled export with our own header names (its extra columns dropped)."""
    mapping = yaml.safe_load(MAPPING.read_text())["columns"]
    ours = {theirs: name for name, theirs in mapping.items()}
    rows = list(csv.DictReader(io.StringIO(EXPORT.read_text(encoding="utf-8"))))
    path = tmp_path / "plain.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(list(mapping))
        w.writerows([[r[theirs] for theirs in ours] for r in rows])
    return path


def test_bundled_export_and_mapping_code_like_the_plain_csv(tmp_path):
    plain = tmp_path / "plain.jsonl"
    assert run_batch(_plain(tmp_path), plain, workers=1, progress=False).failed == 0
    mapped = tmp_path / "mapped.jsonl"
    summary = run_batch(EXPORT, mapped, workers=2, chunk_lines=3, columns=load_columns(MAPPING), progress=False)
    assert (summary.coded, summary.failed) == (4, 0)
    assert mapped.read_bytes() == plain.read_bytes()
    assert [json.loads(x)["encounter"] for x in mapped.read_bytes().splitlines()] == ["ENC-1001", "ENC-1002", "ENC-1003", "ENC-1004"]
    # the CLI, with the file, with --column options, and the CSV written as Parquet
    runner = CliRunner()
    res = runner.invoke(batch_app, [str(EXPORT), str(tmp_path / "cli.jsonl"), "--columns", str(MAPPING), "-w", "1"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "cli.jsonl").read_bytes() == plain.read_bytes()
    options = [arg for ours, theirs in yaml.safe_load(MAPPING.read_text())["columns"].items()
               for arg in ("--column", f"{ours}={theirs}")]
    res = runner.invoke(batch_app, [str(EXPORT), str(tmp_path / "opts.jsonl"), "-w", "1", *options])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "opts.jsonl").read_bytes() == plain.read_bytes()
    pq.write_table(pacsv.read_csv(EXPORT), tmp_path / "export.parquet")  # typed by pyarrow's CSV reader
    res = runner.invoke(batch_app, [str(tmp_path / "export.parquet"), str(tmp_path / "pq.jsonl"), "--columns", str(MAPPING), "-w", "2"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "pq.jsonl").read_bytes() == plain.read_bytes()


def test_column_option_wins_over_the_file_and_shadows_our_own_header(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(
        "ID,setting,date,administration_id,drug,GENERIC,route,start,stop\n"
        "e1,office,2024-07-01,a1,Brand X,ceftriaxone,iv_infusion,10:00,10:40\n", encoding="utf-8")
    mapping = tmp_path / "m.yaml"
    mapping.write_text("encounter_id: ID\n", encoding="utf-8")  # a bare mapping works too
    out = tmp_path / "out.jsonl"
    res = CliRunner().invoke(batch_app, [str(src), str(out), "-w", "1", "--columns", str(mapping), "--column", "drug=GENERIC"])
    assert res.exit_code == 0, res.output
    result = json.loads(out.read_text())
    assert result["encounter"] == "e1" and [l["code"] for l in result["lines"]] == ["96365"]
    assert "family.unknown_drug" not in [f["rule"] for f in result["findings"]]  # ceftriaxone, not "Brand X"


def test_resolve_columns():
    assert resolve_columns(["ENC", "drug", "x"], {"encounter_id": "ENC"}, "IN") == ["encounter_id", "drug", None]
    assert resolve_columns(["encounter_id", "drug", "MED"], {"drug": "MED"}, "IN") == ["encounter_id", None, "drug"]
    assert resolve_columns(["encounter_id", "encounter_id"], None, "IN") == ["encounter_id", None]


@pytest.mark.parametrize(("header", "mapping", "needle"), [
    ("ENC,drug", None, "no encounter_id column"),
    ("ENC,drug", {"encounter_id": "ENCOUNTER"}, "'ENCOUNTER' (for encounter_id)"),
    ("ENC,drug", {"encounter_id": "ENC", "medication": "drug", "when": "x"}, "unknown column names 'medication', 'when'"),
    ("ENC,drug", {"encounter_id": "ENC", "start": "ENC"}, "mapped to both"),
])
def test_mapping_usage_errors(tmp_path, header, mapping, needle):
    src = tmp_path / "in.csv"
    src.write_text(header + "\ne1,ceftriaxone\n", encoding="utf-8")
    with pytest.raises(BatchError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        run_batch(src, tmp_path / "out.jsonl", workers=1, columns=mapping)
    assert not (tmp_path / "out.jsonl").exists()
    pq.write_table(pa.table({name: ["x"] for name in header.split(",")}), tmp_path / "in.parquet")
    with pytest.raises(BatchError, match="encounter_id|unknown|both"):
        run_batch(tmp_path / "in.parquet", tmp_path / "out.jsonl", workers=1, columns=mapping)


def test_cli_mapping_usage_errors(tmp_path):
    runner = CliRunner()
    src = tmp_path / "in.csv"
    src.write_text("ENC,MED_NAME\ne1,ceftriaxone\n", encoding="utf-8")
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('{"id": "e1", "setting": "office", "administrations": []}\n', encoding="utf-8")
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("columns: [ENC\n", encoding="utf-8")
    not_map = tmp_path / "list.yaml"
    not_map.write_text("- ENC\n", encoding="utf-8")
    cases = [
        ([str(src), "o.jsonl"], "no encounter_id column"),
        ([str(src), "o.jsonl", "--column", "encounter=ENC"], "unknown column name 'encounter'"),
        ([str(src), "o.jsonl", "--column", "encounter_id"], "--column expects our_name=their_name"),
        ([str(src), "o.jsonl", "--columns", str(tmp_path / "missing.yaml")], "no such file"),
        ([str(src), "o.jsonl", "--columns", str(bad_yaml)], "not valid YAML"),
        ([str(src), "o.jsonl", "--columns", str(not_map)], "expected a mapping"),
        ([str(jsonl), "o.jsonl", "--column", "encounter_id=ENC"], "CSV or Parquet input"),
        ([str(jsonl), "o.jsonl", "--column", "encounter_id=ENC", "--engine", "spark"], "--engine local only"),
        ([str(src), "o.jsonl", "--engine", "spark"], "JSON Lines only"),
        ([str(jsonl), "o.parquet", "--engine", "spark"], "JSON Lines only"),
    ]
    for args, needle in cases:
        args[1] = str(tmp_path / args[1])
        res = runner.invoke(batch_app, args)
        assert res.exit_code == 2 and needle in res.output, (args, res.output)
