"""YAML documents as infucode reads them: a safe loader without the YAML 1.1 traps (``8:30`` -> 510,
``2024-07-01`` -> a date, ``0730`` -> 472), bounded nesting and aliases, and each document with the line it starts
on (and the line of any field in it, :func:`field_line`). Shared by the encounter and the claim readers."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml

from infucode.model import InputError

from .input_limits import BoundedCSafeLoader, BoundedSafeLoader, yaml_problem

__all__ = ["EncounterYamlLoader", "FastEncounterYamlLoader", "field_line", "iter_yaml_documents", "iter_yaml_nodes"]



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
