"""``infucode audit FILE...``: billed claims against the documentation and the CMS edits.

Exit status: 0 every claim read and no error finding; 1 some claim had an error finding or could not
be read (reported with its id, field and line; the others are still audited); 2 usage error.
The lead registers :data:`audit_app` (or :func:`audit`) in ``infucode.cli``.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2

audit_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="Audit billed drug-administration claims against the documentation and the CMS edits.")


@audit_app.command()
def audit(
    files: list[Path] = typer.Argument(..., help="Claims: .json, .jsonl, .yaml or .csv (one billed line per row)."),  # noqa: B008
    format: str = typer.Option("table", "--format", "-f", help="table, json, jsonl, csv or html."),
    profile: str = typer.Option("medicare", help="Payer profile (a claim's own 'payer' overrides it)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),  # noqa: B008, UP045
) -> None:
    """Audit claims: billed lines vs the documented encounter, add-on, MUE, NCCI and setting edits."""
    from infucode import load_ruleset

    from .io import FORMATS, audit_stream, iter_claims, make_writer
    from .model import AuditError

    if format not in FORMATS:
        typer.echo(f"infucode audit: error: unknown format {format!r}; choose one of {', '.join(FORMATS)}", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        ruleset = load_ruleset(profile)
    except (KeyError, ValueError) as exc:
        typer.echo(f"infucode audit: error: {str(exc).strip(chr(34))}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    try:
        out = output.open("w", encoding="utf-8", newline="") if output is not None else sys.stdout
    except OSError as exc:
        typer.echo(f"infucode audit: error: cannot write {output}: {type(exc).__name__}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    failed = False
    try:
        writer = make_writer(format, out)
        for path in files:
            for item in audit_stream(iter_claims(path), ruleset):
                if isinstance(item, AuditError):
                    failed = True
                    if format != "table":
                        where = f", line {item.error.line}" if item.error.line else ""
                        field = f", field {item.error.field}" if item.error.field else ""
                        typer.echo(f"{path}: claim {item.claim}{where}{field}: {item.error.message}", err=True)
                elif item.has_errors:
                    failed = True
                writer.write(item)
        writer.close()
    finally:
        if output is not None:
            out.close()
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)
