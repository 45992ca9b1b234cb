"""The hand-offs of the province model (transport.model), checked by hand on small made-up results.

Each expected value below is worked out in the comment beside it, so a change in how one domain's result reaches
another (the urban -> fleets activity index, the targets, the indicators) fails here even when every domain's own
tests pass.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from transport.freight import COMMODITIES, T_PER_TEU, FreightResult
from transport.model import indicator_rows, target_rows, urban_activity
from transport.urban import MODES, UrbanResult

YEARS = np.arange(2020, 2031)


def _urban(shares_2030: dict[str, dict[str, float]], residents_2030: dict[str, float]) -> UrbanResult:
    """One member, 2020-2030, the given mode shares in every year and residents in 2030."""
    cities = tuple(shares_2030)
    n_y, n_c = len(YEARS), len(cities)
    shares = np.zeros((1, n_y, n_c, len(MODES)))
    for c, city in enumerate(cities):
        for mode, share in shares_2030[city].items():
            shares[0, :, c, MODES.index(mode)] = share
    residents = np.array([[[residents_2030[c] for c in cities]] * n_y])
    population = pl.DataFrame(
        {
            "member": np.zeros(n_y * n_c, dtype=np.int32),
            "year": np.repeat(YEARS, n_c).astype(np.int32),
            "city": list(cities) * n_y,
            "residents": residents.reshape(-1),
        }
    )
    zeros = np.zeros((1, n_y, n_c))
    return UrbanResult(
        urban=pl.DataFrame(),
        vkt_bn={},
        bus_fleet_vehicles=np.zeros((1, n_y)),
        population=population,
        cities=cities,
        years=YEARS,
        shares=shares,
        trips_m=np.zeros_like(shares),
        pkm_bn=np.zeros_like(shares),
        vkt_bn_by_city={},
        bus_km_bn=zeros,
        bus_vehicles=np.array([[[100.0 + 10 * y, 50.0 + y] for y in range(n_y)]])[:, :, :n_c],
        residents=residents,
        metro_km=np.zeros((n_y, n_c)),
        asc=np.zeros((1, n_c, len(MODES))),
        calibration_residual=0.0,
    )


def _tables(oil_mt: np.ndarray, railsea_teu: dict[int, float]) -> dict[str, pl.DataFrame]:
    """Energy rows of one segment per year (two fuels summing to `oil_mt`), rail-sea TEU split over two ports, and
    a fleet with 30 of 100 vehicles NEV in 2025 (10 more on gas, not NEV) and 60 of 120 in 2030."""
    n = len(YEARS)
    energy = pl.DataFrame(
        {
            "member": np.zeros(2 * n, dtype=np.int32),
            "year": np.tile(YEARS, 2).astype(np.int32),
            "segment": ["private_car"] * (2 * n),
            "powertrain": ["gasoline"] * n + ["diesel"] * n,
            "fuel": ["gasoline"] * n + ["diesel"] * n,
            "energy_pj": np.ones(2 * n),
            "oil_mt": np.r_[0.75 * oil_mt, 0.25 * oil_mt],
            "co2_ttw_mt": np.r_[3 * oil_mt, np.zeros(n)],
            "co2_wtw_mt": np.r_[3.6 * oil_mt, np.zeros(n)],
        }
    )
    ports = pl.DataFrame(
        {
            "member": np.zeros(2 * len(railsea_teu), dtype=np.int32),
            "year": np.repeat(list(railsea_teu), 2).astype(np.int32),
            "port": ["qinzhou", "beihai"] * len(railsea_teu),
            "teu": np.repeat(list(railsea_teu.values()), 2) * np.tile([0.8, 0.2], len(railsea_teu)),
        }
    )
    fleet = pl.DataFrame(
        {
            "member": np.zeros(5, dtype=np.int32),
            "year": np.array([2025, 2025, 2025, 2030, 2030], dtype=np.int32),
            "segment": ["private_car"] * 5,
            "powertrain": ["bev", "gasoline", "gas", "phev", "gasoline"],
            "stock": [30.0, 60.0, 10.0, 60.0, 60.0],
            "sales": [0.0] * 5,
            "retirements": [0.0] * 5,
        }
    )
    return {"energy": energy, "railsea": ports, "fleet": fleet}


def _value(targets: pl.DataFrame, target: str, year: int | None = None) -> float:
    rows = targets.filter(pl.col("target") == target)
    if year is not None:
        rows = rows.filter(pl.col("year") == year)
    assert rows.height == 1, (target, rows)
    return float(rows["value"][0])


def test_urban_activity_scales_only_the_big_cities_share_of_provincial_vkt() -> None:
    # private cars: urban vkt 10 -> 12 -> 15, so the urban index is 1, 1.2, 1.5; 40 % of provincial car km are in
    # the modelled cities: 0.6 + 0.4 x index = 1, 1.08, 1.2. Taxis: 100 % urban, so the index itself.
    vkt = {"private_car": np.array([[10.0, 12.0, 15.0]]), "taxi": np.array([[2.0, 1.0, 3.0]])}
    out = urban_activity(vkt, {"private_car": 0.4, "taxi": 1.0})
    assert set(out) == {"private_car", "taxi"}
    np.testing.assert_allclose(out["private_car"].vkt_index, [[1.0, 1.08, 1.2]], rtol=1e-12)
    np.testing.assert_allclose(out["taxi"].vkt_index, [[1.0, 0.5, 1.5]], rtol=1e-12)
    assert out["private_car"].vkt_bn is None and out["private_car"].stock_vehicles is None


def test_urban_activity_without_a_share_leaves_the_segment_on_its_own_demand() -> None:
    # a segment the dataset gives no urban share: index 1 every year, whatever the urban model says
    out = urban_activity({"motorcycle": np.array([[5.0, 50.0]])}, {})
    np.testing.assert_allclose(out["motorcycle"].vkt_index, [[1.0, 1.0]])


def test_target_rows_by_hand() -> None:
    # road oil rises by 1 Mt/yr to 2027 (17 Mt) and falls by 1 Mt/yr after: the centred 3-year mean peaks in 2027 at
    # (16 + 17 + 16) / 3 = 16.333; 2027 <= 2030 and not the last year: met
    oil = np.array([10, 11, 12, 13, 14, 15, 16, 17, 16, 15, 14], dtype=float)
    # rail-sea 500,000 TEU (2020) -> 1,250,000 TEU (2025): CAGR 2.5 ** (1/5) - 1 = 0.2011 >= 0.15: met
    teu = {2020: 500_000.0, 2021: 600_000.0, 2022: 700_000.0, 2023: 800_000.0, 2024: 1_000_000.0, 2025: 1_250_000.0}
    # city a: walk 0.3 + bus 0.25 + bicycle 0.1 + ebike 0.15 + car 0.2: green 0.65 (0.80 with e-bikes), 2.1 M residents;
    # city b: green 0.9 but 0.4 M residents, so it does not count
    urban = _urban(
        {
            "a": {"walk": 0.3, "bus": 0.25, "bicycle": 0.1, "ebike": 0.15, "car": 0.2},
            "b": {"walk": 0.5, "bus": 0.4, "car": 0.1},
        },
        {"a": 2.1e6, "b": 0.4e6},
    )
    non_fossil = np.linspace(0.26, 0.36, len(YEARS))[None, :]
    targets = target_rows(_tables(oil, teu), urban, non_fossil, YEARS)

    peak = targets.filter(pl.col("target") == "road_oil_peak_year")
    assert peak["value"].to_list() == [2027.0] and peak["met"].to_list() == [True]
    assert _value(targets, "road_oil_peak_level") == pytest.approx(49.0 / 3.0, rel=1e-12)
    # TTW CO2 rows are 3 x the whole oil path (on the gasoline rows only): same peak year, level 3 x 16.333
    assert _value(targets, "road_co2_ttw_peak_level") == pytest.approx(49.0, rel=1e-12)
    assert _value(targets, "railsea_teu_cagr") == pytest.approx(2.5**0.2 - 1.0, rel=1e-12)
    assert _value(targets, "railsea_teu_growth", 2024) == pytest.approx(0.25, rel=1e-12)
    assert _value(targets, "green_trip_share.a") == pytest.approx(0.65, rel=1e-12)
    assert _value(targets, "green_trip_share.all_big_cities") == pytest.approx(0.65, rel=1e-12)
    assert _value(targets, "green_trip_share_with_ebike.all_big_cities") == pytest.approx(0.80, rel=1e-12)
    assert targets.filter(pl.col("target") == "green_trip_share.b").height == 0
    met = dict(zip(targets["target"], targets["met"], strict=True))
    assert met["green_trip_share.all_big_cities"] is False and met["railsea_teu_cagr"] is True
    # NEV share of stock: 30 / 100 in 2025, 60 / 120 in 2030
    assert _value(targets, "nev_share_of_stock", 2025) == pytest.approx(0.3, rel=1e-12)
    assert _value(targets, "nev_share_of_stock", 2030) == pytest.approx(0.5, rel=1e-12)
    assert _value(targets, "non_fossil_power_share_assumed", 2030) == pytest.approx(0.36, rel=1e-12)


def test_target_rows_oil_still_rising_at_the_horizon_is_not_a_peak() -> None:
    oil = np.linspace(10.0, 20.0, len(YEARS))
    urban = _urban({"a": {"walk": 1.0}}, {"a": 2e6})
    teu = {year: 1.0 + year - 2020 for year in range(2020, 2026)}
    targets = target_rows(_tables(oil, teu), urban, np.zeros((1, len(YEARS))), YEARS)
    peak = targets.filter(pl.col("target") == "road_oil_peak_year")
    assert peak["value"].to_list() == [2030.0] and peak["met"].to_list() == [False]


def test_indicator_rows_by_hand() -> None:
    # port throughput: 2 Mt of containers + 3 Mt of coal = 5e6 t; containers 2e6 t / T_PER_TEU t per TEU
    n_y = len(YEARS)
    port_mt = np.zeros((1, n_y, len(COMMODITIES)))
    port_mt[0, :, COMMODITIES.index("containers")] = 2.0
    port_mt[0, :, COMMODITIES.index("coal")] = 3.0
    freight = FreightResult(
        freight=pl.DataFrame(), railsea=pl.DataFrame(), truck_vkt_bn={}, msa_gap=np.zeros(n_y), port_mt=port_mt
    )
    urban = _urban({"a": {"walk": 1.0}, "b": {"walk": 1.0}}, {"a": 1.0, "b": 1.0})
    rows = indicator_rows(freight, urban, YEARS).filter(pl.col("year") == 2023)
    value = dict(zip(rows["indicator"], rows["value"], strict=True))
    assert value["beibu_port_throughput_t"] == pytest.approx(5e6, rel=1e-12)
    assert value["beibu_container_teu"] == pytest.approx(2e6 / T_PER_TEU, rel=1e-12)
    # bus fleets: city a 100 + 10 x (2023 - 2020), city b 50 + 3
    assert value["bus_fleet_vehicles.a"] == pytest.approx(130.0) and value["bus_fleet_vehicles.b"] == pytest.approx(
        53.0
    )
    units = dict(zip(rows["indicator"], rows["unit"], strict=True))
    assert units["beibu_port_throughput_t"] == "t" and units["beibu_container_teu"] == "TEU"
