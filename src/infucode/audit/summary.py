"""The batch summary of an audit: per claim (:class:`ClaimSummary`) and for the batch (:class:`Summary`):
claims audited and unreadable, findings by rule, wRVU at risk, institutional lines and units, worst claims."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from .model import AuditError, AuditFinding, AuditResult

__all__ = ["SEVERITIES", "TOP_CLAIMS", "ClaimSummary", "Summary", "deduplicated", "summary", "worst_first"]

SEVERITIES = ("error", "warning", "info")
#: Claims listed worst first in the table and HTML summaries (the summary CSV lists every claim).
TOP_CLAIMS = 10


def deduplicated(findings: Iterable[AuditFinding], attr: str) -> tuple[float, float]:
    """(over, under) of one claim: the negative and positive sums of ``attr`` (wrvu_delta or unit_delta).

    Several rules may report the same over-billed units of one code (e.g. audit.mue and
    audit.units_unsupported on 96366): per code, each rule's findings are summed and the largest of those
    sums is kept, so a code counts once per claim. Findings without a code are summed as they are."""
    per_code: dict[tuple[str, bool], dict[str, float]] = {}
    over = under = 0.0
    for f in findings:
        value = getattr(f, attr)
        if not value:
            continue
        if not f.code:
            over, under = (over + value, under) if value < 0 else (over, under + value)
            continue
        rules = per_code.setdefault((f.code, value < 0), {})
        rules[f.rule] = rules.get(f.rule, 0.0) + value
    for (_, negative), rules in per_code.items():
        if negative:
            over += min(rules.values())
        else:
            under += max(rules.values())
    return round(over, 2), round(under, 2)


@dataclass
class ClaimSummary:
    claim: str
    claim_type: str
    findings: int
    error: int
    warning: int
    info: int
    lines_with_errors: int
    wrvu_overcoded: float
    wrvu_undercoded: float
    units_overbilled: int
    units_underbilled: int
    rules: list[str]

    @classmethod
    def of(cls, r: AuditResult) -> "ClaimSummary":
        count = Counter(f.severity for f in r.findings)
        wrvu_over, wrvu_under = deduplicated(r.findings, "wrvu_delta")
        units_over, units_under = deduplicated(r.findings, "unit_delta")
        rules = [rule for rule, _ in Counter(f.rule for f in r.findings if f.severity != "info").most_common()]
        return cls(claim=r.claim, claim_type=r.claim_type, findings=len(r.findings), error=count["error"],
                   warning=count["warning"], info=count["info"],
                   lines_with_errors=len({i for f in r.findings if f.severity == "error" for i in f.lines}),
                   wrvu_overcoded=wrvu_over, wrvu_undercoded=wrvu_under,
                   units_overbilled=int(-units_over), units_underbilled=int(units_under), rules=rules)

    @property
    def rank(self) -> tuple:
        """Worst first: claims with error findings, by wRVU over-coded (professional) or units over-billed
        (institutional), then by the number of errors and warnings."""
        return (not self.error, self.wrvu_overcoded, -self.units_overbilled, -self.error, -self.warning, -self.findings,
                self.claim)


class Summary:
    """The batch summary, accumulated claim by claim: counts and sums, and only the claims it lists (those
    with an error or warning finding, and the unreadable ones), so a million claims need little memory.

    ``as_dict()``: claims read, audited, unreadable, with error findings, clean (no error or warning
    finding); findings by rule (count by severity, claims, wRVU); wRVU at risk on professional claims
    (over-coded = the negative deltas, under-coded = the positive ones, a code counted once per claim, see
    :func:`deduplicated`); institutional claims in lines and units instead (work RVUs do not price OPPS);
    the claims worst first; the unreadable claims with their error.

    Summaries of consecutive parts of a batch :meth:`merge` into the summary of the whole (each worker of
    ``infucode audit`` summarises its chunk): wRVU totals are kept in whole cents, so the sum does not
    depend on how the batch was cut."""

    def __init__(self) -> None:
        self.audited = 0
        self.with_errors = 0
        self.clean = 0
        self.professional = 0
        self.wrvu_cents = [0, 0]            # professional claims: over-coded, under-coded, in cents of a wRVU
        self.institutional = [0, 0, 0, 0]   # claims, lines with errors, units over-billed, units under-billed
        self.flagged: list[ClaimSummary] = []   # claims with an error or warning finding, in input order
        self.unreadable: list[AuditError] = []
        self.by_rule: dict[str, dict[str, Any]] = {}

    def add(self, item: AuditResult | AuditError) -> None:
        if isinstance(item, AuditError):
            self.unreadable.append(item)
            return
        c = ClaimSummary.of(item)
        self.audited += 1
        if c.error:
            self.with_errors += 1
        if c.error or c.warning:
            self.flagged.append(c)
        else:
            self.clean += 1   # info findings at most
        if c.claim_type == "professional":
            self.professional += 1
            self.wrvu_cents[0] += round(c.wrvu_overcoded * 100)
            self.wrvu_cents[1] += round(c.wrvu_undercoded * 100)
        elif c.claim_type == "institutional":
            inst = self.institutional
            inst[0] += 1
            inst[1] += c.lines_with_errors
            inst[2] += c.units_overbilled
            inst[3] += c.units_underbilled
        seen: set[str] = set()
        for f in item.findings:
            row = self.by_rule.get(f.rule)
            if row is None:
                row = self.by_rule[f.rule] = _rule_row()
            row["findings"] += 1
            row[f.severity] += 1
            if f.wrvu_delta < 0:
                row["wrvu_overcoded"] = round(row["wrvu_overcoded"] + f.wrvu_delta, 2)
            elif f.wrvu_delta > 0:
                row["wrvu_undercoded"] = round(row["wrvu_undercoded"] + f.wrvu_delta, 2)
            if f.rule not in seen:
                seen.add(f.rule)
                row["claims"] += 1

    def merge(self, other: Summary) -> None:
        """Add the summary of the claims that came after this one's."""
        self.audited += other.audited
        self.with_errors += other.with_errors
        self.clean += other.clean
        self.professional += other.professional
        self.wrvu_cents = [a + b for a, b in zip(self.wrvu_cents, other.wrvu_cents)]
        self.institutional = [a + b for a, b in zip(self.institutional, other.institutional)]
        self.flagged.extend(other.flagged)
        self.unreadable.extend(other.unreadable)
        for rule, theirs in other.by_rule.items():
            row = self.by_rule.get(rule)
            if row is None:
                self.by_rule[rule] = dict(theirs)
                continue
            for key, value in theirs.items():
                row[key] = round(row[key] + value, 2) if key.startswith("wrvu") else row[key] + value

    def rules(self) -> list[tuple[str, dict[str, Any]]]:
        return sorted(self.by_rule.items(), key=lambda kv: (-kv[1]["error"], -kv[1]["warning"], -kv[1]["findings"], kv[0]))

    def worst(self, top: int | None = None) -> list[ClaimSummary]:
        ranked = sorted(self.flagged, key=lambda c: c.rank)
        return ranked if top is None else ranked[:top]

    def as_dict(self, top: int | None = TOP_CLAIMS) -> dict[str, Any]:
        severity = Counter()
        for row in self.by_rule.values():
            for s in SEVERITIES:
                severity[s] += row[s]
        claims, lines_with_errors, units_over, units_under = self.institutional
        return {
            "claims": self.audited + len(self.unreadable),
            "audited": self.audited,
            "unreadable": len(self.unreadable),
            "with_errors": self.with_errors,
            "clean": self.clean,
            "findings": {s: severity[s] for s in SEVERITIES},
            "findings_by_rule": dict(self.rules()),
            "wrvu_at_risk": {
                "professional_claims": self.professional,
                # 0 (no professional claim) or the float of the exact sum, as round(sum(...), 2) gave it
                "overcoded": self.wrvu_cents[0] / 100 if self.professional else 0,
                "undercoded": self.wrvu_cents[1] / 100 if self.professional else 0,
            },
            "institutional": {
                "claims": claims,
                "lines_with_errors": lines_with_errors,
                "units_overbilled": units_over,
                "units_underbilled": units_under,
            },
            "worst_claims": [asdict(c) for c in self.worst(top)],
            "unreadable_claims": [{"claim": e.claim, "field": e.error.field, "line": e.error.line, "message": e.error.message}
                                  for e in self.unreadable],
        }


def _rule_row() -> dict[str, Any]:
    return {"findings": 0, "error": 0, "warning": 0, "info": 0, "claims": 0, "wrvu_overcoded": 0.0, "wrvu_undercoded": 0.0}


def summary(items: Iterable[AuditResult | AuditError], top: int | None = TOP_CLAIMS) -> dict[str, Any]:
    """The batch summary of audited items (see :class:`Summary`)."""
    acc = Summary()
    for item in items:
        acc.add(item)
    return acc.as_dict(top)


def worst_first(item: AuditResult | AuditError) -> tuple:
    """Sort key: the unreadable claims, then the audited ones worst first (see :attr:`ClaimSummary.rank`)."""
    if isinstance(item, AuditError):
        return (0,)
    return (1, *ClaimSummary.of(item).rank)
