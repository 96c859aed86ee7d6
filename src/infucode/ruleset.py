"""A ruleset: the reference tables (loaded and indexed once per process) plus a payer profile's
policy values. ``code_encounter(encounter, ruleset)`` needs nothing else.

The code and PTP tables may depend on the date of service: ``ruleset.with_releases(store)`` attaches a
source of dated tables (``reference.releases.ReleaseStore``, the imported CMS files) and
``ruleset.for_date(day)`` gives the ruleset with the tables in force on that date of service. This module
knows nothing of files or databases; it only asks the attached source.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache

from .reference.codes import CodeTable
from .reference.dated_tables import TablesByDate
from .reference.drugs import DrugCatalog
from .reference.ncci import PtpTable
from .reference.policies import PolicyCatalog
from .reference.rules_registry import RuleRegistry

DEFAULT_PROFILE = "medicare"


@dataclass(frozen=True, slots=True)
class Tables:
    codes: CodeTable
    drugs: DrugCatalog
    ptp: PtpTable
    rules: RuleRegistry
    policies: PolicyCatalog


@lru_cache(maxsize=1)
def bundled_tables() -> Tables:
    return Tables(
        codes=CodeTable.load(),
        drugs=DrugCatalog.load(),
        ptp=PtpTable.load(),
        rules=RuleRegistry.load(),
        policies=PolicyCatalog.load(),
    )


@dataclass(frozen=True)
class Ruleset:
    profile: str
    policies: dict[str, str]
    overrides: dict[str, str]
    tables: Tables
    _profiles: dict = field(default_factory=dict, repr=False, compare=False)
    dated_by: TablesByDate | None = field(default=None, repr=False, compare=False)
    release_notes: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    _dated: dict = field(default_factory=dict, repr=False, compare=False)

    # Short names the rules use.
    @property
    def codes(self) -> CodeTable:
        return self.tables.codes

    @property
    def drugs(self) -> DrugCatalog:
        return self.tables.drugs

    @property
    def ptp(self) -> PtpTable:
        return self.tables.ptp

    @property
    def rules(self) -> RuleRegistry:
        return self.tables.rules

    def policy(self, name: str) -> str:
        return self.policies[name]

    @property
    def limits(self) -> Mapping[str, object]:
        """The named limits (reference/data/policies.yaml ``limits``): the longest administration, the dates of
        service accepted, the most billing units on a drug line. The same under every profile."""
        return self.tables.policies.limit_values

    def with_profile(self, profile: str) -> "Ruleset":
        """The same tables and explicit overrides under another payer profile (cached)."""
        if profile == self.profile:
            return self
        cached = self._profiles.get(profile)
        if cached is None:
            cached = Ruleset(profile, self.tables.policies.resolve(profile, self.overrides), self.overrides, self.tables,
                             dated_by=self.dated_by, release_notes=self.release_notes)
            self._profiles[profile] = cached
        return cached

    def with_releases(self, source: TablesByDate | None) -> "Ruleset":
        """The same ruleset, taking its code and PTP tables from ``source`` per date of service."""
        return Ruleset(self.profile, self.policies, self.overrides, self.tables, dated_by=source)

    def for_date(self, day: str | None) -> "Ruleset":
        """The ruleset with the tables in force on ``day``; itself without a dated source or a date."""
        if self.dated_by is None or not day:
            return self
        cached = self._dated.get(day)  # a batch asks for the same few hundred dates again and again
        if cached is None:
            dated = self.dated_by.tables_on(day, self.tables.codes, self.tables.ptp)
            tables = replace(self.tables, codes=dated.codes, ptp=dated.ptp)
            cached = Ruleset(self.profile, self.policies, self.overrides, tables, release_notes=dict(dated.releases))
            if len(self._dated) >= 4096:
                self._dated.clear()
            self._dated[day] = cached
        return cached

    def profile_names(self) -> list[str]:
        return list(self.tables.policies.profiles)

    def policy_table(self) -> list[dict]:
        """Every policy with its value under each profile, default, alternatives and sources."""
        catalog = self.tables.policies
        rows = []
        for name, p in catalog.policies.items():
            rows.append({
                "name": name,
                "question": p.question,
                "value": self.policies[name],
                "default": p.default,
                "by_profile": {prof: catalog.resolve(prof).get(name) for prof in catalog.profiles},
                "alternatives": {v: {"summary": o.summary, "sources": list(o.sources), "since": o.since} for v, o in p.options.items()},
            })
        return rows

    @property
    def data_releases(self) -> dict[str, str]:
        t = self.tables
        return {
            "codes": t.codes.release,
            "drugs": t.drugs.release,
            "ncci_ptp": t.ptp.release,
            "rules": t.rules.release,
            "policies": t.policies.release,
            **self.release_notes,
        }


def load_ruleset(profile: str = DEFAULT_PROFILE, policies: dict[str, str] | None = None, tables: Tables | None = None) -> Ruleset:
    """The bundled tables under a payer profile, with optional per-policy overrides.

    Raises KeyError/ValueError naming the unknown profile, policy or value.
    """
    tables = tables or bundled_tables()
    overrides = {k: str(v) for k, v in (policies or {}).items()}
    return Ruleset(profile, tables.policies.resolve(profile, overrides), overrides, tables)
