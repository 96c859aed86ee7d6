"""Limits on what a file may hold, and the safe readers every input format shares.

Every file that enters infucode (``code``, ``batch``, ``audit``, the web upload, the mapping files)
is read through here, so one hostile or broken record costs bounded time and memory and becomes an
:class:`~infucode.model.InputError` for that record only:

* JSON and JSON Lines: :func:`decode_json` refuses a value nested deeper than
  :data:`MAX_NESTING_DEPTH` (msgspec would otherwise recurse until Python's own limit and raise
  RecursionError); :func:`iter_json_lines` reads a line of at most :data:`MAX_LINE_BYTES` without
  holding a longer one in memory;
* YAML: :class:`BoundedSafeLoader` is PyYAML's SafeLoader that also refuses nesting deeper than
  :data:`MAX_NESTING_DEPTH` and aliases that would repeat more than :data:`MAX_YAML_ALIAS_NODES`
  nodes (the "billion laughs": 300 bytes of nested aliases expanding to gigabytes);
* whole-file formats (.json, .yaml, .csv): :func:`read_limited` refuses a file over
  :data:`MAX_DOCUMENT_BYTES` (YAML: :data:`MAX_YAML_BYTES`); JSON Lines is the streaming format
  for anything bigger.

The limits are generous for real encounters and claims (a documented encounter is a few KB, nested
four or five levels) and small enough that a bad file fails in well under a second.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import msgspec
import yaml

from infucode.model import InputError

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "MAX_LINE_BYTES",
    "MAX_NESTING_DEPTH",
    "MAX_YAML_ALIAS_NODES",
    "MAX_YAML_BYTES",
    "BoundedSafeLoader",
    "YamlLimitError",
    "decode_json",
    "decode_json_document",
    "iter_json_lines",
    "json_line_values",
    "read_lines",
    "read_limited",
    "safe_yaml_load",
    "BoundedCSafeLoader",
    "too_deep",
]

#: Deepest nesting of arrays/objects (JSON) or sequences/mappings (YAML) accepted. An encounter is
#: about 4 levels deep and a FHIR Bundle about 8; 64 leaves room without letting a parser recurse.
MAX_NESTING_DEPTH = 64
#: A JSON Lines record longer than this (in bytes) is an error for that line, and is never read
#: into memory whole.
MAX_LINE_BYTES = 10 * 1024 * 1024
#: A file read whole (.json, .csv, a MAR export) larger than this is refused: use JSON Lines.
MAX_DOCUMENT_BYTES = 100 * 1024 * 1024
#: A YAML file larger than this is refused (policy, infucode 2026-12): YAML is for hand-written files of a few
#: KB; data beyond that belongs in JSON or JSON Lines. libyaml parses and PyYAML builds about 0.5 MB a second,
#: so 256 KiB (some 1,000 administrations) reads in about half a second; 10 MiB (the limit before) took 20 s.
MAX_YAML_BYTES = 256 * 1024
#: Nodes that aliases (``*name``) may repeat in one YAML document, counted as if written out.
MAX_YAML_ALIAS_NODES = 10_000

_CHUNK = 1024 * 1024
_BOM = b"\xef\xbb\xbf"


# --------------------------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------------------------


def read_limited(path: str | Path, limit: int = MAX_DOCUMENT_BYTES, *, hint: str = "use JSON Lines (.jsonl)") -> bytes:
    """The bytes of a file read whole; InputError (no line) when it is over ``limit`` bytes. OSError
    (missing, a directory, unreadable) is left to the caller, who knows how to name it."""
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise InputError(None, f"file is larger than the limit of {limit:,} bytes for this format; {hint}")
    return data


def read_lines(fh: IO[bytes], limit: int | None = None) -> Iterator[tuple[int, bytes | None]]:
    """Yield ``(line number, bytes)``; ``None`` instead of bytes for a line over ``limit`` (default
    :data:`MAX_LINE_BYTES`).

    Reads at most ``limit + 1`` bytes of any line, so a giant line never sits in memory."""
    if limit is None:
        limit = MAX_LINE_BYTES
    number = 0
    while True:
        raw = fh.readline(limit + 1)
        if not raw:
            return
        number += 1
        if len(raw) > limit and not raw.endswith(b"\n"):
            while True:  # oversize: skip to the end of this line in bounded chunks
                chunk = fh.readline(_CHUNK)
                if not chunk or chunk.endswith(b"\n"):
                    break
            yield number, None
            continue
        yield number, raw


def line_too_long() -> str:
    return f"line is longer than the limit of {MAX_LINE_BYTES} bytes"


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------


def too_deep(value: Any, limit: int | None = None) -> bool:
    """True when lists/dicts in ``value`` nest deeper than ``limit`` (default :data:`MAX_NESTING_DEPTH`;
    ``[]`` is one level)."""
    if not isinstance(value, (dict, list)):
        return False
    if limit is None:
        limit = MAX_NESTING_DEPTH
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return False


def nesting_message() -> str:
    return f"nested deeper than the limit of {MAX_NESTING_DEPTH} levels"


def json_syntax_message(message: str) -> str:
    """msgspec's 'JSON is malformed: trailing comma in object (byte 8)' without the byte offset."""
    text = re.sub(r"\s*\(byte \d+\)\s*$", "", message)
    text = text.replace("JSON is malformed: ", "")
    if text.startswith("Input data was truncated"):
        text = "unexpected end of data"
    return f"not valid JSON: {text[:1].lower() + text[1:]}"


def decode_json(raw: bytes, *, line: int | None = None) -> Any:
    """One JSON value (a line, or a whole document without line tracking); InputError naming ``line``
    when it is not valid UTF-8 JSON or nests deeper than :data:`MAX_NESTING_DEPTH`."""
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise InputError(None, json_syntax_message(str(exc)), line=line) from None
    except UnicodeDecodeError:
        raise InputError(None, "not valid UTF-8 text", line=line) from None
    except RecursionError:  # far deeper than the limit: msgspec stops at Python's recursion limit
        raise InputError(None, nesting_message(), line=line) from None
    # Nesting needs one opening bracket a level: a text with fewer than the limit cannot nest too deep,
    # and the walk over the value is skipped (brackets inside strings only make this count larger).
    if raw.count(b"[") + raw.count(b"{") > MAX_NESTING_DEPTH and too_deep(value):
        raise InputError(None, nesting_message(), line=line)
    return value


def decode_json_document(data: bytes) -> Any:
    """A whole JSON file (a BOM is skipped): like :func:`decode_json`, with the line of a syntax error
    worked out from msgspec's byte offset."""
    if data.startswith(_BOM):
        data = data[3:]
    try:
        return decode_json(data)
    except InputError as err:
        m = re.search(r"\(byte (\d+)\)", _last_decode_message(data))
        if m:
            err.line = data.count(b"\n", 0, int(m.group(1))) + 1
        raise


def _last_decode_message(data: bytes) -> str:
    # only on the error path: decode again to get msgspec's byte offset
    try:
        msgspec.json.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        return str(exc)
    return ""


def iter_json_lines(fh: IO[bytes]) -> Iterator[tuple[int, Any | InputError]]:
    """The shared JSON Lines reader: ``(line number, value or InputError)`` per non-blank line.

    A UTF-8 BOM on line 1 is skipped; a line over :data:`MAX_LINE_BYTES`, one that is not JSON and
    one nested too deep are errors for that line only. Empty input yields nothing."""
    return json_line_values(read_lines(fh))


def json_line_values(lines: Iterable[tuple[int, bytes | None]]) -> Iterator[tuple[int, Any | InputError]]:
    """:func:`iter_json_lines` on lines already read (``(line number, bytes or None)`` as :func:`read_lines`
    gives them), e.g. a chunk of a file that a worker process decodes."""
    for number, raw in lines:
        if raw is None:
            yield number, InputError(None, line_too_long(), line=number)
            continue
        if number == 1 and raw.startswith(_BOM):
            raw = raw[3:]
        if not raw.strip():
            continue
        try:
            yield number, decode_json(raw, line=number)
        except InputError as err:
            yield number, err


# --------------------------------------------------------------------------------------------
# YAML
# --------------------------------------------------------------------------------------------


class YamlLimitError(yaml.MarkedYAMLError):
    """A YAML document over a limit of this module (nesting, aliases); names the line, never the text."""


class BoundedSafeLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader (no Python objects) that also refuses, while composing a document:

    * nesting deeper than :data:`MAX_NESTING_DEPTH` (PyYAML composes recursively: a thousand ``[``
      would raise RecursionError);
    * aliases that would repeat more than :data:`MAX_YAML_ALIAS_NODES` nodes (counted as if every
      ``*name`` were written out), and an alias inside the node it names.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if not self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        try:
            if self._depth > MAX_NESTING_DEPTH:
                raise YamlLimitError(problem=nesting_message(), problem_mark=self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> Any:
        node = super().compose_document()
        _check_aliases(node)
        return node


class BoundedCSafeLoader(yaml.CSafeLoader):
    """The same document checks as :class:`BoundedSafeLoader` on libyaml's parser, about ten times faster
    (pure-Python PyYAML reads ~100 KB/s, so a hand-sized file could take seconds). libyaml refuses nesting past
    its own limit of 1,000 levels while parsing; each composed document is then checked for our nesting limit
    and for aliases before anything is constructed from it."""

    def get_node(self) -> Any:
        node = super().get_node()
        _check_aliases(node)
        return node

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        _check_aliases(node)
        return node


def _check_aliases(root: Any) -> None:
    """Walk the composed graph once per distinct node (an alias shares its anchor's node): the
    document's size and depth as if every alias were written out; YamlLimitError when either is over
    its limit, or when an alias is inside the node it names."""
    if root is None or _tree_without_aliases(root):
        return
    seen: dict[int, tuple[int, int]] = {}  # node -> (size, height) written out
    active: set[int] = set()

    def walk(node: Any, depth: int) -> tuple[int, int]:
        if not isinstance(node, (yaml.SequenceNode, yaml.MappingNode)):
            return 1, 0
        key = id(node)
        if key in active:
            raise YamlLimitError(problem="an alias refers to the node that contains it", problem_mark=node.start_mark)
        if key not in seen:
            if depth > MAX_NESTING_DEPTH:
                raise YamlLimitError(problem=nesting_message() + " (through aliases)", problem_mark=node.start_mark)
            active.add(key)
            children = node.value if isinstance(node, yaml.SequenceNode) else [n for pair in node.value for n in pair]
            size, height = 1, 1
            for child in children:
                s, h = walk(child, depth + 1)
                size += s
                height = max(height, h + 1)
            active.discard(key)
            seen[key] = (size, height)
        size, height = seen[key]
        if depth + height - 1 > MAX_NESTING_DEPTH:
            raise YamlLimitError(problem=nesting_message() + " (through aliases)", problem_mark=node.start_mark)
        return size, height

    total, _height = walk(root, 1)
    distinct = _distinct(root)
    if total - distinct > MAX_YAML_ALIAS_NODES:
        raise YamlLimitError(
            problem=f"aliases (*name) repeat {total - distinct:,} nodes, over the limit of {MAX_YAML_ALIAS_NODES:,}; "
            "write the values out",
            problem_mark=root.start_mark,
        )


def _tree_without_aliases(root: Any) -> bool:
    """True when no node is reached twice (no alias) and no node is nested past the limit: the common document,
    checked in one cheap pass instead of the size-and-height walk that aliases need."""
    seen: set[int] = set()
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if type(node) is yaml.ScalarNode:
            continue
        if id(node) in seen:
            return False
        seen.add(id(node))
        if depth > MAX_NESTING_DEPTH:
            return False  # the full walk names the problem (nesting, or nesting through aliases)
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append((key, depth + 1))
                stack.append((value, depth + 1))
    return True


def _distinct(root: Any) -> int:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                stack.extend((k, v))
    return len(seen)


def yaml_problem(exc: yaml.YAMLError) -> tuple[str, int | None]:
    """``(message, line)`` for a YAML error, built from its parts: ``str(exc)`` would quote the source."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    if isinstance(exc, yaml.reader.ReaderError):
        return "not valid UTF-8 text", line
    if isinstance(exc, YamlLimitError):
        return f"YAML {exc.problem}", line
    if "maximum nesting depth" in (getattr(exc, "problem", None) or ""):  # libyaml's own limit, past ours
        return f"YAML {nesting_message()}", line
    parts = [p for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p]
    return f"not valid YAML: {'; '.join(parts) if parts else 'malformed YAML'}", line


def safe_yaml_load(source: str | Path, what: str) -> Any:
    """One YAML document of a small settings file (a column or MAR mapping) with the limits above;
    ValueError naming ``what`` and the line when it cannot be read."""
    try:
        data = read_limited(source, MAX_YAML_BYTES, hint="a mapping file is a few lines")
    except InputError as err:
        raise ValueError(f"{what}: {err.message}") from None
    if data.startswith(_BOM):
        data = data[3:]
    try:
        return yaml.load(data, Loader=BoundedSafeLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        message, line = yaml_problem(exc)
        raise ValueError(f"{what}{f' line {line}' if line else ''}: {message}") from None
