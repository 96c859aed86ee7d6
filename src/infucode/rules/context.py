"""The working state of one encounter being coded: the ruleset, the claim, and the lines and
findings the rules add. Rules call ``add_line`` / ``add_finding``; they never build output by hand."""
from __future__ import annotations

from ..model import ChargeLine, Finding

# Findings are listed errors first (the engine's result and the claim audit alike).
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


class CodingContext:
    __slots__ = ("ruleset", "claim", "setting", "policies", "lines", "findings", "encounter_date", "consulted",
                 "limits", "_rules", "_codes")

    def __init__(self, ruleset, claim: str, setting: str, encounter_date: str | None):
        self.ruleset = ruleset
        self.claim = claim
        self.setting = setting
        self.policies = ruleset.policies
        self.limits = ruleset.limits      # named limits (longest administration, dates of service, drug units)
        self.encounter_date = encounter_date
        self.lines: list[ChargeLine] = []
        self.findings: list[Finding] = []
        self.consulted: set[str] = set()  # policies that decided something (named in the result)
        # plain dicts for the hot path: one lookup per line instead of a method call
        self._rules = ruleset.rules.rules
        self._codes = ruleset.codes.by_code

    def policy(self, name: str) -> str:
        """A policy's value under the profile, remembered so the result names what decided it."""
        self.consulted.add(name)
        return self.policies[name]

    def add_finding(self, rule: str, severity: str, message: str, administrations) -> None:
        r = self._rules[rule]
        self.findings.append(Finding(rule=rule, severity=severity, message=message,
                                     administrations=list(administrations), source=r.citation))

    def add_line(self, code: str, units: int, administrations, rule: str, why: str, *,
                 date: str | None, modifiers=(), kind: str = "administration") -> ChargeLine:
        r = self._rules[rule]
        info = self._codes.get(code) if kind == "administration" else None
        wrvu = round((info.wrvu or 0.0) * units, 2) if info is not None else 0.0
        line = ChargeLine(
            code=code, units=units, modifiers=list(modifiers), date=date,
            administrations=list(administrations), rule=rule,
            explanation=why + r.tag,
            wrvu=wrvu, kind=kind, source=r.citation,
        )
        self.lines.append(line)
        return line
