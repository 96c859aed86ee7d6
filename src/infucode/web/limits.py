"""What one request may cost the server: body size, nesting, time, and how many coding jobs run at once.

The limits are the server's own operating parameters (not coding policy): they protect a shared workbench
from one oversized, deeply nested or slow request. Each is named here, with why it has the value it has.
"""
from __future__ import annotations

#: One encounter or one saved case. The largest realistic encounter (a 24-hour chemotherapy day with
#: hundreds of MAR rows) is well under 200 kB; 2 MiB leaves a wide margin.
MAX_BODY_BYTES = 2 * 1024 * 1024
#: A batch (``/v1/code/batch``) or an uploaded file (``/v1/files/parse``): 5,000 encounters of ~4 kB.
MAX_BATCH_BODY_BYTES = 20 * 1024 * 1024
#: The routes that take a batch-sized body; every other route gets :data:`MAX_BODY_BYTES`.
BATCH_BODY_PATHS = frozenset({"/v1/code/batch", "/v1/files/parse"})
MAX_BATCH_ENCOUNTERS = 5000

#: How deep a JSON/YAML document may nest. An encounter is 4 levels deep; a FHIR R4 Bundle of
#: MedicationAdministration about 8. Deeper input is refused before any recursive code sees it.
MAX_NESTING = 32

#: Wall-clock bound on one request, from its first byte to its response: reading the body (a slow
#: client) plus coding or parsing. Coding a full 5,000-encounter batch takes a few seconds on one core.
REQUEST_TIME_LIMIT_SECONDS = 60.0
#: At most this many coding/parsing jobs run at once (each in its own thread); further requests wait for
#: a free slot until their time limit. A job whose request timed out keeps its slot until it ends, so
#: runaway work cannot pile up.
MAX_CONCURRENT_JOBS = 8

#: uvicorn: an idle keep-alive connection is closed after this many seconds (uvicorn's default, stated).
KEEP_ALIVE_SECONDS = 5
#: uvicorn: on SIGTERM/SIGINT, requests still running after this many seconds are cancelled.
GRACEFUL_SHUTDOWN_SECONDS = 3


def body_limit(path: str) -> int:
    """The largest body accepted on ``path``."""
    return MAX_BATCH_BODY_BYTES if path in BATCH_BODY_PATHS else MAX_BODY_BYTES


def nesting_depth_exceeds(value, limit: int = MAX_NESTING) -> bool:
    """True when lists/dicts in ``value`` nest deeper than ``limit`` (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


__all__ = [
    "BATCH_BODY_PATHS", "GRACEFUL_SHUTDOWN_SECONDS", "KEEP_ALIVE_SECONDS", "MAX_BATCH_BODY_BYTES",
    "MAX_BATCH_ENCOUNTERS", "MAX_BODY_BYTES", "MAX_CONCURRENT_JOBS", "MAX_NESTING",
    "REQUEST_TIME_LIMIT_SECONDS", "body_limit", "nesting_depth_exceeds",
]
