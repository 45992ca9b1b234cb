"""Road energy, oil and CO2 by prefecture city: the province's fleet results split over its cities by where each
segment's vehicles drive, so that the cities add up to the province exactly.

Method (dataset cities/README.md gives the values, ranges and reasoning):
- A segment's share of each city in year t is its share of the segment's vehicle-km there; the powertrain mix of a
  segment is the province's in every city (the fleet engine chooses powertrains per segment, not per city), so a
  city's energy, oil and CO2 of a segment and fuel are the province's times that share.
- `population` segments: base weights population x (GDP per capita / provincial mean)^income_elasticity (2020
  census population, the freight zones' 2020 GDP). Segments the urban model hands activity to fleets add its
  dynamics: of the provincial vehicle-km, the share w driven inside the modelled cities (urban/handoff.toml) follows
  each modelled city's own urban vehicle-km, the rest keeps the base split net of those urban parts:
      share_c(t) = ((1 - w) b_c + w U_c(t) / U(2020)) / ((1 - w) + w U(t) / U(2020)),
      b_c = (s_c - w U_c(2020) / U(2020)) / (1 - w),
  which is the base split s_c in 2020 and sums to 1 in every year, exactly the province's activity index
  (1 - w) + w U(t)/U(2020) of transport.model.urban_activity.
- `routes` segments (intercity coaches): trips between two cities by a gravity model, population_i x population_j /
  route_km^COACH_GRAVITY_EXPONENT, driven on the shortest road route (transport.freight.network.city_route_km); a
  city's share is its km on those routes, weighted by the trips.
- `road_tkm` segments (the truck classes the freight model drives): each city's share of road tonne-km inside
  Guangxi in the year (the central estimate's network flows, transport.freight.network.road_link_zone_weights, plus
  the city's intrazonal freight), the same for every member.
Storage: `city_road` (energy, oil, CO2 per city) for every member; `city_energy` (by segment and fuel) for the first
CITY_ENERGY_MEMBERS members only (the central estimate), which bounds an ensemble's rows to members x years x cities.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from fleets import SEGMENTS
from transport.cities import Prefectures
from transport.freight import FreightResult
from transport.result_tables import RESULT_COLUMNS
from transport.tables import label_series
from transport.urban import UrbanResult
from transport.vehicles import FleetResult

# distance decay of intercity coach trips: gravity exponents of 1.5-2.5 are usual for Chinese intercity road passenger
# flows; 2 is the classic value (cities/README.md "Coaches")
COACH_GRAVITY_EXPONENT = 2.0
CITY_ENERGY_MEMBERS = 1  # members whose city rows are kept by segment and fuel (table city_energy)
_ROAD_QUANTITIES = ("energy_pj", "oil_mt", "co2_ttw_mt", "co2_wtw_mt")


def base_split(prefectures: Prefectures, gdp_bn_yuan: np.ndarray, income_elasticity: float) -> np.ndarray:
    """(cities,) shares: population x (GDP per capita / provincial mean)^income_elasticity, normalised."""
    population = prefectures.population_2020
    per_capita = gdp_bn_yuan / population
    mean = gdp_bn_yuan.sum() / population.sum()
    weights = population * (per_capita / mean) ** income_elasticity
    return weights / weights.sum()


def urban_blend(base: np.ndarray, urban_vkt: np.ndarray, urban_rows: np.ndarray, weight: float) -> np.ndarray:
    """(M, Y, cities) shares of a segment whose share `weight` of provincial vehicle-km is driven in the modelled
    cities (`urban_vkt` (M, Y, modelled cities), their rows in the city axis `urban_rows`); module docstring."""
    members, n_years = urban_vkt.shape[:2]
    base_urban = urban_vkt[:, :1, :].sum(axis=2, keepdims=True)  # U(2020), (M, 1, 1)
    urban = np.zeros((members, n_years, len(base)))
    urban[:, :, urban_rows] = urban_vkt / np.maximum(base_urban, 1e-12)
    if weight >= 1.0:
        rest = np.zeros((members, 1, len(base)))
    else:
        rest = (base[None, None, :] - weight * urban[:, :1, :]) / (1.0 - weight)
        # a modelled city whose urban part alone exceeds its base share: its rest is 0, the others are renormalised
        rest = np.clip(rest, 0.0, None)
        rest = rest / np.maximum(rest.sum(axis=2, keepdims=True), 1e-12)
    numerator = (1.0 - weight) * rest + weight * urban
    return numerator / numerator.sum(axis=2, keepdims=True)


def segment_city_shares(
    prefectures: Prefectures,
    gdp_bn_yuan: np.ndarray,
    freight: FreightResult,
    urban: UrbanResult,
    urban_vkt_share: dict[str, float],
    members: int,
    n_years: int,
    route_km: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Each segment's city shares, (M | 1, Y, cities), summing to 1 over the cities. `route_km` (cities, cities,
    cities): the km inside each city of the road route between two cities (prefecture order), for `routes`."""
    cities = prefectures.cities
    road = _road_tkm_shares(prefectures, freight, n_years)
    urban_rows = np.array([cities.index(c) for c in urban.cities], dtype=np.int64)
    urban_activity = {**urban.vkt_bn_by_city}
    out: dict[str, np.ndarray] = {}
    for row in prefectures.fleet_split.iter_rows(named=True):
        seg = row["segment"]
        base = base_split(prefectures, gdp_bn_yuan, float(row["income_elasticity"]))
        if row["driver"] == "road_tkm" and road is not None:
            out[seg] = road
        elif row["driver"] == "routes" and route_km is not None and route_km.any():
            share = route_split(prefectures.population_2020, route_km)
            out[seg] = np.broadcast_to(share, (1, n_years, len(cities)))
        elif seg in urban_vkt_share and seg in urban_activity and urban_vkt_share[seg] > 0:
            vkt = np.broadcast_to(urban_activity[seg], (members, n_years, len(urban.cities)))
            out[seg] = urban_blend(base, vkt, urban_rows, float(urban_vkt_share[seg]))
        else:
            out[seg] = np.broadcast_to(base, (1, n_years, len(cities)))
    return out


def route_split(population: np.ndarray, route_km: np.ndarray) -> np.ndarray:
    """(cities,) shares of intercity vehicle-km: trips P_i P_j / d_ij^COACH_GRAVITY_EXPONENT between every two
    cities joined by a road route of d_ij km, each driving route_km[i, j, c] km in city c."""
    length = route_km.sum(axis=2)
    connected = length > 0
    trips = np.where(
        connected, np.outer(population, population) / np.where(connected, length, 1.0) ** COACH_GRAVITY_EXPONENT, 0.0
    )
    km = np.einsum("ij,ijc->c", trips, route_km)
    return km / km.sum()


def _road_tkm_shares(prefectures: Prefectures, freight: FreightResult, n_years: int) -> np.ndarray | None:
    """(1, Y, cities) shares of road tkm inside Guangxi by city (the central estimate), None without them."""
    tkm = freight.city_road_tkm_bn
    if tkm.size == 0:
        return None
    rows = [freight.city_zones.index(z) for z in prefectures.freight_zones]
    central = tkm[:1, :n_years][:, :, rows]
    return central / np.maximum(central.sum(axis=2, keepdims=True), 1e-12)


def city_road_arrays(fleets: FleetResult, shares: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Energy (PJ), oil and CO2 (Mt) per member, year and city: (M, Y, cities) each, summed over the segments (a
    segment the fleets engine ran by city: its own cities' values, FleetResult.regional_by_fuel)."""
    arrays = {"energy_pj": fleets.energy_pj, "oil_mt": fleets.oil_mt}
    arrays |= {"co2_ttw_mt": fleets.co2_ttw_mt, "co2_wtw_mt": fleets.co2_wtw_mt}
    members, n_years = fleets.oil_mt.shape[:2]
    n_cities = next(iter(shares.values())).shape[2]
    out = {}
    for name, values in arrays.items():
        total = np.zeros((members, n_years, n_cities))
        for si, seg in enumerate(fleets.segments):
            if seg in fleets.regional_by_fuel:
                for by_fuel in fleets.regional_by_fuel[seg].values():
                    total += by_fuel[name]
            else:
                total += values[:, :, si, None] * shares[seg]
        out[name] = total
    return out


def city_road_frame(prefectures: Prefectures, years: np.ndarray, road: dict[str, np.ndarray]) -> pl.DataFrame:
    """Table city_road (without run_id): every member's energy, oil and CO2 per year and city."""
    members, n_years, n_cities = road["oil_mt"].shape
    grid = np.indices((members, n_years, n_cities)).reshape(3, -1)
    codes = np.asarray(prefectures.city_codes, dtype=np.int32)
    frame = pl.DataFrame(
        {
            "member": grid[0].astype(np.int32),
            "year": np.asarray(years, dtype=np.int32)[grid[1]],
            "city": label_series("city", prefectures.cities, grid[2]),
            "city_code": codes[grid[2]],
            **{name: road[name].reshape(-1) for name in _ROAD_QUANTITIES},
        }
    )
    return frame.cast(pl.Schema(RESULT_COLUMNS["city_road"]))


def city_energy_frame(
    prefectures: Prefectures,
    fleets: FleetResult,
    shares: dict[str, np.ndarray],
    years: np.ndarray,
    detail_members: int,
) -> pl.DataFrame:
    """Table city_energy (without run_id): the first `detail_members` members' energy, oil and CO2 by city,
    segment and fuel (powertrains summed): the province's row times the segment's city share, or the city's own
    values for a segment the fleets engine ran by city."""
    schema = pl.Schema(RESULT_COLUMNS["city_energy"])
    energy = fleets.energy
    if detail_members <= 0 or energy.height == 0:
        return pl.DataFrame(schema=schema)
    by_fuel = (
        energy.filter(pl.col("member") < detail_members)
        .group_by("member", "year", "segment", "fuel")
        .agg(pl.col(list(_ROAD_QUANTITIES)).sum())
    )
    first_year = int(by_fuel["year"].min())  # type: ignore[arg-type]
    n_cities = len(prefectures.cities)
    parts = [
        _regional_rows(prefectures, seg, fuel, values, years, detail_members)
        for seg, fuels in fleets.regional_by_fuel.items()
        for fuel, values in fuels.items()
        if np.any(values["energy_pj"][:detail_members] > 0)
    ]
    for seg in SEGMENTS:
        if seg in fleets.regional_by_fuel:
            continue
        rows = by_fuel.filter(pl.col("segment") == seg)
        if rows.height == 0:
            continue
        share = shares[seg]
        member = rows["member"].to_numpy()
        year = rows["year"].to_numpy().astype(int) - first_year
        weights = share[np.minimum(member, share.shape[0] - 1), year]  # (rows, cities)
        repeated = rows.select(pl.all().gather(np.repeat(np.arange(rows.height), n_cities)))
        city = np.tile(np.arange(n_cities), rows.height)
        parts.append(
            repeated.with_columns(
                label_series("city", prefectures.cities, city).alias("city"),
                pl.Series("city_code", np.asarray(prefectures.city_codes, dtype=np.int32)[city]),
                *[(pl.col(q) * pl.Series(weights.reshape(-1))).alias(q) for q in _ROAD_QUANTITIES],
            )
        )
    if not parts:
        return pl.DataFrame(schema=schema)
    frames = [part.select(list(schema)).cast(schema) for part in parts]
    return pl.concat(frames).sort("member", "year", "city", "segment", "fuel")


def _regional_rows(
    prefectures: Prefectures, seg: str, fuel: str, values: dict[str, np.ndarray], years: np.ndarray, members: int
) -> pl.DataFrame:
    """city_energy rows of one fuel of a segment run by city: values[quantity] (M, Y, cities), first `members`."""
    _, n_years, n_cities = values["energy_pj"].shape
    grid = np.indices((members, n_years, n_cities)).reshape(3, -1)
    return pl.DataFrame(
        {
            "member": grid[0].astype(np.int32),
            "year": np.asarray(years, dtype=np.int32)[grid[1]],
            "segment": seg,
            "fuel": fuel,
            **{q: values[q][:members].reshape(-1) for q in _ROAD_QUANTITIES},
            "city": label_series("city", prefectures.cities, grid[2]),
            "city_code": np.asarray(prefectures.city_codes, dtype=np.int32)[grid[2]],
        }
    )
