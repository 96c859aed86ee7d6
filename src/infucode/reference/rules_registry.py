"""The registry of rules (ids, titles, statements) and the sources they cite."""
from __future__ import annotations

from dataclasses import dataclass

from ._data import read_yaml


@dataclass(frozen=True, slots=True)
class Source:
    key: str
    cite: str
    url: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    statement: str
    sources: tuple[str, ...]
    citation: str  # the sources in words, precomputed once for every line that cites the rule
    tag: str = ""  # "[title; S1, S2]", appended to every explanation citing the rule (built once)
    formerly: tuple[str, ...] = ()  # ids the rule had before (a saved result or note may name them)


class RuleRegistry:
    def __init__(self, rules: dict[str, Rule], sources: dict[str, Source], release: str,
                 modules: dict[str, str] | None = None):
        self.rules = rules
        self.sources = sources
        self.release = release
        self.modules = modules or {}  # id prefix -> the rules module that emits it
        # A former id leads to the rule that now carries it, so a saved result or note stays findable.
        self.formerly = {old: r.id for r in rules.values() for old in r.formerly}

    @classmethod
    def load(cls) -> "RuleRegistry":
        src_doc = read_yaml("sources.yaml")
        sources = {
            key: Source(key=key, cite=v["cite"], url=v.get("url"), note=v.get("note"))
            for key, v in src_doc["sources"].items()
        }
        doc = read_yaml("rules.yaml")
        rules: dict[str, Rule] = {}
        for rid, v in doc["rules"].items():
            keys = tuple(v.get("sources", ()))
            missing = [k for k in keys if k not in sources]
            if missing:
                raise ValueError(f"rules.yaml: rule {rid} cites unknown source keys {missing}")
            citation = "; ".join(f"{k}: {sources[k].cite}" for k in keys)
            rules[rid] = Rule(rid, v["title"], " ".join(str(v.get("statement", "")).split()), keys, citation,
                              f" [{v['title']}; {', '.join(keys)}]", tuple(v.get("formerly", ())))
        return cls(rules, sources, str(doc.get("release", "")), {str(k): str(m) for k, m in (doc.get("modules") or {}).items()})

    def resolve(self, rule_id: str) -> str | None:
        """The current id of a rule named by its id or a former one; None when no rule has it."""
        if rule_id in self.rules:
            return rule_id
        return self.formerly.get(rule_id)

    def __getitem__(self, rule_id: str) -> Rule:
        rule = self.rules.get(rule_id)
        return rule if rule is not None else self.rules[self.formerly.get(rule_id, rule_id)]

    def __contains__(self, rule_id: str) -> bool:
        return rule_id in self.rules or rule_id in self.formerly
