"""Mutation spot-check of the rules: apply one single-rule mutation at a time to a copy of ``src`` and run the
worked-case tests against it; a mutation is *killed* when some test fails, *survived* when all pass.

    python benchmarks/mutation_check.py [--src DIR] [--only NAME]

Every mutation here must be killed: a survivor means a rule whose outcome no test pins down (add a worked
case). Each mutation flips a threshold, drops a finding or changes a fallback in one rules module. Prints one
line per mutation and the totals; exit status 1 when any survives. Needs no network; about 15-30 s per mutation.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/test_cases.py", "tests/test_rules_beside_chain.py"]
_SILENCE = "(lambda *_: None)("  # a call whose finding goes nowhere: the same syntax, no finding

# (name, file under src/infucode, text, replacement): each text must occur exactly once.
MUTATIONS = [
    ("added hour at exactly 30 past the hour (more_than_30 read as at_least_30)", "rules/timing.py",
     "tail_counts = tail > ADDED_HOUR_TAIL if", "tail_counts = tail >= ADDED_HOUR_TAIL if"),
    ("threshold data: push_max_minutes 15 -> 14 (policies.yaml)", "reference/data/policies.yaml",
     "  push_max_minutes:\n    value: 15", "  push_max_minutes:\n    value: 14"),
    ("drop the hydration-concurrent finding", "rules/continuity.py",
     'ctx.add_finding("continuity.hydration_concurrent",', _SILENCE + '"continuity.hydration_concurrent",'),
    ("missing stop: keep the infusion instead of the push fallback", "rules/administration.py",
     'route = "iv_push"', "route = route"),
    ("an infusion of exactly 15 minutes stays an infusion", "rules/method.py",
     "if minutes is not None and minutes <= PUSH_MAX_MINUTES:\n            return MethodDecision(PUSH, \"method.short_infusion_is_push\"",
     "if minutes is not None and minutes < PUSH_MAX_MINUTES:\n            return MethodDecision(PUSH, \"method.short_infusion_is_push\""),
    ("96376 at exactly 30 minutes after the last push", "rules/subsequent.py",
     "gap <= SAME_DRUG_PUSH_GAP", "gap < SAME_DRUG_PUSH_GAP"),
    ("hierarchy: hydration above therapeutic", "rules/initial.py",
     "fam.THERAPEUTIC: 2, fam.HYDRATION: 1", "fam.THERAPEUTIC: 1, fam.HYDRATION: 2"),
    ("drop the MUE finding", "rules/limits.py",
     'ctx.add_finding("limits.mue",', _SILENCE + '"limits.mue",'),
    ("96368 more than once per date", "rules/subsequent.py",
     "if day in state.concurrent_dates:", "if False:"),
    ("hydration of exactly 30 minutes reported", "rules/method.py",
     "if minutes > HYDRATION_MAX_UNREPORTED:", "if minutes >= HYDRATION_MAX_UNREPORTED:"),
    ("prolonged pump at exactly 8 hours", "rules/beside_chain.py",
     "s.minutes > PROLONGED_PUMP_MINUTES", "s.minutes >= PROLONGED_PUMP_MINUTES"),
    ("drop the fuzzy-match finding", "rules/family.py",
     'ctx.add_finding("family.fuzzy_match",', _SILENCE + '"family.fuzzy_match",'),
    ("drug units rounded to nearest instead of up", "rules/drug_supply.py",
     "return max(1, math.ceil(amount / code.billing_unit.amount - _EPSILON))",
     "return max(1, round(amount / code.billing_unit.amount))"),
    ("second initial without the distinct-service modifier", "rules/subsequent.py",
     'modifiers = [ctx.policy("distinct_modifier")] if distinct else []', "modifiers = []"),
    ("drop the self-overlap finding", "rules/continuity.py",
     'ctx.add_finding("continuity.self_overlap",', _SILENCE + '"continuity.self_overlap",'),
    ("bag change gap ignored (a new bag starts a new infusion)", "rules/continuity.py",
     "if prev is not None and s.start <= prev.stop + _BAG_CHANGE_GAP:", "if prev is not None and s.start < prev.stop:"),
    ("missing-stop policy no_line falls through to the push", "rules/administration.py",
     'elif policy == "no_line":', 'elif policy == "no_such_value":'),
]


def run(src: Path, only: str | None) -> int:
    killed = survived = 0
    for name, rel, text, replacement in MUTATIONS:
        if only and only not in name:
            continue
        with tempfile.TemporaryDirectory(prefix="infucode-mutant-") as tmp:
            copy = Path(tmp) / "src"
            shutil.copytree(src, copy, ignore=shutil.ignore_patterns("__pycache__"))
            target = copy / "infucode" / rel
            code = target.read_text(encoding="utf-8")
            if code.count(text) != 1:
                print(f"BROKEN   {name}: the text occurs {code.count(text)} times in {rel}")
                survived += 1
                continue
            target.write_text(code.replace(text, replacement), encoding="utf-8")
            env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
            began = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "pytest", *TESTS, "-x", "-q", "-p", "no:cacheprovider"],
                                  cwd=ROOT, env=env, capture_output=True, text=True)
            took = time.perf_counter() - began
            if proc.returncode == 0:
                survived += 1
                print(f"SURVIVED {name} ({rel}, {took:.0f} s)")
            else:
                killed += 1
                first = next((l for l in proc.stdout.splitlines() if l.startswith("FAILED")), "")
                print(f"killed   {name} ({rel}, {took:.0f} s) {first[:110]}")
    total = killed + survived
    print(f"\n{killed} of {total} mutations killed, {survived} survived")
    return 1 if survived else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", type=Path, default=ROOT / "src")
    ap.add_argument("--only", help="run the mutations whose name contains this text")
    args = ap.parse_args()
    return run(args.src, args.only)


if __name__ == "__main__":
    sys.exit(main())
