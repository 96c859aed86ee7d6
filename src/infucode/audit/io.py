"""Reading claims (JSON, JSON Lines, YAML, CSV) and writing audit results (table, json, jsonl, csv, html).

Every problem with one claim becomes an :class:`InputError` that is *yielded*, not raised, so a batch
goes on with the next claim. The error names the claim id (the error's ``encounter`` attribute), the
field and, where known, the line of the file; it never echoes record content.

CSV: one billed line per row. Required columns ``claim_id, claim_type, date, code, units``; optional
``place_of_service, payer, modifiers`` (``;``-separated), ``line_date, revenue_code, ndc``. Rows of one
claim may be anywhere in the file; the claim-level columns must agree between them. CSV claims carry
no documentation (use JSON/YAML with an ``encounter`` for that).
"""
from __future__ import annotations

import csv
import html
import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import msgspec
import yaml

from infucode.adapters.encounter_io import EncounterYamlLoader
from infucode.model import InputError

from .engine import audit_claim
from .model import AuditError, AuditResult, Claim, decode_claim, error_result

__all__ = ["FORMATS", "audit_stream", "iter_claims", "make_writer", "read_csv_claims"]

FORMATS = ("table", "json", "jsonl", "csv", "html")
CSV_REQUIRED = ("claim_id", "claim_type", "date", "code", "units")
CSV_OPTIONAL = ("place_of_service", "payer", "modifiers", "line_date", "revenue_code", "ndc")
_CLAIM_COLUMNS = (("claim_type", "claim_type"), ("date", "date"), ("place_of_service", "place_of_service"), ("payer", "payer"))

Item = tuple[Claim | InputError, int | None]


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def iter_claims(path: str | Path) -> Iterator[Item]:
    """Claims of one file, chosen by extension: .json, .jsonl/.ndjson, .yaml/.yml, .csv, .x12/.837/.edi (837P/837I)."""
    p = Path(path)
    suffix = p.suffix.lower()
    try:
        if suffix in (".x12", ".837", ".edi"):
            from .x12 import read_837
            yield from read_837(p)
            return
        if suffix == ".csv":
            with p.open(encoding="utf-8-sig", newline="") as fh:
                yield from read_csv_claims(fh)
            return
        data = p.read_bytes()
    except FileNotFoundError:
        yield InputError(None, f"file not found: {p}"), None
        return
    except (OSError, UnicodeDecodeError) as exc:
        yield InputError(None, f"cannot read {p}: {type(exc).__name__}"), None
        return
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        yield InputError(None, f"file is empty: {p}"), None
    elif suffix in (".jsonl", ".ndjson"):
        yield from _iter_jsonl(data)
    elif suffix == ".json":
        yield from _iter_json(data)
    elif suffix in (".yaml", ".yml"):
        yield from _iter_yaml(data)
    else:
        yield InputError(None, f"unsupported file type {suffix or '(none)'}: use .json, .jsonl, .yaml, .csv or .x12 (837P/837I)"), None


def _decode(obj: Any, line: int | None, position: int | None = None) -> Item:
    try:
        return decode_claim(obj, line=line), line
    except InputError as err:
        if err.encounter is None and line is None and position is not None:
            err.field = f"[{position}].{err.field}" if err.field else f"[{position}]"
        return err, line


def _decode_value(obj: Any, lines: list[int] | int | None) -> Iterator[Item]:
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            line = lines[i] if isinstance(lines, list) and i < len(lines) else None
            yield _decode(item, line, i)
    else:
        yield _decode(obj, lines if isinstance(lines, int) else None)


def _iter_json(data: bytes) -> Iterator[Item]:
    try:
        obj = msgspec.json.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        m = re.search(r"\(byte (\d+)\)", str(exc))
        line = data.count(b"\n", 0, int(m.group(1))) + 1 if m else None
        yield InputError(None, "not valid JSON", line=line), line
        return
    yield from _decode_value(obj, None)


def _iter_jsonl(data: bytes) -> Iterator[Item]:
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = msgspec.json.decode(raw)
        except (msgspec.DecodeError, UnicodeDecodeError):
            yield InputError(None, "not valid JSON", line=number), number
            continue
        yield _decode(obj, number)


def _iter_yaml(data: bytes) -> Iterator[Item]:
    loader = EncounterYamlLoader(data)
    try:
        while True:
            try:
                if not loader.check_node():
                    break
                node = loader.get_node()
                if node is None:
                    continue
                value = loader.construct_document(node)
            except (yaml.YAMLError, ValueError, TypeError) as exc:
                mark = getattr(exc, "problem_mark", None)
                line = mark.line + 1 if mark is not None else None
                yield InputError(None, "not valid YAML", line=line), line
                return
            if value is None:
                continue
            if isinstance(node, yaml.SequenceNode):
                lines: list[int] | int = [n.start_mark.line + 1 for n in node.value]
            else:
                lines = node.start_mark.line + 1
            yield from _decode_value(value, lines)
    finally:
        loader.dispose()


def _units(text: str) -> int | str:
    text = text.strip()
    return int(text) if re.fullmatch(r"[0-9]+", text) else text


def read_csv_claims(fh: TextIO) -> Iterator[Item]:
    """One billed line per row, grouped into claims by ``claim_id`` (first-appearance order)."""
    reader = csv.DictReader(fh)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        yield InputError(missing[0], f"CSV is missing column(s) {', '.join(missing)} "
                                     f"(required: {', '.join(CSV_REQUIRED)})", line=1), 1
        return
    reader.fieldnames = header
    claims: dict[str, dict[str, Any]] = {}
    rows_of: dict[str, list[int]] = {}
    problems: dict[str, InputError] = {}
    for row in reader:
        line = reader.line_num
        cid = (row.get("claim_id") or "").strip()
        if not cid:
            yield InputError("claim_id", "empty claim_id", line=line), line
            continue
        claim = claims.get(cid)
        if claim is None:
            claim = claims[cid] = {"id": cid, "lines": []}
            rows_of[cid] = []
            for column, key in _CLAIM_COLUMNS:
                value = (row.get(column) or "").strip()
                if value:
                    claim[key] = value
        elif cid not in problems:
            for column, key in _CLAIM_COLUMNS:
                value = (row.get(column) or "").strip()
                if value and claim.get(key, value) != value:
                    problems[cid] = InputError(column, f"{column} differs between the rows of one claim",
                                               encounter=cid, line=line)
        billed: dict[str, Any] = {"code": (row.get("code") or "").strip(), "units": _units(row.get("units") or "")}
        mods = [m.strip() for m in (row.get("modifiers") or "").split(";") if m.strip()]
        if mods:
            billed["modifiers"] = mods
        for column, key in (("line_date", "date"), ("revenue_code", "revenue_code"), ("ndc", "ndc")):
            value = (row.get(column) or "").strip()
            if value:
                billed[key] = value
        claim["lines"].append(billed)
        rows_of[cid].append(line)
    for cid, obj in claims.items():
        if cid in problems:
            yield problems[cid], problems[cid].line
            continue
        try:
            yield decode_claim(obj), rows_of[cid][0]
        except InputError as err:
            m = re.match(r"lines\[(\d+)\]", err.field or "")
            err.line = rows_of[cid][int(m.group(1))] if m else rows_of[cid][0]
            yield err, err.line


# --------------------------------------------------------------------------------------------
# Auditing a stream
# --------------------------------------------------------------------------------------------


def audit_stream(items: Iterable[Item], ruleset: Any) -> Iterator[AuditResult | AuditError]:
    """Audit every claim in input order; an unreadable claim becomes an :class:`AuditError`."""
    for item, line in items:
        if isinstance(item, InputError):
            yield error_result(item)
            continue
        try:
            yield audit_claim(item, ruleset)
        except InputError as err:
            err.encounter = err.encounter or str(item.id)
            err.line = err.line or line
            yield error_result(err)
        except Exception as exc:  # noqa: BLE001 - one broken claim must not stop a batch
            yield error_result(InputError(None, f"internal error while auditing this claim ({type(exc).__name__}); "
                                                "please report it", encounter=str(item.id), line=line))


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

CSV_COLUMNS = ("claim", "claim_type", "rule", "severity", "lines", "codes", "wrvu_delta", "message", "source",
               "error", "error_field", "error_line")
_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _codes(result: AuditResult, indexes: list[int]) -> str:
    return ";".join(result.billed[i].code for i in indexes if 0 <= i < len(result.billed))


def summary(items: list[AuditResult | AuditError]) -> dict[str, Any]:
    results = [r for r in items if isinstance(r, AuditResult)]
    by_rule = Counter(f.rule for r in results for f in r.findings if f.severity != "info")
    return {
        "claims": len(items),
        "audited": len(results),
        "unreadable": len(items) - len(results),
        "with_errors": sum(1 for r in results if r.has_errors),
        "findings_by_rule": dict(by_rule.most_common()),
    }


class _Writer:
    def __init__(self, out: TextIO):
        self.out = out
        self.items: list[AuditResult | AuditError] = []

    def write(self, item: AuditResult | AuditError) -> None:
        self.items.append(item)

    def close(self) -> None:
        pass


class JsonWriter(_Writer):
    def close(self) -> None:
        body: Any = self.items[0] if len(self.items) == 1 else self.items
        self.out.write(msgspec.json.format(msgspec.json.encode(body), indent=2).decode() + "\n")


class JsonLinesWriter(_Writer):
    def write(self, item: AuditResult | AuditError) -> None:
        self.out.write(msgspec.json.encode(item).decode() + "\n")


class CsvWriter(_Writer):
    def __init__(self, out: TextIO):
        super().__init__(out)
        self.csv = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        self.csv.writeheader()

    def write(self, item: AuditResult | AuditError) -> None:
        if isinstance(item, AuditError):
            self.csv.writerow({"claim": item.claim or "", "error": item.error.message, "error_field": item.error.field or "",
                               "error_line": item.error.line or ""})
            return
        if not item.findings:
            self.csv.writerow({"claim": item.claim, "claim_type": item.claim_type})
        for f in item.findings:
            self.csv.writerow({"claim": item.claim, "claim_type": item.claim_type, "rule": f.rule, "severity": f.severity,
                               "lines": ";".join(map(str, f.lines)), "codes": _codes(item, f.lines),
                               "wrvu_delta": f.wrvu_delta, "message": f.message, "source": f.source})


class TableWriter(_Writer):
    def __init__(self, out: TextIO):
        super().__init__(out)
        from rich.console import Console

        self.console = Console(file=out, width=140, highlight=False, soft_wrap=False)

    def write(self, item: AuditResult | AuditError) -> None:
        from rich.markup import escape
        from rich.table import Table

        self.items.append(item)
        if isinstance(item, AuditError):
            where = f", line {item.error.line}" if item.error.line else ""
            field = f", field {item.error.field}" if item.error.field else ""
            self.console.print(f"[bold red]claim {escape(str(item.claim))}{escape(where + field)}: "
                               f"{escape(item.error.message)}[/]")
            return
        self.console.print(f"[bold]claim {escape(item.claim)}[/] ({item.claim_type}, profile {escape(item.profile)})")
        billed = Table("#", "code", "units", "modifiers", "date", title="billed", title_justify="left")
        for i, line in enumerate(item.billed):
            billed.add_row(str(i), line.code, str(line.units), " ".join(line.modifiers), line.date or "")
        self.console.print(billed)
        if item.supported is None:
            self.console.print("supported: no documentation on the claim")
        else:
            self.console.print("supported: " + (", ".join(f"{l.code} x{l.units}" for l in item.supported) or "no lines"))
        if not item.findings:
            self.console.print("[green]no findings[/]\n")
            return
        table = Table("severity", "rule", "lines", "wRVU", "message", title="findings", title_justify="left")
        for f in item.findings:
            table.add_row(f"[{_STYLE[f.severity]}]{f.severity}[/]", f.rule, ",".join(map(str, f.lines)),
                          f"{f.wrvu_delta:+.2f}" if f.wrvu_delta else "", escape(f.message))
        self.console.print(table)
        self.console.print()

    def close(self) -> None:
        s = summary(self.items)
        self.console.print(f"{s['claims']} claim(s): {s['audited']} audited, {s['unreadable']} unreadable, "
                           f"{s['with_errors']} with error findings")


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}.error{color:#b00020;font-weight:bold}
.warning{color:#a15c00}.info{color:#036}.bar{background:#4a78c2;height:1em;display:inline-block}h2{margin-top:2em}"""


class HtmlWriter(_Writer):
    """A small self-contained HTML report (inline CSS, no scripts); every value is escaped."""

    def close(self) -> None:
        e = html.escape
        s = summary(self.items)
        parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>infucode claim audit</title>",
                 f"<style>{_CSS}</style></head><body><h1>Claim audit</h1>",
                 (f"<p>{s['claims']} claim(s): {s['audited']} audited, {s['unreadable']} unreadable, "
                  f"{s['with_errors']} with error findings.</p>")]
        if s["findings_by_rule"]:
            top = max(s["findings_by_rule"].values())
            parts.append("<h2>Findings by rule (errors and warnings)</h2><table><tr><th>rule</th><th>count</th><th></th></tr>")
            for rule, n in s["findings_by_rule"].items():
                parts.append(f"<tr><td>{e(rule)}</td><td>{n}</td><td><span class='bar' style='width:{round(200 * n / top)}px'>"
                             "</span></td></tr>")
            parts.append("</table>")
        for item in sorted(self.items, key=_worst_first):
            if isinstance(item, AuditError):
                parts.append(f"<h2>claim {e(str(item.claim))}</h2><p class='error'>could not be read: field "
                             f"{e(item.error.field or '-')}, line {e(str(item.error.line or '-'))}: {e(item.error.message)}</p>")
                continue
            parts.append(f"<h2>claim {e(item.claim)}</h2><p>{e(item.claim_type)} claim, profile {e(item.profile)}</p>")
            parts.append("<table><tr><th>#</th><th>code</th><th>units</th><th>modifiers</th><th>date</th></tr>")
            for i, line in enumerate(item.billed):
                parts.append(f"<tr><td>{i}</td><td>{e(line.code)}</td><td>{line.units}</td><td>{e(' '.join(line.modifiers))}</td>"
                             f"<td>{e(line.date or '')}</td></tr>")
            parts.append("</table>")
            sup = ("no documentation on the claim" if item.supported is None
                   else ", ".join(f"{l.code} x{l.units}" for l in item.supported) or "no lines")
            parts.append(f"<p>supported: {e(sup)}</p>")
            if not item.findings:
                parts.append("<p>no findings</p>")
                continue
            parts.append("<table><tr><th>severity</th><th>rule</th><th>lines</th><th>wRVU</th><th>message</th><th>source</th></tr>")
            for f in item.findings:
                parts.append(f"<tr><td class='{f.severity}'>{f.severity}</td><td>{e(f.rule)}</td><td>{e(','.join(map(str, f.lines)))}</td>"
                             f"<td>{f.wrvu_delta:+.2f}</td><td>{e(f.message)}</td><td>{e(f.source)}</td></tr>")
            parts.append("</table>")
        parts.append("</body></html>\n")
        self.out.write("\n".join(parts))


def _worst_first(item: AuditResult | AuditError) -> tuple:
    if isinstance(item, AuditError):
        return (0, 0, 0.0)
    errors = sum(1 for f in item.findings if f.severity == "error")
    return (1, -errors, sum(f.wrvu_delta for f in item.findings))


def make_writer(format: str, out: TextIO) -> _Writer:
    writers = {"json": JsonWriter, "jsonl": JsonLinesWriter, "csv": CsvWriter, "table": TableWriter, "html": HtmlWriter}
    try:
        return writers[format](out)
    except KeyError:
        raise ValueError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}") from None


def render(items: Iterable[AuditResult | AuditError], format: str = "json") -> str:
    """All items in one format, as a string (tests and the library use)."""
    buf = io.StringIO()
    writer = make_writer(format, buf)
    for item in items:
        writer.write(item)
    writer.close()
    return buf.getvalue()
