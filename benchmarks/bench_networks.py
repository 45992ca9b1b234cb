"""Benchmark of the networks engine.

1. Many-source least-cost paths for 22 zone sources on a generated road-like graph with >= 1M directed edges (a
   perturbed grid with two-way streets and sparse diagonal arterials), `networks.paths.many_source_costs`
   (scipy.sparse.csgraph) against per-source `networkx.single_source_dijkstra_path_length` (the named baseline), both
   measured in this run. networkx is timed on a few sources and its per-source time scaled to 22 sources.
2. One year's capacity-restrained assignment (all chains, 7 commodities, MSA) on the shipped Guangxi network, and a
   whole 2020-2060 run for 1 and 20 members.

Run: python benchmarks/bench_networks.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from networks.paths import edge_graph, many_source_costs


def road_like_graph(side: int, seed: int = 1) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """side x side grid, both directions, km-like weights, plus 2% diagonal arterials (faster)."""
    rng = np.random.default_rng(seed)
    idx = np.arange(side * side).reshape(side, side)
    a = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    b = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    diag_a = idx[:-1, :-1].ravel()
    pick = rng.random(diag_a.size) < 0.02
    a = np.concatenate([a, diag_a[pick]])
    b = np.concatenate([b, idx[1:, 1:].ravel()[pick]])
    w = rng.uniform(0.5, 1.5, a.size)
    w[-int(pick.sum()) :] *= 0.6
    src = np.concatenate([a, b])
    dst = np.concatenate([b, a])
    return side * side, src, dst, np.concatenate([w, w])


def bench_paths() -> None:
    n, src, dst, w = road_like_graph(510)
    print(f"road-like graph: {n:,} nodes, {len(src):,} directed edges")
    rng = np.random.default_rng(7)
    sources = rng.choice(n, 22, replace=False)
    t0 = time.perf_counter()
    g = edge_graph(n, src, dst, w)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    dist = many_source_costs(g, sources)
    t_scipy = time.perf_counter() - t0
    gx = nx.DiGraph()
    gx.add_weighted_edges_from(zip(src.tolist(), dst.tolist(), w.tolist(), strict=True))
    n_nx = 3
    t0 = time.perf_counter()
    for s in sources[:n_nx]:
        ref = nx.single_source_dijkstra_path_length(gx, int(s))
    t_nx = (time.perf_counter() - t0) / n_nx * len(sources)
    check = np.array([ref[i] for i in range(0, n, 9973)])
    assert np.allclose(dist[n_nx - 1, ::9973], check)
    print(f"  csgraph build: {t_build:.2f} s; many_source_costs (22 sources): {t_scipy:.2f} s")
    print(f"  networkx per-source Dijkstra (22 sources, from {n_nx} timed): {t_nx:.2f} s")
    print(
        f"  ratio networkx / many_source_costs: {t_nx / t_scipy:.1f}x (incl. build: {t_nx / (t_scipy + t_build):.1f}x)"
    )


def bench_assignment() -> None:
    import importlib
    import types

    from pydantic import BaseModel

    for name, cls in (("fleets", "FleetLevers"), ("urban", "UrbanLevers")):
        try:
            importlib.import_module(f"transport.levers.{name}")
        except ModuleNotFoundError:  # other domains not written yet: stand-ins so transport.levers imports
            mod = types.ModuleType(f"transport.levers.{name}")
            setattr(mod, cls, type(cls, (BaseModel,), {}))
            mod.UNCERTAIN = {}  # type: ignore[attr-defined]
            sys.modules[f"transport.levers.{name}"] = mod
    from transport import freight as F
    from transport.levers.freight import FreightLevers

    root = Path(__file__).resolve().parent.parent / "transport" / "data" / "guangxi"
    t0 = time.perf_counter()
    data = F.calibrate_freight(F.load_freight_data(root))
    print(f"load + 2020 calibration: {time.perf_counter() - t0:.2f} s")
    for year in (2020, 2030):
        t0 = time.perf_counter()
        res = F.simulate_freight(data, FreightLevers(), {}, np.array([year]), 1)
        print(f"  one year ({year}) with capacity (MSA gap {res.msa_gap[0]:.1e}): {time.perf_counter() - t0:.3f} s")
    years = np.arange(2020, 2061)
    for members in (1, 20):
        params = {"freight_logit_scale": np.linspace(0.7, 1.3, members)} if members > 1 else {}
        t0 = time.perf_counter()
        F.simulate_freight(data, FreightLevers(), params, years, members)
        print(f"  2020-2060, {members} member(s): {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    bench_paths()
    bench_assignment()
