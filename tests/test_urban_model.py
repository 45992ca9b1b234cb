"""Urban green-trip model (transport.urban): calibration, logit hand checks, conservation, elasticities, hand-offs."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from tests.conftest import SHIPPED_DATASET
from transport import urban as u
from transport.cities import load_prefectures
from transport.errors import DatasetError, ScenarioError
from transport.levers.urban import UNCERTAIN, UrbanLevers
from transport.targets import green_trip_targets
from transport.urban.model import base_shares_with_ebike
from transport.urban.names import MODE_INDEX

YEARS = np.arange(2020, 2031)


@pytest.fixture(scope="module")
def data() -> u.UrbanData:
    return u.load_urban_data(SHIPPED_DATASET)


@pytest.fixture(scope="module")
def base(data: u.UrbanData) -> u.UrbanResult:
    return u.simulate_urban(data, UrbanLevers(), u.default_params(1), YEARS, 1)


def _mode(name: str) -> int:
    return u.MODES.index(name)


# ------------------------------------------------------------------------------------------------ calibration
def test_calibration_reproduces_base_year_shares(data: u.UrbanData) -> None:
    params = u.default_params(5)
    rng = np.random.default_rng(3)
    for name, spec in UNCERTAIN.items():  # every member a different draw: constants are calibrated per member
        params[name] = rng.uniform(spec.low, spec.high, 5)
    res = u.simulate_urban(data, UrbanLevers(), params, YEARS, 5)
    observed = base_shares_with_ebike(data, params["urban_ebike_share_quantile"])
    np.testing.assert_allclose(res.shares[:, 0], observed, atol=1e-9)
    assert res.calibration_residual < 1e-9
    # the central member calibrates to the dataset's shares (the others to their own e-bike quantile)
    frame = u.simulate_urban(data, UrbanLevers(), u.default_params(1), YEARS, 1).urban.filter(pl.col("year") == 2020)
    joined = frame.join(
        pl.read_csv(SHIPPED_DATASET / "urban" / "base_shares.csv", comment_prefix="#"), on=["city", "mode"]
    )
    assert (joined["share"] - joined["share_right"]).abs().max() < 1e-6


def test_every_dataset_city_is_simulated(data: u.UrbanData, base: u.UrbanResult) -> None:
    assert set(base.urban["city"].unique()) == set(data.cities)
    assert {"nanning", "liuzhou", "guilin", "yulin"} <= set(data.cities)
    assert base.urban.columns == ["member", "year", "city", "mode", "trips_m", "share"]
    assert dict(base.urban.schema) == {
        "member": pl.Int32,
        "year": pl.Int32,
        "city": pl.Utf8,
        "mode": pl.Utf8,
        "trips_m": pl.Float64,
        "share": pl.Float64,
    }


# ------------------------------------------------------------------------------------------------ logit by hand
def test_two_band_logit_by_hand() -> None:
    """Two bands (w = 0.6, 0.4), three modes, two segments (car available for 30 %): shares written out by hand."""
    v = np.array([[0.0, -1.0, -2.0], [-3.0, -0.5, -0.2]])  # band x mode
    band_w = np.array([0.6, 0.4])
    seg_w = np.array([0.3, 0.7])
    avail = np.array([[True, True, True], [True, True, False]])  # mode 2 = car, missing in segment 2

    def mnl(vals: list[float]) -> list[float]:
        e = [math.exp(x) for x in vals]
        return [x / sum(e) for x in e]

    expected = [0.0, 0.0, 0.0]
    for b in range(2):
        with_car = mnl(list(v[b]))
        without = [*mnl(list(v[b, :2])), 0.0]
        for k in range(3):
            expected[k] += band_w[b] * (0.3 * with_car[k] + 0.7 * without[k])
    shares, by_band = u.mixed_shares(v, band_w, seg_w, avail)
    np.testing.assert_allclose(shares, expected, rtol=1e-12)
    np.testing.assert_allclose(by_band.sum(axis=-1), 1.0)
    # e.g. band 1, car segment, mode 0: 1 / (1 + e^-1 + e^-2)
    assert u.logit_shares(v[0])[0] == pytest.approx(1 / (1 + math.exp(-1) + math.exp(-2)))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-30.0, 5.0), min_size=6, max_size=6),
    st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4),
    st.floats(0.0, 1200.0),
)
def test_mixed_shares_equal_one_logit_per_segment(
    values: list[float], raw_w: list[float], unavailable_lead: float
) -> None:
    """The shared-numerator form equals the reference (one logit per availability segment, each over its own
    modes), also when an unavailable mode's utility is so far above the others that their exp() underflows
    against it (the function then falls back to the reference)."""
    v = np.array(values).reshape(2, 3)
    v[1, 2] = v[1, :2].max() + unavailable_lead  # mode 2 is unavailable in segment 1
    avail = np.array([[True, True, True], [True, True, False]])
    seg_w = np.array(raw_w[:2]) + 1e-3
    seg_w /= seg_w.sum()
    band_w = np.array(raw_w[2:]) + 1e-3
    band_w /= band_w.sum()
    shares, by_band = u.mixed_shares(v, band_w, seg_w, avail)
    reference = sum(seg_w[s] * u.logit_shares(v, avail[s]) for s in range(2))
    np.testing.assert_allclose(by_band, reference, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(shares, band_w @ reference, rtol=1e-12, atol=1e-300)


def test_trip_length_bands_match_scipy_gamma_on_many_means() -> None:
    """The incomplete-gamma recurrence against scipy.stats.gamma on a grid of means (bands from 0.5 km to open)."""
    mean = np.linspace(0.8, 25.0, 60)
    edges = np.array([0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0])
    for shape in (1.2, 1.5, 2.7):
        w, band_mean = u.trip_length_bands(mean, shape, edges)
        theta = mean[:, None] / shape
        lo, hi = edges, np.append(edges[1:], np.inf)
        mass = stats.gamma.cdf(hi, a=shape, scale=theta) - stats.gamma.cdf(lo, a=shape, scale=theta)
        first = stats.gamma.cdf(hi, a=shape + 1, scale=theta) - stats.gamma.cdf(lo, a=shape + 1, scale=theta)
        np.testing.assert_allclose(w, mass, rtol=1e-12, atol=1e-300)
        # band means where the band holds trips; in a far tail of mass ~1e-11 both sides lose digits to
        # cancellation, so there the check is on the band's share of distance (weight x mean)
        held = mass > 1e-8
        np.testing.assert_allclose(
            band_mean[held], mean[:, None].repeat(len(edges), 1)[held] * first[held] / mass[held], rtol=1e-9
        )
        np.testing.assert_allclose(w * band_mean, mean[:, None] * first, rtol=1e-7, atol=1e-12)


def test_constants_hit_a_target_on_the_two_band_example() -> None:
    v = np.array([[0.0, -1.0, -2.0], [-3.0, -0.5, -0.2]])
    target = np.array([0.5, 0.3, 0.2])
    asc, residual, _ = u.calibrate_constants(
        v, np.array([0.6, 0.4]), np.array([0.3, 0.7]), np.array([[True] * 3, [True, True, False]]), target
    )
    shares, _ = u.mixed_shares(
        v + asc, np.array([0.6, 0.4]), np.array([0.3, 0.7]), np.array([[True] * 3, [True, True, False]])
    )
    np.testing.assert_allclose(shares, target, atol=1e-10)
    assert residual < 1e-10 and asc[0] == 0.0


def test_trip_length_bands_match_numerical_integration() -> None:
    edges = np.array([0.0, 1.0, 3.0, 8.0])
    w, mean = u.trip_length_bands(np.array(5.0), 1.5, edges)
    dist = stats.gamma(a=1.5, scale=5.0 / 1.5)
    for b, (lo, hi) in enumerate(zip(edges, [*edges[1:], np.inf], strict=True)):
        mass = integrate.quad(dist.pdf, lo, hi)[0]
        first = integrate.quad(lambda x: x * dist.pdf(x), lo, hi)[0]
        assert w[b] == pytest.approx(mass, rel=1e-7)
        assert mean[b] == pytest.approx(first / mass, rel=1e-6)
    assert w.sum() == pytest.approx(1.0)
    assert (w * mean).sum() == pytest.approx(5.0)  # the band means rebuild the overall mean


# ------------------------------------------------------------------------------------------------ conservation
lever_values = st.fixed_dictionaries(
    {
        "bus_lane_km_added_per_million": st.floats(0, 300),
        "bus_frequency_factor": st.floats(0.5, 3.0),
        "transit_fare_factor": st.floats(0, 3),
        "cycle_lane_km_added_per_million": st.floats(0, 1000),
        "parking_price_factor": st.floats(0.5, 10),
        "car_restriction_share": st.floats(0, 0.8),
        "ebike_restriction_share": st.floats(0, 1),
        "density_change": st.floats(-0.3, 1.0),
        "intersection_density_change": st.floats(-0.3, 2.0),
    }
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=lever_values, metro=st.floats(0, 300))
def test_shares_sum_to_one_and_trips_are_conserved(data: u.UrbanData, values: dict[str, float], metro: float) -> None:
    levers = UrbanLevers(
        **{k: {2020: 1.0 if "factor" in k else 0.0, 2030: v} for k, v in values.items()},
        metro_km_added={"liuzhou": {2022: 0.0, 2030: metro}},
    )
    res = u.simulate_urban(data, levers, u.default_params(2), YEARS, 2)
    np.testing.assert_allclose(res.shares.sum(axis=-1), 1.0, atol=1e-12)
    assert np.all(res.shares >= 0)
    total = res.residents * data.city["trips_per_resident_day"] * 365.0 / 1e6
    np.testing.assert_allclose(res.trips_m.sum(axis=-1), total, rtol=1e-12)
    for seg in u.HANDOFF_SEGMENTS:
        assert res.vkt_bn[seg].shape == (2, len(YEARS)) and np.all(res.vkt_bn[seg] >= 0)
    np.testing.assert_allclose(res.shares[:, 0], np.broadcast_to(data.base_shares, res.shares[:, 0].shape), atol=1e-9)


def test_members_are_independent_of_the_ensemble(data: u.UrbanData) -> None:
    """Member i of a vectorised ensemble equals a run of member i alone."""
    params = u.default_params(3)
    params["urban_value_of_time_yuan_h"] = np.array([10.0, 15.0, 25.0])
    params["urban_population_growth_factor"] = np.array([0.5, 1.0, 1.5])
    params["urban_car_ownership_growth"] = np.array([0.02, 0.04, 0.06])
    ens = u.simulate_urban(data, UrbanLevers(), params, YEARS, 3)
    for i in range(3):
        one = u.simulate_urban(data, UrbanLevers(), {k: v[i : i + 1] for k, v in params.items()}, YEARS, 1)
        np.testing.assert_allclose(ens.shares[i], one.shares[0], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(ens.bus_fleet_vehicles[i], one.bus_fleet_vehicles[0], rtol=1e-10)


def test_green_share_both_ways(base: u.UrbanResult) -> None:
    g = base.green_share(include_ebike=False)
    ge = base.green_share(include_ebike=True)
    assert g.columns == ["member", "year", "city", "share"]
    nanning = (pl.col("city") == "nanning") & (pl.col("year") == 2020)
    assert g.filter(nanning)["share"][0] == pytest.approx(0.22 + 0.04 + 0.11 + 0.06)
    assert ge.filter(nanning)["share"][0] == pytest.approx(0.22 + 0.04 + 0.11 + 0.06 + 0.33)


# ------------------------------------------------------------------------------------------------ elasticities
def _elasticity(data: u.UrbanData, base: u.UrbanResult, levers: UrbanLevers, mode: str, change: float) -> np.ndarray:
    res = u.simulate_urban(data, levers, u.default_params(1), YEARS, 1)
    k = _mode(mode)
    with np.errstate(invalid="ignore", divide="ignore"):  # metro: 0/0 in cities without metro
        return np.log(res.trips_m[0, -1, :, k] / base.trips_m[0, -1, :, k]) / math.log(1 + change)


def test_bus_ridership_vs_service_is_in_the_published_range(data: u.UrbanData, base: u.UrbanResult) -> None:
    """Transit ridership vs service frequency: +0.3..+0.7 (TRL 2004; Litman 2021 'Transit price elasticities')."""
    e = _elasticity(data, base, UrbanLevers(bus_frequency_factor={2020: 1.0, 2030: 1.1}), "bus", 0.1)
    assert np.all((e > 0.3) & (e < 0.7)), e


def test_transit_fare_elasticity_is_negative_and_moderate(data: u.UrbanData, base: u.UrbanResult) -> None:
    """Bus fare elasticity -0.2..-0.5 (the 'Simpson-Curtin' -0.3 rule and TRL 2004)."""
    e = _elasticity(data, base, UrbanLevers(transit_fare_factor={2020: 1.0, 2030: 1.1}), "bus", 0.1)
    assert np.all((e < -0.15) & (e > -0.5)), e


def test_car_use_falls_with_parking_price(data: u.UrbanData, base: u.UrbanResult) -> None:
    """Car trips vs parking price: -0.1..-0.3 in cities with paid parking (Litman; Concas & Nayak 2012)."""
    e = _elasticity(data, base, UrbanLevers(parking_price_factor={2020: 1.0, 2030: 1.1}), "car", 0.1)
    assert np.all(e < 0), e
    assert -0.3 < e[data.city_index("nanning")] < -0.1


def test_metro_ridership_grows_with_network(data: u.UrbanData, base: u.UrbanResult) -> None:
    nn = data.city_index("nanning")
    e = _elasticity(data, base, UrbanLevers(metro_km_added={"nanning": {2020: 0.0, 2030: 12.82}}), "metro", 0.1)
    assert 0.3 < e[nn] < 1.0  # network-length elasticities of rail ridership ~0.5-1.0


def test_lever_signs(data: u.UrbanData, base: u.UrbanResult) -> None:
    green0 = base.green_share_array()[0, -1]
    for levers in (
        UrbanLevers(bus_lane_km_added_per_million={2020: 0.0, 2030: 100.0}),
        UrbanLevers(car_restriction_share={2020: 0.0, 2030: 0.3}),
        UrbanLevers(density_change={2020: 0.0, 2030: 0.3}),
        UrbanLevers(intersection_density_change={2020: 0.0, 2030: 0.5}),
    ):
        res = u.simulate_urban(data, levers, u.default_params(1), YEARS, 1)
        assert np.all(res.green_share_array()[0, -1] > green0), levers
    # Cycle lanes are shared with e-bikes: they raise cycling and green-with-e-bike shares; without e-bikes the
    # sign depends on how much of the gain goes to e-bikes (reported, not asserted).
    lanes = u.simulate_urban(
        data, UrbanLevers(cycle_lane_km_added_per_million={2020: 0.0, 2030: 200.0}), u.default_params(1), YEARS, 1
    )
    assert np.all(lanes.shares[0, -1, :, _mode("bicycle")] > base.shares[0, -1, :, _mode("bicycle")])
    assert np.all(lanes.green_share_array(True)[0, -1] > base.green_share_array(True)[0, -1])
    ebike_ban = u.simulate_urban(
        data, UrbanLevers(ebike_restriction_share={2020: 0.0, 2030: 0.5}), u.default_params(1), YEARS, 1
    )
    k = _mode("ebike")
    assert np.all(ebike_ban.shares[0, -1, :, k] < base.shares[0, -1, :, k])
    assert np.all(ebike_ban.green_share_array()[0, -1] > green0)  # part of e-bike users walk, cycle or ride transit


def test_metro_constant_is_transferred_to_a_new_metro_city(data: u.UrbanData, base: u.UrbanResult) -> None:
    lz = data.city_index("liuzhou")
    assert np.all(base.shares[0, :, lz, _mode("metro")] == 0)
    res = u.simulate_urban(
        data, UrbanLevers(metro_km_added={"liuzhou": {2024: 0.0, 2026: 40.0}}), u.default_params(1), YEARS, 1
    )
    metro = res.shares[0, :, lz, _mode("metro")]
    assert np.all(metro[YEARS <= 2024] == 0) and np.all(metro[YEARS >= 2026] > 0.01)
    nn = data.city_index("nanning")
    offset = res.asc[0, :, _mode("metro")] - res.asc[0, :, _mode("bus")]
    assert offset[lz] == pytest.approx(offset[nn])


# ------------------------------------------------------------------------------------------------ hand-offs
def test_bus_fleet_and_metro_against_published_counts(data: u.UrbanData, base: u.UrbanResult) -> None:
    nn = data.city_index("nanning")
    i2021 = int(np.searchsorted(YEARS, 2021))
    # Nanning had 3833 urban buses in 2021 (fact 83); metro 2.89 亿 rides in 2021 (fact 176, rides > linked trips).
    assert base.bus_vehicles[0, i2021, nn] == pytest.approx(3833, rel=0.15)
    assert base.trips_m[0, i2021, nn, _mode("metro")] == pytest.approx(289.0, rel=0.25)
    assert base.bus_fleet_vehicles.shape == (1, len(YEARS))
    np.testing.assert_allclose(base.bus_fleet_vehicles, base.bus_vehicles.sum(axis=-1))


def test_vkt_hand_off_is_passenger_km_over_occupancy(data: u.UrbanData, base: u.UrbanResult) -> None:
    k = _mode("car")
    occ = data.modes["occupancy_pax"][k]
    np.testing.assert_allclose(base.vkt_bn["private_car"], base.pkm_bn[..., k].sum(axis=-1) / occ)
    t = _mode("taxi")
    factor = 1 / data.modes["occupancy_pax"][t] / (1 - data.modes["empty_running_share"][t])
    np.testing.assert_allclose(base.vkt_bn["taxi"], base.pkm_bn[..., t].sum(axis=-1) * factor)
    assert set(data.provincial_vkt_share) == set(u.HANDOFF_SEGMENTS)


def test_bus_priority_needs_fewer_buses_for_the_same_service(data: u.UrbanData, base: u.UrbanResult) -> None:
    lanes = u.simulate_urban(
        data, UrbanLevers(bus_lane_km_added_per_million={2020: 0.0, 2030: 100.0}), u.default_params(1), YEARS, 1
    )
    np.testing.assert_allclose(lanes.bus_km_bn, base.bus_km_bn)
    assert np.all(lanes.bus_vehicles[0, -1] <= base.bus_vehicles[0, -1])
    more = u.simulate_urban(
        data, UrbanLevers(bus_frequency_factor={2020: 1.0, 2030: 1.5}), u.default_params(1), YEARS, 1
    )
    np.testing.assert_allclose(more.bus_km_bn[0, -1], 1.5 * base.bus_km_bn[0, -1])


# ------------------------------------------------------------------------------------------------ cities, metrics
def test_cities_over_threshold(data: u.UrbanData, base: u.UrbanResult) -> None:
    assert u.cities_over_threshold(data, base.population, 2020) == ["nanning", "liuzhou", "guilin"]
    assert u.cities_over_threshold(data, None, 2020) == ["nanning", "liuzhou", "guilin"]
    assert u.cities_over_threshold(data, base.population, 2020, threshold=2e5) == list(data.cities)
    fast = u.default_params(1)
    fast["urban_population_growth_factor"] = np.array([1.6])
    res = u.simulate_urban(data, UrbanLevers(), fast, np.arange(2020, 2051), 1)
    assert "yulin" in u.cities_over_threshold(data, res.population, 2050)


def test_all_prefecture_cities_are_modelled(data: u.UrbanData, base: u.UrbanResult) -> None:
    """Green trips for every prefecture city (issue 17): the urban cities are exactly cities/prefectures.csv's."""
    prefectures = load_prefectures(SHIPPED_DATASET)
    assert len(prefectures.cities) == 14 and sorted(data.cities) == sorted(prefectures.cities)
    assert not np.isnan(base.green_share_array(True)).any()
    # small cities: low bus shares, high walk and e-bike shares (README)
    small = [data.city_index(c) for c in data.cities if base.residents[0, 0, data.city_index(c)] < 6e5]
    assert len(small) >= 8
    shares = data.base_shares[small]
    assert np.all(shares[:, _mode("bus")] <= 0.07) and np.all(shares[:, _mode("ebike")] >= 0.33)
    assert np.all(shares[:, _mode("walk")] >= 0.25)


def _crossing(data: u.UrbanData, city: str) -> u.UrbanData:
    """The shipped data with one small city growing past 1 million urban residents in 2027."""
    points = dict(data.population_points)
    points[city] = {2020: 650_000.0, 2027: 1_000_000.0, 2030: 1_150_000.0}
    return dataclasses.replace(data, population_points=points)


def test_big_city_set_is_read_from_population_per_year(data: u.UrbanData) -> None:
    """A city crossing 1 million in 2027 counts for the 2030 green-trip target, with both definitions."""
    grown = _crossing(data, "chongzuo")
    res = u.simulate_urban(grown, UrbanLevers(), u.default_params(1), np.arange(2020, 2031), 1)
    assert "chongzuo" not in u.cities_over_threshold(grown, res.population, 2026)
    assert "chongzuo" in u.cities_over_threshold(grown, res.population, 2027)
    assert "chongzuo" not in u.cities_over_threshold(data, None, 2030)
    for label, ebike in (("", False), ("_with_ebike", True)):
        rows = green_trip_targets(res.green_share(include_ebike=ebike), res.population, label)
        cities = set(rows.filter(pl.col("detail").is_in(list(grown.cities)))["detail"])
        assert cities == {"nanning", "liuzhou", "guilin", "chongzuo"}
        row = rows.filter(pl.col("target") == f"green_trip_share{label}.chongzuo")
        assert row["value"][0] == pytest.approx(res.green_share_array(ebike)[0, -1, grown.city_index("chongzuo")])
        worst = rows.filter(pl.col("target") == f"green_trip_share{label}.all_big_cities")["value"][0]
        assert worst == pytest.approx(rows.filter(pl.col("detail").is_in(list(cities)))["value"].min())
    # per member: slower growth keeps the city below 1 million in 2030 for that member only
    params = u.default_params(2)
    params["urban_population_growth_factor"] = np.array([1.0, 0.4])
    res2 = u.simulate_urban(grown, UrbanLevers(), params, np.arange(2020, 2031), 2)
    rows = green_trip_targets(res2.green_share(), res2.population)
    members = rows.filter(pl.col("target") == "green_trip_share.chongzuo")["member"].to_list()
    assert members == [0]


def test_street_metrics_change_responses_not_the_base_year(data: u.UrbanData, base: u.UrbanResult) -> None:
    connected = u.with_street_metrics(data, "guilin", intersection_density_km2=90.0, transit_coverage_share=0.6)
    levers = UrbanLevers(density_change={2020: 0.0, 2030: 0.3})
    a = u.simulate_urban(data, levers, u.default_params(1), YEARS, 1)
    b = u.simulate_urban(connected, levers, u.default_params(1), YEARS, 1)
    gl = data.city_index("guilin")
    np.testing.assert_allclose(b.shares[0, 0], a.shares[0, 0], atol=1e-9)
    # Denser city: coverage gains are larger where coverage was lower, so bus gains more in the 60 %-coverage variant.
    assert b.shares[0, -1, gl, _mode("bus")] != pytest.approx(a.shares[0, -1, gl, _mode("bus")], rel=1e-6)
    with pytest.raises(DatasetError):
        u.with_street_metrics(data, "guilin", transit_coverage_share=1.5)


# ------------------------------------------------------------------------------------------------ errors
def test_unknown_city_in_metro_lever(data: u.UrbanData) -> None:
    with pytest.raises(ScenarioError, match="atlantis"):
        u.simulate_urban(data, UrbanLevers(metro_km_added={"atlantis": {2025: 10.0}}), u.default_params(1), YEARS, 1)


def test_years_must_start_at_the_base_year(data: u.UrbanData) -> None:
    with pytest.raises(ScenarioError):
        u.simulate_urban(data, UrbanLevers(), u.default_params(1), np.arange(2021, 2030), 1)


def test_shares_not_summing_to_one_are_refused(dataset_copy: Path) -> None:
    path = dataset_copy / "urban" / "base_shares.csv"
    path.write_text(path.read_text().replace("nanning,walk,0.22", "nanning,walk,0.25"))
    with pytest.raises(DatasetError, match="sum to 1"):
        u.load_urban_data(dataset_copy)


def test_metro_share_without_metro_is_refused(dataset_copy: Path) -> None:
    path = dataset_copy / "urban" / "metro_network.csv"
    path.write_text("city,year,metro_km\nnanning,2025,0\n")  # no metro in 2020, yet a 6 % metro share
    with pytest.raises(DatasetError, match="metro"):
        u.load_urban_data(dataset_copy)


def test_lever_bounds_are_enforced() -> None:
    with pytest.raises(ValueError):
        UrbanLevers(car_restriction_share={2025: 0.95})
    with pytest.raises(ValueError):
        UrbanLevers(unknown_lever=1.0)  # type: ignore[call-arg]


def test_lever_sweep_table(data: u.UrbanData) -> None:
    table = u.lever_sweep(
        data, {"baseline": UrbanLevers(), "parking x3": UrbanLevers(parking_price_factor={2020: 1.0, 2030: 3.0})}
    )
    assert table.height == 2 * len(data.cities)
    base_rows = table.filter(pl.col("variant") == "baseline").sort("city")
    park = table.filter(pl.col("variant") == "parking x3").sort("city")
    assert np.all(park["car_share"].to_numpy() < base_rows["car_share"].to_numpy())


def test_ebike_share_quantile_moves_the_observed_ebike_share_within_its_range(data: u.UrbanData) -> None:
    """0.5 is the dataset; 0 and 1 its low and high e-bike shares; the other modes keep their proportions and each
    city sums to 1; a member with more e-bikes in 2020 has a lower green-trip share (MoT definition) in 2030."""
    e = MODE_INDEX["ebike"]
    shares = base_shares_with_ebike(data, np.array([0.5, 0.0, 1.0, 0.25]))
    np.testing.assert_allclose(shares[0], data.base_shares, atol=1e-15)
    np.testing.assert_allclose(shares[1, :, e], data.share_low[:, e])
    np.testing.assert_allclose(shares[2, :, e], data.share_high[:, e])
    np.testing.assert_allclose(shares[3, :, e], (data.base_shares[:, e] + data.share_low[:, e]) / 2)
    np.testing.assert_allclose(shares.sum(axis=2), 1.0, atol=1e-12)
    walk, bus = MODE_INDEX["walk"], MODE_INDEX["bus"]
    ratio = shares[:, :, walk] / shares[:, :, bus]
    np.testing.assert_allclose(
        ratio, np.broadcast_to(data.base_shares[:, walk] / data.base_shares[:, bus], ratio.shape)
    )
    params = u.default_params(3)
    params["urban_ebike_share_quantile"] = np.array([0.0, 0.5, 1.0])
    res = u.simulate_urban(data, UrbanLevers(), params, YEARS, 3)
    green = res.green_share_array()[:, list(res.years).index(2030)]
    assert np.all(green[0] > green[1]) and np.all(green[1] > green[2])
