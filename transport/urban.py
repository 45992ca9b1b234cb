"""Urban green-trip model: trips, mode shares and vehicle-km per city, year and Monte Carlo member.

For every city of the dataset table (urban/cities.csv) and every simulated year:

1. Residents: the dataset's urban population path, its log growth since 2020 scaled per member
   (`urban_population_growth_factor`). Trips = residents x trips per resident per day x 365.
2. Trip lengths: a gamma distribution with the city's mean trip length (shape from urban/handoff.toml), cut into
   distance bands; each band is represented by its conditional mean distance (closed form for the gamma).
3. Choice: a multinomial logit over the eight urban modes per band, with generalized time (in-vehicle minutes plus
   weighted access and waiting minutes), money cost (fares, fuel, parking) converted by the value of time, and street
   terms (intersection density for walking/cycling, cycle-lane supply for bikes and e-bikes). Availability enters as
   segments of travellers: with or without a car that day (ownership growth, restrictions), inside or outside a metro
   station's walking catchment (network km), allowed or not to use an e-bike (rules). Segment shares multiply.
4. Calibration: alternative-specific constants per city, mode and member are adjusted (asc += log(target/model))
   until the base-year (2020) shares of urban/base_shares.csv are reproduced to 1e-10. A city without metro in 2020
   gets the metro constant of the cities that have one, relative to its own bus constant.
5. Outputs: trips and shares by city and mode; car, taxi and motorcycle vehicle-km from passenger-km / occupancy;
   bus vehicle-km from the supply (base-year bus passenger-km / load x frequency lever x population), and the bus
   fleet from bus-km / annual km per bus (fewer buses when priority lanes raise commercial speed).

Members are the leading dimension of every array; only cities (a handful) and availability segments (8) are looped.
Green trips = walk + bicycle + bus + metro; `UrbanResult.green_share(include_ebike=...)` reports both readings.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy.special import gammainc, gammaln

from transport.errors import DatasetError, ScenarioError
from transport.levers.base import year_path
from transport.levers.urban import UNCERTAIN, UrbanLevers
from transport.tables import Column, TableSpec, label_series, read_table, read_toml

MODES: tuple[str, ...] = ("walk", "bicycle", "ebike", "bus", "metro", "car", "taxi", "motorcycle")
GREEN_MODES: tuple[str, ...] = ("walk", "bicycle", "bus", "metro")
VKT_SEGMENTS: dict[str, str] = {"car": "private_car", "taxi": "taxi", "motorcycle": "motorcycle"}
HANDOFF_SEGMENTS: tuple[str, ...] = ("private_car", "taxi", "bus", "motorcycle")
DAYS_PER_YEAR = 365.0
CALIBRATION_TOL = 1e-10
_IDX = {m: i for i, m in enumerate(MODES)}
_NEG = -1e9  # utility of an unavailable alternative (exp underflows to exactly 0)

# --------------------------------------------------------------------------------------------------- dataset tables
CITIES_SPEC = TableSpec(
    name="urban cities",
    doc="Travel-system attributes of each city in the base year",
    key=("city",),
    columns=(
        Column("city", "str", doc="city id (lower-case pinyin)"),
        Column("name_zh", "str"),
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
    names_zh: tuple[str, ...] = field(default=())

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
    modes_df = modes_df.with_columns(pl.col("mode").replace_strict(_IDX).alias("_i")).sort("_i")
    modes = {c: modes_df[c].to_numpy().astype(float) for c in modes_df.columns if c not in ("mode", "_i")}

    shares = np.zeros((len(cities), len(MODES)))
    low = np.zeros_like(shares)
    high = np.zeros_like(shares)
    seen = np.zeros_like(shares, dtype=bool)
    for row in shares_df.iter_rows(named=True):
        i, k = cities.index(row["city"]), _IDX[row["mode"]]
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
        metro_share = shares[cities.index(city), _IDX["metro"]]
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
        city={c: cities_df[c].to_numpy().astype(float) for c in cities_df.columns if c not in ("city", "name_zh")},
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
        names_zh=tuple(cities_df["name_zh"].to_list()),
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


# --------------------------------------------------------------------------------------------------- building blocks
def default_params(members: int = 1) -> dict[str, np.ndarray]:
    """Every urban uncertain parameter at its registry default, shape (members,)."""
    return {name: np.full(members, spec.default, dtype=float) for name, spec in UNCERTAIN.items()}


def _param(params: Mapping[str, np.ndarray], name: str, members: int) -> np.ndarray:
    value = params[name] if name in params else np.full(members, UNCERTAIN[name].default)
    value = np.asarray(value, dtype=float)
    if value.shape != (members,):
        value = np.broadcast_to(value, (members,)).astype(float)
    return value


def trip_length_bands(mean_km: np.ndarray, shape: float, edges_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share of trips and mean distance per band for gamma-distributed trip lengths with mean `mean_km`.

    Returns (weights, band_mean_km), both shaped mean_km.shape + (bands,); the last band is open-ended. The mean of a
    gamma(k, theta) variable within [a, b) is k*theta*(F_{k+1}(b) - F_{k+1}(a)) / (F_k(b) - F_k(a)).
    """
    mean = np.asarray(mean_km, dtype=float)[..., None]
    theta = mean / shape
    lo = np.asarray(edges_km, dtype=float)
    hi = np.append(lo[1:], np.inf)
    # The gamma CDF is the regularized lower incomplete gamma function P(k, x), called directly (the distribution
    # object's argument checks cost more than the function on these (members, years, bands) arrays), and
    # P(k + 1, x) = P(k, x) - x^k e^-x / Gamma(k + 1) spares evaluating it a second time.
    x_lo, x_hi = lo / theta, hi / theta
    p_lo, p_hi = gammainc(shape, x_lo), gammainc(shape, x_hi)
    with np.errstate(over="ignore", invalid="ignore"):
        term_lo = np.exp(
            shape * np.log(x_lo, where=x_lo > 0, out=np.full_like(x_lo, -np.inf)) - x_lo - gammaln(shape + 1)
        )
        term_hi = np.exp(shape * np.log(x_hi) - x_hi - gammaln(shape + 1))
    term_hi = np.where(np.isinf(x_hi), 0.0, term_hi)
    cdf_k = p_hi - p_lo
    cdf_k1 = (p_hi - term_hi) - (p_lo - term_lo)
    band_mean = np.where(cdf_k > 1e-300, mean * cdf_k1 / np.maximum(cdf_k, 1e-300), (lo + np.minimum(hi, lo + 1)) / 2)
    return cdf_k, band_mean


def logit_shares(utility: np.ndarray, available: np.ndarray | None = None) -> np.ndarray:
    """Multinomial logit probabilities over the last axis; unavailable alternatives get probability 0."""
    v = np.asarray(utility, dtype=float)
    if available is not None:
        v = np.where(available, v, _NEG)
    v = v - v.max(axis=-1, keepdims=True)
    e = np.exp(v)
    return e / e.sum(axis=-1, keepdims=True)


def mixed_shares(
    utility: np.ndarray, band_weights: np.ndarray, segment_weights: np.ndarray, segment_available: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Shares over bands and availability segments.

    utility (..., bands, modes); band_weights (..., bands); segment_weights (..., segments); segment_available
    (segments, modes). Returns (shares (..., modes), shares by band (..., bands, modes)); each band row sums to 1.

    Every segment's logit shares exp(V_k) a_sk / sum_j exp(V_j) a_sj share one numerator, so the segments are two
    small matrix products over it instead of one logit each (this runs for every member, year, city and band).
    """
    avail = np.asarray(segment_available, dtype=float)  # (S, K)
    numerator = np.exp(utility - utility.max(axis=-1, keepdims=True))
    denominator = numerator @ avail.T  # (..., B, S)
    weight = segment_weights[..., None, :]  # (..., 1, S)
    if np.any((weight > 0) & (denominator < 1e-250)):
        # a weighted segment whose modes (nearly) underflow against an unavailable mode (utilities ~575 apart):
        # subnormal numbers would lose digits, so each segment takes its own maximum
        by_band = _by_band_per_segment(utility, segment_weights, segment_available)
    else:
        by_band = numerator * (np.where(weight > 0, weight / np.maximum(denominator, 1e-300), 0.0) @ avail)
    shares = (band_weights[..., None, :] @ by_band)[..., 0, :]
    return shares, by_band


def _by_band_per_segment(utility: np.ndarray, segment_weights: np.ndarray, segment_available: np.ndarray) -> np.ndarray:
    by_band = np.zeros(utility.shape)
    for s in range(segment_available.shape[0]):
        w = segment_weights[..., s]
        if not np.any(w > 0):
            continue
        by_band += w[..., None, None] * logit_shares(utility, segment_available[s])
    return by_band


def calibrate_constants(
    utility: np.ndarray,
    band_weights: np.ndarray,
    segment_weights: np.ndarray,
    segment_available: np.ndarray,
    target: np.ndarray,
    tol: float = CALIBRATION_TOL,
    max_iter: int = 10_000,
) -> tuple[np.ndarray, float, int]:
    """Alternative-specific constants (..., modes) so that `mixed_shares` reproduces `target` (modes,).

    Iterative proportional adjustment asc += log(target / model) (the fixed point of the logit likelihood for the
    constants), normalised to asc[walk] = 0. Modes with target 0 (unavailable in the base year) keep asc 0.
    Returns (asc, max |model - target|, iterations).
    """
    lead = utility.shape[:-2]
    asc = np.zeros((*lead, utility.shape[-1]))
    active = target > 0
    log_target = np.log(np.where(active, target, 1.0))
    residual = np.inf
    for iteration in range(1, max_iter + 1):
        shares, _ = mixed_shares(utility + asc[..., None, :], band_weights, segment_weights, segment_available)
        step = np.where(active, log_target - np.log(np.maximum(shares, 1e-300)), 0.0)
        residual = float(np.max(np.abs(shares - target)))
        # each member (leading index) stops on its own convergence, so its constants never depend on which other
        # members share the array: an ensemble gives the same rows in one chunk or many
        converged = np.max(np.abs(step), axis=-1, keepdims=True) < tol
        if np.all(converged):
            return asc, residual, iteration
        asc = asc + np.where(converged, 0.0, step)
        asc = asc - asc[..., :1]
    raise RuntimeError(f"urban constants did not converge in {max_iter} iterations (residual {residual:.2e})")


# --------------------------------------------------------------------------------------------------- the result
@dataclass
class UrbanResult:
    """Urban results: the contract's `urban` frame, hand-offs to fleets, and the arrays behind them."""

    urban: pl.DataFrame
    vkt_bn: dict[str, np.ndarray]  # segment -> (members, years), modelled cities together
    bus_fleet_vehicles: np.ndarray  # (members, years)
    population: pl.DataFrame  # member, year, city, residents
    cities: tuple[str, ...]
    years: np.ndarray
    shares: np.ndarray  # (members, years, cities, modes)
    trips_m: np.ndarray  # (members, years, cities, modes), million trips per year
    pkm_bn: np.ndarray  # (members, years, cities, modes), billion passenger-km per year
    vkt_bn_by_city: dict[str, np.ndarray]  # segment -> (members, years, cities)
    bus_km_bn: np.ndarray  # (members, years, cities)
    bus_vehicles: np.ndarray  # (members, years, cities)
    residents: np.ndarray  # (members, years, cities)
    metro_km: np.ndarray  # (years, cities)
    asc: np.ndarray  # (members, cities, modes)
    calibration_residual: float

    def green_share_array(self, include_ebike: bool = False) -> np.ndarray:
        """Green-trip share (members, years, cities): walk + bicycle + bus + metro (+ e-bike if asked)."""
        modes = [*GREEN_MODES, "ebike"] if include_ebike else list(GREEN_MODES)
        return self.shares[..., [_IDX[m] for m in modes]].sum(axis=-1)

    def green_share(self, include_ebike: bool = False) -> pl.DataFrame:
        """Green-trip share per member, year and city: columns member, year, city, share."""
        return _long_frame(self.green_share_array(include_ebike), self.years, self.cities, "share")


def _long_frame(values: np.ndarray, years: np.ndarray, cities: Sequence[str], name: str) -> pl.DataFrame:
    m, y, c = values.shape
    return pl.DataFrame(
        {
            "member": np.repeat(np.arange(m, dtype=np.int32), y * c),
            "year": np.tile(np.repeat(np.asarray(years, dtype=np.int32), c), m),
            "city": label_series("city", cities, np.tile(np.arange(c), m * y)),
            name: values.reshape(-1).astype(float),
        },
        schema={"member": pl.Int32, "year": pl.Int32, "city": pl.Utf8, name: pl.Float64},
    )


# --------------------------------------------------------------------------------------------------- the simulation
def _segments() -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Availability of each mode in the 8 segments (car available?, in metro catchment?, e-bike allowed?)."""
    combos = list(itertools.product((1, 0), repeat=3))
    avail = np.ones((len(combos), len(MODES)), dtype=bool)
    for s, (car, metro, ebike) in enumerate(combos):
        avail[s, _IDX["car"]] = bool(car)
        avail[s, _IDX["metro"]] = bool(metro)
        avail[s, _IDX["ebike"]] = bool(ebike)
    return avail, combos


def _segment_weights(p_car: np.ndarray, p_metro: np.ndarray, p_ebike: np.ndarray) -> np.ndarray:
    _, combos = _segments()
    parts = []
    for car, metro, ebike in combos:
        parts.append(
            (p_car if car else 1 - p_car) * (p_metro if metro else 1 - p_metro) * (p_ebike if ebike else 1 - p_ebike)
        )
    return np.stack(parts, axis=-1)


def population_paths(data: UrbanData, years: np.ndarray, growth_factor: np.ndarray) -> np.ndarray:
    """Urban residents (members, years, cities): dataset path with its log growth since the base year scaled."""
    out = np.empty((len(growth_factor), len(years), len(data.cities)))
    for c, city in enumerate(data.cities):
        path = year_path(data.population_points[city], years)
        base = year_path(data.population_points[city], np.array([data.base_year]))[0]
        out[:, :, c] = base * (path[None, :] / base) ** growth_factor[:, None]
    return out


def cities_over_threshold(
    data: UrbanData,
    population_path: pl.DataFrame | None,
    year: int,
    threshold: float = 1e6,
    member: int = 0,
) -> list[str]:
    """Cities (in dataset order) whose urban residents in `year` are >= `threshold`.

    population_path: a frame with columns city, year, residents (and optionally member: the given member is used,
    0 = the central estimate), e.g. `UrbanResult.population`; None = the dataset's central path.
    """
    if population_path is None:
        values = population_paths(data, np.array([year]), np.ones(1))[0, 0]
        return [c for c, v in zip(data.cities, values, strict=True) if v >= threshold]
    frame = population_path
    if "member" in frame.columns:
        frame = frame.filter(pl.col("member") == member)
    rows = frame.filter(pl.col("year") == year)
    if rows.height == 0:
        raise ValueError(f"population path has no rows for year {year}")
    over = set(rows.filter(pl.col("residents") >= threshold)["city"].to_list())
    return [c for c in data.cities if c in over]


def _check_levers(data: UrbanData, levers: UrbanLevers) -> None:
    for city in levers.metro_km_added:
        if city not in data.cities:
            raise ScenarioError(
                "levers.urban.metro_km_added", "city", city, f"a city of the urban dataset: {', '.join(data.cities)}"
            )
        if not levers.metro_km_added[city]:
            raise ScenarioError("levers.urban.metro_km_added", city, "{}", "at least one year = km point")


def simulate_urban(
    data: UrbanData,
    levers: UrbanLevers,
    params: Mapping[str, np.ndarray],
    years: np.ndarray,
    members: int,
) -> UrbanResult:
    """Trips, mode shares, vehicle-km and bus fleet of every city in `data`, for all members and years.

    `years` must start at the dataset's base year (the calibration year). `params` holds the urban uncertain
    parameters (transport.levers.urban.UNCERTAIN), each shaped (members,); missing ones take their defaults.
    """
    years = np.asarray(years, dtype=int)
    if years.size == 0 or years[0] != data.base_year:
        raise ScenarioError("years", "base", int(years[0]) if years.size else None, f"the base year {data.base_year}")
    _check_levers(data, levers)
    m, y, c, k = members, len(years), len(data.cities), len(MODES)
    p = {name: _param(params, name, m) for name in UNCERTAIN}
    beta_t = p["urban_time_sensitivity_per_min"][:, None]  # (M,1): utility per in-vehicle minute (magnitude)
    beta_c = beta_t * 60.0 / p["urban_value_of_time_yuan_h"][:, None]  # utility per yuan (magnitude)

    path = {name: year_path(getattr(levers, name), years)[None, :] for name in _PATH_LEVERS}  # (1, Y)
    residents = population_paths(data, years, p["urban_population_growth_factor"])
    seg_avail, _ = _segments()
    mo = data.modes
    ovt = data.choice["out_of_vehicle_weight"]
    t_base = years - data.base_year

    shares = np.zeros((m, y, c, k))
    pkm_per_trip = np.zeros((m, y, c, k))  # passenger-km by mode per trip made (by any mode)
    bus_speed_all = np.zeros((m, y, c))
    metro_km_all = np.zeros((y, c))
    v_all: list[np.ndarray] = []
    weights_all: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    for ci, city in enumerate(data.cities):
        col = {name: values[ci] for name, values in data.city.items()}
        pop_m = residents[:, :, ci] / 1e6  # (M, Y)
        pop_ratio = residents[:, :, ci] / residents[:, :1, ci]
        density = 1.0 + path["density_change"]  # (1, Y)

        # Trip lengths: shorter trips in denser cities (elasticity per member).
        mean_km = (
            col["mean_trip_km"]
            * p["urban_trip_length_factor"][:, None]
            * density ** (-p["urban_density_trip_length_elasticity"][:, None])
        )
        band_w, band_km = trip_length_bands(mean_km, data.gamma_shape, data.band_edges_km)  # (M, Y, B)

        # Bus: priority lanes raise commercial speed; frequency sets the wait; coverage sets the walk to the stop.
        lane_km = col["bus_lane_km"] + path["bus_lane_km_added_per_million"] * pop_m
        lane_share = np.minimum(data.bus["max_lane_share"], lane_km / (col["arterial_km_per_million"] * pop_m))
        bus_speed = (
            mo["speed_kmh"][_IDX["bus"]]
            + (data.bus["priority_lane_speed_kmh"] - mo["speed_kmh"][_IDX["bus"]]) * lane_share
        )
        bus_wait = np.minimum(col["bus_headway_min"] / path["bus_frequency_factor"] / 2.0, data.bus["max_wait_min"])
        coverage = 1.0 - (1.0 - col["bus_stop_coverage_500m"]) / density
        bus_walk = coverage * data.bus["walk_min_within_500m"] + (1 - coverage) * data.bus["walk_min_beyond_500m"]
        bus_speed_all[:, :, ci] = np.broadcast_to(bus_speed, (m, y))

        # Metro: share of trips starting within a station's walking catchment.
        metro_km = year_path(data.metro_points.get(city, {data.base_year: 0.0}), years)
        if city in levers.metro_km_added:
            metro_km = metro_km + year_path(levers.metro_km_added[city], years)
        metro_km_all[:, ci] = metro_km
        area = col["built_area_km2"] * pop_ratio / density
        catch = metro_km[None, :] * data.metro["catchment_km2_per_line_km"] * data.metro["population_bias"] / area
        p_metro = np.minimum(data.metro["max_catchment_share"], 1.0 - np.exp(-catch))

        # Cars: availability follows ownership (logistic to saturation), less those kept off by restrictions.
        own0, sat = col["cars_per_1000"], col["cars_saturation_per_1000"]
        rate = p["urban_car_ownership_growth"][:, None] / max(1e-9, 1.0 - own0 / sat)
        own = (
            sat / (1.0 + (sat / own0 - 1.0) * np.exp(-rate * t_base[None, :])) if sat > own0 else np.full((m, y), own0)
        )
        p_car = np.minimum(0.95, col["car_available_share"] * own / own0) * (1.0 - path["car_restriction_share"])
        p_ebike = np.broadcast_to(1.0 - path["ebike_restriction_share"], (m, y))
        seg_w = _segment_weights(np.broadcast_to(p_car, (m, y)), p_metro, p_ebike)  # (M, Y, S)

        # Generalized time (minutes) and cost (yuan) per band and mode.
        d = band_km[..., None]  # (M, Y, B, 1)
        speed = np.broadcast_to(mo["speed_kmh"], (m, y, 1, k)).copy()
        speed[..., _IDX["bus"]] = bus_speed[..., None]
        invehicle = 60.0 * d * mo["circuity"] / speed * mo["time_weight"]
        access = np.broadcast_to(mo["access_min"], (m, y, 1, k)).copy()
        access[..., _IDX["bus"]] = (bus_walk + bus_wait)[..., None]
        access[..., _IDX["metro"]] = mo["access_min"][_IDX["metro"]] + data.metro["headway_min"] / 2.0
        fare = np.ones(k)[None, None, None, :] * np.ones((1, y, 1, 1))
        fare[..., _IDX["bus"]] = path["transit_fare_factor"][..., None]
        fare[..., _IDX["metro"]] = path["transit_fare_factor"][..., None]
        cost = mo["fixed_cost_yuan"] + mo["cost_per_km_yuan"] * np.maximum(d * mo["circuity"] - mo["included_km"], 0)
        cost = cost * fare
        parking = col["parking_cost_yuan_per_car_trip"] * path["parking_price_factor"]  # (1, Y)
        cost[..., _IDX["car"]] += parking[..., None]

        util = -beta_t[..., None, None] * (invehicle + ovt * access) - beta_c[..., None, None] * cost
        # Street terms: connectivity helps walking (and half as much cycling); cycle lanes help bikes and e-bikes.
        inter = col["intersection_density_km2"] * (1.0 + path["intersection_density_change"])
        street = np.log(inter / data.choice["intersection_reference_km2"])  # (1, Y)
        walk_el = p["urban_intersection_walk_elasticity"][:, None]
        cyc_el = p["urban_cycle_lane_elasticity"][:, None]
        cycle_km = col["cycle_lane_km"] + path["cycle_lane_km_added_per_million"] * pop_m
        cycle_term = cyc_el * np.log(cycle_km / col["cycle_lane_km"])
        util[..., _IDX["walk"]] += (walk_el * street)[..., None]
        for mode, lane_weight in (("bicycle", 1.0), ("ebike", data.choice["ebike_cycle_lane_weight"])):
            bonus = walk_el * street * data.choice["cycle_intersection_weight"] + lane_weight * cycle_term
            util[..., _IDX[mode]] += bonus[..., None]
        v_all.append(util)
        weights_all.append((band_w, seg_w, band_km))

    # Calibrate the constants of every city in the base year (all members at once), then transfer metro constants.
    asc = np.zeros((m, c, k))
    residual = 0.0
    for ci in range(c):
        band_w, seg_w, _ = weights_all[ci]
        asc[:, ci], res, _ = calibrate_constants(
            v_all[ci][:, 0], band_w[:, 0], seg_w[:, 0], seg_avail, data.base_shares[ci]
        )
        residual = max(residual, res)
    has_metro = data.base_shares[:, _IDX["metro"]] > 0
    if has_metro.any():
        offset = (asc[:, has_metro, _IDX["metro"]] - asc[:, has_metro, _IDX["bus"]]).mean(axis=1)
    else:
        offset = np.zeros(m)
    for ci in np.flatnonzero(~has_metro):
        asc[:, ci, _IDX["metro"]] = asc[:, ci, _IDX["bus"]] + offset

    for ci in range(c):
        band_w, seg_w, band_km = weights_all[ci]
        s, by_band = mixed_shares(v_all[ci] + asc[:, ci, None, None, :], band_w, seg_w, seg_avail)
        shares[:, :, ci] = s
        pkm_per_trip[:, :, ci] = np.einsum("myb,mybk->myk", band_w * band_km, by_band) * data.modes["circuity"]

    trips = residents * (
        data.city["trips_per_resident_day"][None, None, :] * p["urban_trip_rate_factor"][:, None, None] * DAYS_PER_YEAR
    )
    trips_mode = trips[..., None] * shares  # trips per year
    pkm = trips[..., None] * pkm_per_trip  # passenger-km per year

    # Vehicle-km: private modes from passenger-km; buses from the supply.
    vkt_by_city: dict[str, np.ndarray] = {}
    for mode, segment in VKT_SEGMENTS.items():
        i = _IDX[mode]
        per_pkm = 1.0 / data.modes["occupancy_pax"][i] / (1.0 - data.modes["empty_running_share"][i])
        vkt_by_city[segment] = pkm[..., i] * per_pkm / 1e9
    bus_pkm0 = pkm[:, 0, :, _IDX["bus"]]  # (M, C)
    bus_km0 = bus_pkm0 / data.city["bus_load_pax"][None, :]
    freq = year_path(levers.bus_frequency_factor, years)[None, :, None]
    bus_km = bus_km0[:, None, :] * freq * residents / residents[:, :1, :]
    vkt_by_city["bus"] = bus_km / 1e9
    speed_ratio = bus_speed_all / bus_speed_all[:, :1, :]
    bus_vehicles = bus_km / (data.city["bus_km_per_vehicle_year"][None, None, :] * speed_ratio)

    frame = pl.DataFrame(
        {
            "member": np.repeat(np.arange(m, dtype=np.int32), y * c * k),
            "year": np.tile(np.repeat(years.astype(np.int32), c * k), m),
            "city": label_series("city", data.cities, np.tile(np.repeat(np.arange(c), k), m * y)),
            "mode": label_series("mode", MODES, np.tile(np.arange(k), m * y * c)),
            "trips_m": (trips_mode / 1e6).reshape(-1),
            "share": shares.reshape(-1),
        },
        schema={
            "member": pl.Int32,
            "year": pl.Int32,
            "city": pl.Utf8,
            "mode": pl.Utf8,
            "trips_m": pl.Float64,
            "share": pl.Float64,
        },
    )
    return UrbanResult(
        urban=frame,
        vkt_bn={seg: v.sum(axis=-1) for seg, v in vkt_by_city.items()},
        bus_fleet_vehicles=bus_vehicles.sum(axis=-1),
        population=_long_frame(residents, years, data.cities, "residents"),
        cities=data.cities,
        years=years,
        shares=shares,
        trips_m=trips_mode / 1e6,
        pkm_bn=pkm / 1e9,
        vkt_bn_by_city=vkt_by_city,
        bus_km_bn=bus_km / 1e9,
        bus_vehicles=bus_vehicles,
        residents=residents,
        metro_km=metro_km_all,
        asc=asc,
        calibration_residual=residual,
    )


_PATH_LEVERS = (
    "bus_lane_km_added_per_million",
    "bus_frequency_factor",
    "transit_fare_factor",
    "cycle_lane_km_added_per_million",
    "parking_price_factor",
    "car_restriction_share",
    "ebike_restriction_share",
    "density_change",
    "intersection_density_change",
)


def lever_sweep(
    data: UrbanData,
    variants: Mapping[str, UrbanLevers],
    year: int = 2030,
    params: Mapping[str, np.ndarray] | None = None,
) -> pl.DataFrame:
    """Green-trip share per city in `year` for each lever variant (central parameters, one member).

    Columns: variant, city, residents, green_share, green_share_with_ebike, car_share.
    """
    params = params if params is not None else default_params(1)
    years = np.arange(data.base_year, year + 1)
    rows = []
    for name, levers in variants.items():
        res = simulate_urban(data, levers, params, years, 1)
        green = res.green_share_array(False)[0, -1]
        green_e = res.green_share_array(True)[0, -1]
        for ci, city in enumerate(data.cities):
            rows.append(
                {
                    "variant": name,
                    "city": city,
                    "residents": float(res.residents[0, -1, ci]),
                    "green_share": float(green[ci]),
                    "green_share_with_ebike": float(green_e[ci]),
                    "car_share": float(res.shares[0, -1, ci, _IDX["car"]]),
                }
            )
    return pl.DataFrame(rows)
