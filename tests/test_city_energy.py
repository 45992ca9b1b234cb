"""Road energy, oil and CO2 by prefecture city: the cities add up to the province, one city's split by hand, the
urban blend by hand, the road links' city weights, and the stored views against the targets."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from runs.execute import RunRequest, execute, prepare
from runs.store import ResultsStore
from transport.city_energy import base_split, city_road_arrays, urban_blend
from transport.freight.network import city_zones, road_link_zone_weights, run_links
from transport.model import simulate
from transport.scenario import sample_parameters

END = 2032


@pytest.fixture(scope="module")
def baseline():
    scenario, _, dataset = prepare(RunRequest("baseline", end_year=END))
    params = sample_parameters(scenario, 3, 5)
    return scenario, dataset, simulate(scenario, dataset, params, np.arange(2020, END + 1), 3)


def test_cities_add_up_to_the_province_for_every_member_year_segment_and_fuel(baseline) -> None:
    _, dataset, tables = baseline
    energy, city_road, city_energy = tables["energy"], tables["city_road"], tables["city_energy"]
    quantities = ["energy_pj", "oil_mt", "co2_ttw_mt", "co2_wtw_mt"]
    province = energy.group_by("member", "year").agg(pl.col(quantities).sum())
    cities = city_road.group_by("member", "year").agg(pl.col(quantities).sum())
    joined = province.join(cities, on=["member", "year"], suffix="_cities")
    assert joined.height == 3 * (END - 2020 + 1)
    for q in quantities:
        assert np.allclose(joined[f"{q}_cities"], joined[q], rtol=1e-9, atol=0)
    assert city_road["city"].n_unique() == 14 and set(city_road["city_code"]) == set(dataset.prefectures.city_codes)
    # by segment and fuel: the central estimate (member 0) only, which bounds an ensemble's rows
    assert city_energy["member"].unique().to_list() == [0]
    keys = ["year", "segment", "fuel"]
    by_fuel = energy.filter(pl.col("member") == 0).group_by(keys).agg(pl.col(quantities).sum())
    split = city_energy.group_by(keys).agg(pl.col(quantities).sum())
    both = by_fuel.join(split, on=keys, suffix="_cities")
    assert both.height == by_fuel.height
    for q in quantities:
        assert np.allclose(both[f"{q}_cities"], both[q], rtol=1e-9, atol=1e-15)


def test_nanning_sanitation_follows_its_population_and_income(baseline) -> None:
    """Sanitation vehicles split by population x (GDP per capita / provincial mean)^0.5: Nanning's diesel is the
    province's x its weight, computed here from the census (cities/prefectures.csv) and the 2020 GDP (zones.csv)."""
    _, dataset, tables = baseline
    pref = dataset.prefectures
    mass = dict(zip(dataset.freight.zones["zone"], dataset.freight.zones["mass_bn_yuan"], strict=True))
    gdp = np.array([mass[z] for z in pref.freight_zones])
    weights = pref.population_2020 * (gdp / pref.population_2020 / (gdp.sum() / pref.population_2020.sum())) ** 0.5
    keys = ["year", "segment", "fuel"]
    province = (
        tables["energy"]
        .filter((pl.col("member") == 0) & (pl.col("segment") == "sanitation") & (pl.col("fuel") == "diesel"))
        .group_by(keys)
        .agg(pl.col("oil_mt").sum())
        .sort("year")
    )
    nanning = (
        tables["city_energy"]
        .filter((pl.col("city") == "nanning") & (pl.col("segment") == "sanitation") & (pl.col("fuel") == "diesel"))
        .sort("year")
    )
    assert np.allclose(nanning["oil_mt"], province["oil_mt"] * weights[0] / weights.sum(), rtol=1e-12)
    assert (nanning["city_code"] == 450100).all()


def test_route_split_by_hand() -> None:
    """Three cities of equal population on a line, 100 km apart: trips A-B and B-C 1/100^2, A-C 1/200^2; each road's
    km half in each end city; B, in the middle of every route, gets half the coach km."""
    from transport.city_energy import route_split

    km = np.zeros((3, 3, 3))
    km[0, 1] = km[1, 0] = [50, 50, 0]
    km[1, 2] = km[2, 1] = [0, 50, 50]
    km[0, 2] = km[2, 0] = [50, 100, 50]
    assert np.allclose(route_split(np.ones(3), km), [0.25, 0.5, 0.25])


def test_coaches_follow_the_road_routes_between_cities(baseline) -> None:
    """Coaches split by the routes: every city on the trunk roads gets some; Laibin, through which the Nanning-Liuzhou
    and Nanning-Guilin routes pass, gets more than its population share."""
    _, dataset, tables = baseline
    coach = tables["city_energy"].filter(
        (pl.col("segment") == "coach") & (pl.col("year") == 2020) & (pl.col("fuel") == "diesel")
    )
    share = dict(zip(coach["city"], coach["energy_pj"] / coach["energy_pj"].sum(), strict=True))
    pref = dataset.prefectures
    assert all(share[c] > 0 for c in pref.cities)
    population = pref.population_2020 / pref.population_2020.sum()
    assert share["laibin"] > population[pref.index("laibin")]


def test_base_split_by_hand() -> None:
    class Two:
        population_2020 = np.array([1.0, 3.0])

    gdp = np.array([2.0, 2.0])  # per capita 2 and 2/3, mean 1
    assert np.allclose(base_split(Two(), gdp, 0.0), [0.25, 0.75])  # type: ignore[arg-type]
    assert np.allclose(base_split(Two(), gdp, 1.0), [0.5, 0.5])  # population x per capita = GDP  # type: ignore[arg-type]


def test_urban_blend_by_hand() -> None:
    """Half of the activity is urban; only city 0 is modelled and its urban vehicle-km double: in 2020 the split is
    the base (0.5, 0.5); city 0's rest is 0 (its base share is all urban), so later it holds 2 / (2 + 1)."""
    urban = np.array([[[1.0], [2.0]]])  # (M=1, Y=2, modelled=1)
    shares = urban_blend(np.array([0.5, 0.5]), urban, np.array([0]), 0.5)
    assert np.allclose(shares[0, 0], [0.5, 0.5]) and np.allclose(shares[0, 1], [2 / 3, 1 / 3])


@settings(max_examples=60, deadline=None)
@given(
    base=arrays(np.float64, 5, elements=st.floats(0.01, 1.0)),
    urban=arrays(np.float64, (2, 4, 2), elements=st.floats(0.01, 10.0)),
    weight=st.floats(0.0, 0.99),
    oil=arrays(np.float64, (2, 4, 3), elements=st.floats(0.0, 100.0)),
)
def test_random_splits_add_up_to_the_province(base, urban, weight, oil) -> None:
    base = base / base.sum()
    shares = urban_blend(base, urban, np.array([1, 3]), weight)
    assert np.all(shares >= 0) and np.allclose(shares.sum(axis=2), 1.0, rtol=1e-12)

    class Fleets:
        segments = ("a", "b", "c")
        energy_pj = oil_mt = co2_ttw_mt = co2_wtw_mt = oil
        regional_by_fuel: ClassVar[dict] = {}

    split = {"a": shares, "b": np.broadcast_to(base, (1, 4, 5)), "c": shares[:1]}
    by_city = city_road_arrays(Fleets(), split)  # type: ignore[arg-type]
    assert np.allclose(by_city["oil_mt"].sum(axis=2), oil.sum(axis=2), rtol=1e-9, atol=1e-12)


def test_road_link_weights_split_each_road_link_over_its_end_cities() -> None:
    scenario, _, dataset = prepare(RunRequest("baseline", end_year=2021))
    links = run_links(dataset.freight, scenario.levers.freight)
    weights = road_link_zone_weights(dataset.freight, links)
    road = (links.table["mode"] == "road").to_numpy()
    assert np.allclose(weights[road].sum(axis=1), 1.0) and not weights[~road].any()
    zones = city_zones(dataset.freight)
    table = links.table.with_row_index("row")
    both_cities = table.filter(
        (pl.col("mode") == "road") & pl.col("from_place").is_in(zones) & pl.col("to_place").is_in(zones)
    )
    assert both_cities.height > 5
    for row, a, b in both_cities.select("row", "from_place", "to_place").iter_rows():
        expected = np.zeros(len(zones))
        expected[zones.index(a)] += 0.5
        expected[zones.index(b)] += 0.5
        assert np.allclose(weights[row], expected), (a, b)


def test_city_oil_peak_view_agrees_with_the_city_targets(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "results.duckdb")
    request = RunRequest("baseline", end_year=END)
    with store.writer():
        run_id = execute(request, store, "set", prepare(request))
    with store.connect() as con:
        view = con.sql("select city, peak_year, peak_oil_mt from city_oil_peak where member = 0").pl()
        targets = con.sql(
            "select target, year, value from targets where target like 'road_oil_peak_%.%' and member = 0"
        ).pl()
        oil = con.sql("select sum(oil_mt) from city_oil where member = 0 group by year order by year").fetchall()
        province = con.sql("select oil_mt from road_oil where member = 0 order by year").fetchall()
    assert run_id and view.height == 14
    assert np.allclose([o[0] for o in oil], [p[0] for p in province], rtol=1e-9)
    for city, year, level in view.iter_rows():
        assert targets.filter(pl.col("target") == f"road_oil_peak_year.{city}")["value"][0] == year
        peak_level = targets.filter(pl.col("target") == f"road_oil_peak_level.{city}")["value"][0]
        assert abs(peak_level - level) < 1e-9


def test_report_city_table_reads_each_scenarios_central_peak_and_probability() -> None:
    from runs.report import city_peak_table

    rows = []
    for run_id, years in (("a", (2024, 2026, 2031)), ("b", (2022, 2022, 2022))):
        for member, year in enumerate(years):
            rows.append((run_id, member, "road_oil_peak_year.nanning", float(year), year <= 2030))
            rows.append((run_id, member, "road_oil_peak_level.nanning", 2.0 + member, None))
        rows.append((run_id, 0, "road_oil_peak_year", 2023.0, True))  # the province's: not a city row
    targets = pl.DataFrame(rows, schema=["run_id", "member", "target", "value", "met"], orient="row")
    runs = pl.DataFrame({"run_id": ["a", "b"], "scenario": ["plan", "baseline"]})
    table = city_peak_table(targets, runs)
    assert table.height == 1 and table["city"][0] == "Nanning 南宁"
    assert table["plan: peak year"][0] == "2024" and table["baseline: peak year"][0] == "2022"
    assert table["plan: peak Mt"][0] == "2.00"
    assert table["plan: P(peak <= 2030)"][0] == "66.7 %" and table["baseline: P(peak <= 2030)"][0] == "100.0 %"


def _with_bus_rule(scenario, share: float | None):
    """`scenario` plus a Nanning-only minimum NEV share of bus sales from 2023 (None: no rule)."""
    from transport.levers.fleets import SalesRule

    rules = list(scenario.levers.fleets.sales_rules)
    if share is not None:
        rules.append(SalesRule(segment="bus", group="nev", kind="min", share=share, start=2023.0, city="nanning"))
    fleets = scenario.levers.fleets.model_copy(update={"sales_rules": rules})
    return scenario.model_copy(update={"levers": scenario.levers.model_copy(update={"fleets": fleets})})


def test_a_rule_for_nanning_buses_moves_nanning_only_and_the_cities_still_add_up(baseline) -> None:
    """Buses become a segment run by city; a rule that binds nothing (min 0) gives the same cities as a binding one
    everywhere but Nanning, whose bus diesel falls; other segments do not move; the cities add up to the province."""
    scenario, dataset, _ = baseline
    years = np.arange(2020, END + 1)
    params = sample_parameters(scenario, 2, 5)
    neutral = simulate(_with_bus_rule(scenario, 0.0), dataset, params, years, 2)
    binding = simulate(_with_bus_rule(scenario, 1.0), dataset, params, years, 2)
    unsplit = simulate(scenario, dataset, params, years, 2)

    def bus(tables, city: str | None = None, fuel: str = "diesel") -> float:
        rows = tables["city_energy"].filter((pl.col("segment") == "bus") & (pl.col("year") == END))
        rows = rows.filter(pl.col("fuel") == fuel)
        return float(rows.filter(pl.col("city") == city)["energy_pj"].sum() if city else rows["energy_pj"].sum())

    assert bus(binding, "nanning") < 0.8 * bus(neutral, "nanning")
    assert bus(binding, "nanning", "electricity") > bus(neutral, "nanning", "electricity")
    for city in dataset.prefectures.cities[1:]:
        assert bus(binding, city) == pytest.approx(bus(neutral, city), rel=1e-12)
    # other segments move only through the charger market, which follows every NEV, the city's buses included
    others = pl.col("segment") != "bus"
    after, before = (t["energy"].filter(others)["energy_pj"].to_numpy() for t in (binding, neutral))
    assert np.allclose(after, before, rtol=0.01, atol=1e-12)
    # run by city or not, the province's buses agree closely when no rule binds (the cities' fleets age apart)
    assert bus(neutral) == pytest.approx(bus(unsplit), rel=0.02)
    for tables in (neutral, binding):
        province = tables["energy"].group_by("member", "year").agg(pl.col("oil_mt").sum()).sort("member", "year")
        cities = tables["city_road"].group_by("member", "year").agg(pl.col("oil_mt").sum()).sort("member", "year")
        assert np.allclose(cities["oil_mt"], province["oil_mt"], rtol=1e-9)
        by_fuel = (
            tables["energy"]
            .filter(pl.col("member") == 0)
            .group_by("year", "segment", "fuel")
            .agg(pl.col("energy_pj").sum())
        )
        split = tables["city_energy"].group_by("year", "segment", "fuel").agg(pl.col("energy_pj").sum())
        both = by_fuel.join(split, on=["year", "segment", "fuel"], suffix="_cities")
        assert both.height == by_fuel.height
        assert np.allclose(both["energy_pj_cities"], both["energy_pj"], rtol=1e-9, atol=1e-12)


def test_a_segment_run_by_region_with_constant_shares_is_the_province_run(baseline) -> None:
    """Turnover is linear in the stock: regions holding fixed shares of the base stock and of every year's demand add
    up to the unsplit segment (buses: no charger market), and each region is its share of it."""
    from transport.vehicles import simulate_fleets

    scenario, dataset, _ = baseline
    years = np.arange(2020, END + 1)
    params = sample_parameters(scenario, 2, 5)
    levers = scenario.levers.fleets
    split = np.array([0.5, 0.3, 0.2])
    shares = np.broadcast_to(split, (1, len(years), 3))
    whole = simulate_fleets(dataset.fleets, levers, params, years, 2)
    regional = simulate_fleets(
        dataset.fleets, levers, params, years, 2, regional={"bus": shares}, region_names=("a", "b", "c")
    )
    si = whole.segments.index("bus")
    assert np.allclose(regional.stock[:, :, si], whole.stock[:, :, si], rtol=1e-9)
    assert np.allclose(regional.energy_pj, whole.energy_pj, rtol=1e-9)
    by_region = sum(v["energy_pj"] for v in regional.regional_by_fuel["bus"].values())  # (M, Y, R)
    assert np.allclose(by_region, whole.energy_pj[:, :, si, None] * split, rtol=1e-9)


def _with_car_subsidy(scenario, path: dict[int, float]):
    """`scenario` plus Liuzhou's own purchase subsidy for private-car NEVs."""
    fleets = scenario.levers.fleets.model_copy(update={"city_car_nev_subsidy_share": {"liuzhou": path}})
    return scenario.model_copy(update={"levers": scenario.levers.model_copy(update={"fleets": fleets})})


def test_liuzhous_own_car_subsidy_electrifies_liuzhou(baseline) -> None:
    """A city's NEV subsidy for private cars (0.15 of the price from 2024) against none: Liuzhou's private-car
    gasoline falls and its electricity rises; the other cities' cars move < 1 % (through the charger market); the
    province sells more NEVs; the cities still add up to the province."""
    scenario, dataset, _ = baseline
    years = np.arange(2020, END + 1)
    params = sample_parameters(scenario, 2, 5)
    none = simulate(_with_car_subsidy(scenario, {2020: 0.0}), dataset, params, years, 2)
    some = simulate(_with_car_subsidy(scenario, {2020: 0.0, 2023: 0.0, 2024: 0.15}), dataset, params, years, 2)

    def cars(tables, city: str, fuel: str) -> float:
        rows = tables["city_energy"].filter(
            (pl.col("segment") == "private_car") & (pl.col("year") == END) & (pl.col("fuel") == fuel)
        )
        return float(rows.filter(pl.col("city") == city)["energy_pj"].sum())

    assert cars(some, "liuzhou", "gasoline") < 0.98 * cars(none, "liuzhou", "gasoline")
    assert cars(some, "liuzhou", "electricity") > 1.05 * cars(none, "liuzhou", "electricity")
    for city in ("nanning", "guilin", "chongzuo"):
        assert cars(some, city, "gasoline") == pytest.approx(cars(none, city, "gasoline"), rel=0.01)

    def nev_sales(tables) -> float:
        fleet = tables["fleet"].filter((pl.col("segment") == "private_car") & (pl.col("year") == 2026))
        return float(fleet.filter(pl.col("powertrain").is_in(["bev", "phev"]))["sales"].sum())

    assert nev_sales(some) > nev_sales(none)
    province = some["energy"].group_by("member", "year").agg(pl.col("oil_mt").sum()).sort("member", "year")
    cities = some["city_road"].group_by("member", "year").agg(pl.col("oil_mt").sum()).sort("member", "year")
    assert np.allclose(cities["oil_mt"], province["oil_mt"], rtol=1e-9)
