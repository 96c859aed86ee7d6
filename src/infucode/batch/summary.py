"""The summary of a batch: what a revenue-integrity team reads before opening a million results.

``infucode batch IN OUT --summary FILE`` (``.json``, ``.csv`` or ``.html``): encounters coded and sent to
the errors file; how many carry an error finding (a line denied or withheld until the documentation is
mended: a missing stop time, a stop before the start...), a warning, or neither; per code its lines,
units, encounters and work RVUs; per rule its findings by severity and the encounters they touch.

Each worker adds up the chunks it codes (:func:`contribution` of each encounter); the parent merges the
chunks and takes back the share of an encounter it drops as a duplicate id, so the summary counts what
reached the output, and is the same for any number of workers or chunk size.

Work RVUs are added up for professional claims only: on a facility claim they are shown for reference
and the hospital is paid under OPPS (rule ``limits.wrvu_facility``).
"""
from __future__ import annotations

import csv
import html
import json
from pathlib import Path
from typing import Any

from infucode.adapters.html_report import CSS, SEVERITIES, findings_chart
from infucode.adapters.output_files import AtomicOutputs, OutputWriteError
from infucode.model import Result

from .errors import BatchError

SUMMARY_SUFFIXES = (".json", ".csv", ".html")

# One coded encounter: (claim, ((code, kind, units, wrvu), ...), ((rule, severity), ...))
Contribution = tuple[str, tuple[tuple[str, str, int, float], ...], tuple[tuple[str, str], ...]]


def contribution(result: Result) -> Contribution:
    """What one coded encounter adds to the summary (small, so it travels from a worker cheaply)."""
    return (result.claim,
            tuple((line.code, line.kind, line.units, line.wrvu) for line in result.lines),
            tuple((f.rule, f.severity) for f in result.findings))


class CodingSummary:
    """Counts over the coded encounters of one batch (add them in any order: the output is sorted)."""

    def __init__(self) -> None:
        self.coded = 0
        self.failed = 0
        self.with_errors = 0
        self.with_warnings = 0
        self.claims: dict[str, int] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, dict[str, int]] = {}

    def add(self, share: Contribution, sign: int = 1) -> None:
        """Count one coded encounter (``sign=-1``: take it back, e.g. a duplicate id dropped from the output)."""
        claim, lines, findings = share
        self.coded += sign
        self.claims[claim] = self.claims.get(claim, 0) + sign
        professional = claim == "professional"
        for code in {line[0] for line in lines}:
            self._code(code)["encounters"] += sign
        for code, kind, units, wrvu in lines:
            row = self._code(code)
            row["kind"] = kind
            row["lines"] += sign
            row["units"] += sign * units
            if professional:  # in hundredths (a line's wRVU has two decimals): sums exact in any order
                row["wrvu"] += sign * round(wrvu * 100)
        severities = set()
        for rule, severity in findings:
            row = self._rule(rule)
            row[severity] += sign
            row["findings"] += sign
            severities.add(severity)
        for rule in {f[0] for f in findings}:
            self.rules[rule]["encounters"] += sign
        if "error" in severities:
            self.with_errors += sign
        elif "warning" in severities:
            self.with_warnings += sign

    def merge(self, other: "CodingSummary") -> None:
        """Add another summary's counts (a worker's chunk) to these."""
        self.coded += other.coded
        self.failed += other.failed
        self.with_errors += other.with_errors
        self.with_warnings += other.with_warnings
        for claim, n in other.claims.items():
            self.claims[claim] = self.claims.get(claim, 0) + n
        for code, theirs in other.codes.items():
            row = self._code(code)
            row["kind"] = theirs["kind"] or row["kind"]
            for key in ("lines", "units", "encounters", "wrvu"):
                row[key] += theirs[key]
        for rule, theirs in other.rules.items():
            row = self._rule(rule)
            for key, n in theirs.items():
                row[key] += n

    def _rule(self, rule: str) -> dict[str, int]:
        row = self.rules.get(rule)
        if row is None:
            row = self.rules[rule] = {"error": 0, "warning": 0, "info": 0, "findings": 0, "encounters": 0}
        return row

    def _code(self, code: str) -> dict[str, Any]:
        row = self.codes.get(code)
        if row is None:
            row = self.codes[code] = {"kind": "", "lines": 0, "units": 0, "encounters": 0, "wrvu": 0}
        return row

    def as_dict(self) -> dict[str, Any]:
        # rows are in a fixed order, and rows emptied by a taken-back duplicate are left out
        codes = {code: {**row, "wrvu": row["wrvu"] / 100} for code, row in sorted(
            self.codes.items(), key=lambda kv: (kv[1]["kind"] != "administration", kv[0])) if row["lines"]}
        rules = dict(sorted(((rule, row) for rule, row in self.rules.items() if row["findings"]),
                            key=lambda kv: (-kv[1]["error"], -kv[1]["warning"], -kv[1]["findings"], kv[0])))
        claims = {claim: n for claim, n in sorted(self.claims.items()) if n}
        return {
            "encounters": {
                "read": self.coded + self.failed,
                "coded": self.coded,
                "errors_file": self.failed,
                "with_error_findings": self.with_errors,
                "with_warnings_only": self.with_warnings,
                "without_errors_or_warnings": self.coded - self.with_errors - self.with_warnings,
            },
            "claims": claims,
            "lines": sum(row["lines"] for row in codes.values()),
            "wrvu_professional": sum(row["wrvu"] for row in self.codes.values()) / 100,
            "codes": codes,
            "findings_by_rule": rules,
        }


def check_summary_path(path: str | Path) -> Path:
    """The summary file's path; BatchError for an extension that is not .json, .csv or .html."""
    p = Path(path)
    if p.suffix.lower() not in SUMMARY_SUFFIXES:
        raise BatchError(f"cannot tell the summary format of {p} from its extension '{p.suffix or '(none)'}'; "
                         f"use {', '.join(SUMMARY_SUFFIXES)}")
    return p


def write_summary_output(files: AtomicOutputs, summary_path: str | Path, summary: CodingSummary, *, source: str,
                         errors_file: str | None) -> None:
    """Write ``--summary`` to its temporary file beside ``summary_path`` (renamed with the other outputs);
    a write that fails is an :class:`OutputWriteError` naming the summary path. Local batch and Spark alike."""
    try:
        write_summary(files.temp(summary_path), summary, source=source, errors_file=errors_file, final=summary_path)
    except OSError as exc:
        raise OutputWriteError(f"cannot write {summary_path}: {exc.strerror or type(exc).__name__}") from None


def write_summary(path: str | Path, summary: CodingSummary, *, source: str = "", errors_file: str | None = None,
                  final: str | Path | None = None) -> None:
    """Write the summary as JSON, CSV (one table: totals, codes, rules) or a self-contained HTML page,
    chosen by the extension of ``final`` (the path it will be renamed to, when ``path`` is a temporary
    file), else of ``path``."""
    p = Path(path)
    data = summary.as_dict()
    suffix = check_summary_path(final if final is not None else path).suffix.lower()
    if suffix == ".json":
        p.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    elif suffix == ".csv":
        with open(p, "w", encoding="utf-8", newline="") as fh:
            _write_csv(fh, data)
    else:
        p.write_text(_html(data, source, errors_file), encoding="utf-8")


_CSV_COLUMNS = ("section", "name", "kind", "encounters", "lines", "units", "wrvu", "error", "warning", "info", "findings")


def _write_csv(fh: Any, data: dict[str, Any]) -> None:
    out = csv.writer(fh, lineterminator="\n")
    out.writerow(_CSV_COLUMNS)
    for name, value in data["encounters"].items():
        out.writerow(("encounters", name, "", value, "", "", "", "", "", "", ""))
    for claim, n in data["claims"].items():
        out.writerow(("claims", claim, "", n, "", "", "", "", "", "", ""))
    out.writerow(("total", "lines", "", "", data["lines"], "", data["wrvu_professional"], "", "", "", ""))
    for code, row in data["codes"].items():
        out.writerow(("code", code, row["kind"], row["encounters"], row["lines"], row["units"], row["wrvu"], "", "", "", ""))
    for rule, row in data["findings_by_rule"].items():
        out.writerow(("rule", rule, "", row["encounters"], "", "", "", row["error"], row["warning"], row["info"], row["findings"]))


def _html(data: dict[str, Any], source: str, errors_file: str | None) -> str:
    e = html.escape
    enc = data["encounters"]
    claims = ", ".join(f"{n:,} {e(claim)}" for claim, n in data["claims"].items()) or "none"
    parts = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>infucode batch summary</title>",
             f"<style>{CSS}</style></head><body><h1>Batch summary{': ' + e(source) if source else ''}</h1>",
             f"<p>{enc['read']:,} encounter(s) read: {enc['coded']:,} coded ({claims} claim(s)), {enc['errors_file']:,} in the "
             f"errors file{' (' + e(errors_file) + ')' if errors_file and enc['errors_file'] else ''}.</p>",
             f"<p><span class='error'>{enc['with_error_findings']:,} with error findings</span> (a line denied or withheld "
             f"until the documentation is mended), <span class='warning'>{enc['with_warnings_only']:,} with warnings only"
             f"</span>, {enc['without_errors_or_warnings']:,} without errors or warnings.</p>"]
    parts.append(f"<h2>Codes</h2><p>{data['lines']:,} charge line(s); work RVUs on professional claims: "
                 f"{data['wrvu_professional']:,.2f} (a facility claim is paid under OPPS).</p>")
    parts.append("<table><tr><th>code</th><th>kind</th><th class='num'>encounters</th><th class='num'>lines</th>"
                 "<th class='num'>units</th><th class='num'>wRVU (professional)</th></tr>")
    for code, row in data["codes"].items():
        parts.append(f"<tr><td>{e(code)}</td><td>{e(row['kind'])}</td><td class='num'>{row['encounters']:,}</td>"
                     f"<td class='num'>{row['lines']:,}</td><td class='num'>{row['units']:,}</td><td class='num'>{row['wrvu']:,.2f}</td></tr>")
    parts.append("</table>")
    if data["findings_by_rule"]:
        parts.append("<h2>Findings by rule</h2>")
        parts.append(findings_chart(data["findings_by_rule"]))
        parts.append("<table><tr><th>rule</th>" + "".join(f"<th class='num'>{s}</th>" for s in SEVERITIES)
                     + "<th class='num'>encounters</th></tr>")
        for rule, row in data["findings_by_rule"].items():
            parts.append(f"<tr><td>{e(rule)}</td>" + "".join(f"<td class='num'>{row[s]:,}</td>" for s in SEVERITIES)
                         + f"<td class='num'>{row['encounters']:,}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
