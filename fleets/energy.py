"""Energy use, oil and CO2 of a vintage stock.

Energy of powertrain p in year t:  E_p = u * sum_a stock[p, a] * g[a] * I_p(t - a)   (MJ), where
    u       vehicle-km per vehicle at age 0 in year t (member-specific; activity index included),
    g[a]    relative use at age a (older vehicles drive less),
    I_p(v)  real-world energy intensity of vintage v (MJ/km): the test value of the base vintage times the real-world
            uplift, falling by the new-vehicle improvement rate for later vintages (down to a floor) and rising by the
            historical rate for older ones.
Fuels: each powertrain burns one fuel, except plug-in hybrids which split their kilometres between electricity
(utility factor) and their liquid fuel. Oil = gasoline + diesel in Mt (lower heating values); CO2 tank-to-wheel
from IPCC 2006 factors; well-to-wheel adds upstream factors and prices electricity at the grid factor of the year.
"""

from __future__ import annotations

import numpy as np

MJ_PER_PJ = 1e9
KWH_PER_GJ = 1e3 / 3.6


def vintage_intensity(
    base_mj_km: np.ndarray,
    improvement_per_yr: np.ndarray,
    historical_per_yr: np.ndarray,
    floor_ratio: np.ndarray,
    base_year: int,
    year: int,
    ages: int,
) -> np.ndarray:
    """Intensity (P, A) of the vintages alive in `year` (vintage = year - age), relative to a base-year vintage."""
    vintage = year - np.arange(ages)
    dt = (vintage - base_year).astype(float)
    base = np.asarray(base_mj_km, dtype=float)[:, None]
    newer = np.maximum(
        (1.0 - np.asarray(improvement_per_yr, float)[:, None]) ** np.maximum(dt, 0.0),
        np.asarray(floor_ratio, float)[:, None],
    )
    older = (1.0 + np.asarray(historical_per_yr, float)[:, None]) ** np.maximum(-dt, 0.0)
    return base * np.where(dt >= 0, newer, older)


def grid_factor_path(
    base_kg_kwh: float, base_non_fossil: float, non_fossil: np.ndarray, elasticity: np.ndarray | float
) -> np.ndarray:
    """Grid CO2 factor (kg/kWh) tied to the non-fossil share of energy: f = f0 * ((1 - nf) / (1 - nf0)) ^ k.

    k > 1 says the power sector's fossil share falls faster than the economy's (new wind and solar go to power).
    """
    nf = np.clip(np.asarray(non_fossil, dtype=float), 0.0, 0.999)
    ratio = (1.0 - nf) / (1.0 - base_non_fossil)
    return base_kg_kwh * ratio ** np.asarray(elasticity, dtype=float)


def electricity_wtw_kg_gj(grid_kg_kwh: np.ndarray, losses: float) -> np.ndarray:
    """Well-to-wheel CO2 of electricity delivered to vehicles (kg/GJ), grid losses included."""
    return np.asarray(grid_kg_kwh, dtype=float) * KWH_PER_GJ / (1.0 - losses)
