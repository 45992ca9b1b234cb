"""Survival, vehicle-km by age and the reconstruction of the 2020 stock by powertrain and age."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fleets import AGES
from fleets.survival import age_limit_rates, share_over_km_limit, weibull_log_survival
from transport.levers.fleets import UNCERTAIN
from transport.vehicles.choice import private_car_history_shares
from transport.vehicles.data import FleetData
from transport.vehicles.names import P


def _members(params: Mapping[str, np.ndarray], name: str, members: int) -> np.ndarray:
    value = params.get(name)
    if value is None:
        return np.full(members, UNCERTAIN[name].default)
    return np.broadcast_to(np.asarray(value, dtype=float), (members,)).astype(float)


def log_survival(data: FleetData, seg: str, lifetime_factor: np.ndarray) -> np.ndarray:
    """log S(a) shaped (M, P, A): Weibull per powertrain (scale x lifetime factors); (1, P, A) zeros for step-only
    segments, whose survival does not depend on the member."""
    row = data.seg(seg)
    ages = np.arange(AGES, dtype=float)
    lf = np.asarray(lifetime_factor, dtype=float)[:, None, None]
    if row["survival"] == "step":
        return np.zeros((1, P, AGES))
    scale = row["weibull_scale_yr"] * data.pt(seg, "lifetime_factor")[None, :, None] * lf
    return weibull_log_survival(ages[None, None, :], row["weibull_shape"], scale)


def base_km_by_age(data: FleetData, seg: str, vkt_factor: float = 1.0) -> np.ndarray:
    """Mean accumulated km per vehicle by age at the end of the base year (A,), at base-year use."""
    row = data.seg(seg)
    g = vkt_age_factor(data, seg)
    first = float(data.parameters["stock"]["first_year_use"])
    driven = row["vkt_km"] * vkt_factor * g
    km = np.cumsum(driven) - driven[0] + first * driven[0]
    return km


def vkt_age_factor(data: FleetData, seg: str) -> np.ndarray:
    """Relative use by age, (1 - decline)^age (A,)."""
    return (1.0 - data.seg(seg)["vkt_decline_per_yr"]) ** np.arange(AGES)


def cumulative_survival(data: FleetData, seg: str, lifetime_factor: float = 1.0) -> np.ndarray:
    """S(a) (P, A) including the compulsory age and (enforced) kilometre limits at base-year use."""
    row = data.seg(seg)
    log_s = log_survival(data, seg, np.array([lifetime_factor]))[0]
    steps = np.cumprod(np.concatenate([[1.0], age_limit_rates(AGES, int(row["age_limit_yr"]))[:-1]]))
    km_surv = 1.0 - row["km_enforcement"] * share_over_km_limit(
        base_km_by_age(data, seg), row["km_limit_km"], float(UNCERTAIN["fleet_km_sigma"].default)
    )
    return np.exp(log_s) * steps[None, :] * km_surv[None, :]


def _reconstruct(
    cohort_sales: np.ndarray, survival: np.ndarray, total: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stock 2020 (P, A), stock 2019 by powertrain (P,), scale, from sales by cohort age (P, A+1; index a = sold
    a years before 2020) and survival (P, A); scaled so the 2020 stock sums to `total`."""
    s2020 = cohort_sales[:, :AGES] * survival
    s2019 = (cohort_sales[:, 1 : AGES + 1] * survival).sum(axis=-1)
    scale = total / s2020.sum() if s2020.sum() > 0 else 0.0
    return s2020 * scale, s2019 * scale, np.array(scale)


def base_stock(data: FleetData, seg: str, calibration: Mapping[str, float] | None = None):
    """Stock at the end of 2020 (P, A) and the 2020 retirements by powertrain (P,).

    Cohort sales of powertrain p sold a years before 2020 ∝ share_p * (1 + g_p)^-a (documented history growth);
    stock = cohort sales x survival, scaled to the segment's 2020 stock and its stock shares. Private cars: total
    sales grow at the segment's history rate and the 2013-2020 cohorts split by the calibrated choice model.
    """
    row = data.seg(seg)
    surv = cumulative_survival(data, seg)
    ages = np.arange(AGES + 1)
    if seg == "private_car":
        shares = private_car_history_shares(data, calibration or data.calibration)  # (A+1, P)
        sales = (1.0 + row["hist_growth_per_yr"]) ** (-ages.astype(float))
        stock, s2019, _ = _reconstruct((sales[:, None] * shares).T, surv, row["base_stock_vehicles"])
    else:
        share = data.pt(seg, "stock_share_2020")
        growth = data.pt(seg, "hist_growth_per_yr")
        profile = (1.0 + growth[:, None]) ** (-ages[None, :].astype(float))
        stock = np.zeros((P, AGES))
        s2019 = np.zeros(P)
        for p in range(P):
            if share[p] <= 0:
                continue
            st, s19, _ = _reconstruct(profile[p : p + 1], surv[p : p + 1], share[p] * row["base_stock_vehicles"])
            stock[p], s2019[p] = st[0], s19[0]
    retire_2020 = s2019 - (stock.sum(axis=-1) - stock[:, 0])
    return stock, np.maximum(retire_2020, 0.0)
