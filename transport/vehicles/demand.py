"""Stock demand: GDP per capita, population, Gompertz car ownership and segment growth paths."""

from __future__ import annotations

import numpy as np
import polars as pl

from transport.vehicles.data import FleetData

# ----------------------------------------------------------------------------------------------------------- demand


def gdp_per_capita_kyuan(data: FleetData, years: np.ndarray, growth_shift: np.ndarray) -> np.ndarray:
    """Expected GDP per capita (M, Y) in thousand 2020 yuan from the 2020 level, GDP growth (+ shift after 2020),
    population.

    Car purchases follow expected (permanent) income, not one year's GDP: the growth is the centred mean over
    `ownership.income_smoothing_years` years (README "Car ownership"). With the yearly path, Guangxi's 7.5 % (2021) and
    2.9 % (2022) made private-car sales swing +25 % then -44 %, which no registration series shows."""
    macro = data.macro.sort("year")
    mx = macro["year"].to_numpy().astype(float)
    years = np.asarray(years, dtype=float)
    all_years = np.arange(2017, max(years.max(), 2020) + 1, dtype=float)
    growth = _centred_mean(
        np.interp(all_years, mx, macro["gdp_growth_per_yr"].to_numpy()),
        int(data.parameters["ownership"].get("income_smoothing_years", 1)),
    )
    shift = np.where(all_years[None, :] > 2020, np.asarray(growth_shift, float)[:, None], 0.0)
    level = np.cumprod(1.0 + np.where(all_years[None, :] > 2017, growth[None, :] + shift, 0.0), axis=1)
    level = level / level[:, [2020 - 2017]]
    pop = np.interp(all_years, mx, macro["population_m"].to_numpy())
    gdp_pc = float(data.parameters["ownership"]["gdp_per_capita_2020_kyuan"]) * level * (pop[2020 - 2017] / pop)
    idx = (years - 2017).astype(int)
    return gdp_pc[:, idx]


def _centred_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving mean over an odd `window`, the ends padded with their nearest value (window 1: unchanged)."""
    half = window // 2
    padded = np.pad(values, half, mode="edge")
    return np.convolve(padded, np.full(window, 1.0 / window), mode="valid")


def population_m(data: FleetData, years: np.ndarray) -> np.ndarray:
    macro = data.macro.sort("year")
    return np.interp(np.asarray(years, float), macro["year"].to_numpy(), macro["population_m"].to_numpy())


def car_ownership_per_1000(data: FleetData, years: np.ndarray, saturation: np.ndarray, growth_shift: np.ndarray):
    """Gompertz ownership (M, Y): V = Vmax exp(alpha exp(beta g)), alpha/beta through the 2017 and 2020 anchors."""
    own = data.parameters["ownership"]
    v2020 = data.seg("private_car")["base_stock_vehicles"] / (population_m(data, np.array([2020]))[0] * 1e3)
    g = gdp_per_capita_kyuan(data, np.concatenate([[own["anchor_year"], 2020], years]), growth_shift)
    vmax = np.asarray(saturation, float)[:, None]
    z1 = np.log(-np.log(own["anchor_cars_per_1000"] / vmax[:, 0]))
    z2 = np.log(-np.log(v2020 / vmax[:, 0]))
    beta = (z2 - z1) / (g[:, 1] - g[:, 0])
    log_neg_alpha = z2 - beta * g[:, 1]
    return vmax * np.exp(-np.exp(log_neg_alpha[:, None] + beta[:, None] * g[:, 2:]))


def growth_index(data: FleetData, seg: str, years: np.ndarray) -> np.ndarray:
    """Cumulative growth of demand relative to the base year (Y,)."""
    rows = data.growth.filter(pl.col("segment") == seg).sort("year")
    rates = np.interp(np.asarray(years, float), rows["year"].to_numpy(), rows["growth_per_yr"].to_numpy())
    rates[0] = 0.0
    return np.cumprod(1.0 + rates)
