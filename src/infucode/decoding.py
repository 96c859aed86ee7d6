"""Decoding one already-parsed encounter object (a dict from JSON or YAML) into the model, with
readable field-level errors (``administrations[0].route``: the allowed values). Core code: no file
formats here; adapters call it after parsing, and ``code_encounter`` calls it for plain dicts.

Messages name the field and never repeat what was written in it: a value that fails validation is not
from the closed vocabulary (it failed), and may be anything, a patient's name included. Only the
vocabulary itself (allowed values, field names, type words) is quoted, and an unknown key only when it
reads as a field name (lower-case letters and underscores)."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from .model import Encounter, InputError

# An unknown key is quoted only when it looks like a mistyped field name ('strat', 'drug_name'), never when it
# could be data put in the key's place (spaces, digits, capitals: 'John Q Patient MRN-99887766').
_FIELD_NAME_LIKE = re.compile(r"[a-z_]{1,40}")
# Anything msgspec quotes in a message we do not know: dropped, it may be a value.
_RX_QUOTED = re.compile(r"`[^`]*`|'[^']*'|\"[^\"]*\"")


# --------------------------------------------------------------------------------------------
# Decoding one encounter object, with readable field-level errors
# --------------------------------------------------------------------------------------------

_TYPE_WORDS = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "null": "null",
    "array": "a list",
    "object": "an object",
    "bytes": "bytes",
    "date": "a date",
    "datetime": "a date-time",
    "time": "a time",
}

_RX_EXPECTED = re.compile(r"^Expected `(?P<expected>[^`]+)`(?:, got `(?P<got>[^`]+)`)?")
_RX_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`")
_RX_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]*)`")
_RX_ENUM = re.compile(r"^Invalid enum value (?P<value>.*?)(?: - at `|$)", re.S)
_RX_AT = re.compile(r" - at `(?P<path>[^`]*)`(?: in `(?P<outer>[^`]*)`)?\s*$")


def _words(types: str, *, drop_null: bool) -> str:
    names = [t.strip() for t in types.split("|")]
    if drop_null and len(names) > 1:
        names = [n for n in names if n != "null"]
    readable = [_TYPE_WORDS.get(n, n) for n in names]
    if len(readable) == 1:
        return readable[0]
    return ", ".join(readable[:-1]) + " or " + readable[-1]


def _path_to_field(path: str | None) -> str | None:
    """``$.administrations[0].start`` -> ``administrations[0].start``; ``$`` -> None."""
    if not path or path == "$":
        return None
    if path.startswith("$."):
        return path[2:]
    if path.startswith("$"):
        return path[1:] or None
    return path


def _join(parent: str | None, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _info_at(field: str | None) -> msgspec.inspect.Type | None:
    """The msgspec type found at a field path such as ``administrations[0].route``."""
    info: Any = msgspec.inspect.type_info(Encounter)
    if not field:
        return info
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", field):
        info = _strip_optional(info)
        if part.startswith("["):
            if not isinstance(info, msgspec.inspect.ListType):
                return None
            info = info.item_type
            continue
        if not isinstance(info, msgspec.inspect.StructType):
            return None
        info = next((f.type for f in info.fields if f.encode_name == part), None)
        if info is None:
            return None
    return _strip_optional(info)


def _strip_optional(info: Any) -> Any:
    if isinstance(info, msgspec.inspect.UnionType):
        rest = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
        if len(rest) == 1:
            return rest[0]
    return info


def _field_names(info: Any) -> list[str]:
    if isinstance(info, msgspec.inspect.StructType):
        return [f.encode_name for f in info.fields]
    return []


def _suggest(name: str, candidates: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def field_name_like(name: str) -> bool:
    """Whether an unknown key reads as a field name (lower-case words), so repeating it cannot leak free text."""
    return _FIELD_NAME_LIKE.fullmatch(name) is not None


def translate_validation_error(message: str) -> tuple[str | None, str]:
    """Turn a msgspec validation message into ``(field, readable message)``."""
    at = _RX_AT.search(message)
    field = _path_to_field(at.group("path")) if at else None
    if at and at.group("outer") is not None and at.group("path") == "key":
        # "Expected `str` - at `key` in `$.administrations[0]`": a non-string key in an object
        field = _path_to_field(at.group("outer"))
        return field, "object keys must be strings"

    if m := _RX_UNKNOWN.match(message):
        name = m.group("name")
        allowed = _field_names(_info_at(field))
        listed = f" (allowed: {', '.join(allowed)})" if allowed else ""
        if field_name_like(name):
            return _join(field, name), f"unknown field '{name}'{_suggest(name, allowed)}{listed}"
        where = f"in {field}" if field else "in the encounter"
        return field, (f"unknown field {where} (its name is not repeated here: it does not read as a field name)"
                       f"{_suggest(name, allowed)}{listed}")
    if m := _RX_MISSING.match(message):
        return _join(field, m.group("name")), "required field is missing"
    if m := _RX_ENUM.match(message):
        info = _info_at(field)
        allowed = [str(v) for v in info.values] if isinstance(info, msgspec.inspect.LiteralType) else []
        text = "not one of the allowed values"
        if allowed:
            # the suggestion is one of the allowed values; what was written is not repeated
            written = m.group("value").strip().strip("'\"")
            text += f": {', '.join(allowed)}{_suggest(written, allowed)}"
        return field, text
    if m := _RX_EXPECTED.match(message):
        expected = _words(m.group("expected"), drop_null=True)
        got = m.group("got")
        if got is None:
            return field, f"expected {expected}"
        return field, f"expected {expected}, got {_words(got, drop_null=False)}"
    # Unknown wording (a future msgspec): keep msgspec's text without the location suffix and without anything
    # it quotes, which may be the value.
    text = " ".join(_RX_QUOTED.sub("", _RX_AT.sub("", message)).split()) or "invalid value"
    return field, text[:1].lower() + text[1:]


def user_id(value: Any) -> str | None:
    """The id the user gave (string or integer), as text; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value)


def _printable(text: str | None) -> str | None:
    """The user's id, unless it cannot be written as UTF-8 (then it cannot name anything in a message)."""
    if text is None:
        return None
    try:
        text.encode("utf-8")
    except UnicodeError:
        return None
    return text


def decode_encounter(obj: Any, line: int | None = None) -> Encounter:
    """Validate one decoded JSON/YAML value as an :class:`Encounter`.

    Ids (encounter and administration) come back as strings. Raises :class:`InputError` naming
    the field for anything the model does not accept, and for duplicate administration ids.
    """
    if isinstance(obj, Encounter):
        return _distinct_administration_ids(obj, line)
    if not isinstance(obj, dict):
        raise InputError(None, "expected an encounter object", line=line)
    enc_id = user_id(obj.get("id"))
    try:
        encounter = msgspec.convert(obj, Encounter)
    except msgspec.ValidationError as exc:
        field, message = translate_validation_error(str(exc))
        raise InputError(field, message, encounter=enc_id, line=line) from None
    except UnicodeError:
        # a lone surrogate (JSON "\ud800") cannot be compared with a closed vocabulary nor printed
        raise InputError(None, "text that is not valid Unicode (a lone surrogate escape)",
                         encounter=_printable(enc_id), line=line) from None
    encounter.id = str(encounter.id)
    return _distinct_administration_ids(encounter, line)


def _distinct_administration_ids(encounter: Encounter, line: int | None) -> Encounter:
    """The one check that administration ids are distinct (lines and findings name administrations by id)."""
    seen: dict[str, int] = {}
    for i, adm in enumerate(encounter.administrations):
        adm.id = str(adm.id)
        if adm.id in seen:
            raise InputError(
                f"administrations[{i}].id",
                f"duplicate administration id '{adm.id}' (first used by administrations[{seen[adm.id]}])",
                encounter=encounter.id,
                line=line,
            )
        seen[adm.id] = i
    return encounter


