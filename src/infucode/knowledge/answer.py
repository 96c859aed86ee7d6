"""What `ask` hands back: the answer, the rule ids and sources it came from, and (for a coded
question) the encounter it coded with its lines. ``text`` is the answer alone; ``render_answer``
adds the Rules/Sources block once, for a terminal (the web page prints its own block)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..ruleset import Ruleset

OUTSIDE = "That is outside what infucode knows"
SCOPE = ("infucode answers questions about drug-administration codes (96360-96379, 96401-96549): what a code "
         "is, billing codes together, units for a time or a clock range, MUE and wRVU, the drug (HCPCS) codes "
         "and modifiers its rules use, its coding rules, and which code a described administration takes.")


@dataclass
class Answer:
    text: str
    rule_ids: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)     # "KEY: citation"
    codes: list[str] = field(default_factory=list)
    refused: bool = False
    intent: str = ""
    # for a coded question: the encounter the engine coded and its lines (code, units, modifiers, rule)
    encounter: dict | None = None
    lines: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def refuse(why: str) -> Answer:
    """A plain refusal: the question is outside the rule base, and what infucode does answer."""
    return Answer(f"{OUTSIDE}: {why}. {SCOPE}", refused=True, intent="refused")


class Citations:
    """Rule ids and sources gathered while an answer is built; each rule brings its own sources."""

    def __init__(self, ruleset: Ruleset):
        self.rs = ruleset
        self.rules: list[str] = []
        self.sources: list[str] = []

    def rule(self, *rids: str) -> None:
        for rid in rids:
            rid = self.rs.rules.resolve(rid) or rid  # a former id cites the rule that carries it now
            if rid in self.rs.rules and rid not in self.rules:
                self.rules.append(rid)
                self.source(*self.rs.rules[rid].sources)

    def source(self, *keys: str) -> None:
        for k in keys:
            if not k:
                continue
            src = self.rs.rules.sources.get(k)
            cite = f"{k}: {src.cite}" if src else k
            if cite not in self.sources:
                self.sources.append(cite)

    def policy(self, name: str) -> str:
        """The profile's value of a policy, its summary and the alternatives, with their sources cited."""
        catalog = self.rs.tables.policies
        p = catalog.policies[name]
        value = self.rs.policy(name)
        chosen = p.options[value]
        self.source(*chosen.sources)
        others = [f"{v}: {o.summary}" for v, o in p.options.items() if v != value]
        for v, o in p.options.items():
            if v != value:
                self.source(*o.sources)
        text = (f"Policy {name} ({p.question}) is {value} under profile {self.rs.profile}: {chosen.summary}"
                + (f" Other readings: {' '.join(others)}" if others else ""))
        return text if text.endswith(".") else text + "."

    def answer(self, text: str, codes: list[str], intent: str, **extra) -> Answer:
        return Answer(text, list(self.rules), list(self.sources), list(dict.fromkeys(codes)), False, intent, **extra)


def render_answer(ans: Answer) -> str:
    """The answer with one Rules/Sources block under it (a refusal has none)."""
    tail = []
    if ans.rule_ids:
        tail.append("Rules: " + ", ".join(ans.rule_ids) + ".")
    if ans.sources:
        tail.append("Sources: " + "; ".join(ans.sources) + ".")
    return ans.text + ("\n" + "\n".join(tail) if tail else "")
