"""Instructions per encounter of ``code_encounter``, counted by valgrind (callgrind): a figure that does not
move with the machine's load, for comparing two versions of the engine.

    python benchmarks/engine_instructions.py [--n 1000] [--warmup 10000] [--seed 1] [--src DIR]

Wall-clock timings on a shared 2-core VM vary by 10-25 % between identical runs, which hides any change
smaller than that. This runs the engine under callgrind twice, over ``warmup`` + 200 and ``warmup`` + 200 +
``n`` generated encounters (seeded, benchmarks/generate.py), and prints the difference divided by ``n``: the
instructions one steady-state encounter costs (decoding the JSON line included, as the batch does). Address
randomization is off (``setarch -R``), hashing is seeded and numpy's OpenBLAS keeps one thread, so a re-run
prints the same number. ``--src`` measures another checkout (its ``src`` directory), e.g. a git worktree of
the commit before a change. Needs valgrind (Debian: ``apt-get install valgrind``); about a minute per run.

Measured (2026-11-23, defaults): 673.5k instructions per encounter before that session's hot-path changes
(commit 15ed69e), 572.8k after (-15 %); roughly 80-100 µs per encounter on this machine.
Measured (2026-12-04, defaults): 574.2k before the hardening of issue 12 (commit 522d044), 580.2k after
(+1.0 %: the administration-limit, date-range and dose checks).
Measured (2026-12-04, defaults): 579.9k before issue 16's rules work (commit 03968d2), 592.5k after (+2.2 %:
the thresholds read from policies.yaml, the rules' findings raised through their own modules).
Measured (2026-12-05, defaults): 579.8k at 03968d2 -> 630.6k with issues 14, 15 and 16 merged (+8.8 %: input
forms +4.4 %, new routes and codes +1.7 %, rules work +1.4 %, build-to-build variation ~1 %), 624.4k after the
batch's contract-form test remembers the values it has seen (-1.0 %; +7.7 % in all).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

_CHILD = """
import gc, sys
from infucode.batch import coding
from infucode import code_encounter
from infucode.model import InputError
coding.init_coding_worker("medicare", None, "jsonl")
raws = open(sys.argv[1], "rb").read().splitlines()
warm, count = int(sys.argv[2]), int(sys.argv[3])
def code(lines, first):
    for i, raw in enumerate(lines, first):
        try:
            code_encounter(coding._read(raw, i), coding._STATE["ruleset"])
        except InputError:
            pass
code(raws[:warm], 1)                      # the caches a long batch has (drug names, dates)
gc.collect(); gc.freeze()
code(raws[warm:warm + count], warm + 1)
"""


def _instructions(src: Path, data: Path, warm: int, count: int) -> int:
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        run = subprocess.run(
            ["setarch", os.uname().machine, "-R", "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, "-c", _CHILD, str(data), str(warm), str(count)],
            env=env, capture_output=True, text=True, check=False)
    found = re.search(r"Collected : (\d+)", run.stderr)
    if run.returncode != 0 or not found:
        raise SystemExit(f"callgrind failed (exit {run.returncode}):\n{run.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="encounters measured")
    parser.add_argument("--warmup", type=int, default=10_000, help="encounters coded first, not measured")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--src", type=Path, default=HERE.parent / "src", help="the src directory to measure")
    args = parser.parse_args(argv)
    for tool in ("valgrind", "setarch"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (Debian: apt-get install {'valgrind' if tool == 'valgrind' else 'util-linux'})",
                  file=sys.stderr)
            return 2
    sys.path.insert(0, str(HERE))
    import generate

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "encounters.jsonl"
        generate.write_jsonl(args.warmup + 200 + args.n, data, seed=args.seed)
        base = _instructions(args.src, data, args.warmup, 200)
        more = _instructions(args.src, data, args.warmup, 200 + args.n)
    per = (more - base) / args.n
    print(f"{per / 1000:.1f}k instructions per encounter ({args.n:,} encounters after {args.warmup:,}; src {args.src})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
