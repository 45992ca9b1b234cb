"""Urban tables of a dataset folder (cities, base shares, population, metro, modes, hand-off) and street metrics."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from transport.cities import load_prefectures
from transport.errors import DatasetError
from transport.levers.base import year_path
from transport.tables import Column, TableSpec, read_table, read_toml
from transport.urban.names import HANDOFF_SEGMENTS, MODE_INDEX, MODES

CITIES_SPEC = TableSpec(
    name="urban cities",
    doc="Travel-system attributes of each city in the base year",
    key=("city",),
    columns=(
        Column("city", "str", doc="city id: a prefecture city of cities/prefectures.csv (its names live there)"),
        Column("trips_per_resident_day", unit="trips/person/day", min=0.5, max=5.0),
        Column("mean_trip_km", unit="km", min=1.0, max=20.0),
        Column("built_area_km2", unit="km2", min=10.0, max=5000.0),
        Column("bus_headway_min", unit="min", min=1.0, max=60.0),
        Column("bus_stop_coverage_500m", unit="share", min=0.0, max=1.0),
        Column("bus_lane_km", unit="km", min=0.0, max=2000.0),
        Column("arterial_km_per_million", unit="km per million residents", min=10.0, max=1000.0),
        Column("cycle_lane_km", unit="km", min=1.0, max=10000.0),
        Column("intersection_density_km2", unit="1/km2", min=1.0, max=500.0),
        Column("parking_cost_yuan_per_car_trip", unit="yuan", min=0.0, max=100.0),
        Column("car_available_share", unit="share", min=0.0, max=0.95),
        Column("cars_per_1000", unit="cars per 1000 residents", min=1.0, max=1000.0),
        Column("cars_saturation_per_1000", unit="cars per 1000 residents", min=1.0, max=1000.0),
        Column("bus_load_pax", unit="passengers per bus", min=1.0, max=80.0),
        Column("bus_km_per_vehicle_year", unit="km/yr", min=5000.0, max=150000.0),
    ),
)
SHARES_SPEC = TableSpec(
    name="urban base-year mode shares",
    key=("city", "mode"),
    shares=("share", ("city",)),
    columns=(
        Column("city", "str"),
        Column("mode", "str", allowed=frozenset(MODES)),
        Column("share", unit="share of trips", min=0.0, max=1.0),
        Column("low", unit="share of trips", min=0.0, max=1.0),
        Column("high", unit="share of trips", min=0.0, max=1.0),
    ),
)
POPULATION_SPEC = TableSpec(
    name="urban population paths",
    key=("city", "year"),
    columns=(Column("city", "str"), Column("year", "int", min=2000, max=2100), Column("residents", min=1.0)),
)
METRO_SPEC = TableSpec(
    name="urban committed metro network",
    key=("city", "year"),
    columns=(Column("city", "str"), Column("year", "int", min=2000, max=2100), Column("metro_km", min=0.0, max=2000)),
)
MODES_SPEC = TableSpec(
    name="urban modes",
    key=("mode",),
    columns=(
        Column("mode", "str", allowed=frozenset(MODES)),
        Column("speed_kmh", unit="km/h", min=1.0, max=120.0),
        Column("access_min", unit="min", min=0.0, max=60.0),
        Column("time_weight", unit="1", min=0.5, max=5.0),
        Column("fixed_cost_yuan", unit="yuan/trip", min=0.0, max=100.0),
        Column("included_km", unit="km", min=0.0, max=50.0),
        Column("cost_per_km_yuan", unit="yuan/km", min=0.0, max=20.0),
        Column("circuity", unit="1", min=1.0, max=3.0),
        Column("occupancy_pax", unit="persons/vehicle", min=1.0, max=10.0),
        Column("empty_running_share", unit="share of vehicle-km", min=0.0, max=0.9),
    ),
)


@dataclass(frozen=True)
class UrbanData:
    """The urban tables of a dataset, as arrays ordered by `cities` and `MODES`."""

    folder: Path
    cities: tuple[str, ...]
    city: dict[str, np.ndarray]  # column of cities.csv -> values per city
    base_shares: np.ndarray  # (cities, modes)
    share_low: np.ndarray
    share_high: np.ndarray
    population_points: dict[str, dict[int, float]]
    metro_points: dict[str, dict[int, float]]
    modes: dict[str, np.ndarray]  # column of modes.csv -> values per mode
    provincial_vkt_share: dict[str, float]
    bus: dict[str, float]
    metro: dict[str, float]
    choice: dict[str, float]
    gamma_shape: float
    band_edges_km: np.ndarray
    base_year: int = 2020

    def city_index(self, city: str) -> int:
        return self.cities.index(city)


def _float_table(raw: Mapping[str, Any], section: str, keys: Sequence[str], path: Path) -> dict[str, float]:
    table = raw.get(section)
    if not isinstance(table, dict):
        raise DatasetError(path, section, "missing", f"a [{section}] table with {', '.join(keys)}")
    out: dict[str, float] = {}
    for key in keys:
        value = table.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise DatasetError(path, f"{section}.{key}", value, "a non-negative number")
        out[key] = float(value)
    return out


def city_names_zh(folder: Path) -> dict[str, str]:
    """Chinese name of each prefecture city of the dataset rooted at `folder` (city id -> name_zh), read from the one
    owner of the city vocabulary, cities/prefectures.csv (transport.cities); the urban tables restate no names."""
    prefectures = load_prefectures(Path(folder))
    return dict(zip(prefectures.cities, prefectures.names_zh, strict=True))


def load_urban_data(folder: Path) -> UrbanData:
    """Load and check the urban tables of the dataset rooted at `folder` (reads `folder/urban/`)."""
    base = Path(folder) / "urban"
    cities_df = read_table(base / "cities.csv", CITIES_SPEC)
    cities = tuple(cities_df["city"].to_list())
    known = {"city": cities}
    shares_df = read_table(base / "base_shares.csv", SHARES_SPEC, allowed=known)
    pop_df = read_table(base / "population.csv", POPULATION_SPEC, allowed=known)
    metro_df = read_table(base / "metro_network.csv", METRO_SPEC, allowed=known)
    modes_df = read_table(base / "modes.csv", MODES_SPEC)
    handoff_path = base / "handoff.toml"
    raw = read_toml(handoff_path)

    missing_modes = sorted(set(MODES) - set(modes_df["mode"].to_list()))
    if missing_modes:
        raise DatasetError(base / "modes.csv", "mode", missing_modes[0], f"one row for each of {', '.join(MODES)}")
    modes_df = modes_df.with_columns(pl.col("mode").replace_strict(MODE_INDEX).alias("_i")).sort("_i")
    modes = {c: modes_df[c].to_numpy().astype(float) for c in modes_df.columns if c not in ("mode", "_i")}

    shares = np.zeros((len(cities), len(MODES)))
    low = np.zeros_like(shares)
    high = np.zeros_like(shares)
    seen = np.zeros_like(shares, dtype=bool)
    for row in shares_df.iter_rows(named=True):
        i, k = cities.index(row["city"]), MODE_INDEX[row["mode"]]
        shares[i, k], low[i, k], high[i, k], seen[i, k] = row["share"], row["low"], row["high"], True
        if not row["low"] <= row["share"] <= row["high"]:
            raise DatasetError(
                base / "base_shares.csv", f"share ({row['city']}, {row['mode']})", row["share"], "low <= share <= high"
            )
    if not seen.all():
        i, k = np.argwhere(~seen)[0]
        raise DatasetError(base / "base_shares.csv", "city+mode", f"{cities[i]}, {MODES[k]}", "a row for every mode")

    population_points: dict[str, dict[int, float]] = {c: {} for c in cities}
    for row in pop_df.iter_rows(named=True):
        population_points[row["city"]][row["year"]] = row["residents"]
    metro_points: dict[str, dict[int, float]] = {}
    for row in metro_df.iter_rows(named=True):
        metro_points.setdefault(row["city"], {})[row["year"]] = row["metro_km"]

    choice = _float_table(
        raw,
        "choice",
        (
            "out_of_vehicle_weight",
            "intersection_reference_km2",
            "cycle_intersection_weight",
            "ebike_cycle_lane_weight",
            "base_year",
        ),
        handoff_path,
    )
    base_year = int(choice["base_year"])
    for city in cities:
        if base_year not in population_points[city]:
            raise DatasetError(base / "population.csv", f"year ({city})", "missing", f"a row for {base_year}")
        km = year_path(metro_points[city], np.array([base_year]))[0] if city in metro_points else 0.0
        metro_share = shares[cities.index(city), MODE_INDEX["metro"]]
        if (km > 0) != (metro_share > 0):
            raise DatasetError(
                base / "base_shares.csv",
                f"share ({city}, metro)",
                metro_share,
                f"a positive metro share exactly when the city has metro in {base_year} (it has {km:.1f} km)",
            )
    zero = [(cities[i], MODES[k]) for i, k in np.argwhere(shares == 0) if MODES[k] != "metro"]
    if zero:
        raise DatasetError(base / "base_shares.csv", "share", f"{zero[0][0]}, {zero[0][1]} = 0", "shares > 0")
    trip = raw.get("trip_length", {})
    edges = np.asarray(trip.get("band_edges_km", []), dtype=float)
    if edges.size < 2 or edges[0] != 0.0 or np.any(np.diff(edges) <= 0):
        raise DatasetError(handoff_path, "trip_length.band_edges_km", edges.tolist(), "increasing km from 0")
    shape = trip.get("gamma_shape")
    if not isinstance(shape, int | float) or not 0.5 <= shape <= 5.0:
        raise DatasetError(handoff_path, "trip_length.gamma_shape", shape, "a number in [0.5, 5]")
    vkt_share = _float_table(raw, "provincial_vkt_share", HANDOFF_SEGMENTS, handoff_path)
    for seg, value in vkt_share.items():
        if value > 1:
            raise DatasetError(handoff_path, f"provincial_vkt_share.{seg}", value, "a share in [0, 1]")
    return UrbanData(
        folder=Path(folder),
        cities=cities,
        city={c: cities_df[c].to_numpy().astype(float) for c in cities_df.columns if c != "city"},
        base_shares=shares,
        share_low=low,
        share_high=high,
        population_points=population_points,
        metro_points=metro_points,
        modes=modes,
        provincial_vkt_share=vkt_share,
        bus=_float_table(
            raw,
            "bus",
            (
                "priority_lane_speed_kmh",
                "max_lane_share",
                "walk_min_within_500m",
                "walk_min_beyond_500m",
                "max_wait_min",
            ),
            handoff_path,
        ),
        metro=_float_table(
            raw,
            "metro",
            ("catchment_km2_per_line_km", "population_bias", "headway_min", "max_catchment_share"),
            handoff_path,
        ),
        choice=choice,
        gamma_shape=float(shape),
        band_edges_km=edges,
        base_year=base_year,
    )


def with_street_metrics(
    data: UrbanData,
    city: str,
    intersection_density_km2: float | None = None,
    transit_coverage_share: float | None = None,
) -> UrbanData:
    """A copy of `data` with a city's street metrics replaced (e.g. by `networks.streets` on an OSM extract).

    The base-year shares are still reproduced exactly (the constants absorb the level); the metrics change how the
    city responds: walk/cycle utility scales with log intersection density, and the bus access walk with coverage.
    """
    i = data.city_index(city)
    columns = {k: v.copy() for k, v in data.city.items()}
    if intersection_density_km2 is not None:
        if not intersection_density_km2 > 0:
            raise DatasetError("street metrics", f"intersection_density_km2 ({city})", intersection_density_km2, "> 0")
        columns["intersection_density_km2"][i] = intersection_density_km2
    if transit_coverage_share is not None:
        if not 0.0 <= transit_coverage_share <= 1.0:
            raise DatasetError("street metrics", f"transit_coverage_share ({city})", transit_coverage_share, "0..1")
        columns["bus_stop_coverage_500m"][i] = transit_coverage_share
    return dataclasses.replace(data, city=columns)
