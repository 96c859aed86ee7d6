"""Coding a stream of encounters as read: each one coded, or the reason it was not, in input order."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from infucode.model import Encounter, ErrorResult, InputError, Result

__all__ = ["code_stream"]

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
