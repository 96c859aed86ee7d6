"""An uploaded file (JSON, JSON Lines, YAML, CSV, FHIR Bundle) -> encounters for the form.

The format is the file name's, as ``infucode code`` tells it (:mod:`infucode.adapters.formats`), and the
file is read by the same reader.

Runs in a job thread (:mod:`.jobs`). YAML is read with the shared :class:`EncounterYamlLoader` plus a guard
of our own: no anchors/aliases (a 279-byte "billion laughs" file expands to gigabytes), bounded nesting,
and a deadline checked as nodes are built, so a slow parse stops by itself instead of running on after
its request has given up. JSON is checked for nesting before anything walks it.
"""
from __future__ import annotations

import json
import time

import msgspec
import yaml

from ..adapters.formats import INPUT_FORMATS, format_of, unknown_format
from ..adapters.input_limits import MAX_YAML_BYTES
from ..adapters.yaml_documents import EncounterYamlLoader
from ..model import InputError
from .limits import MAX_NESTING, nesting_depth_exceeds
from .problems import problem


class UploadRefused(ValueError):
    """The file cannot be read; the message names no content (line numbers only)."""


class GuardedYamlLoader(EncounterYamlLoader):
    """EncounterYamlLoader that refuses aliases, nesting deeper than MAX_NESTING, and work past a deadline."""

    deadline: float = float("inf")

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        line = event.start_mark.line + 1 if event.start_mark else None
        if isinstance(event, yaml.AliasEvent):
            raise UploadRefused(f"YAML aliases (*name) are not accepted (line {line})")
        if time.monotonic() > self.deadline:
            raise UploadRefused("the file took too long to read")
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                raise UploadRefused(f"the YAML nests deeper than {MAX_NESTING} levels (line {line})")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _yaml_documents(text: str, deadline: float) -> list:
    loader = GuardedYamlLoader(text)
    loader.deadline = deadline
    try:
        docs = []
        while loader.check_data():
            docs.append(loader.get_data())
        return docs
    finally:
        loader.dispose()


def _json(text: str | bytes):
    try:
        doc = json.loads(text)
    except RecursionError:
        raise UploadRefused(f"the JSON nests deeper than {MAX_NESTING} levels") from None
    if nesting_depth_exceeds(doc):
        raise UploadRefused(f"the JSON nests deeper than {MAX_NESTING} levels")
    return doc


def _read_as_the_cli(suffix: str, data: bytes) -> list:
    """The file read exactly as ``infucode code`` reads it (same reader, same messages and line numbers):
    the bytes are written to a private temporary file with the upload's suffix."""
    import tempfile
    from pathlib import Path

    from ..adapters.encounter_io import iter_encounters
    with tempfile.TemporaryDirectory(prefix="infucode-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        return [item for item, _line in iter_encounters(path)]


def _answer(items: list):
    """``{"encounters", "errors"}``; a problem when no encounter of the file could be read."""
    good = [msgspec.to_builtins(i) for i in items if not isinstance(i, InputError)]
    bad = [i for i in items if isinstance(i, InputError)]
    errors = [{k: v for k, v in (("encounter", b.encounter), ("field", b.field), ("line", b.line),
                                 ("detail", b.message)) if v is not None} for b in bad]
    if not good and bad:
        return problem(422, "File could not be read", bad[0].message, field=bad[0].field or "file",
                       encounter=bad[0].encounter, line=bad[0].line, errors=errors)
    if not good:
        return problem(422, "File could not be read", "the file holds no encounter", field="file")
    return {"encounters": good, "errors": errors}


def parse_upload(filename: str, data: bytes, deadline: float):
    """The encounters in an uploaded file, read and decoded as ``infucode code`` reads them, with the
    errors of those that cannot be read; or a problem response naming what is wrong (never its content).

    JSON and YAML are first checked by this module's guards (nesting, YAML aliases, the request's
    deadline), so that a hostile file is refused before the shared reader walks it."""
    fmt = format_of(filename, "encounters")
    if fmt is None:
        return problem(422, "File could not be read", unknown_format(filename, "encounters"), field="file")
    try:
        if fmt == "json":
            _json(data)
        elif fmt == "yaml" and len(data) <= MAX_YAML_BYTES:  # over it, the shared reader refuses it unparsed
            try:
                _yaml_documents(data.decode(), deadline)
            except yaml.YAMLError:
                pass                  # the shared reader reports it, with its line
    except UploadRefused as exc:
        return problem(422, "File could not be read", str(exc), field="file")
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return problem(422, "File could not be read", "not valid JSON, JSON Lines or YAML", field="file")
    return _answer(_read_as_the_cli(INPUT_FORMATS[fmt].suffixes[0], data))


__all__ = ["GuardedYamlLoader", "UploadRefused", "parse_upload"]
