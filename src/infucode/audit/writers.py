"""Writing audit results: table, json, jsonl, csv, html (a report with a chart) and summary-csv."""
from __future__ import annotations

import codecs
import csv
import html
import io
from collections.abc import Iterable
from typing import Any, TextIO

import msgspec

from infucode.adapters.html_report import CSS, findings_chart

from .model import AuditError, AuditFinding, AuditResult
from .summary import TOP_CLAIMS, Summary, worst_first

__all__ = ["FORMATS", "WRITERS", "Writer", "change_words", "make_writer", "render"]

FORMATS = ("table", "json", "jsonl", "csv", "html", "summary-csv")
_JSON = msgspec.json.Encoder()
CSV_COLUMNS = ("claim", "claim_type", "rule", "severity", "lines", "codes", "wrvu_delta", "message", "source",
               "error", "error_field", "error_line")
SUMMARY_COLUMNS = ("section", "key", "claim_type", "claims", "findings", "errors", "warnings", "info", "lines_with_errors",
                   "wrvu_overcoded", "wrvu_undercoded", "units_overbilled", "units_underbilled", "detail")
_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _codes(result: AuditResult, numbers: list[int]) -> str:
    return ";".join(result.billed[n - 1].code for n in numbers if 0 < n <= len(result.billed))


def change_words(f: AuditFinding) -> str:
    """What one finding says was over- or under-coded: 'over-coded by 2 units (0.36 wRVU)'. The JSON keeps the
    signed deltas (supported minus billed); printed, the number is positive and the word carries the sign."""
    units, wrvu = f.unit_delta, f.wrvu_delta
    if units:
        word = "over-coded" if units < 0 else "under-coded"
        text = f"{word} by {abs(units)} unit{'s' if abs(units) != 1 else ''}"
        return text + (f" ({abs(wrvu):.2f} wRVU)" if wrvu else "")
    if wrvu:
        return f"{'over-coded' if wrvu < 0 else 'under-coded'} by {abs(wrvu):.2f} wRVU"
    return ""



def _is_utf8(encoding: str | None) -> bool:
    try:
        return encoding is not None and codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


class Writer:
    """One output of an audit. ``write(item)`` each audited item in input order, then ``close()``.

    What a writer needs (``needs``) lets the workers of ``infucode audit`` do the work of a chunk: "text"
    -- the chunk's text is made by the class's :meth:`render_text` in the worker, as UTF-8 bytes, and the
    parent only :meth:`write_text` it (bytes cross from the worker and reach the file without being decoded
    and encoded again: for a million claims, gigabytes the parent no longer converts); "summary" -- the worker's :class:`Summary` of the chunk is :meth:`add_summary`-ed;
    "items" -- the writer needs every item (a whole-document or a rich-table output)."""

    needs = "items"

    def __init__(self, out: TextIO):
        self.out = out
        self.items: list[AuditResult | AuditError] = []

    def write(self, item: AuditResult | AuditError) -> None:
        self.items.append(item)

    @classmethod
    def render_text(cls, items: Iterable[AuditResult | AuditError]) -> bytes:
        """The text ``write`` gives for these items, UTF-8 encoded (writers that need "text")."""
        raise NotImplementedError

    def write_text(self, data: bytes) -> None:
        """Append a chunk that :meth:`render_text` made: to the file's bytes when it has them (after what
        was written as text), else as text."""
        buffer = getattr(self.out, "buffer", None)
        if buffer is None or not _is_utf8(getattr(self.out, "encoding", None)):
            self.out.write(data.decode("utf-8"))
        else:
            self.out.flush()
            buffer.write(data)

    def add_summary(self, part: Summary) -> None:
        """The summary of the next claims (writers that need "summary")."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class JsonWriter(Writer):
    def close(self) -> None:
        body: Any = self.items[0] if len(self.items) == 1 else self.items
        self.out.write(msgspec.json.format(msgspec.json.encode(body), indent=2).decode() + "\n")


class JsonLinesWriter(Writer):
    needs = "text"

    def write(self, item: AuditResult | AuditError) -> None:
        self.out.write(msgspec.json.encode(item).decode() + "\n")

    @classmethod
    def render_text(cls, items: Iterable[AuditResult | AuditError]) -> bytes:
        return _JSON.encode_lines(list(items))


class CsvWriter(Writer):
    needs = "text"

    def __init__(self, out: TextIO):
        super().__init__(out)
        self.csv = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        self.csv.writeheader()

    @classmethod
    def render_text(cls, items: Iterable[AuditResult | AuditError]) -> bytes:
        buf = io.StringIO()
        writer = cls.__new__(cls)
        writer.csv = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
        for item in items:
            writer.write(item)
        return buf.getvalue().encode("utf-8")

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


class SummaryCsvWriter(Writer):
    """The batch summary as one CSV (``--format summary-csv``): a ``section`` column says what a row is.

    total: claims / audited / unreadable / with_errors / clean / professional / institutional;
    rule: one row per rule (most errors first); claim: every claim with findings, worst first;
    unreadable: one row per claim that could not be read (field, line and message in ``detail``)."""

    needs = "summary"

    def __init__(self, out: TextIO):
        super().__init__(out)
        self.acc = Summary()

    def write(self, item: AuditResult | AuditError) -> None:
        self.acc.add(item)

    def add_summary(self, part: Summary) -> None:
        self.acc.merge(part)

    def close(self) -> None:
        w = csv.DictWriter(self.out, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
        w.writeheader()
        s = self.acc.as_dict(top=None)
        counts = s["findings"]
        w.writerow({"section": "total", "key": "claims", "claims": s["claims"],
                    "detail": f"{s['audited']} audited, {s['unreadable']} unreadable"})
        w.writerow({"section": "total", "key": "audited", "claims": s["audited"], "findings": sum(counts.values()),
                    "errors": counts["error"], "warnings": counts["warning"], "info": counts["info"]})
        w.writerow({"section": "total", "key": "unreadable", "claims": s["unreadable"]})
        w.writerow({"section": "total", "key": "with_errors", "claims": s["with_errors"]})
        w.writerow({"section": "total", "key": "clean", "claims": s["clean"]})
        risk = s["wrvu_at_risk"]
        w.writerow({"section": "total", "key": "professional", "claim_type": "professional", "claims": risk["professional_claims"],
                    "wrvu_overcoded": risk["overcoded"], "wrvu_undercoded": risk["undercoded"],
                    "detail": "wRVU: supported minus billed; a code counted once per claim"})
        inst = s["institutional"]
        w.writerow({"section": "total", "key": "institutional", "claim_type": "institutional", "claims": inst["claims"],
                    "lines_with_errors": inst["lines_with_errors"], "units_overbilled": inst["units_overbilled"],
                    "units_underbilled": inst["units_underbilled"], "detail": "work RVUs do not price OPPS: lines and units"})
        for rule, row in self.acc.rules():
            w.writerow({"section": "rule", "key": rule, "claims": row["claims"], "findings": row["findings"],
                        "errors": row["error"], "warnings": row["warning"], "info": row["info"],
                        "wrvu_overcoded": row["wrvu_overcoded"], "wrvu_undercoded": row["wrvu_undercoded"]})
        for c in self.acc.worst():
            w.writerow({"section": "claim", "key": c.claim, "claim_type": c.claim_type, "claims": 1, "findings": c.findings,
                        "errors": c.error, "warnings": c.warning, "info": c.info, "lines_with_errors": c.lines_with_errors,
                        "wrvu_overcoded": c.wrvu_overcoded, "wrvu_undercoded": c.wrvu_undercoded,
                        "units_overbilled": c.units_overbilled, "units_underbilled": c.units_underbilled,
                        "detail": ";".join(c.rules)})
        for e in self.acc.unreadable:
            where = "".join((f"field {e.error.field}" if e.error.field else "",
                             f", line {e.error.line}" if e.error.line else ""))
            w.writerow({"section": "unreadable", "key": e.claim or "", "claims": 1,
                        "detail": f"{where}: {e.error.message}" if where else e.error.message})


class TableWriter(Writer):
    def __init__(self, out: TextIO):
        super().__init__(out)
        from rich.console import Console

        self.console = Console(file=out, width=140, highlight=False, soft_wrap=False)
        self.acc = Summary()

    def write(self, item: AuditResult | AuditError) -> None:
        from rich.markup import escape
        from rich.table import Table

        self.acc.add(item)
        if isinstance(item, AuditError):
            where = f", line {item.error.line}" if item.error.line else ""
            field = f", field {item.error.field}" if item.error.field else ""
            self.console.print(f"[bold red]claim {escape(str(item.claim))}{escape(where + field)}: "
                               f"{escape(item.error.message)}[/]")
            return
        self.console.print(f"[bold]claim {escape(item.claim)}[/] ({item.claim_type}, profile {escape(item.profile)})")
        billed = Table("#", "code", "units", "modifiers", "date", title="billed", title_justify="left")
        for number, line in enumerate(item.billed, start=1):
            billed.add_row(str(number), line.code, str(line.units), " ".join(line.modifiers), line.date or "")
        self.console.print(billed)
        if item.supported is None:
            self.console.print("supported: no documentation on the claim")
        else:
            self.console.print("supported: " + (", ".join(f"{l.code} x{l.units}" + (f" {' '.join(l.modifiers)}" if l.modifiers else "")
                                                          for l in item.supported) or "no lines"))
        if not item.findings:
            self.console.print("[green]no findings[/]\n")
            return
        table = Table("severity", "rule", "lines", "billed vs documented", "message", title="findings", title_justify="left")
        for f in item.findings:
            table.add_row(f"[{_STYLE[f.severity]}]{f.severity}[/]", f.rule, ",".join(map(str, f.lines)),
                          change_words(f), escape(f.message))
        self.console.print(table)
        self.console.print()

    def close(self) -> None:
        from rich.markup import escape
        from rich.table import Table

        s = self.acc.as_dict()
        self.console.print(f"[bold]Summary[/]: {s['claims']} claim(s): {s['audited']} audited, {s['unreadable']} unreadable, "
                           f"{s['with_errors']} with error findings, {s['clean']} without errors or warnings")
        risk, inst = s["wrvu_at_risk"], s["institutional"]
        if risk["professional_claims"]:
            self.console.print(f"wRVU at risk on {risk['professional_claims']} professional claim(s): "
                               f"{abs(risk['overcoded']):.2f} over-coded, {abs(risk['undercoded']):.2f} under-coded")
        if inst["claims"]:
            self.console.print(f"{inst['claims']} institutional claim(s): {inst['lines_with_errors']} line(s) with error findings, "
                               f"{inst['units_overbilled']} administration unit(s) over-billed, "
                               f"{inst['units_underbilled']} under-billed")
        if s["findings_by_rule"]:
            rules = Table("rule", "errors", "warnings", "info", "claims", "wRVU over", "wRVU under",
                          title="findings by rule", title_justify="left")
            for rule, row in s["findings_by_rule"].items():
                rules.add_row(rule, str(row["error"]), str(row["warning"]), str(row["info"]), str(row["claims"]),
                              f"{abs(row['wrvu_overcoded']):.2f}" if row["wrvu_overcoded"] else "",
                              f"{abs(row['wrvu_undercoded']):.2f}" if row["wrvu_undercoded"] else "")
            self.console.print(rules)
        if s["worst_claims"]:
            worst = Table("claim", "type", "errors", "warnings", "wRVU over", "units over", "rules",
                          title=f"worst claims (top {TOP_CLAIMS})", title_justify="left")
            for c in s["worst_claims"]:
                worst.add_row(escape(c["claim"]), c["claim_type"], str(c["error"]), str(c["warning"]),
                              f"{abs(c['wrvu_overcoded']):.2f}" if c["wrvu_overcoded"] else "",
                              str(c["units_overbilled"]) if c["units_overbilled"] else "", ", ".join(c["rules"]))
            self.console.print(worst)


class HtmlWriter(Writer):
    """A self-contained HTML report (inline CSS and SVG, no scripts, no external resources); every value is escaped.
    The summary first (totals, wRVU at risk, institutional lines and units, a chart and a table of findings by
    rule, the worst claims), then every claim, worst first."""

    def close(self) -> None:
        e = html.escape
        acc = Summary()
        for item in self.items:
            acc.add(item)
        s = acc.as_dict()
        anchors = {id(item): f"c{i}" for i, item in enumerate(self.items)}
        by_claim = {item.claim: anchors[id(item)] for item in self.items if isinstance(item, AuditResult)}
        parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>infucode claim audit</title>",
                 f"<style>{CSS}</style></head><body><h1>Claim audit</h1>",
                 (f"<p>{s['claims']} claim(s): {s['audited']} audited, {s['unreadable']} unreadable, "
                  f"{s['with_errors']} with error findings, {s['clean']} without errors or warnings.</p>")]
        risk, inst = s["wrvu_at_risk"], s["institutional"]
        parts.append("<table><tr><th>claims</th><th>measure</th><th class='num'>over-billed</th><th class='num'>under-billed</th></tr>"
                     f"<tr><td>{risk['professional_claims']} professional</td><td>wRVU at risk (a code counted once per claim)</td>"
                     f"<td class='num'>{abs(risk['overcoded']):.2f}</td><td class='num'>{abs(risk['undercoded']):.2f}</td></tr>"
                     f"<tr><td>{inst['claims']} institutional</td><td>administration units ({inst['lines_with_errors']} line(s) "
                     "with error findings; work RVUs do not price OPPS)</td>"
                     f"<td class='num'>{inst['units_overbilled']}</td><td class='num'>{inst['units_underbilled']}</td></tr></table>")
        if s["findings_by_rule"]:
            parts.append("<h2>Findings by rule</h2>")
            parts.append(findings_chart(s["findings_by_rule"]))
            parts.append("<table><tr><th>rule</th><th class='num'>errors</th><th class='num'>warnings</th><th class='num'>info</th>"
                         "<th class='num'>claims</th><th class='num'>wRVU over</th><th class='num'>wRVU under</th></tr>")
            for rule, row in s["findings_by_rule"].items():
                parts.append(f"<tr><td>{e(rule)}</td><td class='num'>{row['error']}</td><td class='num'>{row['warning']}</td>"
                             f"<td class='num'>{row['info']}</td><td class='num'>{row['claims']}</td>"
                             f"<td class='num'>{abs(row['wrvu_overcoded']):.2f}</td><td class='num'>{abs(row['wrvu_undercoded']):.2f}</td></tr>")
            parts.append("</table>")
        if s["worst_claims"]:
            parts.append(f"<h2>Worst claims (top {TOP_CLAIMS})</h2><table><tr><th>claim</th><th>type</th><th class='num'>errors</th>"
                         "<th class='num'>warnings</th><th class='num'>wRVU over</th><th class='num'>units over</th><th>rules</th></tr>")
            for c in s["worst_claims"]:
                parts.append(f"<tr><td><a href='#{by_claim.get(c['claim'], '')}'>{e(c['claim'])}</a></td><td>{e(c['claim_type'])}</td>"
                             f"<td class='num'>{c['error']}</td><td class='num'>{c['warning']}</td>"
                             f"<td class='num'>{abs(c['wrvu_overcoded']):.2f}</td><td class='num'>{c['units_overbilled']}</td>"
                             f"<td>{e(', '.join(c['rules']))}</td></tr>")
            parts.append("</table>")
        parts.append("<h2>Claims</h2>")
        for item in sorted(self.items, key=worst_first):
            anchor = anchors[id(item)]
            if isinstance(item, AuditError):
                parts.append(f"<h3 id='{anchor}'>claim {e(str(item.claim))}</h3><p class='error'>could not be read: field "
                             f"{e(item.error.field or '-')}, line {e(str(item.error.line or '-'))}: {e(item.error.message)}</p>")
                continue
            parts.append(f"<h3 id='{anchor}'>claim {e(item.claim)}</h3><p>{e(item.claim_type)} claim, profile {e(item.profile)}</p>")
            parts.append("<table><tr><th>#</th><th>code</th><th>units</th><th>modifiers</th><th>date</th></tr>")
            for number, line in enumerate(item.billed, start=1):
                parts.append(f"<tr><td>{number}</td><td>{e(line.code)}</td><td>{line.units}</td><td>{e(' '.join(line.modifiers))}</td>"
                             f"<td>{e(line.date or '')}</td></tr>")
            parts.append("</table>")
            sup = ("no documentation on the claim" if item.supported is None
                   else ", ".join(f"{l.code} x{l.units}" + (f" {' '.join(l.modifiers)}" if l.modifiers else "")
                                  for l in item.supported) or "no lines")
            parts.append(f"<p>supported: {e(sup)}</p>")
            if not item.findings:
                parts.append("<p>no findings</p>")
                continue
            parts.append("<table><tr><th>severity</th><th>rule</th><th>lines</th><th>billed vs documented</th><th>message</th><th>source</th></tr>")
            for f in item.findings:
                parts.append(f"<tr><td class='{f.severity}'>{f.severity}</td><td>{e(f.rule)}</td><td>{e(','.join(map(str, f.lines)))}</td>"
                             f"<td>{e(change_words(f))}</td><td>{e(f.message)}</td><td>{e(f.source)}</td></tr>")
            parts.append("</table>")
        parts.append("</body></html>\n")
        self.out.write("\n".join(parts))


WRITERS: dict[str, type[Writer]] = {"table": TableWriter, "json": JsonWriter, "jsonl": JsonLinesWriter, "csv": CsvWriter,
                                     "html": HtmlWriter, "summary-csv": SummaryCsvWriter}


def make_writer(format: str, out: TextIO) -> Writer:
    try:
        return WRITERS[format](out)
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