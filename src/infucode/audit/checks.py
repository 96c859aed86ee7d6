"""The audit checks, in the order their findings are reported (before sorting by severity).

One small pure function per check (no I/O), grouped by concept: ``edits`` (the billed lines alone),
``documentation`` (against the engine's supported lines), ``hydration``, ``initial``, ``drugs``. Each
takes the prepared :class:`~.context.AuditContext` and returns findings; every rule id resolves in
``reference/data/rules.yaml`` (keys ``audit.*``) to a statement in our own words and its sources.
"""
from __future__ import annotations

from .context import AuditContext, Billed, Check
from .documentation import (billed_vs_supported, encounter_mismatch, family_mismatch, input_validation,
                            no_documentation, sequential_for_same_drug)
from .drugs import drug_units, jw_jz_modifiers
from .edits import (add_on_without_primary, concurrent_more_than_once, facility_only_code,
                    facility_place_of_service, modifiers_on_administration, mue_exceeded, ptp_pairs,
                    unknown_admin_codes)
from .hydration import hydration_as_initial, hydration_not_supported
from .initial import second_initial

__all__ = ["CHECKS", "AuditContext", "Billed", "Check"]

#: Every check, in the order the findings are reported before sorting by severity.
CHECKS: tuple[Check, ...] = (
    input_validation,
    unknown_admin_codes,
    add_on_without_primary,
    mue_exceeded,
    concurrent_more_than_once,
    facility_only_code,
    facility_place_of_service,
    hydration_as_initial,
    ptp_pairs,
    modifiers_on_administration,
    no_documentation,
    encounter_mismatch,
    billed_vs_supported,
    sequential_for_same_drug,
    family_mismatch,
    hydration_not_supported,
    second_initial,
    drug_units,
    jw_jz_modifiers,
)
