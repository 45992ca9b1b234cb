"""Fleet adapter on the shipped Guangxi data: frames, conservation, calibration, plausibility, levers, activity."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from fleets import POWERTRAINS as POWERTRAINS_ORDER
from transport.errors import DatasetError
from transport.levers.fleets import UNCERTAIN, FleetLevers, SalesRule, ScrappageProgramme
from transport.vehicles import ActivityInput, calibrate, load_fleet_data, simulate_fleets

DATA = Path(__file__).resolve().parent.parent / "transport" / "data" / "guangxi"
YEARS = np.arange(2020, 2061)


@pytest.fixture(scope="module")
def data():
    return load_fleet_data(DATA)


@pytest.fixture(scope="module")
def baseline(data):
    return simulate_fleets(data, FleetLevers(), {}, YEARS, 3)


def _params(members: int, **over: float) -> dict[str, np.ndarray]:
    values = {k: np.full(members, v.default) for k, v in UNCERTAIN.items()}
    for k, v in over.items():
        values[k] = np.full(members, v)
    return values


def test_frames_have_contract_columns(baseline) -> None:
    assert baseline.fleet.columns == ["member", "year", "segment", "powertrain", "stock", "sales", "retirements"]
    assert baseline.energy.columns == [
        "member",
        "year",
        "segment",
        "powertrain",
        "fuel",
        "energy_pj",
        "oil_mt",
        "co2_ttw_mt",
        "co2_wtw_mt",
    ]
    assert baseline.fleet.schema["member"] == pl.Int32 and baseline.fleet.schema["year"] == pl.Int32
    assert baseline.vkt_bn.shape == (3, len(YEARS), 10)
    assert set(baseline.energy["fuel"].unique()) <= {"gasoline", "diesel", "electricity", "hydrogen", "natural_gas"}


def test_conservation_in_the_fleet_frame(baseline) -> None:
    f = baseline.fleet.sort("member", "segment", "powertrain", "year")
    g = f.with_columns(pl.col("stock").shift(1).over("member", "segment", "powertrain").alias("prev")).filter(
        pl.col("year") > 2020
    )
    gap = (g["prev"] - g["retirements"] + g["sales"] - g["stock"]).abs()
    scale = g["stock"].abs().max()
    assert float(gap.max()) <= 1e-9 * scale
    assert float(f["stock"].min()) >= 0.0 and float(f["sales"].min()) >= 0.0


def test_calibration_within_ten_percent_and_stored(data) -> None:
    cal = calibrate(data)
    for name, residual in cal.residuals.items():
        assert abs(residual) <= 0.10, (name, residual)
    for name, value in cal.parameters.items():
        assert value == pytest.approx(data.calibration[name], rel=1e-4, abs=1e-6), name


def test_baseline_reproduces_2020_facts(baseline) -> None:
    f = baseline.fleet.filter((pl.col("member") == 0) & (pl.col("year") == 2020))
    nev = f.filter(pl.col("powertrain").is_in(["bev", "phev", "fcev"]) & (pl.col("segment") != "motorcycle"))
    assert float(nev["stock"].sum()) == pytest.approx(156906, rel=0.10)
    cars = f.filter(pl.col("segment") == "private_car")
    share = cars.filter(pl.col("powertrain").is_in(["bev", "phev", "fcev"]))["sales"].sum() / cars["sales"].sum()
    assert share == pytest.approx(0.107, rel=0.10)


def test_road_oil_2020_plausible(baseline) -> None:
    # Assumption (README): Guangxi road gasoline + diesel 8-12 Mt in 2020.
    oil = baseline.oil_mt[0, 0].sum()
    assert 8.0 <= oil <= 12.0
    assert baseline.co2_wtw_mt[0, 0].sum() > baseline.co2_ttw_mt[0, 0].sum()


def test_members_identical_without_sampling_and_deterministic(data, baseline) -> None:
    again = simulate_fleets(data, FleetLevers(), {}, YEARS, 3)
    np.testing.assert_array_equal(again.stock, baseline.stock)
    np.testing.assert_allclose(baseline.stock[0], baseline.stock[2])


def test_member_parameters_are_a_dimension(data) -> None:
    params = _params(2)
    params["fleet_oil_price_factor"] = np.array([0.7, 1.5])
    params["fleet_vehicles_per_charger"] = np.array([1e6, 1e6])  # chargers never bind here
    res = simulate_fleets(data, FleetLevers(), params, YEARS[:21], 2)
    nev = res.sales[:, -1, 0, 3:6].sum(-1) / res.sales[:, -1, 0].sum(-1)
    assert nev[1] > nev[0]  # dearer oil -> more NEV car sales


def test_plan_levers_cut_oil(data, baseline) -> None:
    levers = FleetLevers(
        sales_rules=[
            SalesRule(segment="bus", group="nev", kind="min", share=0.9, start=2025.0),
            SalesRule(segment="taxi", group="nev", kind="min", share=0.8, start=2025.0),
            SalesRule(segment="heavy_truck", group="fcev", kind="min", share=0.05, start=2025.0),
        ],
        scrappage_programmes=[
            ScrappageProgramme(
                segment="heavy_truck", powertrains=["diesel"], max_vintage=2013, start=2024.5, end=2029.0
            )
        ],
        carbon_price_yuan_t={2020: 0.0, 2030: 200.0},
    )
    res = simulate_fleets(data, levers, {}, YEARS, 1)
    assert res.oil_mt[0, 15].sum() < baseline.oil_mt[0, 15].sum()
    bus = res.sales[0, YEARS == 2026, 2]
    assert bus[0, [3, 4, 5]].sum() / bus.sum() >= 0.9 - 1e-9
    # China III diesel heavy trucks (model year <= 2013) are gone by the end of 2028.
    assert res.stock[0, YEARS == 2028, 6, 1][0] < baseline.stock[0, YEARS == 2028, 6, 1][0]


def test_activity_inputs(data, baseline) -> None:
    n = len(YEARS)
    vkt = np.tile(np.linspace(40.0, 80.0, n), (3, 1))
    act = {
        "heavy_truck": ActivityInput(vkt_bn=vkt),
        "bus": ActivityInput(stock_vehicles=np.full((3, n), 20000.0)),
        "private_car": ActivityInput(vkt_index=np.full((3, n), 0.9)),
    }
    res = simulate_fleets(data, FleetLevers(), {}, YEARS, 3, activity=act)
    heavy = res.stock[0, :, 6].sum(-1)
    assert heavy[-1] / heavy[0] == pytest.approx(2.0, rel=1e-6)
    assert res.stock[0, 5, 2].sum() == pytest.approx(20000.0)
    # the same run without the car index: the bus stock changes the NEV stock the charger market follows, so the
    # cars' powertrain mix (and with BEVs' shorter lives, their age mix) is that run's, not the baseline's
    unscaled = simulate_fleets(data, FleetLevers(), {}, YEARS, 3, activity={k: act[k] for k in ("heavy_truck", "bus")})
    assert res.vkt_bn[0, 10, 0] == pytest.approx(0.9 * unscaled.vkt_bn[0, 10, 0], rel=1e-9)
    with pytest.raises(ValueError):
        ActivityInput()


def test_sales_driven_mode(data) -> None:
    n = len(YEARS[:11])
    sales = np.full((1, n), 2000.0)
    res = simulate_fleets(
        data, FleetLevers(), {}, YEARS[:11], 1, modes={"coach": "sales"}, sales_paths={"coach": sales}
    )
    assert res.sales[0, 1:, 3].sum(-1) == pytest.approx(np.full(n - 1, 2000.0))


def test_dataset_error_names_file_and_field(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(DATA / "fleets", tmp_path / "fleets")
    path = tmp_path / "fleets" / "segments.csv"
    path.write_text(path.read_text().replace("private_car,6000000", "private_car,-5"))
    with pytest.raises(DatasetError) as err:
        load_fleet_data(tmp_path)
    assert "segments.csv" in str(err.value) and "base_stock_vehicles" in str(err.value)


NEV_ROWS = [3, 4, 5]  # bev, phev, fcev in fleets.POWERTRAINS order
SHORT = np.arange(2020, 2036)


def _nev_sales_share(res) -> np.ndarray:
    """(members, years, segments) NEV share of sales; 0 where a segment sells nothing."""
    total = res.sales.sum(-1)
    return np.where(total > 0, res.sales[..., NEV_ROWS].sum(-1) / np.where(total > 0, total, 1.0), 0.0)


def test_the_purchase_tax_extension_raises_car_nev_sales_in_2024_to_2027(data) -> None:
    """The 2022 and 2023 extensions (exempt to 2025, half tax 2026-2027; the history scenario) against the 2020 rule
    (full tax from 2023): more NEVs among new private cars in each year 2024-2027, and none fewer in any segment
    while the extension runs. After it ends (2028-2031) light vans sell 0.01-0.08 points fewer NEVs: the extra
    BEV vans bought under it still use their share of the public chargers (congestion, fleets README "Chargers");
    bounded here at 0.1 points so that a return of the old ceiling (several points) fails."""
    enacted = FleetLevers(nev_purchase_tax_factor={2020: 0.0, 2025: 0.0, 2026: 0.5, 2027: 0.5, 2028: 1.0})
    with_it = _nev_sales_share(simulate_fleets(data, enacted, {}, SHORT, 1))
    without = _nev_sales_share(simulate_fleets(data, FleetLevers(), {}, SHORT, 1))
    for year in range(2024, 2028):
        i = int(np.flatnonzero(year == SHORT)[0])
        assert with_it[0, i, 0] > without[0, i, 0] + 0.005, year
    during = SHORT <= 2027
    assert (with_it[:, during] >= without[:, during] - 1e-9).all()
    assert (with_it >= without - 1e-3).all()


NEV_FAVOURABLE = {
    "chargers": lambda x: FleetLevers(chargers={2020: 0.0, 2025: 50000.0 * x, 2035: 400000.0 * x}),
    "purchase_tax": lambda x: FleetLevers(nev_purchase_tax_factor={2020: 0.0, 2022: 0.0, 2023: 1.0 - x}),
    "subsidy": lambda x: FleetLevers(nev_subsidy_share={2020: 0.10, 2021: 0.08, 2022: 0.056 + 0.1 * x, 2023: 0.1 * x}),
    "carbon_price": lambda x: FleetLevers(carbon_price_yuan_t={2020: 0.0, 2030: 500.0 * x}),
    "ice_limit": lambda x: FleetLevers(
        sales_rules=[SalesRule(segment="private_car", group="ice", kind="max", share=1.0 - 0.8 * x, start=2025.0)]
    ),
}


@pytest.mark.parametrize("lever", sorted(NEV_FAVOURABLE))
def test_nev_favourable_levers_never_lower_nev_sales(data, lever: str) -> None:
    """Raising a lever that favours NEVs, step by step over its range, never lowers the NEV share of sales of any
    segment in any year (charging is an availability term, not a ceiling that fills earlier); dearer oil likewise."""
    shares = [_nev_sales_share(simulate_fleets(data, NEV_FAVOURABLE[lever](x), {}, SHORT, 1)) for x in (0, 0.5, 1)]
    for lower, higher in itertools.pairwise(shares):
        assert (higher >= lower - 1e-9).all(), np.argwhere(higher < lower - 1e-9)[:5]
    assert (shares[-1] > shares[0] + 1e-6).any()


def test_dearer_oil_never_lowers_nev_sales(data) -> None:
    shares = [
        _nev_sales_share(simulate_fleets(data, FleetLevers(), _params(1, fleet_oil_price_factor=f), SHORT, 1))
        for f in (0.7, 1.0, 1.5)
    ]
    for lower, higher in itertools.pairwise(shares):
        assert (higher >= lower - 1e-9).all(), np.argwhere(higher < lower - 1e-9)[:5]


def test_2020_use_is_the_covid_dip_below_a_normal_year(data, baseline) -> None:
    """2020 vehicle-km of a listed segment = (1 - dip x factor) x the normal year's; 2021 on, the normal year's.
    Coaches (dip 0.40): at factor 0 (no dip) their 2020 km are 1 / 0.6 of the shipped run's, the same after 2020."""
    dip = data.parameters["covid"]["vkt_dip_2020"]["coach"]
    normal = simulate_fleets(data, FleetLevers(), _params(3, fleet_covid_dip_factor=0.0), YEARS, 3)
    coach = 3
    assert baseline.vkt_bn[0, 0, coach] == pytest.approx((1.0 - dip) * normal.vkt_bn[0, 0, coach], rel=1e-12)
    np.testing.assert_allclose(baseline.vkt_bn[0, 1:, coach], normal.vkt_bn[0, 1:, coach], rtol=1e-12)
    heavy_truck = 6  # freight segments follow the freight model's 2020 tonnes: no dip of their own
    assert baseline.vkt_bn[0, 0, heavy_truck] == pytest.approx(normal.vkt_bn[0, 0, heavy_truck], rel=1e-12)


def test_a_bad_covid_dip_names_the_file_and_the_segment(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(DATA, tmp_path / "guangxi")
    toml = tmp_path / "guangxi" / "fleets" / "parameters.toml"
    toml.write_text(toml.read_text().replace("coach = 0.40", "coche = 0.40"))
    with pytest.raises(DatasetError, match=r"covid\.vkt_dip_2020.*coche"):
        load_fleet_data(tmp_path / "guangxi")


def test_private_car_sales_have_no_step_no_registration_series_shows(data) -> None:
    """Sales follow the ownership curve on expected income: no year-on-year change beyond 15 % in 2020-2030 (China's
    passenger-car sales moved -6 % to +10 % a year in 2019-2022); with the yearly GDP path it was +25 %, then -44 %."""
    res = simulate_fleets(data, FleetLevers(), {}, np.arange(2020, 2031), 1)
    sales = res.sales[0, :, 0].sum(-1)
    change = sales[1:] / sales[:-1] - 1.0
    assert np.abs(change).max() < 0.15, np.round(change, 3)


def test_centred_mean_of_growth_by_hand() -> None:
    from transport.vehicles.demand import _centred_mean

    growth = np.array([0.068, 0.060, 0.037, 0.075, 0.029])
    smoothed = _centred_mean(growth, 3)
    assert smoothed[3] == pytest.approx((0.037 + 0.075 + 0.029) / 3, rel=1e-12)
    assert smoothed[0] == pytest.approx((0.068 + 0.068 + 0.060) / 3, rel=1e-12)  # the end padded with itself
    np.testing.assert_array_equal(_centred_mean(growth, 1), growth)


def test_heavy_truck_lng_follows_the_lng_diesel_spread(data) -> None:
    """Cheaper gas or dearer diesel raises the LNG share of heavy-truck sales in every year after 2020, and the
    response is large (China's LNG truck sales tripled in 2023 when LNG fell against diesel), not a fixed ~6 %."""
    gas = POWERTRAINS_ORDER.index("gas")

    def lng(**over: float) -> np.ndarray:
        res = simulate_fleets(data, FleetLevers(), _params(1, **over), SHORT, 1)
        sales = res.sales[0, :, 6]
        return sales[:, gas] / sales.sum(-1)

    central, cheap_gas, dear_oil = lng(), lng(fleet_gas_price_factor=0.6), lng(fleet_oil_price_factor=1.5)
    assert (cheap_gas[1:] > central[1:]).all() and (dear_oil[1:] > central[1:]).all()
    assert cheap_gas[3] > 2.0 * central[3]  # 2023: at 40 % cheaper gas the LNG share more than doubles
