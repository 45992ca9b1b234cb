"""Benchmark of whole-model ensembles in one process, the CLI's phases left out (issue #7; what users run:
benchmarks/bench_ensemble.py): members of the plan scenario 2020-2060 run, stored and published
exactly as `transport run --members N` does (sampling, freight, chunks, Parquet parts, views).

Prints seconds per ensemble size and per member on 2 local worker processes (the issue's "2 cores"), the ratio of each
size's cost per member to the smallest size's (the named baseline: linear cost means ratios near 1), local processes
with 2 workers vs 1 and Dask LocalCluster with 2 workers vs 1 (at --compare-at members), and the peak resident memory
of this process and of its worker processes. Freight follows `--freight` (auto: emulated above 256 members; the
emulator's fit, ~40 exact members, is part of every emulated run's time).

Run: python benchmarks/bench_ensemble_inprocess.py [--members 1000,10000,100000] [--compare-at 10000] [--end-year 2060]
     [--chunk 2000] [--freight auto] [--no-dask]
(nothing is asserted; numbers go into the issue notes)
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runs.ensemble import executor
from runs.execute import RunRequest, execute, prepare
from runs.store import ResultsStore


def timed_run(
    members: int,
    end_year: int,
    chunk: int,
    kind: str,
    workers: int,
    scheduler: str | None = None,
    freight: str = "auto",
) -> float:
    request = RunRequest("plan", members=members, end_year=end_year, chunk_size=chunk, freight=freight)
    prepared = prepare(request)
    with tempfile.TemporaryDirectory() as tmp:
        store = ResultsStore(Path(tmp) / "results.duckdb")
        with store.writer(), executor(kind, workers, scheduler) as pool:
            start = time.perf_counter()
            execute(request, store, "bench", prepared, pool=pool)
            return time.perf_counter() - start


def peak_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", default="1000,10000")
    parser.add_argument(
        "--compare-at", type=int, default=None, help="members of the worker comparisons (default: smallest)"
    )
    parser.add_argument("--end-year", type=int, default=2060)
    parser.add_argument("--chunk", type=int, default=2000)
    parser.add_argument("--freight", default="auto", choices=["auto", "exact", "emulated"])
    parser.add_argument("--no-dask", action="store_true")
    args = parser.parse_args()
    sizes = [int(m) for m in args.members.split(",")]
    print(f"plan scenario 2020-{args.end_year}, chunks of <= {args.chunk} members, freight {args.freight}, stored")
    timed_run(2, min(args.end_year, 2025), args.chunk, "sequential", 1)  # warm-up: imports, caches
    base = None
    print(f"{'members':>8} {'seconds':>9} {'ms/member':>10} {'ratio/member vs smallest':>25}   (2 local workers)")
    for members in sizes:
        seconds = timed_run(
            members, args.end_year, min(args.chunk, max(1, members // 2)), "local", 2, None, args.freight
        )
        per = seconds / members
        base = base or per
        print(f"{members:>8} {seconds:>9.1f} {1000 * per:>10.2f} {per / base:>25.2f}")
    at = args.compare_at or sizes[0]
    chunk = min(args.chunk, max(1, at // 4))
    one = timed_run(at, args.end_year, chunk, "local", 1, None, args.freight)
    two = timed_run(at, args.end_year, chunk, "local", 2, None, args.freight)
    print(f"local processes, {at} members: 1 worker {one:.1f} s, 2 workers {two:.1f} s, ratio {one / two:.2f}")
    if not args.no_dask:
        from distributed import LocalCluster

        times = {}
        for workers in (1, 2):
            with LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as cluster:
                times[workers] = timed_run(
                    at, args.end_year, chunk, "dask", workers, cluster.scheduler_address, args.freight
                )
        print(
            f"Dask LocalCluster, {at} members: 1 worker {times[1]:.1f} s, "
            f"2 workers {times[2]:.1f} s, ratio {times[1] / times[2]:.2f}"
        )
    own, children = peak_mb()
    print(f"peak resident memory: this process {own:.0f} MB, largest worker process {children:.0f} MB")


if __name__ == "__main__":
    main()
