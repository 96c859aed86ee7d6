"""The coder's workbench: a versioned JSON API and a web page, served by one ASGI app (FastAPI).

Errors are RFC 9457 problem details naming the field. Optional bearer-token auth (INFUCODE_TOKEN or a
token file); request bodies are size-limited; nothing about a patient is logged.
"""
from __future__ import annotations

import hmac
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec
import yaml
from fastapi import Body, FastAPI, File, Path as PathParam, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..engine import code_encounter
from ..model import Encounter, ErrorResult, InputError
from ..ruleset import load_ruleset
from .store import CaseStore

MAX_BODY_BYTES = 2 * 1024 * 1024          # one encounter or a case
MAX_BATCH_BODY_BYTES = 20 * 1024 * 1024   # a batch or an uploaded file
MAX_BATCH_ENCOUNTERS = 5000
CASE_ID = PathParam(..., ge=1, le=2**62, description="Saved case id")
STATIC = Path(str(resources.files("infucode.web").joinpath("static")))


def problem(status: int, title: str, detail: str, **extra) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _input_problem(exc: InputError) -> JSONResponse:
    return problem(422, "Encounter could not be read", exc.message, field=exc.field, encounter=exc.encounter)


def _encode(obj) -> Response:
    return Response(msgspec.json.encode(obj), media_type="application/json")


def create_app(*, db_url: str | None = None, token: str | None = None, releases: Any | None = None) -> FastAPI:
    """The API and page. ``releases``: the imported CMS files (``reference.releases.ReleaseStore``) that
    coding and the audit use by date of service; None: the bundled tables (every result says which)."""
    app = FastAPI(title="infucode", version=__version__,
                  description="CPT drug-administration coding (96360-96549) with the rule and source behind every line.")
    rulesets: dict[str, Any] = {}
    store = CaseStore(db_url or os.environ.get("INFUCODE_DB", "sqlite:///infucode-cases.db"))

    def ruleset(profile: str):
        if profile not in rulesets:
            rulesets[profile] = load_ruleset(profile).with_releases(releases)
        return rulesets[profile]

    @app.middleware("http")
    async def guard(request: Request, call_next):
        path = request.url.path
        if token and path.startswith("/v1/"):
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return problem(401, "Unauthorized", "a bearer token is required")
        limit = MAX_BATCH_BODY_BYTES if path in ("/v1/code/batch", "/v1/files/parse") else MAX_BODY_BYTES
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            return problem(413, "Request too large", f"the body is over {limit} bytes")
        return await call_next(request)

    @app.exception_handler(InputError)
    async def on_input_error(_request, exc: InputError):
        return _input_problem(exc)

    @app.exception_handler(KeyError)
    async def on_key_error(_request, exc: KeyError):
        return problem(400, "Unknown name", str(exc).strip('"'))

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "version": __version__}

    @app.get("/v1/schema")
    def schema():
        return msgspec.json.schema(Encounter)

    @app.post("/v1/code")
    def code(encounter: dict = Body(..., description="One encounter in the engine's input format"),
             profile: str = "medicare"):
        return _encode(code_encounter(encounter, ruleset(profile)))

    @app.post("/v1/code/batch")
    def code_batch(encounters: list[dict] = Body(..., description="Encounters in the engine's input format"),
                   profile: str = "medicare"):
        if len(encounters) > MAX_BATCH_ENCOUNTERS:
            return problem(413, "Batch too large", f"at most {MAX_BATCH_ENCOUNTERS} encounters per request")
        rs = ruleset(profile)
        out = []
        for i, enc in enumerate(encounters):
            try:
                out.append(code_encounter(enc, rs))
            except InputError as exc:
                exc.line = i
                out.append(exc.to_result())
        return _encode(out)

    @app.post("/v1/audit")
    def audit(claim: dict = Body(..., description="One claim in the audit's format (billed lines, optional encounter)"),
              profile: str = "medicare"):
        from ..audit import audit_claim
        return _encode(audit_claim(claim, ruleset(profile)))

    @app.get("/v1/codes/{code}")
    def code_reference(code: str, profile: str = "medicare", scenarios: bool = True, date: str | None = None):
        """The code reference (our own words): family, add-on rules, time rule, wRVU, MUE/MAI, related codes,
        documentation, denials and worked scenarios coded live by the engine. ``date`` (YYYY-MM-DD, default
        today): the imported CMS files in force then give the MUE and wRVU."""
        from datetime import date as calendar_date

        from ..knowledge.lookup import UnknownCode, lookup
        try:
            day = calendar_date.fromisoformat(date).isoformat() if date else calendar_date.today().isoformat()
        except ValueError:
            return problem(422, "Bad date", "date must be YYYY-MM-DD", field="date")
        try:
            return _encode(lookup(code, ruleset(profile).for_date(day), with_scenarios=scenarios))
        except UnknownCode:
            return problem(404, "Unknown code", "not a drug-administration code infucode knows (96360-96549)",
                           field="code")

    @app.get("/v1/search")
    def search_codes(q: str, limit: int = 10):
        from dataclasses import asdict

        from ..knowledge.search import search
        return [asdict(h) for h in search(q[:400], ruleset("medicare"), limit=max(1, min(limit, 50)))]

    @app.post("/v1/ask")
    def ask_question(body: dict = Body(..., examples=[{"question": "96366 vs 96367?"}]), profile: str = "medicare"):
        from ..knowledge.ask import ask
        question = body.get("question")
        if not isinstance(question, str) or not question.strip():
            raise InputError("question", "ask a question in words")
        return ask(question[:2000], ruleset(profile)).to_dict()

    @app.get("/v1/profiles")
    def profiles():
        return ruleset("medicare").policy_table()

    @app.post("/v1/files/parse")
    async def parse_file(file: UploadFile = File(...)):
        """An uploaded JSON, JSON Lines or YAML file -> encounters (as JSON) for the form."""
        data = await file.read(MAX_BATCH_BODY_BYTES + 1)
        if len(data) > MAX_BATCH_BODY_BYTES:
            return problem(413, "File too large", f"the file is over {MAX_BATCH_BODY_BYTES} bytes")
        if not data.strip():
            return problem(422, "Empty file", "the file is empty", field="file")
        from ..adapters.encounter_io import EncounterYamlLoader
        name = (file.filename or "").lower()
        try:
            if name.endswith(".csv"):
                from ..adapters.flat import encounters_from_csv
                parsed = encounters_from_csv(data.decode("utf-8-sig"))
                bad = [p for p in parsed if isinstance(p, InputError)]
                if bad:
                    return problem(422, "File could not be read", bad[0].message, field=bad[0].field,
                                   encounter=bad[0].encounter, line=bad[0].line)
                return {"encounters": [msgspec.to_builtins(p) for p in parsed]}
            if name.endswith((".jsonl", ".ndjson")):
                docs = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
            elif name.endswith(".json"):
                doc = json.loads(data)
                from ..adapters.fhir import encounters_from_fhir_json, looks_like_fhir
                if looks_like_fhir(doc):  # a FHIR R4 Bundle of MedicationAdministration
                    items = list(encounters_from_fhir_json(doc))
                    bad = [i for i in items if isinstance(i, InputError)]
                    good = [msgspec.to_builtins(i) for i in items if not isinstance(i, InputError)]
                    if not good and bad:
                        return problem(422, "File could not be read", bad[0].message, field=bad[0].field,
                                       encounter=bad[0].encounter)
                    return {"encounters": good, "warnings": [{"field": b.field, "detail": b.message} for b in bad]}
                docs = doc if isinstance(doc, list) else [doc]
            else:
                docs = [d for d in yaml.load_all(data.decode(), Loader=EncounterYamlLoader) if d is not None]
                docs = [x for d in docs for x in (d if isinstance(d, list) else [d])]
        except (ValueError, yaml.YAMLError):
            return problem(422, "File could not be read", "not valid JSON, JSON Lines or YAML", field="file")
        return {"encounters": docs}

    # --- saved cases --------------------------------------------------------------------------
    def _case_body(body: dict, rs_profile: str):
        encounter = body.get("encounter")
        if not isinstance(encounter, dict):
            raise InputError("encounter", "a case needs its encounter")
        author = str(body.get("author") or "").strip()
        if not author:
            raise InputError("author", "say who decided (the coder's name or id)")
        result = msgspec.to_builtins(code_encounter(encounter, ruleset(rs_profile)))
        decision = body.get("decision") or {"accepted": list(range(len(result["lines"]))), "overrides": []}
        if decision.get("overrides") and not str(body.get("reason") or "").strip():
            raise InputError("reason", "an override needs a reason")
        return encounter, result, decision, author, str(body.get("reason") or "")

    @app.post("/v1/cases", status_code=201)
    def save_case(body: dict = Body(...), profile: str = "medicare"):
        return store.save(*_case_body(body, profile))

    @app.get("/v1/cases")
    def list_cases():
        return store.list()

    @app.get("/v1/cases/{case_id}")
    def get_case(case_id: int = CASE_ID):
        case = store.get(case_id)
        return case if case is not None else problem(404, "Unknown case", f"no case {case_id}", field="case_id")

    @app.post("/v1/cases/{case_id}/revisions", status_code=201)
    def revise_case(body: dict = Body(...), profile: str = "medicare", case_id: int = CASE_ID):
        encounter, result, decision, author, reason = _case_body(body, profile)
        if not reason:
            raise InputError("reason", "a revision needs a reason")
        case = store.revise(case_id, encounter, result, decision, author, reason)
        return case if case is not None else problem(404, "Unknown case", f"no case {case_id}", field="case_id")

    @app.get("/v1/cases/{case_id}/export")
    def export_case(case_id: int = CASE_ID):
        case = store.get(case_id)
        if case is None:
            return problem(404, "Unknown case", f"no case {case_id}", field="case_id")
        return JSONResponse(case, headers={"content-disposition": f'attachment; filename="case-{case_id}.json"'})

    # --- the page -------------------------------------------------------------------------------
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(STATIC / "index.html")

    return app


def read_token(token_file: str | None = None) -> str | None:
    """The bearer token from a file, else from INFUCODE_TOKEN; None when neither is set."""
    if token_file:
        return Path(token_file).read_text(encoding="utf-8").strip() or None
    return os.environ.get("INFUCODE_TOKEN") or None


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


__all__ = ["create_app", "read_token", "is_loopback", "problem", "ErrorResult"]
