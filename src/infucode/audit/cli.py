"""``infucode audit FILE...``: billed claims against the documentation and the CMS edits.

Exit status: 0 every claim read and no error finding; 1 some claim had an error finding or could not
be read, or a file could not be read at all (reported with the file, the claim id, field and line; the
others are still audited); 2 usage error (including an output that is one of the input files); 4 the
output could not be written (a full disk, an I/O error); 130/143 stopped by Ctrl-C/SIGTERM. The
``--output`` and ``--summary`` files are written beside their paths and renamed into place only when
the audit is complete: a failed or stopped run leaves neither.
The CMS tables (MUE, PTP, wRVU) are those imported with ``infucode data import`` that were in force on
each claim's date of service (``--data-dir``, else the default data directory); the bundled tables
where none was imported, and every result's ``data_releases`` names which.
The claims are audited on every core (``--workers``; :mod:`infucode.audit.runner` on the batch's worker
pool), and every output is the same bytes whatever the number of workers.
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
    workers: Optional[int] = typer.Option(  # noqa: UP045
        None, "--workers", "-w", min=1, help="Worker processes (default: all cores; 1 audits in this process)."),
    progress: Optional[bool] = typer.Option(  # noqa: UP045
        None, "--progress/--no-progress", help="Progress bar on stderr (default: only on a terminal).", show_default=False),
) -> None:
    """Audit claims: billed lines vs the documented encounter, add-on, MUE, NCCI and setting edits."""
    from infucode import load_ruleset

    from .runner import Outputs, audit_chunks
    from .writers import FORMATS, make_writer

    if format not in FORMATS:
        typer.echo(f"infucode audit: error: unknown format {format!r}; choose one of {', '.join(FORMATS)}", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        ruleset = load_ruleset(profile)
    except (KeyError, ValueError) as exc:
        typer.echo(f"infucode audit: error: {str(exc).strip(chr(34))}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    from infucode.adapters.output_files import (
        EXIT_OUTPUT_FAILED,
        AtomicOutputs,
        OutputWriteError,
        SameFileError,
        interrupted_name,
        interrupted_status,
        interrupts_as_exceptions,
        refuse_inputs_as_outputs,
    )
    from infucode.cli_data import open_release_store

    summary_format = None
    if summary is not None:
        summary_format = {".csv": "summary-csv", ".html": "html", ".htm": "html"}.get(summary.suffix.lower())
        if summary_format is None:
            typer.echo(f"infucode audit: error: --summary {summary}: use a .csv or .html file", err=True)
            raise typer.Exit(EXIT_USAGE)
    if output is not None and str(output) == "-":
        output = None
    try:  # before anything is opened for writing
        refuse_inputs_as_outputs([output, summary], files)
        if output is not None and summary is not None and output.resolve() == summary.resolve():
            raise SameFileError(f"--output and --summary are the same file {output}")
    except SameFileError as exc:
        typer.echo(f"infucode audit: error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    store = open_release_store(data_dir)
    releases_dir = str(store.data_dir)  # each worker opens it again
    store.close()
    outputs = AtomicOutputs()  # written beside their paths, renamed into place when the audit is complete
    failed = False
    try:
        with interrupts_as_exceptions():
            try:
                out = outputs.open(output, "w", encoding="utf-8", newline="") if output is not None else sys.stdout
                summary_out = outputs.open(summary, "w", encoding="utf-8", newline="") if summary is not None else None
            except OutputWriteError as exc:
                typer.echo(f"infucode audit: error: {exc}", err=True)
                raise typer.Exit(EXIT_USAGE) from None
            writers = [(format, make_writer(format, out))]
            if summary_out is not None:
                writers.append((summary_format, make_writer(summary_format, summary_out)))

            # the workers render what they can (jsonl and csv text, the summary); the rest needs the items
            rendered = Outputs(texts=tuple(fmt for fmt, w in writers if w.needs == "text"),
                              summary=any(w.needs == "summary" for _, w in writers),
                              items=any(w.needs == "items" for _, w in writers))

            def on_chunk(path: Path, chunk) -> None:
                nonlocal failed
                failed = failed or chunk.failed
                if format != "table" or output is not None:
                    for item in chunk.unreadable:
                        typer.echo(_error_line(path, item), err=True)
                texts = iter(chunk.texts)
                for _, w in writers:
                    if w.needs == "text":
                        w.write_text(next(texts))
                    elif w.needs == "summary":
                        w.add_summary(chunk.summary)
                    else:
                        for item in chunk.items:
                            w.write(item)

            present = []
            for path in files:
                if path.exists():
                    present.append(path)
                else:
                    # a file that is not there is an error of the run, not an unreadable claim: not counted as one
                    failed = True
                    typer.echo(f"infucode audit: error: {path}: no such file; the other files are audited", err=True)
            audit_chunks(present, on_chunk, rendered, profile=profile, releases_dir=releases_dir, workers=workers,
                         progress=sys.stderr.isatty() if progress is None else progress)
            for _, w in writers:
                w.close()
            outputs.commit()
    except OSError as exc:
        typer.echo(f"infucode audit: error: cannot write {output or summary or 'the output'}: "
                   f"{exc.strerror or type(exc).__name__}; no output was written", err=True)
        raise typer.Exit(EXIT_OUTPUT_FAILED) from None
    except OutputWriteError as exc:
        typer.echo(f"infucode audit: error: {exc}; no output was written", err=True)
        raise typer.Exit(EXIT_OUTPUT_FAILED) from None
    except KeyboardInterrupt as exc:
        typer.echo(f"infucode audit: stopped by {interrupted_name(exc)}; no output was written", err=True)
        raise typer.Exit(interrupted_status(exc)) from None
    finally:
        if not outputs.committed:
            outputs.discard()
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)


def _error_line(path: Path, item) -> str:
    """``FILE, claim ID, line N, field F: message`` (the file left out when the message names it)."""
    err = item.error
    parts = [str(path) if path.name not in err.message else None,
             f"claim {item.claim}" if item.claim is not None else None,
             f"line {err.line}" if err.line else None,
             f"field {err.field}" if err.field else None]
    where = ", ".join(p for p in parts if p)
    return f"{where}: {err.message}" if where else err.message
