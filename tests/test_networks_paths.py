"""Least-cost paths: scipy-backed many-source costs and path recovery agree with networkx on random graphs."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from networks.paths import edge_graph, edge_order, many_source_costs, path_edges, reweighted


def _random_graph(seed: int, n: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n, m)
    dst = rng.integers(0, n, m)
    w = rng.uniform(0.1, 10.0, m)
    return src, dst, w


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 40), density=st.floats(0.5, 4.0))
def test_costs_equal_networkx_dijkstra(seed: int, n: int, density: float) -> None:
    src, dst, w = _random_graph(seed, n, int(n * density) + 1)
    g = nx.MultiDiGraph()
    g.add_nodes_from(range(n))
    for a, b, c in zip(src, dst, w, strict=True):
        if a != b:
            g.add_edge(int(a), int(b), weight=float(c))
    eg = edge_graph(n, src, dst, w)
    sources = np.arange(n)
    dist, pred = many_source_costs(eg, sources, predecessors=True)
    for s in range(n):
        ref = nx.single_source_dijkstra_path_length(g, s, weight="weight")
        for t in range(n):
            assert np.isclose(dist[s, t], ref.get(t, np.inf)), (s, t)
    # the recovered edges of every path add up to its cost
    p, e = path_edges(eg, pred, sources, sources)
    sums = np.bincount(p, weights=w[e], minlength=n * n).reshape(n, n)
    finite = np.isfinite(dist)
    assert np.allclose(sums[finite], dist[finite])


def test_parallel_edges_keep_the_cheapest() -> None:
    eg = edge_graph(2, np.array([0, 0]), np.array([1, 1]), np.array([5.0, 2.0]))
    dist, pred = many_source_costs(eg, np.array([0]), predecessors=True)
    assert dist[0, 1] == 2.0
    _, e = path_edges(eg, pred, np.array([0]), np.array([1]))
    assert e.tolist() == [1]


def test_zero_cost_edges_stay_edges() -> None:
    # csgraph drops explicit zeros; the floor keeps a free connector connected
    eg = edge_graph(3, np.array([0, 1]), np.array([1, 2]), np.array([0.0, 1.0]))
    assert np.isclose(many_source_costs(eg, np.array([0]))[0, 2], 1.0)


@pytest.mark.parametrize("parallel_edges", [False, True])
def test_reweighted_builds_the_arrays_edge_graph_builds(parallel_edges: bool) -> None:
    rng = np.random.default_rng(3)
    n = 40
    pairs = rng.choice(n * n, size=300, replace=parallel_edges)
    src, dst = pairs // n, pairs % n  # self-loops among them
    order = edge_order(n, src, dst)
    assert order.unique == (len(np.unique(pairs[src != dst])) == int((src != dst).sum()))
    for _ in range(3):
        w = rng.uniform(0, 5, size=len(src))
        w[rng.random(len(w)) < 0.2] = np.inf
        w[rng.random(len(w)) < 0.1] = 0.0
        a, b = edge_graph(n, src, dst, w), reweighted(order, w)
        for field in ("src", "dst", "edge_id", "keys", "key_edge"):
            assert np.array_equal(getattr(a, field), getattr(b, field)), field
        for part in ("data", "indices", "indptr"):
            assert np.array_equal(getattr(a.matrix, part), getattr(b.matrix, part)), part
