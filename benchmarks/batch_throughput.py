"""Throughput of ``run_batch`` against the read/write floor, with peak memory.

    python benchmarks/batch_throughput.py [--n 200000] [--seed 1] [--workers 1 2] [--keep DIR]

Generates N encounters (benchmarks/generate.py), then measures, each in a fresh child process:

* floor: the same file read line by line, each line decoded into the model with msgspec and
  encoded back as one output line (same format library, no coding);
* ``run_batch`` with each worker count in ``--workers``.

For each: seconds, encounters per second, the ratio to the floor, and peak memory. Peak memory is
given two ways: ``sampled sum``, the highest sum of resident memory (VmRSS) over the measuring
process and all its descendants, sampled every 50 ms from /proc (Linux); and ``ru_maxrss``, the
process's own peak plus ``RUSAGE_CHILDREN``'s peak, which is the *largest* single child, not the
sum over children.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


class _PeakSampler(threading.Thread):
    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_kb = 0
        self._halt = threading.Event()

    def run(self) -> None:
        me = os.getpid()
        while not self._halt.is_set():
            self.peak_kb = max(self.peak_kb, sum(_rss_kb(p) for p in _descendants(me)))
            self._halt.wait(self.interval)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak_kb


def _floor(src: str, dst: str) -> int:
    import msgspec

    from infucode.model import Encounter

    decoder = msgspec.json.Decoder(Encounter)
    encode = msgspec.json.encode
    n = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        out = []
        for line in fin:
            try:
                enc = decoder.decode(line)
            except msgspec.DecodeError:
                enc = msgspec.json.decode(line)
            out.append(encode(enc))
            n += 1
            if len(out) >= 2000:
                out.append(b"")
                fout.write(b"\n".join(out))
                out = []
        if out:
            out.append(b"")
            fout.write(b"\n".join(out))
    return n


def _measure(kind: str, src: str, dst: str) -> None:
    """Runs in a child process; prints one JSON object."""
    sampler = _PeakSampler()
    sampler.start()
    t0 = time.perf_counter()
    if kind == "floor":
        n = _floor(src, dst)
        failed = 0
    else:
        from infucode.batch import run_batch

        summary = run_batch(src, dst, workers=int(kind), progress=False)
        n, failed = summary.coded + summary.failed, summary.failed
    seconds = time.perf_counter() - t0
    peak_sum = sampler.stop()
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"kind": kind, "n": n, "failed": failed, "seconds": seconds, "peak_sum_kb": peak_sum,
                      "self_kb": self_kb, "max_child_kb": child_kb}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--keep", help="directory for the generated and output files (default: a temp dir)")
    parser.add_argument("--_measure", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._measure:
        _measure(*args._measure)
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        src = work / f"encounters-{args.n}.jsonl"
        sys.path.insert(0, str(HERE))
        from generate import write_jsonl

        t0 = time.perf_counter()
        size = write_jsonl(args.n, src, args.seed)
        print(f"generated {args.n:,} encounters ({size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s; "
              f"{os.cpu_count()} cores; python {sys.version.split()[0]}")
        rows = []
        for kind in ["floor"] + [str(w) for w in args.workers]:
            dst = work / f"out-{kind}.jsonl"
            proc = subprocess.run([sys.executable, __file__, "--_measure", kind, str(src), str(dst)],
                                  check=True, capture_output=True, text=True)
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        floor = rows[0]["seconds"]
        print(f"{'run':<12}{'seconds':>9}{'enc/s':>11}{'x floor':>9}{'peak RSS sum':>14}{'ru_maxrss self+max child':>26}")
        for r in rows:
            name = "floor" if r["kind"] == "floor" else f"{r['kind']} worker" + ("s" if r["kind"] != "1" else "")
            print(f"{name:<12}{r['seconds']:>9.2f}{r['n'] / r['seconds']:>11,.0f}{r['seconds'] / floor:>9.1f}"
                  f"{r['peak_sum_kb'] / 1024:>11.0f} MB{(r['self_kb'] + r['max_child_kb']) / 1024:>15.0f} MB (+{r['max_child_kb'] / 1024:.0f})")
        print("peak RSS sum: highest sampled sum of VmRSS over the process and its workers (50 ms sampling); "
              "ru_maxrss: own peak + RUSAGE_CHILDREN peak, which is the largest single child, not a sum.")
        failed = {r["kind"]: r["failed"] for r in rows if r["kind"] != "floor"}
        print(f"encounters sent to the errors file: {failed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
