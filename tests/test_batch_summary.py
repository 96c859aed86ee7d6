"""``infucode batch --summary FILE``: counts over what reached the output, the same for any worker count.

Worked expectation (hand-counted from CPT/CMS rules, not from the engine's output):
* an office IVIG infusion 08:30-12:45 (4 h 15 min) is 96365 + 96366 x3 on a professional claim (the added
  hours: three full hours past the first, the 15-minute tail earns none) [CPT infusion guidelines]; work RVU
  96365 0.21 + 96366 3 x 0.18 (PFS RVU24C, bundled);
* hydration with a start and no stop time has no line: an error finding doc.missing_stop (hydration has no
  push code, so a missing stop cannot be coded as a push);
* an unreadable line and a repeated encounter id go to the errors file; the repeat is not counted again.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infucode.batch import BatchError, run_batch
from infucode.batch.cli import batch_app

IVIG = {"id": "ivig-1", "setting": "office", "date": "2024-07-01",
        "administrations": [{"id": "a1", "drug": "Gammagard Liquid", "hcpcs": "J1569", "indication": "CIDP",
                             "route": "iv_infusion", "start": "08:30", "stop": "12:45", "dose": {"value": 30, "unit": "g"}}]}
HYDRATION_NO_STOP = {"id": "hyd-1", "setting": "facility", "date": "2024-07-01",
                     "administrations": [{"id": "a1", "drug": "normal saline", "class": "hydration", "indication": "dehydration",
                                          "route": "iv_infusion", "start": "09:00", "volume_ml": 1000}]}


def _batch(tmp_path: Path, name: str = "in.jsonl") -> Path:
    src = tmp_path / name
    src.write_text("\n".join([json.dumps(IVIG), json.dumps(HYDRATION_NO_STOP), '{"id": "broken", ', json.dumps(IVIG)]) + "\n")
    return src


@pytest.mark.parametrize("workers", [1, 2])
def test_summary_counts_what_reached_the_output(tmp_path, workers):
    out, summary = tmp_path / "out.jsonl", tmp_path / "summary.json"
    done = run_batch(_batch(tmp_path), out, workers=workers, progress=False, summary=summary, chunk_lines=1)
    assert (done.coded, done.failed) == (2, 2)
    s = json.loads(summary.read_text())
    assert s["encounters"] == {"read": 4, "coded": 2, "errors_file": 2, "with_error_findings": 1,
                               "with_warnings_only": 0, "without_errors_or_warnings": 1}
    assert s["claims"] == {"facility": 1, "professional": 1}
    assert s["codes"]["96365"] == {"kind": "administration", "lines": 1, "units": 1, "encounters": 1, "wrvu": 0.21}
    assert s["codes"]["96366"] == {"kind": "administration", "lines": 1, "units": 3, "encounters": 1, "wrvu": 0.54}
    assert s["codes"]["J1569"]["kind"] == "drug" and s["codes"]["J1569"]["wrvu"] == 0
    assert s["wrvu_professional"] == pytest.approx(0.75)
    assert s["findings_by_rule"]["doc.missing_stop"] == {"error": 1, "warning": 0, "info": 0, "findings": 1, "encounters": 1}
    assert list(s["findings_by_rule"])[0] == "doc.missing_stop"          # errors first
    assert "96360" not in s["codes"]                                      # no hydration line without a stop


def test_summary_matches_the_output_and_not_the_worker_count(tmp_path, generator):
    src = tmp_path / "gen.jsonl"
    generator.write_jsonl(400, src, seed=11)
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    run_batch(src, tmp_path / "one.jsonl", workers=1, progress=False, summary=one)
    run_batch(src, tmp_path / "two.jsonl", workers=2, progress=False, summary=two, chunk_lines=37)
    assert one.read_bytes() == two.read_bytes()
    s = json.loads(one.read_text())
    results = [json.loads(line) for line in (tmp_path / "one.jsonl").read_text().splitlines()]
    assert s["encounters"]["coded"] == len(results)
    units: dict[str, int] = {}
    for r in results:
        for line in r["lines"]:
            units[line["code"]] = units.get(line["code"], 0) + line["units"]
    assert {code: row["units"] for code, row in s["codes"].items()} == units
    errors = sum(any(f["severity"] == "error" for f in r["findings"]) for r in results)
    assert s["encounters"]["with_error_findings"] == errors
    assert sum(row["findings"] for row in s["findings_by_rule"].values()) == sum(len(r["findings"]) for r in results)


def test_summary_as_csv_and_html(tmp_path):
    src = _batch(tmp_path, "<b>visits&more.jsonl")
    run_batch(src, tmp_path / "out.csv", workers=1, progress=False, summary=tmp_path / "s.csv")
    rows = list(csv.DictReader((tmp_path / "s.csv").open()))
    by = {(r["section"], r["name"]): r for r in rows}
    assert by[("encounters", "with_error_findings")]["encounters"] == "1"
    assert by[("code", "96366")]["units"] == "3" and by[("code", "96366")]["wrvu"] == "0.54"
    assert by[("rule", "doc.missing_stop")]["error"] == "1"
    run_batch(src, tmp_path / "out.jsonl", workers=1, progress=False, summary=tmp_path / "s.html")
    page = (tmp_path / "s.html").read_text()
    assert "&lt;b&gt;visits&amp;more.jsonl" in page and "<b>visits" not in page        # the file name is escaped
    assert "<svg" in page and "doc.missing_stop" in page and "<script" not in page
    assert "ivig-1" not in page and "hyd-1" not in page                                   # no encounter ids


def test_summary_usage_errors(tmp_path):
    src = _batch(tmp_path)
    with pytest.raises(BatchError, match="summary format"):
        run_batch(src, tmp_path / "out.jsonl", workers=1, progress=False, summary=tmp_path / "s.txt")
    with pytest.raises(BatchError, match="would overwrite"):
        run_batch(src, tmp_path / "out.csv", workers=1, progress=False, summary=tmp_path / "out.findings.csv")
    assert not (tmp_path / "out.jsonl").exists()
    runner = CliRunner()
    bad = runner.invoke(batch_app, [str(src), str(tmp_path / "o.jsonl"), "--summary", str(tmp_path / "s.pdf")])
    assert bad.exit_code == 2
    ok = runner.invoke(batch_app, [str(src), str(tmp_path / "o.jsonl"), "--workers", "1", "--summary", str(tmp_path / "s.json")])
    assert ok.exit_code == 1 and json.loads((tmp_path / "s.json").read_text())["encounters"]["coded"] == 2
