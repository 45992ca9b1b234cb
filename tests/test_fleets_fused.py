"""The compiled turnover step (fleets.fused) against the numpy functions that define it, on random inputs: ageing with
survival, kilometre limits and early scrappage, excess retirement oldest first, charger availability and policy
bounds, sales, energy; and its parallel path against its sequential one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleets import AGES, GROUPS, POWERTRAINS, group_mask
from fleets.choice import bounded_shares
from fleets.fused import step_segment_year
from fleets.stock import age_survivors, settle_sales
from fleets.survival import hazard_between_shares, share_over_km_limit

P = len(POWERTRAINS)
PHEV = POWERTRAINS.index("phev")
BEV = POWERTRAINS.index("bev")


def _inputs(members: int, seed: int, stock_driven: bool, km_limit: bool, capped: bool, n_bounds: int) -> dict:
    rng = np.random.default_rng(seed)
    available = rng.uniform(size=P) < 0.8
    available[BEV] = available[BEV] or capped
    available[rng.integers(P)] = True
    stock = rng.uniform(0, 100, (members, P, AGES))
    stock[:, :, rng.uniform(size=AGES) < 0.3] = 0.0  # empty cohorts (the kernel skips their km shares)
    rates = rng.uniform(0.5, 1.0, (members, P, AGES))
    rates[..., -1] = 0.0
    scrappage = np.where(rng.uniform(size=(P, AGES)) < 0.2, rng.uniform(0.3, 1.0, (P, AGES)), 1.0)
    logit = rng.uniform(size=(members, P)) * available
    logit /= logit.sum(axis=1, keepdims=True)
    survivors = (stock * rates).sum(axis=(1, 2))
    groups = sorted(GROUPS)
    bounds = [
        (groups[rng.integers(len(groups))], "min" if rng.uniform() < 0.5 else "max", float(rng.uniform()))
        for _ in range(n_bounds)
    ]
    bounds.sort(key=lambda r: (r[1] != "min", r[0]))
    return {
        "stock": stock,
        "before_p": stock.sum(axis=-1),
        "rates": rates,
        "scrappage": scrappage,
        "km": np.cumsum(rng.uniform(5e3, 9e4, (members, AGES)), axis=1) if km_limit else np.zeros((0, AGES)),
        "km_limit_km": 4e5 if km_limit else 0.0,
        "km_sigma": rng.uniform(0.05, 0.4, members),
        "km_enforcement": float(rng.uniform(0.5, 1.0)) if km_limit else 0.0,
        "g": 0.97 ** np.arange(AGES),
        "intensity_weight": rng.uniform(0.7, 1.3, (P, AGES)),
        "demand": survivors * rng.uniform(0.6, 1.4, members) if stock_driven else np.zeros(0),
        "sales_total": rng.uniform(-10, 500, members),
        "logit": logit,
        "available": available,
        "bev_cap": rng.uniform(0, 3000, members) if capped else None,
        "home_share": float(rng.choice([0.0, rng.uniform(0.0, 1.0), 1.0])),
        "bounds": bounds,
        "u": rng.uniform(1e4, 9e4, members),
        "intensity0": rng.uniform(0.2, 3.0, (members, P)),
        "phev_e": rng.uniform(0.1, 0.5, members),
        "uf": rng.uniform(0.2, 0.8, members),
    }


def _fused(x: dict, parallel: bool = False) -> dict:
    members = x["stock"].shape[0]
    state = {k: x[k].copy() for k in ("stock", "before_p", "km")}
    state["over"] = (
        share_over_km_limit(x["km"], x["km_limit_km"], x["km_sigma"][:, None]) if x["km_limit_km"] else x["km"].copy()
    )
    out = np.empty_like(x["stock"])
    res = {k: np.full((members, P), np.nan) for k in ("stock", "sales", "retirements", "vkt", "energy")}
    phev_elec = np.full(members, np.nan)
    bounds = x["bounds"]
    step_segment_year(
        state["stock"],
        out,
        state["before_p"],
        x["rates"],
        x["scrappage"],
        state["km"],
        state["over"],
        x["km_limit_km"],
        x["km_sigma"],
        x["km_enforcement"],
        x["g"],
        x["intensity_weight"],
        x["demand"],
        x["sales_total"],
        x["logit"],
        x["available"],
        np.zeros(0) if x["bev_cap"] is None else x["bev_cap"],
        BEV if x["bev_cap"] is not None else -1,
        x["home_share"],
        np.array([group_mask(g) for g, _, _ in bounds], dtype=bool).reshape(len(bounds), P),
        np.array([k == "min" for _, k, _ in bounds], dtype=bool),
        np.array([v for _, _, v in bounds], dtype=float).reshape(len(bounds), 1),
        x["u"],
        x["intensity0"],
        PHEV,
        x["phev_e"],
        x["uf"],
        np.arange(P),
        res["stock"],
        res["sales"],
        res["retirements"],
        res["vkt"],
        res["energy"],
        phev_elec,
        parallel=parallel,
    )
    return {"out": out, "before_p": state["before_p"], "km": state["km"], "phev_elec": phev_elec, **res}


def _reference(x: dict) -> dict:
    """The same step from the numpy functions of fleets.stock, fleets.survival and fleets.choice."""
    new = age_survivors(x["stock"], x["rates"])
    km = x["km"]
    if x["km_limit_km"]:
        sigma = x["km_sigma"][:, None]
        over = share_over_km_limit(km, x["km_limit_km"], sigma)
        km = np.empty_like(x["km"])
        km[:, 1:] = x["km"][:, :-1] + x["u"][:, None] * x["g"][None, 1:]
        km[:, 0] = 0.5 * x["u"] * x["g"][0]
        over_new = share_over_km_limit(km, x["km_limit_km"], sigma)
        keep = np.ones_like(km)
        keep[:, 1:] = 1.0 - x["km_enforcement"] * hazard_between_shares(over[:, :-1], over_new[:, 1:])
        new *= keep[:, None, :]
    new *= x["scrappage"][None]

    def shares(surv_p: np.ndarray, total: np.ndarray) -> np.ndarray:
        bev_cap, home = x["bev_cap"], x["home_share"]
        return bounded_shares(x["logit"], surv_p[:, BEV], total, x["bounds"], bev_cap, x["available"], home)

    step = settle_sales(
        new,
        x["before_p"],
        shares,
        demand=x["demand"] if x["demand"].size else None,
        sales_total=None if x["demand"].size else x["sales_total"],
    )
    use_w = step.stock @ x["g"]
    int_w = np.einsum("mpa,pa->mp", step.stock, x["intensity_weight"])
    energy = int_w * x["u"][:, None] * x["intensity0"]
    energy[:, PHEV] *= 1.0 - x["uf"]
    return {
        "out": step.stock,
        "before_p": step.stock_by_powertrain,
        "km": km,
        "stock": step.stock_by_powertrain,
        "sales": step.sales,
        "retirements": step.retirements,
        "vkt": use_w * x["u"][:, None],
        "energy": energy,
        "phev_elec": int_w[:, PHEV] * x["u"] * x["phev_e"] * x["uf"],
    }


@settings(max_examples=80, deadline=None)
@given(
    members=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    stock_driven=st.booleans(),
    km_limit=st.booleans(),
    capped=st.booleans(),
    n_bounds=st.integers(0, 3),
)
def test_fused_step_equals_numpy_reference(
    members: int, seed: int, stock_driven: bool, km_limit: bool, capped: bool, n_bounds: int
) -> None:
    x = _inputs(members, seed, stock_driven, km_limit, capped, n_bounds)
    ours, ref = _fused(x), _reference(x)
    for name, expected in ref.items():
        scale = max(float(np.abs(expected).max(initial=0.0)), 1e-12)
        np.testing.assert_allclose(ours[name], expected, rtol=1e-12, atol=1e-12 * scale, err_msg=name)


@pytest.mark.parametrize("stock_driven", [True, False])
def test_parallel_blocks_equal_the_sequential_step(stock_driven: bool) -> None:
    # More members than one parallel block (256): the blocks run the sequential code on disjoint members.
    x = _inputs(1000, 7, stock_driven, km_limit=True, capped=True, n_bounds=3)
    serial, parallel = _fused(x, parallel=False), _fused(x, parallel=True)
    for name in serial:
        np.testing.assert_array_equal(parallel[name], serial[name], err_msg=name)
