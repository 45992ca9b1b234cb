"""The plan's targets: hand-checked verdicts and the peak rule shared with the results store's view."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from transport.targets import (
    green_trip_targets,
    peak_targets,
    peak_year,
    railsea_targets,
    railwater_targets,
    smoothed,
)


def test_smoothing_hand_values() -> None:
    assert smoothed(np.array([1.0, 9.0, 5.0])).tolist() == pytest.approx([5.0, 5.0, 7.0])


def test_peak_ignores_one_year_spike_and_flags_rising_paths() -> None:
    years = np.arange(2020, 2026)
    values = np.array([[1.0, 9.0, 5.0, 6.0, 5.0, 2.0], [1, 2, 3, 4, 5, 6]], dtype=float)
    year, _ = peak_year(years, values)
    assert year.tolist() == [2022, 2025]  # smoothed: 5, 5, 6.67, 5.33, 4.33, 3.5
    rows = peak_targets("road_oil", years, values, "Mt").filter(pl.col("target") == "road_oil_peak_year")
    assert rows["met"].to_list() == [True, False]  # the second is still rising at the horizon
    assert rows["margin"].to_list() == [8.0, 5.0]


def test_railsea_cagr_hand_checked() -> None:
    teu = {2020: 100.0, 2021: 120.0, 2022: 130.0, 2023: 150.0, 2024: 170.0, 2025: 200.0}
    frame = pl.DataFrame({"member": 0, "year": list(teu), "port": "qinzhou", "teu": list(teu.values())})
    frame = pl.concat([frame, frame.with_columns(pl.lit("beihai").alias("port"), pl.col("teu") * 0)])
    out = railsea_targets(frame)
    cagr = out.filter(pl.col("target") == "railsea_teu_cagr").row(0, named=True)
    assert cagr["value"] == pytest.approx(2**0.2 - 1)  # 14.87 %/yr: just short of 15 %
    assert cagr["met"] is False
    yoy = out.filter(pl.col("target") == "railsea_teu_growth").sort("year")["value"].to_list()
    assert yoy == pytest.approx([0.2, 130 / 120 - 1, 150 / 130 - 1, 170 / 150 - 1, 200 / 170 - 1])


def test_rail_water_adds_rail_river_hand_checked() -> None:
    """Rail-sea 100 -> 200 TEU (two ports), rail-river 100 -> 100: rail-sea CAGR 2^0.2 - 1 = 14.9 % (missed), rail-water
    200 -> 300, CAGR 1.5^0.2 - 1 = 8.4 %; each with its own rows named rail_water_teu_*."""
    years = list(range(2020, 2026))
    railsea = pl.DataFrame(
        {
            "member": [0] * 12,
            "year": years * 2,
            "port": ["qinzhou"] * 6 + ["beihai"] * 6,
            "teu": [50.0 * 2 ** ((y - 2020) / 5) for y in years] * 2,
        }
    )
    railriver = pl.DataFrame({"member": [0] * 6, "year": years, "teu": [100.0] * 6})
    sea = railsea_targets(railsea)
    water = railwater_targets(railsea, railriver)
    cagr_sea = sea.filter(pl.col("target") == "railsea_teu_cagr")["value"][0]
    cagr_water = water.filter(pl.col("target") == "rail_water_teu_cagr")["value"][0]
    assert cagr_sea == pytest.approx(2**0.2 - 1, rel=1e-12)
    assert cagr_water == pytest.approx(1.5**0.2 - 1, rel=1e-12)
    assert set(water["target"]) == {"rail_water_teu_cagr", "rail_water_teu_growth"}
    assert water.filter(pl.col("target") == "rail_water_teu_growth").height == 5


def test_green_trips_only_cities_over_one_million() -> None:
    share = pl.DataFrame({"member": [0, 0, 0], "year": [2030] * 3, "city": ["a", "b", "c"], "share": [0.72, 0.65, 0.1]})
    pop = pl.DataFrame(
        {"member": [0, 0, 0], "year": [2030] * 3, "city": ["a", "b", "c"], "residents": [2e6, 1e6, 0.5e6]}
    )
    out = green_trip_targets(share, pop)
    assert set(out["target"].to_list()) == {
        "green_trip_share.a",
        "green_trip_share.b",
        "green_trip_share.all_big_cities",
    }
    overall = out.filter(pl.col("target") == "green_trip_share.all_big_cities").row(0, named=True)
    assert overall["value"] == pytest.approx(0.65) and overall["met"] is False and "b" in overall["detail"]
