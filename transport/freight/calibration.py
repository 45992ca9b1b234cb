"""Base-year (2020) calibration of the freight model: demand balancing and chain constants by fixed point."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import cast

import numpy as np

from networks.assign import congestion_penalty
from transport.freight.assignment import THETA_PER_YUAN_T, Choice, assign_year, find_routes, load_network
from transport.freight.data import Calibration, FreightData
from transport.freight.demand import GRAVITY_BETA_PER_YUAN, gravity_demand
from transport.freight.names import BASE_YEAR, COMMODITIES, TARGET_NAMES
from transport.freight.network import _capacity, _element_cost, year_graph, year_prices
from transport.levers.freight import UNCERTAIN, FreightLevers

log = logging.getLogger(__name__)
CALIBRATION_ACCEPT = 0.01  # every base-year target within 1% after the capacity-restrained assignment


def _central_params(members: int = 1) -> dict[str, np.ndarray]:
    return {name: np.full(members, spec.default) for name, spec in UNCERTAIN.items()}


# --- calibration


def _measures(out: Mapping[str, np.ndarray], data: FreightData) -> np.ndarray:
    """(M, 7 + C) model values in target order, then port throughput by commodity."""
    t, tkm = out["tonnes"].sum(axis=1), out["tkm"].sum(axis=1)
    vals = [t[:, 0], tkm[:, 0], t[:, 1], tkm[:, 1], t[:, 2], tkm[:, 2], out["railsea_teu"].sum(axis=1)]
    return np.column_stack([*vals, out["port"].sum(axis=2)])


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
    rounds: int = 4,
    max_iter: int = 400,
    tol: float = 2e-3,
    levers: FreightLevers | None = None,
) -> Calibration:
    """Fit the demand balancing factors and the chain constants to the 2020 targets (fixed point, all members).

    Each round fixes routes and congestion penalties from the previous MSA, iterates the updates below until every
    target is within `tol`, then re-runs the base-year MSA. Updates (log space, per member where the parameter is):
      land total  *= road_t target / model;          sea total_c *= port_t_c target / model;
      beta        *= (road haul model / target)^1.5; ASC_rail, ASC_water += ln(t target / model);
      log-km rail, log-km water += ln(haul target / model);  ASC_railsea += ln(TEU target / model).
    """
    levers = levers or FreightLevers()
    graph = year_graph(data, levers, BASE_YEAR)
    prices = year_prices(data, levers, params, BASE_YEAR, members)
    zero_pen = np.zeros((len(graph.groups), members))
    free_routes = find_routes(graph, _element_cost(graph, prices, zero_pen))
    base_cost = np.einsum("cokA,cA->cok", free_routes.path_attrs, prices.coef[0])
    base_cost = np.where(free_routes.feasible, base_cost, np.inf).min(axis=2)  # (C, OD)
    z = len(graph.zones)
    best = base_cost.reshape(len(COMMODITIES), z, z)
    target = _target_vector(data)
    land_total = target[0] * 0.75  # start: road tonnes minus drayage of intermodal chains
    beta = GRAVITY_BETA_PER_YUAN
    intra_factor = 1.0
    sea_total = target[7:].copy()
    theta = THETA_PER_YUAN_T * np.asarray(params["freight_logit_scale"], dtype=float)
    asc = np.zeros((members, 5))
    asc[:, 2] = -1.0
    penalty = zero_pen
    routes = free_routes
    it_total = 0
    gap = 0.0
    capacity, scale = _capacity(data, graph, levers, BASE_YEAR)
    for _ in range(rounds):
        for _ in range(max_iter):
            it_total += 1
            demand, intra = gravity_demand(data, best, land_total, beta, sea_total, intra_factor)
            dm = np.broadcast_to(demand, (members, *demand.shape))
            im = np.broadcast_to(intra, (members, *intra.shape))
            loaded = load_network(graph, routes, dm, im, prices, penalty, Choice(theta, asc))
            model = _measures(loaded.outputs, data)
            ratio = target[None, :] / np.maximum(model, 1e-12)
            # joint fixed point: the congestion penalties relax towards those the current flows imply
            implied = congestion_penalty(loaded.group_flow, capacity[:, None], scale[:, None])
            moved = float(np.max(np.abs(implied - penalty), initial=0.0))
            penalty = penalty + 0.3 * (implied - penalty)
            if np.all(np.abs(ratio - 1.0) < tol) and moved < 0.05:
                break
            land_total *= float(np.mean(ratio[:, 0]))
            sea_total *= np.mean(ratio[:, 7:], axis=0)
            road_haul = float(np.mean(_haul(model, 0) / _haul(target, 0)))
            intra_factor = float(np.clip(intra_factor * road_haul**2.0, 0.05, 20.0))
            beta *= road_haul**1.5
            asc[:, 0] += np.log(ratio[:, 2])
            asc[:, 1] += np.log(ratio[:, 4])
            asc[:, 3] += 0.7 * np.log(_haul(target, 2) / _haul(model, 2))
            asc[:, 4] += 0.7 * np.log(_haul(target, 4) / _haul(model, 4))
            asc[:, 2] += np.log(ratio[:, 6])
        demand, intra = gravity_demand(data, best, land_total, beta, sea_total, intra_factor)
        dm = np.broadcast_to(demand, (members, *demand.shape))
        im = np.broadcast_to(intra, (members, *intra.shape))
        loading, gap, new_penalty = assign_year(
            data, levers, graph, prices, dm, im, Choice(theta, asc), BASE_YEAR, max_iter=20, start_penalty=penalty
        )
        model = _measures(loading.outputs, data)
        if np.all(np.abs(model / target[None, :] - 1.0) < CALIBRATION_ACCEPT):
            break
        penalty = new_penalty
        routes = find_routes(graph, _element_cost(graph, prices, penalty))
    model = _measures(loading.outputs, data)
    names = [*TARGET_NAMES, *[f"port_t_{c}" for c in COMMODITIES]]
    residuals = {n: float(np.mean(model[:, i]) / target[i] - 1.0) for i, n in enumerate(names)}
    data.cache["base_best_cost"] = best
    log.info(
        "freight 2020 calibration: %d fixed-point iterations, MSA gap %.1e, residuals (model/target - 1) %s",
        it_total,
        gap,
        ", ".join(f"{n} {r:+.2%}" for n, r in residuals.items()),
    )
    return Calibration(land_total, beta, intra_factor, sea_total, asc, residuals, it_total, gap)


def _refit_constants(data: FreightData, params: Mapping[str, np.ndarray], members: int, cal: Calibration) -> np.ndarray:
    """Per-member constants at the member's logit scale, demand balancing fixed at the central calibration."""
    levers = FreightLevers()
    graph = year_graph(data, levers, BASE_YEAR)
    prices = year_prices(data, levers, params, BASE_YEAR, members)
    best = cast(np.ndarray, data.cache["base_best_cost"])
    demand, intra = gravity_demand(data, best, cal.land_total_mt, cal.beta_per_yuan, cal.sea_total_mt, cal.intra_factor)
    dm = np.broadcast_to(demand, (members, *demand.shape))
    im = np.broadcast_to(intra, (members, *intra.shape))
    theta = THETA_PER_YUAN_T * np.asarray(params["freight_logit_scale"], dtype=float)
    asc = np.repeat(cal.asc, members, axis=0)
    penalty = np.zeros((len(graph.groups), members))
    routes = find_routes(graph, _element_cost(graph, prices, penalty))
    capacity, scale = _capacity(data, graph, levers, BASE_YEAR)
    target = _target_vector(data)
    for _ in range(3):
        for _ in range(600):
            loaded = load_network(graph, routes, dm, im, prices, penalty, Choice(theta, asc))
            model = _measures(loaded.outputs, data)
            ratio = target[None, :] / np.maximum(model, 1e-12)
            implied = congestion_penalty(loaded.group_flow, capacity[:, None], scale[:, None])
            moved = float(np.max(np.abs(implied - penalty), initial=0.0))
            penalty = penalty + 0.3 * (implied - penalty)
            if np.all(np.abs(ratio[:, 2:7] - 1.0) < 2e-3) and moved < 0.05:
                break
            asc[:, 0] += np.log(ratio[:, 2])
            asc[:, 1] += np.log(ratio[:, 4])
            asc[:, 3] += 0.7 * np.log(_haul(target, 2) / _haul(model, 2))
            asc[:, 4] += 0.7 * np.log(_haul(target, 4) / _haul(model, 4))
            asc[:, 2] += np.log(ratio[:, 6])
        loading, _, new_penalty = assign_year(
            data, levers, graph, prices, dm, im, Choice(theta, asc), BASE_YEAR, max_iter=20, start_penalty=penalty
        )
        model = _measures(loading.outputs, data)
        if np.all(np.abs(model[:, 2:7] / target[None, 2:7] - 1.0) < CALIBRATION_ACCEPT):
            break
        penalty = new_penalty
        routes = find_routes(graph, _element_cost(graph, prices, penalty))
    return asc


def calibrate_freight(data: FreightData) -> FreightData:
    """Calibrate the base year on the central parameters (once per dataset; `freight_arrays` reuses it)."""
    data.calibration = calibrate_base_year(data, _central_params(), members=1)
    return data
