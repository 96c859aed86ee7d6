"""The door of every request: bearer token, body size counted as it arrives, a time limit, no crash leaks.

A pure ASGI middleware (not ``BaseHTTPMiddleware``) so that it sees the body as it streams in: the size
limit holds for chunked bodies and multipart uploads too, not only for an honest Content-Length, and
nothing beyond the limit is ever read. A body in a media type the operation does not read is a 415. An
unexpected exception becomes a plain 500 problem here, logged by its type only (its message may quote
patient data), and the connection stays usable.

Every request is logged in one line (logger ``infucode.web.access``): method, the route's *template*
(``/v1/cases/{case_id}``, never the path as sent, which could carry anything), the names of the query
parameters without their values, the status and the time taken. Never a body.
"""
from __future__ import annotations

import hmac
import json
import logging

import time
from urllib.parse import parse_qsl

import anyio

from .limits import REQUEST_TIME_LIMIT_SECONDS, body_limit
from .media import expected_media, media_matches
from .problems import PROBLEM_JSON, Problem, problem_body

log = logging.getLogger("infucode.web")
access_log = logging.getLogger("infucode.web.access")


class BodyTooLarge(Problem):
    def __init__(self, limit: int):
        super().__init__(413, "Request too large", f"the body is over {limit} bytes")


async def _send_problem(send, status: int, title: str, detail: str, headers: dict | None = None) -> None:
    body = json.dumps(problem_body(status, title, detail)).encode()
    raw = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def _route_template(scope) -> str:
    """The path as the app's route declares it (``/v1/codes/{code}``); ``-`` when no route matches."""
    from starlette.routing import Match, Mount

    router = getattr(scope.get("app"), "router", None)
    for route in getattr(router, "routes", ()):
        try:
            match, _child = route.matches({**scope, "method": scope.get("method", "GET")})
        except Exception:  # noqa: BLE001 - a log line never fails a request
            continue
        if match != Match.NONE:
            return route.path.rstrip("/") + "/{path}" if isinstance(route, Mount) else route.path
    return "-"


def _query_names(scope) -> str:
    raw = scope.get("query_string", b"").decode("latin-1")
    names = sorted({k for k, _ in parse_qsl(raw, keep_blank_values=True)})
    return ("?" + "&".join(f"{n}=" for n in names)) if names else ""


class RequestGuard:
    def __init__(self, app, *, token: str | None = None, time_limit: float = REQUEST_TIME_LIMIT_SECONDS):
        self.app = app
        self.expected = f"Bearer {token}".encode() if token else None
        self.time_limit = time_limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 0
        logging_on = access_log.isEnabledFor(logging.INFO)
        # matched before the app runs: routing rewrites the scope's paths (a mount's root_path)
        template = _route_template(scope) if logging_on else "-"

        async def logged_send(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._guarded(scope, receive, logged_send)
        finally:
            if logging_on:
                # names only: query values and path segments may be a patient's (a drug name, an MRN)
                access_log.info("%s %s%s %s %.0fms", scope.get("method"), template, _query_names(scope),
                                status or "-", (time.perf_counter() - began) * 1000)

    async def _guarded(self, scope, receive, send):
        path = scope["path"]
        headers = {k.lower(): v for k, v in scope.get("headers", ())}
        if self.expected and path.startswith("/v1/"):
            if not hmac.compare_digest(headers.get(b"authorization", b""), self.expected):
                await _send_problem(send, 401, "Unauthorized", "a bearer token is required",
                                    {"WWW-Authenticate": "Bearer"})
                return
        limit = body_limit(path)
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            await _send_problem(send, 413, "Request too large", f"the body is over {limit} bytes",
                                {"Connection": "close"})
            return
        media = expected_media(scope.get("method", ""), path)
        if media is not None and not media_matches(headers.get(b"content-type", b""), media):
            # the type sent is not quoted back: a header is the user's text
            await _send_problem(send, 415, "Unsupported Media Type", f"send the body as {media}",
                                {"Accept-Post": media, "Connection": "close"})
            return

        received = 0
        body_done = not (b"transfer-encoding" in headers or (length.isdigit() and int(length) > 0))
        started = False

        async def counted_receive():
            nonlocal received, body_done
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
                if not message.get("more_body", False):
                    body_done = True
            return message

        async def tracked_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not body_done:   # answered before the body ended: close rather than read the rest
                    message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
            await send(message)

        try:
            with anyio.move_on_after(self.time_limit) as deadline:
                await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge as exc:
            if not started:
                await _send_problem(send, 413, exc.title, exc.detail, {"Connection": "close"})
            return
        except Exception as exc:  # noqa: BLE001 - the last line of defence; the message may hold patient data
            log.error("unhandled %s on %s %s", type(exc).__name__, scope.get("method"), path)
            if not started:
                await _send_problem(send, 500, "Internal Server Error", "the server could not handle this request")
            return
        if deadline.cancelled_caught and not started:
            if not body_done:
                await _send_problem(send, 408, "Request Timeout",
                                    f"the body did not arrive within {self.time_limit:g} seconds",
                                    {"Connection": "close"})
            else:
                await _send_problem(send, 503, "Took too long",
                                    f"the request was not done within {self.time_limit:g} seconds; "
                                    "split a batch or try again", {"Retry-After": "5"})


__all__ = ["BodyTooLarge", "RequestGuard"]
