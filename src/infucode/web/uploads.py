"""An uploaded file (JSON, JSON Lines, YAML, CSV, FHIR Bundle) -> encounters for the form.

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

from ..adapters.encounter_io import EncounterYamlLoader
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


def parse_upload(filename: str, data: bytes, deadline: float):
    """The encounters in an uploaded file, or a problem response naming what is wrong (never its content)."""
    name = filename.lower()
    try:
        if name.endswith(".csv"):
            from ..adapters.flat import encounters_from_csv
            parsed = encounters_from_csv(data.decode("utf-8-sig"))
            bad = [p for p in parsed if isinstance(p, InputError)]
            if bad:
                return problem(422, "File could not be read", bad[0].message, field=bad[0].field,
                               encounter=bad[0].encounter, line=bad[0].line)
            return {"encounters": [msgspec.to_builtins(p) for p in parsed]}
        if name.endswith((".jsonl", ".ndjson")):
            docs = [_json(line) for line in data.decode().splitlines() if line.strip()]
        elif name.endswith(".json"):
            doc = _json(data)
            from ..adapters.fhir import encounters_from_fhir_json, looks_like_fhir
            if looks_like_fhir(doc):  # a FHIR R4 Bundle of MedicationAdministration
                items = list(encounters_from_fhir_json(doc))
                bad = [i for i in items if isinstance(i, InputError)]
                good = [msgspec.to_builtins(i) for i in items if not isinstance(i, InputError)]
                if not good and bad:
                    return problem(422, "File could not be read", bad[0].message, field=bad[0].field,
                                   encounter=bad[0].encounter)
                return {"encounters": good, "warnings": [{"field": b.field, "detail": b.message} for b in bad]}
            docs = doc if isinstance(doc, list) else [doc]
        else:
            docs = [d for d in _yaml_documents(data.decode(), deadline) if d is not None]
            docs = [x for d in docs for x in (d if isinstance(d, list) else [d])]
    except UploadRefused as exc:
        return problem(422, "File could not be read", str(exc), field="file")
    except (ValueError, yaml.YAMLError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return problem(422, "File could not be read", "not valid JSON, JSON Lines or YAML", field="file")
    return {"encounters": docs}


__all__ = ["GuardedYamlLoader", "UploadRefused", "parse_upload"]
