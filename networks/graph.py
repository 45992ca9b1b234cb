"""The multimodal freight graph: layer nodes, links, terminal transfers, zones; and least-cost paths per mode chain.

Structure. Every place has one node per mode layer it is on (road, rail, inland_water, sea). Links join nodes of one
layer; transfer edges join two layers at a terminal and carry handling cost (yuan/t), dwell time (h) and the local
drayage (km by truck between the yard and the quay or gate). Everything that a path crosses is an *element* (a link or
one direction of a transfer) with a row of additive attributes (`ATTRS`): km per mode (whole and inside the study area),
hours, handling yuan/t, tolled km. The generalized cost of an element for a commodity is linear in these attributes
(`attrs @ coef`), so a path's attributes, summed once, give its cost for any tariff, value of time or carbon price.

Mode chains. A chain is a sequence of layer *states*, e.g. rail-sea = (road, rail, sea): the path starts on the road
layer at the origin zone, may transfer to rail at a road-rail terminal, then to sea at a rail-sea terminal, and must end
in the last state at the destination zone. Each state is a copy of its layer's nodes, so a chain's path cannot skip a
state (a rail chain cannot degenerate into road only). Chains run in both orientations (an inland origin exports by
(road, rail, sea); an import runs (sea, rail, road)); per OD the cheaper feasible orientation is the chain's path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy.sparse import csr_array

from networks.osm import LAYERS, OPEN_FOREVER, snap_points
from networks.paths import edge_order, many_source_costs, path_edges, reweighted

ATTRS = (
    "road_km",
    "rail_km",
    "inland_water_km",
    "sea_km",
    "road_in_km",
    "rail_in_km",
    "inland_water_in_km",
    "sea_in_km",
    "hours",
    "handling_yuan_t",
    "toll_km",
)
A = {name: i for i, name in enumerate(ATTRS)}

TRANSFER_COLUMNS = ("terminal", "lon", "lat", "layer_a", "layer_b", "handling_yuan_t", "dwell_h", "drayage_km")


@dataclass(frozen=True)
class ChainSpec:
    """A mode chain: its name and the layer states a path passes through, in order (origin side first)."""

    name: str
    states: tuple[str, ...]
    via: str = ""  # if set, transfers into or out of the sea layer only at terminals whose name contains it


DEFAULT_CHAINS: tuple[ChainSpec, ...] = (
    ChainSpec("road", ("road",)),
    ChainSpec("rail", ("road", "rail", "road")),
    ChainSpec("inland_water", ("road", "inland_water", "road")),
    ChainSpec("road_sea", ("road", "sea")),
    ChainSpec("rail_sea", ("road", "rail", "sea")),
    ChainSpec("water_sea", ("road", "inland_water", "sea")),
)


@dataclass(frozen=True)
class MultimodalGraph:
    """Nodes, elements (links then transfers, each transfer in both directions) and zones of one network year."""

    n_nodes: int
    node_layer: np.ndarray  # (N,) layer name per node
    el_src: np.ndarray  # (E,) node index
    el_dst: np.ndarray
    el_kind: np.ndarray  # (E,) "link" or "transfer"
    el_layer: np.ndarray  # (E,) layer of a link; "layer_a>layer_b" of a transfer
    el_name: np.ndarray  # (E,) link name or terminal name
    el_group: np.ndarray  # (E,) capacity group index, -1 if none
    el_open: np.ndarray  # (E,) bool: open in the graph's year
    attrs: np.ndarray  # (E, len(ATTRS))
    groups: tuple[str, ...]
    zones: tuple[str, ...]
    zone_node: np.ndarray  # (Z,) node of each zone in its access layer
    zone_layer: np.ndarray  # (Z,) access layer of each zone
    zone_snap_km: np.ndarray  # (Z,) distance from the zone point to its node
    # further (element, group) memberships: a port's berths serve its rail-sea yard too, so one transfer can load
    # two groups (the yard and the port)
    el_group_extra: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    # structures derived from the (immutable) arrays above, built on first use: a year's graph is routed and loaded
    # hundreds of times
    derived: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_elements(self) -> int:
        return len(self.el_src)

    def group_matrix(self) -> csr_array:
        """(elements x groups) 0/1 matrix: which capacity group each element loads."""
        if "group_matrix" not in self.derived:
            rows = np.flatnonzero(self.el_group >= 0)
            rows_all = np.concatenate([rows, self.el_group_extra[:, 0]])
            cols_all = np.concatenate([self.el_group[rows], self.el_group_extra[:, 1]])
            shape = (self.n_elements, max(len(self.groups), 1))
            self.derived["group_matrix"] = csr_array((np.ones(len(rows_all)), (rows_all, cols_all)), shape=shape)
        return self.derived["group_matrix"]


def _group_index(
    names: pl.Series, group_of: Mapping[str, str | tuple[str, ...]], groups: list[str]
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """First capacity group of each name (-1 if none) and the (row, group) pairs of its further groups."""
    out = np.full(len(names), -1, dtype=np.int64)
    extra: list[tuple[int, int]] = []
    for i, name in enumerate(names.to_list()):
        found = group_of.get(name) or ()
        for k, group in enumerate((found,) if isinstance(found, str) else found):
            if group not in groups:
                groups.append(group)
            if k == 0:
                out[i] = groups.index(group)
            else:
                extra.append((i, groups.index(group)))
    return out, extra


def build_multimodal_graph(
    nodes: pl.DataFrame,
    links: pl.DataFrame,
    transfers: pl.DataFrame,
    zones: pl.DataFrame,
    year: int,
    *,
    link_groups: Mapping[str, str | tuple[str, ...]] | None = None,
    terminal_groups: Mapping[str, str | tuple[str, ...]] | None = None,
    tolled_layers: tuple[str, ...] = ("road",),
) -> MultimodalGraph:
    """Assemble the graph of `year` from node/link tables (see `networks.osm.load_osm_layers`), terminals and zones.

    transfers: terminal, lon, lat, layer_a, layer_b, handling_yuan_t, dwell_h, drayage_km (+ optional open_year,
    close_year); each terminal is snapped to the nearest node of both layers and gives one element per direction.
    zones: zone, lon, lat, access_layer. link_groups and terminal_groups map names to capacity groups (one, or a
    tuple: an element may load several groups, e.g. a rail-sea transfer loads its yard and its port's berths).
    A link is open in `year` if open_year <= year < close_year; closed elements keep their rows (stable indices).
    """
    n = nodes.height
    groups: list[str] = []
    # links
    l_src = links["from_node"].to_numpy().astype(np.int64)
    l_dst = links["to_node"].to_numpy().astype(np.int64)
    l_layer = links["layer"].to_numpy().astype(str)
    length = links["length_km"].to_numpy().astype(float)
    inside = links["inside_km"].to_numpy().astype(float)
    speed = links["speed_kmh"].to_numpy().astype(float)
    l_attrs = np.zeros((links.height, len(ATTRS)))
    for layer in LAYERS:
        on = l_layer == layer
        l_attrs[on, A[f"{layer}_km"]] = length[on]
        l_attrs[on, A[f"{layer}_in_km"]] = inside[on]
    l_attrs[:, A["hours"]] = length / np.maximum(speed, 1e-6)
    l_attrs[:, A["toll_km"]] = np.where(np.isin(l_layer, tolled_layers), inside, 0.0)
    l_open = (links["open_year"].to_numpy() <= year) & (year < links["close_year"].to_numpy())
    l_group, l_extra = _group_index(links["name"], link_groups or {}, groups)
    # transfers: snap each terminal to both layers, one element per direction
    lon, lat = transfers["lon"].to_numpy(), transfers["lat"].to_numpy()
    la, lb = transfers["layer_a"].to_numpy().astype(str), transfers["layer_b"].to_numpy().astype(str)
    node_a = np.array([snap_points(nodes, lon[i : i + 1], lat[i : i + 1], la[i])[0][0] for i in range(len(lon))])
    node_b = np.array([snap_points(nodes, lon[i : i + 1], lat[i : i + 1], lb[i])[0][0] for i in range(len(lon))])
    valid = (node_a >= 0) & (node_b >= 0)
    t_open_year = transfers["open_year"].to_numpy() if "open_year" in transfers.columns else np.zeros(len(lon))
    t_close = (
        transfers["close_year"].to_numpy() if "close_year" in transfers.columns else np.full(len(lon), OPEN_FOREVER)
    )
    t_open = valid & (t_open_year <= year) & (year < t_close)
    t_attrs = np.zeros((len(lon), len(ATTRS)))
    dray = transfers["drayage_km"].to_numpy().astype(float)
    t_attrs[:, A["road_km"]] = dray
    t_attrs[:, A["road_in_km"]] = dray
    t_attrs[:, A["hours"]] = transfers["dwell_h"].to_numpy()
    t_attrs[:, A["handling_yuan_t"]] = transfers["handling_yuan_t"].to_numpy()
    t_group, t_extra = _group_index(transfers["terminal"], terminal_groups or {}, groups)
    n_l, n_t = links.height, len(lon)
    extra_rows = (
        [(r, g) for r, g in l_extra] + [(n_l + r, g) for r, g in t_extra] + [(n_l + n_t + r, g) for r, g in t_extra]
    )
    t_names = transfers["terminal"].to_numpy().astype(str)
    zone_layer = zones["access_layer"].to_numpy().astype(str)
    zone_node = np.zeros(zones.height, dtype=np.int64)
    zone_km = np.zeros(zones.height)
    for i in range(zones.height):
        node, km = snap_points(
            nodes, zones["lon"].to_numpy()[i : i + 1], zones["lat"].to_numpy()[i : i + 1], zone_layer[i]
        )
        zone_node[i], zone_km[i] = node[0], km[0]
    safe_a, safe_b = np.where(valid, node_a, 0), np.where(valid, node_b, 0)
    return MultimodalGraph(
        n_nodes=n,
        node_layer=nodes["layer"].to_numpy().astype(str),
        el_src=np.concatenate([l_src, safe_a, safe_b]),
        el_dst=np.concatenate([l_dst, safe_b, safe_a]),
        el_kind=np.array(["link"] * links.height + ["transfer"] * (2 * len(lon))),
        el_layer=np.concatenate(
            [l_layer, np.char.add(np.char.add(la, ">"), lb), np.char.add(np.char.add(lb, ">"), la)]
        ),
        el_name=np.concatenate([links["name"].to_numpy().astype(str), t_names, t_names]),
        el_group=np.concatenate([l_group, t_group, t_group]),
        el_open=np.concatenate([l_open, t_open, t_open]),
        attrs=np.vstack([l_attrs, t_attrs, t_attrs]),
        groups=tuple(groups),
        zones=tuple(zones["zone"].to_list()),
        zone_node=zone_node,
        zone_layer=zone_layer,
        zone_snap_km=zone_km,
        el_group_extra=np.array(extra_rows, dtype=np.int64).reshape(-1, 2),
    )


@dataclass(frozen=True)
class ChainPaths:
    """Least-cost paths of one chain for all OD pairs: cost (Z, Z), and the OD x element incidence matrix."""

    cost: np.ndarray  # (Z, Z) yuan/t at the weights used for routing; inf where infeasible
    incidence: csr_array  # (Z*Z, E) how often each OD's path crosses each element (0/1 in practice)


def _state_edges(
    graph: MultimodalGraph, states: tuple[str, ...], via: str = ""
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Supergraph edges (src, dst, element id; -1 = zone connector) of a chain orientation."""
    key = ("state_edges", states, via)
    if key not in graph.derived:
        graph.derived[key] = _build_state_edges(graph, states, via)
    return graph.derived[key]


def _build_state_edges(
    graph: MultimodalGraph, states: tuple[str, ...], via: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, k, z = graph.n_nodes, len(states), len(graph.zones)
    src, dst, el = [], [], []
    is_link = graph.el_kind == "link"
    for s, layer in enumerate(states):
        ids = np.flatnonzero(is_link & graph.el_open & (graph.el_layer == layer))
        src.append(s * n + graph.el_src[ids])
        dst.append(s * n + graph.el_dst[ids])
        el.append(ids)
        if s + 1 < k:
            ok = ~is_link & graph.el_open & (graph.el_layer == f"{layer}>{states[s + 1]}")
            if via and "sea" in (layer, states[s + 1]):
                ok &= np.char.find(graph.el_name.astype(str), via) >= 0
            ids = np.flatnonzero(ok)
            src.append(s * n + graph.el_src[ids])
            dst.append((s + 1) * n + graph.el_dst[ids])
            el.append(ids)
    zs = np.arange(z)
    first = graph.zone_layer == states[0]
    last = graph.zone_layer == states[-1]
    src += [k * n + zs[first], (k - 1) * n + graph.zone_node[last]]
    dst += [graph.zone_node[first], k * n + z + zs[last]]
    el += [np.full(first.sum(), -1), np.full(last.sum(), -1)]
    return np.concatenate(src), np.concatenate(dst), np.concatenate(el)


def chain_paths(graph: MultimodalGraph, chain: ChainSpec, element_cost: np.ndarray, slot: int = 0) -> ChainPaths:
    """Least-cost path of `chain` for every OD pair at the given element costs (yuan/t, >= 0).

    Both orientations of the chain are searched (for a symmetric chain like road they coincide); per OD the cheaper
    one is kept. Paths from a zone to itself are infeasible (intrazonal freight is the caller's business), and so are
    paths with zero km on a non-road layer of the chain (see below).

    A year's graph is routed at many cost vectors (every year's prices and congestion) that mostly leave the paths as
    they were: Dijkstra runs every time, but when its predecessors and the edges it kept are those of the graph's last
    call for this chain, the path incidence is that call's (recovering paths and building the sparse matrices was
    two thirds of routing). Same inputs, same matrices: the result is the one a full recovery gives. `slot` keeps
    one such memory per caller's cost series (e.g. per commodity), so alternating series do not evict each other.
    """
    n, z = graph.n_nodes, len(graph.zones)
    orientations = [chain.states]
    if tuple(reversed(chain.states)) != chain.states:
        orientations.append(tuple(reversed(chain.states)))
    memo: dict[Any, Any] = graph.derived.setdefault(("paths", chain.states, chain.via, slot), {})
    best_cost = np.full((z, z), np.inf)
    best_inc: csr_array | None = None
    for o, states in enumerate(orientations):
        k = len(states)
        src, dst, el = _state_edges(graph, states, chain.via)
        weight = np.where(el >= 0, element_cost[np.maximum(el, 0)], 0.0)
        order_key = ("edge_order", states, chain.via)
        if order_key not in graph.derived:
            graph.derived[order_key] = edge_order(k * n + 2 * z, src, dst)
        g = reweighted(graph.derived[order_key], weight)  # = edge_graph(k * n + 2 * z, src, dst, weight)
        sources = k * n + np.arange(z)
        targets = k * n + z + np.arange(z)
        dist, pred = many_source_costs(g, sources, predecessors=True)
        cost = dist[:, targets]
        np.fill_diagonal(cost, np.inf)
        last = memo.get(("orientation", o))
        if last is not None and np.array_equal(last[0], pred) and np.array_equal(last[1], g.edge_id):
            inc = last[2]
        else:
            p, e = path_edges(g, pred, sources, targets)
            keep = el[e] >= 0 if len(e) else np.zeros(0, dtype=bool)
            inc = csr_array((np.ones(int(keep.sum())), (p[keep], el[e[keep]])), shape=(z * z, graph.n_elements))
            memo[("orientation", o)] = (pred, g.edge_id, inc)
        if best_inc is None:
            best_cost, best_inc = cost, inc
            continue
        better = (cost < best_cost).reshape(-1)
        last = memo.get("merged")
        if last is not None and last[0] is best_inc and last[1] is inc and np.array_equal(last[2], better):
            best_inc = last[3]
        else:
            pick = csr_array((better.astype(float), (np.arange(z * z), np.arange(z * z))), shape=(z * z, z * z))
            keep_old = csr_array(((~better).astype(float), (np.arange(z * z), np.arange(z * z))), shape=(z * z, z * z))
            merged = csr_array(keep_old @ best_inc + pick @ inc)
            memo["merged"] = (best_inc, inc, better, merged)
            best_inc = merged
        best_cost = np.minimum(best_cost, cost)
    assert best_inc is not None
    # A path that enters a layer and leaves it at the same terminal (zero km on it) is the road chain in disguise,
    # plus two handlings: the chain is infeasible for that OD.
    for layer in set(chain.states) - {"road"}:
        km = best_inc @ graph.attrs[:, A[f"{layer}_km"]]
        best_cost = np.where(km.reshape(z, z) > 0, best_cost, np.inf)
    # drop incidence rows of infeasible ODs (e.g. diagonal, where a path may exist but is not a trip)
    feasible = np.isfinite(best_cost).reshape(-1).astype(float)
    last = memo.get("masked")
    if last is not None and last[0] is best_inc and np.array_equal(last[1], feasible):
        return ChainPaths(best_cost, last[2])
    mask = csr_array((feasible, (np.arange(z * z), np.arange(z * z))), shape=(z * z, z * z))
    masked = csr_array(mask @ best_inc)
    memo["masked"] = (best_inc, feasible, masked)
    return ChainPaths(best_cost, masked)
