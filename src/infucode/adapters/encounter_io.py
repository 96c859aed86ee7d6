"""Reading encounters from files: JSON, JSON Lines, YAML and stdin, into :class:`Encounter` objects.

Every problem with one encounter becomes an :class:`InputError` that is *yielded*, not raised, so a
batch goes on with the next encounter. Error messages carry only what the user can use to find the
record (encounter id, administration id, line number, field name, the offending enum value) and
never echo record content such as drug names or times: patient data stays out of logs.

Formats, chosen by the file extension:

* ``.jsonl`` / ``.ndjson`` (and ``-`` for stdin): one encounter object per line, streamed; blank
  lines are skipped; a broken line is an error for that line only.
* ``.json``: one encounter object or an array of them.
* ``.yaml`` / ``.yml``: one document holding an object or a list, or several documents. Loaded
  with :class:`EncounterYamlLoader`, which keeps unquoted clock times (``8:30``) and dates
  (``2024-07-01``) as strings.
"""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import yaml

from infucode.decoding import decode_encounter, translate_validation_error  # noqa: F401  (re-exported)
from infucode.model import Encounter, ErrorResult, InputError, Result

from .input_limits import (
    MAX_DOCUMENT_BYTES,
    MAX_LINE_BYTES,
    MAX_YAML_BYTES,
    BoundedCSafeLoader,
    BoundedSafeLoader,
    decode_json_document,
    iter_json_lines,
    read_limited,
    yaml_problem,
)

__all__ = [
    "MAX_LINE_BYTES",
    "EncounterYamlLoader",
    "code_stream",
    "decode_encounter",
    "iter_encounters",
    "read_encounters",
]

JSONL_SUFFIXES = (".jsonl", ".ndjson")
JSON_SUFFIXES = (".json",)
YAML_SUFFIXES = (".yaml", ".yml")

# --------------------------------------------------------------------------------------------
# YAML: a safe loader without the YAML 1.1 traps (8:30 -> 510, 2024-07-01 -> date, 0730 -> 472)
# --------------------------------------------------------------------------------------------


class EncounterYamlLoader(BoundedSafeLoader):
    """SafeLoader that resolves scalars like YAML 1.2's core schema, with the nesting and alias
    limits of :class:`~infucode.adapters.input_limits.BoundedSafeLoader`.

    * no sexagesimal numbers: ``8:30`` and ``12:45`` stay the strings ``"8:30"`` and ``"12:45"``;
    * no implicit timestamps: ``2024-07-01`` stays a string;
    * no octal/binary/underscored integers: ``0730`` stays a string;
    * booleans are only ``true``/``false`` (not ``yes``/``no``/``on``/``off``).
    """


_DROPPED_TAGS = {
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:bool",
}
EncounterYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
EncounterYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
EncounterYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789")
)
EncounterYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?
            |[-+]?[0-9]+[eE][-+]?[0-9]+
            |[-+]?\.(?:inf|Inf|INF)
            |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _construct_yaml_bool(loader: yaml.SafeLoader, node: yaml.Node) -> bool:
    return loader.construct_scalar(node).lower() == "true"  # type: ignore[arg-type]


def _construct_yaml_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    return int(loader.construct_scalar(node))  # type: ignore[arg-type]


def _construct_yaml_float(loader: yaml.SafeLoader, node: yaml.Node) -> float:
    text = str(loader.construct_scalar(node)).lower()
    if text.endswith(".inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    if text == ".nan":
        return float("nan")
    return float(text)


# Explicit !!int / !!float / !!bool tags keep working, with the same (1.2 core) meaning.
EncounterYamlLoader.add_constructor("tag:yaml.org,2002:bool", _construct_yaml_bool)
EncounterYamlLoader.add_constructor("tag:yaml.org,2002:int", _construct_yaml_int)
EncounterYamlLoader.add_constructor("tag:yaml.org,2002:float", _construct_yaml_float)


class FastEncounterYamlLoader(BoundedCSafeLoader):
    """:class:`EncounterYamlLoader`'s scalar rules and limits on libyaml's parser: what the file readers use
    (ten times faster). The pure-Python loader stays for callers that hook its composer (the web upload guard)."""


FastEncounterYamlLoader.yaml_implicit_resolvers = {
    first: list(resolvers) for first, resolvers in EncounterYamlLoader.yaml_implicit_resolvers.items()}
FastEncounterYamlLoader.yaml_constructors = dict(EncounterYamlLoader.yaml_constructors)


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
) -> Iterator[tuple[Encounter | InputError, int | None]]:
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


def _iter_raw(path: str | Path, columns: CsvMapping | None = None) -> Iterator[tuple[Encounter | InputError, int | None]]:
    if str(path) == "-":
        yield from _iter_jsonl(sys.stdin.buffer, "<stdin>")
        return
    p = Path(path)
    name = str(path)
    suffix = p.suffix.lower()
    if suffix not in JSONL_SUFFIXES + JSON_SUFFIXES + YAML_SUFFIXES + (".csv",):
        yield InputError(
            None,
            f"cannot read {name}: unknown file type '{suffix or '(none)'}'; "
            "use .json, .jsonl, .ndjson, .yaml, .yml or .csv",
        ), None
        return
    if suffix == ".csv":
        if not p.is_file():
            yield InputError(None, f"cannot read {name}: no such file"), None
            return
        yield from _iter_csv(p, name, columns)
        return
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
        if suffix in JSONL_SUFFIXES:
            yield from _iter_jsonl(fh, name)
        elif suffix in JSON_SUFFIXES:
            yield from _iter_json(fh, name)
        else:
            yield from _iter_yaml(fh, name)


def _iter_jsonl(fh: IO[bytes], name: str) -> Iterator[tuple[Encounter | InputError, int | None]]:
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


def _iter_json(fh: IO[bytes], name: str) -> Iterator[tuple[Encounter | InputError, int | None]]:
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


def _fhir_items(obj: Any) -> Iterator[tuple[Encounter | InputError, int | None]]:
    """A FHIR R4 Bundle (or resources) of MedicationAdministration: grouped into encounters by context."""
    from .fhir import encounters_from_fhir_json
    for item in encounters_from_fhir_json(obj):
        yield item, getattr(item, "line", None) if isinstance(item, InputError) else None


def _iter_csv(p: Path, name: str, columns: CsvMapping | None = None) -> Iterator[tuple[Encounter | InputError, int | None]]:
    """A CSV of a MAR action log (an `action` column) or of administration rows (`encounter_id`,
    `administration_id`, ...; see adapters.flat)."""
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


def _decode_items(obj: Any, lines: list[int] | int | None) -> Iterator[tuple[Encounter | InputError, int | None]]:
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


def _yaml_error(exc: yaml.YAMLError) -> InputError:
    message, line = yaml_problem(exc)
    return InputError(None, message, line=line)


def iter_yaml_documents(data: bytes) -> Iterator[tuple[Any, list[int] | int] | InputError]:
    """Each non-empty YAML document with where it starts: one line for a mapping, one per item for a
    list. Unreadable YAML ends the stream with an InputError naming the line (never the source text).
    Shared by the encounter and the claim readers."""
    for document in iter_yaml_nodes(data):
        if isinstance(document, InputError):
            yield document
        else:
            yield document[0], document[1]


def field_line(node: yaml.Node, field: str | None) -> int | None:
    """The line (1-based) of ``field`` (``administrations[0].route``) in a composed YAML mapping: the line of its
    key, else of the nearest enclosing value that is there (a missing field: its mapping)."""
    if not field:
        return None
    line = node.start_mark.line + 1
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", field):
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(node, yaml.SequenceNode) or index >= len(node.value):
                return line
            node = node.value[index]
            line = node.start_mark.line + 1
            continue
        if not isinstance(node, yaml.MappingNode):
            return line
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                line, node = key.start_mark.line + 1, value
                break
        else:
            return line
    return line


def iter_yaml_nodes(data: bytes) -> Iterator[tuple[Any, list[int] | int, yaml.Node] | InputError]:
    """As :func:`iter_yaml_documents`, with each document's composed node (for :func:`field_line`)."""
    try:
        loader = FastEncounterYamlLoader(data)
    except yaml.YAMLError as exc:  # the reader decodes the first bytes at once: not UTF-8/16, control characters
        yield _yaml_error(exc)
        return
    try:
        while True:
            node = None
            try:
                if not loader.check_node():
                    break
                node = loader.get_node()
                if node is None:
                    continue
                value = loader.construct_document(node)
            except yaml.YAMLError as exc:
                yield _yaml_error(exc)
                return
            except (ValueError, TypeError, OverflowError, RecursionError):
                # e.g. an explicit !!int tag on a non-number
                line = node.start_mark.line + 1 if node is not None else None
                yield InputError(None, "not valid YAML: a tagged value cannot be read", line=line)
                return
            if value is None:
                continue  # an empty document ('---' alone)
            if isinstance(node, yaml.SequenceNode):
                yield value, [n.start_mark.line + 1 for n in node.value], node
            else:
                yield value, node.start_mark.line + 1, node
    finally:
        loader.dispose()


def _iter_yaml(fh: IO[bytes], name: str) -> Iterator[tuple[Encounter | InputError, int | None]]:
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


# --------------------------------------------------------------------------------------------
# Coding a stream
# --------------------------------------------------------------------------------------------


def code_stream(
    items: Iterable[Encounter | InputError | tuple[Encounter | InputError, int | None]],
    ruleset: Any,
    *,
    catch_internal: bool = True,
    seen_ids: set[str] | None = None,
) -> Iterator[tuple[Result | ErrorResult, bool]]:
    """Code every encounter; yield ``(result, ok)`` in input order.

    ``items`` are what :func:`read_encounters` yields, or the ``(item, line)`` pairs of
    :func:`iter_encounters` (then errors raised by the engine carry the line too). An
    :class:`InputError`, read or raised by ``code_encounter``, becomes an :class:`ErrorResult` with
    ``ok=False``. With ``catch_internal`` an unexpected engine exception is reported the same way
    (its text is not echoed: it may quote the record); otherwise it propagates. ``seen_ids``: the set given to
    :func:`iter_encounters`; an encounter the engine refuses leaves it, so the same id in a later file is coded
    (only a coded encounter makes a later one a duplicate).
    """
    from infucode import code_encounter  # the engine; imported late so reading works without it

    for entry in items:
        if isinstance(entry, tuple):
            item, line = entry
        else:
            item, line = entry, getattr(entry, "line", None)
        if isinstance(item, InputError):
            yield item.to_result(), False
            continue
        try:
            result = code_encounter(item, ruleset)
        except InputError as err:
            if seen_ids is not None:
                seen_ids.discard(str(item.id))
            if err.encounter is None:
                err.encounter = str(item.id)
            if err.line is None:
                where = getattr(item, "field_line", None)  # a YAML encounter: the line of the field itself
                err.line = (where(err.field) if where is not None and err.field else None) or line
            yield err.to_result(), False
            continue
        except Exception as exc:  # noqa: BLE001 - one broken encounter must not stop a batch
            if not catch_internal:
                raise
            err = InputError(
                None,
                f"internal error while coding this encounter ({type(exc).__name__}); please report it",
                encounter=str(item.id),
                line=line,
            )
            yield err.to_result(), False
            continue
        yield result, True
