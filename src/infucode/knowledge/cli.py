"""Typer sub-app for the knowledge layer: ``lookup``, ``search``, ``ask``, ``case``.

The main CLI registers these commands (``infucode lookup|search|ask|case``); each is a plain function
so it can also be called directly. Exit status: 0 answered, 1 not found / refused / not coded, 2 usage.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..ruleset import load_ruleset

knowledge_app = typer.Typer(name="knowledge", help="Code reference, search, questions and case intake.",
                            add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                            pretty_exceptions_enable=False)


def _ruleset(profile: str = "medicare"):
    try:
        return load_ruleset(profile)
    except (KeyError, ValueError) as exc:
        typer.echo(f"infucode: error: {exc}", err=True)
        raise typer.Exit(2)


@knowledge_app.command("lookup")
def lookup_cmd(code: str = typer.Argument(..., help="A drug-administration code, e.g. 96366"),
               format: str = typer.Option("table", "--format", "-f", help="table | text | json"),
               profile: str = typer.Option("medicare", "--profile", help="payer profile for the live scenarios"),
               on: Optional[str] = typer.Option(None, "--date", metavar="YYYY-MM-DD", help="MUE and wRVU of the CMS files imported with 'infucode data import' in force on this date (default: today)."),  # noqa: UP045
               data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Where the imported CMS files are (default: $INFUCODE_DATA_DIR, else the user data directory)."),  # noqa: B008, UP045
               ) -> None:
    """Everything infucode knows about one code, with worked scenarios coded live."""
    from ..cli_data import open_release_store
    from .lookup import UnknownCode, lookup, render_reference

    if format not in ("table", "text", "json"):
        typer.echo("infucode: error: --format must be table, text or json", err=True)
        raise typer.Exit(2)
    day = _day(on)
    with open_release_store(data_dir) as store:
        rs = _ruleset(profile)
        if store.exists:
            rs = rs.with_releases(store).for_date(day)
        try:
            ref = lookup(code, rs)
        except UnknownCode as exc:
            typer.echo(f"infucode: {exc.args[0]}", err=True)
            raise typer.Exit(1) from None
    typer.echo(render_reference(ref, "json" if format == "json" else "text"))


def _day(on: str | None) -> str:
    """The date a lookup reads the imported tables for: the one given, else today."""
    from datetime import date

    if on is None:
        return date.today().isoformat()
    try:
        return date.fromisoformat(on).isoformat()
    except ValueError:
        typer.echo(f"infucode: error: --date must be YYYY-MM-DD, not {on!r}", err=True)
        raise typer.Exit(2) from None


@knowledge_app.command("search")
def search_cmd(text: str = typer.Argument(..., help="number, keyword or description; typos are fine"),
               limit: int = typer.Option(10, "--limit", "-n"),
               format: str = typer.Option("text", "--format", "-f", help="text | json")) -> None:
    """Find codes and rules."""
    from .search import render_hits, search

    hits = search(text, _ruleset(), limit=limit)
    if format == "json":
        typer.echo(json.dumps([h.to_dict() for h in hits]))
    else:
        typer.echo(render_hits(hits))
    if not hits:
        raise typer.Exit(1)


@knowledge_app.command("ask")
def ask_cmd(question: str = typer.Argument(..., help="a drug-administration coding question"),
            format: str = typer.Option("text", "--format", "-f", help="text | json"),
            profile: str = typer.Option("medicare", "--profile")) -> None:
    """Answer a coding question from the rule base and the engine."""
    from .ask import ask, render_answer

    ans = ask(question, _ruleset(profile))
    typer.echo(json.dumps(ans.to_dict()) if format == "json" else render_answer(ans))
    if ans.refused:
        raise typer.Exit(1)


@knowledge_app.command("case")
def case_cmd(file: Path = typer.Argument(..., help="a case note (.txt) or an e-mail (.eml)"),
             format: str = typer.Option("text", "--format", "-f", help="text | json"),
             profile: str = typer.Option("medicare", "--profile")) -> None:
    """Read a free-text case note, build the encounter and print a coding memo."""
    from .intake import CaseFileError, case_memo, read_case, render_memo

    if format not in ("text", "json"):
        typer.echo("infucode: error: --format must be text or json", err=True)
        raise typer.Exit(2)
    try:
        case = read_case(file)
    except OSError as exc:
        typer.echo(f"infucode: error: cannot read {file}: {exc.strerror or type(exc).__name__}", err=True)
        raise typer.Exit(2)
    except CaseFileError as exc:
        typer.echo(f"infucode: error: {file}: {exc}", err=True)
        raise typer.Exit(2)
    memo = case_memo(case.text, _ruleset(profile), encounter_id=file.stem, default_date=case.sent_date,
                     notices=case.notices)
    typer.echo(render_memo(memo, format))
    if memo.result is None:
        raise typer.Exit(1)
