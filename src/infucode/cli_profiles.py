"""``infucode profiles``: the payer profiles and every contested-rule policy, its value under each
profile, the default, the alternatives and their sources.
"""
from __future__ import annotations

import enum
import sys
from typing import Any

import msgspec
import typer

from .cli_ruleset import alternative_values, load_ruleset_or_exit

__all__ = ["ProfilesFormat", "profiles"]


class ProfilesFormat(str, enum.Enum):
    table = "table"
    json = "json"


def _profiles_data(rs: Any) -> dict[str, Any]:
    names = list(rs.profile_names())
    rows = list(rs.policy_table())
    by_profile: dict[str, dict[str, Any]] = {}
    if rows and not all("by_profile" in r for r in rows):
        from infucode import load_ruleset

        for name in names:
            other = rs.with_profile(name) if hasattr(rs, "with_profile") else load_ruleset(profile=name)
            by_profile[name] = {r.get("name"): r.get("value") for r in other.policy_table()}
    policies = []
    for row in rows:
        name = row.get("name")
        values = row.get("by_profile") or {p: by_profile.get(p, {}).get(name) for p in names}
        alts = row.get("alternatives")
        entry: dict[str, Any] = {
            "name": name,
            "question": row.get("question"),
            "default": row.get("default"),
            "by_profile": values,
            "alternatives": alts,
        }
        for key in ("source", "sources", "since"):
            if key in row:
                entry[key] = row[key]
        if "source" not in entry and "sources" not in entry:
            entry["sources"] = _sources_of(row)
        policies.append(entry)
    return {"profiles": names, "policies": policies}


def _sources_of(row: dict) -> list[str]:
    alts = row.get("alternatives")
    found: list[str] = []
    if isinstance(alts, dict):
        for detail in alts.values():
            if isinstance(detail, dict):
                for s in detail.get("sources") or []:
                    if s not in found:
                        found.append(str(s))
    return found


def _alt_text(row: dict) -> str:
    alts = row.get("alternatives")
    if isinstance(alts, dict):
        parts = []
        for value, detail in alts.items():
            since = detail.get("since") if isinstance(detail, dict) else None
            srcs = ", ".join(detail.get("sources") or []) if isinstance(detail, dict) else ""
            extra = "; ".join(x for x in (srcs, f"since {since}" if since else "") if x)
            parts.append(f"{value} ({extra})" if extra else str(value))
        return "\n".join(parts)
    return ", ".join(alternative_values(row))



def profiles(
    format: ProfilesFormat = typer.Option(  # noqa: A002, B008
        ProfilesFormat.table, "--format", "-f", help="Output format.", case_sensitive=False
    ),
) -> None:
    """List the payer profiles and every policy: its value under each profile, the default, the
    alternatives and their sources."""
    rs = load_ruleset_or_exit(None, {})
    data = _profiles_data(rs)
    if format is ProfilesFormat.json:
        typer.echo(msgspec.json.format(msgspec.json.encode(data), indent=2).decode("utf-8"))
        return

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False, markup=False, emoji=False, width=None if sys.stdout.isatty() else 200)
    console.print(Text("Profiles: " + ", ".join(data["profiles"]), style="bold"))
    table = Table(show_header=True, header_style="bold", show_lines=True)
    table.add_column("Policy")
    table.add_column("Default")
    for name in data["profiles"]:
        table.add_column(name)
    table.add_column("Alternatives (sources)")
    for row in data["policies"]:
        values = row["by_profile"] or {}
        cells = [Text(str(row["name"])), Text(str(row["default"]))]
        for name in data["profiles"]:
            value = values.get(name)
            style = "" if value == row["default"] else "bold"
            cells.append(Text("" if value is None else str(value), style=style))
        cells.append(Text(_alt_text(row)))
        table.add_row(*cells)
    console.print(table)
