"""Which media type each operation reads: a body in another type is a 415 problem before anything reads it.

Without this check a form post or text/plain body to a JSON operation reaches the validator and comes back
as a confusing "valid dictionary" 422; the user should learn instead what to send.
"""
from __future__ import annotations

import re

JSON = "application/json"
MULTIPART = "multipart/form-data"

#: (method, path pattern, media type read). Operations with no body are not listed.
BODY_MEDIA: tuple[tuple[str, re.Pattern, str], ...] = tuple(
    (method, re.compile(pattern), media) for method, pattern, media in (
        ("POST", r"/v1/code", JSON),
        ("POST", r"/v1/code/batch", JSON),
        ("POST", r"/v1/audit", JSON),
        ("POST", r"/v1/ask", JSON),
        ("POST", r"/v1/rows", JSON),
        ("POST", r"/v1/cases", JSON),
        ("POST", r"/v1/cases/[^/]+/revisions", JSON),
        ("POST", r"/v1/files/parse", MULTIPART),
    ))


def expected_media(method: str, path: str) -> str | None:
    """The media type the operation at ``method path`` reads; None when it reads no body."""
    for m, pattern, media in BODY_MEDIA:
        if m == method and pattern.fullmatch(path):
            return media
    return None


def media_matches(content_type: bytes | str, expected: str) -> bool:
    """True when a Content-Type header is ``expected`` (parameters ignored; any ``+json`` type is JSON)."""
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    media = content_type.split(";", 1)[0].strip().lower()
    if expected == JSON:
        return media == JSON or (media.startswith("application/") and media.endswith("+json"))
    return media == expected


__all__ = ["BODY_MEDIA", "JSON", "MULTIPART", "expected_media", "media_matches"]
