"""The coder's workbench: a versioned JSON API and a web page, served by one ASGI app (FastAPI).

Errors are RFC 9457 problem details naming the field, never echoing free-text input (:mod:`.problems`).
Optional bearer-token auth (INFUCODE_TOKEN or a token file); request bodies are size-limited as they
stream in, and every request is time-limited (:mod:`.guard`, :mod:`.limits`); coding and file parsing run
off the event loop (:mod:`.jobs`); nothing about a patient is logged.
"""
from __future__ import annotations

import ipaddress
import os
import socket
import time
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec
from fastapi import Body, FastAPI, File, Path as PathParam, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..engine import code_encounter
from ..model import Encounter, ErrorResult, InputError
from ..ruleset import bundled_tables, load_ruleset
from . import problems
from .guard import RequestGuard
from .jobs import JobSlots
from .limits import (
    MAX_BATCH_BODY_BYTES,
    MAX_BATCH_ENCOUNTERS,
    MAX_BODY_BYTES,
    MAX_NESTING,
    REQUEST_TIME_LIMIT_SECONDS,
    nesting_depth_exceeds,
)
from .problems import PROBLEM_SCHEMA, Problem, problem, problem_responses
from .store import CaseStore

CASE_ID = PathParam(..., ge=1, le=2**62, description="Saved case id")
STATIC = Path(str(resources.files("infucode.web").joinpath("static")))
#: Longest author name a saved case keeps (the column's width in :mod:`.store`).
MAX_AUTHOR_CHARS = 200


def _input_problem(exc: InputError) -> JSONResponse:
    return problem(422, "Encounter could not be read", exc.message, field=exc.field, encounter=exc.encounter)


def _encode(obj) -> Response:
    return Response(msgspec.json.encode(obj), media_type="application/json")


def _bounded(body, field: str = "body"):
    """Refuse a body nested deeper than any encounter or claim (before recursive code walks it)."""
    if nesting_depth_exceeds(body):
        raise Problem(422, "Request could not be read", f"nested deeper than {MAX_NESTING} levels", field=field)
    return body


def create_app(*, db_url: str | None = None, token: str | None = None, releases: Any | None = None,
               time_limit: float = REQUEST_TIME_LIMIT_SECONDS) -> FastAPI:
    """The API and page. ``releases``: the imported CMS files (``reference.releases.ReleaseStore``) that
    coding and the audit use by date of service; None: the bundled tables (every result says which).
    ``time_limit``: seconds one request may take, body upload included (503/408 problem after)."""
    app = FastAPI(title="infucode", version=__version__,
                  description="CPT drug-administration coding (96360-96549) with the rule and source behind every line.")
    rulesets: dict[str, Any] = {}
    store = CaseStore(db_url or os.environ.get("INFUCODE_DB", "sqlite:///infucode-cases.db"))
    jobs = JobSlots()
    known_profiles = frozenset(bundled_tables().policies.profiles)

    def ruleset(profile: str):
        if profile not in known_profiles:   # the value is the user's: not quoted back
            raise Problem(400, "Unknown profile", f"known profiles: {', '.join(sorted(known_profiles))}",
                          field="profile")
        if profile not in rulesets:
            rulesets[profile] = load_ruleset(profile).with_releases(releases)
        return rulesets[profile]

    app.add_middleware(RequestGuard, token=token, time_limit=time_limit)
    problems.install(app)
    app.openapi = lambda: _openapi_with_problems(app)

    @app.exception_handler(InputError)
    async def on_input_error(_request, exc: InputError):
        return _input_problem(exc)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "version": __version__}

    @app.get("/v1/schema")
    def schema():
        return msgspec.json.schema(Encounter)

    @app.post("/v1/code")
    async def code(encounter: dict = Body(..., description="One encounter in the engine's input format"),
                   profile: str = "medicare"):
        rs = ruleset(profile)
        return _encode(await jobs.run(code_encounter, _bounded(encounter), rs))

    def _code_batch(encounters: list[dict], rs) -> list:
        _bounded(encounters)      # here, in the job: walking 20 MB takes a moment
        out = []
        for i, enc in enumerate(encounters):
            try:
                out.append(code_encounter(enc, rs))
            except InputError as exc:
                exc.line = i
                out.append(exc.to_result())
        return out

    @app.post("/v1/code/batch")
    async def code_batch(encounters: list[dict] = Body(..., description="Encounters in the engine's input format"),
                         profile: str = "medicare"):
        if len(encounters) > MAX_BATCH_ENCOUNTERS:
            return problem(413, "Batch too large", f"at most {MAX_BATCH_ENCOUNTERS} encounters per request")
        rs = ruleset(profile)
        return _encode(await jobs.run(_code_batch, encounters, rs))

    @app.post("/v1/audit")
    async def audit(claim: dict = Body(..., description="One claim in the audit's format (billed lines, optional encounter)"),
                    profile: str = "medicare"):
        from ..audit import audit_claim
        rs = ruleset(profile)
        return _encode(await jobs.run(audit_claim, _bounded(claim), rs))

    @app.get("/v1/codes/{code}")
    async def code_reference(code: str, profile: str = "medicare", scenarios: bool = True, date: str | None = None):
        """The code reference (our own words): family, add-on rules, time rule, wRVU, MUE/MAI, related codes,
        documentation, denials and worked scenarios coded live by the engine. ``date`` (YYYY-MM-DD, default
        today): the imported CMS files in force then give the MUE and wRVU."""
        from datetime import date as calendar_date

        from ..knowledge.lookup import UnknownCode, lookup
        try:
            day = calendar_date.fromisoformat(date).isoformat() if date else calendar_date.today().isoformat()
        except ValueError:
            return problem(422, "Bad date", "date must be YYYY-MM-DD", field="date")
        rs = ruleset(profile).for_date(day)
        try:
            return _encode(await jobs.run(lookup, code, rs, scenarios))
        except UnknownCode:
            return problem(404, "Unknown code", "not a drug-administration code infucode knows (96360-96549)",
                           field="code")

    @app.get("/v1/search")
    async def search_codes(q: str, limit: int = 10):
        from dataclasses import asdict

        from ..knowledge.search import search
        hits = await jobs.run(search, q[:400], ruleset("medicare"), max(1, min(limit, 50)))
        return [asdict(h) for h in hits]

    @app.post("/v1/ask")
    async def ask_question(body: dict = Body(..., examples=[{"question": "96366 vs 96367?"}]),
                           profile: str = "medicare"):
        from ..knowledge.ask import ask
        question = body.get("question")
        if not isinstance(question, str) or not question.strip():
            raise InputError("question", "ask a question in words")
        rs = ruleset(profile)
        answer = await jobs.run(ask, question[:2000], rs)
        return answer.to_dict()

    @app.post("/v1/rows")
    async def read_pasted_rows(body: dict = Body(..., examples=[{"rows": [["ceftriaxone", "IM", "8:30 AM", "", ""]]}]),
                               profile: str = "medicare"):
        """Rows pasted from a spreadsheet -> administrations, each cell read by the shared vocabulary
        (routes, clock times, dates, units, drug names): its value and what was normalised, or an error on
        that cell (never a default). ``rows``: lists of cell texts; ``columns`` (optional): their names,
        else a header row is recognised, else drug, route, start, stop, site; ``date`` (optional): the
        encounter's date."""
        from .rows import read_rows
        _bounded(body)
        date = body.get("date")
        if date is not None and not isinstance(date, str):
            raise InputError("date", "a date (YYYY-MM-DD)")
        columns = body.get("columns")
        if columns is not None and not (isinstance(columns, list) and all(isinstance(c, str) for c in columns)):
            raise InputError("columns", "a list of column names")
        return await jobs.run(read_rows, body.get("rows"), ruleset(profile).drugs, columns, date or None)

    @app.get("/v1/profiles")
    def profiles():
        return ruleset("medicare").policy_table()

    @app.post("/v1/files/parse")
    async def parse_file(file: UploadFile = File(...)):
        """An uploaded JSON, JSON Lines or YAML file -> encounters (as JSON) for the form."""
        from .uploads import parse_upload
        data = await file.read(MAX_BATCH_BODY_BYTES + 1)
        if len(data) > MAX_BATCH_BODY_BYTES:
            return problem(413, "File too large", f"the file is over {MAX_BATCH_BODY_BYTES} bytes")
        if not data.strip():
            return problem(422, "Empty file", "the file is empty", field="file")
        return await jobs.run(parse_upload, file.filename or "", data, time.monotonic() + time_limit)

    # --- saved cases --------------------------------------------------------------------------
    def _case_body(body: dict, rs_profile: str):
        """Check a case body field by field (before coding) and code its encounter."""
        _bounded(body)
        encounter = body.get("encounter")
        if not isinstance(encounter, dict):
            raise InputError("encounter", "a case needs its encounter (an object)")
        author = body.get("author")
        if not isinstance(author, str) or not author.strip():
            raise InputError("author", "say who decided (the coder's name or id)")
        if len(author) > MAX_AUTHOR_CHARS:
            raise InputError("author", f"at most {MAX_AUTHOR_CHARS} characters")
        reason = body.get("reason")
        if reason is None:
            reason = ""
        if not isinstance(reason, str):
            raise InputError("reason", "the reason is text")
        decision = body.get("decision")
        if decision is not None:
            _check_decision(decision)
        result = msgspec.to_builtins(code_encounter(encounter, ruleset(rs_profile)))
        decision = decision or {"accepted": list(range(len(result["lines"]))), "overrides": []}
        if decision.get("overrides") and not reason.strip():
            raise InputError("reason", "an override needs a reason")
        return encounter, result, decision, author.strip(), reason

    def _check_decision(decision) -> None:
        if not isinstance(decision, dict):
            raise InputError("decision", 'the decision is an object: {"accepted": [line numbers], "overrides": [lines]}')
        accepted = decision.get("accepted", [])
        if not isinstance(accepted, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in accepted):
            raise InputError("decision.accepted", "a list of result line numbers")
        overrides = decision.get("overrides", [])
        if not isinstance(overrides, list):
            raise InputError("decision.overrides", "a list of billed lines")
        for i, line in enumerate(overrides):
            if not isinstance(line, dict):
                raise InputError(f"decision.overrides[{i}]", "a billed line is an object (code, units)")

    async def _coded_case(body: dict, profile: str):
        return await jobs.run(_case_body, body, profile)

    @app.post("/v1/cases", status_code=201)
    async def save_case(body: dict = Body(...), profile: str = "medicare"):
        case = await _coded_case(body, profile)
        return await jobs.run(store.save, *case)

    @app.get("/v1/cases")
    def list_cases():
        return store.list()

    @app.get("/v1/cases/{case_id}")
    def get_case(case_id: int = CASE_ID):
        case = store.get(case_id)
        return case if case is not None else problem(404, "Unknown case", f"no case {case_id}", field="case_id")

    @app.post("/v1/cases/{case_id}/revisions", status_code=201)
    async def revise_case(body: dict = Body(...), profile: str = "medicare", case_id: int = CASE_ID):
        encounter, result, decision, author, reason = await _coded_case(body, profile)
        if not reason.strip():
            raise InputError("reason", "a revision needs a reason")
        case = await jobs.run(store.revise, case_id, encounter, result, decision, author, reason)
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


def _error_statuses(path: str, operation: dict) -> set[int]:
    """The error statuses an operation can answer, from what it reads (see guard, media, problems)."""
    statuses = {500, 503}
    if path.startswith("/v1/"):
        statuses.add(401)
    params = operation.get("parameters", [])
    if params or "requestBody" in operation:
        statuses.add(422)
    if "requestBody" in operation:
        statuses |= {400, 408, 413, 415}
    if any(p.get("name") == "profile" for p in params):
        statuses.add(400)
    if any(p.get("in") == "path" for p in params):
        statuses.add(404)
    return statuses


def _openapi_with_problems(app: FastAPI) -> dict:
    """FastAPI's document with every error response listed as application/problem+json (its own 422
    ``{"detail": ...}`` schema is not what the server answers)."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = PROBLEM_SCHEMA
    for path, item in doc.get("paths", {}).items():
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses.update(problem_responses(_error_statuses(path, operation)))
    if not schemas:
        doc["components"].pop("schemas")
    app.openapi_schema = doc
    return doc


def read_token(token_file: str | None = None) -> str | None:
    """The bearer token from a file, else from INFUCODE_TOKEN; None when neither is set.
    Raises OSError when the file cannot be read."""
    if token_file:
        return Path(token_file).read_text(encoding="utf-8").strip() or None
    return os.environ.get("INFUCODE_TOKEN") or None


def is_loopback(host: str) -> bool:
    """True when every address ``host`` resolves to is a loopback address (127.0.0.0/8, ::1).

    Resolved, not read: ``127.0.0.1.example`` may resolve to anything. A name that does not resolve is not
    loopback (the server then needs a token, and fails to bind anyway)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    addresses = {info[4][0].split("%", 1)[0] for info in infos}
    try:
        return bool(addresses) and all(ipaddress.ip_address(a).is_loopback for a in addresses)
    except ValueError:
        return False


__all__ = ["MAX_BATCH_BODY_BYTES", "MAX_BODY_BYTES", "create_app", "read_token", "is_loopback", "problem", "ErrorResult"]
