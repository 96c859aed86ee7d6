"""What ``infucode serve`` tells the person who started it: where the page is, where saved cases go, and
one line per request (:mod:`.guard` writes it: no body, no query value, no path as sent)."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from sqlalchemy.engine import make_url


def database_file(db_url: str) -> Path | None:
    """The file of a SQLite URL (absolute); None for an in-memory or non-SQLite database."""
    try:
        url = make_url(db_url)
    except Exception:  # noqa: BLE001 - an unreadable URL is reported when it is opened
        return None
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).expanduser().resolve()


def _shown_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def announce(host: str, port: int, db_url: str, *, created: bool, token: bool, out=None) -> None:
    """Print the page's URL and the saved-cases database (and that it was just created)."""
    out = out or sys.stdout
    path = database_file(db_url)
    if path is not None:
        where = f"{path} (created now)" if created else str(path)
    else:
        where = make_url(db_url).render_as_string(hide_password=True)
    print(f"infucode: serving the workbench at {_shown_url(host, port)}", file=out)
    print(f"infucode: saved cases in {where}", file=out)
    if token:
        print("infucode: /v1/ requests need the bearer token", file=out)
    print("infucode: one line per request below (no bodies, no query values); Ctrl-C stops", file=out, flush=True)


def log_requests_to_stderr() -> None:
    """Send the access log (logger ``infucode.web.access``) to stderr, one line per request."""
    access = logging.getLogger("infucode.web.access")
    if not any(h.get_name() == "infucode-access" for h in access.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        handler.set_name("infucode-access")
        access.addHandler(handler)
    access.setLevel(logging.INFO)
    access.propagate = False


__all__ = ["announce", "database_file", "log_requests_to_stderr"]
