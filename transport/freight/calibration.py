"""Base-year (2020) calibration of the freight model: demand balancing and chain constants by one fixed point."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import cast

import numpy as np

from networks.assign import congestion_penalty
from networks.graph import MultimodalGraph
from transport.freight.assignment import (
    SERVICE_BPR_POWER,
    SERVICE_HEADROOM,
    Choice,
    assign_year,
    bpr_power,
    find_routes,
    load_network,
    year_capacity,
)
from transport.freight.data import Calibration, FreightData
from transport.freight.demand import GRAVITY_BETA_PER_YUAN, gravity_demand
from transport.freight.names import COMMODITIES, MODES, T_PER_TEU, TARGET_NAMES, Asc
from transport.freight.network import _element_cost, year_graph, year_prices
from transport.levers.freight import UNCERTAIN, FreightLevers

log = logging.getLogger(__name__)
CALIBRATION_ACCEPT = 0.01  # every base-year target within 1% after the capacity-restrained assignment
# Relaxation of the fixed point: congestion penalties move this share of the way to those the flows imply, and the
# rail log-km term this share of the log haul ratio; full steps oscillate.
PENALTY_STEP = 0.3
LOG_KM_STEP = 0.7
# A constant moves at most this much per iteration: a member far from its target (a low logit scale starts with the
# central constants) would otherwise overshoot into the steep congestion of the rail-sea services and oscillate.
MAX_LOG_STEP = 0.5
# indices into the measure vector (TARGET_NAMES, then Beibu Gulf port throughput by commodity)
_T = {name: i for i, name in enumerate(TARGET_NAMES)}
_CONSTANT_TARGETS = [_T[n] for n in ("rail_t", "rail_tkm", "inland_port_t", "inland_port_teu")]
_CONSTANT_TARGETS.append(_T["railsea_teu"])
WATER = MODES.index("inland_water")
BOXES = COMMODITIES.index("containers")


def _central_params(members: int = 1) -> dict[str, np.ndarray]:
    return {name: np.full(members, spec.default) for name, spec in UNCERTAIN.items()}


def member_theta(data: FreightData, params: Mapping[str, np.ndarray], members: int) -> np.ndarray:
    """(C, M) logit cost sensitivity: the commodity's fitted value (cost_sensitivity.csv) x the member's multiplier."""
    scale = np.broadcast_to(np.asarray(params.get("freight_logit_scale", 1.0), dtype=float), (members,))
    return data.theta_per_yuan_t()[:, None] * scale[None, :]


def base_service_mt(data: FreightData) -> float:
    """Rail-sea container services of 2020 (Mt of containers): the 2020 volume plus the planning headroom."""
    return data.targets["railsea_teu"] * T_PER_TEU / 1e6 * (1.0 + SERVICE_HEADROOM)


# --- calibration


def measures(
    out: Mapping[str, np.ndarray], group_flow: np.ndarray, graph: MultimodalGraph, outside_mt: float
) -> np.ndarray:
    """(M, targets + C) model values in TARGET_NAMES order, then Beibu Gulf port throughput by commodity."""
    t, tkm = out["tonnes"].sum(axis=1), out["tkm"].sum(axis=1)
    lock = group_flow[graph.groups.index("Changzhou lock")]
    vals = {
        "road_t": t[:, 0],
        "road_tkm": tkm[:, 0],
        "rail_t": t[:, 1],
        "rail_tkm": tkm[:, 1],
        "changzhou_lock_t": lock,
        "inland_port_t": out["river_port"].sum(axis=1),
        "inland_port_teu": out["river_port"][:, BOXES] * 1e6 / T_PER_TEU,
        "railsea_teu": out["railsea_teu"].sum(axis=1),
        "inland_water_carrier_t": t[:, WATER] + outside_mt,
    }
    return np.column_stack([*(vals[n] for n in TARGET_NAMES), out["port"].sum(axis=2)])


def _haul(model: np.ndarray, i: int) -> np.ndarray:
    """Average haul per member (1000 km: bn tkm / Mt): measure i + 1 over measure i; rows of `model` are members."""
    model = np.atleast_2d(model)
    return model[:, i + 1] / np.maximum(model[:, i], 1e-12)


def _target_vector(data: FreightData) -> np.ndarray:
    port = data.commodities["port_mt_2020"].to_numpy()
    return np.array([data.targets[n] for n in TARGET_NAMES] + list(port))


def calibrate_base_year(
    data: FreightData,
    params: Mapping[str, np.ndarray],
    members: int,
    *,
    start: Calibration | None = None,
    rounds: int = 4,
    max_iter: int = 600,
    tol: float = 2e-3,
    levers: FreightLevers | None = None,
) -> Calibration:
    """Fit the demand balancing factors and the chain constants to the 2020 targets (one fixed point, all members).

    Without `start` everything is fitted (the central calibration). With `start` the demand balancing and the
    out-of-network carrier tonnes stay at its values and only the chain constants are refitted per member (members
    whose logit scale differs, so that every member reproduces 2020).

    Each round fixes routes and congestion penalties from the previous MSA, iterates the updates below until every
    fitted target is within `tol`, then re-runs the base-year MSA. Updates (log space, per member where the parameter
    is one):
      land total  *= road_t target / model;          sea total_c *= port_t_c target / model;
      beta        *= (road haul model / target)^1.5; intrazonal weight *= (road haul model / target)^2;
      ASC_rail += ln(rail_t target / model);          log-km rail += 0.7 ln(rail haul target / model);
      ASC_water += ln(inland-port t target / model);
      Xijiang corridor demand *= (Changzhou lock t target / model)^1.5 (Guangdong's building-materials trade);
      ASC_water containers += ln(inland-port TEU target / model);  ASC_railsea += ln(rail-sea TEU target / model);
      out-of-network carrier tonnes = carrier statistics - modelled inland-water shipments.
    """
    levers = levers or FreightLevers()
    fit_demand = start is None
    graph = year_graph(data, levers, data.base_year)
    prices = year_prices(data, levers, params, data.base_year, members)
    zero_pen = np.zeros((len(graph.groups) + 1, members))
    route_cost: np.ndarray | None = None
    if start is None:
        routes = find_routes(graph, _element_cost(graph, prices, zero_pen))
    else:  # every member refits its constants on the central estimate's routes, whoever else is refitted with it
        central = year_prices(data, levers, _central_params(), data.base_year, 1)
        route_cost = _element_cost(graph, central, start.penalty[:, :1])
        routes = find_routes(graph, route_cost)
    if start is None:
        base_cost = np.einsum("cokA,cA->cok", routes.path_attrs, prices.coef[0])
        base_cost = np.where(routes.feasible, base_cost, np.inf).min(axis=2)  # (C, OD)
        z = len(graph.zones)
        best = base_cost.reshape(len(COMMODITIES), z, z)
        data.cache["base_best_cost"] = best
    else:
        best = cast(np.ndarray, data.cache["base_best_cost"])
    target = _target_vector(data)
    land_total = target[0] * 0.75 if start is None else start.land_total_mt  # road tonnes less intermodal drayage
    beta = GRAVITY_BETA_PER_YUAN if start is None else start.beta_per_yuan
    intra_factor = 1.0 if start is None else start.intra_factor
    sea_total = target[len(TARGET_NAMES) :].copy() if start is None else start.sea_total_mt.copy()
    outside = 0.0 if start is None else start.carrier_outside_mt
    corridor = 1.0 if start is None else start.corridor_factor
    if start is None:
        asc = np.zeros((members, len(Asc)))
        asc[:, Asc.RAILSEA] = -1.0
    else:
        asc = np.repeat(start.asc[:1], members, axis=0)
    fitted = list(range(len(target))) if fit_demand else _CONSTANT_TARGETS
    theta = member_theta(data, params, members)
    service = np.full(members, base_service_mt(data))
    capacity, scale = year_capacity(data, graph, levers, data.base_year, service, members)
    power = bpr_power(len(capacity))
    volume = np.full(members, target[_T["railsea_teu"]] * T_PER_TEU / 1e6)
    service_penalty = congestion_penalty(volume, service, scale[-1], beta=SERVICE_BPR_POWER)
    penalty = zero_pen if start is None else np.repeat(start.penalty[:, :1], members, axis=1)
    it_total = 0
    gap = 0.0

    def demand_now() -> tuple[np.ndarray, np.ndarray]:
        demand, intra = gravity_demand(data, best, land_total, beta, sea_total, intra_factor, corridor)
        return np.broadcast_to(demand, (members, *demand.shape)), np.broadcast_to(intra, (members, *intra.shape))

    dm, im = demand_now()
    # each member stops on its own convergence (its constants and penalties then stay), so its fit never depends on
    # which members are refitted beside it; the central fit is one member
    accepted = np.zeros(members, dtype=bool)
    final_penalty = penalty
    for _ in range(rounds):
        active = ~accepted
        for _ in range(max_iter):
            it_total += 1
            if fit_demand:
                dm, im = demand_now()
            loaded = load_network(graph, routes, dm, im, prices, penalty, Choice(theta, asc))
            if fit_demand:
                water_t = float(np.mean(loaded.outputs["tonnes"][:, :, WATER].sum(axis=1)))
                outside = max(target[_T["inland_water_carrier_t"]] - water_t, 0.0)
            model = measures(loaded.outputs, loaded.group_flow, graph, outside)
            ratio = target[None, :] / np.maximum(model, 1e-12)
            # joint fixed point: the congestion penalties relax towards those the current flows imply
            implied = congestion_penalty(loaded.group_flow, capacity, scale[:, None], beta=power)
            # the services are sized to the 2020 volume (the target), so their penalty is that of the target, not of
            # the iterate: fed back, the steep service cost and the rail-sea constant chase each other
            implied[-1] = service_penalty
            moved = np.max(np.abs(implied - penalty), axis=0, initial=0.0)  # (M,)
            penalty = penalty + np.where(active, PENALTY_STEP, 0.0) * (implied - penalty)
            active &= ~(np.all(np.abs(ratio[:, fitted] - 1.0) < tol, axis=1) & (moved < 0.05))
            if not active.any():
                break
            if fit_demand:
                land_total *= float(np.mean(ratio[:, _T["road_t"]]))
                sea_total *= np.mean(ratio[:, len(TARGET_NAMES) :], axis=0)
                road_haul = float(np.mean(_haul(model, _T["road_t"]) / _haul(target, _T["road_t"])))
                intra_factor = float(np.clip(intra_factor * road_haul**2.0, 0.05, 20.0))
                beta *= road_haul**1.5
                corridor = float(np.clip(corridor * np.mean(ratio[:, _T["changzhou_lock_t"]]) ** 1.5, 0.05, 50.0))
            step = np.where(active[:, None], np.clip(np.log(ratio), -MAX_LOG_STEP, MAX_LOG_STEP), 0.0)
            asc[:, Asc.RAIL] += step[:, _T["rail_t"]]
            asc[:, Asc.WATER] += step[:, _T["inland_port_t"]]
            asc[:, Asc.RAILSEA] += step[:, _T["railsea_teu"]]
            haul = np.where(active, np.log(_haul(target, _T["rail_t"]) / _haul(model, _T["rail_t"])), 0.0)
            asc[:, Asc.LOG_KM_RAIL] += LOG_KM_STEP * np.clip(haul, -MAX_LOG_STEP, MAX_LOG_STEP)
            asc[:, Asc.WATER_CONTAINERS] += step[:, _T["inland_port_teu"]]
            if fit_demand:
                # long water hauls (to the Pearl River Delta, through the lock) beyond what cost explains: the log-km
                # water term follows the lock's ratio together with the corridor demand (central fit only)
                asc[:, Asc.LOG_KM_WATER] += LOG_KM_STEP * step[:, _T["changzhou_lock_t"]] * 0.5
        loading, gap, new_penalty = assign_year(
            data,
            levers,
            graph,
            prices,
            dm,
            im,
            Choice(theta, asc),
            data.base_year,
            max_iter=20,
            start_penalty=penalty,
            service_mt=service,
            route_cost=route_cost,
        )
        model = measures(loading.outputs, loading.group_flow, graph, outside)
        newly = ~accepted & np.all(np.abs(model[:, fitted] / target[None, fitted] - 1.0) < CALIBRATION_ACCEPT, axis=1)
        final_penalty = np.where(accepted, final_penalty, new_penalty)
        accepted |= newly
        if accepted.all():
            break
        penalty = np.where(accepted, penalty, new_penalty)
        if start is None:
            routes = find_routes(graph, _element_cost(graph, prices, penalty))
    names = [*TARGET_NAMES, *[f"port_t_{c}" for c in COMMODITIES]]
    residuals = {n: float(np.mean(model[:, i]) / target[i] - 1.0) for i, n in enumerate(names)}
    log.info(
        "freight %d calibration (%s): %d fixed-point iterations, MSA gap %.1e, residuals (model/target - 1) %s",
        data.base_year,
        "all" if fit_demand else "constants",
        it_total,
        gap,
        ", ".join(f"{n} {r:+.2%}" for n, r in residuals.items()),
    )
    return Calibration(
        land_total, beta, intra_factor, sea_total, corridor, asc, outside, residuals, it_total, gap, final_penalty
    )


def calibrate_freight(data: FreightData) -> FreightData:
    """Calibrate the base year on the central parameters (once per dataset; `freight_arrays` reuses it)."""
    data.calibration = calibrate_base_year(data, _central_params(), members=1)
    return data
