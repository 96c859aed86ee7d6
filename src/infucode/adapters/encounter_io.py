"""Reading encounters from files: JSON (FHIR R4 Bundles detected), JSON Lines, YAML, CSV and stdin, into
:class:`Encounter` objects.

Every problem with one encounter becomes an :class:`InputError` that is *yielded*, not raised, so a
batch goes on with the next encounter. Error messages carry only what the user can use to find the
record (encounter id, administration id, line number, field name, the offending enum value) and
never echo record content such as drug names or times: patient data stays out of logs.

Formats, chosen by the file extension (:func:`infucode.adapters.formats.format_of`), each read by its entry in
:data:`ENCOUNTER_READERS`:

* ``.jsonl`` / ``.ndjson`` (and ``-`` for stdin): one encounter object per line, streamed; blank
  lines are skipped; a broken line is an error for that line only.
* ``.json``: one encounter object or an array of them.
* ``.yaml`` / ``.yml``: one document holding an object or a list, or several documents. Loaded
  with :mod:`infucode.adapters.yaml_documents`, which keeps unquoted clock times (``8:30``) and dates
  (``2024-07-01``) as strings.
* ``.csv``: a MAR action log (:mod:`infucode.adapters.mar`) or administration rows (:mod:`infucode.adapters.flat`).

Coding what is read: :func:`infucode.adapters.stream.code_stream`.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import yaml

from infucode.decoding import decode_encounter
from infucode.model import Encounter, InputError

from .formats import format_of, unknown_format
from .input_limits import MAX_DOCUMENT_BYTES, MAX_YAML_BYTES, decode_json_document, iter_json_lines, read_limited
from .yaml_documents import field_line, iter_yaml_nodes

__all__ = ["ENCOUNTER_READERS", "CsvMapping", "iter_encounters", "read_encounters"]

#: An encounter as read, or why it could not be, with the line of the file it starts on (None when unknown).
Item = tuple[Encounter | InputError, int | None]

# --------------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------------


def read_encounters(path: str | Path, *, seen_ids: set[str] | None = None) -> Iterator[Encounter | InputError]:
    """Stream the encounters of one file (or ``-`` for JSON Lines on stdin).

    Yields an :class:`Encounter` for every readable encounter and an :class:`InputError` for every
    one that is not; it never raises for bad input. ``seen_ids`` lets several files share one
    duplicate-id check.
    """
    for item, _line in iter_encounters(path, seen_ids=seen_ids):
        yield item


def iter_encounters(
    path: str | Path, *, seen_ids: set[str] | None = None, columns: Any = None
) -> Iterator[Item]:
    """Like :func:`read_encounters`, with the line each encounter starts on (None when unknown). ``columns``: a
    :class:`CsvMapping` for a .csv file (the export's own headers and, for a MAR log, its action names)."""
    seen = set() if seen_ids is None else seen_ids
    for item, line in _iter_raw(path, columns):
        if isinstance(item, InputError):
            yield item, line
            continue
        if item.id in seen:
            yield InputError(
                "id", f"duplicate encounter id '{item.id}' (the first one is kept)", encounter=item.id, line=line
            ), line
            continue
        seen.add(item.id)
        yield item, line


class CsvMapping:
    """A site's mapping file for a CSV export, read once: a MAR action-log mapping (``columns`` with order_id,
    action, time; ``actions``; ``time_format``; ``setting``: adapters.mar) or a mapping of administration-row
    columns (``columns: {our_name: their_header}``, as ``infucode batch --columns``). Raises ValueError (a usage
    error) for a file that is neither."""

    MAR_KEYS = frozenset({"actions", "time_format", "setting"})
    MAR_COLUMNS = frozenset({"order_id", "action", "time", "rate", "dose", "date"})

    def __init__(self, path: str | Path):
        from .input_limits import safe_yaml_load

        self.path = Path(path)
        try:
            data = safe_yaml_load(self.path, f"column mapping {self.path}")
        except OSError as exc:
            raise ValueError(f"cannot read the column mapping {self.path}: {exc.strerror or type(exc).__name__}") from None
        if not isinstance(data, dict):
            raise ValueError(f"column mapping {self.path}: expected 'columns: {{our_name: their_header}}'")
        columns = data.get("columns", data if not set(data) & self.MAR_KEYS else {})
        if not isinstance(columns, dict):
            raise ValueError(f"column mapping {self.path}: 'columns' must map our column names to the export's headers")
        self.is_mar = bool(set(data) & self.MAR_KEYS) or bool(set(columns) & {"order_id", "action", "time"})
        if self.is_mar:
            from .mar import load_mapping
            self.mar = load_mapping(self.path)  # ValueError names what is wrong
            self.columns: dict[str, str] = {}
        else:
            from .flat import INPUT_COLUMNS
            unknown = sorted(str(k) for k in columns if k not in INPUT_COLUMNS)
            if unknown:
                raise ValueError(f"column mapping {self.path}: unknown column name(s) {', '.join(unknown)} "
                                 f"(ours are: {', '.join(INPUT_COLUMNS)})")
            self.columns = {str(k): str(v) for k, v in columns.items()}


def _iter_raw(path: str | Path, columns: CsvMapping | None = None) -> Iterator[Item]:
    if str(path) == "-":
        yield from _iter_jsonl(sys.stdin.buffer, "<stdin>")
        return
    fmt = format_of(path, "encounters")
    if fmt is None:
        yield InputError(None, unknown_format(path, "encounters")), None
        return
    yield from ENCOUNTER_READERS[fmt](Path(path), str(path), columns)


def _opened(read: Callable[[IO[bytes], str], Iterator[Item]]) -> Callable[..., Iterator[Item]]:
    """A reader of an open binary file as a reader of a path: the file opened, or why it cannot be."""
    def reader(p: Path, name: str, columns: CsvMapping | None = None) -> Iterator[Item]:
        try:
            fh = open(p, "rb")  # noqa: SIM115 - closed below, the generator may be abandoned
        except FileNotFoundError:
            yield InputError(None, f"cannot read {name}: no such file"), None
            return
        except IsADirectoryError:
            yield InputError(None, f"cannot read {name}: it is a directory"), None
            return
        except OSError as exc:
            yield InputError(None, f"cannot read {name}: {exc.strerror or type(exc).__name__}"), None
            return
        with fh:
            yield from read(fh, name)
    return reader


def _iter_jsonl(fh: IO[bytes], name: str) -> Iterator[Item]:
    saw_content = False
    for number, value in iter_json_lines(fh):
        saw_content = True
        if isinstance(value, InputError):
            yield value, number
            continue
        try:
            yield decode_encounter(value, line=number), number
        except InputError as err:
            yield err, number
    if not saw_content:
        yield InputError(None, f"file is empty: {name}"), None


def _iter_json(fh: IO[bytes], name: str) -> Iterator[Item]:
    data = fh.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        yield InputError(None, f"{name} is larger than the limit of {MAX_DOCUMENT_BYTES:,} bytes for a .json file; "
                               "use JSON Lines (.jsonl)"), None
        return
    if not data.replace(b"\xef\xbb\xbf", b"", 1).strip():
        yield InputError(None, f"file is empty: {name}"), None
        return
    try:
        obj = decode_json_document(data)
    except InputError as err:
        yield err, err.line
        return
    del data
    if _is_fhir(obj):
        yield from _fhir_items(obj)
        return
    yield from _decode_items(obj, None)


def _is_fhir(obj: Any) -> bool:
    from .fhir import looks_like_fhir
    return looks_like_fhir(obj)


def _fhir_items(obj: Any) -> Iterator[Item]:
    """A FHIR R4 Bundle (or resources) of MedicationAdministration: grouped into encounters by context."""
    from .fhir import encounters_from_fhir_json
    for item in encounters_from_fhir_json(obj):
        yield item, getattr(item, "line", None) if isinstance(item, InputError) else None


def _iter_csv(p: Path, name: str, columns: CsvMapping | None = None) -> Iterator[Item]:
    """A CSV of a MAR action log (an `action` column) or of administration rows (`encounter_id`,
    `administration_id`, ...; see adapters.flat)."""
    if not p.is_file():
        yield InputError(None, f"cannot read {name}: no such file"), None
        return
    try:
        text = read_limited(p, MAX_DOCUMENT_BYTES, hint="split it, or convert it to JSON Lines").decode("utf-8-sig")
    except InputError as err:
        err.message = f"{name}: {err.message}"
        yield err, None
        return
    except UnicodeDecodeError:
        yield InputError(None, f"{name} is not valid UTF-8 text"), None
        return
    except OSError as exc:
        yield InputError(None, f"cannot read {name}: {exc.strerror or type(exc).__name__}"), None
        return
    if not text.strip():
        yield InputError(None, f"file is empty: {name}"), None
        return
    if columns is not None and columns.is_mar:
        from .mar import encounters_from_mar
        for item in encounters_from_mar(p, mapping=columns.mar):
            yield item, item.line if isinstance(item, InputError) else None
        return
    if columns is not None:
        from .flat import encounters_from_csv
        for item in encounters_from_csv(text, columns=columns.columns):
            yield item, item.line if isinstance(item, InputError) else None
        return
    from .flat import column_of_header
    first = next(csv.reader([text.splitlines()[0]]), [])
    columns = {column_of_header(h) for h in first}
    # a MAR action log has an action column and no administration column; title-case headers of administration
    # rows ("Encounter ID", "Administration ID") are administration rows
    if "administration_id" in columns or not any("action" in h.lower() for h in first):
        from .flat import encounters_from_csv
        for item in encounters_from_csv(text):
            yield item, item.line if isinstance(item, InputError) else None
        return
    from .mar import encounters_from_mar
    for item in encounters_from_mar(p):
        yield item, item.line if isinstance(item, InputError) else None


def _decode_items(obj: Any, lines: list[int] | int | None) -> Iterator[Item]:
    """One value of a .json file or YAML document: an encounter or a list of encounters."""
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            line = lines[i] if isinstance(lines, list) and i < len(lines) else None
            try:
                yield decode_encounter(item, line=line), line
            except InputError as err:
                if err.encounter is None and line is None:
                    # no id and no line: the list position is the only way to find the record
                    err.field = f"[{i}].{err.field}" if err.field else f"[{i}]"
                yield err, line
        return
    line = lines if isinstance(lines, int) else None
    try:
        yield decode_encounter(obj, line=line), line
    except InputError as err:
        yield err, line



def _iter_yaml(fh: IO[bytes], name: str) -> Iterator[Item]:
    data = fh.read(MAX_YAML_BYTES + 1)  # YAML files are hand-sized; JSON Lines is the streaming format
    if len(data) > MAX_YAML_BYTES:
        yield InputError(None, f"{name} is larger than the limit of {MAX_YAML_BYTES:,} bytes for a YAML file; "
                               "use JSON Lines (.jsonl)"), None
        return
    if not data.strip():
        yield InputError(None, f"file is empty: {name}"), None
        return
    documents = 0
    for document in iter_yaml_nodes(data):
        if isinstance(document, InputError):
            yield document, document.line
            return
        documents += 1
        value, lines, node = document
        targets = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for k, (item, line) in enumerate(_decode_items(value, lines)):
            target = targets[k] if k < len(targets) else None
            if target is None:
                yield item, line
                continue
            if isinstance(item, InputError):
                # the line of the field itself, not of the encounter it is in
                path = re.sub(r"^\[\d+\]\.?", "", item.field or "") if isinstance(node, yaml.SequenceNode) else item.field
                item.line = field_line(target, path) or item.line
                yield item, item.line
                continue
            # the engine's errors (a time it cannot read) find their line the same way (code_stream)
            item.field_line = lambda field, target=target: field_line(target, field)
            yield item, line
    if documents == 0:
        yield InputError(None, f"file is empty: {name}"), None


#: The reader of each format an encounter file comes in (:data:`infucode.adapters.formats.READS`
#: ``["encounters"]``): ``(path, name for messages, CsvMapping or None)`` -> ``(encounter or error, line)``.
ENCOUNTER_READERS: dict[str, Callable[..., Iterator[Item]]] = {
    "json": _opened(_iter_json),
    "jsonl": _opened(_iter_jsonl),
    "yaml": _opened(_iter_yaml),
    "csv": _iter_csv,
}
