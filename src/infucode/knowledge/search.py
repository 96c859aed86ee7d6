"""Search codes and rules by number, keyword or description, tolerant of typos.

A small local index (built once per ruleset tables) over: each code's number, our description,
family, kind, time rule and related-code notes; each rule's id, title and statement. Query words are
matched to index words with rapidfuzz (so "sequntial" finds "sequential"), weighted by how rare the
word is, and every hit says which words matched.

    search("sequntial push", rs)[0].id      # '96375'
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from ..ruleset import Ruleset

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset("a an the of to for and or in on by is it its with what which code codes cpt this that per be "
                  "as at from after when how do does i can".split())
# words coders use -> the words the index holds
_SYNONYMS = {
    "chemo": ["chemotherapy"], "addon": ["addon"], "add": [], "on": [], "aoc": ["addon"],
    "ivp": ["push"], "ivpb": ["infusion", "piggyback"], "piggyback": ["infusion"],
    "subq": ["subcutaneous"], "sq": ["subcutaneous"], "sc": ["subcutaneous"], "subcut": ["subcutaneous"],
    "im": ["intramuscular"], "inj": ["injection"], "hydrate": ["hydration"], "fluids": ["hydration", "fluid"],
    "fluid": ["fluid", "hydration"], "saline": ["hydration"], "hr": ["hour"], "hours": ["hour"], "hrs": ["hour"],
    "additional": ["added", "further"], "extra": ["added", "further"], "each": ["each", "further"],
    "simultaneous": ["concurrent"], "same": ["same"], "rvu": ["wrvu"], "mue": ["mue"],
    "pushes": ["push"], "infusions": ["infusion"], "injections": ["injection"],
}
_KIND_WORDS = {
    "initial_infusion": "initial first infusion", "added_hour": "added further each additional hour addon",
    "sequential_infusion": "sequential new different drug infusion", "concurrent_infusion": "concurrent same time infusion",
    "initial_push": "initial first push", "sequential_push": "sequential new different drug push",
    "same_drug_push": "same drug push again repeat", "injection": "injection shot",
    "added_site": "added site pump", "on_body_injector": "on body injector", "prolonged_pump": "prolonged pump",
    "intralesional": "intralesional", "intracavitary": "intracavitary", "intrathecal": "intrathecal spinal",
    "pump_refill": "pump refill maintenance", "port_irrigation": "port irrigation device", "unlisted": "unlisted",
}


@dataclass
class Hit:
    kind: str            # "code" | "rule" | "drug"
    id: str              # code number or rule id
    title: str           # our description or the rule title
    score: float
    why: str             # which query words matched what

    def to_dict(self) -> dict:
        return {"kind": self.kind, "id": self.id, "title": self.title, "score": round(self.score, 3), "why": self.why}


@dataclass
class _Doc:
    kind: str
    id: str
    title: str
    words: dict[str, float]      # word -> field weight (title 1.0, kind/family 0.8, other text 0.3)
    length: int
    family: str = ""


def _words(text: str) -> list[str]:
    text = text.lower().replace("add-on", "addon").replace("add on", "addon")
    text = re.sub(r"\bnon-(\w)", r"non\1", text)
    return [w for w in _WORD.findall(text) if w not in _STOP]


def _weights(*fields: tuple[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for text, weight in fields:
        for w in _words(text):
            if out.get(w, 0.0) < weight:
                out[w] = weight
    return out


class _Index:
    def __init__(self, ruleset: Ruleset):
        docs: list[_Doc] = []
        for c in ruleset.codes:
            words = _weights(
                (c.description, 1.0),
                (" ".join([c.family, _KIND_WORDS.get(c.kind, c.kind), "addon" if c.add_on else "",
                           "chemo" if c.family == "chemotherapy" else ""]), 0.8),
                (" ".join([c.time_rule or "", " ".join(r.how_it_differs for r in c.related)]), 0.3),
            )
            words[c.code] = 1.0
            docs.append(_Doc("code", c.code, c.description, words, len(_words(c.description)), c.family))
        for r in ruleset.rules.rules.values():
            words = _weights((r.id.replace(".", " ").replace("_", " ") + " " + r.title, 1.0), (r.statement, 0.3))
            docs.append(_Doc("rule", r.id, r.title, words, len(_words(r.title)) + 2))
        self.docs = docs
        df: dict[str, int] = {}
        for d in docs:
            for w in d.words:
                df[w] = df.get(w, 0) + 1
        n = len(docs)
        self.idf = {w: math.log(1 + n / k) for w, k in df.items()}
        self.vocab = list(df)

    def expand(self, word: str) -> list[tuple[str, float]]:
        """Index words a query word stands for, with a similarity 0-1."""
        if word in _SYNONYMS:
            return [(w, 1.0) for w in _SYNONYMS[word]]
        if word in self.idf:
            return [(word, 1.0)]
        if word.isdigit():
            return []
        cutoff = 80 if len(word) >= 5 else 88
        found = process.extract(word, self.vocab, scorer=fuzz.ratio, score_cutoff=cutoff, limit=3)
        return [(w, s / 100.0) for w, s, _ in found]


_INDEX: dict[int, _Index] = {}


def _index(ruleset: Ruleset) -> _Index:
    key = id(ruleset.tables)
    idx = _INDEX.get(key)
    if idx is None:
        idx = _INDEX[key] = _Index(ruleset)
    return idx


_SPECIAL = frozenset({"artery", "arterial", "subcutaneous", "intralesional", "cavity", "pleural", "peritoneal",
                      "intrathecal", "spinal", "pump", "lesions", "lesion", "ventricular", "reservoir"})
_FAMILY_WORDS = {"chemotherapy": {"chemotherapy", "chemo", "complex", "antineoplastic", "cancer"},
                 "hydration": {"hydration", "fluid", "saline"},
                 "access": {"port", "pump", "device", "catheter", "irrigation", "refill"}}

_FURTHER_WORDS = frozenset({"additional", "addon", "further", "each", "second", "subsequent", "sequential", "another",
                            "concurrent", "hour", "hours", "hourly", "more", "extra", "next", "new", "same", "again"})
_UNLISTED_WORDS = frozenset({"unlisted", "other", "unspecified", "nos"})


def search(text: str, ruleset: Ruleset, limit: int = 10, kinds: tuple[str, ...] = ("code", "rule", "drug")) -> list[Hit]:
    """Ranked hits for ``text`` over codes and rules (best first)."""
    idx = _index(ruleset)
    raw = text.strip()
    hits: dict[tuple[str, str], Hit] = {}
    # numbers: exact code hits first
    for num in re.findall(r"\b(\d{5})\b", raw):
        if num in ruleset.codes and "code" in kinds:
            c = ruleset.codes[num]
            hits[("code", num)] = Hit("code", num, c.description, 10.0, f"code number {num}")
    # rule ids typed as such
    for rid in re.findall(r"\b[a-z_]+\.[a-z_.]+\b", raw.lower()):
        if rid in ruleset.rules and "rule" in kinds:
            rid = ruleset.rules.resolve(rid) or rid  # a former id finds the rule that carries it now
            hits[("rule", rid)] = Hit("rule", rid, ruleset.rules[rid].title, 10.0, f"rule id {rid}")
    words = [w for w in _words(raw) if not (w.isdigit() and len(w) == 5)]
    expanded = [(w, idx.expand(w)) for w in words]
    expanded = [(w, e) for w, e in expanded if e]
    qwords = {t for _, e in expanded for t, _ in e} | set(words)
    if "drug" in kinds:
        m = ruleset.drugs.match(raw) if raw else None
        if m is not None and m.how in ("exact", "normalized"):
            fam = m.drug.family
            hits[("drug", m.drug.key)] = Hit("drug", m.drug.key, f"{m.drug.name}: {fam} drug", 5.0,
                                             f"drug name {raw!r} in the drug catalog (family.catalog)")
    if expanded:
        total = sum(max(idx.idf.get(t, 1.0) for t, _ in e) for _, e in expanded)
        for d in idx.docs:
            if d.kind not in kinds:
                continue
            score = 0.0
            why: list[str] = []
            for w, e in expanded:
                best = 0.0
                best_term = None
                for term, sim in e:
                    fw = d.words.get(term)
                    if fw:
                        weight = idx.idf.get(term, 1.0) * sim * fw
                        if weight > best:
                            best, best_term = weight, term
                if best_term is not None:
                    score += best
                    why.append(w if w == best_term else f"{w}~{best_term}")
            if not why:
                continue
            score = score / total - 0.0015 * d.length
            if d.kind == "code":
                score += 0.04
                special = _SPECIAL & {w for w, fw in d.words.items() if fw == 1.0}
                if special and not (special & qwords):
                    score -= 0.04
                if d.family in _FAMILY_WORDS and not (_FAMILY_WORDS[d.family] & qwords):
                    score -= 0.05
                code = ruleset.codes[d.id]
                # "chemo push" is one push: the initial code, unless the words ask for a further service; an
                # unlisted code only when asked for
                if code.add_on and not (_FURTHER_WORDS & qwords):
                    score -= 0.03
                if code.kind == "unlisted" and not (_UNLISTED_WORDS & qwords):
                    score -= 0.15
            key = (d.kind, d.id)
            if key in hits:
                hits[key].score += score
                continue
            hits[key] = Hit(d.kind, d.id, d.title, score, "matched " + ", ".join(why))
    ranked = sorted(hits.values(), key=lambda h: (-h.score, h.kind != "code", h.id))
    return ranked[:limit]


def render_hits(hits: list[Hit]) -> str:
    if not hits:
        return "No code or rule matches."
    return "\n".join(f"{h.id:<34} {h.kind:<4}  {h.title}\n{'':<40}{h.why} (score {h.score:.2f})" for h in hits)
