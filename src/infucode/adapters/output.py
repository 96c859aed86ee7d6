"""Writing results: ``table`` (rich, for people), ``json``, ``jsonl`` (the batch format) and ``csv``.

Every writer is fed one :class:`Result` or :class:`ErrorResult` at a time and streams where the
format allows it (``jsonl``, ``csv``, ``table``); ``json`` prints a single object when exactly one
encounter was written and an array otherwise. JSON keys follow the model's field order.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol, TextIO

import msgspec

from infucode.model import ErrorResult, Result

__all__ = [
    "CSV_COLUMNS",
    "FINDINGS_COLUMNS",
    "FORMATS",
    "CsvWriter",
    "JsonLinesWriter",
    "JsonWriter",
    "ResultWriter",
    "TableWriter",
    "encode_json",
    "charge_line_rows",
    "error_line",
    "finding_rows",
    "make_writer",
    "write_results",
]

FORMATS = ("table", "json", "jsonl", "csv")

CSV_COLUMNS = (
    "encounter",
    "code",
    "units",
    "modifiers",
    "date",
    "administrations",
    "rule",
    "wrvu",
    "kind",
    "explanation",
    "source",
    "error",
    "error_field",
    "error_line",
)

#: The findings beside a table of charge lines (``infucode batch`` CSV and Parquet outputs).
FINDINGS_COLUMNS = ("encounter", "rule", "severity", "administrations", "message", "source")


def charge_line_rows(result: Result) -> list[tuple]:
    """The ``CSV_COLUMNS`` values of one result, typed (units int, wRVU float, None for an empty cell):
    one row per charge line, or one row with only the encounter id when it has none."""
    if not result.lines:
        return [(result.encounter,) + (None,) * (len(CSV_COLUMNS) - 1)]
    return [
        (result.encounter, line.code, line.units, ";".join(line.modifiers), line.date, ";".join(line.administrations),
         line.rule, line.wrvu, line.kind, line.explanation, line.source, None, None, None)
        for line in result.lines
    ]


def finding_rows(result: Result) -> list[tuple]:
    """The ``FINDINGS_COLUMNS`` values of one result's findings."""
    return [(result.encounter, f.rule, f.severity, ";".join(f.administrations), f.message, f.source)
            for f in result.findings]


_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


class ResultWriter(Protocol):
    def write(self, item: Result | ErrorResult) -> None: ...

    def close(self) -> None: ...


def encode_json(item: Result | ErrorResult, *, indent: int | None = None) -> str:
    """One result as JSON text (compact, or indented by ``indent`` spaces)."""
    data = msgspec.json.encode(item)
    if indent:
        data = msgspec.json.format(data, indent=indent)
    return data.decode("utf-8")


def error_line(item: ErrorResult, *, source: str | None = None) -> str:
    """``encounter <id>, line <n>, field <f>: <message>`` (absent parts left out), for stderr."""
    parts = []
    if item.encounter is not None:
        parts.append(f"encounter {item.encounter}")
    if item.error.line is not None:
        parts.append(f"line {item.error.line}")
    if item.error.field:
        parts.append(f"field {item.error.field}")
    where = ", ".join(parts)
    if source:
        where = f"{source}: {where}" if where else source
    return f"{where}: {item.error.message}" if where else item.error.message


class JsonLinesWriter:
    """One compact JSON object per line."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, item: Result | ErrorResult) -> None:
        self.stream.write(encode_json(item))
        self.stream.write("\n")

    def close(self) -> None:
        self.stream.flush()


class JsonWriter:
    """Indented JSON: the object itself for one encounter, an array for none or several.

    Streams: the first item is held back until a second one shows whether an array is needed.
    """

    def __init__(self, stream: TextIO, *, indent: int = 2) -> None:
        self.stream = stream
        self.indent = indent
        self._held: str | None = None
        self._count = 0

    def _indented(self, text: str) -> str:
        pad = " " * self.indent
        return "\n".join(pad + line for line in text.splitlines())

    def write(self, item: Result | ErrorResult) -> None:
        text = encode_json(item, indent=self.indent)
        self._count += 1
        if self._count == 1:
            self._held = text
            return
        if self._count == 2:
            self.stream.write("[\n" + self._indented(self._held or ""))
            self._held = None
        self.stream.write(",\n" + self._indented(text))

    def close(self) -> None:
        if self._count == 0:
            self.stream.write("[]\n")
        elif self._count == 1:
            self.stream.write((self._held or "") + "\n")
        else:
            self.stream.write("\n]\n")
        self.stream.flush()


class CsvWriter:
    """One row per charge line; an encounter with no lines gets one row with its id only, and an
    encounter that could not be read gets one row with the ``error`` columns filled."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._csv = csv.writer(stream, lineterminator="\n")
        self._csv.writerow(CSV_COLUMNS)

    def write(self, item: Result | ErrorResult) -> None:
        if isinstance(item, ErrorResult):
            row = dict.fromkeys(CSV_COLUMNS, "")
            row["encounter"] = item.encounter or ""
            row["error"] = item.error.message
            row["error_field"] = item.error.field or ""
            row["error_line"] = "" if item.error.line is None else str(item.error.line)
            self._csv.writerow(row[c] for c in CSV_COLUMNS)
            return
        for row in charge_line_rows(item):
            self._csv.writerow("" if v is None else _num(v) if i == _WRVU else v for i, v in enumerate(row))

    def close(self) -> None:
        self.stream.flush()


_WRVU = CSV_COLUMNS.index("wrvu")


def _num(value: float) -> str:
    return f"{value:.2f}"


class TableWriter:
    """Rich tables for a terminal: per encounter a header, the charge lines, the findings and the
    wRVU total. ``show_errors=False`` leaves unreadable encounters out (the CLI already printed
    them to stderr when the table goes to the same terminal)."""

    def __init__(self, stream: TextIO, *, show_errors: bool = True, width: int | None = None) -> None:
        from rich.console import Console

        self.stream = stream
        self.show_errors = show_errors
        probe = Console(file=stream)
        if width is None and not probe.is_terminal:
            width = 160
        self.console = Console(file=stream, width=width, highlight=False, emoji=False, markup=False)
        self._count = 0

    def write(self, item: Result | ErrorResult) -> None:
        from rich.table import Table
        from rich.text import Text

        if isinstance(item, ErrorResult):
            if self.show_errors:
                self._gap()
                self.console.print(Text("error: " + error_line(item), style="bold red"))
            return
        self._gap()
        header = Text()
        header.append("Encounter ", style="bold")
        header.append(item.encounter, style="bold")
        header.append(f"  profile {item.profile}  {item.claim} claim")
        self.console.print(header)

        if item.lines:
            lines = Table(show_header=True, header_style="bold", show_lines=False, expand=False)
            for name, kw in (
                ("Code", {"no_wrap": True}),
                ("Units", {"justify": "right"}),
                ("Modifiers", {}),
                ("Date", {"no_wrap": True}),
                ("Administrations", {}),
                ("Rule", {}),
                ("Explanation", {}),
                ("wRVU", {"justify": "right", "no_wrap": True}),
            ):
                lines.add_column(name, **kw)
            for line in item.lines:
                lines.add_row(
                    Text(line.code),
                    Text(str(line.units)),
                    Text(", ".join(line.modifiers)),
                    Text(line.date or ""),
                    Text(", ".join(line.administrations)),
                    Text(line.rule),
                    Text(line.explanation),
                    Text(_num(line.wrvu)),
                )
            self.console.print(lines)
        else:
            self.console.print(Text("no charge lines", style="dim"))

        if item.findings:
            findings = Table(show_header=True, header_style="bold", title=None)
            findings.add_column("Severity", no_wrap=True)
            findings.add_column("Rule")
            findings.add_column("Administrations")
            findings.add_column("Finding")
            for f in item.findings:
                findings.add_row(
                    Text(f.severity, style=_SEVERITY_STYLE.get(f.severity, "")),
                    Text(f.rule),
                    Text(", ".join(f.administrations)),
                    Text(f.message),
                )
            self.console.print(findings)

        self.console.print(Text(f"wRVU total: {_num(item.wrvu_total)}", style="bold"))

    def _gap(self) -> None:
        if self._count:
            self.console.print()
        self._count += 1

    def close(self) -> None:
        self.stream.flush()


def make_writer(fmt: str, stream: TextIO, **options: Any) -> ResultWriter:
    """The writer for ``fmt`` (one of :data:`FORMATS`); ``options`` go to the table writer."""
    if fmt == "table":
        return TableWriter(stream, **options)
    if fmt == "json":
        return JsonWriter(stream)
    if fmt == "jsonl":
        return JsonLinesWriter(stream)
    if fmt == "csv":
        return CsvWriter(stream)
    raise ValueError(f"unknown output format '{fmt}'; allowed: {', '.join(FORMATS)}")


def write_results(items: Iterable[Result | ErrorResult], fmt: str, stream: TextIO, **options: Any) -> int:
    """Write every item with the writer for ``fmt``; returns how many were written."""
    writer = make_writer(fmt, stream, **options)
    count = 0
    for item in items:
        writer.write(item)
        count += 1
    writer.close()
    return count
