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


class RuleRegistry:
    def __init__(self, rules: dict[str, Rule], sources: dict[str, Source], release: str):
        self.rules = rules
        self.sources = sources
        self.release = release

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
                              f" [{v['title']}; {', '.join(keys)}]")
        return cls(rules, sources, str(doc.get("release", "")))

    def __getitem__(self, rule_id: str) -> Rule:
        return self.rules[rule_id]

    def __contains__(self, rule_id: str) -> bool:
        return rule_id in self.rules
