"""``infucode data import|list|remove``: the official CMS files the audit uses by date of service.

    infucode data import MCR_MUE_PractitionerServices_Eff_10-01-2024.csv ccipra-v303r0-f1.txt PPRRVU24_OCT.csv
    infucode data import mue.csv --kind mue_practitioner --quarter 2024Q4
    infucode data list
    infucode data remove ccipra-v303r0

The files go into ``<data dir>/cms-releases.sqlite3`` (``--data-dir``, else ``$INFUCODE_DATA_DIR``, else
the user data directory); see :mod:`infucode.reference.releases`. Exit status: 0 done (including a file
already imported), 1 some file could not be imported (named with its row; the others still are), 2 usage
error.
"""
from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Optional

import typer

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

data_app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                       pretty_exceptions_enable=False,
                       help="Import the official CMS files (MUE, NCCI PTP, PFS RVU) that the audit uses by date of service.")

_DATA_DIR_HELP = "Where the imported data lives (default: $INFUCODE_DATA_DIR, else the user data directory)."


def _usage(message: str) -> typer.Exit:
    typer.echo(f"infucode data: error: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def _iso(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _usage(f"{option} {text!r} is not a date YYYY-MM-DD") from None


def _period_options(valid_from: str | None, valid_to: str | None, quarter: str | None,
                    year: int | None) -> tuple[date | None, date | None]:
    """--valid-from/--valid-to, --quarter or --year as (valid from, valid to); (None, None) = from the file name."""
    from .reference.release_kinds import quarter_period, year_period

    chosen = [name for name, value in (("--valid-from", valid_from), ("--quarter", quarter), ("--year", year))
              if value is not None]
    if len(chosen) > 1:
        raise _usage(f"give one of --valid-from, --quarter, --year, not {' and '.join(chosen)}")
    end = _iso(valid_to, "--valid-to") if valid_to is not None else None
    if quarter is not None or year is not None:
        if end is not None:
            raise _usage("--valid-to goes with --valid-from, not with --quarter or --year")
        try:
            return quarter_period(quarter) if quarter is not None else year_period(year)
        except ValueError as exc:
            raise _usage(str(exc)) from None
    start = _iso(valid_from, "--valid-from") if valid_from is not None else None
    if start is not None and end is not None and end < start:
        raise _usage(f"--valid-to {end} is before --valid-from {start}")
    return start, end


@data_app.command("import")
def import_files(
    files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, readable=True,  # noqa: B008
                                       help="CMS files: MUE CSV, NCCI PTP TXT (each part f1-f4), PPRRVU CSV."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=_DATA_DIR_HELP),  # noqa: B008, UP045
    kind: Optional[str] = typer.Option(  # noqa: UP045
        None, "--kind", help="mue_practitioner, mue_outpatient_hospital, ptp_practitioner, ptp_hospital or rvu "
                             "(default: from the header and the CMS file name)."),
    valid_from: Optional[str] = typer.Option(None, "--valid-from", help="First day the file is valid, YYYY-MM-DD."),  # noqa: UP045
    valid_to: Optional[str] = typer.Option(  # noqa: UP045
        None, "--valid-to", help="Last day the file is valid, YYYY-MM-DD (default: the end of that quarter)."),
    quarter: Optional[str] = typer.Option(None, "--quarter", help="The quarter the file is valid for, e.g. 2024Q3."),  # noqa: UP045
    year: Optional[int] = typer.Option(None, "--year", help="The year the file is valid for, e.g. 2024."),  # noqa: UP045
    replace: bool = typer.Option(False, "--replace", help="Replace imported releases of the same kind whose period overlaps."),
) -> None:
    """Import CMS files, each valid for the quarter its CMS name says (or the period given)."""
    from .reference.releases import ImportFailure, ReleaseStore, kind_named

    if kind is not None:
        try:
            kind_named(kind)
        except ValueError as exc:
            raise _usage(str(exc)) from None
    start, end = _period_options(valid_from, valid_to, quarter, year)
    try:
        store = ReleaseStore(data_dir, create=True)
    except (OSError, sqlite3.Error) as exc:  # an unusable directory or a damaged database
        raise _usage(f"cannot open the data directory {data_dir or '(default)'}: {exc}") from None
    failed = False
    with store:
        for path in files:
            try:
                outcome = store.import_file(path, kind=kind, valid_from=start, valid_to=end, replace=replace)
            except ImportFailure as exc:
                failed = True
                typer.echo(f"infucode data: error: {exc}", err=True)
                continue
            typer.echo(outcome.message)
    raise typer.Exit(EXIT_FAILED if failed else EXIT_OK)


@data_app.command("list")
def list_releases(
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=_DATA_DIR_HELP),  # noqa: B008, UP045
    format: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """The imported releases: kind, period, files and rows."""
    from .reference.releases import KINDS, ReleaseStore

    if format not in ("table", "json"):
        raise _usage(f"unknown format {format!r}; choose table or json")
    with ReleaseStore(data_dir) as store:
        files = store.files()
        where = store.path
    if format == "json":
        typer.echo(json.dumps([{"name": f.name, "kind": f.kind, "part": f.part, "file": f.file_name,
                                "sha256": f.sha256, "valid_from": f.valid_from, "valid_to": f.valid_to,
                                "imported_at": f.imported_at, "rows": f.rows} for f in files], indent=2))
        return
    if not files:
        typer.echo(f"no imported CMS releases in {where}; the audit uses the bundled tables "
                   "(import with 'infucode data import FILE')")
        return
    rows = [("release", "kind", "valid from", "valid to", "file", "rows", "imported")]
    rows += [(f.name + (f" {f.part}" if f.part else ""), KINDS[f.kind].label, f.valid_from, f.valid_to, f.file_name,
              str(f.rows), f.imported_at[:19]) for f in files]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    typer.echo(f"{where}")
    for r in rows:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())


@data_app.command("remove")
def remove_release(
    name: str = typer.Argument(..., help="A release name (e.g. ccipra-v302r0) or an imported file name."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=_DATA_DIR_HELP),  # noqa: B008, UP045
) -> None:
    """Remove an imported release (all its parts) or one imported file."""
    from .reference.releases import ReleaseStore

    with ReleaseStore(data_dir) as store:
        try:
            removed = store.remove(name)
        except KeyError as exc:
            typer.echo(f"infucode data: error: {exc.args[0]} in {store.path}", err=True)
            raise typer.Exit(EXIT_FAILED) from None
    for f in removed:
        typer.echo(f"removed {f.name}{' ' + f.part if f.part else ''} ({f.file_name}, {f.rows} rows)")


def open_release_store(data_dir: Path | None):
    """The imported CMS releases for a command that audits (``infucode audit``, ``infucode serve``):
    ``--data-dir`` must hold a database; the default directory may not (then every claim falls back to
    the bundled tables and its result says so)."""
    from .reference.releases import open_store

    try:
        return open_store(data_dir)
    except ValueError as exc:
        typer.echo(f"infucode: error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
