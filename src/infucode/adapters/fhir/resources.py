"""FHIR input as resources: a Bundle (JSON), an NDJSON file, a list of resources or one resource, flattened
into ``(label, resource dict)`` in input order, with a finding for what cannot be read."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .findings import FhirFinding

def looks_like_fhir(obj: Any) -> bool:
    """True for a FHIR Bundle or resource (an object with ``resourceType``), or a list of them."""
    if isinstance(obj, dict):
        return isinstance(obj.get("resourceType"), str)
    if isinstance(obj, list) and obj:
        return all(isinstance(o, dict) and isinstance(o.get("resourceType"), str) for o in obj)
    return False


def load_resources(source: Any) -> tuple[list[tuple[str, Any]], list[FhirFinding]]:
    """``[(label, resource dict)]`` in input order, with findings for what could not be read."""
    findings: list[FhirFinding] = []
    if isinstance(source, (str, Path)):
        p = Path(source)
        try:
            data = p.read_bytes()
        except OSError as exc:
            return [], [FhirFinding(str(p), "error", "fhir.file", f"cannot read the file: {exc.strerror or type(exc).__name__}")]
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        if p.suffix.lower() in (".ndjson", ".jsonl"):
            items: list[tuple[str, Any]] = []
            for n, raw in enumerate(data.splitlines(), start=1):
                if not raw.strip():
                    continue
                try:
                    items.append((f"line {n}", json.loads(raw)))
                except (ValueError, UnicodeDecodeError):
                    findings.append(FhirFinding(f"line {n}", "error", "fhir.json", "not valid JSON"))
            source = items
        else:
            try:
                source = json.loads(data)
            except (ValueError, UnicodeDecodeError):
                return [], [FhirFinding(str(p), "error", "fhir.json", "not valid JSON")]
    elif isinstance(source, (bytes, bytearray)):
        try:
            source = json.loads(source)
        except (ValueError, UnicodeDecodeError):
            return [], [FhirFinding("input", "error", "fhir.json", "not valid JSON")]

    out: list[tuple[str, Any]] = []

    def add(label: str, obj: Any) -> None:
        if isinstance(obj, dict) and obj.get("resourceType") == "Bundle":
            entries = obj.get("entry") or []
            if not isinstance(entries, list):
                findings.append(FhirFinding(label, "error", "fhir.invalid", "Bundle.entry is not a list"))
                return
            for i, entry in enumerate(entries):
                where = f"{label}.entry[{i}]" if label else f"entry[{i}]"
                res = entry.get("resource") if isinstance(entry, dict) else None
                if not isinstance(res, dict):
                    findings.append(FhirFinding(where, "error", "fhir.invalid", "bundle entry without a resource"))
                    continue
                out.append((where, {**res, "__fullUrl": entry.get("fullUrl")}))
            return
        if isinstance(obj, dict) and isinstance(obj.get("resourceType"), str):
            out.append((label or "resource", obj))
            return
        findings.append(FhirFinding(label or "input", "error", "fhir.invalid", "not a FHIR resource (no resourceType)"))

    if isinstance(source, list):
        for i, item in enumerate(source):
            if isinstance(item, tuple):
                add(*item)
            else:
                add(f"[{i}]", item)
    else:
        add("", source)
    return out, findings


def resource_label(rtype: str, rid: Any, where: str) -> str:
    return f"{rtype}/{rid}" if isinstance(rid, str) and rid else f"{rtype} at {where}"


def validation_message(exc: Exception) -> str:
    """A pydantic error without the input values (they can be patient data)."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return "invalid resource"
    parts = []
    for err in errors()[:3]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "__root__")
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    more = len(errors()) - 3
    return "invalid per FHIR R4: " + "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
