"""Reading claims (JSON, JSON Lines, YAML, CSV, X12 837) and writing audit results (table, json, jsonl, csv,
html, summary-csv).

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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import msgspec

from infucode.adapters.yaml_documents import iter_yaml_documents
from infucode.adapters.input_limits import (
    MAX_DOCUMENT_BYTES,
    MAX_YAML_BYTES,
    decode_json_document,
    json_line_values,
    read_limited,
    read_lines,
)
from infucode.adapters.html_report import CSS, findings_chart
from infucode.model import InputError

from .engine import audit_claim
from .model import AuditError, AuditFinding, AuditResult, Claim, decode_claim, error_result, units_from_text

__all__ = ["FORMATS", "Summary", "audit_stream", "claims_of_json_lines", "iter_claims", "make_writer", "read_csv_claims",
           "render", "summary"]

FORMATS = ("table", "json", "jsonl", "csv", "html", "summary-csv")
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
    if suffix not in (".x12", ".837", ".edi", ".csv", ".jsonl", ".ndjson", ".json", ".yaml", ".yml"):
        yield InputError(None, f"unsupported file type {suffix or '(none)'}: use .json, .jsonl, .yaml, .csv or .x12 (837P/837I)"), None
        return
    try:
        if suffix in (".x12", ".837", ".edi"):
            from .x12 import read_837
            yield from read_837(p)
            return
        if suffix == ".csv":
            if p.stat().st_size > MAX_DOCUMENT_BYTES:
                raise InputError(None, f"file is larger than the limit of {MAX_DOCUMENT_BYTES:,} bytes for a CSV of claims; "
                                       "split it")
            with p.open(encoding="utf-8-sig", newline="") as fh:
                yield from read_csv_claims(fh, name=p.name)
            return
        if suffix in (".jsonl", ".ndjson"):
            with p.open("rb") as fh:
                yield from _iter_jsonl(fh, p)
            return
        data = read_limited(p, MAX_YAML_BYTES if suffix in (".yaml", ".yml") else MAX_DOCUMENT_BYTES)
    except FileNotFoundError:
        yield InputError(None, f"file not found: {p}"), None
        return
    except InputError as err:
        err.message = f"{p}: {err.message}"
        yield err, None
        return
    except (OSError, UnicodeDecodeError) as exc:
        yield InputError(None, f"cannot read {p}: {type(exc).__name__}"), None
        return
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        yield InputError(None, f"file is empty: {p}"), None
    elif suffix == ".json":
        yield from _iter_json(data)
    else:
        yield from _iter_yaml(data)


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
        obj = decode_json_document(data)
    except InputError as err:
        yield err, err.line
        return
    yield from _decode_value(obj, None)


def _iter_jsonl(fh: Any, p: Path) -> Iterator[Item]:
    """The JSON Lines reader ``infucode code`` uses (BOM, line size and nesting limits), claim by claim."""
    empty = True
    for item in claims_of_json_lines(read_lines(fh)):
        empty = False
        yield item
    if empty:
        yield InputError(None, f"file is empty: {p}"), None


def claims_of_json_lines(lines: Iterable[tuple[int, bytes | None]]) -> Iterator[Item]:
    """Claims of JSON Lines already read (``(line number, bytes or None)``, see ``input_limits.read_lines``),
    one per non-blank line: what a worker process of ``infucode audit`` reads from its chunk of a file."""
    for number, value in json_line_values(lines):
        if isinstance(value, InputError):
            yield value, number
            continue
        yield _decode(value, number)


def _iter_yaml(data: bytes) -> Iterator[Item]:
    for document in iter_yaml_documents(data):
        if isinstance(document, InputError):
            yield document, document.line
            return
        yield from _decode_value(*document)


def read_csv_claims(fh: TextIO, name: str | None = None) -> Iterator[Item]:
    """One billed line per row, grouped into claims by ``claim_id`` (first-appearance order).

    A missing required column stops the file with one error naming the column(s) and the file; a row the
    CSV parser cannot read, or a row with more fields than the header, is an error for that row's claim."""
    what = f"CSV file {name}" if name else "CSV file"
    reader = csv.DictReader(fh)
    try:
        header = [(h or "").strip() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        yield InputError(None, f"{what}: the header row cannot be read ({exc})", line=1), 1
        return
    if not header:
        yield InputError(None, f"{what} is empty: expected a header row with {', '.join(CSV_REQUIRED)}", line=1), 1
        return
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        unknown = [h for h in header if h and h not in CSV_REQUIRED + CSV_OPTIONAL]
        hint = f"; unknown column(s): {', '.join(h[:40] for h in unknown[:5])}" if unknown else ""
        yield InputError(missing[0], f"{what} is missing column(s) {', '.join(missing)} "
                                     f"(required: {', '.join(CSV_REQUIRED)}){hint}; no claim in it was audited", line=1), 1
        return
    reader.fieldnames = header
    claims: dict[str, dict[str, Any]] = {}
    rows_of: dict[str, list[int]] = {}
    problems: dict[str, InputError] = {}
    rows = iter(reader)
    previous: str | None = None   # the claim of the row before
    after_bad: int | None = None  # line of an unreadable row just before this one
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:  # a cell over the csv module's size limit: that row only, reading goes on
            bad = reader.reader.line_num
            yield InputError(None, f"{what}: row cannot be read ({exc})", line=bad), bad
            if previous:
                _suspect(previous, bad, claims, rows_of, problems)
            after_bad = bad
            continue
        line = reader.line_num
        cid = (row.get("claim_id") or "").strip()
        if after_bad is not None and cid:
            _suspect(cid, after_bad, claims, rows_of, problems)
        after_bad, previous = None, cid or previous
        if None in row:   # more fields than the header: a shifted or unquoted value; never guess which
            err = InputError(None, f"row has more fields than the header ({len(header)} columns); quote values "
                                   "that contain commas", encounter=cid or None, line=line)
            if cid and cid not in problems:
                problems[cid] = err
                claims.setdefault(cid, {"id": cid, "lines": []})
                rows_of.setdefault(cid, []).append(line)
            elif not cid:
                yield err, line
            continue
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
        billed: dict[str, Any] = {"code": (row.get("code") or "").strip(), "units": units_from_text(row.get("units") or "")}
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


def _suspect(cid: str, bad: int, claims: dict, rows_of: dict, problems: dict) -> None:
    """The claim of the rows beside an unreadable row is not audited: the row may be one of its billed
    lines, and a claim audited without it would get wrong findings."""
    if cid not in problems:
        problems[cid] = InputError(None, f"not audited: the unreadable row at line {bad} may be one of its lines",
                                   encounter=cid, line=bad)
    claims.setdefault(cid, {"id": cid, "lines": []})
    rows_of.setdefault(cid, [])


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
SUMMARY_COLUMNS = ("section", "key", "claim_type", "claims", "findings", "errors", "warnings", "info", "lines_with_errors",
                   "wrvu_overcoded", "wrvu_undercoded", "units_overbilled", "units_underbilled", "detail")
_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_SEVERITIES = ("error", "warning", "info")
#: Claims listed worst first in the table and HTML summaries (the summary CSV lists every claim).
TOP_CLAIMS = 10


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


def _deduplicated(findings: Iterable[AuditFinding], attr: str) -> tuple[float, float]:
    """(over, under) of one claim: the negative and positive sums of ``attr`` (wrvu_delta or unit_delta).

    Several rules may report the same over-billed units of one code (e.g. audit.mue and
    audit.units_unsupported on 96366): per code, each rule's findings are summed and the largest of those
    sums is kept, so a code counts once per claim. Findings without a code are summed as they are."""
    per_code: dict[tuple[str, bool], dict[str, float]] = {}
    over = under = 0.0
    for f in findings:
        value = getattr(f, attr)
        if not value:
            continue
        if not f.code:
            over, under = (over + value, under) if value < 0 else (over, under + value)
            continue
        rules = per_code.setdefault((f.code, value < 0), {})
        rules[f.rule] = rules.get(f.rule, 0.0) + value
    for (_, negative), rules in per_code.items():
        if negative:
            over += min(rules.values())
        else:
            under += max(rules.values())
    return round(over, 2), round(under, 2)


@dataclass
class ClaimSummary:
    claim: str
    claim_type: str
    findings: int
    error: int
    warning: int
    info: int
    lines_with_errors: int
    wrvu_overcoded: float
    wrvu_undercoded: float
    units_overbilled: int
    units_underbilled: int
    rules: list[str]

    @classmethod
    def of(cls, r: AuditResult) -> "ClaimSummary":
        count = Counter(f.severity for f in r.findings)
        wrvu_over, wrvu_under = _deduplicated(r.findings, "wrvu_delta")
        units_over, units_under = _deduplicated(r.findings, "unit_delta")
        rules = [rule for rule, _ in Counter(f.rule for f in r.findings if f.severity != "info").most_common()]
        return cls(claim=r.claim, claim_type=r.claim_type, findings=len(r.findings), error=count["error"],
                   warning=count["warning"], info=count["info"],
                   lines_with_errors=len({i for f in r.findings if f.severity == "error" for i in f.lines}),
                   wrvu_overcoded=wrvu_over, wrvu_undercoded=wrvu_under,
                   units_overbilled=int(-units_over), units_underbilled=int(units_under), rules=rules)

    @property
    def rank(self) -> tuple:
        """Worst first: claims with error findings, by wRVU over-coded (professional) or units over-billed
        (institutional), then by the number of errors and warnings."""
        return (not self.error, self.wrvu_overcoded, -self.units_overbilled, -self.error, -self.warning, -self.findings,
                self.claim)


class Summary:
    """The batch summary, accumulated claim by claim (the claims themselves are not kept).

    ``as_dict()``: claims read, audited, unreadable, with error findings, clean (no error or warning
    finding); findings by rule (count by
    severity, claims, wRVU); wRVU at risk on professional claims (over-coded = the negative deltas,
    under-coded = the positive ones, a code counted once per claim, see :func:`_deduplicated`);
    institutional claims in lines and units instead (work RVUs do not price OPPS); the claims worst first;
    the unreadable claims with their error."""

    def __init__(self) -> None:
        self.claims: list[ClaimSummary] = []
        self.unreadable: list[AuditError] = []
        self.by_rule: dict[str, dict[str, Any]] = {}

    def add(self, item: AuditResult | AuditError) -> None:
        if isinstance(item, AuditError):
            self.unreadable.append(item)
            return
        self.claims.append(ClaimSummary.of(item))
        seen: set[str] = set()
        for f in item.findings:
            row = self.by_rule.setdefault(f.rule, {"findings": 0, "error": 0, "warning": 0, "info": 0, "claims": 0,
                                                   "wrvu_overcoded": 0.0, "wrvu_undercoded": 0.0})
            row["findings"] += 1
            row[f.severity] += 1
            if f.wrvu_delta < 0:
                row["wrvu_overcoded"] = round(row["wrvu_overcoded"] + f.wrvu_delta, 2)
            elif f.wrvu_delta > 0:
                row["wrvu_undercoded"] = round(row["wrvu_undercoded"] + f.wrvu_delta, 2)
            if f.rule not in seen:
                seen.add(f.rule)
                row["claims"] += 1

    def rules(self) -> list[tuple[str, dict[str, Any]]]:
        return sorted(self.by_rule.items(), key=lambda kv: (-kv[1]["error"], -kv[1]["warning"], -kv[1]["findings"], kv[0]))

    def worst(self, top: int | None = None) -> list[ClaimSummary]:
        ranked = sorted((c for c in self.claims if c.error or c.warning), key=lambda c: c.rank)
        return ranked if top is None else ranked[:top]

    def as_dict(self, top: int | None = TOP_CLAIMS) -> dict[str, Any]:
        prof = [c for c in self.claims if c.claim_type == "professional"]
        inst = [c for c in self.claims if c.claim_type == "institutional"]
        severity = Counter()
        for row in self.by_rule.values():
            for s in _SEVERITIES:
                severity[s] += row[s]
        return {
            "claims": len(self.claims) + len(self.unreadable),
            "audited": len(self.claims),
            "unreadable": len(self.unreadable),
            "with_errors": sum(1 for c in self.claims if c.error),
            "clean": sum(1 for c in self.claims if not c.error and not c.warning),   # info findings at most
            "findings": {s: severity[s] for s in _SEVERITIES},
            "findings_by_rule": dict(self.rules()),
            "wrvu_at_risk": {
                "professional_claims": len(prof),
                "overcoded": round(sum(c.wrvu_overcoded for c in prof), 2),
                "undercoded": round(sum(c.wrvu_undercoded for c in prof), 2),
            },
            "institutional": {
                "claims": len(inst),
                "lines_with_errors": sum(c.lines_with_errors for c in inst),
                "units_overbilled": sum(c.units_overbilled for c in inst),
                "units_underbilled": sum(c.units_underbilled for c in inst),
            },
            "worst_claims": [asdict(c) for c in self.worst(top)],
            "unreadable_claims": [{"claim": e.claim, "field": e.error.field, "line": e.error.line, "message": e.error.message}
                                  for e in self.unreadable],
        }


def summary(items: Iterable[AuditResult | AuditError], top: int | None = TOP_CLAIMS) -> dict[str, Any]:
    """The batch summary of audited items (see :class:`Summary`)."""
    acc = Summary()
    for item in items:
        acc.add(item)
    return acc.as_dict(top)


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


class SummaryCsvWriter(_Writer):
    """The batch summary as one CSV (``--format summary-csv``): a ``section`` column says what a row is.

    total: claims / audited / unreadable / with_errors / clean / professional / institutional;
    rule: one row per rule (most errors first); claim: every claim with findings, worst first;
    unreadable: one row per claim that could not be read (field, line and message in ``detail``)."""

    def __init__(self, out: TextIO):
        super().__init__(out)
        self.acc = Summary()

    def write(self, item: AuditResult | AuditError) -> None:
        self.acc.add(item)

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


class TableWriter(_Writer):
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


class HtmlWriter(_Writer):
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
        for item in sorted(self.items, key=_worst_first):
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


def _worst_first(item: AuditResult | AuditError) -> tuple:
    if isinstance(item, AuditError):
        return (0,)
    return (1, *ClaimSummary.of(item).rank)


WRITERS: dict[str, type[_Writer]] = {"table": TableWriter, "json": JsonWriter, "jsonl": JsonLinesWriter, "csv": CsvWriter,
                                     "html": HtmlWriter, "summary-csv": SummaryCsvWriter}


def make_writer(format: str, out: TextIO) -> _Writer:
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
