"""Freight demand: the base-year gravity model by commodity and its growth with GDP elasticities."""

from __future__ import annotations

import numpy as np

from transport.freight.data import FreightData
from transport.freight.names import COMMODITIES
from transport.levers.base import year_path

# Gravity deterrence per yuan/t of least generalized cost (assumption; with beta_factor per commodity; README).
GRAVITY_BETA_PER_YUAN = 0.008
# The Xijiang corridor: Guangdong (the Pearl River Delta) buys Guangxi's building materials (sand, stone, cement) by
# river; the calibration scales Guangdong's production and attraction of this commodity to the Changzhou lock tonnes.
CORRIDOR_ZONE = "Guangdong"
CORRIDOR_COMMODITY = "minerals_building"


# --- demand


def _masses(data: FreightData, corridor_factor: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Production and attraction masses (C, Z); corridor_factor scales the Xijiang corridor's (CORRIDOR_*)."""
    zones = data.zones["zone"].to_list()
    mass = data.zones["mass_bn_yuan"].to_numpy()
    prod = np.tile(mass, (len(COMMODITIES), 1)).astype(float)
    attr = prod.copy()
    for r in data.zone_commodity.iter_rows(named=True):
        c, z = COMMODITIES.index(r["commodity"]), zones.index(r["zone"])
        prod[c, z] *= r["production_factor"]
        attr[c, z] *= r["attraction_factor"]
    c, z = COMMODITIES.index(CORRIDOR_COMMODITY), zones.index(CORRIDOR_ZONE)
    prod[c, z] *= corridor_factor
    attr[c, z] *= corridor_factor
    return prod, attr


def od_segments(data: FreightData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks (Z, Z) of land ODs, sea ODs (one end is the sea gateway) and intrazonal city ODs."""
    kind = np.array(data.zones["kind"].to_list())
    city = kind == "city"
    sea = kind == "sea_gateway"
    inland_ext = np.isin(kind, ["inland_gateway", "border_gateway"])
    ext = ~city
    any_city = city[:, None] | city[None, :]
    land = any_city & ~sea[:, None] & ~sea[None, :]
    # external-external: Western Land-Sea Corridor flows between inland gateways and the sea or the Vietnam border
    corridor = (inland_ext[:, None] & sea[None, :]) | (sea[:, None] & inland_ext[None, :])
    sea_od = (city[:, None] & sea[None, :]) | (sea[:, None] & city[None, :]) | corridor
    np.fill_diagonal(land, False)
    land &= ~(ext[:, None] & ext[None, :])
    intra = np.diag(city)
    return land, sea_od, intra


def gravity_demand(
    data: FreightData,
    best_cost: np.ndarray,
    land_total_mt: float,
    beta_per_yuan: float,
    sea_total_mt: np.ndarray,
    intra_factor: float = 1.0,
    corridor_factor: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Base-year OD tonnes (C, Z*Z) and intrazonal (C, Z, 2: Mt, Mt km) by a doubly-weighted gravity model.

    T_cod = P_co A_cd exp(-beta b_c GC_cod), scaled per segment: land ODs + intrazonal to land_share_c x land total,
    sea ODs to the commodity's sea total. best_cost (C, Z, Z): least base-year generalized cost over chains (yuan/t).
    """
    prod, attr = _masses(data, corridor_factor)
    land, sea_od, intra = od_segments(data)
    z = len(data.zones)
    b = data.commodities["beta_factor"].to_numpy()
    share = data.commodities["land_share"].to_numpy()
    road = {r["mode"]: r for r in data.modes.iter_rows(named=True)}["road"]
    intra_km = data.zones["intrazonal_km"].to_numpy()
    vot = data.commodities["vot_yuan_t_h"].to_numpy()
    intra_cost = (
        intra_km[None, :] * (road["tariff_yuan_tkm"] + road["toll_yuan_tkm"])
        + vot[:, None] * intra_km[None, :] / road["speed_kmh"]
    )
    cost = best_cost.copy()
    idx = np.arange(z)
    cost[:, idx, idx] = np.where(intra[idx, idx], intra_cost, np.inf)
    seed = (
        prod[:, :, None]
        * attr[:, None, :]
        * np.where(intra[None], intra_factor, 1.0)
        * np.exp(-beta_per_yuan * b[:, None, None] * np.where(np.isfinite(cost), cost, np.inf))
    )
    demand = np.zeros((len(COMMODITIES), z, z))
    land_mask = land | intra
    land_sum = (seed * land_mask).sum(axis=(1, 2))
    sea_sum = (seed * sea_od).sum(axis=(1, 2))
    demand += seed * land_mask * (share * land_total_mt / np.maximum(land_sum, 1e-300))[:, None, None]
    demand += seed * sea_od * (sea_total_mt / np.maximum(sea_sum, 1e-300))[:, None, None]
    intrazonal = np.zeros((len(COMMODITIES), z, 2))
    intrazonal[:, :, 0] = demand[:, idx, idx]
    intrazonal[:, :, 1] = demand[:, idx, idx] * intra_km[None, :]
    demand[:, idx, idx] = 0.0
    return demand.reshape(len(COMMODITIES), z * z), intrazonal


# --- simulate


def gdp_index(data: FreightData, years: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """GDP relative to the base year (M, Y) from the growth path plus the member's shift."""
    growth = year_path(dict(zip(data.gdp["year"].to_list(), data.gdp["growth"].to_list(), strict=True)), years)
    rate = growth[None, :] + np.asarray(shift, dtype=float)[:, None]
    rate[:, 0] = 0.0
    return np.cumprod(1.0 + rate, axis=1)


def commodity_elasticity(data: FreightData, years: np.ndarray) -> np.ndarray:
    """GDP elasticity of tonnes per commodity and year (Y, C): from its 2020 value towards the long-run value with a
    half-life. Containers start high (the Beibu Gulf port grew 25 %/yr in 2015-2020 on ~6 % GDP growth, the Western
    Land-Sea Corridor ramping up) and converge on the long-run value as the corridor matures."""
    start = data.commodities["gdp_elasticity_2020"].to_numpy()[None, :]
    long_run = data.commodities["gdp_elasticity"].to_numpy()[None, :]
    half_life = data.commodities["elasticity_half_life_yr"].to_numpy()[None, :]
    age = (np.asarray(years, dtype=float) - data.base_year)[:, None]
    return long_run + (start - long_run) * 0.5 ** (np.maximum(age, 0.0) / half_life)


def demand_growth(data: FreightData, years: np.ndarray, gdp: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """Tonnes relative to 2020 (M, Y, C): each year's GDP growth raised to that year's elasticity, compounded.
    With a constant elasticity this is gdp_index ** elasticity."""
    elasticity = commodity_elasticity(data, years)[None] * np.asarray(factor, dtype=float)[:, None, None]
    step = np.ones_like(gdp)
    step[:, 1:] = gdp[:, 1:] / gdp[:, :-1]
    return np.exp(np.cumsum(np.log(step)[:, :, None] * elasticity, axis=1))
