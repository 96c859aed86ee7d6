"""Coding questions answered straight from the rule base: "what modifier for a second IV site?",
"does hydration count when it runs with a drug?", the 30-minute rule, the 16-minute push/infusion line,
office vs facility, add-on codes ... The topics live in data/topics.yaml; the answer is the topic's
lead followed by the statements of its rules and the profile's policy values, each cited.

    topic_for("what modifier for a second IV site?")["id"]   # 'second_site_modifier'
"""
from __future__ import annotations

import re
from functools import lru_cache

from ..ruleset import Ruleset
from . import _data
from .answer import Answer, Citations


@lru_cache(maxsize=1)
def _topics() -> tuple[tuple[dict, tuple[re.Pattern, ...]], ...]:
    out = []
    for t in _data.knowledge_file("topics.yaml").get("topics") or ():
        out.append((t, tuple(re.compile(p, re.I) for p in t["match"])))
    return tuple(out)


def topic_for(question: str) -> dict | None:
    """The topic whose every pattern is in the question; the most specific (most patterns) wins."""
    best, best_n = None, 0
    for topic, patterns in _topics():
        if len(patterns) > best_n and all(p.search(question) for p in patterns):
            best, best_n = topic, len(patterns)
    return best


def _add_on_table(rs: Ruleset) -> str:
    rows = [f"{c.code} (beside {', '.join(sorted(c.primaries))})" for c in rs.codes if c.add_on and c.primaries]
    return "Add-on codes and their eligible primaries: " + "; ".join(rows) + "."


def topic_answer(topic: dict, rs: Ruleset) -> Answer:
    c = Citations(rs)
    text = [topic["lead"]] if topic.get("lead") else []
    for rid in topic.get("rules", ()):
        if rid in rs.rules:
            r = rs.rules[rid]
            c.rule(rid)
            text.append(f"{r.title} [{rid}]: {r.statement}")
    for name in topic.get("policies", ()):
        text.append(c.policy(name))
    if topic.get("extra") == "add_on_table":
        text.append(_add_on_table(rs))
        c.source("S1-AOC")
    body = " ".join(t if t.rstrip().endswith((".", ")", "?")) else t + "." for t in text)
    codes = list(dict.fromkeys(re.findall(r"\b9[0-9]{4}\b", body)))
    return c.answer(body, codes, "rule")
