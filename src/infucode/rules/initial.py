"""The initial service: one per encounter (per required vascular access).

Facility: by hierarchy, whatever the clock order - chemotherapy/complex > therapeutic > hydration,
and within a family infusion > push (CPT facility hierarchy; ASCO JOP 2008 [S13]; Noridian [S6]).
Office: the service that is the primary reason for the visit (CPT; FindACode [S26]; UW Health [S24]),
else the same hierarchy; policy ``office_initial``. A second initial only where a protocol required a
separate vascular access, with a distinct-service modifier (CMS RAC 0071 [S4]; CMS R1702CP [S14]).
"""
from __future__ import annotations

from datetime import datetime

from . import family as fam
from . import method as meth
from .administration import Service
from .context import CodingContext

# The rules that choose an initial service (ids in reference/data/rules.yaml).
FACILITY_HIERARCHY = "initial.facility_hierarchy"
OFFICE_PRIMARY = "initial.office_primary"
SEPARATE_ACCESS = "initial.separate_access"  # the initial of a second chain: a protocol required its own access

FAMILY_RANK = {fam.CHEMOTHERAPY: 3, fam.THERAPEUTIC: 2, fam.HYDRATION: 1}
METHOD_RANK = {meth.INFUSION: 2, meth.PUSH: 1}

# The code of an initial service, by family and method (CPT code set).
INITIAL_CODE = {
    (fam.CHEMOTHERAPY, meth.INFUSION): "96413",
    (fam.CHEMOTHERAPY, meth.PUSH): "96409",
    (fam.THERAPEUTIC, meth.INFUSION): "96365",
    (fam.THERAPEUTIC, meth.PUSH): "96374",
    (fam.HYDRATION, meth.INFUSION): "96360",
}


def hierarchy_rank(s: Service) -> tuple[int, int]:
    return FAMILY_RANK[s.family], METHOD_RANK[s.method]


def hierarchy_key(s: Service):
    # Highest rank first; then the earliest, the longest, the lowest id: deterministic whatever the input order.
    fr, mr = hierarchy_rank(s)
    return (-fr, -mr, s.start is None, s.start or datetime.min, -(s.minutes or 0), s.id)


def by_hierarchy(services: list[Service]) -> Service:
    return min(services, key=hierarchy_key)


def initial_service(ctx: CodingContext, candidates: list[Service]) -> tuple[Service, str]:
    """The initial service of a chain of IV services, and the rule that chose it."""
    if ctx.claim == "facility":
        return by_hierarchy(candidates), FACILITY_HIERARCHY
    if ctx.policy("office_initial") == "hierarchy":
        return by_hierarchy(candidates), FACILITY_HIERARCHY
    marked = [s for s in candidates if s.primary]
    if not marked:
        return by_hierarchy(candidates), OFFICE_PRIMARY
    chosen = by_hierarchy(marked)
    if len(marked) > 1:
        ctx.add_finding(OFFICE_PRIMARY, "warning",
                        f"administrations {', '.join(s.id for s in marked)} are all marked primary; {chosen.id} is taken by the hierarchy",
                        [s.id for s in marked])
    top = by_hierarchy(candidates)
    if top.family == fam.CHEMOTHERAPY and chosen.family != fam.CHEMOTHERAPY:
        # 96413/96409 edit every non-chemotherapy initial code (NCCI PTP, modifier indicator 1), and
        # the chemotherapy add-ons (96415, 96417) ride only on 96413: the chemotherapy stays initial.
        ctx.add_finding(OFFICE_PRIMARY, "warning",
                        f"administration {chosen.id} is marked primary but a chemotherapy service ({top.id}) was given; "
                        "the chemotherapy service is initial because NCCI edits deny a non-chemotherapy initial beside it", chosen.ids)
        return top, FACILITY_HIERARCHY
    return chosen, OFFICE_PRIMARY
