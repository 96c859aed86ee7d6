"""``infucode audit`` on the worker pool: the same items in the same order as the one-process reader
(``audit_stream(iter_claims(path))``), and the same output bytes for 1 and 2 workers."""
from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
import yaml
from typer.testing import CliRunner

from infucode import load_ruleset
from infucode.adapters.yaml_documents import EncounterYamlLoader
from infucode.audit.cli import audit_app
from infucode.audit.engine import audit_stream
from infucode.audit.readers import iter_claims
from infucode.audit.runner import audit_files
from infucode.reference.releases import open_store

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "claims"


@pytest.fixture(scope="module")
def claims_jsonl(tmp_path_factory) -> Path:
    """Documented claims repeated under new ids, with the lines a reader must survive: a BOM, blank lines,
    a line that is not JSON, a claim with a bad field, a duplicate of an earlier claim."""
    docs = yaml.load((EXAMPLES / "documented.yaml").read_text(encoding="utf-8"), Loader=EncounterYamlLoader)
    lines = []
    for i in range(4):
        for doc in docs:
            lines.append(json.dumps({**doc, "id": f"{doc['id']}-{i}"}, default=str))
    lines[3] = "{not json"
    lines[5] = ""
    bad = dict(docs[0], id="BAD-1", lines=[{"code": "96365", "units": -1}])
    lines.insert(7, json.dumps(bad, default=str))
    lines.append(lines[0])
    path = tmp_path_factory.mktemp("audit") / "claims.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + b"\n\n")
    return path


def _reference(paths: list[Path]) -> list[bytes]:
    rs = load_ruleset("medicare").with_releases(open_store(None))
    return [msgspec.json.encode(item) for p in paths for item in audit_stream(iter_claims(p), rs)]


def _pooled(paths: list[Path], workers: int, chunk: int) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    audit_files(paths, lambda path, item: out.append((path.name, msgspec.json.encode(item))), profile="medicare",
                releases_dir=str(open_store(None).data_dir), workers=workers, chunk_claims=chunk)
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_pool_gives_the_items_of_the_one_process_reader_in_order(claims_jsonl, tmp_path, workers):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n")
    paths = [claims_jsonl, EXAMPLES / "batch.csv", empty, tmp_path / "missing.jsonl", EXAMPLES / "documented.yaml"]
    expected = _reference(paths)
    got = _pooled(paths, workers, chunk=3)  # several chunks per file
    assert [item for _, item in got] == expected
    assert len(expected) > 25
    assert b"not valid JSON" in b"".join(expected) and b"file is empty" in b"".join(expected)
    # every item is handed back with the file it came from
    names = [name for name, _ in got]
    assert names[0] == "claims.jsonl" and names[-1] == "documented.yaml"
    assert names == sorted(names, key=[p.name for p in paths].index)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "summary-csv", "json"])
def test_cli_output_is_byte_identical_for_one_and_two_workers(claims_jsonl, tmp_path, fmt):
    runner = CliRunner()
    outputs = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}.{fmt}"
        summary = tmp_path / f"w{workers}-summary.csv"
        result = runner.invoke(audit_app, [str(claims_jsonl), str(EXAMPLES / "batch.csv"), "--format", fmt, "-o", str(out),
                                           "--summary", str(summary), "--workers", str(workers)])
        assert result.exit_code == 1, result.output  # the bad lines and the billing errors
        outputs.append((out.read_bytes(), summary.read_bytes(), result.stderr if hasattr(result, "stderr") else ""))
    assert outputs[0] == outputs[1]
    assert outputs[0][0]


def test_two_workers_hand_chunks_back_in_spool_files_that_are_removed(claims_jsonl, tmp_path, monkeypatch):
    """With 2 workers each chunk's text comes back as a spool file, not through the pool's pipe (which moves
    megabytes 64 KB at a time); the parent gets the same bytes as with 1 worker and leaves no spool file."""
    import tempfile

    from infucode.audit import runner

    spool_root = tmp_path / "tmp"
    spool_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool_root))
    got = {}
    for workers in (1, 2):
        texts: list[bytes] = []
        from_files: list[bool] = []

        def spy(text, real=runner._unspooled, seen=from_files):
            seen.append(isinstance(text, str))
            return real(text)

        monkeypatch.setattr(runner, "_unspooled", spy)
        runner.audit_chunks([claims_jsonl], lambda path, chunk: texts.append(chunk.texts[0]),
                            runner.Outputs(texts=("jsonl",), items=False), profile="medicare",
                            releases_dir=str(open_store(None).data_dir), workers=workers, chunk_claims=3)
        monkeypatch.undo()
        monkeypatch.setattr(tempfile, "tempdir", str(spool_root))
        got[workers] = (b"".join(texts), from_files)
    assert got[1][0] and got[1][0] == got[2][0]
    assert len(got[2][1]) > 1 and all(got[2][1]) and not any(got[1][1])
    assert list(spool_root.iterdir()) == []
