"""Logit split, MSA and constant calibration hand-checked on a 3-node example."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from networks.assign import congestion_penalty, msa_assign
from networks.choice import grouped_logit_split, logit_split, logsum
from networks.graph import ChainSpec, build_multimodal_graph, chain_paths


def test_logit_by_hand() -> None:
    # V = (0, ln 2, -inf): shares 1/3, 2/3, 0
    shares = logit_split(np.array([0.0, math.log(2.0), -np.inf]))
    assert np.allclose(shares, [1 / 3, 2 / 3, 0.0])
    assert np.isclose(logsum(np.array([0.0, math.log(2.0)])), math.log(3.0))
    assert np.all(logit_split(np.full((2, 3), -np.inf)) == 0.0)
    # shift invariance and huge utilities stay finite
    assert np.allclose(logit_split(np.array([1000.0, 1000.0])), [0.5, 0.5])


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.lists(st.one_of(st.just(-np.inf), st.floats(-800.0, 800.0)), min_size=4, max_size=4), min_size=1),
    st.integers(1, 3),
)
def test_grouped_logit_equals_the_dense_logit(rows: list[list[float]], members: int) -> None:
    """The compact form over feasible alternatives only agrees with logit_split on the dense grid (-inf = infeasible),
    for every situation with at least one feasible alternative; member columns are independent."""
    dense = np.array(rows)[:, :, None] + np.linspace(0.0, 3.0, members)[None, None, :]  # (situations, alts, M)
    feasible = np.isfinite(dense[..., 0])
    flat = dense.reshape(-1, members)[feasible.reshape(-1)]
    situation = np.repeat(np.arange(len(rows)), feasible.sum(axis=1))
    start = np.flatnonzero(np.r_[True, situation[1:] != situation[:-1]]) if len(flat) else np.zeros(0, dtype=int)
    if len(flat) == 0:
        return
    compact = grouped_logit_split(flat, start)
    reference = logit_split(dense, axis=1).reshape(-1, members)[feasible.reshape(-1)]
    np.testing.assert_allclose(compact, reference, rtol=1e-12, atol=1e-300)
    sums = np.add.reduceat(compact, start, axis=0)
    np.testing.assert_allclose(sums, 1.0, rtol=1e-12)


def _three_node_graph(year: int = 2020) -> tuple:
    # places A (0,0), B (1,0), C (2,0); road A-B-C 100 km each; rail A-C 180 km; road-rail terminals at A and C
    nodes = pl.DataFrame(
        {
            "node": [0, 1, 2, 3, 4],
            "layer": ["road", "road", "road", "rail", "rail"],
            "osm_id": [1, 2, 3, 1, 3],
            "lon": [0.0, 1.0, 2.0, 0.0, 2.0],
            "lat": [0.0, 0.0, 0.0, 0.0, 0.0],
        }
    )
    rows = []
    for a, b, layer, km in ((0, 1, "road", 100.0), (1, 2, "road", 100.0), (3, 4, "rail", 180.0)):
        rows += [
            (layer, a, b, km, km, 50.0, 0, 9999, f"{layer}{a}{b}", 1),
            (layer, b, a, km, km, 50.0, 0, 9999, "x", 1),
        ]
    links = pl.DataFrame(
        rows,
        schema=[
            "layer",
            "from_node",
            "to_node",
            "length_km",
            "inside_km",
            "speed_kmh",
            "open_year",
            "close_year",
            "name",
            "osm_way",
        ],
        orient="row",
    )
    transfers = pl.DataFrame(
        {
            "terminal": ["TA", "TC"],
            "lon": [0.0, 2.0],
            "lat": [0.0, 0.0],
            "layer_a": ["road", "road"],
            "layer_b": ["rail", "rail"],
            "handling_yuan_t": [10.0, 10.0],
            "dwell_h": [0.0, 0.0],
            "drayage_km": [0.0, 0.0],
        }
    )
    zones = pl.DataFrame(
        {"zone": ["A", "B", "C"], "lon": [0.0, 1.0, 2.0], "lat": [0.0, 0.0, 0.0], "access_layer": ["road"] * 3}
    )
    return build_multimodal_graph(nodes, links, transfers, zones, year)


def test_chain_costs_on_three_nodes_by_hand() -> None:
    g = _three_node_graph()
    # cost per element: road 0.4 yuan/tkm, rail 0.15 yuan/tkm, handling 1:1
    from networks.graph import ATTRS

    coef = np.zeros(len(ATTRS))
    coef[ATTRS.index("road_km")] = 0.4
    coef[ATTRS.index("rail_km")] = 0.15
    coef[ATTRS.index("handling_yuan_t")] = 1.0
    cost = g.attrs @ coef
    road = chain_paths(g, ChainSpec("road", ("road",)), cost)
    rail = chain_paths(g, ChainSpec("rail", ("road", "rail", "road")), cost)
    assert np.isclose(road.cost[0, 2], 80.0)  # 200 km x 0.4
    assert np.isclose(rail.cost[0, 2], 47.0)  # 180 x 0.15 + 2 x 10 handling
    assert np.isinf(road.cost[0, 0])
    # rail A->B: the cheapest path in the chain graph would lift onto rail at A and straight off again (zero rail
    # km); the engine marks such degenerate paths infeasible rather than pretending rail is used
    assert np.isinf(rail.cost[0, 1])
    # incidence reproduces the cost
    assert np.isclose((rail.incidence @ cost)[0 * 3 + 2], 47.0)
    # logit over the two chains with theta = 0.05/yuan: share rail = 1 / (1 + exp(-0.05 x 33))
    theta = 0.05
    shares = logit_split(-theta * np.array([road.cost[0, 2], rail.cost[0, 2]]))
    assert np.isclose(shares[1], 1.0 / (1.0 + math.exp(-theta * 33.0)))


def test_constant_calibration_fixed_point_by_hand() -> None:
    # two chains, costs 80 and 47, theta 0.05: the ASC that gives rail a 30% share is
    # ln(0.3/0.7) - theta x (80 - 47) by hand; the log-ratio fixed point used in transport.freight reaches it.
    theta, target = 0.05, 0.3
    asc = 0.0
    for _ in range(100):
        share = logit_split(np.array([-theta * 80.0, asc - theta * 47.0]))[1]
        asc += math.log(target / share)
    expected = math.log(target / (1 - target)) - theta * (80.0 - 47.0)
    assert abs(asc - expected) < 1e-3


def test_msa_two_routes_reaches_logit_equilibrium() -> None:
    # demand 100 between two chains; chain 0 has capacity 40 with BPR congestion. The MSA fixed point satisfies
    # share_0 = logit(-theta * (c0 + pen(x0)), -theta * c1), checked against a bisection solution.
    theta, demand, cap, scale = 0.1, 100.0, 40.0, 100.0

    def load(penalty: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        s = logit_split(np.array([-theta * (10.0 + penalty[0]), -theta * 12.0]))
        return np.array([demand * s[0]]), {"both": np.array([demand * s[0], demand * s[1]])}

    res = msa_assign(load, np.array([cap]), np.array([scale]), max_iter=500, tol=1e-6)
    lo, hi = 0.0, demand
    for _ in range(100):
        x = 0.5 * (lo + hi)
        pen = congestion_penalty(np.array([x]), np.array([cap]), np.array([scale]))[0]
        s0 = logit_split(np.array([-theta * (10.0 + pen), -theta * 12.0]))[0]
        lo, hi = (x, hi) if demand * s0 > x else (lo, x)
    assert abs(res.group_flow[0] - x) < 0.5
    assert res.gap < 1e-2
    # every averaged output conserves demand
    assert np.isclose(res.outputs["both"].sum(), demand)


def test_msa_independent_columns_equal_each_problem_solved_alone() -> None:
    """Columns (Monte Carlo members) of different demand and capacity, solved together with `independent`, give each
    column's answer alone bit for bit, whichever columns are beside it; without it the common gap ties them."""
    theta, scale = 0.1, 100.0
    demand = np.array([100.0, 60.0, 140.0])
    cap = np.array([[40.0, 55.0, 30.0]])

    def loader(d: np.ndarray):  # type: ignore[no-untyped-def]
        def load(penalty: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
            s0 = 1.0 / (1.0 + np.exp(-theta * 12.0 + theta * (10.0 + penalty[0])))
            return (d * s0)[None, :], {"both": np.stack([d * s0, d * (1 - s0)], axis=1)}

        return load

    together = msa_assign(loader(demand), cap, np.array([scale]), max_iter=300, tol=1e-4, independent=True)
    for k in range(3):
        alone = msa_assign(loader(demand[[k]]), cap[:, [k]], np.array([scale]), max_iter=300, tol=1e-4)
        assert together.group_flow[0, k] == alone.group_flow[0, 0]
        assert np.array_equal(together.outputs["both"][k], alone.outputs["both"][0])
        pair = msa_assign(
            loader(demand[[k, (k + 1) % 3]]),
            cap[:, [k, (k + 1) % 3]],
            np.array([scale]),
            max_iter=300,
            tol=1e-4,
            independent=True,
        )
        assert pair.group_flow[0, 0] == alone.group_flow[0, 0]
    tied = msa_assign(loader(demand), cap, np.array([scale]), max_iter=300, tol=1e-4)
    assert not all(
        tied.group_flow[0, k]
        == msa_assign(loader(demand[[k]]), cap[:, [k]], np.array([scale]), max_iter=300, tol=1e-4).group_flow[0, 0]
        for k in range(3)
    )


@settings(max_examples=40, deadline=None)
@given(
    costs=st.lists(
        st.lists(st.sampled_from([0.5, 1.0, 2.0, 5.0, 20.0]), min_size=1, max_size=1), min_size=3, max_size=6
    ),
    seed=st.integers(0, 2**16),
)
def test_paths_remembered_between_calls_equal_a_fresh_search(costs: list[list[float]], seed: int) -> None:
    """chain_paths keeps the last paths of a graph and hands them back when Dijkstra finds the same predecessors:
    over a series of cost vectors (paths flip and flip back) every answer equals a search on a fresh graph."""
    rng = np.random.default_rng(seed)
    remembered = _three_node_graph()
    chains = (ChainSpec("road", ("road",)), ChainSpec("rail", ("road", "rail", "road")))
    for (scale,) in costs:
        cost = rng.choice([1.0, scale], size=remembered.n_elements) * rng.uniform(1.0, 1.0 + 1e-9)
        for chain in chains:
            got = chain_paths(remembered, chain, cost)
            fresh = chain_paths(_three_node_graph(), chain, cost)
            np.testing.assert_array_equal(got.cost, fresh.cost)
            np.testing.assert_array_equal(got.incidence.toarray(), fresh.incidence.toarray())
