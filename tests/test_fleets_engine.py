"""Fleet engine: survival against Hao et al. and flodym, conservation, oldest-first retirement, hand-checked TCO logit,
kilometre-limit scrappage and a mid-year policy, and hypothesis properties of shares and stocks."""

from __future__ import annotations

import math

import flodym as fd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import gamma

from fleets import AGES, POWERTRAINS, group_mask
from fleets.choice import (
    apply_max_share,
    apply_min_share,
    bounded_shares,
    capital_recovery_factor,
    charger_availability,
    logit_shares,
    tco_utility,
)
from fleets.simulation import SalesRule, SegmentInputs, simulate
from fleets.stock import retire_oldest_first, turnover_step
from fleets.survival import (
    km_limit_hazard,
    programme_removal,
    transition_rates,
    weibull_log_survival,
    weibull_mean_life_yr,
    weibull_survival,
)

P = len(POWERTRAINS)
HAO = {
    "private_car": (4.79, 14.46),
    "business_car": (5.33, 13.11),
    "heavy": (5.58, 12.8),
    "medium": (5.58, 10.09),
    "light": (5.58, 8.02),
}


@pytest.mark.parametrize("name", sorted(HAO))
def test_weibull_reproduces_hao_curves(name: str) -> None:
    b, t = HAO[name]
    assert weibull_mean_life_yr(b, t) == pytest.approx(t * gamma(1 + 1 / b), rel=1e-12)
    ages = np.array([0.0, 5.0, t, 20.0])
    expected = np.exp(-((ages / t) ** b))
    np.testing.assert_allclose(weibull_survival(ages, b, t), expected, rtol=1e-12)
    assert weibull_survival(np.array([t]), b, t)[0] == pytest.approx(math.exp(-1))  # S(T) = 1/e by definition


def test_private_car_mean_life_value() -> None:
    # Hao et al. 2011: private cars T = 14.46, b = 4.79 -> mean life 13.24 years.
    assert weibull_mean_life_yr(4.79, 14.46) == pytest.approx(13.24, abs=0.01)


def _segment(base: np.ndarray, log_s: np.ndarray, shares: np.ndarray, demand=None, sales=None, **kw) -> SegmentInputs:
    members, n_years = shares.shape[0], shares.shape[1]
    return SegmentInputs(
        name=kw.pop("name", "private_car"),
        base_stock=base,
        log_survival=log_s,
        shares=shares,
        available=kw.pop("available", np.ones(P, dtype=bool)),
        vkt_new_km=kw.pop("vkt", np.full((members, n_years), 10000.0)),
        vkt_age_factor=np.ones(AGES),
        intensity_mj_km=np.ones((1, P)),
        improvement_per_yr=np.zeros(P),
        historical_per_yr=np.zeros(P),
        floor_ratio=np.ones(P),
        phev_electric_mj_km=np.array([0.5]),
        phev_utility_factor=np.array([0.5]),
        demand=demand,
        sales_total=sales,
        **kw,
    )


def test_stock_equals_flodym_inflow_driven() -> None:
    years = np.arange(2020, 2061)
    rng = np.random.default_rng(7)
    inflow = rng.uniform(50.0, 150.0, size=len(years))
    b, t = 4.79, 14.46
    dims = fd.DimensionSet(dim_list=[fd.Dimension(name="time", letter="t", items=[int(y) for y in years])])
    life = fd.WeibullLifetime(dims=dims, weibull_shape=b, weibull_scale=t, inflow_at="end")
    dsm = fd.InflowDrivenDSM(dims=dims, lifetime_model=life, inflow=fd.StockArray(dims=dims, values=inflow))
    dsm.compute()
    base = np.zeros((1, P, AGES))
    base[0, 0, 0] = inflow[0]  # the base year's inflow, age 0 at its end
    shares = np.zeros((1, len(years), P))
    shares[..., 0] = 1.0
    log_s = np.broadcast_to(weibull_log_survival(np.arange(AGES), b, t), (1, P, AGES))
    out = simulate([_segment(base, log_s, shares, sales=inflow[None, :])], years, 1)
    ours = out.stock["private_car"][0, :, 0]
    np.testing.assert_allclose(ours, dsm.stock.values, rtol=1e-9)
    # Outflows agree as well (flodym's year-0 outflow is the base year's, which we take from history instead).
    np.testing.assert_allclose(out.retirements["private_car"][0, 1:, 0], dsm.outflow.values[1:], rtol=1e-9, atol=1e-9)


def _random_segment(members: int, years: np.ndarray, rng: np.random.Generator, demand: np.ndarray) -> SegmentInputs:
    base = rng.uniform(0, 100, size=(members, P, AGES))
    log_s = np.broadcast_to(
        weibull_log_survival(np.arange(AGES), 5.58, rng.uniform(8, 15, size=(P, 1))), (members, P, AGES)
    )
    raw = rng.uniform(0.1, 1, size=(members, len(years), P))
    return _segment(base, np.array(log_s), raw / raw.sum(-1, keepdims=True), demand=demand)


def test_conservation_per_powertrain_every_year() -> None:
    years = np.arange(2020, 2051)
    rng = np.random.default_rng(3)
    members = 3
    demand = 140000 * np.exp(0.3 * np.sin(np.arange(len(years)) / 3.0))[None, :] * np.ones((members, 1))
    out = simulate([_random_segment(members, years, rng, demand)], years, members)
    stock, sales, ret = (getattr(out, k)["private_car"] for k in ("stock", "sales", "retirements"))
    lhs = stock[:, 1:]
    rhs = stock[:, :-1] - ret[:, 1:] + sales[:, 1:]
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-9 * stock.max())
    assert (sales >= 0).all() and (ret >= -1e-9).all() and (stock >= 0).all()
    # Stock-driven: the stock follows demand whenever survivors do not exceed it.
    total = stock.sum(-1)
    assert (total[:, 1:] >= demand[:, 1:] - 1e-6).all()


def test_demand_falling_30_percent_retires_oldest_first_without_negative_sales() -> None:
    years = np.arange(2020, 2024)
    base = np.zeros((1, P, AGES))
    base[0, 0, :10] = 100.0  # 10 cohorts of 100 gasoline cars
    base[0, 4, :3] = 50.0  # 3 young BEV cohorts
    log_s = np.zeros((1, P, AGES))  # no natural retirement: only the excess leaves
    shares = np.zeros((1, len(years), P))
    shares[..., 0] = 1.0
    total0 = base.sum()
    demand = np.array([[total0, 0.7 * total0, 0.7 * total0, 0.8 * total0]])
    out = simulate([_segment(base, log_s, shares, demand=demand)], years, 1)
    sales = out.sales["private_car"][0]
    assert (sales >= 0).all()
    assert sales[1].sum() == 0.0 and sales[2].sum() == 0.0
    assert sales[3].sum() == pytest.approx(0.1 * total0)
    # 345 excess vehicles: all gasoline cohorts aged 10 (after ageing) ... 8 (300) and 45 of the 150 aged 7.
    step = turnover_step(base, transition_rates(log_s), shares[:, 1], demand=demand[:, 1])
    by_age = step.stock.sum(axis=1)[0]
    assert by_age[8:].sum() == pytest.approx(0.0)
    assert by_age[7] == pytest.approx(100.0 - 45.0)
    assert step.stock[0, 4, 1:4].sum() == pytest.approx(150.0)  # young BEVs untouched


def test_retire_oldest_first_hand_case() -> None:
    surv = np.zeros((1, 2, 4))
    surv[0, 0] = [10, 10, 10, 10]
    surv[0, 1] = [0, 0, 10, 30]
    removed = retire_oldest_first(surv, np.array([50.0]))
    assert removed[0] == pytest.approx(50.0)
    np.testing.assert_allclose(surv[0, :, 3], [0, 0])  # 40 at the oldest age gone
    np.testing.assert_allclose(surv[0, :, 2], [5, 5])  # 10 of 20 at age 2, in proportion


def test_tco_logit_hand_checked() -> None:
    # Two alternatives, TCO 100 and 120 (reference 100), lambda = 5, constants 0 and 0.5:
    # utilities 0 - 5 = -5 and 0.5 - 6 = -5.5 -> share_1 = 1 / (1 + exp(-0.5)) = 0.622459.
    util = tco_utility(np.array([[100.0, 120.0]]), np.array([[100.0]]), np.array([[0.0, 0.5]]), np.array([[5.0]]))
    shares = logit_shares(util, np.array([True, True]))
    assert shares[0, 0] == pytest.approx(1 / (1 + math.exp(-0.5)), rel=1e-12)
    assert capital_recovery_factor(0.08, 8) == pytest.approx(0.08 / (1 - 1.08**-8))
    assert logit_shares(util, np.array([True, False]))[0, 1] == 0.0


def test_min_and_max_share_hand_checked() -> None:
    avail = np.ones(P, dtype=bool)
    shares = np.array([[0.6, 0.2, 0.1, 0.0, 0.1, 0.0, 0.0]])
    nev = np.array(group_mask("nev"))
    out = apply_min_share(shares, nev, np.array([0.5]), avail)
    # NEV 0.1 -> 0.5 (bev only); others 0.9 -> 0.5 in proportion.
    np.testing.assert_allclose(out, [[0.6 * 5 / 9, 0.2 * 5 / 9, 0.1 * 5 / 9, 0.0, 0.5, 0.0, 0.0]])
    ice = np.array(group_mask("ice"))
    out = apply_max_share(shares, ice, np.array([0.4]), avail)
    np.testing.assert_allclose(out, [[0.3, 0.1, 0.1 * 3, 0.0, 0.1 * 3, 0.0, 0.0]])
    # A group with zero share gets the minimum split equally among its available members.
    only = np.array([[1.0, 0, 0, 0, 0, 0, 0]])
    out = apply_min_share(only, nev, np.array([0.3]), avail)
    np.testing.assert_allclose(out[0, [3, 4, 5]], [0.1, 0.1, 0.1])


def test_km_limit_scrappage_hand_case() -> None:
    # Taxis: 100,000 km a year, limit 600,000 km, no age limit, no spread: a cohort sold at the start of the run
    # (0.5 year of use in its first year) passes 600,000 km in its seventh year (50k + 6 x 100k = 650k at age 6).
    years = np.arange(2020, 2030)
    base = np.zeros((1, P, AGES))
    base[0, 0, 0] = 100.0
    shares = np.zeros((1, len(years), P))
    shares[..., 0] = 1.0
    seg = _segment(
        base,
        np.zeros((1, P, AGES)),
        shares,
        sales=np.zeros((1, len(years))),
        name="taxi",
        vkt=np.full((1, len(years)), 100000.0),
        km_limit_km=600000.0,
        km_enforcement=1.0,
        km_sigma=0.0,
        base_km=np.array([[50000.0 + 100000.0 * a for a in range(AGES)]]),
    )
    out = simulate([seg], years, 1)
    stock = out.stock["taxi"][0, :, 0]
    # End of 2025: age 5, 550,000 km -> still there; end of 2026: age 6, 650,000 km -> gone.
    assert stock[5] == pytest.approx(100.0)
    assert stock[6] == pytest.approx(0.0)
    assert out.retirements["taxi"][0, 6, 0] == pytest.approx(100.0)
    # With a spread, the hazard is the conditional log-normal share crossing the limit.
    h = km_limit_hazard(np.array([550000.0]), np.array([650000.0]), 600000.0, 0.3)
    assert 0.0 < h[0] < 1.0


def test_policy_starting_mid_year_counts_half() -> None:
    years = np.arange(2020, 2028)
    base = np.zeros((1, P, AGES))
    base[0, 0, :5] = 100.0
    shares = np.zeros((1, len(years), P))
    shares[..., 0] = 1.0
    demand = 500.0 + 100.0 * np.arange(len(years))[None, :]  # 100 sales a year (no retirement)
    rule = SalesRule("private_car", "bev", "min", 0.8, 2025.5)
    out = simulate([_segment(base, np.zeros((1, P, AGES)), shares, demand=demand)], years, 1, rules=[rule])
    sales = out.sales["private_car"][0]
    share_bev = sales[:, 4] / sales.sum(-1)
    assert share_bev[years == 2024][0] == pytest.approx(0.0)
    assert share_bev[years == 2025][0] == pytest.approx(0.4)  # half a year at 0.8
    assert share_bev[years == 2026][0] == pytest.approx(0.8)
    assert any(abs(t - 2025.5) < 1e-12 for t, _ in out.events)  # the policy process woke at its start date


def test_programme_removal_uniform() -> None:
    # Removed evenly from mid-2024 to end-2028: in 2025 a quarter of what is left on 1 Jan (1.0 of 3.5 years left).
    assert programme_removal(2024.0, 2024.5, 2029.0) == pytest.approx(0.5 / 4.5)
    assert programme_removal(2025.0, 2024.5, 2029.0) == pytest.approx(1.0 / 4.0)
    assert programme_removal(2028.0, 2024.5, 2029.0) == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(
    raw=st.lists(st.floats(0.0, 1.0), min_size=P, max_size=P).filter(lambda v: sum(v) > 1e-3),
    lo=st.floats(0.0, 1.0),
    hi=st.floats(0.0, 1.0),
    group=st.sampled_from(["nev", "ice", "bev", "clean", "fcev"]),
)
def test_bounded_shares_stay_valid(raw: list[float], lo: float, hi: float, group: str) -> None:
    avail = np.array([True, True, True, True, True, False, True])
    shares = np.array([raw]) * avail
    if shares.sum() <= 1e-6:
        return
    shares = shares / shares.sum()
    mask = np.array(group_mask(group))
    out = apply_max_share(apply_min_share(shares, mask, np.array([lo]), avail), mask, np.array([hi]), avail)
    assert (out >= -1e-12).all() and (out <= 1 + 1e-12).all()
    assert out.sum() == pytest.approx(1.0, abs=1e-9)
    assert out[0, ~avail].sum() == 0.0


@settings(max_examples=200, deadline=None)
@given(
    raw=st.lists(st.floats(0.0, 1.0), min_size=P, max_size=P).filter(lambda v: sum(v) > 1e-3),
    survivors=st.floats(0.0, 1e6),
    total=st.floats(0.0, 1e6),
    served=st.floats(0.0, 1e7),
    more=st.floats(0.0, 1e7),
    cheaper=st.floats(0.0, 3.0),
    rule=st.sampled_from([(), (("nev", "min", 0.4),), (("ice", "max", 0.3),), (("clean", "min", 0.2),)]),
    home=st.floats(0.0, 1.0),
    more_home=st.floats(0.0, 1.0),
)
def test_chargers_and_cheaper_bevs_never_lower_nev_or_bev_sales(
    raw: list[float],
    survivors: float,
    total: float,
    served: float,
    more: float,
    cheaper: float,
    rule: tuple,
    home: float,
    more_home: float,
) -> None:
    """No ceiling: more chargers, more home charging, or a higher logit weight of BEVs (lower BEV cost), never lowers
    the BEV or NEV share of sales, under any policy bound; the shares stay a distribution."""
    avail = np.array([True, True, True, True, True, False, True])
    logit = np.array([raw]) * avail
    logit /= logit.sum()
    nev, bev = np.array(group_mask("nev")), int(np.flatnonzero(group_mask("bev"))[0])

    def shares(weights: np.ndarray, chargers: float, home_share: float = home) -> np.ndarray:
        return bounded_shares(
            weights, np.array([survivors]), np.array([total]), rule, np.array([chargers]), avail, home_share
        )

    base = shares(logit, served)
    assert base.sum() == pytest.approx(1.0, abs=1e-9) and (base >= -1e-12).all()
    boosted = logit * np.exp(cheaper * (np.arange(P) == bev))
    higher_home = home + (1.0 - home) * more_home
    for out in (
        shares(logit, served + more),
        shares(boosted / boosted.sum(), served),
        shares(logit, served, higher_home),
    ):
        assert out[0, bev] >= base[0, bev] - 1e-12
        assert out[0, nev].sum() >= base[0, nev].sum() - 1e-12


@settings(max_examples=30, deadline=None)
@given(
    drops=st.lists(st.floats(-0.3, 0.3), min_size=6, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_stocks_never_negative_and_sales_never_negative(drops: list[float], seed: int) -> None:
    years = np.arange(2020, 2027)
    rng = np.random.default_rng(seed)
    demand = 100000.0 * np.cumprod(np.concatenate([[1.0], 1.0 + np.array(drops)]))[None, :] * np.ones((2, 1))
    out = simulate([_random_segment(2, years, rng, demand)], years, 2)
    assert (out.stock["private_car"] >= 0).all()
    assert (out.sales["private_car"] >= 0).all()
    assert (out.retirements["private_car"][:, 1:] >= -1e-9).all()


def test_charger_availability_with_home_charging_by_hand() -> None:
    """a = h + (1 - h)(1 - exp(-C / ((1 - h) D))): 30 % charge at home, 700 BEVs want a charging point (D = 800
    survivors + 20 % of 1,000 sales = 1,000; (1 - h) D = 700), the chargers serve 700: a = 0.3 + 0.7 (1 - e^-1)."""
    a = charger_availability(np.array([700.0]), np.array([800.0]), np.array([0.2]), np.array([1000.0]), 0.3)
    assert a[0] == pytest.approx(0.3 + 0.7 * (1.0 - math.exp(-1.0)), rel=1e-12)
    # no home charging: the plain term; all at home: chargers do not matter; no charger at all: only home charging
    plain = charger_availability(np.array([1000.0]), np.array([800.0]), np.array([0.2]), np.array([1000.0]))
    assert plain[0] == pytest.approx(1.0 - math.exp(-1.0), rel=1e-12)
    assert charger_availability(np.array([0.0]), np.array([800.0]), np.array([0.2]), np.array([1e3]), 1.0)[0] == 1.0
    assert charger_availability(np.array([0.0]), np.array([800.0]), np.array([0.2]), np.array([1e3]), 0.4)[0] == (
        pytest.approx(0.4)
    )


def test_market_chargers_follow_last_years_nev_stock_by_hand() -> None:
    """Chargers in year i = programme(i) + NEVs (BEV + PHEV) of the counted segments at the end of year i - 1 / the
    ratio; a segment that does not count (motorcycles) adds none, FCEVs add none."""
    years = np.arange(2020, 2024)
    bev, phev, fcev = (POWERTRAINS.index(p) for p in ("bev", "phev", "fcev"))
    shares = np.zeros((1, len(years), P))
    shares[..., 0] = 0.5
    shares[..., bev] = 0.3
    shares[..., phev] = 0.1
    shares[..., fcev] = 0.1
    never = np.zeros((1, P, AGES))  # log survival 0: nobody retires in these four years
    base = np.zeros((1, P, AGES))
    base[0, bev, 2], base[0, phev, 3], base[0, fcev, 1], base[0, 0, 5] = 1000.0, 400.0, 50.0, 9000.0
    sales = np.full((1, len(years)), 2000.0)
    car = _segment(base, never, shares, sales=sales, counts_for_chargers=True)
    moto = _segment(base * 10, never, shares, sales=sales, name="motorcycle", counts_for_chargers=False)
    programme = np.array([[0.0, 100.0, 200.0, 300.0]])
    out = simulate([car, moto], years, 1, chargers=programme, vehicles_per_charger=8.0, nevs_per_charger=2.0)
    car_nevs = out.stock["private_car"][0, :, bev] + out.stock["private_car"][0, :, phev]
    np.testing.assert_allclose(car_nevs, [1400.0, 2200.0, 3000.0, 3800.0])
    expected = programme[0] + np.concatenate([[1400.0], car_nevs[:-1]]) / 2.0
    np.testing.assert_allclose(out.chargers[0], expected, rtol=1e-12)
    # without a market ratio the programme is the whole charger stock (the engine's old contract)
    alone = simulate([car, moto], years, 1, chargers=programme, vehicles_per_charger=8.0)
    np.testing.assert_allclose(alone.chargers[0], programme[0])
