"""What the input readers changed or ignored, said in the result: never a silent reading.

The decoder reads spreadsheet forms ("IV Push", "7/1/2024", "8:30 AM") through the one vocabulary
(``decoding.read_spreadsheet_forms``) and the flat CSV reader ignores unknown headers; both leave notes on the
encounter, which become findings here [INFUCODE: no silent wrong code].
"""
from __future__ import annotations

from typing import Any

from .context import CodingContext


def say_what_the_readers_did(ctx: CodingContext, encounter: Any) -> None:
    for ids, note in getattr(encounter, "read_as", ()):
        ctx.add_finding("input.read_as", "info", note, ids)
    for note in getattr(encounter, "input_warnings", ()):
        ctx.add_finding("input.unknown_column", "warning", note, [])
