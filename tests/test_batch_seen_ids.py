"""The batch's compact duplicate-id store: 64-bit blake2b hashes in sorted numpy runs (LSM)."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from infucode.batch import errors_path, run_batch
from infucode.batch import seen_ids
from infucode.batch.seen_ids import SeenIds, hash_ids


def _set_semantics(chunks: list[list[str]]) -> list[list[bool]]:
    seen: set[str] = set()
    out = []
    for chunk in chunks:
        flags = []
        for i in chunk:
            flags.append(i in seen)
            seen.add(i)
        out.append(flags)
    return out


def test_duplicates_within_a_chunk_keep_the_first():
    s = SeenIds()
    assert s.add(["a", "b", "a", "c", "b", "a"]).tolist() == [False, False, True, False, True, True]
    assert len(s) == 3 and "a" in s and "z" not in s
    assert s.add([]).tolist() == []


def test_duplicates_across_chunks():
    s = SeenIds()
    assert s.add(["a", "b"]).tolist() == [False, False]
    assert s.add(["c", "a", "c"]).tolist() == [False, True, True]
    assert s.add(["b", "d"]).tolist() == [True, False]
    assert len(s) == 4


def test_many_merges_stay_sorted_logarithmic_and_complete():
    s = SeenIds()
    ids = [f"E-{i}" for i in range(20_000)]
    for k in range(0, len(ids), 10):
        assert not s.add(ids[k:k + 10]).any()
        assert s.runs <= int(np.log2(k // 10 + 1)) + 1
    assert len(s) == 20_000 and s.nbytes == 8 * 20_000
    for run in s._runs:
        assert (np.diff(run.astype(np.float64)) >= 0).all() and run.dtype == np.uint64
    assert s.add(ids[::7]).all()  # every one seen, wherever it was merged to
    assert not s.add(["E-20000"]).any()


def test_merges_stop_at_the_limit_and_lookups_still_find_everything(monkeypatch):
    monkeypatch.setattr(seen_ids, "MERGE_LIMIT", 100)
    s = SeenIds()
    ids = [f"E-{i}" for i in range(5000)]
    for k in range(0, len(ids), 10):
        assert not s.add(ids[k:k + 10]).any()
    sizes = [len(r) for r in s._runs]
    assert max(sizes) <= len(ids) // 4 and s.runs <= 8 + 8  # <= 8 of about the limit + log2(limit / chunk) smaller
    assert sum(sizes) == 5000 and s.add(ids[::3]).all()


def test_matches_a_python_set_on_random_data(monkeypatch):
    monkeypatch.setattr(seen_ids, "MERGE_LIMIT", 256)
    rng = random.Random(5)
    for _ in range(5):
        pool = [f"id{rng.randrange(10**9)}" for _ in range(3000)]
        chunks = [[rng.choice(pool) for _ in range(rng.randrange(0, 300))] for _ in range(60)]
        s = SeenIds()
        got = [s.add(chunk).tolist() for chunk in chunks]
        assert got == _set_semantics(chunks)
        assert len(s) == len({i for c in chunks for i in c})


def test_hashes_are_stable_blake2b_across_processes():
    ids = ["E1", "é-ü", ""]
    expected = b"".join(hashlib.blake2b(i.encode(), digest_size=8).digest() for i in ids)
    assert hash_ids(ids) == expected
    other = subprocess.run(
        [sys.executable, "-c", "from infucode.batch.seen_ids import hash_ids; import sys; sys.stdout.write(hash_ids(['E1', 'é-ü', '']).hex())"],
        check=True, capture_output=True, text=True, env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout
    assert bytes.fromhex(other) == expected
    # hashes from another process (the workers) are used as they are
    s = SeenIds()
    assert s.add_hashes(hash_ids(["x", "y"])).tolist() == [False, False]
    assert s.add(["y"]).tolist() == [True]


def test_run_batch_reports_duplicates_in_order_across_chunks_and_workers(tmp_path):
    ids = ["d0", "d1", "d2", "d1", "d3", "d0", "d4", "d1", "d5"]
    rows = [{"encounter_id": e, "setting": "office", "date": "2024-07-01", "administration_id": "a1",
             "drug": "ondansetron", "route": "iv_push", "start": "09:00"} for e in ids]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "in.parquet")
    lines = [json.dumps({"id": e, "setting": "office", "date": "2024-07-01",
                         "administrations": [{"id": "a1", "drug": "ondansetron", "route": "iv_push", "start": "09:00"}]})
             for e in ids]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    for src in ("in.parquet", "in.jsonl"):
        for workers, chunk in ((1, 1), (2, 2), (2, 100)):
            out = tmp_path / f"out-{workers}-{chunk}.jsonl"
            summary = run_batch(tmp_path / src, out, workers=workers, chunk_lines=chunk, progress=False)
            assert (summary.coded, summary.failed) == (6, 3)
            assert [json.loads(x)["encounter"] for x in out.read_bytes().splitlines()] == ["d0", "d1", "d2", "d3", "d4", "d5"]
            errors = [json.loads(x) for x in errors_path(out).read_bytes().splitlines()]
            assert [(e["encounter"], e["error"]["line"]) for e in errors] == [("d1", 4), ("d0", 6), ("d1", 8)]
            assert all(e["error"]["field"] == "id" and "the first one is kept" in e["error"]["message"] for e in errors)
    # duplicate checking can be turned off for inputs known to be unique
    assert run_batch(tmp_path / "in.jsonl", tmp_path / "nodup.jsonl", workers=1, check_duplicates=False).coded == 9
