"""Claim audit: billed lines (CPT 96360-96549) against the documented encounter and the CMS edits.

    from infucode import load_ruleset
    from infucode.audit import audit_claim
    result = audit_claim({"id": "c1", "claim_type": "professional", "date": "2024-07-01",
                          "lines": [{"code": "96366", "units": 2}]}, load_ruleset())
    [(f.rule, f.severity) for f in result.findings]
"""
from .engine import audit_claim
from .model import (
    AuditError,
    AuditFinding,
    AuditResult,
    BilledLine,
    Claim,
    decode_claim,
)

__all__ = ["AuditError", "AuditFinding", "AuditResult", "BilledLine", "Claim", "audit_claim", "decode_claim"]
