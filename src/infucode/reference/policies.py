"""Contested rules as named, dated, sourced policies, grouped into payer profiles; and the limits on what
one encounter may ask of the engine (longest administration, dates of service, drug billing units), named,
dated and sourced beside them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ._data import read_yaml


@dataclass(frozen=True, slots=True)
class PolicyOption:
    value: str
    summary: str
    sources: tuple[str, ...]
    since: str


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    question: str
    default: str
    options: dict[str, PolicyOption]


@dataclass(frozen=True, slots=True)
class Limit:
    """A bound past which documentation is taken as mistyped: a finding or input error, never coded."""

    name: str
    value: int | str
    unit: str
    summary: str
    sources: tuple[str, ...]
    since: str
    unconfirmed: str | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    description: str
    policies: dict[str, str]  # only the policies this profile sets


class PolicyCatalog:
    def __init__(self, policies: dict[str, Policy], profiles: dict[str, Profile], release: str,
                 limits: dict[str, Limit] | None = None):
        self.policies = policies
        self.profiles = profiles
        self.release = release
        self.limits = limits or {}
        # The values the rules compare with, read once: dates as dates, counts as ints.
        self.limit_values: dict[str, int | date] = {
            name: date.fromisoformat(lim.value) if lim.unit == "date" else int(lim.value) for name, lim in self.limits.items()}

    @classmethod
    def load(cls) -> "PolicyCatalog":
        doc = read_yaml("policies.yaml")
        policies = {}
        for name, p in doc["policies"].items():
            options = {
                str(v): PolicyOption(str(v), o["summary"], tuple(o.get("sources", ())), str(o.get("since", "")))
                for v, o in p["options"].items()
            }
            if str(p["default"]) not in options:
                raise ValueError(f"policies.yaml: default of {name} is not one of its options")
            policies[name] = Policy(name, p["question"], str(p["default"]), options)
        profiles = {}
        for name, pr in doc["profiles"].items():
            settings = {k: str(v) for k, v in (pr.get("policies") or {}).items()}
            for k, v in settings.items():
                if k not in policies or v not in policies[k].options:
                    raise ValueError(f"policies.yaml: profile {name} sets unknown policy value {k}={v}")
            profiles[name] = Profile(name, pr.get("description", ""), settings)
        limits = {}
        for name, lim in (doc.get("limits") or {}).items():
            value = lim["value"]
            if not isinstance(value, (int, str)) or isinstance(value, bool):
                raise ValueError(f"policies.yaml: limit {name} needs an integer or a date as its value")
            limits[name] = Limit(name, value, str(lim["unit"]), " ".join(str(lim["summary"]).split()),
                                 tuple(lim.get("sources", ())), str(lim.get("since", "")),
                                 " ".join(str(lim["unconfirmed"]).split()) if lim.get("unconfirmed") else None)
        return cls(policies, profiles, str(doc.get("release", "")), limits)

    @staticmethod
    def thresholds() -> dict[str, int]:
        """The rules' clock thresholds (policies.yaml ``thresholds``), by name, in minutes."""
        doc = read_yaml("policies.yaml")
        values = {}
        for name, th in (doc.get("thresholds") or {}).items():
            if not isinstance(th.get("value"), int) or isinstance(th["value"], bool) or not th.get("sources") or not th.get("since"):
                raise ValueError(f"policies.yaml: threshold {name} needs a whole-number value, sources and since")
            values[name] = th["value"]
        return values

    def limit(self, name: str) -> int | date:
        """The value of a named limit, a count or a date (KeyError naming it when the data lacks it)."""
        return self.limit_values[name]

    def resolve(self, profile: str, overrides: dict[str, str] | None = None) -> dict[str, str]:
        """Every policy's value under a profile, with explicit overrides on top."""
        if profile not in self.profiles:
            raise KeyError(f"unknown profile {profile!r}; known profiles: {', '.join(sorted(self.profiles))}")
        values = {name: p.default for name, p in self.policies.items()}
        values.update(self.profiles[profile].policies)
        for name, value in (overrides or {}).items():
            if name not in self.policies:
                raise KeyError(f"unknown policy {name!r}; known policies: {', '.join(sorted(self.policies))}")
            value = str(value)
            if value not in self.policies[name].options:
                allowed = ", ".join(self.policies[name].options)
                raise ValueError(f"policy {name!r} has no option {value!r}; allowed: {allowed}")
            values[name] = value
        return values
