"""Bounded load test of the REST API on loopback: N requests from C concurrent clients.

Prints p50/p99 latency and throughput; asserts nothing (targets live here, not in unit tests).
Usage: python benchmarks/api_load.py [--requests 2000] [--clients 8]
"""
from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import uvicorn

from infucode.web.app import create_app

ENCOUNTER = {"id": "load", "setting": "facility", "date": "2024-07-01", "administrations": [
    {"id": "a0", "drug": "normal saline", "route": "iv_infusion", "start": "08:30", "stop": "12:45"},
    {"id": "a1", "drug": "ondansetron", "route": "iv_infusion", "start": "09:00", "stop": "09:30"},
    {"id": "a2", "drug": "paclitaxel", "route": "iv_infusion", "start": "09:30", "stop": "12:30"},
    {"id": "a3", "drug": "dexamethasone", "route": "iv_push", "start": "08:50"}]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = tempfile.mkdtemp()
    server = uvicorn.Server(uvicorn.Config(create_app(db_url=f"sqlite:///{db}/c.db"), host="127.0.0.1", port=port,
                                           log_level="error", access_log=False))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}/v1/code"
    per_client = args.requests // args.clients

    def client(_):
        times = []
        with httpx.Client() as http:
            for _ in range(per_client):
                t = time.perf_counter()
                r = http.post(url, json=ENCOUNTER)
                times.append(time.perf_counter() - t)
                assert r.status_code == 200
        return times

    start = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        times = sorted(t for ts in pool.map(client, range(args.clients)) for t in ts)
    wall = time.perf_counter() - start
    server.should_exit = True
    print(f"requests: {len(times)} from {args.clients} concurrent clients (POST /v1/code, 4 administrations)")
    print(f"p50: {statistics.median(times) * 1000:.1f} ms  p99: {times[int(len(times) * 0.99)] * 1000:.1f} ms  "
          f"throughput: {len(times) / wall:.0f} req/s")


if __name__ == "__main__":
    main()
