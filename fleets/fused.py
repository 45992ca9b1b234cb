"""The compiled turnover step of one segment and year: every member's stock in one pass.

Per member it does what the numpy functions of `fleets.stock`, `fleets.survival` and `fleets.choice` define, in the
same order and with the same arithmetic:
1. kilometre limits: the cohorts' accumulated kilometres after the year's driving, the share over the limit
   (log-normal spread) and the hazard of passing it this year (`share_over_km_limit`, `hazard_between_shares`);
2. ageing with survival, the kilometre-limit keep share and early-scrappage factors (`age_survivors`);
3. stock-driven mode: sales = max(0, demand - survivors), the excess retired oldest first (`retire_oldest_first`);
   sales-driven mode: the given sales;
4. powertrain shares: the logit shares times the charger availability, then the year's policy minimums and
   maximums (`charger_availability`, `apply_availability`, `apply_min_share`, `apply_max_share`);
5. sales into age 0, flows by powertrain, and the stock's use- and intensity-weighted sums that give vehicle-km and
   energy (`fleets.energy`).

Why compiled (numba) rather than numpy: numpy makes about six passes over the (members, powertrains, ages) state per
year (ageing, kilometre keep, sums, sales, excess retirement) and some fifty small (members, powertrains) operations,
each a round trip through memory. Here one member's 41-age stock of a few powertrains (2 KB) stays in L1 cache
through all steps, so a year costs about one read and one write of the state, as a bare multiply does. The numpy
functions stay the reference: tests hold this kernel to them on random inputs.
"""

from __future__ import annotations

import math
import threading

import numpy as np
from numba import njit, prange

_TINY = 1e-15
_SQRT_HALF = math.sqrt(0.5)
# Reassociation only (no finite-math or reciprocal flags: chargers served may be infinite), so that the age sums
# vectorise; it changes their rounding at the 1e-16 level.
_REASSOC = {"reassoc"}
_BLOCK = 256  # members per parallel work item


@njit(cache=True, inline="always")
def _share_over(km: float, log_limit: float, sigma: float, limit_km: float) -> float:
    """`fleets.survival.share_over_km_limit` for one cohort: log-normal spread, or a step when sigma <= 0."""
    if sigma > 0.0:
        z = (math.log(max(km, 1e-300)) - (0.5 * sigma * sigma + log_limit)) / sigma
        return 0.5 * math.erfc(-z * _SQRT_HALF)
    return 1.0 if km >= limit_km else 0.0


@njit(cache=True)
def _rescale(shares: np.ndarray, mask: np.ndarray, target: float, available: np.ndarray) -> None:
    """`fleets.choice._rescale` for one member, in place."""
    g = 0.0
    rest = 0.0  # summed, not 1 - g: when the group holds nearly everything, 1 - g has lost the rest's digits
    for r in range(shares.size):
        if mask[r]:
            g += shares[r]
        else:
            rest += shares[r]
    for side_is_group in (True, False):
        side_total = g if side_is_group else rest
        side_target = target if side_is_group else 1.0 - target
        ncols = 0
        for r in range(shares.size):
            if mask[r] == side_is_group and available[r]:
                ncols += 1
        factor = side_target / side_total if side_total > _TINY else 0.0
        equal = side_target / max(ncols, 1) if (side_total <= _TINY and ncols > 0) else 0.0
        for r in range(shares.size):
            if mask[r] == side_is_group:
                shares[r] = shares[r] * factor + (equal if available[r] else 0.0)


@njit(cache=True)
def _apply_bound(shares: np.ndarray, mask: np.ndarray, bound: float, is_min: bool, available: np.ndarray) -> None:
    """`apply_min_share` (is_min) or `apply_max_share` for one member, in place."""
    g = 0.0
    can_move = False
    for r in range(shares.size):
        if mask[r]:
            g += shares[r]
        # A minimum needs an available group member to raise; a maximum an available powertrain outside the group.
        if available[r] and mask[r] == is_min:
            can_move = True
    if not can_move:
        return
    if is_min and g < bound - _TINY:
        _rescale(shares, mask, min(bound, 1.0), available)
    elif not is_min and g > bound + _TINY:
        _rescale(shares, mask, max(bound, 0.0), available)


@njit(cache=True)
def _retire_oldest_first(stock: np.ndarray, excess: float) -> None:
    """`fleets.stock.retire_oldest_first` for one member's (rows, A) stock, in place."""
    rows, ages = stock.shape
    older = 0.0
    for a in range(ages - 1, -1, -1):
        by_age = 0.0
        for r in range(rows):
            by_age += stock[r, a]
        removed = min(max(excess - older, 0.0), by_age)
        older += by_age
        if by_age > 0.0:
            keep = 1.0 - removed / by_age
            for r in range(rows):
                stock[r, a] *= keep


def step_segment_year(*args, parallel: bool = True) -> None:
    """Advance one segment by one year for every member (the steps: module docstring). `args` are those of
    `_advance_members` after its member range. M members, R powertrain rows, A ages; a first axis of 1 broadcasts.

    State, updated in place:
        stock (M, R, A) vehicles at the end of the previous year; out (M, R, A) receives this year's (no alias);
        before_p (M, R) stock by row, previous year -> this year;
        km, over (M, A) cohorts' mean accumulated km and share over the limit (untouched without a km limit).
    Survival: rates (M|1, R, A) p(a) of age a -> a + 1; scrappage (R, A) early-scrappage keep factors of the aged
        cohorts; km_limit_km, km_sigma (M|1,), km_enforcement as in `fleets.survival`.
    Use and energy: g (A,) relative use by age; intensity_weight (R, A) g x the vintage's intensity relative to the
        base vintage; vkt_new_km (M|1,) km per new vehicle; intensity0 (M|1, R) MJ/km of the base vintage;
        phev_row (-1: none), phev_electric_mj_km and phev_utility_factor (M|1,).
    Sales: demand (M|1,) stock wanted (stock-driven), or empty and sales_total (M|1,) (sales-driven);
        logit (M|1, R) shares before bounds; available (R,); bev_cap_vehicles (M|1,) or empty (no charging limit),
        bev_row and bev_home_share (share of BEV buyers charging at home); bound_masks (K, R), bound_is_min (K,),
        bound_values (K, M|1) the year's policy bounds, in order (per member: a rule for some members only).
    Results of the year, rows (R,) being their columns: res_stock, res_sales, res_retirements, res_vkt (km),
        res_energy (MJ; PHEV: liquid part) (M, P) and res_phev_electric (M,) MJ.
    parallel: split the members over numba's threads, only from the main thread (numba's default threading layer
        may not be entered by two threads at once, as in a Dask worker with several threads).
    """
    members = args[0].shape[0]
    if parallel and members > _BLOCK and threading.current_thread() is threading.main_thread():
        _members_in_parallel(members, *args)
    else:
        _advance_members(0, members, *args)


@njit(cache=True, parallel=True)
def _members_in_parallel(members, *args):
    for block in prange((members + _BLOCK - 1) // _BLOCK):
        _advance_members(block * _BLOCK, min(members, (block + 1) * _BLOCK), *args)


@njit(cache=True, fastmath=_REASSOC)
def _advance_members(
    first,
    stop,
    stock,
    out,
    before_p,
    rates,
    scrappage,
    km,
    over,
    km_limit_km,
    km_sigma,
    km_enforcement,
    g,
    intensity_weight,
    demand,
    sales_total,
    logit,
    available,
    bev_cap_vehicles,
    bev_row,
    bev_home_share,
    bound_masks,
    bound_is_min,
    bound_values,
    vkt_new_km,
    intensity0,
    phev_row,
    phev_electric_mj_km,
    phev_utility_factor,
    rows,
    res_stock,
    res_sales,
    res_retirements,
    res_vkt,
    res_energy,
    res_phev_electric,
):
    """`step_segment_year` for members first..stop-1."""
    n_rows, ages = stock.shape[1], stock.shape[2]
    use_km = km_limit_km > 0.0 and km_enforcement > 0.0
    log_limit = math.log(km_limit_km) if use_km else 0.0
    stock_driven = demand.size > 0
    capped = bev_cap_vehicles.size > 0 and bev_row >= 0
    # Scratch of this range of members only, so that ranges run in parallel share nothing they write.
    keep = np.ones(ages)
    shares = np.empty(n_rows)
    sums = np.empty((n_rows, 3))
    for m in range(first, stop):
        mr = m if rates.shape[0] > 1 else 0
        u = vkt_new_km[m if vkt_new_km.size > 1 else 0]
        if use_km:
            sigma = km_sigma[m if km_sigma.size > 1 else 0]
            # Descending ages so that km[m, a - 1] and over[m, a - 1] are still last year's when age a reads them.
            for a in range(ages - 1, 0, -1):
                km[m, a] = km[m, a - 1] + u * g[a]
                empty = True
                for r in range(n_rows):
                    if stock[m, r, a - 1] != 0.0:
                        empty = False
                        break
                if empty:
                    # A cohort gains vehicles only at age 0, so an empty one stays empty and its share over the
                    # limit (a log and an erfc, most of this step's cost) is never used: carry a finite stand-in.
                    keep[a] = 1.0
                    over[m, a] = over[m, a - 1]
                    continue
                over_new = _share_over(km[m, a], log_limit, sigma, km_limit_km)
                remaining = 1.0 - over[m, a - 1]
                hazard = min(max((over_new - over[m, a - 1]) / remaining, 0.0), 1.0) if remaining > _TINY else 1.0
                keep[a] = 1.0 - km_enforcement * hazard
                over[m, a] = over_new
            km[m, 0] = 0.5 * u * g[0]
            over[m, 0] = _share_over(km[m, 0], log_limit, sigma, km_limit_km)
        surv_total = 0.0
        for r in range(n_rows):
            s0 = 0.0
            s1 = 0.0
            s2 = 0.0
            for a in range(1, ages):
                v = stock[m, r, a - 1] * rates[mr, r, a - 1] * keep[a] * scrappage[r, a]
                out[m, r, a] = v
                s0 += v
                s1 += v * g[a]
                s2 += v * intensity_weight[r, a]
            out[m, r, 0] = 0.0
            sums[r, 0] = s0
            sums[r, 1] = s1
            sums[r, 2] = s2
            surv_total += s0
        if stock_driven:
            gap = demand[m if demand.size > 1 else 0] - surv_total
            total = max(gap, 0.0)
            if gap < 0.0:
                _retire_oldest_first(out[m], -gap)
                for r in range(n_rows):
                    s0 = 0.0
                    s1 = 0.0
                    s2 = 0.0
                    for a in range(1, ages):
                        v = out[m, r, a]
                        s0 += v
                        s1 += v * g[a]
                        s2 += v * intensity_weight[r, a]
                    sums[r, 0] = s0
                    sums[r, 1] = s1
                    sums[r, 2] = s2
        else:
            total = max(sales_total[m if sales_total.size > 1 else 0], 0.0)
        ml = m if logit.shape[0] > 1 else 0
        for r in range(n_rows):
            shares[r] = logit[ml, r]
        if capped:
            served = bev_cap_vehicles[m if bev_cap_vehicles.size > 1 else 0]
            public_demand = (1.0 - bev_home_share) * (sums[bev_row, 0] + shares[bev_row] * total)
            ratio = served / public_demand if public_demand > _TINY else math.inf
            availability = bev_home_share - (1.0 - bev_home_share) * math.expm1(-ratio)
            denominator = 1.0 - shares[bev_row] * (1.0 - availability)
            if denominator > _TINY:
                shares[bev_row] *= availability
                for r in range(n_rows):
                    shares[r] /= denominator
        mb = m if bound_values.shape[1] > 1 else 0
        for k in range(bound_values.shape[0]):
            _apply_bound(shares, bound_masks[k], bound_values[k, mb], bound_is_min[k], available)
        mi = m if intensity0.shape[0] > 1 else 0
        for r in range(n_rows):
            sales = total * shares[r]
            out[m, r, 0] = sales
            col = rows[r]
            res_sales[m, col] = sales
            res_retirements[m, col] = before_p[m, r] - sums[r, 0]
            after = sums[r, 0] + sales
            res_stock[m, col] = after
            before_p[m, r] = after
            res_vkt[m, col] = (sums[r, 1] + sales * g[0]) * u
            energy = (sums[r, 2] + sales * intensity_weight[r, 0]) * u * intensity0[mi, r]
            if r == phev_row:
                uf = phev_utility_factor[m if phev_utility_factor.size > 1 else 0]
                e = phev_electric_mj_km[m if phev_electric_mj_km.size > 1 else 0]
                res_phev_electric[m] = (sums[r, 2] + sales * intensity_weight[r, 0]) * u * e * uf
                energy *= 1.0 - uf
            res_energy[m, col] = energy
