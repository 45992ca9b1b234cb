"""Benchmark of the README's quick start: `transport run` (every shipped scenario, 1 member, charts and report) as a
subprocess into a fresh results folder, the whole command timed from outside (wall, CPU of the run and its workers).

Prints each run's wall seconds and the per-phase seconds from the run's own "Time per phase" lines, then the median
per phase over the runs. With --against OTHER_CHECKOUT (e.g. `git worktree add /tmp/before <commit>`) both are run in
turn, A B A B ..., and the ratio of the median walls (this checkout / the other) is printed: measured in the same
session on the same machine, it holds when the machine's speed drifts.

Run: python benchmarks/bench_quickstart.py [--runs 3] [--against /tmp/before]
(nothing is asserted; numbers go into the issue notes and commit messages)
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PHASE = re.compile(r"^\s{2}(?P<label>.+?)\s+(?P<seconds>\d+\.\d) s$")


def run_once(repo: Path) -> tuple[float, float, dict[str, float]]:
    """Wall seconds, CPU seconds (user + system, the run and its workers) and seconds per phase of one quick start
    run from the checkout `repo` (its own packages first on the path)."""
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, "-m", "transport", "run", "--db", f"{tmp}/out/results.duckdb"]
        env = {**os.environ, "PYTHONPATH": str(repo)}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise SystemExit(f"transport run failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = proc.stdout.splitlines()
    phases = {}
    for line in lines[lines.index("Time per phase:") + 1 :]:
        match = PHASE.match(line)
        if not match:
            break
        phases[match["label"]] = float(match["seconds"])
    return wall, cpu, phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--against", type=Path, help="another checkout to time in turn (the baseline of the ratio)")
    args = parser.parse_args()
    repos = {"this": REPO} | ({"against": args.against.resolve()} if args.against else {})
    walls: dict[str, list[float]] = {name: [] for name in repos}
    phases: dict[str, dict[str, list[float]]] = {name: {} for name in repos}
    run_once(REPO)  # warm-up: compiled kernels cached, files in the page cache
    for i in range(args.runs):
        for name, repo in repos.items():
            wall, cpu, seconds = run_once(repo)
            walls[name].append(wall)
            for label, value in seconds.items():
                phases[name].setdefault(label, []).append(value)
            detail = ", ".join(f"{label} {value:.1f}" for label, value in seconds.items())
            print(f"run {i + 1} {name:<8} wall {wall:6.1f} s  cpu {cpu:6.1f} s  [{detail}]", flush=True)
    for name in repos:
        print(f"{name} ({repos[name]}): median wall {statistics.median(walls[name]):.1f} s; median per phase:")
        for label, values in phases[name].items():
            print(f"  {label:<40} {statistics.median(values):6.1f} s")
    if args.against:
        ratio = statistics.median(walls["this"]) / statistics.median(walls["against"])
        print(f"median wall this / against: {ratio:.2f}")


if __name__ == "__main__":
    main()
