"""``infucode batch IN OUT``: a typer app with one command, registered by the main CLI.

Exit status: 0 every encounter coded; 1 some encounter went to the errors file (``OUT`` +
``.errors.jsonl``; the others are coded); 2 usage error (bad option or format, unknown profile or
policy, missing or empty input, bad column mapping, output not writable, output that is the input);
4 the output could not be written (a full disk, an I/O error) or the run failed; 128 + the signal's
number when stopped by Ctrl-C (130) or SIGTERM (143). In every case but 0 and 1, nothing is left at
``OUT`` or beside it: the outputs are written as ``.OUT.partial-<pid>`` and renamed into place only
when the run is complete (a SIGKILL can leave such a ``.partial`` file, never ``OUT``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from ..adapters.output_files import EXIT_OUTPUT_FAILED, interrupted_name, interrupted_status
from ..options import name_value_pairs
from .columns import load_columns, parse_column_options
from .errors import BatchOutputError
from .chunks import IN_FORMATS, IN_SUFFIXES, OUT_FORMATS, OUT_SUFFIXES, format_of
from .runner import BatchError, run_batch

EXIT_OK = 0
EXIT_ENCOUNTER_ERRORS = 1
EXIT_USAGE = 2
EXIT_FAILED = EXIT_OUTPUT_FAILED


def _stopped(exc: BaseException, output: Path) -> typer.Exit:
    """The run did not finish: say so in one line (a traceback only with INFUCODE_DEBUG)."""
    if isinstance(exc, KeyboardInterrupt):
        typer.echo(f"infucode: batch stopped by {interrupted_name(exc)}; no output was written to {output}", err=True)
        return typer.Exit(interrupted_status(exc))
    if isinstance(exc, BatchOutputError):
        typer.echo(f"infucode: error: {exc}", err=True)
        return typer.Exit(EXIT_FAILED)
    typer.echo(f"infucode: error: the batch stopped on an internal error ({type(exc).__name__}); no output was written "
               f"to {output}; please report it (INFUCODE_DEBUG=1 shows the traceback)", err=True)
    return typer.Exit(EXIT_FAILED)

batch_app = typer.Typer(
    name="batch",
    help="Code a large JSON Lines, CSV or Parquet file on every core.",
    rich_markup_mode=None,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# The optional dependencies of --engine spark: pyproject's [project.optional-dependencies] "spark".
SPARK_EXTRA = "spark"
SPARK_MODULES = ("pyspark", "pandas", "pyarrow")


def spark_missing() -> str | None:
    """The first module of the spark extra that cannot be imported (None when all can)."""
    import importlib

    for name in SPARK_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            return name
    return None


def _policies(pairs: list[str]) -> dict[str, str]:
    try:
        return name_value_pairs(pairs, "--policy")
    except ValueError as exc:
        typer.echo(f"infucode: error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


@batch_app.command()
def batch(
    input: Path = typer.Argument(..., metavar="IN", help="Encounters: .jsonl/.ndjson (one JSON object per line), or .csv/.parquet (one administration per row, grouped by encounter_id).", show_default=False),  # noqa: B008
    output: Path = typer.Argument(..., metavar="OUT", help="Results: .jsonl (one per encounter), or .csv/.parquet (one row per charge line, findings beside it).", show_default=False),  # noqa: B008
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="Worker processes (default: all cores; 1 codes in this process)."),  # noqa: UP045
    in_format: Optional[str] = typer.Option(None, "--in-format", metavar="FORMAT", help="Input format (jsonl, csv or parquet); default from the extension."),  # noqa: UP045
    out_format: Optional[str] = typer.Option(None, "--out-format", metavar="FORMAT", help="Output format (jsonl, csv or parquet); default from the extension."),  # noqa: UP045
    columns: Optional[Path] = typer.Option(None, "--columns", metavar="MAPPING.yaml", help="CSV/Parquet input: a YAML file mapping our column names to the export's headers.", show_default=False),  # noqa: UP045
    column: list[str] = typer.Option([], "--column", metavar="OURS=THEIRS", help="CSV/Parquet input: map one column (repeatable; wins over --columns).", show_default=False),  # noqa: B008
    profile: str = typer.Option("medicare", "--profile", "-p", metavar="NAME", help="Payer profile (see 'infucode profiles')."),
    policy: list[str] = typer.Option([], "--policy", metavar="NAME=VALUE", help="Override one policy (repeatable).", show_default=False),  # noqa: B008
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="Progress bar on stderr (default: only on a terminal).", show_default=False),  # noqa: UP045
    engine: str = typer.Option("local", "--engine", help="local (processes on this machine) or spark."),
    master: Optional[str] = typer.Option(None, "--master", help="Spark master URL (default: local[*])."),  # noqa: UP045
    summary: Optional[Path] = typer.Option(None, "--summary", metavar="FILE", help="Also write the batch summary (encounters with error findings, codes, findings by rule): .json, .csv or .html.", show_default=False),  # noqa: B008, UP045
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="CMS files imported with 'infucode data import' (default: $INFUCODE_DATA_DIR, else the user data directory): MUE and wRVU in force on each encounter's date."),  # noqa: B008, UP045
) -> None:
    """Code every encounter of IN into OUT, in input order, on every core.

    A bad encounter goes to OUT.errors.jsonl with its id, line and reason; the rest are coded.
    MUE and wRVU come from the imported CMS files in force on each encounter's date, if any.
    Exit status: 0 all coded; 1 some went to the errors file; 2 usage error.
    """
    # The batch never multiplies matrices: numpy's OpenBLAS threads would only wait on the cores the
    # workers code on (about 5 % of the CPU on 2 cores). Set before numpy is first imported; yours wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if engine not in ("local", "spark"):
        typer.echo("infucode: error: --engine must be local or spark", err=True)
        raise typer.Exit(EXIT_USAGE)
    if engine == "spark":
        if columns is not None or column:
            typer.echo("infucode: error: --columns/--column work with --engine local only", err=True)
            raise typer.Exit(EXIT_USAGE)
        try:
            formats = {format_of(input, in_format, IN_SUFFIXES, IN_FORMATS, "in"),
                       format_of(output, out_format, OUT_SUFFIXES, OUT_FORMATS, "out")}
        except BatchError as exc:
            typer.echo(f"infucode: error: {exc}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        if formats != {"jsonl"}:
            typer.echo("infucode: error: --engine spark reads and writes JSON Lines only; use --engine local", err=True)
            raise typer.Exit(EXIT_USAGE)
        missing = spark_missing()
        if missing is not None:
            typer.echo(f"infucode: error: --engine spark needs {missing}, which is not installed here; install the "
                       f"'{SPARK_EXTRA}' extra (pip install 'infucode[{SPARK_EXTRA}]'), or use --engine local", err=True)
            raise typer.Exit(EXIT_USAGE)
        from .spark import run_spark_batch
        from .runner import releases_dir
        try:
            coded, failed = run_spark_batch(input, output, master=master, profile=profile, releases=releases_dir(data_dir),
                                            summary=summary, policies=_policies(policy))
        except BatchOutputError as exc:
            raise _stopped(exc, output) from None
        except BatchError as exc:
            typer.echo(f"infucode: error: {exc}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        except KeyboardInterrupt as exc:
            raise _stopped(exc, output) from None
        typer.echo(f"coded {coded:,} of {coded + failed:,} encounters on Spark"
                   + (f"; {failed:,} could not be coded, see {output}.errors.jsonl" if failed else ""), err=True)
        raise typer.Exit(EXIT_ENCOUNTER_ERRORS if failed else EXIT_OK)
    try:
        mapping = load_columns(columns) if columns is not None else {}
        mapping.update(parse_column_options(column))
        done = run_batch(
            input, output, workers=workers, in_format=in_format, out_format=out_format,
            profile=profile, policies=_policies(policy), progress=progress, columns=mapping or None, data_dir=data_dir, summary=summary,
        )
    except BatchOutputError as exc:
        raise _stopped(exc, output) from None
    except BatchError as exc:
        typer.echo(f"infucode: error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except KeyboardInterrupt as exc:
        raise _stopped(exc, output) from None
    except typer.Exit:
        raise
    except Exception as exc:
        if os.environ.get("INFUCODE_DEBUG"):
            raise
        raise _stopped(exc, output) from None
    total = done.coded + done.failed
    rate = total / done.seconds if done.seconds else 0.0
    message = f"coded {done.coded:,} of {total:,} encounters in {done.seconds:.1f} s ({rate:,.0f}/s)"
    if done.failed:
        message += f"; {done.failed:,} could not be coded, see {done.errors_file}"
    if summary is not None:
        message += f"; summary in {summary}"
    typer.echo(message, err=True)
    raise typer.Exit(EXIT_ENCOUNTER_ERRORS if done.failed else EXIT_OK)
