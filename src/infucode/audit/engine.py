"""audit_claim(claim, ruleset) -> AuditResult: the billed lines against the documentation. No I/O.

1. decode the claim (field errors raise InputError naming the claim id and field);
2. the payer profile: the claim's ``payer`` overrides the ruleset's profile; when the ruleset has imported
   CMS releases attached (``ruleset.with_releases(store)``, see ``reference.releases``), each line is
   checked on the MUE and PTP tables in force on its own date of service;
3. the documentation, when present, is coded by the engine for the claim's type (professional ->
   "professional", institutional -> "facility"), whatever the embedded encounter says (a
   disagreement is a finding);
4. every check in :data:`checks.CHECKS`, findings sorted by severity; sources filled from the rule registry.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from infucode.engine import code_encounter
from infucode.model import InputError
from infucode.rules.context import SEVERITY_ORDER
from infucode.ruleset import Ruleset

from . import checks
from .model import AuditError, AuditFinding, AuditResult, Claim, decode_claim, error_result

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


def audit_stream(items: Iterable[tuple[Claim | InputError, int | None]], ruleset: Ruleset) -> Iterator[AuditResult | AuditError]:
    """Audit every claim in input order; an unreadable claim becomes an :class:`AuditError`."""
    for item, line in items:
        if isinstance(item, InputError):
            yield error_result(item)
            continue
        try:
            yield audit_claim(item, ruleset)
        except InputError as err:
            err.encounter = err.encounter or str(item.id)
            err.line = err.line or line
            yield error_result(err)
        except Exception as exc:  # noqa: BLE001 - one broken claim must not stop a batch
            yield error_result(InputError(None, f"internal error while auditing this claim ({type(exc).__name__}); "
                                                "please report it", encounter=str(item.id), line=line))


def _audit(claim: Claim, cid: str, ruleset: Ruleset) -> AuditResult:
    if claim.payer:
        try:
            ruleset = ruleset.with_profile(claim.payer)
        except KeyError as exc:
            raise InputError("payer", str(exc).strip('"')) from None
    # The CMS tables in force on each date of service (an institutional claim may span a quarter's end);
    # the documentation is coded, and wRVU priced, with those of the first date.
    on_day = _rulesets_by_date(ruleset, claim)
    if on_day:
        ruleset = next(iter(on_day.values()))
    kind = claim.engine_claim
    billed = tuple(
        checks.Billed(number=i + 1, code=line.code.strip().upper(), units=line.units,
                      modifiers=frozenset(m.strip().upper() for m in line.modifiers),
                      date=line.date or claim.date,
                      info=on_day.get(line.date or claim.date, ruleset).codes.get(line.code.strip().upper()))
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
        ptp_by_date={day: rs.ptp for day, rs in on_day.items()},
        policies=ruleset.policies, supported=tuple(coded.lines) if coded is not None else None, coded=coded,
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
    findings.sort(key=lambda f: (SEVERITY_ORDER[f.severity], f.lines, f.rule, f.message))
    return AuditResult(
        claim=cid,
        billed=list(claim.lines),
        supported=list(coded.lines) if coded is not None else None,
        findings=findings,
        data_releases=_releases_used(on_day) if len(on_day) > 1 else ruleset.data_releases,
        claim_type=claim.claim_type,
        profile=ruleset.profile,
    )


def _rulesets_by_date(ruleset: Ruleset, claim: Claim) -> dict[str, Ruleset]:
    """The ruleset with the tables in force on each date of service of the claim, in date order."""
    days = sorted({d for d in [line.date or claim.date for line in claim.lines] + [claim.date] if d})
    return {day: ruleset.for_date(day) for day in days}


def _releases_used(on_day: dict[str, Ruleset]) -> dict[str, str]:
    """One entry per table: its release when every date used the same, else the release of each date."""
    per_key: dict[str, dict[str, list[str]]] = {}
    for day, rs in on_day.items():
        for key, release in rs.data_releases.items():
            per_key.setdefault(key, {}).setdefault(release, []).append(day)
    return {key: next(iter(by_release)) if len(by_release) == 1
            else "; ".join(f"on {', '.join(days)}: {release}" for release, days in by_release.items())
            for key, by_release in per_key.items()}
