"""Benchmark of ensembles on the path users run: `transport run plan --members N --workers W` as a subprocess, with
everything it does (dataset calibration, freight or its emulator, members, analyses, store, charts and report).

Prints, per member count and worker count: the seconds of each phase (from the run's own "Time per phase" lines),
the wall time, ms per member, and the peak resident memory of the run and its workers. The named baseline of the
ratios is the smallest member count on the same worker count, measured in the same invocation: a flat cost per
member gives ratios near 1.

Run: python benchmarks/bench_ensemble.py [--members 1000,10000,100000] [--workers 1,2] [--no-charts]
(the engine alone, in one process without the CLI's phases: benchmarks/bench_ensemble_inprocess.py)
(nothing is asserted; numbers go into the issue notes)
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PHASE = re.compile(r"^\s{2}(?P<label>.+?)\s+(?P<seconds>\d+\.\d) s$")


def run_once(members: int, workers: int, charts: bool) -> tuple[float, dict[str, float], float]:
    """Wall seconds, seconds per phase, and peak RSS (GB) of the children of one `transport run`."""
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, "-m", "transport", "run", "plan", "--members", str(members), "--db", f"{tmp}/r.duckdb"]
        args += ["--workers", str(workers)] + ([] if charts else ["--no-charts"])
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"transport run failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
        peak_gb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024**2
    lines = proc.stdout.splitlines()
    table = lines[lines.index("Time per phase:") + 1 :]
    phases = {}
    for line in table:
        match = PHASE.match(line)
        if not match:
            break
        phases[match["label"].removeprefix("plan: ")] = float(match["seconds"])
    return wall, phases, peak_gb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", default="1000,10000,100000")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--no-charts", action="store_true")
    args = parser.parse_args()
    sizes = [int(m) for m in args.members.split(",")]
    for workers in (int(w) for w in args.workers.split(",")):
        baseline_ms = None
        for members in sizes:
            wall, phases, peak = run_once(members, workers, not args.no_charts)
            ms = 1000 * wall / members
            baseline_ms = baseline_ms or ms
            detail = ", ".join(f"{label} {seconds:.1f}" for label, seconds in phases.items() if label != "total")
            print(
                f"members {members:>6}  workers {workers}  wall {wall:6.1f} s  {ms:6.2f} ms/member "
                f"(x{ms / baseline_ms:.2f} of {sizes[0]})  peak RSS {peak:.1f} GB  [{detail}]",
                flush=True,
            )


if __name__ == "__main__":
    main()
