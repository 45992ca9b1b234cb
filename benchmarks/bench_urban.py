"""Benchmark of the urban model: one vectorised ensemble vs the same members run one by one (named baseline).

Run: python benchmarks/bench_urban.py   (prints timings and the speed-up; nothing is asserted)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from transport import urban as u
from transport.levers.urban import UNCERTAIN, UrbanLevers

DATA = Path(__file__).resolve().parent.parent / "transport" / "data" / "guangxi"


def main(members: int = 100) -> None:
    data = u.load_urban_data(DATA)
    years = np.arange(2020, 2061)
    rng = np.random.default_rng(1)
    params = {name: rng.uniform(spec.low, spec.high, members) for name, spec in UNCERTAIN.items()}
    levers = UrbanLevers(bus_frequency_factor={2020: 1.0, 2030: 1.5}, metro_km_added={"nanning": {2030: 60.0}})
    u.simulate_urban(data, levers, {k: v[:1] for k, v in params.items()}, years, 1)  # warm-up

    start = time.perf_counter()
    ens = u.simulate_urban(data, levers, params, years, members)
    vectorised = time.perf_counter() - start

    start = time.perf_counter()
    loop = [
        u.simulate_urban(data, levers, {k: v[i : i + 1] for k, v in params.items()}, years, 1) for i in range(members)
    ]
    looped = time.perf_counter() - start
    same = all(np.allclose(ens.shares[i], r.shares[0]) for i, r in enumerate(loop))
    print(f"urban model, {len(data.cities)} cities x {len(years)} years x {members} members")
    print(f"  vectorised ensemble            : {vectorised:8.3f} s")
    print(f"  baseline: members one by one   : {looped:8.3f} s")
    print(f"  speed-up                       : {looped / vectorised:8.1f} x   (results identical: {same})")
    print(f"  calibration residual (max |model - target| in 2020): {ens.calibration_residual:.1e}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
