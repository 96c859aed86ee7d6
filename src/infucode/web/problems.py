"""Errors as RFC 9457 problem details: a title, the field at fault, never the value the user sent.

Free text a user sends (a drug name, a note, a pasted MRN) must not come back in an error body, where it
would end up in browser consoles, proxies and logs. So validation errors name the field and say what was
expected; the input itself is dropped.
"""
from __future__ import annotations

from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"


def problem_body(status: int, title: str, detail: str, **extra) -> dict:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem(status: int, title: str, detail: str, *, headers: dict | None = None, **extra) -> JSONResponse:
    return JSONResponse(problem_body(status, title, detail, **extra), status_code=status, media_type=PROBLEM_JSON,
                        headers=headers)


class Problem(HTTPException):
    """An error the server answers with a problem body (raised from code that has no response to return).

    An ``HTTPException`` so that FastAPI passes it through while it reads a body."""

    def __init__(self, status: int, title: str, detail: str, field: str | None = None, headers=None):
        super().__init__(status_code=status, detail=detail, headers=headers)
        self.title = title
        self.field = field


def _field(loc) -> str:
    """``("body", "decision", 0)`` -> ``decision[0]``; ``("query", "limit")`` -> ``limit``."""
    parts = list(loc[1:] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else loc)
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _where(loc) -> str | None:
    return loc[0] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else None


def install(app: FastAPI) -> None:
    """Problem bodies for FastAPI's own errors: validation (422), malformed JSON (400), HTTP errors (4xx) and ours."""

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_request: Request, exc: RequestValidationError):
        raw = exc.errors()
        broken = next((e for e in raw if e.get("type") == "json_invalid"), None)
        if broken is not None:
            # the position is where the JSON breaks (a number, no content of the body)
            at = broken.get("loc", ())[-1] if broken.get("loc") else None
            where = f" (at character {at})" if isinstance(at, int) else ""
            return problem(400, "Malformed JSON", f"the body is not valid JSON{where}", field="body")
        # pydantic's messages describe the expectation ("Input should be a valid integer"); its "input"
        # and "ctx" carry the user's value and are left out on purpose.
        errors = [{"field": _field(e.get("loc", ())), "in": _where(e.get("loc", ())), "detail": str(e.get("msg", ""))}
                  for e in raw]
        first = errors[0] if errors else {"field": "body", "detail": "the request could not be read"}
        return problem(422, "Request could not be read", first["detail"], field=first["field"], errors=errors)

    @app.exception_handler(HTTPException)
    async def on_http_error(_request: Request, exc: HTTPException):
        title = getattr(exc, "title", None) or HTTPStatus(exc.status_code).phrase
        field = getattr(exc, "field", None)
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).description
        return problem(exc.status_code, title, detail, field=field, headers=exc.headers)


#: The JSON Schema of a problem body (RFC 9457 section 3, plus the field at fault), for the OpenAPI document.
PROBLEM_SCHEMA = {
    "title": "Problem",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "field": {"type": "string", "description": "The request field at fault (a JSON path such as administrations[0].start)"},
        "encounter": {"type": "string", "description": "The encounter id the user gave"},
        "line": {"type": "integer"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}

#: Why each error status is answered (the OpenAPI description of that response).
ERROR_MEANINGS = {
    400: "Malformed JSON, or an unknown profile",
    401: "A bearer token is required (when the server has one)",
    404: "No such code or saved case",
    408: "The request body did not arrive in time",
    413: "The body is over the size limit (or a batch has too many encounters)",
    415: "The body is not in the media type this operation reads",
    422: "The body or a parameter could not be read; the problem names the field",
    500: "The server could not handle the request (logged by error type only)",
    503: "The request was not done within the time limit",
}


def problem_responses(statuses) -> dict:
    """OpenAPI ``responses`` entries for these error statuses, each an application/problem+json body."""
    return {str(s): {"description": ERROR_MEANINGS[s],
                     "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            for s in sorted(statuses)}


__all__ = ["ERROR_MEANINGS", "PROBLEM_JSON", "PROBLEM_SCHEMA", "Problem", "install", "problem", "problem_body",
           "problem_responses"]
