"""Decoding one already-parsed encounter object (a dict from JSON or YAML) into the model, with
readable field-level errors (``administrations[0].route``: the allowed values). Core code: no file
formats here; adapters call it after parsing, and ``code_encounter`` calls it for plain dicts.

Messages name the field and repeat what was written in it only when it reads as a vocabulary word
(lower-case letters and underscores: 'iv_drip'); anything else that fails validation may be anything, a
patient's name included, and is never repeated. The vocabulary itself (allowed values, field names, type
words) is quoted, and an unknown key only when it reads as a field name.

Before validation, the spreadsheet forms of the closed-vocabulary fields (route 'IV Push', date '7/1/2024',
time '8:30 AM') are read with the shared vocabulary (:func:`read_spreadsheet_forms`) and each one is
reported in the result (rule ``input.read_as``)."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from .model import Encounter, InputError
from .vocabulary.forms import CONTRACT_CLOCK, CONTRACT_DATE, read_clock, read_date, read_route, read_word, route_words_only
from .vocabulary.routes import NOT_ADMINISTRATION_SERVICES, resolve_route

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
        written = m.group("value").strip().strip("'\"")
        # what was written is quoted only when it reads as a vocabulary word (lower-case letters and underscores,
        # as field_name_like): a mistyped 'iv_drip' helps the user, a name or a number could be patient data
        concepts = route_words_only(written) if field and field.endswith(".route") else None
        quoted = field_name_like(written) or concepts is not None
        text = f"'{written}' is not one of the allowed values" if quoted else "not one of the allowed values"
        if concepts is not None and resolve_route(concepts)[1] == "not_a_service":
            # oral, sublingual, rectal, topical, inhaled: no drug-administration service [CMS IOM 100-04 ch.4 s.230.2]
            return field, (f"route '{written}' is not a drug-administration service ("
                           f"{', '.join(sorted(NOT_ADMINISTRATION_SERVICES))} are not coded); leave the administration out")
        if allowed:
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


# --------------------------------------------------------------------------------------------
# Spreadsheet forms of closed-vocabulary fields, read with the shared vocabulary (vocabulary.forms)
# --------------------------------------------------------------------------------------------

_ROUTES = ("iv_infusion", "iv_push", "sc", "im", "sc_infusion", "intra_arterial", "iv")
_WORDS = {"setting": ("facility", "office"), "claim": ("facility", "professional")}
_CLASSES = ("chemotherapy", "therapeutic", "hydration")


def _read_route(value: str) -> str | None:
    return read_word(value, _ROUTES) or read_route(value)


def _read_clock(value: str) -> str | None:
    return None if CONTRACT_CLOCK.fullmatch(value.strip()) else read_clock(value)


def _read_date(value: str) -> str | None:
    return None if CONTRACT_DATE.fullmatch(value.strip()) else read_date(value)


# Values already tested against the contract's forms, per form: a batch repeats the same few thousand dates
# and clock times endlessly, and a dict lookup costs a fraction of a regular-expression match.
_IN_CONTRACT_FORM: dict[re.Pattern, dict[str, bool]] = {CONTRACT_DATE: {}, CONTRACT_CLOCK: {}}
_REMEMBERED = 1 << 16   # values per form; past that, each is matched every time


def _in_contract_form(value: str, form: re.Pattern) -> bool:
    known = form.fullmatch(value) is not None
    remembered = _IN_CONTRACT_FORM[form]
    if len(remembered) < _REMEMBERED:
        remembered[value] = known
    return known


def in_contract_forms(encounter: Encounter) -> bool:
    """Whether a directly decoded encounter's date and clock values are all in the contract's own forms (the batch's
    fast path: otherwise it decodes through :func:`decode_encounter`, which reads spreadsheet forms)."""
    date = encounter.date
    if date is not None:
        known = _IN_CONTRACT_FORM[CONTRACT_DATE].get(date)
        if not (_in_contract_form(date, CONTRACT_DATE) if known is None else known):
            return False
    remembered = _IN_CONTRACT_FORM[CONTRACT_CLOCK].get
    for adm in encounter.administrations:
        for value in (adm.start, adm.stop):
            if value is not None:
                known = remembered(value)
                if not (_in_contract_form(value, CONTRACT_CLOCK) if known is None else known):
                    return False
        for gap in adm.interruptions:
            if not CONTRACT_CLOCK.fullmatch(gap.start) or not CONTRACT_CLOCK.fullmatch(gap.stop):
                return False
    return True


def read_spreadsheet_forms(obj: dict) -> tuple[dict, list[tuple[list[str], str]]]:
    """``obj`` with the spreadsheet forms of its closed-vocabulary fields in the contract's words, and one note
    per value read (``([administration ids], "route 'IV Push' read as iv_push")``). Only route, setting, claim,
    class, date and clock values are read; what the vocabulary cannot read whole is left as written, for the
    decoder to refuse naming the field. A form of a closed vocabulary may be quoted; nothing else is."""
    notes: list[tuple[list[str], str]] = []
    out = obj

    def read(holder: dict, key: str, reader, ids: list[str], label: str) -> dict:
        value = holder.get(key)
        if not isinstance(value, str):
            return holder
        new = reader(value)
        if new is None or new == value:
            return holder
        notes.append((ids, f"{label} '{value.strip()}' read as {new}"))
        return {**holder, key: new}

    for key, allowed in _WORDS.items():
        out = read(out, key, lambda v, a=allowed: None if v in a else read_word(v, a), [], key)
    out = read(out, "date", _read_date, [], "date")
    adms = out.get("administrations")
    if isinstance(adms, list):
        new_adms = []
        for adm in adms:
            if not isinstance(adm, dict):
                new_adms.append(adm)
                continue
            aid = user_id(adm.get("id"))
            ids = [aid] if aid is not None else []
            where = f"administration {aid}: " if aid is not None else ""
            adm = read(adm, "route", lambda v: None if v in _ROUTES else _read_route(v), ids, f"{where}route")
            adm = read(adm, "class", lambda v: None if v in _CLASSES else read_word(v, _CLASSES), ids, f"{where}class")
            for key in ("start", "stop"):
                adm = read(adm, key, _read_clock, ids, f"{where}{key}")
            gaps = adm.get("interruptions")
            if isinstance(gaps, list) and any(isinstance(g, dict) for g in gaps):
                new_gaps = []
                for k, gap in enumerate(gaps):
                    if isinstance(gap, dict):
                        for key in ("start", "stop"):
                            gap = read(gap, key, _read_clock, ids, f"{where}interruption {k + 1} {key}")
                    new_gaps.append(gap)
                if new_gaps != gaps:
                    adm = {**adm, "interruptions": new_gaps}
            new_adms.append(adm)
        if notes:
            out = {**out, "administrations": new_adms}
    return out, notes


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
    obj, read_as = read_spreadsheet_forms(obj)
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
    encounter = _distinct_administration_ids(encounter, line)
    if read_as:
        encounter.read_as = read_as  # said in the result as info findings (engine, rule input.read_as)
    return encounter


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


