"""The freight model over the years: demand growth, yearly assignment, results and the truck hand-off."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import numpy as np

from transport.freight.assignment import THETA_PER_YUAN_T, Choice, assign_year
from transport.freight.calibration import _central_params, _refit_constants, calibrate_base_year
from transport.freight.data import FreightData
from transport.freight.demand import demand_growth, gdp_index, gravity_demand
from transport.freight.frames import FreightResult, _freight_frame, _railsea_frame
from transport.freight.names import COMMODITIES, MODES, PORTS
from transport.freight.network import year_graph, year_prices
from transport.levers.base import year_path
from transport.levers.freight import UNCERTAIN, FreightLevers

log = logging.getLogger(__name__)


@dataclass
class FreightArrays:
    """The freight model's member-by-year outputs, before they become frames (and what an emulator reproduces)."""

    tonnes_mt: np.ndarray  # (M, Y, C, modes)
    tkm_bn: np.ndarray  # (M, Y, C, modes)
    railsea_teu: np.ndarray  # (M, Y, ports)
    port_mt: np.ndarray  # (M, Y, C) Beibu Gulf throughput
    road_tkm_in_bn: np.ndarray  # (M, Y) road tkm inside Guangxi (what the province's trucks drive)
    msa_gap: np.ndarray  # (Y,)


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
    )


def freight_arrays(
    data: FreightData, levers: FreightLevers, params: Mapping[str, np.ndarray], years: np.ndarray, members: int
) -> FreightArrays:
    """The exact model: assignment of every year for all members at once (see the module docstring)."""
    years = np.asarray(years, dtype=int)
    params = {
        k: np.broadcast_to(np.asarray(params.get(k, v.default), dtype=float), (members,)) for k, v in UNCERTAIN.items()
    }
    if data.calibration is None:
        data.calibration = calibrate_base_year(data, _central_params(), 1)
    cal = data.calibration
    # members differ in logit scale: refit their constants so every member reproduces 2020 (base-year demand shared)
    if np.allclose(params["freight_logit_scale"], 1.0) and cal.asc.shape[0] == 1:
        asc = np.repeat(cal.asc, members, axis=0)
    else:
        asc = _refit_constants(data, params, members, cal)
    theta = THETA_PER_YUAN_T * params["freight_logit_scale"]
    choice = Choice(theta, asc)
    if "base_best_cost" not in data.cache:
        data.calibration = cal = calibrate_base_year(data, _central_params(), 1)
    best = cast(np.ndarray, data.cache["base_best_cost"])  # (C, Z, Z) yuan/t, set by the calibration
    demand0, intra0 = gravity_demand(
        data, best, cal.land_total_mt, cal.beta_per_yuan, cal.sea_total_mt, cal.intra_factor
    )
    gdp = gdp_index(data, years, params["freight_gdp_growth_shift"])  # (M, Y)
    growth_by_year = demand_growth(data, years, gdp, params["freight_gdp_elasticity_factor"])  # (M, Y, C)
    n_y = len(years)
    tonnes = np.zeros((members, n_y, len(COMMODITIES), len(MODES)))
    tkm = np.zeros_like(tonnes)
    railsea = np.zeros((members, n_y, len(PORTS)))
    port = np.zeros((members, n_y, len(COMMODITIES)))
    road_in = np.zeros((members, n_y))
    gaps = np.zeros(n_y)
    penalty = None
    for yi, year in enumerate(years):
        graph = year_graph(data, levers, int(year))
        prices = year_prices(data, levers, params, int(year), members)
        growth = growth_by_year[:, yi]  # (M, C)
        demand = demand0[None] * growth[:, :, None]
        intra = intra0[None] * growth[:, :, None, None]
        if penalty is not None and penalty.shape[0] != len(graph.groups):
            penalty = None
        loading, gaps[yi], penalty = assign_year(
            data, levers, graph, prices, demand, intra, choice, int(year), start_penalty=penalty
        )
        log.debug("freight %d: MSA gap %.1e", year, gaps[yi])
        tonnes[:, yi] = loading.outputs["tonnes"]
        tkm[:, yi] = loading.outputs["tkm"]
        railsea[:, yi] = loading.outputs["railsea_teu"]
        road_in[:, yi] = loading.outputs["road_tkm_in"].sum(axis=1)
        port[:, yi] = loading.outputs["port"].sum(axis=2)
    return FreightArrays(tonnes, tkm, railsea, port, road_in, gaps)


def truck_vkt(
    data: FreightData, levers: FreightLevers, road_tkm_bn: np.ndarray, years: np.ndarray
) -> dict[str, np.ndarray]:
    """Truck vehicle-km (bn) by class: road tkm x class share / (payload x load factor), load factor raised by lever."""
    gain = year_path(levers.truck_load_factor_gain, years)[None, :]
    out = {}
    for r in data.trucks.iter_rows(named=True):
        out[r["truck_class"]] = road_tkm_bn * r["tkm_share"] / (r["payload_t"] * r["load_factor_2020"] * (1.0 + gain))
    return out
