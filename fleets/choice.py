"""Powertrain choice of new vehicles: total cost of ownership (TCO), a multinomial logit, and policy bounds.

TCO per vehicle-year (yuan/yr) of powertrain p:
    price_p * (1 + purchase_tax_p) * CRF(r, N) - subsidy_p * CRF(r, N)
    + vkt * sum_f intensity_pf * (fuel price_f + carbon price * CO2 factor_f) + maintenance_p
with the purchase price falling along a learning curve on the learning part of the price (battery, fuel cell):
    price_p(t) = fixed_p + learning_p * (Q(t) / Q(t0)) ^ log2(1 - learning_rate).
Shares: s_p = avail_p * exp(asc_p - lambda * TCO_p / TCO_ref) / sum (TCO_ref = the segment's reference TCO, so the
cost sensitivity lambda is per relative cost difference).
Charging enters the choice as a smooth availability term, not a ceiling: a share h of BEV buyers charge from a
socket at home and need no charging point; for the others, with C the BEVs the segment's chargers can serve and
D = BEV survivors + this year's BEV sales at the logit share, availability is 1 - exp(-C / ((1 - h) D)), so
a = h + (1 - h) (1 - exp(-C / ((1 - h) D))) multiplies the BEV weight (utility + ln a: search time and range worry
grow as chargers get scarce) and the shares are renormalised. a rises with C and with h, and a * s_bev rises with the
logit share s_bev, so more chargers, more home charging or cheaper BEVs never lower BEV or NEV sales.
Policy minimum and maximum shares of groups (mandates, ICE limits, truck programmes)
are applied after it: raising or lowering a group rescales its members and the other powertrains in proportion, so
shares stay in [0, 1] and sum to 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import softmax

from fleets import group_mask


def capital_recovery_factor(rate: float | np.ndarray, years: float | np.ndarray) -> np.ndarray:
    """CRF = r / (1 - (1 + r)^-N); N years of payments per yuan of capital (1/N when r = 0)."""
    r = np.asarray(rate, dtype=float)
    n = np.asarray(years, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        crf = r / (1.0 - (1.0 + r) ** (-n))
    return np.where(np.abs(r) < 1e-12, 1.0 / n, crf)


def learning_price(
    fixed_yuan: np.ndarray, learning_yuan: np.ndarray, cumulative_ratio: np.ndarray, learning_rate: np.ndarray
) -> np.ndarray:
    """Price after learning: fixed + learning part * ratio^log2(1 - LR) (Wright's law; ratio = Q(t)/Q(base))."""
    exponent = np.log2(1.0 - np.asarray(learning_rate, dtype=float))
    return np.asarray(fixed_yuan) + np.asarray(learning_yuan) * np.asarray(cumulative_ratio, dtype=float) ** exponent


def logit_shares(utility: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Multinomial logit over the last axis; unavailable alternatives (utility -inf) get share 0."""
    return softmax(np.where(available, utility, -np.inf), axis=-1)


def tco_utility(tco_yuan_yr: np.ndarray, reference_yuan_yr: np.ndarray, asc: np.ndarray, cost_sensitivity: np.ndarray):
    """Utility asc - lambda * TCO / reference; arrays broadcast as (M, P) with lambda and reference (M, 1)."""
    return np.asarray(asc) - np.asarray(cost_sensitivity) * np.asarray(tco_yuan_yr) / np.asarray(reference_yuan_yr)


def _rescale(shares: np.ndarray, mask: np.ndarray, target: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Set the group share to `target` (M,) by scaling group and non-group members in proportion.

    If a side has zero share but must grow, its available members share the increase equally.
    """
    mask = np.asarray(mask, dtype=bool)
    g = (shares * mask).sum(axis=-1)
    # summed, not 1 - g: when the group holds nearly everything, 1 - g has lost the rest's digits
    rest = (shares * ~mask).sum(axis=-1)
    out = shares.copy()
    for side, side_total, side_target in ((mask, g, target), (~mask, rest, 1.0 - target)):
        cols = side & np.asarray(available, dtype=bool)
        ncols = cols.sum(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(side_total > 1e-15, side_target / np.where(side_total > 1e-15, side_total, 1.0), 0.0)
            equal = np.where((side_total <= 1e-15) & (ncols > 0), side_target / np.maximum(ncols, 1), 0.0)
        scaled = np.where(side, out * factor[..., None], out)
        out = np.where(side & cols, scaled + equal[..., None], np.where(side, scaled, out))
    return out


def apply_min_share(
    shares: np.ndarray, mask: np.ndarray, minimum: np.ndarray | float, available: np.ndarray
) -> np.ndarray:
    """Raise the share of a group of powertrains to at least `minimum` (M,) where it is lower."""
    minimum = np.broadcast_to(np.asarray(minimum, dtype=float), shares.shape[:-1])
    feasible = (np.asarray(mask, bool) & np.asarray(available, bool)).any(axis=-1)
    g = (shares * np.asarray(mask, bool)).sum(axis=-1)
    need = feasible & (g < minimum - 1e-15)
    if not np.any(need):
        return shares
    target = np.where(need, np.minimum(minimum, 1.0), g)
    return np.where(need[..., None], _rescale(shares, mask, target, available), shares)


def apply_max_share(
    shares: np.ndarray, mask: np.ndarray, maximum: np.ndarray | float, available: np.ndarray
) -> np.ndarray:
    """Lower the share of a group of powertrains to at most `maximum` (M,) where it is higher.

    The cap is not applied where no powertrain outside the group is available (nothing could take the sales).
    """
    maximum = np.broadcast_to(np.asarray(maximum, dtype=float), shares.shape[:-1])
    others = (~np.asarray(mask, bool) & np.asarray(available, bool)).any(axis=-1)
    g = (shares * np.asarray(mask, bool)).sum(axis=-1)
    need = others & (g > maximum + 1e-15)
    if not np.any(need):
        return shares
    target = np.where(need, np.maximum(maximum, 0.0), g)
    return np.where(need[..., None], _rescale(shares, mask, target, available), shares)


def charger_availability(
    served_vehicles: np.ndarray,
    bev_survivors: np.ndarray,
    bev_share: np.ndarray,
    total_sales: np.ndarray,
    home_share: float = 0.0,
) -> np.ndarray:
    """Availability a = h + (1 - h) (1 - exp(-C / ((1 - h) D))) in [0, 1] of charging for BEV buyers (M,): h = share
    charging at home (no charging point needed), C = BEVs the chargers serve, D = BEV survivors + BEV sales at the
    logit share (a = 1 where (1 - h) D is zero or C infinite)."""
    h = float(home_share)
    served = np.asarray(served_vehicles, dtype=float)
    demand = np.asarray(bev_survivors, dtype=float) + np.asarray(bev_share, float) * np.asarray(total_sales, float)
    public = (1.0 - h) * demand
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(public > 1e-15, served / np.where(public > 1e-15, public, 1.0), np.inf)
    return h - (1.0 - h) * np.expm1(-ratio)


def apply_availability(shares: np.ndarray, row: int, availability: np.ndarray) -> np.ndarray:
    """Multiply the weight of powertrain `row` by `availability` (M,) and renormalise (utility + ln a)."""
    a = np.asarray(availability, dtype=float)
    lost = shares[..., row] * (1.0 - a)
    denominator = 1.0 - lost
    ok = denominator > 1e-15
    out = shares.copy()
    out[..., row] = shares[..., row] * a
    return np.where(ok[..., None], out / np.where(ok, denominator, 1.0)[..., None], shares)


def bounded_shares(
    logit: np.ndarray,
    bev_survivors: np.ndarray,
    total_sales: np.ndarray,
    bounds: Sequence[tuple[str, str, float]],
    bev_cap_vehicles: np.ndarray | None,
    available: np.ndarray,
    home_share: float = 0.0,
) -> np.ndarray:
    """Logit shares (M, P) after the charger availability term (`bev_cap_vehicles` = BEVs the chargers serve; None:
    no charging limit; `home_share` of BEV buyers charge at home) and the year's policy bounds (group, "min" | "max",
    share), applied in order."""
    shares = np.array(logit, dtype=float)
    if bev_cap_vehicles is not None:
        bev = int(np.flatnonzero(group_mask("bev"))[0])
        a = charger_availability(bev_cap_vehicles, bev_survivors, shares[..., bev], total_sales, home_share)
        shares = apply_availability(shares, bev, a)
    for group, kind, bound in bounds:
        mask = np.array(group_mask(group))
        if kind == "min":
            shares = apply_min_share(shares, mask, bound, available)
        else:
            shares = apply_max_share(shares, mask, bound, available)
    return shares
