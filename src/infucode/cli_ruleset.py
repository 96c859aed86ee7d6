"""The ruleset a command codes with: its ``--profile`` and ``--policy`` options read, a wrong one a usage
error (exit 2) naming what is allowed, and an engine or reference data that cannot be loaded an internal
error (exit 3; ``INFUCODE_DEBUG=1`` lets the exception through with its traceback).
"""
from __future__ import annotations

import os
from typing import Any

import typer

from infucode.options import name_value_pairs

__all__ = ["EXIT_INTERNAL", "EXIT_USAGE", "alternative_values", "load_ruleset_or_exit", "parse_policies", "usage_error"]

EXIT_USAGE = 2
EXIT_INTERNAL = 3


def usage_error(message: str) -> typer.Exit:
    typer.echo(f"infucode: error: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def parse_policies(pairs: list[str]) -> dict[str, str]:
    try:
        return name_value_pairs(pairs, "--policy")
    except ValueError as exc:
        raise usage_error(str(exc)) from None


def load_ruleset_or_exit(profile: str | None, policies: dict[str, str]) -> Any:
    """The ruleset of ``profile`` with ``policies`` overridden; a wrong name or value exits 2, a broken
    engine or reference data exits 3."""
    try:
        from infucode import load_ruleset
    except ImportError as exc:  # the engine is not installed/importable
        typer.echo(f"infucode: internal error: the coding engine cannot be loaded ({exc})", err=True)
        raise typer.Exit(EXIT_INTERNAL) from None
    kwargs: dict[str, Any] = {"policies": policies}
    if profile is not None:
        kwargs["profile"] = profile
    try:
        return load_ruleset(**kwargs)
    except (KeyError, ValueError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        raise usage_error(f"{message}{_allowed_hint(load_ruleset, profile, policies, str(message))}") from None
    except Exception as exc:  # broken reference data: not the user's fault, not an encounter error
        if os.environ.get("INFUCODE_DEBUG"):
            raise
        typer.echo(
            f"infucode: internal error: the rules and reference data cannot be loaded "
            f"({type(exc).__name__}: {exc}); set INFUCODE_DEBUG=1 for the traceback",
            err=True,
        )
        raise typer.Exit(EXIT_INTERNAL) from None


def _allowed_hint(load_ruleset: Any, profile: str | None, policies: dict[str, str], message: str) -> str:
    """List the allowed profiles/policies/values unless the engine's message already does."""
    try:
        rs = load_ruleset()
        names = rs.profile_names()
        table = rs.policy_table()
    except Exception:  # noqa: BLE001 - the hint is a courtesy
        return ""
    hints: list[tuple[str, list[str]]] = []
    if profile is not None and profile not in names:
        hints.append(("profiles", [str(n) for n in names]))
    known = {row.get("name"): row for row in table}
    for name, value in policies.items():
        row = known.get(name)
        if row is None:
            hints.append(("policies", [str(n) for n in known]))
            break
        values = alternative_values(row)
        if values and value not in values:
            hints.append((f"values of {name}", values))
    # the engine's message may already list them
    lines = [f"{what}: {', '.join(vals)}" for what, vals in hints if not all(v in message for v in vals)]
    return ("\n  allowed " + "\n  allowed ".join(lines)) if lines else ""


def alternative_values(row: dict) -> list[str]:
    alts = row.get("alternatives") or []
    if isinstance(alts, dict):
        return [str(k) for k in alts]
    if isinstance(alts, str):
        return [a.strip() for a in alts.split(",") if a.strip()]
    return [str(a) for a in alts]

