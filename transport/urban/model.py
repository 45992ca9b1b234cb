"""The urban model over the years: residents, trips, choice per availability segment, vehicle-km and buses."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping

import numpy as np
import polars as pl

from transport.errors import ScenarioError
from transport.levers.base import year_path
from transport.levers.urban import UNCERTAIN, UrbanLevers
from transport.result_tables import RESULT_COLUMNS
from transport.tables import label_series
from transport.urban.calibration import calibrate_constants
from transport.urban.choice import mixed_shares, trip_length_bands
from transport.urban.data import UrbanData
from transport.urban.frames import UrbanResult, _long_frame
from transport.urban.names import DAYS_PER_YEAR, MODE_INDEX, MODES, VKT_SEGMENTS

log = logging.getLogger(__name__)


def default_params(members: int = 1) -> dict[str, np.ndarray]:
    """Every urban uncertain parameter at its registry default, shape (members,)."""
    return {name: np.full(members, spec.default, dtype=float) for name, spec in UNCERTAIN.items()}


def _param(params: Mapping[str, np.ndarray], name: str, members: int) -> np.ndarray:
    value = params[name] if name in params else np.full(members, UNCERTAIN[name].default)
    value = np.asarray(value, dtype=float)
    if value.shape != (members,):
        value = np.broadcast_to(value, (members,)).astype(float)
    return value


def _segments() -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Availability of each mode in the 8 segments (car available?, in metro catchment?, e-bike allowed?)."""
    combos = [(car, metro, ebike) for car, metro, ebike in itertools.product((1, 0), repeat=3)]
    avail = np.ones((len(combos), len(MODES)), dtype=bool)
    for s, (car, metro, ebike) in enumerate(combos):
        avail[s, MODE_INDEX["car"]] = bool(car)
        avail[s, MODE_INDEX["metro"]] = bool(metro)
        avail[s, MODE_INDEX["ebike"]] = bool(ebike)
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


def base_shares_with_ebike(data: UrbanData, quantile: np.ndarray) -> np.ndarray:
    """(M, cities, modes) base-year shares each member calibrates to: every city's e-bike share moved within its
    range by the member's quantile (0 -> low, 0.5 -> the dataset value, 1 -> high, linear on each side), the other
    modes scaled in proportion so that each city's shares still sum to 1. The e-bike share is the least measured
    of the shares and decides the green-trip share on the Ministry's definition, which leaves e-bikes out."""
    e = MODE_INDEX["ebike"]
    q = np.asarray(quantile, dtype=float)[:, None]
    share, low, high = data.base_shares[None, :, e], data.share_low[None, :, e], data.share_high[None, :, e]
    ebike = np.where(q < 0.5, share - (0.5 - q) * 2.0 * (share - low), share + (q - 0.5) * 2.0 * (high - share))
    rest = (1.0 - ebike) / np.maximum(1.0 - share, 1e-12)  # (M, cities)
    out = data.base_shares[None, :, :] * rest[:, :, None]
    out[:, :, e] = ebike
    return out


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
            mo["speed_kmh"][MODE_INDEX["bus"]]
            + (data.bus["priority_lane_speed_kmh"] - mo["speed_kmh"][MODE_INDEX["bus"]]) * lane_share
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
        speed[..., MODE_INDEX["bus"]] = bus_speed[..., None]
        invehicle = 60.0 * d * mo["circuity"] / speed * mo["time_weight"]
        access = np.broadcast_to(mo["access_min"], (m, y, 1, k)).copy()
        access[..., MODE_INDEX["bus"]] = (bus_walk + bus_wait)[..., None]
        access[..., MODE_INDEX["metro"]] = mo["access_min"][MODE_INDEX["metro"]] + data.metro["headway_min"] / 2.0
        fare = np.ones(k)[None, None, None, :] * np.ones((1, y, 1, 1))
        fare[..., MODE_INDEX["bus"]] = path["transit_fare_factor"][..., None]
        fare[..., MODE_INDEX["metro"]] = path["transit_fare_factor"][..., None]
        cost = mo["fixed_cost_yuan"] + mo["cost_per_km_yuan"] * np.maximum(d * mo["circuity"] - mo["included_km"], 0)
        cost = cost * fare
        parking = col["parking_cost_yuan_per_car_trip"] * path["parking_price_factor"]  # (1, Y)
        cost[..., MODE_INDEX["car"]] += parking[..., None]

        util = -beta_t[..., None, None] * (invehicle + ovt * access) - beta_c[..., None, None] * cost
        # Street terms: connectivity helps walking (and half as much cycling); cycle lanes help bikes and e-bikes.
        inter = col["intersection_density_km2"] * (1.0 + path["intersection_density_change"])
        street = np.log(inter / data.choice["intersection_reference_km2"])  # (1, Y)
        walk_el = p["urban_intersection_walk_elasticity"][:, None]
        cyc_el = p["urban_cycle_lane_elasticity"][:, None]
        cycle_km = col["cycle_lane_km"] + path["cycle_lane_km_added_per_million"] * pop_m
        cycle_term = cyc_el * np.log(cycle_km / col["cycle_lane_km"])
        util[..., MODE_INDEX["walk"]] += (walk_el * street)[..., None]
        for mode, lane_weight in (("bicycle", 1.0), ("ebike", data.choice["ebike_cycle_lane_weight"])):
            bonus = walk_el * street * data.choice["cycle_intersection_weight"] + lane_weight * cycle_term
            util[..., MODE_INDEX[mode]] += bonus[..., None]
        v_all.append(util)
        weights_all.append((band_w, seg_w, band_km))

    # Calibrate the constants of every city in the base year (all members at once), then transfer metro constants.
    asc = np.zeros((m, c, k))
    residual = 0.0
    observed = base_shares_with_ebike(data, p["urban_ebike_share_quantile"])  # (M, cities, modes)
    for ci in range(c):
        band_w, seg_w, _ = weights_all[ci]
        asc[:, ci], res, _ = calibrate_constants(v_all[ci][:, 0], band_w[:, 0], seg_w[:, 0], seg_avail, observed[:, ci])
        residual = max(residual, res)
    log.info("urban 2020 calibration: largest share residual %.1e over %d cities", residual, c)
    has_metro = data.base_shares[:, MODE_INDEX["metro"]] > 0
    if has_metro.any():
        offset = (asc[:, has_metro, MODE_INDEX["metro"]] - asc[:, has_metro, MODE_INDEX["bus"]]).mean(axis=1)
    else:
        offset = np.zeros(m)
    for ci in np.flatnonzero(~has_metro).tolist():
        asc[:, ci, MODE_INDEX["metro"]] = asc[:, ci, MODE_INDEX["bus"]] + offset

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
        i = MODE_INDEX[mode]
        per_pkm = 1.0 / data.modes["occupancy_pax"][i] / (1.0 - data.modes["empty_running_share"][i])
        vkt_by_city[segment] = pkm[..., i] * per_pkm / 1e9
    bus_pkm0 = pkm[:, 0, :, MODE_INDEX["bus"]]  # (M, C)
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
        schema=RESULT_COLUMNS["urban"],
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
                    "car_share": float(res.shares[0, -1, ci, MODE_INDEX["car"]]),
                }
            )
    return pl.DataFrame(rows)
