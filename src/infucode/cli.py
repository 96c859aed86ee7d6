"""The ``infucode`` command line: ``code``, ``schema``, ``serve``, ``--version``; ``profiles`` is in
:mod:`infucode.cli_profiles`, the other commands beside the features they serve (registered at the end).

Exit status of ``infucode code``: 0 when every encounter was coded, 1 when any encounter could not
be read or coded (the others are still written), 2 for a usage error (bad option, unknown profile
or policy), 3 when the engine or its reference data cannot be loaded. ``INFUCODE_DEBUG=1`` lets
internal exceptions through with their traceback instead of reporting them per encounter.
"""

from __future__ import annotations

import enum
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Optional

import msgspec
import typer

from infucode.adapters.stream import code_stream
from infucode.adapters.encounter_io import iter_encounters
from infucode.adapters.output import error_line, make_writer
from infucode.model import Encounter, ErrorResult

from .cli_profiles import profiles
from .cli_ruleset import load_ruleset_or_exit, parse_policies, usage_error

EXIT_OK = 0
EXIT_ENCOUNTER_ERRORS = 1
# 2 (usage error) and 3 (engine or reference data not loaded): cli_ruleset.EXIT_USAGE, EXIT_INTERNAL

app = typer.Typer(
    name="infucode",
    help="CPT drug-administration codes (96360-96549) from documented administrations, "
    "with the rule and source behind every line.",
    rich_markup_mode=None,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


class OutputFormat(str, enum.Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    fhir = "fhir"


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("infucode")
    except Exception:  # noqa: BLE001 - not installed: fall back to the package attribute
        import infucode

        return str(getattr(infucode, "__version__", "unknown"))


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"infucode {_version()}")
        raise typer.Exit()


@app.callback()
def main(
    version: Optional[bool] = typer.Option(  # noqa: UP045 - typer reads the annotation
        None, "--version", help="Show the version and exit.", callback=_version_callback, is_eager=True
    ),
) -> None:
    """CPT drug-administration coding from documented administrations."""


@app.command()
def code(
    files: list[Path] = typer.Argument(  # noqa: B008
        ...,
        metavar="FILE...",
        help="Encounter files: .json (object or array), .jsonl/.ndjson (one per line), "
        ".yaml/.yml; '-' reads JSON Lines from stdin.",
        show_default=False,
    ),
    format: OutputFormat = typer.Option(  # noqa: A002, B008
        OutputFormat.table, "--format", "-f", help="Output format.", case_sensitive=False
    ),
    profile: Optional[str] = typer.Option(  # noqa: UP045
        None, "--profile", "-p", metavar="NAME", help="Payer profile (see 'infucode profiles')."
    ),
    policy: list[str] = typer.Option(  # noqa: B008
        [], "--policy", metavar="NAME=VALUE", help="Override one policy: name=value (repeatable).", show_default=False
    ),
    output: Optional[Path] = typer.Option(  # noqa: UP045
        None, "--output", "-o", metavar="PATH", help="Write the results to this file instead of stdout."
    ),
    data_dir: Optional[Path] = typer.Option(  # noqa: B008, UP045
        None, "--data-dir", help="CMS files imported with 'infucode data import' (default: $INFUCODE_DATA_DIR, "
                                 "else the user data directory): MUE and wRVU in force on each encounter's date."
    ),
    columns: Optional[Path] = typer.Option(  # noqa: B008, UP045
        None, "--columns", metavar="MAPPING.yaml", help="CSV input: the export's own headers (columns: {ours: theirs}); "
        "a MAR action-log mapping (actions, time_format; examples/mar/epic-style-mapping.yaml) is read as one.",
        show_default=False,
    ),
) -> None:
    """Code encounters and print their charge lines and findings.

    MUE and wRVU come from the CMS files imported with 'infucode data import' that were in force on
    each encounter's date (the bundled tables when none was imported); data_releases names which.

    Exit status: 0 every encounter coded; 1 some encounter could not be read or coded (the others
    are still written; each error is also printed to stderr); 2 usage error; 3 the engine or its
    reference data cannot be loaded.
    """
    from .cli_data import open_release_store

    policies = parse_policies(policy)
    mapping = None
    if columns is not None:
        from .adapters.encounter_io import CsvMapping
        try:
            mapping = CsvMapping(columns)
        except ValueError as exc:
            raise usage_error(str(exc)) from None
    ruleset = load_ruleset_or_exit(profile, policies)
    fmt = format.value
    several = len(files) > 1
    debug = bool(os.environ.get("INFUCODE_DEBUG"))

    failed = False
    from .adapters import output_files

    with ExitStack() as stack:
        store = stack.enter_context(open_release_store(data_dir))
        if store.exists:
            ruleset = ruleset.with_releases(store)
        # -o: written beside its path and renamed into place when complete (adapters.output_files)
        outputs = stack.enter_context(output_files.AtomicOutputs())
        if output is not None and str(output) != "-":
            try:
                output_files.refuse_inputs_as_outputs([output], files)
                stream = outputs.open(output, "w", encoding="utf-8", newline="")
            except (output_files.SameFileError, output_files.OutputWriteError) as exc:
                raise usage_error(str(exc)) from None
            to_stdout = False
        else:
            stream = sys.stdout
            to_stdout = True
        if fmt == "fhir":
            failed = _write_fhir(files, ruleset, stream, several, mapping)
            _commit_output(outputs)
            raise typer.Exit(EXIT_ENCOUNTER_ERRORS if failed else EXIT_OK)
        options = {"show_errors": not to_stdout} if fmt == "table" else {}
        writer = make_writer(fmt, stream, **options)
        seen: set[str] = set()
        try:
            for path in files:
                source = str(path) if several else None
                pairs = iter_encounters(path, seen_ids=seen, columns=mapping)
                for result, ok in code_stream(pairs, ruleset, catch_internal=not debug, seen_ids=seen):
                    if not ok:
                        failed = True
                        assert isinstance(result, ErrorResult)
                        typer.echo(error_line(result, source=source), err=True)
                    writer.write(result)
            writer.close()
            _commit_output(outputs)
        except BrokenPipeError:
            # the reader went away (e.g. '| head'): stop quietly
            try:
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115
            except OSError:
                pass
            raise typer.Exit(EXIT_ENCOUNTER_ERRORS if failed else EXIT_OK) from None
        except OSError as exc:  # a full disk: one line, and no half-written output
            typer.echo(f"infucode: error: cannot write {output or 'the output'}: {exc.strerror or type(exc).__name__}; "
                       "no output was written", err=True)
            raise typer.Exit(output_files.EXIT_OUTPUT_FAILED) from None
    raise typer.Exit(EXIT_ENCOUNTER_ERRORS if failed else EXIT_OK)


def _commit_output(outputs: Any) -> None:
    """Rename the finished -o file into place; a full disk found now is one line and exit 4."""
    from .adapters.output_files import EXIT_OUTPUT_FAILED, OutputWriteError

    try:
        outputs.commit()
    except OutputWriteError as exc:
        typer.echo(f"infucode: error: {exc}; no output was written", err=True)
        raise typer.Exit(EXIT_OUTPUT_FAILED) from None


def _write_fhir(files: list[Path], ruleset: Any, stream, several: bool, mapping: Any = None) -> bool:
    """One FHIR R4 Bundle of ChargeItems per encounter (a JSON array for several); errors to stderr."""
    from .adapters.fhir import to_fhir_bundle
    from .engine import code_encounter
    from .model import InputError

    bundles, failed, seen = [], False, set()
    for path in files:
        for item, line in iter_encounters(path, seen_ids=seen, columns=mapping):
            try:
                if isinstance(item, InputError):
                    raise item
                bundles.append(to_fhir_bundle(code_encounter(item, ruleset), item))
            except InputError as exc:
                exc.line = exc.line or line
                failed = True
                typer.echo(error_line(exc.to_result(), source=str(path) if several else None), err=True)
    doc = bundles[0] if len(bundles) == 1 else bundles
    stream.write(msgspec.json.format(msgspec.json.encode(doc), indent=2).decode() + "\n")
    return failed


@app.command()
def schema() -> None:
    """Print the JSON Schema of one input encounter.

    A .json file holds one such object or an array of them; a .jsonl file holds one per line; a
    YAML file holds one, a list, or several documents.
    """
    doc = msgspec.json.schema(Encounter)
    out = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "infucode encounter",
        "$comment": "One encounter. .json: one object or an array of them; .jsonl/.ndjson: one object "
        "per line; .yaml/.yml: one object, a list, or several documents.",
        **doc,
    }
    typer.echo(msgspec.json.format(msgspec.json.encode(out), indent=2).decode("utf-8"))


# 'infucode profiles' (cli_profiles), registered here to keep its place in the list of commands
app.command()(profiles)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind; loopback unless told otherwise."),
    port: int = typer.Option(8000, help="TCP port."),
    db: str = typer.Option("sqlite:///infucode-cases.db", help="SQLAlchemy URL of the saved-cases database."),
    token_file: Optional[Path] = typer.Option(None, help="File holding the bearer token (else INFUCODE_TOKEN)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="CMS files imported with 'infucode data import' "  # noqa: B008, UP045
                                            "for /v1/code and /v1/audit (default: $INFUCODE_DATA_DIR, else the user data directory)."),
) -> None:
    """Serve the REST API and the web page (http://HOST:PORT/).

    Limits (infucode.web.limits): bodies over 2 MB (20 MB for a batch or an uploaded file) get 413, counted as
    they arrive; a request not done within 60 s (body upload included) gets 408/503; idle keep-alive
    connections close after 5 s; on SIGTERM, requests still running after 3 s are cancelled."""
    from .cli_data import open_release_store
    from .web.app import create_app, is_loopback, read_token
    from .web.limits import GRACEFUL_SHUTDOWN_SECONDS, KEEP_ALIVE_SECONDS

    def usage_error(message: str) -> typer.Exit:
        typer.echo(f"infucode: error: {message}", err=True)
        return typer.Exit(2)

    try:
        token = read_token(str(token_file) if token_file else None)
    except (OSError, UnicodeError) as exc:
        raise usage_error(f"cannot read the token file {token_file}: {getattr(exc, 'strerror', None) or exc}") from None
    if not is_loopback(host) and not token:
        raise usage_error(f"refusing to bind {host} (not only loopback addresses) without a bearer token "
                          "(set INFUCODE_TOKEN or --token-file)")
    import uvicorn
    from sqlalchemy.exc import SQLAlchemyError

    try:
        releases = open_release_store(data_dir)
    except OSError as exc:
        raise usage_error(f"cannot open the data directory {exc.filename or data_dir}: {exc.strerror or exc}") from None
    from .web.serving import announce, database_file, log_requests_to_stderr

    try:
        existed = database_file(db)
        existed = existed.exists() if existed else None
        try:
            web_app = create_app(db_url=db, token=token, releases=releases if releases.exists else None)
        except (SQLAlchemyError, OSError) as exc:
            reason = getattr(exc, "orig", None) or getattr(exc, "strerror", None) or type(exc).__name__
            raise usage_error(f"cannot open the saved-cases database {db}: {reason}") from None
        announce(host, port, db, created=existed is False, token=bool(token))
        log_requests_to_stderr()
        uvicorn.run(web_app, host=host, port=port, log_level="warning", access_log=False,
                    timeout_keep_alive=KEEP_ALIVE_SECONDS, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS)
    finally:
        releases.close()


def _register_subcommands() -> None:
    """Commands whose code lives beside the features they serve (audit, batch, knowledge, data)."""
    from .audit.cli import audit as audit_command
    app.command(name="audit", help="Audit billed claim lines against the documentation and CMS edits.")(audit_command)
    from .batch.cli import batch as batch_command
    app.command(name="batch", help="Code a large file of encounters on every core (or on Spark), streaming.")(batch_command)
    from .knowledge import cli as knowledge
    app.command(name="lookup", help="The code reference: what a code means, its rules, wRVU, MUE, scenarios.")(knowledge.lookup_cmd)
    app.command(name="search", help="Find codes and rules by number, keyword or description (typo-tolerant).")(knowledge.search_cmd)
    app.command(name="ask", help="Answer a drug-administration coding question from the rule base.")(knowledge.ask_cmd)
    app.command(name="case", help="Turn a free-text case note (.txt or .eml) into codes and a memo.")(knowledge.case_cmd)
    from .cli_data import data_app
    app.add_typer(data_app, name="data", help="Import the official CMS files (MUE, PTP, RVU) the audit uses by date of service.")


_register_subcommands()


def run() -> None:  # pragma: no cover - console entry point alternative
    app(prog_name="infucode")


if __name__ == "__main__":  # pragma: no cover
    run()
