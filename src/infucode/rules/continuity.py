"""Continuity and overlap: which documented pieces are one infusion, which hydration minutes count.

- A new bag of the same drug hung within a few minutes continues the infusion: a routine bag change
  does not stop the clock (CPT Assistant, as cited by the seed page).
- The same drug running twice at once is a documentation error; its time is counted once.
- Hydration running alongside a drug infusion is not reported; only its minutes alone count
  (CPT hydration guidelines; Select Health [S25]; CMS RAC 0137 [S5]). Whether short pieces of the
  day's hydration add up is the ``hydration_pieces`` policy.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from . import family as fam
from . import method as meth
from .administration import Service
from .context import CodingContext
from .timing import BAG_CHANGE_MAX_GAP, minutes_between, overlap_minutes

_BAG_CHANGE_GAP = timedelta(minutes=BAG_CHANGE_MAX_GAP)


def _by_clock(s: Service):
    return (s.start, s.id)


def continuous_infusions(ctx: CodingContext, services: list[Service]) -> list[Service]:
    """Merge pieces of the same drug that form one continuous infusion (bag change or self-overlap)."""
    result: list[Service] = []
    running: dict[str, Service] = {}
    timed = sorted((s for s in services if s.method == meth.INFUSION and s.clock), key=_by_clock)
    for s in timed:
        prev = running.get(s.drug_key)
        if prev is not None and s.start <= prev.stop + _BAG_CHANGE_GAP:
            if s.start < prev.stop:
                overlap = overlap_minutes(prev.start, prev.stop, s.start, s.stop)
                ctx.add_finding("continuity.self_overlap", "error",
                                f"administrations {prev.id} and {s.id}: the same drug ({s.drug_name}) is documented running twice at once "
                                f"for {overlap} minutes (fields start/stop); the time is counted once", prev.ids + s.ids)
                prev.minutes += s.minutes - overlap
            else:
                gap = minutes_between(prev.stop, s.start)
                prev.minutes += s.minutes + gap  # a brief bag change does not stop the clock
            if s.stop > prev.stop:
                prev.stop = s.stop
            prev.ids.extend(s.ids)
            prev.primary = prev.primary or s.primary
            prev.separate_site = prev.separate_site or s.separate_site
            continue
        running[s.drug_key] = s
        result.append(s)
    return result + [s for s in services if not (s.method == meth.INFUSION and s.clock)]


def _merged_windows(services: list[Service]) -> list[tuple[datetime, datetime]]:
    spans = sorted((s.start, s.stop) for s in services if s.clock)
    merged: list[list[datetime]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            if b > merged[-1][1]:
                merged[-1][1] = b
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def hydration_minutes_alone(ctx: CodingContext, services: list[Service]) -> list[Service]:
    """Take the minutes hydration ran alongside a drug infusion out of the hydration's time."""
    drug_windows = _merged_windows([s for s in services if s.method == meth.INFUSION and s.family != fam.HYDRATION])
    if not drug_windows:
        return services
    for s in services:
        if s.family != fam.HYDRATION or not s.clock:
            continue
        together = sum(overlap_minutes(s.start, s.stop, a, b) for a, b in drug_windows)
        if together:
            s.minutes = max(0, s.minutes - together)
            ctx.add_finding("continuity.hydration_concurrent", "info",
                            f"administration {s.id}: {together} minutes of hydration ran alongside a drug infusion and are not counted "
                            f"({s.minutes} minutes remain)", s.ids)
    return services


def hydration_pieces(ctx: CodingContext, services: list[Service]) -> list[Service]:
    """Add up the day's hydration pieces (policy ``hydration_pieces``) and drop hydration of 30 minutes or less."""
    hydration = [s for s in services if s.family == fam.HYDRATION and s.method == meth.INFUSION]
    others = [s for s in services if not (s.family == fam.HYDRATION and s.method == meth.INFUSION)]
    if not hydration:
        return services
    if len(hydration) > 1 and ctx.policy("hydration_pieces") == "add_up":
        hydration.sort(key=lambda s: (s.start is None, s.start or datetime.min, s.id))
        whole = hydration[0]
        for piece in hydration[1:]:
            whole.ids.extend(piece.ids)
            whole.minutes = (whole.minutes or 0) + (piece.minutes or 0)
            whole.withhold_added = whole.withhold_added or piece.withhold_added
            whole.clock = whole.clock and piece.clock
            whole.primary = whole.primary or piece.primary
            if piece.stop is not None and (whole.stop is None or piece.stop > whole.stop):
                whole.stop = piece.stop
        ctx.add_finding("continuity.hydration_pieces", "info",
                        f"administrations {', '.join(whole.ids)}: hydration pieces of the day add up to {whole.minutes} minutes "
                        "(policy hydration_pieces=add_up)", whole.ids)
        hydration = [whole]
    return others + [s for s in hydration if meth.hydration_reported(ctx, s.ids, s.minutes or 0)]
