"""The freight model over the years: demand growth, yearly assignment, results and the truck hand-off."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import polars as pl
from scipy.sparse import csr_array

from networks.graph import MultimodalGraph
from transport.freight.assignment import (
    SERVICE_GROWTH_MAX,
    SERVICE_HEADROOM,
    Choice,
    assign_year,
    statistical_km,
    year_capacity,
)
from transport.freight.calibration import _central_params, base_service_mt, calibrate_base_year, member_theta
from transport.freight.data import FreightData
from transport.freight.demand import demand_growth, gdp_index, gravity_demand
from transport.freight.frames import (
    FreightResult,
    _freight_frame,
    _railsea_frame,
    capacity_frame,
    link_flows_frame,
    link_quantiles_frame,
    links_frame,
)
from transport.freight.names import COMMODITIES, MODES, PORTS, SERVICE_GROUP, T_PER_TEU
from transport.freight.network import (
    RunLinks,
    city_zones,
    road_link_zone_weights,
    run_links,
    year_graph,
    year_prices,
)
from transport.levers.base import year_path
from transport.levers.freight import UNCERTAIN, FreightLevers

log = logging.getLogger(__name__)
# Link flows are kept for the first LINK_FLOW_MEMBERS members: member 0, the central estimate. Every member's loading
# has them, but an ensemble stores members x links x years rows only if this is raised (table link_flows).
LINK_FLOW_MEMBERS = 1
# Quantiles of every link's flows over all members of an ensemble (table link_flow_quantiles), each year from every
# member's element loads: an ensemble stores quantiles x links x years rows however many members it has.
LINK_FLOW_QUANTILES = (0.05, 0.5, 0.95)


@dataclass
class FreightArrays:
    """The freight model's member-by-year outputs, before they become frames (and what an emulator reproduces)."""

    tonnes_mt: np.ndarray  # (M, Y, C, modes)
    tkm_bn: np.ndarray  # (M, Y, C, modes)
    railsea_teu: np.ndarray  # (M, Y, ports)
    port_mt: np.ndarray  # (M, Y, C) Beibu Gulf throughput
    road_tkm_in_bn: np.ndarray  # (M, Y) road tkm inside Guangxi (what the province's trucks drive)
    river_port_mt: np.ndarray  # (M, Y, C) throughput of Guangxi's inland ports (each loading and unloading)
    railriver_teu: np.ndarray  # (M, Y) containers moved rail <-> river at Guangxi's inland ports
    carrier_mt: np.ndarray  # (M, Y) inland-water tonnes on the carrier-statistics definition
    capacity_flow_mt: np.ndarray  # (M, Y, G) tonnes through each capacity element (capacity_groups order)
    capacity_teu: np.ndarray  # (M, Y, G) containers through each capacity element
    capacity_mt: np.ndarray  # (M, Y, G) capacity of each element in the year (services: after the ramp-up)
    msa_gap: np.ndarray  # (Y,)
    # the first LINK_FLOW_MEMBERS members (K) only, links in transport.freight.network.run_links order (L); empty when
    # emulated (the emulator does not reproduce them)
    link_mt: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))  # (K, Y, L) both directions summed
    link_tkm_bn: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))  # (K, Y, L) tkm as table freight
    link_teu: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))  # (K, Y, L) containers
    # the road tkm of table freight on no link (K, Y): drayage at terminals, freight inside a prefecture (intrazonal)
    drayage_tkm_bn: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    intrazonal_tkm_bn: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    # road tkm inside Guangxi by prefecture (K, Y, city zones): road links' in-Guangxi tkm split by
    # network.road_link_zone_weights, plus each city's intrazonal freight; the city split of the truck fleets
    city_road_tkm_bn: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))
    # LINK_FLOW_QUANTILES (Q, Y, L) of link_mt, link_tkm_bn, link_teu over every member (those of freight_arrays'
    # `before` too); empty for a single member or when emulated
    link_quantile_mt: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))
    link_quantile_tkm_bn: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))
    link_quantile_teu: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))
    # the element costs (C, E) each year's routes were found with (the first member's; runs.ensemble hands the
    # central estimate's to the other members, so that they share its routes whoever runs beside them)
    route_costs: tuple[np.ndarray, ...] = ()


def link_loads(
    links: RunLinks, graph: MultimodalGraph, element_mt: np.ndarray, element_teu: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per link of `links` (K, L): tonnes, bn tkm and TEU from the loads of the graph's elements (K, E); and the road
    tkm on the transfers (K,): drayage between terminal and quay or gate, on no link.

    Tonnes and TEU: both directions summed, segments weighted by their share of the link's length (a one-segment link:
    the tonnes crossing it). tkm: each element's tonnes times the km table freight counts on it (statistical_km), so
    the links of a mode add up to that table's tkm of the mode, less the drayage and intrazonal road tkm."""
    n = len(links.element_link)
    if not (np.all(graph.el_kind[:n] == "link") and not np.any(graph.el_kind[n:] == "link")):
        raise ValueError("the graph's link elements are not the run's links (transport.freight.network.run_links)")
    km = statistical_km(graph)
    rows, shape = (np.arange(n), links.element_link), (n, links.table.height)
    weight = csr_array((links.weight, rows), shape=shape)
    counted = csr_array((km[:n].sum(axis=1) / 1000.0, rows), shape=shape)
    on_links = element_mt[:, :n]
    drayage = element_mt[:, n:] @ km[n:, MODES.index("road")] / 1000.0
    return (weight.T @ on_links.T).T, (counted.T @ on_links.T).T, (weight.T @ element_teu[:, :n].T).T, drayage


def simulate_freight(
    data: FreightData, levers: FreightLevers, params: Mapping[str, np.ndarray], years: np.ndarray, members: int
) -> FreightResult:
    """Tonnes, tkm, rail-sea TEU and truck vehicle-km for every member and year (years start at 2020)."""
    return freight_result(data, levers, freight_arrays(data, levers, params, years, members), years)


def freight_result(data: FreightData, levers: FreightLevers, arrays: FreightArrays, years: np.ndarray) -> FreightResult:
    """Result frames and the truck hand-off from the arrays."""
    years = np.asarray(years, dtype=int)
    return FreightResult(
        freight=_freight_frame(arrays.tonnes_mt, arrays.tkm_bn, years),
        railsea=_railsea_frame(arrays.railsea_teu, years),
        truck_vkt_bn=truck_vkt(data, levers, arrays.road_tkm_in_bn, years),
        msa_gap=arrays.msa_gap,
        port_mt=arrays.port_mt,
        river_port_mt=arrays.river_port_mt,
        railriver_teu=arrays.railriver_teu,
        carrier_mt=arrays.carrier_mt,
        railsea_trains=arrays.railsea_teu.sum(axis=2) / teu_per_train(data, years)[None, :],
        capacity_flows=capacity_frame(
            data.capacity,
            capacity_groups(data),
            arrays.capacity_flow_mt,
            arrays.capacity_teu,
            arrays.capacity_mt,
            years,
        ),
        city_road_tkm_bn=arrays.city_road_tkm_bn,
        city_zones=tuple(city_zones(data)),
        **_link_frames(data, levers, arrays, years),
    )


def _link_frames(
    data: FreightData, levers: FreightLevers, arrays: FreightArrays, years: np.ndarray
) -> dict[str, pl.DataFrame]:
    """Tables links and link_flows, when the arrays carry link flows, and link_flow_quantiles, when they carry their
    quantiles (exact freight; an emulated result has none, and it is evaluated once per chunk, which would repeat the
    run-level links table)."""
    out: dict[str, pl.DataFrame] = {}
    if arrays.link_mt.size == 0 and arrays.link_quantile_mt.size == 0:
        return out
    table = run_links(data, levers).table
    ids = table["link_id"].to_list()
    if arrays.link_mt.size:
        out["links"] = links_frame(table)
        out["link_flows"] = link_flows_frame(ids, arrays.link_mt, arrays.link_tkm_bn, arrays.link_teu, years)
    if arrays.link_quantile_mt.size:
        q = (arrays.link_quantile_mt, arrays.link_quantile_tkm_bn, arrays.link_quantile_teu)
        out["link_flow_quantiles"] = link_quantiles_frame(ids, LINK_FLOW_QUANTILES, *q, years)
    return out


def teu_per_train(data: FreightData, years: np.ndarray) -> np.ndarray:
    """Containers per rail-sea train by year (railsea_record.csv, interpolated, held beyond its years)."""
    record = data.railsea_record.sort("year")
    return np.interp(years, record["year"].to_numpy(), record["teu_per_train"].to_numpy())


def capacity_groups(data: FreightData) -> tuple[str, ...]:
    """Every capacity element of the dataset (capacity.csv) and the rail-sea container services, in table order."""
    return (*data.capacity["group"].to_list(), SERVICE_GROUP)


def next_services(
    service_mt: np.ndarray, railsea_mt: np.ndarray, market_growth: np.ndarray, years_on: int
) -> np.ndarray:
    """Rail-sea container services (Mt, per member) `years_on` years later: operators plan this year's volume grown
    with the container market (market_growth: demand ratio over those years) plus the planning headroom, never fewer
    services than now and never more than SERVICE_GROWTH_MAX a year above them (the ramp-up)."""
    planned = railsea_mt * market_growth * (1.0 + SERVICE_HEADROOM)
    cap = service_mt * (1.0 + SERVICE_GROWTH_MAX) ** years_on
    # a smooth minimum (p-norm, p = 8: within 1 % of the plain minimum once the two differ by a third) so that outputs
    # stay smooth in the members' parameters (the ensemble emulator interpolates them)
    reachable = planned * cap / (planned**8 + cap**8) ** (1.0 / 8.0)
    return np.maximum(reachable, service_mt)


def freight_arrays(
    data: FreightData,
    levers: FreightLevers,
    params: Mapping[str, np.ndarray],
    years: np.ndarray,
    members: int,
    link_members: int = LINK_FLOW_MEMBERS,
    before: FreightArrays | None = None,
    route_costs: Sequence[np.ndarray] = (),
) -> FreightArrays:
    """The exact model: assignment of every year for all members at once (see the module docstring).

    Link flows are kept for the first `link_members` members (`members`: all of them). Their LINK_FLOW_QUANTILES over
    the members come from every member's element loads, year by year (memory: Q x L a year, not M x L), when there
    are two members or more: this call's and those of `before`, the arrays of the run's other members computed
    earlier (runs.ensemble: the central estimate, computed alone) with every member's link flows kept.

    route_costs: the element costs of each year to find routes with (FreightArrays.route_costs of the central
    estimate's run), so that every member shares the central estimate's routes and, with the capacity restraint
    stopping member by member, a member's freight does not depend on the members computed beside it; without them the
    first member's costs route everyone."""
    years = np.asarray(years, dtype=int)
    if before is not None and (
        before.link_mt.shape[:2] != (before.tonnes_mt.shape[0], len(years)) or before.link_mt.shape[0] == 0
    ):
        raise ValueError("`before` must keep the link flows of every one of its members, for the same years")
    params = {
        k: np.broadcast_to(np.asarray(params.get(k, v.default), dtype=float), (members,)) for k, v in UNCERTAIN.items()
    }
    if data.calibration is None or "base_best_cost" not in data.cache:
        data.calibration = calibrate_base_year(data, _central_params(), 1)
    cal = data.calibration
    # members differ in logit scale: refit their constants so every member reproduces 2020 (base-year demand shared)
    if np.allclose(params["freight_logit_scale"], 1.0) and cal.asc.shape[0] == 1:
        asc = np.repeat(cal.asc, members, axis=0)
        base_penalty = np.repeat(cal.penalty, members, axis=1)
    else:
        refit = calibrate_base_year(data, params, members, start=cal)
        asc, base_penalty = refit.asc, refit.penalty
    choice = Choice(member_theta(data, params, members), asc)
    best = cast(np.ndarray, data.cache["base_best_cost"])  # (C, Z, Z) yuan/t, set by the calibration
    demand0, intra0 = gravity_demand(
        data, best, cal.land_total_mt, cal.beta_per_yuan, cal.sea_total_mt, cal.intra_factor, cal.corridor_factor
    )
    # growth compounds year by year, so it is computed on every year from the first and picked (a run may skip years)
    every_year = np.arange(years[0], years[-1] + 1)
    gdp = gdp_index(data, every_year, params["freight_gdp_growth_shift"])  # (M, all years)
    growth_every = demand_growth(data, every_year, gdp, params["freight_gdp_elasticity_factor"])
    growth_by_year = growth_every[:, years - years[0]]  # (M, Y, C)
    n_y = len(years)
    groups = capacity_groups(data)
    tonnes = np.zeros((members, n_y, len(COMMODITIES), len(MODES)))
    tkm = np.zeros_like(tonnes)
    railsea = np.zeros((members, n_y, len(PORTS)))
    port = np.zeros((members, n_y, len(COMMODITIES)))
    river_port = np.zeros((members, n_y, len(COMMODITIES)))
    railriver = np.zeros((members, n_y))
    road_in = np.zeros((members, n_y))
    flow_mt = np.zeros((members, n_y, len(groups)))
    flow_teu = np.zeros_like(flow_mt)
    capacity_mt = np.zeros_like(flow_mt)
    gaps = np.zeros(n_y)
    links = run_links(data, levers)
    kept = max(0, min(members, link_members))
    pooled = members + (before.link_mt.shape[0] if before is not None else 0)
    quantiles = np.zeros((3, len(LINK_FLOW_QUANTILES) if pooled > 1 else 0, n_y, links.table.height))
    loaded = members if pooled > 1 else kept  # members whose link flows are computed each year
    link_mt = np.zeros((kept, n_y, links.table.height))
    link_tkm = np.zeros_like(link_mt)
    link_teu = np.zeros_like(link_mt)
    drayage = np.zeros((kept, n_y))
    intrazonal = np.zeros((kept, n_y))
    zone_weights = road_link_zone_weights(data, links)
    in_km = links.table["inside_km"].to_numpy()
    city_zone_rows = [data.zones["zone"].to_list().index(z) for z in city_zones(data)]
    city_road = np.zeros((kept, n_y, len(city_zone_rows)))
    penalty: np.ndarray | None = base_penalty
    service = np.full(members, base_service_mt(data))
    used_costs: list[np.ndarray] = []
    for yi, year in enumerate(years):
        graph = year_graph(data, levers, int(year))
        prices = year_prices(data, levers, params, int(year), members)
        growth = growth_by_year[:, yi]  # (M, C)
        demand = demand0[None] * growth[:, :, None]
        intra = intra0[None] * growth[:, :, None, None]
        if penalty is not None and penalty.shape[0] != len(graph.groups) + 1:
            penalty = None
        loading, gaps[yi], penalty = assign_year(
            data,
            levers,
            graph,
            prices,
            demand,
            intra,
            choice,
            int(year),
            start_penalty=penalty,
            service_mt=service,
            route_cost=route_costs[yi] if route_costs else None,
        )
        assert loading.route_cost is not None
        used_costs.append(loading.route_cost)
        log.debug("freight %d: MSA gap %.1e", year, gaps[yi])
        out = loading.outputs
        tonnes[:, yi] = out["tonnes"]
        tkm[:, yi] = out["tkm"]
        railsea[:, yi] = out["railsea_teu"]
        road_in[:, yi] = out["road_tkm_in"].sum(axis=1)
        port[:, yi] = out["port"].sum(axis=2)
        river_port[:, yi] = out["river_port"]
        railriver[:, yi] = out["railriver_teu"]
        year_links = link_loads(links, graph, out["element_mt"][:loaded], out["element_teu"][:loaded])
        link_mt[:, yi], link_tkm[:, yi], link_teu[:, yi], drayage[:, yi] = (v[:kept] for v in year_links)
        if quantiles.size:
            earlier = (before.link_mt, before.link_tkm_bn, before.link_teu) if before is not None else ()
            for k, flows in enumerate(year_links[:3]):
                pool = np.concatenate([earlier[k][:, yi], flows]) if earlier else flows
                quantiles[k, :, yi] = np.quantile(pool, LINK_FLOW_QUANTILES, axis=0)
        intrazonal[:, yi] = out["intrazonal_road_tkm"][:kept]
        # link_mt: tonnes both directions summed over the link's length, so x inside_km = its in-Guangxi tkm
        city_road[:, yi] = (link_mt[:, yi] * in_km[None, :] / 1000.0) @ zone_weights
        city_road[:, yi] += out["intrazonal_road_tkm_by_zone"][:kept][:, city_zone_rows]
        cap, _ = year_capacity(data, graph, levers, int(year), service, members)
        for g, name in enumerate((*graph.groups, SERVICE_GROUP)):
            k = groups.index(name)
            flow_mt[:, yi, k] = loading.group_flow[g]
            capacity_mt[:, yi, k] = cap[g]
            flow_teu[:, yi, k] = out["group_teu"][:, g] if g < len(graph.groups) else out["railsea_teu"].sum(axis=1)
        if yi + 1 < n_y:
            boxes = COMMODITIES.index("containers")
            market = growth_by_year[:, yi + 1, boxes] / growth_by_year[:, yi, boxes]
            railsea_mt = out["railsea_teu"].sum(axis=1) * T_PER_TEU / 1e6
            service = next_services(service, railsea_mt, market, int(years[yi + 1] - year))
    water = tonnes[..., MODES.index("inland_water")].sum(axis=2)
    # out-of-network carrier tonnes (Guangxi ships working other waters) keep their 2020 ratio to the modelled ones
    # (each member's own 2020 tonnes: a member never reads another's)
    carrier = water * (1.0 + cal.carrier_outside_mt / np.maximum(water[:, :1], 1e-12))
    return FreightArrays(
        tonnes,
        tkm,
        railsea,
        port,
        road_in,
        river_port,
        railriver,
        carrier,
        flow_mt,
        flow_teu,
        capacity_mt,
        gaps,
        link_mt,
        link_tkm,
        link_teu,
        drayage,
        intrazonal,
        city_road,
        link_quantile_mt=quantiles[0],
        link_quantile_tkm_bn=quantiles[1],
        link_quantile_teu=quantiles[2],
        route_costs=tuple(used_costs),
    )


def truck_vkt(
    data: FreightData, levers: FreightLevers, road_tkm_bn: np.ndarray, years: np.ndarray
) -> dict[str, np.ndarray]:
    """Truck vehicle-km (bn) by class: road tkm x class share / (payload x load factor), load factor raised by lever."""
    gain = year_path(levers.truck_load_factor_gain, years)[None, :]
    out = {}
    for r in data.trucks.iter_rows(named=True):
        out[r["truck_class"]] = road_tkm_bn * r["tkm_share"] / (r["payload_t"] * r["load_factor_2020"] * (1.0 + gain))
    return out
