"""Pieces of the self-contained HTML reports (the claim audit's, the batch summary's): one style sheet and an
inline SVG chart of findings by rule. No script, no external resource; every text is escaped."""
from __future__ import annotations

import html
from typing import Any

SEVERITIES = ("error", "warning", "info")

CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}.error{color:#b00020;font-weight:bold}
.warning{color:#a15c00}.info{color:#036}h2{margin-top:2em}.num{text-align:right}svg text{font:12px system-ui,sans-serif}"""
BAR_COLOURS = {"error": "#c62828", "warning": "#f0a020", "info": "#5b8fd6"}


def findings_chart(by_rule: dict[str, dict[str, Any]]) -> str:
    """An inline SVG bar chart of findings by rule, stacked by severity (no script, no external resource)."""
    e = html.escape
    label_w, bar_w, row_h = 260, 420, 22
    top = max((row["findings"] for row in by_rule.values()), default=0) or 1
    height = row_h * len(by_rule) + 34
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' role='img' width='{label_w + bar_w + 60}' height='{height}' "
             f"aria-labelledby='chart-title'><title id='chart-title'>Findings by rule, stacked by severity</title>"]
    for i, (rule, row) in enumerate(by_rule.items()):
        y = i * row_h + 4
        parts.append(f"<text x='{label_w - 6}' y='{y + 14}' text-anchor='end'>{e(rule)}</text>")
        x = float(label_w)
        for sev in SEVERITIES:
            if not row[sev]:
                continue
            w = bar_w * row[sev] / top
            parts.append(f"<rect x='{x:.1f}' y='{y}' width='{w:.1f}' height='{row_h - 6}' fill='{BAR_COLOURS[sev]}'>"
                         f"<title>{e(rule)}: {row[sev]} {sev}</title></rect>")
            x += w
        parts.append(f"<text x='{x + 4:.1f}' y='{y + 14}'>{row['findings']}</text>")
    y = len(by_rule) * row_h + 12
    for k, sev in enumerate(SEVERITIES):
        x = label_w + k * 110
        parts.append(f"<rect x='{x}' y='{y}' width='12' height='12' fill='{BAR_COLOURS[sev]}'/>"
                     f"<text x='{x + 16}' y='{y + 11}'>{sev}</text>")
    parts.append("</svg>")
    return "".join(parts)
