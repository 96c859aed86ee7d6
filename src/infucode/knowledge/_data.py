"""Knowledge data files (scenarios, differentiation pairs), read once per process."""
from __future__ import annotations

import importlib.resources
from functools import lru_cache

import yaml

DATA_PACKAGE = "infucode.reference.data"


def _read(name: str) -> dict:
    text = (importlib.resources.files(DATA_PACKAGE) / name).read_text(encoding="utf-8")
    return yaml.safe_load(text) or {}


@lru_cache(maxsize=1)
def scenarios() -> tuple[dict, ...]:
    return tuple(_read("scenarios.yaml").get("scenarios") or ())


@lru_cache(maxsize=1)
def pairs() -> tuple[dict, ...]:
    out = []
    for p in _read("differentiation.yaml").get("pairs") or ():
        p = dict(p)
        p["codes"] = [str(c) for c in p["codes"]]
        out.append(p)
    return tuple(out)


def pair_for(a: str, b: str) -> dict | None:
    for p in pairs():
        if set(p["codes"]) == {a, b}:
            return p
    return None


def pairs_with(code: str) -> list[dict]:
    return [p for p in pairs() if code in p["codes"]]


KNOWLEDGE_PACKAGE = "infucode.knowledge"


@lru_cache(maxsize=None)
def knowledge_file(name: str) -> dict:
    """A data file of the knowledge layer itself (knowledge/data/<name>): modifiers, topics."""
    text = (importlib.resources.files(KNOWLEDGE_PACKAGE) / "data" / name).read_text(encoding="utf-8")
    return yaml.safe_load(text) or {}
