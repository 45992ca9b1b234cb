"""Mode-chain routes, the chain logit and the capacity-restrained (MSA) loading of one year."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_array, vstack

from networks.assign import msa_assign
from networks.choice import grouped_logit_split
from networks.graph import ATTRS, MultimodalGraph, chain_paths
from transport.freight.data import FreightData
from transport.freight.frames import MSA_TOLERANCE
from transport.freight.names import CHAINS, COMMODITIES, MODES, PORT_WORDS, PORTS, RIVER_PORTS, T_PER_TEU, Asc
from transport.freight.network import YearPrices, _capacity, _element_cost
from transport.levers.freight import FreightLevers

# Rail-sea container services (train paths, yard handling, sailings timed to trains) are scheduled to demand: each year
# operators plan last year's volume grown with the container market plus SERVICE_HEADROOM, and add at most
# SERVICE_GROWTH_MAX of last year's services (the record: trains +39 % in 2021 and +44 % in 2022, services planned a
# year ahead; transport.freight.model.next_services). Volume beyond the services pays the BPR congestion cost at
# SERVICE_SCALE_YUAN_T (README "Ramp-up").
SERVICE_HEADROOM = 0.25
SERVICE_GROWTH_MAX = 0.5
SERVICE_SCALE_YUAN_T = 200.0
# BPR power of the services (the others: 4): near nothing below the services planned (4 % of the scale at 80 % use),
# a wall beyond them (0.15 x 200 x 1.2^16 = 554 yuan/t at 20 % over), so fewer containers do not make rail-sea cheaper
SERVICE_BPR_POWER = 16.0
SERVICE_GAP_WEIGHT = 100.0


# Coastal shipping Beibu Gulf <-> Guangdong for Guangxi cargo is rare next to the Xijiang and road routes; the
# constant keeps it small (assumption: -2, i.e. e^-2 = 0.14 of the odds at equal cost; range -3..-1; README).
COASTAL_ASC = -2.0
# The fitted constants weighting Routes.features columns A + G + 1 .. A + G + 5, in that order (A + G + 6 is the coastal
# constant, A + G + 7 the inland-water containers, Asc.WATER_CONTAINERS)
FEATURE_CONSTANTS = (Asc.RAIL, Asc.WATER, Asc.RAILSEA, Asc.LOG_KM_RAIL, Asc.LOG_KM_WATER)


# --- loading


@dataclass
class Routes:
    """Per commodity and chain: the OD x element incidence, OD x attribute sums, OD x group use, feasibility, and the
    member-independent terms every loading reuses (computed once per set of routes)."""

    incidence_t: list[csr_array]  # [c] (E, Z*Z*Kc): element x (OD, chain), columns OD-major
    path_attrs: np.ndarray  # (C, Z*Z, Kc, A)
    group_use: np.ndarray  # (C, Z*Z, Kc, G)
    railsea_use: np.ndarray  # (C, Z*Z, Kc) rail<->sea transfers crossed
    feasible: np.ndarray  # (C, Z*Z, Kc)
    # Loading works on the feasible (commodity, OD, chain) entries only (a fifth of the grid in Guangxi), in
    # (commodity, OD, chain) order, so each commodity's entries and each (commodity, OD)'s alternatives are contiguous.
    entries: np.ndarray = field(init=False)  # (N,) flat index into (C, Z*Z, Kc)
    entry_cod: np.ndarray = field(init=False)  # (N,) flat index into (C, Z*Z): the choice situation of the entry
    choice_start: np.ndarray = field(init=False)  # first entry of each choice situation with a feasible chain
    commodity_bounds: np.ndarray = field(init=False)  # (C + 1,) entries of commodity c: [b[c], b[c + 1])
    entry_incidence_t: list[csr_array] = field(init=False)  # [c] (E, entries of c)
    mode_use: np.ndarray = field(init=False)  # (N, 4) 1 where the path uses the mode inside the model
    # (N, A + G + 8) per feasible entry: path attributes, group use, rail-sea transfers (containers), the indicators
    # of the 3 constants (rail, inland water, rail-sea containers), log(1 + rail km/100), log(1 + water km/100),
    # coastal constant, inland-water containers; the member weights of these terms, in the same order, are built in
    # entry_utility
    features: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n_c, n_od, n_k, n_a = self.path_attrs.shape
        self.entries = np.flatnonzero(self.feasible.reshape(-1))
        self.entry_cod = self.entries // n_k
        self.choice_start = np.flatnonzero(np.r_[True, self.entry_cod[1:] != self.entry_cod[:-1]])
        self.commodity_bounds = np.searchsorted(self.entries // (n_od * n_k), np.arange(n_c + 1))
        self.entry_incidence_t = [
            csr_array(self.incidence_t[c][:, self.entries[lo:hi] - c * n_od * n_k])
            for c, (lo, hi) in enumerate(zip(self.commodity_bounds[:-1], self.commodity_bounds[1:], strict=True))
        ]
        in_km = self.path_attrs[..., [ATTRS.index(f"{m}_in_km") for m in MODES]]
        self.mode_use = (in_km > 0).astype(float).reshape(-1, len(MODES))[self.entries]
        # Constants: rail (rail and rail-sea chains of every commodity but containers), inland water (chains using
        # the river), rail-sea (rail-sea chains of containers, calibrated to the rail-sea TEU). Splitting rail-sea by
        # commodity identifies rail tonnes and rail-sea TEU separately.
        is_rail = np.array(["rail" in c.states for c in CHAINS], dtype=float)
        is_railsea = np.array([c.name.startswith("rail_sea") for c in CHAINS], dtype=float)
        k_water = np.array(["inland_water" in c.states for c in CHAINS], dtype=float)
        coastal = np.array([c.name.startswith("coastal") for c in CHAINS], dtype=float)
        box = np.array([c == "containers" for c in COMMODITIES], dtype=float)[:, None]  # (C, 1)
        k_rail = is_rail[None, :] * (1.0 - box * is_railsea[None, :])
        per_chain = np.stack([k_rail, np.broadcast_to(k_water, (n_c, n_k)), box * is_railsea])  # (3, C, Kc)
        n_g = self.group_use.shape[-1]
        x = np.empty((n_c, n_od, n_k, n_a + n_g + 8))
        x[..., :n_a] = self.path_attrs
        x[..., n_a : n_a + n_g] = self.group_use
        x[..., n_a + n_g] = self.railsea_use * box[:, :, None]
        x[..., n_a + n_g + 1 : n_a + n_g + 4] = per_chain.transpose(1, 2, 0)[:, None]
        x[..., n_a + n_g + 4] = np.log1p(self.path_attrs[..., ATTRS.index("rail_km")] / 100.0)
        x[..., n_a + n_g + 5] = np.log1p(self.path_attrs[..., ATTRS.index("inland_water_km")] / 100.0)
        x[..., n_a + n_g + 6] = COASTAL_ASC * coastal
        # Inland-water containers: the Xijiang's established barge services to the Pearl River Delta (calibrated to the
        # inland ports' 2020 TEU); the Pinglu Canal route to Qinzhou opens later and has none of them in 2020
        xijiang = k_water * np.array([c.name != "water_sea:qinzhou" for c in CHAINS], dtype=float)
        x[..., n_a + n_g + 7] = (box * xijiang[None, :])[:, None]
        self.features = x.reshape(n_c * n_od * n_k, -1)[self.entries]


def _special_elements(graph: MultimodalGraph) -> dict[str, np.ndarray]:
    """Element masks of rail-sea transfers and of each port's sea transfers (built once per graph: every loading
    reads them)."""
    if "special_elements" not in graph.derived:
        graph.derived["special_elements"] = _build_special_elements(graph)
    return graph.derived["special_elements"]


def _build_special_elements(graph: MultimodalGraph) -> dict[str, np.ndarray]:
    kind = graph.el_layer
    transfer = graph.el_kind == "transfer"
    out = {"railsea": np.isin(kind, ["rail>sea", "sea>rail"]) & transfer}
    out["railriver"] = np.isin(kind, ["rail>inland_water", "inland_water>rail"]) & transfer
    river_terminals = [f"{p} river port" for p in RIVER_PORTS] + [f"{p} rail-river wharf" for p in RIVER_PORTS]
    out["river_port"] = transfer & np.isin(graph.el_name.astype(str), river_terminals)
    to_sea = np.char.endswith(kind.astype(str), ">sea") | np.char.startswith(kind.astype(str), "sea>")
    for port in PORTS:
        word = PORT_WORDS[port]
        at = np.char.find(graph.el_name.astype(str), word) >= 0
        out[f"port:{port}"] = to_sea & at & (graph.el_kind == "transfer")
        out[f"railsea:{port}"] = out["railsea"] & at
    return out


def find_routes(graph: MultimodalGraph, element_cost: np.ndarray) -> Routes:
    """Least-cost paths per commodity (element_cost: (C, E)) and chain, with their attribute sums."""
    z = len(graph.zones)
    gm = graph.group_matrix()
    rs = _special_elements(graph)["railsea"].astype(float)
    n_c, n_k = element_cost.shape[0], len(CHAINS)
    attrs = np.zeros((n_c, z * z, n_k, len(ATTRS)))
    groups = np.zeros((n_c, z * z, n_k, gm.shape[1]))
    railsea = np.zeros((n_c, z * z, n_k))
    feasible = np.zeros((n_c, z * z, n_k), dtype=bool)
    incidence_t: list[csr_array] = []
    # row o * Kc + k of the stacked incidence is OD o on chain k (vstack puts chain k's ODs at k * Z*Z + o)
    od_major = (np.arange(z * z)[:, None] + z * z * np.arange(n_k)[None, :]).reshape(-1)
    found = [[chain_paths(graph, chain, element_cost[c], slot=c) for chain in CHAINS] for c in range(n_c)]
    # the same paths as the graph's last routing (chain_paths hands back the same matrices): the same routes
    key = [[(id(paths.incidence), np.isfinite(paths.cost).tobytes()) for paths in row] for row in found]
    last = graph.derived.get("routes")
    if last is not None and last[0] == key:
        return last[2]
    # most years change the paths of a few chains only: the sums over a chain's paths, and a commodity's stacked
    # incidence, are kept from the last routing per incidence matrix (chain_paths hands back the same object for the
    # same paths)
    sums: dict[int, tuple] = graph.derived.get("chain_sums", {})
    stacked: dict[tuple[int, ...], tuple] = graph.derived.get("stacked_incidence", {})
    for c in range(n_c):
        for k, paths in enumerate(found[c]):
            inc = paths.incidence
            if id(inc) not in sums:
                by_group = inc @ gm
                sums[id(inc)] = (
                    inc,  # kept alive with its sums, so its id cannot be taken by another matrix
                    csr_array(inc),
                    inc @ graph.attrs,
                    by_group.toarray() if hasattr(by_group, "toarray") else by_group,
                    inc @ rs,
                )
            _inc, _csr, attrs[c, :, k], groups[c, :, k], railsea[c, :, k] = sums[id(inc)]
            feasible[c, :, k] = np.isfinite(paths.cost).reshape(-1)
        ids = tuple(id(paths.incidence) for paths in found[c])
        if ids not in stacked:
            row = [sums[i][1] for i in ids]
            stacked[ids] = (row, csr_array(vstack(row, format="csr")[od_major].T))
        incidence_t.append(stacked[ids][1])
    kept = {id(paths.incidence) for row in found for paths in row}
    graph.derived["chain_sums"] = {i: v for i, v in sums.items() if i in kept}
    graph.derived["stacked_incidence"] = {
        ids: stacked[ids] for ids in {tuple(id(paths.incidence) for paths in row) for row in found}
    }
    # a chain must use its main mode inside the model (a rail chain with no rail km is the road chain in disguise)
    for k, chain in enumerate(CHAINS):
        for layer in set(chain.states) - {"road"}:
            feasible[:, :, k] &= attrs[:, :, k, ATTRS.index(f"{layer}_km")] > 0
    routes = Routes(incidence_t, attrs, groups, railsea, feasible)
    # the matrices are kept alive with the key, so their ids cannot be taken by other matrices
    graph.derived["routes"] = (key, [paths.incidence for row in found for paths in row], routes)
    return routes


@dataclass
class Choice:
    """Member-specific choice parameters: logit scale and calibrated constants."""

    theta: np.ndarray  # (C, M) per yuan/t
    asc: np.ndarray  # (M, len(Asc)): chain constants, columns named by transport.freight.names.Asc


def entry_utility(routes: Routes, prices: YearPrices, penalty: np.ndarray, choice: Choice) -> np.ndarray:
    """Utility (N, M) of every feasible (commodity, OD, chain) entry for every member.

    V = calibrated constants (rail, inland water, rail-sea containers, inland-water containers) + log-km terms
        + coastal constant - theta_c x generalized cost (tariffs, time, handling, tolls, congestion penalties of the
        capacity groups and of the rail-sea container services, less the rail-sea subsidy).
    penalty: (G + 1, M) yuan/t, the graph's groups then the rail-sea container services.
    Every term is a route feature times a member weight, so V is one BLAS product per commodity of the routes'
    feature matrix (computed once per set of routes) and a small (terms, M) weight matrix."""
    n_a = routes.path_attrs.shape[-1]
    members = prices.coef.shape[0]
    n_g = routes.group_use.shape[-1]
    theta, a = choice.theta[:, None, :], choice.asc  # theta (C, 1, M)
    penalty = np.asarray(penalty, dtype=float)
    weights = np.empty((len(COMMODITIES), n_a + n_g + 8, members))
    weights[:, :n_a] = -theta * prices.coef.transpose(1, 2, 0)
    weights[:, n_a : n_a + n_g] = -theta * penalty[:n_g].reshape(n_g, members)
    weights[:, n_a + n_g] = theta[:, 0] * (prices.railsea_subsidy_yuan_t - penalty[n_g])
    weights[:, n_a + n_g + 1 : n_a + n_g + 6] = a[:, list(FEATURE_CONSTANTS)].T
    weights[:, n_a + n_g + 6] = 1.0  # the coastal constant is in the feature (COASTAL_ASC), not fitted
    weights[:, n_a + n_g + 7] = a[:, Asc.WATER_CONTAINERS]
    util = np.empty((len(routes.entries), members))
    bounds = routes.commodity_bounds
    for c in range(len(COMMODITIES)):
        np.matmul(routes.features[bounds[c] : bounds[c + 1]], weights[c], out=util[bounds[c] : bounds[c + 1]])
    return util


def chain_utility(routes: Routes, prices: YearPrices, penalty: np.ndarray, choice: Choice) -> np.ndarray:
    """Utility (C, OD, Kc, M) on the whole grid, members last; -inf where the chain is infeasible (for inspection
    and tests: loading works on the feasible entries, `entry_utility`)."""
    n_c, n_od, n_k, _ = routes.path_attrs.shape
    members = prices.coef.shape[0]
    util = np.full((n_c * n_od * n_k, members), -np.inf)
    util[routes.entries] = entry_utility(routes, prices, penalty, choice)
    return util.reshape(n_c, n_od, n_k, members)


def statistical_km(graph: MultimodalGraph) -> np.ndarray:
    """(E, modes) km each element adds to a tonne's tkm of each mode in table `freight`: road and inland-water
    statistics count carriers' whole hauls, rail statistics tkm on the region's own lines (rail_in_km), sea the whole
    sea leg of shipments through the Beibu Gulf ports and nothing of the Guangzhou-ASEAN lane (sea_in_km: the lanes'
    inside_km say which, README "Scope and definitions"); a transfer's drayage is road km."""
    return np.stack(
        [graph.attrs[:, ATTRS.index(f"{m}_in_km" if m in ("rail", "sea") else f"{m}_km")] for m in MODES], axis=1
    )


@dataclass
class Loading:
    """One all-or-nothing-per-chain loading of the network (all members)."""

    group_flow: np.ndarray  # (G, M) Mt
    outputs: dict[str, np.ndarray]
    route_cost: np.ndarray | None = None  # (C, E) the element costs the routes were found with (assign_year)


def load_network(
    graph: MultimodalGraph,
    routes: Routes,
    demand: np.ndarray,
    intrazonal: np.ndarray,
    prices: YearPrices,
    penalty: np.ndarray,
    choice: Choice,
) -> Loading:
    """Split demand (M, C, Z*Z) Mt over chains and load the elements: tonnes, tkm, port, river-port, rail-sea and
    rail-river flows. group_flow: (G + 1, M) Mt, the graph's groups then the rail-sea container services."""
    members, n_c = demand.shape[0], demand.shape[1]
    flow = grouped_logit_split(entry_utility(routes, prices, penalty, choice), routes.choice_start, overwrite=True)
    flow *= demand.reshape(members, -1).T[routes.entry_cod]  # (N, M) Mt
    special = _special_elements(graph)
    gm = graph.group_matrix()
    # tkm by the statistical convention (whole haul of a shipment that touches Guangxi), and road tkm inside Guangxi
    # (what Guangxi's truck fleet drives, handed to fleets)
    full_km = statistical_km(graph)  # (E, 4)
    road_in = graph.attrs[:, ATTRS.index("road_in_km")]
    road_tkm_in = np.zeros((members, n_c))
    tkm = np.zeros((members, n_c, len(MODES)))
    tonnes = np.zeros((members, n_c, len(MODES)))
    port = np.zeros((members, n_c, len(PORTS)))
    railsea = np.zeros((members, len(PORTS)))
    railriver = np.zeros(members)
    river_port = np.zeros((members, n_c))
    group_flow = np.zeros((gm.shape[1] + 1, members))
    group_box = np.zeros((gm.shape[1], members))
    # tonnes and container tonnes through every element, all commodities (transport.freight.model: link flows)
    element_mt = np.zeros((graph.n_elements, members))
    element_box = np.zeros((graph.n_elements, members))
    bounds = routes.commodity_bounds
    for c in range(n_c):
        flow_c = flow[bounds[c] : bounds[c + 1]]  # (entries of c, M)
        el_flow = routes.entry_incidence_t[c] @ flow_c  # (E, M)
        element_mt += el_flow
        tkm[:, c] = (el_flow.T @ full_km) / 1000.0  # Mt x km -> bn tkm
        road_tkm_in[:, c] = (el_flow.T @ road_in) / 1000.0
        tonnes[:, c] = flow_c.T @ routes.mode_use[bounds[c] : bounds[c + 1]]
        for p, port_name in enumerate(PORTS):
            port[:, c, p] = el_flow[special[f"port:{port_name}"]].sum(axis=0)
            if COMMODITIES[c] == "containers":
                railsea[:, p] = el_flow[special[f"railsea:{port_name}"]].sum(axis=0)
        river_port[:, c] = el_flow[special["river_port"]].sum(axis=0)
        by_group = gm.T @ el_flow
        group_flow[:-1] += by_group
        if COMMODITIES[c] == "containers":
            railriver = el_flow[special["railriver"]].sum(axis=0)
            group_box += by_group
            element_box += el_flow
    group_flow[-1] = railsea.sum(axis=1)
    # intrazonal freight: road only, inside the prefecture
    tonnes[:, :, 0] += intrazonal[..., 0].sum(axis=-1)
    tkm[:, :, 0] += intrazonal[..., 1].sum(axis=-1) / 1000.0
    road_tkm_in += intrazonal[..., 1].sum(axis=-1) / 1000.0
    outputs = {
        "tkm": tkm,
        "tonnes": tonnes,
        "port": port,
        "railsea_teu": railsea * 1e6 / T_PER_TEU,
        "road_tkm_in": road_tkm_in,
        "river_port": river_port,
        "railriver_teu": railriver * 1e6 / T_PER_TEU,
        "group_teu": group_box.T * 1e6 / T_PER_TEU,  # (M, G)
        "element_mt": element_mt.T,  # (M, E) tonnes of every commodity through each element, Mt
        "element_teu": element_box.T * 1e6 / T_PER_TEU,  # (M, E) containers through each element
        "intrazonal_road_tkm": intrazonal[..., 1].sum(axis=(1, 2)) / 1000.0,  # (M,) bn tkm, on no element
        "intrazonal_road_tkm_by_zone": intrazonal[..., 1].sum(axis=1) / 1000.0,  # (M, Z) bn tkm
    }
    return Loading(group_flow, outputs)


def assign_year(
    data: FreightData,
    levers: FreightLevers,
    graph: MultimodalGraph,
    prices: YearPrices,
    demand: np.ndarray,
    intrazonal: np.ndarray,
    choice: Choice,
    year: int,
    *,
    max_iter: int = 40,
    tol: float = MSA_TOLERANCE,
    start_penalty: np.ndarray | None = None,
    service_mt: np.ndarray | None = None,
    route_cost: np.ndarray | None = None,
) -> tuple[Loading, float, np.ndarray]:
    """Capacity-restrained assignment of one year by MSA; returns the averaged loading, the gap and the penalties.

    max_iter 40: with 12, the plan scenario's years from 2047 on stopped at gaps of 0.05-0.12 (capacity saturates and
    MSA's 1/k steps are slow), which left late-year results sensitive to rounding and carried a poor start penalty
    into the next year; 40 reaches the 5e-3 gap in every year, and the whole run is faster (2.8 s instead of 7 s for
    the central member) because converged penalties let the next years reuse their routes.
    service_mt: (M,) capacity of the rail-sea container services, Mt (None: unrestrained). route_cost (C, E): the
    element costs to find the routes with (another run's, so that both share routes), else the first member's at
    the starting congestion."""
    members = demand.shape[0]
    capacity, scale = year_capacity(data, graph, levers, year, service_mt, members)
    start = np.zeros((len(graph.groups) + 1, members)) if start_penalty is None else start_penalty
    # Routes within each chain are optimised once per year at the starting congestion (the previous year's, or the
    # calibrated base year's); MSA then equilibrates the chain shares, which are smooth in cost, so the gap shrinks
    # to zero instead of flip-flopping between all-or-nothing routes.
    element_cost = _element_cost(graph, prices, start) if route_cost is None else route_cost
    loading_route_cost = element_cost
    # years with the same network and (rounded) prices share routes: most baseline years do
    key = f"routes:{id(graph)}:{hash(np.round(element_cost, 1).tobytes())}"
    if key not in data.cache:
        data.cache[key] = find_routes(graph, element_cost)
    routes: Routes = data.cache[key]  # type: ignore[assignment]

    # The services carry a few Mt against hundreds at the ports: weighted up (flow and capacity alike, so the penalty
    # is unchanged) their convergence counts in the MSA gap, which otherwise stops with rail-sea still oscillating.
    weight = np.ones((len(capacity), 1))
    weight[-1] = SERVICE_GAP_WEIGHT

    def load(penalty: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        out = load_network(graph, routes, demand, intrazonal, prices, penalty, choice)
        return out.group_flow * weight, out.outputs

    power = bpr_power(len(capacity))
    res = msa_assign(
        load,
        capacity * weight,
        scale[:, None],
        beta=power,
        max_iter=max_iter,
        tol=tol,
        start_penalty=start,
        independent=True,  # each member stops on its own gap: its freight never depends on the others'
    )
    return Loading(res.group_flow / weight, res.outputs, loading_route_cost), res.gap, res.penalty


def year_capacity(
    data: FreightData,
    graph: MultimodalGraph,
    levers: FreightLevers,
    year: int,
    service_mt: np.ndarray | None,
    members: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Capacity (G + 1, M) Mt/yr and cost scale (G + 1,) yuan/t: the graph's groups as built plus expansions, then the
    rail-sea container services (inf = unrestrained)."""
    capacity, scale = _capacity(data, graph, levers, year)
    service = np.full(members, np.inf) if service_mt is None else np.broadcast_to(service_mt, (members,))
    return (
        np.vstack([np.repeat(capacity[:, None], members, axis=1), service[None, :]]),
        np.r_[scale, SERVICE_SCALE_YUAN_T],
    )


def bpr_power(n_groups: int) -> np.ndarray:
    """(G + 1, 1) BPR power of each capacity group: 4, and SERVICE_BPR_POWER for the rail-sea services (last)."""
    power = np.full((n_groups, 1), 4.0)
    power[-1] = SERVICE_BPR_POWER
    return power
