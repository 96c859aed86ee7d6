"""Repeated ``NAME=VALUE`` command-line options (``--policy``, ``--column``), read one way everywhere."""
from __future__ import annotations

from collections.abc import Iterable


def name_value_pairs(pairs: Iterable[str], option: str, shape: str = "name=value") -> dict[str, str]:
    """``["a=1", "b = 2"]`` -> ``{"a": "1", "b": "2"}``; ValueError naming the option and the bad pair."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"{option} expects {shape}, got '{pair}'")
        out[name.strip()] = value.strip()
    return out
