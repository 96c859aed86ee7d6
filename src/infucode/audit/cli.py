"""``infucode audit FILE...``: billed claims against the documentation and the CMS edits.

Exit status: 0 every claim read and no error finding; 1 some claim had an error finding or could not
be read (reported with its id, field and line; the others are still audited); 2 usage error.
The CMS tables (MUE, PTP, wRVU) are those imported with ``infucode data import`` that were in force on
each claim's date of service (``--data-dir``, else the default data directory); the bundled tables
where none was imported, and every result's ``data_releases`` names which.
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
    format: str = typer.Option("table", "--format", "-f", help="table, json, jsonl, csv, html (report with a chart) or summary-csv."),
    profile: str = typer.Option("medicare", help="Payer profile (a claim's own 'payer' overrides it)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),  # noqa: B008, UP045
    summary: Optional[Path] = typer.Option(  # noqa: B008, UP045
        None, "--summary", help="Also write the batch summary (claims, findings by rule, wRVU at risk, worst claims) "
                                "here: .csv, or .html for the report with its chart."),
    data_dir: Optional[Path] = typer.Option(  # noqa: B008, UP045
        None, "--data-dir", help="CMS files imported with 'infucode data import' (default: $INFUCODE_DATA_DIR, "
                                 "else the user data directory); without any, the bundled tables."),
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
    from infucode.reference.data_cli import open_release_store

    store = open_release_store(data_dir)
    ruleset = ruleset.with_releases(store)
    try:
        out = output.open("w", encoding="utf-8", newline="") if output is not None else sys.stdout
    except OSError as exc:
        store.close()
        typer.echo(f"infucode audit: error: cannot write {output}: {type(exc).__name__}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    summary_format = None
    if summary is not None:
        summary_format = {".csv": "summary-csv", ".html": "html", ".htm": "html"}.get(summary.suffix.lower())
        if summary_format is None:
            store.close()
            typer.echo(f"infucode audit: error: --summary {summary}: use a .csv or .html file", err=True)
            raise typer.Exit(EXIT_USAGE)
    failed = False
    summary_out = None
    try:
        writer = make_writer(format, out)
        writers = [writer]
        if summary is not None:
            summary_out = summary.open("w", encoding="utf-8", newline="")
            writers.append(make_writer(summary_format, summary_out))
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
                for w in writers:
                    w.write(item)
        for w in writers:
            w.close()
    finally:
        store.close()
        if summary_out is not None:
            summary_out.close()
        if output is not None:
            out.close()
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)
