"""The one table of input formats: each command picks a file's format there and refuses an unknown one in
the same words (issue 16: one reader registry)."""
from __future__ import annotations

import json

import pytest

from infucode.adapters.encounter_io import ENCOUNTER_READERS, read_encounters
from infucode.adapters.formats import INPUT_FORMATS, READS, format_of, unknown_format
from infucode.batch.chunks import IN_SUFFIXES
from infucode.model import Encounter, InputError
from infucode.web.uploads import parse_upload

ENCOUNTER = {"id": "e1", "setting": "office", "administrations": [
    {"id": "a1", "drug": "ondansetron", "route": "iv_push", "start": "2024-07-01T09:00"}]}


def test_every_kind_names_formats_of_the_table_and_no_suffix_twice():
    assert all(name in INPUT_FORMATS for names in READS.values() for name in names)
    suffixes = [s for f in INPUT_FORMATS.values() for s in f.suffixes]
    assert len(suffixes) == len(set(suffixes))


def test_the_encounter_readers_are_the_encounter_formats():
    assert sorted(ENCOUNTER_READERS) == sorted(READS["encounters"])


@pytest.mark.parametrize("name, kind, fmt", [
    ("a.JSON", "encounters", "json"), ("a.ndjson", "encounters", "jsonl"), ("b.Yml", "encounters", "yaml"),
    ("c.csv", "encounters", "csv"), ("c.parquet", "encounters", None), ("c.parquet", "batch", "parquet"),
    ("d.json", "batch", None), ("claim.837", "claims", "x12"), ("note.eml", "case notes", "email"),
    ("note", "case notes", None),
])
def test_format_of_a_file_by_its_suffix(name, kind, fmt):
    assert format_of(name, kind) == fmt


def test_the_batch_reads_the_suffixes_of_the_table():
    assert IN_SUFFIXES == {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}


def test_an_unknown_type_is_refused_alike_by_the_cli_reader_and_the_upload(tmp_path):
    p = tmp_path / "visit.xml"
    p.write_text("<visit/>")
    [err] = list(read_encounters(p))
    assert isinstance(err, InputError)
    assert err.message == f"cannot read {p}: unknown file type '.xml'; use .json, .jsonl, .ndjson, .yaml, .yml or .csv"
    assert err.message == unknown_format(p, "encounters")
    answer = parse_upload("visit.xml", b"<visit/>", deadline=float("inf"))
    assert answer.status_code == 422
    assert "unknown file type '.xml'" in json.loads(answer.body)["detail"]


@pytest.mark.parametrize("name", ["visit.json", "VISIT.NDJSON", "visit.yaml"])
def test_the_upload_reads_each_encounter_format_as_the_cli(tmp_path, name):
    body = (json.dumps(ENCOUNTER) + "\n").encode()
    p = tmp_path / name
    p.write_bytes(body)
    [from_cli] = list(read_encounters(p))
    assert isinstance(from_cli, Encounter)
    answer = parse_upload(name, body, deadline=float("inf"))
    assert [e["id"] for e in answer["encounters"]] == ["e1"] and answer["errors"] == []
