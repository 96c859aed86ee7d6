"""``infucode batch IN OUT``: a typer app with one command, registered by the main CLI.

Exit status: 0 every encounter coded; 1 some encounter went to the errors file (``OUT`` +
``.errors.jsonl``; the others are coded); 2 usage error (bad option or format, unknown profile or
policy, missing or empty input, output not writable).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .runner import BatchError, run_batch

EXIT_OK = 0
EXIT_ENCOUNTER_ERRORS = 1
EXIT_USAGE = 2

batch_app = typer.Typer(
    name="batch",
    help="Code a large JSON Lines file on every core.",
    rich_markup_mode=None,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _policies(pairs: list[str]) -> dict[str, str]:
    policies: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip() or not value.strip():
            typer.echo(f"infucode: error: --policy expects name=value, got '{pair}'", err=True)
            raise typer.Exit(EXIT_USAGE)
        policies[name.strip()] = value.strip()
    return policies


@batch_app.command()
def batch(
    input: Path = typer.Argument(..., metavar="IN", help="Encounters, one JSON object per line (.jsonl/.ndjson).", show_default=False),  # noqa: B008
    output: Path = typer.Argument(..., metavar="OUT", help="Results: .jsonl (one per encounter) or .csv (one row per charge line, findings beside it).", show_default=False),  # noqa: B008
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="Worker processes (default: all cores; 1 codes in this process)."),  # noqa: UP045
    in_format: Optional[str] = typer.Option(None, "--in-format", metavar="FORMAT", help="Input format (jsonl); default from the extension."),  # noqa: UP045
    out_format: Optional[str] = typer.Option(None, "--out-format", metavar="FORMAT", help="Output format (jsonl or csv); default from the extension."),  # noqa: UP045
    profile: str = typer.Option("medicare", "--profile", "-p", metavar="NAME", help="Payer profile (see 'infucode profiles')."),
    policy: list[str] = typer.Option([], "--policy", metavar="NAME=VALUE", help="Override one policy (repeatable).", show_default=False),  # noqa: B008
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="Progress bar on stderr (default: only on a terminal).", show_default=False),  # noqa: UP045
    engine: str = typer.Option("local", "--engine", help="local (processes on this machine) or spark."),
    master: Optional[str] = typer.Option(None, "--master", help="Spark master URL (default: local[*])."),  # noqa: UP045
) -> None:
    """Code every encounter of IN into OUT, in input order, on every core.

    A bad encounter goes to OUT.errors.jsonl with its id, line and reason; the rest are coded.
    Exit status: 0 all coded; 1 some went to the errors file; 2 usage error.
    """
    if engine not in ("local", "spark"):
        typer.echo("infucode: error: --engine must be local or spark", err=True)
        raise typer.Exit(EXIT_USAGE)
    if engine == "spark":
        from ..adapters.spark import run_spark_batch
        coded, failed = run_spark_batch(input, output, master=master, profile=profile)
        typer.echo(f"coded {coded:,} of {coded + failed:,} encounters on Spark"
                   + (f"; {failed:,} could not be coded, see {output}.errors.jsonl" if failed else ""), err=True)
        raise typer.Exit(EXIT_ENCOUNTER_ERRORS if failed else EXIT_OK)
    try:
        summary = run_batch(
            input, output, workers=workers, in_format=in_format, out_format=out_format,
            profile=profile, policies=_policies(policy), progress=progress,
        )
    except BatchError as exc:
        typer.echo(f"infucode: error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    total = summary.coded + summary.failed
    rate = total / summary.seconds if summary.seconds else 0.0
    message = f"coded {summary.coded:,} of {total:,} encounters in {summary.seconds:.1f} s ({rate:,.0f}/s)"
    if summary.failed:
        message += f"; {summary.failed:,} could not be coded, see {summary.errors_file}"
    typer.echo(message, err=True)
    raise typer.Exit(EXIT_ENCOUNTER_ERRORS if summary.failed else EXIT_OK)
