"""Survival of vehicle cohorts: Weibull curves, compulsory age and kilometre limits, early-scrappage programmes.

Convention: a cohort sold in year c has age 0 at the end of year c and the share S(a) of it is still registered at
the end of year c + a, with S(0) = 1. One turnover step moves age a to age a + 1 with the conditional survival rate
p(a) = S(a + 1) / S(a), computed from log-survival differences so that it stays exact where S underflows.

Weibull survival uses scipy.stats.weibull_min (shape b = c, scale T): S(a) = exp(-(a / T)^b), mean life
T * Gamma(1 + 1/b) (Hao, Wang, Ouyang et al. 2011, Sci China Tech Sci 54(3):625-629).
China's compulsory scrappage standard (MOFCOM order 2012 No. 12) adds two limits per cohort: an age limit (a step)
and a kilometre limit, reached when the cohort's accumulated kilometres pass it. Kilometres vary between vehicles of
a cohort; a log-normal spread (sigma) turns the step into a smooth hazard, sigma = 0 keeps the step.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr
from scipy.stats import weibull_min


def weibull_log_survival(ages: np.ndarray, shape: np.ndarray | float, scale_yr: np.ndarray | float) -> np.ndarray:
    """log S(a) for a Weibull lifetime (broadcasting ages against shape and scale)."""
    return weibull_min.logsf(np.asarray(ages, dtype=float), c=shape, scale=scale_yr)


def weibull_survival(ages: np.ndarray, shape: np.ndarray | float, scale_yr: np.ndarray | float) -> np.ndarray:
    """S(a) = exp(-(a / T)^b)."""
    return weibull_min.sf(np.asarray(ages, dtype=float), c=shape, scale=scale_yr)


def weibull_mean_life_yr(shape: float, scale_yr: float) -> float:
    """Mean lifetime T * Gamma(1 + 1/b), from scipy's distribution."""
    return float(weibull_min.mean(c=shape, scale=scale_yr))


def transition_rates(log_survival: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """p(a) = S(a+1)/S(a) along the last axis, from log S at ages 0..A-1; the last age always retires (p = 0).

    rows: only these indices of the second-to-last axis (as log_survival[..., rows, :], without the copy)."""
    log_s = np.asarray(log_survival, dtype=float)
    if rows is None:
        rows = np.arange(log_s.shape[-2])
    rates = np.empty((*log_s.shape[:-2], len(rows), log_s.shape[-1]))
    for j, r in enumerate(rows):
        np.subtract(log_s[..., r, 1:], log_s[..., r, :-1], out=rates[..., j, :-1])
    np.exp(rates[..., :-1], out=rates[..., :-1])
    rates[..., -1] = 0.0
    return rates


def age_limit_rates(ages: int, age_limit_yr: int) -> np.ndarray:
    """Step survival of a compulsory age limit: a vehicle of age a may age to a+1 only while a+1 <= limit.

    age_limit_yr <= 0 means no limit (only the last age bin retires).
    """
    a = np.arange(ages)
    rates = np.ones(ages)
    if age_limit_yr > 0:
        rates[a + 1 > age_limit_yr] = 0.0
    rates[-1] = 0.0
    return rates


def share_over_km_limit(mean_km: np.ndarray, limit_km: float, sigma: float | np.ndarray) -> np.ndarray:
    """Share of a cohort whose accumulated kilometres exceed `limit_km`, the cohort mean being `mean_km`.

    Per-vehicle kilometres are log-normal with log-sd `sigma` (a number, or per member broadcasting against
    `mean_km`) around the mean; sigma = 0 is a step at the mean.
    """
    km = np.asarray(mean_km, dtype=float)
    if limit_km <= 0:
        return np.zeros_like(km)
    sig = np.asarray(sigma, dtype=float)
    if np.all(sig > 0):
        # The common case, in place: ln(max(km, tiny)) sends empty cohorts far into the lower tail (share 0).
        z = np.log(np.maximum(km, 1e-300))
        z -= 0.5 * sig**2 + np.log(limit_km)
        z /= sig
        return ndtr(z, out=z)
    step = (km >= limit_km).astype(float)
    if np.all(sig <= 0):
        return step
    # P(X > L) for log-normal X with mean km: 1 - Phi((ln L - mu) / sigma) = Phi((mu - ln L) / sigma); scipy's ndtr
    # is the normal CDF without the distribution-object overhead (this runs every year for every member).
    safe = np.where(sig > 0, sig, 1.0)
    mu = np.log(np.maximum(km, 1e-300)) - 0.5 * safe**2
    smooth = np.where(km > 0, ndtr((mu - np.log(limit_km)) / safe), 0.0)
    return np.where(sig > 0, smooth, step)


def km_limit_hazard(
    km_before: np.ndarray, km_after: np.ndarray, limit_km: float, sigma: float | np.ndarray
) -> np.ndarray:
    """Share of the remaining vehicles of a cohort that reach the kilometre limit while going from km_before to
    km_after (vehicles keep their rank in the cohort, so those already over the limit are the ones gone)."""
    return hazard_between_shares(
        share_over_km_limit(km_before, limit_km, sigma), share_over_km_limit(km_after, limit_km, sigma)
    )


def hazard_between_shares(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Share of the vehicles not yet over the limit (1 - before) that pass it as the cohort's share over the limit
    rises from `before` to `after`; 1 where the cohort was already entirely over."""
    remaining = 1.0 - before
    safe = np.where(remaining > 1e-15, remaining, 1.0)
    return np.where(remaining > 1e-15, np.clip((after - before) / safe, 0.0, 1.0), 1.0)


def programme_remaining(time: float | np.ndarray, start: float, end: float) -> np.ndarray:
    """Share of a targeted group still allowed at `time` by an early-scrappage programme that removes it uniformly
    between `start` and `end` (1 before start, 0 from end on)."""
    t = np.asarray(time, dtype=float)
    if end <= start:
        return np.where(t >= start, 0.0, 1.0)
    return np.clip((end - t) / (end - start), 0.0, 1.0)


def programme_removal(year: float, start: float, end: float) -> float:
    """Share of the still-registered targeted vehicles an early-scrappage programme removes during [year, year+1)."""
    r0 = float(programme_remaining(year, start, end))
    r1 = float(programme_remaining(year + 1.0, start, end))
    if r0 <= 0.0:
        return 1.0
    return 1.0 - r1 / r0
