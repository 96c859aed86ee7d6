"""Latency of one ``code_encounter`` call (the number the REST API builds on).

    python benchmarks/engine_latency.py [--repeat 2000]

Times single in-process calls on a few representative encounters (already decoded into the model,
ruleset loaded once), after a warm-up, and prints the median and p99 per encounter and overall.
"""

from __future__ import annotations

import argparse
import statistics
import time

import msgspec

from infucode import code_encounter, load_ruleset
from infucode.model import Encounter

CASES = {
    "push (ondansetron)": {"id": "p", "setting": "office", "date": "2024-07-01", "administrations": [
        {"id": "a1", "drug": "ondansetron", "route": "iv_push", "start": "09:00", "dose": {"value": 4, "unit": "mg"}}]},
    "IVIG 4h15 office": {"id": "i", "setting": "office", "date": "2024-07-01", "administrations": [
        {"id": "a1", "drug": "Gammagard", "route": "iv_infusion", "start": "08:30", "stop": "12:45"}]},
    "hydration 1 L facility": {"id": "h", "setting": "facility", "date": "2024-07-01", "administrations": [
        {"id": "a1", "drug": "normal saline", "class": "hydration", "route": "iv_infusion", "start": "09:00", "stop": "11:10", "volume_ml": 1000}]},
    "chemo day + premeds": {"id": "c", "setting": "facility", "date": "2024-07-01", "administrations": [
        {"id": "a1", "drug": "normal saline", "route": "iv_infusion", "start": "08:45", "stop": "13:30", "volume_ml": 1000},
        {"id": "a2", "drug": "ondansetron", "route": "iv_push", "start": "09:00", "dose": {"value": 8, "unit": "mg"}},
        {"id": "a3", "drug": "dexamethasone", "route": "iv_infusion", "start": "09:05", "stop": "09:20", "dose": {"value": 12, "unit": "mg"}},
        {"id": "a4", "drug": "diphenhydramine", "route": "iv_push", "start": "09:22", "dose": {"value": 50, "unit": "mg"}},
        {"id": "a5", "drug": "paclitaxel", "route": "iv_infusion", "start": "09:30", "stop": "12:35", "dose": {"value": 300, "unit": "mg"}},
        {"id": "a6", "drug": "carboplatin", "route": "iv_infusion", "start": "12:40", "stop": "13:25", "dose": {"value": 450, "unit": "mg"}}]},
    "injections (denosumab sc, leuprolide im)": {"id": "j", "setting": "office", "date": "2024-07-01", "administrations": [
        {"id": "a1", "drug": "denosumab", "route": "sc", "start": "10:00", "dose": {"value": 60, "unit": "mg"}},
        {"id": "a2", "drug": "leuprolide", "route": "im", "start": "10:05", "dose": {"value": 7.5, "unit": "mg"}}]},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2000, help="timed calls per encounter")
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args(argv)
    rs = load_ruleset()
    every: list[float] = []
    print(f"{'encounter':<42}{'median µs':>11}{'p99 µs':>9}{'lines':>7}")
    for name, data in CASES.items():
        enc = msgspec.convert(data, Encounter)
        for _ in range(args.warmup):
            code_encounter(enc, rs)
        times = []
        clock = time.perf_counter_ns
        for _ in range(args.repeat):
            t0 = clock()
            result = code_encounter(enc, rs)
            times.append((clock() - t0) / 1000)
        times.sort()
        every.extend(times)
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(f"{name:<42}{statistics.median(times):>11.0f}{p99:>9.0f}{len(result.lines):>7}")
    every.sort()
    print(f"{'all':<42}{statistics.median(every):>11.0f}{every[min(len(every) - 1, int(len(every) * 0.99))]:>9.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
