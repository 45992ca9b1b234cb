"""The province model: one scenario, all members, base year to horizon, the domains coupled in a fixed order.

Order of the coupling, and why it is a sequence rather than a per-year feedback loop:

1. freight (networks engine): OD demand grows with GDP; each year's network (the Pinglu Canal opens, spurs are built)
   is assigned with capacity -> tonnes, tkm by mode, rail-sea TEU, truck vehicle-km by class;
2. urban: each city's trips and mode shares -> green-trip share; car, taxi, bus and motorcycle vehicle-km; bus fleet;
3. fleets (fleets engine, SimPy clock): trucks from (1), urban vehicle activity from (2), cars from the ownership
   curve -> stock by vintage and powertrain, sales, energy, oil, CO2;
4. cities: road energy, oil and CO2 split over the 14 prefectures by where each segment drives (transport.city_energy);
5. targets (the province's and each city's oil peak) and the LMDI decomposition of road oil.

Neither freight nor urban reads anything the fleets produce (fuel prices and policy levers are exogenous), so running
(1) and (2) for all years before (3) gives the same result as interleaving them year by year, and lets each engine
vectorise over years and members.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from fleets import GROUPS
from transport import targets as tg
from transport.city_energy import (
    CITY_ENERGY_MEMBERS,
    city_energy_frame,
    city_road_arrays,
    city_road_frame,
    segment_city_shares,
)
from transport.dataset import Dataset
from transport.freight import COMMODITIES, T_PER_TEU, TRUCK_CLASSES, FreightResult, simulate_freight
from transport.freight.network import city_route_km, city_zones, run_links
from transport.levers.freight import FreightLevers
from transport.lmdi import EFFECTS, lmdi_oil
from transport.result_tables import RESULT_COLUMNS
from transport.scenario import Scenario
from transport.tables import label_series
from transport.urban import HANDOFF_SEGMENTS, UrbanResult, simulate_urban
from transport.vehicles import ActivityInput, FleetResult, simulate_fleets
from transport.vehicles.model import CITY_SUBSIDY_SEGMENT

LMDI_PERIODS = ((2020, 2030), (2030, 2060))


def simulate(
    scenario: Scenario,
    dataset: Dataset,
    params: Mapping[str, np.ndarray],
    years: np.ndarray,
    members: int,
    freight: FreightResult | None = None,
    city_energy_members: int = CITY_ENERGY_MEMBERS,
) -> dict[str, pl.DataFrame]:
    """Run the coupled model; returns the result tables (without run_id) keyed by table name.

    `freight`: the freight result of these members if already computed (an ensemble computes freight once for all
    its members, see runs.ensemble), else it is computed here. `city_energy_members`: how many of the first members
    get table city_energy (by segment and fuel; a chunk of a larger ensemble passes how many of its members are
    among the run's first CITY_ENERGY_MEMBERS)."""
    levers = scenario.levers
    if freight is None:
        freight = simulate_freight(dataset.freight, levers.freight, params, years, members)
    urban = simulate_urban(dataset.urban, levers.urban, params, years, members)
    activity: dict[str, ActivityInput] = {
        seg: ActivityInput(vkt_bn=freight.truck_vkt_bn[seg]) for seg in TRUCK_CLASSES if seg in freight.truck_vkt_bn
    }
    activity.update(urban_activity(urban.vkt_bn, dataset.urban.provincial_vkt_share))
    shares = city_shares(dataset, levers.freight, freight, urban, years, members)
    # a segment with a rule or an incentive for one city runs as one stock per city (its province is their sum)
    by_city: set[str] = {rule.segment for rule in levers.fleets.sales_rules if rule.city is not None}
    if levers.fleets.city_car_nev_subsidy_share:
        by_city.add(CITY_SUBSIDY_SEGMENT)
    fleets = simulate_fleets(
        dataset.fleets,
        levers.fleets,
        params,
        years,
        members,
        activity=activity,
        regional={seg: shares[seg] for seg in sorted(by_city)},
        region_names=dataset.prefectures.cities,
    )
    road_by_city, city_energy = city_tables(dataset, fleets, shares, years, city_energy_members)
    tables = {
        "fleet": fleets.fleet,
        "energy": fleets.energy,
        "city_road": road_by_city,
        "city_energy": city_energy,
        "freight": freight.freight,
        "railsea": freight.railsea,
        "capacity_flows": freight.capacity_flows,
        "links": freight.links,
        "link_flows": freight.link_flows,
        "link_flow_quantiles": freight.link_flow_quantiles,
        "urban": urban.urban,
    }
    tables["indicators"] = indicator_rows(freight, urban, years)
    tables["targets"] = tg.all_targets(
        {
            "province": target_rows(tables, urban, fleets.non_fossil_share, years),
            "cities": city_peak_targets(dataset, tables["city_road"], years, members),
        }
    )
    tables["lmdi"] = lmdi_rows(fleets, years)
    return tables


def simulate_domains(
    scenario: Scenario,
    dataset: Dataset,
    params: Mapping[str, np.ndarray],
    years: np.ndarray,
    domains: set[str],
) -> pl.DataFrame:
    """The targets table from only the engines in `domains` (transport seek): {'urban'} gives the green-trip
    targets, {'freight'} the rail-sea targets, all three the full table. Same code path as `simulate`, so the
    values equal those of a full run of the same scenario."""
    members = len(next(iter(params.values()))) if params else 1
    if "fleets" in domains:
        return simulate(scenario, dataset, params, years, members)["targets"]
    parts: dict[str, pl.DataFrame] = {}
    if "freight" in domains:
        freight = simulate_freight(dataset.freight, scenario.levers.freight, params, years, members)
        parts["railsea"] = tg.railsea_targets(freight.railsea)
        parts["railwater"] = tg.railwater_targets(freight.railsea, _railriver_frame(freight.railriver_teu, years))
    if "urban" in domains:
        urban = simulate_urban(dataset.urban, scenario.levers.urban, params, years, members)
        parts["green"] = tg.green_trip_targets(urban.green_share(include_ebike=False), urban.population)
    return tg.all_targets(parts)


def city_shares(
    dataset: Dataset,
    levers: FreightLevers,
    freight: FreightResult,
    urban: UrbanResult,
    years: np.ndarray,
    members: int,
) -> dict[str, np.ndarray]:
    """Each fleet segment's split over the prefecture cities, (M|1, Y, cities) (transport.city_energy)."""
    prefectures = dataset.prefectures
    mass = dict(zip(dataset.freight.zones["zone"], dataset.freight.zones["mass_bn_yuan"], strict=True))
    gdp = np.array([float(mass[z]) for z in prefectures.freight_zones])
    order = [city_zones(dataset.freight).index(z) for z in prefectures.freight_zones]
    routes = city_route_km(dataset.freight, run_links(dataset.freight, levers))[np.ix_(order, order, order)]
    return segment_city_shares(
        prefectures, gdp, freight, urban, dataset.urban.provincial_vkt_share, members, len(years), routes
    )


def city_tables(
    dataset: Dataset, fleets: FleetResult, shares: dict[str, np.ndarray], years: np.ndarray, detail_members: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Tables city_road (every member) and city_energy (the first `detail_members`): transport.city_energy."""
    members = fleets.oil_mt.shape[0]
    road = city_road_frame(dataset.prefectures, years, city_road_arrays(fleets, shares))
    detail = city_energy_frame(dataset.prefectures, fleets, shares, years, min(detail_members, members))
    return road, detail


def city_peak_targets(dataset: Dataset, city_road: pl.DataFrame, years: np.ndarray, members: int) -> pl.DataFrame:
    """Each city's road-oil peak year (vs 2030) and level per member: targets `road_oil_peak_year.<city>` and
    `road_oil_peak_level.<city>`, by the province's peak rule (transport.targets.peak_targets)."""
    parts = []
    for city in dataset.prefectures.cities:
        rows = city_road.filter(pl.col("city") == city)
        (oil,) = _member_year_sums(rows, ["oil_mt"], years, members)
        parts.append(
            tg.peak_targets("road_oil", years, oil, "Mt").with_columns((pl.col("target") + f".{city}").alias("target"))
        )
    return pl.concat(parts)


def _long(name: str, unit: str, grid: np.ndarray, years: np.ndarray) -> pl.DataFrame:
    members, n_years = grid.shape
    return pl.DataFrame(
        {
            "member": np.repeat(np.arange(members, dtype=np.int32), n_years),
            "year": np.tile(years.astype(np.int32), members),
            "indicator": name,
            "value": grid.reshape(-1),
            "unit": unit,
        }
    )


def _railriver_frame(teu: np.ndarray, years: np.ndarray) -> pl.DataFrame:
    members = np.repeat(np.arange(teu.shape[0], dtype=np.int32), len(years))
    return pl.DataFrame({"member": members, "year": np.tile(years.astype(np.int32), teu.shape[0]), "teu": teu.ravel()})


def indicator_rows(freight: FreightResult, urban: UrbanResult, years: np.ndarray) -> pl.DataFrame:
    """Published-statistics series the domain tables do not hold: Beibu Gulf port throughput (all cargo and
    containers, loaded + unloaded), Guangxi's inland ports (throughput, TEU), inland-water tonnes on the carrier
    definition, rail-river TEU and each modelled city's bus fleet.

    A freight result without port arrays (an emulator that does not reproduce them) gives no port rows."""
    frames = []
    port_mt = freight.port_mt  # (M, Y, C)
    if port_mt.ndim == 3 and port_mt.shape[1] == len(years):
        frames.append(_long("beibu_port_throughput_t", "t", port_mt.sum(axis=2) * 1e6, years))
        boxes = port_mt[:, :, COMMODITIES.index("containers")] * 1e6 / T_PER_TEU
        frames.append(_long("beibu_container_teu", "TEU", boxes, years))
    river = freight.river_port_mt  # (M, Y, C)
    if river.ndim == 3 and river.shape[1] == len(years):
        frames.append(_long("inland_port_throughput_t", "t", river.sum(axis=2) * 1e6, years))
        river_boxes = river[:, :, COMMODITIES.index("containers")] * 1e6 / T_PER_TEU
        frames.append(_long("inland_port_teu", "TEU", river_boxes, years))
        frames.append(_long("inland_water_carrier_t", "t", freight.carrier_mt * 1e6, years))
        frames.append(_long("railriver_teu", "TEU", freight.railriver_teu, years))
        frames.append(_long("railsea_trains", "trains", freight.railsea_trains, years))
    for i, city in enumerate(urban.cities):
        frames.append(_long(f"bus_fleet_vehicles.{city}", "vehicles", urban.bus_vehicles[:, :, i], years))
    schema = pl.Schema(RESULT_COLUMNS["indicators"])
    return pl.concat(frames).cast(schema) if frames else pl.DataFrame(schema=schema)


def freight_members(result: FreightResult, start: int, stop: int) -> FreightResult:
    """Members [start, stop) of a freight result, renumbered from 0 (the frames' `member` and the arrays' rows). The
    run-level `links` and `link_flow_quantiles` tables go with the slice holding member 0 only, so a run stores them
    once however it is chunked."""

    def rows(frame: pl.DataFrame) -> pl.DataFrame:
        keep = frame.filter((pl.col("member") >= start) & (pl.col("member") < stop))
        return keep.with_columns((pl.col("member") - start).cast(pl.Int32))

    return FreightResult(
        freight=rows(result.freight),
        railsea=rows(result.railsea),
        truck_vkt_bn={seg: values[start:stop] for seg, values in result.truck_vkt_bn.items()},
        msa_gap=result.msa_gap,
        port_mt=result.port_mt[start:stop] if result.port_mt.size else result.port_mt,
        river_port_mt=result.river_port_mt[start:stop] if result.river_port_mt.size else result.river_port_mt,
        railriver_teu=result.railriver_teu[start:stop] if result.railriver_teu.size else result.railriver_teu,
        carrier_mt=result.carrier_mt[start:stop] if result.carrier_mt.size else result.carrier_mt,
        railsea_trains=result.railsea_trains[start:stop] if result.railsea_trains.size else result.railsea_trains,
        capacity_flows=rows(result.capacity_flows),
        links=result.links if start == 0 else result.links.clear(),
        link_flows=rows(result.link_flows),
        link_flow_quantiles=result.link_flow_quantiles if start == 0 else result.link_flow_quantiles.clear(),
        city_road_tkm_bn=result.city_road_tkm_bn,
        city_zones=result.city_zones,
    )


def freight_joined(first: FreightResult, rest: FreightResult) -> FreightResult:
    """`first`'s members, then `rest`'s renumbered after them: the inverse of freight_members. The run-level `links`
    and `link_flow_quantiles` and the member-0 `link_flows` come from `first`; each year's gap is the worse of the
    two."""
    shift = next(iter(first.truck_vkt_bn.values())).shape[0]

    def rows(a: pl.DataFrame, b: pl.DataFrame) -> pl.DataFrame:
        return pl.concat([a, b.with_columns((pl.col("member") + shift).cast(pl.Int32))])

    def stack(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.concatenate([a, b]) if a.size and b.size else a

    return FreightResult(
        freight=rows(first.freight, rest.freight),
        railsea=rows(first.railsea, rest.railsea),
        truck_vkt_bn={seg: np.concatenate([v, rest.truck_vkt_bn[seg]]) for seg, v in first.truck_vkt_bn.items()},
        msa_gap=np.maximum(first.msa_gap, rest.msa_gap),
        port_mt=stack(first.port_mt, rest.port_mt),
        river_port_mt=stack(first.river_port_mt, rest.river_port_mt),
        railriver_teu=stack(first.railriver_teu, rest.railriver_teu),
        carrier_mt=stack(first.carrier_mt, rest.carrier_mt),
        railsea_trains=stack(first.railsea_trains, rest.railsea_trains),
        capacity_flows=rows(first.capacity_flows, rest.capacity_flows),
        links=first.links,
        link_flows=first.link_flows,
        link_flow_quantiles=first.link_flow_quantiles,
        city_road_tkm_bn=first.city_road_tkm_bn,
        city_zones=first.city_zones,
    )


def urban_activity(
    vkt_bn: Mapping[str, np.ndarray], provincial_vkt_share: Mapping[str, float]
) -> dict[str, ActivityInput]:
    """Urban vehicle activity as an index on each segment's own provincial demand.

    The urban model covers the big cities only: their change in vehicle-km relative to the base year (vkt_bn,
    (members, years) per segment) scales only the share of the provincial segment activity that happens in those
    cities (dataset: urban/handoff.toml provincial_vkt_share); the rest follows the segment's own demand:
    index = (1 - share) + share x vkt / vkt_base_year.
    """
    out: dict[str, ActivityInput] = {}
    for seg in HANDOFF_SEGMENTS:
        if seg not in vkt_bn:
            continue
        series = np.asarray(vkt_bn[seg], dtype=float)
        index = series / np.maximum(series[:, :1], 1e-12)
        weight = float(provincial_vkt_share.get(seg, 0.0))
        out[seg] = ActivityInput(vkt_index=1.0 - weight + weight * index)
    return out


def _member_year_sums(frame: pl.DataFrame, columns: list[str], years: np.ndarray, members: int) -> list[np.ndarray]:
    """Sums of `columns` per member and year, as (members, years) grids (zero where the frame has no row)."""
    total = frame.group_by("member", "year").agg(pl.col(columns).sum())
    member = total["member"].to_numpy()
    year = total["year"].to_numpy().astype(int) - int(years[0])
    grids = []
    for column in columns:
        grid = np.zeros((members, len(years)))
        grid[member, year] = total[column].to_numpy()
        grids.append(grid)
    return grids


def target_rows(
    tables: Mapping[str, pl.DataFrame], urban: UrbanResult, non_fossil_share: np.ndarray, years: np.ndarray
) -> pl.DataFrame:
    """The targets table (without run_id) from the result tables, the urban green-trip shares and population, and
    the grid's non-fossil share path behind the WTW CO2 ((members, years))."""
    members = int(tables["energy"]["member"].to_numpy().max()) + 1 if tables["energy"].height else 1
    parts: dict[str, pl.DataFrame] = {"railsea": tg.railsea_targets(tables["railsea"])}
    indicators = tables.get("indicators", pl.DataFrame(schema=pl.Schema(RESULT_COLUMNS["indicators"])))
    railriver = indicators.filter(pl.col("indicator") == "railriver_teu").rename({"value": "teu"})
    parts["railwater"] = tg.railwater_targets(tables["railsea"], railriver.select("member", "year", "teu"))
    parts["green"] = tg.green_trip_targets(urban.green_share(include_ebike=False), urban.population)
    parts["green_ebike"] = tg.green_trip_targets(urban.green_share(include_ebike=True), urban.population, "_with_ebike")
    oil, co2_ttw, co2_wtw = _member_year_sums(tables["energy"], ["oil_mt", "co2_ttw_mt", "co2_wtw_mt"], years, members)
    parts["oil"] = tg.peak_targets("road_oil", years, oil, "Mt")
    parts["co2_ttw"] = tg.peak_targets("road_co2_ttw", years, co2_ttw, "Mt")
    parts["co2_wtw"] = tg.peak_targets("road_co2_wtw", years, co2_wtw, "Mt")
    fleet = tables["fleet"].with_columns(
        pl.when(pl.col("powertrain").is_in(GROUPS["nev"])).then(pl.col("stock")).otherwise(0.0).alias("nev")
    )
    nev_stock, stock = _member_year_sums(fleet, ["nev", "stock"], years, members)
    nev_grid = np.divide(nev_stock, stock, out=np.zeros_like(stock), where=stock > 0)
    parts["nev"] = tg.indicator_rows("nev_share_of_stock", years, nev_grid, (2025, 2030, 2035, 2060), "share")
    parts["non_fossil"] = tg.indicator_rows(
        "non_fossil_power_share_assumed",
        years,
        np.asarray(non_fossil_share),
        (2025, 2030, 2060),
        "share",
        "grid path behind the WTW CO2",
    )
    return tg.all_targets(parts)


def lmdi_rows(fleets: FleetResult, years: np.ndarray) -> pl.DataFrame:
    """Additive LMDI of road oil for 2020-2030 and 2030-2060, by segment and effect (Mt)."""
    segments = list(fleets.segments)
    vkt, energy, oil = fleets.vkt_bn, fleets.energy_pj, fleets.oil_mt  # (members, years, segments)
    frames = []
    members = np.arange(vkt.shape[0], dtype=np.int32)
    for start, end in LMDI_PERIODS:
        if start not in years or end not in years:
            continue
        i, j = int(start - years[0]), int(end - years[0])
        effects = lmdi_oil(vkt[:, i], energy[:, i], oil[:, i], vkt[:, j], energy[:, j], oil[:, j])
        for effect in EFFECTS:
            frames.append(
                pl.DataFrame(
                    {
                        "member": np.repeat(members, len(segments)),
                        "period": f"{start}-{end}",
                        "segment": label_series("segment", segments, np.tile(np.arange(len(segments)), len(members))),
                        "effect": effect,
                        "oil_mt": effects[effect].reshape(-1),
                    }
                )
            )
    schema = pl.Schema(RESULT_COLUMNS["lmdi"])
    return pl.concat(frames).cast(schema) if frames else pl.DataFrame(schema=schema)
