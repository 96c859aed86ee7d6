"""audit_claim(claim, ruleset) -> AuditResult: the billed lines against the documentation. No I/O.

1. decode the claim (field errors raise InputError naming the claim id and field);
2. the payer profile: the claim's ``payer`` overrides the ruleset's profile; the CMS tables in force on
   the claim's first date of service when the ruleset has imported releases attached
   (``ruleset.with_releases(store)``, see ``reference.releases``);
3. the documentation, when present, is coded by the engine for the claim's type (professional ->
   "professional", institutional -> "facility"), whatever the embedded encounter says (a
   disagreement is a finding);
4. every check in :data:`checks.CHECKS`, findings sorted by severity; sources filled from the rule registry.
"""
from __future__ import annotations

from typing import Any

import msgspec

from infucode.engine import code_encounter
from infucode.model import InputError
from infucode.ruleset import Ruleset

from . import checks
from .model import AuditFinding, AuditResult, Claim, decode_claim

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
#: Engine findings carried into the audit: problems with the documentation itself.
_CARRIED = ("error", "warning")


def audit_claim(claim: Claim | dict[str, Any], ruleset: Ruleset) -> AuditResult:
    """Audit one claim. Raises InputError (its ``encounter`` attribute = the claim id) when it cannot be read."""
    claim = decode_claim(claim)
    cid = str(claim.id)
    try:
        return _audit(claim, cid, ruleset)
    except InputError as exc:
        exc.encounter = cid
        raise


def _audit(claim: Claim, cid: str, ruleset: Ruleset) -> AuditResult:
    if claim.payer:
        try:
            ruleset = ruleset.with_profile(claim.payer)
        except KeyError as exc:
            raise InputError("payer", str(exc).strip('"')) from None
    ruleset = ruleset.for_dates([line.date or claim.date for line in claim.lines] or [claim.date])
    kind = claim.engine_claim
    billed = tuple(
        checks.Billed(index=i, code=line.code.strip().upper(), units=line.units,
                      modifiers=frozenset(m.strip().upper() for m in line.modifiers),
                      date=line.date or claim.date, info=ruleset.codes.get(line.code.strip().upper()))
        for i, line in enumerate(claim.lines)
    )
    coded = None
    if claim.encounter is not None:
        enc = msgspec.structs.replace(claim.encounter, claim=kind,
                                      date=claim.encounter.date or claim.date,
                                      payer=claim.encounter.payer or claim.payer)
        try:
            coded = code_encounter(enc, ruleset)
        except InputError as err:
            raise InputError(f"encounter.{err.field}" if err.field else "encounter", err.message) from None
    ctx = checks.AuditContext(
        claim=claim, claim_kind=kind, lines=billed, codes=ruleset.codes, ptp=ruleset.ptp, drugs=ruleset.drugs,
        policies=dict(ruleset.policies), supported=tuple(coded.lines) if coded is not None else None, coded=coded,
    )
    findings: list[AuditFinding] = []
    for check in checks.CHECKS:
        findings.extend(check(ctx))
    if coded is not None:
        for f in coded.findings:
            if f.severity in _CARRIED:
                findings.append(AuditFinding(rule=f.rule, severity=f.severity,
                                             message=f"documentation: {f.message}", lines=[], wrvu_delta=0.0))
    registry = ruleset.rules
    for f in findings:
        if not f.source and f.rule in registry:
            f.source = registry[f.rule].citation
    findings.sort(key=lambda f: (_SEVERITY_ORDER[f.severity], f.lines, f.rule, f.message))
    return AuditResult(
        claim=cid,
        billed=list(claim.lines),
        supported=list(coded.lines) if coded is not None else None,
        findings=findings,
        data_releases=ruleset.data_releases,
        claim_type=claim.claim_type,
        profile=ruleset.profile,
    )
