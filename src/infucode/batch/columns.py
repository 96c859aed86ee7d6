"""Column mapping for CSV and Parquet input: an export's own header names -> ours.

A mapping names, for each of our columns (``infucode.adapters.flat.INPUT_COLUMNS``) that the export
calls something else, the export's header. It comes from a YAML file (``--columns FILE``), in the
same shape as the MAR mapping (``examples/batch/export-mapping.yaml``)::

    columns:
      encounter_id: ENC_ID
      drug: MED_NAME
      start: ADMIN_START

(a bare mapping without the ``columns:`` key is accepted too), and/or from ``--column
our_name=their_name`` options, which win over the file. Columns not mentioned keep their names; a
header of the export that is one of our names but whose role was given to another header is
ignored. Every problem is a :class:`BatchError` (a usage error): an unknown name of ours, a header
named by the mapping that the input does not have, two of ours mapped to one header, no
``encounter_id`` column after mapping.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from infucode.adapters.flat import INPUT_COLUMNS, column_of_header

from ..options import name_value_pairs
from .errors import BatchError

__all__ = ["load_columns", "parse_column_options", "resolve_columns", "validate_columns"]


def validate_columns(mapping: Mapping[str, str]) -> dict[str, str]:
    """Check a mapping (ours -> theirs): known names of ours, non-empty headers, no header mapped
    twice. Returns it as a plain dict."""
    out: dict[str, str] = {}
    unknown = [ours for ours in mapping if ours not in INPUT_COLUMNS]
    if unknown:
        raise BatchError(
            f"column mapping: unknown column name{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"(ours are: {', '.join(INPUT_COLUMNS)})"
        )
    owner: dict[str, str] = {}
    for ours, theirs in mapping.items():
        if isinstance(theirs, bool) or not isinstance(theirs, (str, int, float)):
            raise BatchError(f"column mapping: the header for {ours!r} must be a text, got {theirs!r}")
        theirs = str(theirs)
        if not theirs.strip():
            raise BatchError(f"column mapping: the header for {ours!r} is empty")
        if theirs in owner:
            raise BatchError(f"column mapping: header {theirs!r} is mapped to both {owner[theirs]!r} and {ours!r}")
        owner[theirs] = ours
        out[ours] = theirs
    return out


def load_columns(path: str | Path) -> dict[str, str]:
    """Read a YAML mapping file (``columns: {ours: theirs}``, or the bare mapping)."""
    from infucode.adapters.input_limits import safe_yaml_load

    path = Path(path)
    try:
        data = safe_yaml_load(path, f"column mapping {path}")
    except FileNotFoundError:
        raise BatchError(f"cannot read the column mapping {path}: no such file") from None
    except OSError as exc:
        raise BatchError(f"cannot read the column mapping {path}: {exc.strerror or type(exc).__name__}") from None
    except ValueError as exc:
        raise BatchError(str(exc)) from None
    if isinstance(data, dict) and (set(data) & {"actions", "time_format"}
                                   or set(data.get("columns") or {}) & {"order_id", "action"}):
        raise BatchError(f"{path} maps a MAR action log (order, action and time columns), not administration rows: "
                         f"code the export with 'infucode code EXPORT.csv --columns {path}'")
    if isinstance(data, dict) and set(data) == {"columns"}:
        data = data["columns"]
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BatchError(f"column mapping {path}: expected a mapping of our column names to the export's headers")
    return validate_columns({str(k): v for k, v in data.items()})


def parse_column_options(pairs: Iterable[str]) -> dict[str, str]:
    """``["encounter_id=ENC_ID", ...]`` -> ``{"encounter_id": "ENC_ID"}``."""
    try:
        return name_value_pairs(pairs, "--column", "our_name=their_name")
    except ValueError as exc:
        raise BatchError(str(exc)) from None


def resolve_columns(header: Sequence[str], mapping: Mapping[str, str] | None, what: str) -> list[str | None]:
    """For each header of the input, the name of ours it carries (None: not one of ours, ignored).

    ``what`` names the input in messages. Raises BatchError when a mapped header is missing or
    there is no ``encounter_id`` column."""
    mapping = dict(mapping or {})
    by_theirs = {theirs: ours for ours, theirs in mapping.items()}
    present = set(header)
    missing = [f"{theirs!r} (for {ours})" for ours, theirs in mapping.items() if theirs not in present]
    if missing:
        raise BatchError(
            f"the column mapping names {'headers' if len(missing) > 1 else 'a header'} that {what} does not have: "
            f"{', '.join(missing)}"
        )
    ours_set = set(INPUT_COLUMNS)
    out: list[str | None] = []
    taken: set[str] = set()
    for name in header:
        if name in by_theirs:
            ours = by_theirs[name]
        elif name in ours_set and name not in mapping:
            ours = name
        elif (synonym := column_of_header(name)) is not None and synonym not in mapping and synonym not in present:
            ours = synonym  # "Encounter ID", "start_time": the flat CSV's spreadsheet synonyms (adapters.flat)
        else:
            ours = None  # not ours, or its role was given to another header
        if ours is not None and ours in taken:
            ours = None  # a repeated header: the first one counts
        if ours is not None:
            taken.add(ours)
        out.append(ours)
    if "encounter_id" not in taken:
        raise BatchError(
            f"{what} has no encounter_id column; name the export's with --column encounter_id=THEIR_HEADER "
            "or in a --columns file"
        )
    return out
