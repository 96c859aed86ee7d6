"""The REST server under hostile or broken input (issue 12): streamed body limits, YAML alias bombs, deep
nesting, time limits, SIGTERM, loopback checks, usage errors, and error bodies that never echo free text.

Some tests run a real uvicorn server on a free loopback port: the test client buffers request bodies and has
no connections, so streaming and keep-alive behaviour can only be seen over a socket.
"""
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import infucode.web.app as web_app
from infucode.web.app import create_app, is_loopback
from infucode.web.limits import MAX_BATCH_BODY_BYTES, MAX_BODY_BYTES

PATIENT = "John Q Patient MRN-99887766"
IVIG = {"id": "s2", "setting": "office", "date": "2024-07-01",
        "administrations": [{"id": "a1", "drug": "Gammagard", "route": "iv_infusion", "start": "08:30", "stop": "12:45"}]}
SRC = str(Path(__file__).resolve().parents[1] / "src")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(app):
    import uvicorn
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical",
                                           timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(5)


@pytest.fixture()
def client(tmp_path):
    return TestClient(create_app(db_url=f"sqlite:///{tmp_path}/cases.db"))


def is_problem(res, status=None) -> bool:
    ok_status = res.status_code == status if status else 400 <= res.status_code < 500
    return ok_status and res.headers["content-type"].startswith("application/problem+json")


# --- body size, counted as it streams in ------------------------------------------------------------------

def _send_chunked(port: int, path: str, total: int, content_type: str = "application/json",
                  first: bytes = b'{"encounter": "') -> tuple[int, bytes]:
    """POST ``total`` bytes of chunked body (no Content-Length) until the server stops reading; returns the
    bytes sent and the response head."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n".encode())
    sock.sendall(f"{len(first):x}\r\n".encode() + first + b"\r\n")
    chunk = b"x" * (64 * 1024)
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = len(first)
    try:
        while sent < total:
            sock.sendall(frame)
            sent += len(chunk)
    except OSError:      # the server answered and closed: it read no further
        pass
    sock.settimeout(10)
    head = b""
    with contextlib.suppress(OSError):
        while b"\r\n\r\n" not in head:
            data = sock.recv(65536)
            if not data:
                break
            head += data
    sock.close()
    return sent, head


def test_chunked_body_over_the_limit_is_refused_while_streaming(tmp_path):
    app = create_app(db_url=f"sqlite:///{tmp_path}/c.db")
    with serving(app) as port:
        sent, head = _send_chunked(port, "/v1/cases", 50 * 1024 * 1024)
        assert head.startswith(b"HTTP/1.1 413"), head[:200]
        assert b"application/problem+json" in head
        # The server stopped reading near the 2 MB limit; socket buffers hold a few MB at most.
        assert sent < 16 * 1024 * 1024
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/v1/cases")
        assert json.loads(conn.getresponse().read()) == []      # nothing saved


def test_chunked_5mb_case_is_not_saved(client):
    case = {"encounter": IVIG, "author": "coder-7", "reason": "x" * (5 * 1024 * 1024)}
    data = json.dumps(case).encode()
    res = client.post("/v1/cases", content=(data[i:i + 65536] for i in range(0, len(data), 65536)),
                      headers={"content-type": "application/json"})
    assert is_problem(res, 413)
    assert client.get("/v1/cases").json() == []


def test_chunked_multipart_upload_over_the_limit_is_refused_while_streaming(tmp_path):
    boundary = "b0undary"
    first = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.json\"\r\n"
             "Content-Type: application/json\r\n\r\n").encode()
    with serving(create_app(db_url=f"sqlite:///{tmp_path}/c.db")) as port:
        sent, head = _send_chunked(port, "/v1/files/parse", 80 * 1024 * 1024,
                                   f"multipart/form-data; boundary={boundary}", first)
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert sent < MAX_BATCH_BODY_BYTES + 16 * 1024 * 1024    # stopped near the 20 MB limit, not at 80 MB


def test_declared_length_over_the_limit_is_refused_before_reading(client):
    res = client.post("/v1/code", content=b"{" + b" " * (MAX_BODY_BYTES + 10) + b"}",
                      headers={"content-type": "application/json"})
    assert is_problem(res, 413)


# --- YAML aliases and deep nesting ------------------------------------------------------------------------

BILLION_LAUGHS = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x]"]
                           + [f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]"
                              for p, c in zip("abcdefgh", "bcdefghi")]) + "\n"


def test_yaml_alias_bomb_is_refused_at_once(client):
    assert len(BILLION_LAUGHS) < 400
    started = time.monotonic()
    res = client.post("/v1/files/parse", files={"file": ("bomb.yaml", BILLION_LAUGHS, "application/yaml")})
    assert time.monotonic() - started < 5
    assert is_problem(res, 422) and res.json()["field"] == "file"
    assert "alias" in res.json()["detail"]


def test_deeply_nested_yaml_and_json_uploads_are_refused(client):
    deep_yaml = "".join("  " * i + f"k{i}:\n" for i in range(100)) + "  " * 100 + "v\n"
    res = client.post("/v1/files/parse", files={"file": ("deep.yaml", deep_yaml, "application/yaml")})
    assert is_problem(res, 422) and "nests deeper" in res.json()["detail"]
    for name in ("deep.json", "deep.jsonl"):
        res = client.post("/v1/files/parse", files={"file": (name, "[" * 5000 + "]" * 5000, "application/json")})
        assert is_problem(res, 422) and res.json()["field"] == "file"


@pytest.mark.parametrize("path", ["/v1/code", "/v1/code/batch", "/v1/audit", "/v1/cases", "/v1/ask"])
def test_deeply_nested_json_body_is_a_4xx_problem(client, path):
    for body in (b"[" * 1000 + b"]" * 1000, b'{"a": ' + b"[" * 1000 + b"]" * 1000 + b"}",
                 b'{"a": ' + b"[" * 100 + b"]" * 100 + b"}"):
        res = client.post(path, content=body, headers={"content-type": "application/json"})
        assert is_problem(res), (path, res.status_code, res.text[:200])


def test_deeply_nested_json_body_over_a_real_connection(tmp_path):
    with serving(create_app(db_url=f"sqlite:///{tmp_path}/c.db")) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/v1/code", body=b"[" * 1000 + b"]" * 1000, headers={"content-type": "application/json"})
        res = conn.getresponse()
        res.read()
        assert 400 <= res.status < 500 and res.getheader("content-type").startswith("application/problem+json")


# --- saved cases: a bad decision is a 422 and the connection lives on -----------------------------------

def test_non_object_decision_is_422_and_the_connection_survives(tmp_path):
    with serving(create_app(db_url=f"sqlite:///{tmp_path}/c.db")) as port:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for decision, field in (([1, 2], "decision"), ("accept all", "decision"),
                                ({"accepted": "all"}, "decision.accepted"),
                                ({"accepted": [0], "overrides": [3]}, "decision.overrides[0]")):
            conn.request("POST", "/v1/cases", body=json.dumps({"encounter": IVIG, "author": "c", "decision": decision}),
                         headers={"content-type": "application/json"})
            res = conn.getresponse()
            body = json.loads(res.read())
            assert res.status == 422 and body["field"] == field, (decision, res.status, body)
            conn.request("GET", "/healthz")                      # same connection, next request
            res = conn.getresponse()
            assert res.status == 200 and json.loads(res.read())["status"] == "ok"
        conn.request("GET", "/v1/cases")
        assert json.loads(conn.getresponse().read()) == []


# --- time limits and the event loop ------------------------------------------------------------------------

def _slow_coding(seconds: float):
    def slow(*_args, **_kwargs):
        time.sleep(seconds)
        raise AssertionError("should have been abandoned")
    return slow


def test_coding_past_the_time_limit_is_a_503_problem(tmp_path, monkeypatch):
    monkeypatch.setattr(web_app, "code_encounter", _slow_coding(8))
    client = TestClient(create_app(db_url=f"sqlite:///{tmp_path}/c.db", time_limit=0.5))
    started = time.monotonic()
    res = client.post("/v1/code", json=IVIG)
    assert time.monotonic() - started < 4
    assert is_problem(res, 503)


def test_other_requests_are_served_while_one_hangs_in_coding(tmp_path, monkeypatch):
    monkeypatch.setattr(web_app, "code_encounter", _slow_coding(6))
    with serving(create_app(db_url=f"sqlite:///{tmp_path}/c.db", time_limit=3)) as port:
        outcome = {}

        def hang():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            conn.request("POST", "/v1/code", body=json.dumps(IVIG), headers={"content-type": "application/json"})
            outcome["status"] = conn.getresponse().status

        worker = threading.Thread(target=hang)
        worker.start()
        time.sleep(0.5)
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
        assert time.monotonic() - started < 1.5
        worker.join(10)
        assert outcome["status"] == 503


def test_other_requests_are_served_while_a_big_yaml_file_is_parsed(tmp_path):
    one = ("- id: e{i}\n  setting: office\n  date: 2024-07-01\n  administrations:\n"
           "    - {{id: a1, drug: Gammagard, route: iv_infusion, start: 8:30, stop: 12:45}}\n")
    text = "".join(one.format(i=i) for i in range(20000))        # ~2.6 MB: seconds of pure-Python YAML
    with serving(create_app(db_url=f"sqlite:///{tmp_path}/c.db", time_limit=4)) as port:
        outcome = {}

        def upload():
            body = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.yaml\"\r\n\r\n"
                    + text.encode() + b"\r\n--B--\r\n")
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("POST", "/v1/files/parse", body=body, headers={"content-type": "multipart/form-data; boundary=B"})
            outcome["status"] = conn.getresponse().status

        worker = threading.Thread(target=upload)
        worker.start()
        time.sleep(1)
        for _ in range(3):
            started = time.monotonic()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/healthz")
            assert conn.getresponse().status == 200
            assert time.monotonic() - started < 1.5
            time.sleep(0.3)
        worker.join(30)
        assert outcome["status"] in (200, 422, 503)


def test_sigterm_stops_the_server_while_a_request_hangs_in_coding(tmp_path):
    port = _free_port()
    launcher = ("import time, sys\n"
                "import infucode.web.app as web\n"
                "web.code_encounter = lambda *a, **k: time.sleep(120)\n"   # coding that hangs
                "from infucode.cli import app\n"
                "sys.argv = ['infucode', 'serve', '--port', sys.argv[1], '--db', sys.argv[2]]\n"
                "app()\n")
    env = dict(os.environ, PYTHONPATH=SRC, INFUCODE_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.Popen([sys.executable, "-c", launcher, str(port), f"sqlite:///{tmp_path}/c.db"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(150):
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            time.sleep(0.1)
        hung = socket.create_connection(("127.0.0.1", port), timeout=30)
        body = json.dumps(IVIG).encode()
        hung.sendall(b"POST /v1/code HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        time.sleep(1)
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        proc.wait(timeout=15)
        assert time.monotonic() - started < 8
        hung.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- loopback means every resolved address is loopback -------------------------------------------------

def _resolver(table):
    def getaddrinfo(host, *_args, **_kwargs):
        if host not in table:
            raise socket.gaierror(-2, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0)) for a in table[host]]
    return getaddrinfo


def test_loopback_is_resolved_not_read(monkeypatch):
    monkeypatch.setattr(web_app.socket, "getaddrinfo", _resolver({
        "127.0.0.1.example": ["0.0.0.0"], "localhost": ["127.0.0.1", "::1"], "127.0.0.1": ["127.0.0.1"],
        "127.9.9.9": ["127.9.9.9"], "split": ["127.0.0.1", "10.0.0.5"], "::1": ["::1"], "0.0.0.0": ["0.0.0.0"]}))
    assert not is_loopback("127.0.0.1.example")
    assert not is_loopback("split") and not is_loopback("0.0.0.0") and not is_loopback("nowhere")
    assert is_loopback("localhost") and is_loopback("127.0.0.1") and is_loopback("127.9.9.9") and is_loopback("::1")


def test_serve_refuses_a_look_alike_loopback_name_without_token(monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from infucode.cli import app
    monkeypatch.setattr(web_app.socket, "getaddrinfo", _resolver({"127.0.0.1.example": ["0.0.0.0"]}))
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("must not serve"))
    monkeypatch.delenv("INFUCODE_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["serve", "--host", "127.0.0.1.example"])
    assert result.exit_code == 2 and "token" in result.output


# --- usage errors, not tracebacks ------------------------------------------------------------------------

def _one_line_usage_error(result, path) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and str(path) in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_serve_with_a_missing_token_file_is_a_usage_error(tmp_path, monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from infucode.cli import app
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("must not serve"))
    missing = tmp_path / "nonexistent"
    _one_line_usage_error(CliRunner().invoke(app, ["serve", "--token-file", str(missing)]), missing)


def test_serve_with_an_unwritable_database_or_data_directory_is_a_usage_error(tmp_path, monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from infucode.cli import app
    from infucode.reference import releases
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("must not serve"))
    monkeypatch.setenv("INFUCODE_DATA_DIR", str(tmp_path / "data"))
    not_a_dir = tmp_path / "afile"
    not_a_dir.write_text("x")
    db = f"sqlite:///{not_a_dir}/cases.db"
    _one_line_usage_error(CliRunner().invoke(app, ["serve", "--db", db]), db)

    locked = tmp_path / "locked-data"

    def refuse(self, *_a, **_k):
        raise PermissionError(13, "Permission denied", str(locked))
    monkeypatch.setattr(releases.ReleaseStore, "__init__", refuse)
    _one_line_usage_error(CliRunner().invoke(app, ["serve", "--db", f"sqlite:///{tmp_path}/c.db"]), locked)


# --- error bodies never echo free text ---------------------------------------------------------------------

def test_error_bodies_never_echo_free_text(client):
    saved = client.post("/v1/cases", json={"encounter": IVIG, "author": "c"}).json()
    attempts = [
        client.post("/v1/code", json=[PATIENT]),
        client.post("/v1/code/batch", json={"patient": PATIENT}),
        client.post("/v1/code/batch", json=[PATIENT]),
        client.post("/v1/audit", json=PATIENT),
        client.post("/v1/code", content=f'{{"id": {PATIENT}}}', headers={"content-type": "application/json"}),
        client.post(f"/v1/code?profile={PATIENT}", json=IVIG),
        client.get(f"/v1/cases/{PATIENT}"),
        client.get(f"/v1/cases/{PATIENT}/export"),
        client.get("/v1/search", params={"q": "push", "limit": PATIENT}),
        client.get("/v1/codes/96366", params={"date": PATIENT}),
        client.get("/v1/codes/96366", params={"scenarios": PATIENT}),
        client.post("/v1/ask", json={"question": [PATIENT]}),
        client.post("/v1/cases", json={"encounter": IVIG, "author": {"name": PATIENT}}),
        client.post("/v1/cases", json={"encounter": IVIG, "author": PATIENT * 10}),
        client.post("/v1/cases", json={"encounter": IVIG, "author": "c", "decision": PATIENT}),
        client.post("/v1/cases", json={"encounter": IVIG, "author": "c", "reason": [PATIENT]}),
        client.post("/v1/cases", json={"encounter": PATIENT, "author": "c"}),
        client.post(f"/v1/cases/{saved['id']}/revisions", json={"encounter": IVIG, "author": "c", "decision": [PATIENT]}),
        client.post("/v1/files/parse", files={"file": ("p.yaml", f"name: [{PATIENT}\n", "application/yaml")}),
        client.post("/v1/files/parse", files={"file": ("p.json", f'{{"name": {PATIENT}}}', "application/json")}),
        client.post("/v1/files/parse", files={"file": ("p.jsonl", f"{PATIENT}\n", "application/json")}),
        client.post("/v1/files/parse", files={"other": ("p.json", PATIENT, "application/json")}),
        client.post("/v1/files/parse", content=PATIENT, headers={"content-type": "multipart/form-data; boundary=x"}),
    ]
    for res in attempts:
        assert is_problem(res), (res.request.url, res.status_code, res.text[:300])
        assert "Patient" not in res.text and "99887766" not in res.text, (res.request.url, res.text[:300])
        assert res.json().get("field") or res.status_code in (400, 413), (res.request.url, res.text[:300])
