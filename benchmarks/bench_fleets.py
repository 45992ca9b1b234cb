"""Benchmark of the fleet engine: 10,000 members x 10 segments x 7 powertrains x 41 ages x 2020-2060.

Prints the engine's wall time on its first call at this size in the process (every array's pages fresh) and on a
repeated call (pages reused, as in an ensemble worker), and two ratios measured in the same run:
(a) against a per-member Python loop over the same engine (100 members, one `simulate` call each, scaled to 10,000);
(b) against a bare numpy bound: the same number of element updates (one multiply-shift of every stock element per
    segment and year, over the flattened arrays) with no model logic.
Run: python benchmarks/bench_fleets.py [--members 10000] [--loop-members 100]
The first call's system time is the kernel zeroing fresh pages; where transparent huge pages defragment on demand
("madvise"), numpy's huge-page advice makes that ~3x dearer: compare with NUMPY_MADVISE_HUGEPAGE=0 in the environment.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fleets import AGES, POWERTRAINS, SEGMENTS
from fleets.simulation import simulate
from transport.levers.fleets import UNCERTAIN, FleetLevers, SalesRule, ScrappageProgramme
from transport.vehicles import engine_inputs, load_fleet_data

DATA = Path(__file__).resolve().parent.parent / "transport" / "data" / "guangxi"
YEARS = np.arange(2020, 2061)


def _levers() -> FleetLevers:
    return FleetLevers(
        sales_rules=[
            SalesRule(segment="bus", group="nev", kind="min", share=0.9, start=2025.0),
            SalesRule(segment="taxi", group="nev", kind="min", share=0.8, start=2025.0),
            SalesRule(segment="private_car", group="ice", kind="max", share=0.0, start=2035.5),
        ],
        scrappage_programmes=[
            ScrappageProgramme(segment="heavy_truck", powertrains=["diesel"], max_vintage=2013, start=2024.5, end=2029)
        ],
    )


def _params(members: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {k: rng.uniform(v.low, v.high, members) for k, v in UNCERTAIN.items()}


def run_engine(data, members: int, rng: np.random.Generator) -> tuple[float, float]:
    """Wall time and system time (s) of one `simulate` call; system time is mostly the kernel zeroing the pages of
    fresh arrays on first touch (results alone are 1.15 GB at 10,000 members)."""
    levers = _levers()
    inputs, rules, programmes, chargers, m, _ = engine_inputs(data, levers, _params(members, rng), YEARS, members)
    sys0 = resource.getrusage(resource.RUSAGE_SELF).ru_stime
    start = time.perf_counter()
    simulate(
        inputs,
        YEARS,
        members,
        rules,
        programmes,
        chargers,
        m["fleet_vehicles_per_charger"],
        m["fleet_nevs_per_charger"],
    )
    wall = time.perf_counter() - start
    return wall, resource.getrusage(resource.RUSAGE_SELF).ru_stime - sys0


def per_member_loop(data, members: int, rng: np.random.Generator) -> float:
    levers = _levers()
    params = _params(members, rng)
    total = 0.0
    for i in range(members):
        one = {k: v[i : i + 1] for k, v in params.items()}
        inputs, rules, programmes, chargers, m, _ = engine_inputs(data, levers, one, YEARS, 1)
        start = time.perf_counter()
        simulate(
            inputs, YEARS, 1, rules, programmes, chargers, m["fleet_vehicles_per_charger"], m["fleet_nevs_per_charger"]
        )
        total += time.perf_counter() - start
    return total


def numpy_bound(members: int, flat: bool = True) -> float:
    """One multiply-shift per stock element, per segment and year, over arrays of the same shape: no model logic.

    flat=True does it the fastest way numpy allows (one multiply over the flattened arrays); flat=False over the 3-D
    shifted slices stock[..., :-1], the bound this benchmark printed first (kept so numbers stay comparable across
    versions)."""
    shape = (members, len(POWERTRAINS), AGES)
    stocks = [np.random.default_rng(0).uniform(size=shape) for _ in SEGMENTS]
    spares = [np.empty(shape) for _ in SEGMENTS]
    rates = np.full(shape, 0.95)
    start = time.perf_counter()
    for _ in YEARS[1:]:
        for k in range(len(SEGMENTS)):
            if flat:
                np.multiply(stocks[k].reshape(-1)[:-1], rates.reshape(-1)[:-1], out=spares[k].reshape(-1)[1:])
            else:
                np.multiply(stocks[k][..., :-1], rates[..., :-1], out=spares[k][..., 1:])
            spares[k][..., 0] = 0.0
            stocks[k], spares[k] = spares[k], stocks[k]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--loop-members", type=int, default=100, help="members of the per-member loop baseline")
    args = parser.parse_args()
    members = args.members
    rng = np.random.default_rng(1)
    data = load_fleet_data(DATA)
    run_engine(data, 600, rng)  # warm-up (imports, compiled kernels: more members than one parallel block)
    # First call of the size in this process (every array's pages fresh), then a repeated call (the allocator reuses
    # freed pages, as in an ensemble worker running chunk after chunk).
    (t_engine, sys_engine), (t_again, sys_again) = run_engine(data, members, rng), run_engine(data, members, rng)
    loop_members = args.loop_members
    t_loop = per_member_loop(data, loop_members, rng) * members / loop_members
    t_bound = numpy_bound(members)
    t_sliced = numpy_bound(members, flat=False)
    updates = members * len(SEGMENTS) * len(POWERTRAINS) * AGES * (len(YEARS) - 1)
    print(f"cores available: {os.cpu_count()}")
    print(
        f"engine: {members} members x {len(SEGMENTS)} segments x {len(POWERTRAINS)} powertrains x {AGES} ages x "
        f"{YEARS[0]}-{YEARS[-1]} = {updates:.3g} element-years"
    )
    print(f"numba threads: {numba.get_num_threads()} (the bound is single-threaded numpy)")
    print(f"engine, first call               {t_engine:8.2f} s   of which system {sys_engine:5.2f} s")
    print(f"engine, repeated call            {t_again:8.2f} s   of which system {sys_again:5.2f} s")
    print(f"(a) per-member loop, scaled      {t_loop:8.2f} s   ratio loop/engine = {t_loop / t_engine:6.1f}x")
    print(
        f"(b) bare numpy bound, flat       {t_bound:8.2f} s   ratio engine/bound = {t_engine / t_bound:6.2f}x"
        f" first call, {t_again / t_bound:.2f}x repeated"
    )
    print(f"    same bound, 3-D slices       {t_sliced:8.2f} s   ratio engine/bound = {t_engine / t_sliced:6.2f}x")


if __name__ == "__main__":
    main()
