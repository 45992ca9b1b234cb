"""One turnover step of a vintage stock shaped (members, powertrains, ages), in numpy: the definition that the
compiled step the engine runs (fleets.fused) is tested against.

Order inside a step (year t, from the stock at the end of t-1 to the stock at the end of t):
1. ageing with survival: age a -> a+1 with the rates p (Weibull or step, times kilometre-limit and early-scrappage
   factors); the last age bin always retires;
2. stock-driven mode: sales = max(0, demand - survivors); when survivors exceed demand the excess retires oldest
   first (age by age from the oldest, all powertrains of an age in proportion), so sales are never negative and a
   dip in demand does not produce a spike of sales later; sales-driven mode: sales are given;
3. sales by powertrain = total sales x shares, entering at age 0.
Retirements are whatever left: stock(t-1) - survivors, so stock(t) = stock(t-1) - retirements + sales holds per
powertrain to rounding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# Shares may be computed after ageing: f(survivors by powertrain (M, P), total sales (M,)) -> shares (M, P).
SharesRule = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class StepResult:
    """Stock at the end of the year and the year's flows, per member and powertrain (vehicles)."""

    stock: np.ndarray  # (M, P, A)
    stock_by_powertrain: np.ndarray  # (M, P)
    sales: np.ndarray  # (M, P)
    retirements: np.ndarray  # (M, P)
    excess_retired: np.ndarray  # (M,) vehicles retired early because survivors exceeded demand


def age_survivors(stock: np.ndarray, rates: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Survivors one year older: out[..., a+1] = stock[..., a] * rates[..., a]; out[..., 0] = 0."""
    if out is None:
        out = np.empty_like(stock)
    np.multiply(stock[..., :-1], rates[..., :-1], out=out[..., 1:])
    out[..., 0] = 0.0
    return out


def retire_oldest_first(survivors: np.ndarray, excess: np.ndarray) -> np.ndarray:
    """Remove `excess` (M,) vehicles from the oldest ages first, in place; returns the vehicles removed (M,)."""
    by_age = survivors.sum(axis=1)  # (M, A)
    # Vehicles at this age or older: the excess reaches age a only if it exceeds everything older than a.
    older = np.cumsum(by_age[:, ::-1], axis=1)[:, ::-1] - by_age
    removed = np.clip(excess[:, None] - older, 0.0, by_age)
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = np.where(by_age > 0, 1.0 - removed / by_age, 1.0)
    survivors *= keep[:, None, :]
    return removed.sum(axis=1)


def turnover_step(
    stock: np.ndarray,
    rates: np.ndarray,
    shares: np.ndarray | SharesRule,
    demand: np.ndarray | None = None,
    sales_total: np.ndarray | None = None,
    stock_by_powertrain: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> StepResult:
    """Advance a vintage stock by one year.

    stock (M, P, A) at the end of the previous year; rates broadcastable to it; shares (M, P) of new sales by
    powertrain (rows sum to 1), or a function (survivors by powertrain, total sales) -> shares;
    exactly one of `demand` (M,) vehicles wanted at the end of the year (stock-driven)
    or `sales_total` (M,) (sales-driven). `stock_by_powertrain` may pass stock.sum(-1) if already known.
    """
    if (demand is None) == (sales_total is None):
        raise ValueError("give exactly one of demand (stock-driven) or sales_total (sales-driven)")
    before = stock.sum(axis=-1) if stock_by_powertrain is None else stock_by_powertrain
    return settle_sales(age_survivors(stock, rates, out=out), before, shares, demand, sales_total)


def settle_sales(
    survivors: np.ndarray,
    before_by_powertrain: np.ndarray,
    shares: np.ndarray | SharesRule,
    demand: np.ndarray | None = None,
    sales_total: np.ndarray | None = None,
) -> StepResult:
    """Second half of a turnover step, on the aged stock `survivors` (M, P, A) whose age-0 bin is empty: retire the
    excess oldest first (stock-driven), put the year's sales into age 0 (in place) and account the flows.
    `before_by_powertrain` (M, P) is the stock at the end of the previous year."""
    new = survivors
    surv_p = new.sum(axis=-1)
    surv_total = surv_p.sum(axis=-1)
    excess_retired = np.zeros(new.shape[0])
    if demand is not None:
        gap = np.asarray(demand, dtype=float) - surv_total
        total = np.maximum(gap, 0.0)
        excess = np.maximum(-gap, 0.0)
        if np.any(excess > 0):
            excess_retired = retire_oldest_first(new, excess)
            surv_p = new.sum(axis=-1)
    else:
        total = np.maximum(np.asarray(sales_total, dtype=float), 0.0)
    if callable(shares):
        shares = shares(surv_p, total)
    sales = total[:, None] * shares
    new[..., 0] = sales
    after = surv_p + sales
    retirements = before_by_powertrain - surv_p
    return StepResult(new, after, sales, retirements, excess_retired)
