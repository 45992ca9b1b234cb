"""The province model: one scenario, all members, base year to horizon, the domains coupled in a fixed order.

Order of the coupling, and why it is a sequence rather than a per-year feedback loop:

1. freight (networks engine): OD demand grows with GDP; each year's network (the Pinglu Canal opens, spurs are built)
   is assigned with capacity -> tonnes, tkm by mode, rail-sea TEU, truck vehicle-km by class;
2. urban: each city's trips and mode shares -> green-trip share; car, taxi, bus and motorcycle vehicle-km; bus fleet;
3. fleets (fleets engine, SimPy clock): trucks from (1), urban vehicle activity from (2), cars from the ownership
   curve -> stock by vintage and powertrain, sales, energy, oil, CO2;
4. targets and the LMDI decomposition of road oil.

Neither freight nor urban reads anything the fleets produce (fuel prices and policy levers are exogenous), so running
(1) and (2) for all years before (3) gives the same result as interleaving them year by year, and lets each engine
vectorise over years and members.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from transport import targets as tg
from transport.dataset import Dataset
from transport.freight import COMMODITIES, T_PER_TEU, FreightResult, simulate_freight
from transport.lmdi import EFFECTS, lmdi_oil
from transport.result_tables import RESULT_COLUMNS
from transport.scenario import Scenario
from transport.tables import label_series
from transport.urban import simulate_urban
from transport.vehicles import ActivityInput, simulate_fleets

TRUCK_SEGMENTS = ("light_van", "medium_truck", "heavy_truck")
URBAN_SEGMENTS = ("private_car", "taxi", "bus", "motorcycle")
LMDI_PERIODS = ((2020, 2030), (2030, 2060))


def simulate(
    scenario: Scenario,
    dataset: Dataset,
    params: Mapping[str, np.ndarray],
    years: np.ndarray,
    members: int,
    freight: FreightResult | None = None,
) -> dict[str, pl.DataFrame]:
    """Run the coupled model; returns the result tables (without run_id) keyed by table name.

    `freight`: the freight result of these members if already computed (an ensemble computes freight once for all
    its members, see runs.ensemble), else it is computed here."""
    levers = scenario.levers
    if freight is None:
        freight = simulate_freight(dataset.freight, levers.freight, params, years, members)
    urban = simulate_urban(dataset.urban, levers.urban, params, years, members)
    activity: dict[str, ActivityInput] = {
        seg: ActivityInput(vkt_bn=freight.truck_vkt_bn[seg]) for seg in TRUCK_SEGMENTS if seg in freight.truck_vkt_bn
    }
    activity.update(urban_activity(urban, dataset))
    fleets = simulate_fleets(dataset.fleets, levers.fleets, params, years, members, activity=activity)
    tables = {
        "fleet": fleets.fleet,
        "energy": fleets.energy,
        "freight": freight.freight,
        "railsea": freight.railsea,
        "urban": urban.urban,
    }
    tables["targets"] = target_rows(tables, urban, fleets, years)
    tables["lmdi"] = lmdi_rows(fleets, years)
    tables["indicators"] = indicator_rows(freight, urban, years)
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
    if "urban" in domains:
        urban = simulate_urban(dataset.urban, scenario.levers.urban, params, years, members)
        parts["green"] = tg.green_trip_targets(urban.green_share(include_ebike=False), urban.population)
    return tg.all_targets(parts)


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


def indicator_rows(freight: object, urban: object, years: np.ndarray) -> pl.DataFrame:
    """Published-statistics series the domain tables do not hold: Beibu Gulf port throughput (all cargo and
    containers, loaded + unloaded) and each modelled city's bus fleet."""
    frames = []
    port_mt = np.asarray(getattr(freight, "port_t", np.zeros(0)))  # (M, Y, C) Mt
    if port_mt.ndim == 3 and port_mt.shape[1] == len(years):
        frames.append(_long("beibu_port_throughput_t", "t", port_mt.sum(axis=2) * 1e6, years))
        boxes = port_mt[:, :, COMMODITIES.index("containers")] * 1e6 / T_PER_TEU
        frames.append(_long("beibu_container_teu", "TEU", boxes, years))
    buses = getattr(urban, "bus_vehicles", None)  # (M, Y, cities)
    for i, city in enumerate(getattr(urban, "cities", ())):
        frames.append(_long(f"bus_fleet_vehicles.{city}", "vehicles", np.asarray(buses)[:, :, i], years))
    schema = RESULT_COLUMNS["indicators"]
    return pl.concat(frames).cast(schema) if frames else pl.DataFrame(schema=schema)


def freight_members(result: FreightResult, start: int, stop: int) -> FreightResult:
    """Members [start, stop) of a freight result, renumbered from 0 (the frames' `member` and the arrays' rows)."""

    def rows(frame: pl.DataFrame) -> pl.DataFrame:
        keep = frame.filter((pl.col("member") >= start) & (pl.col("member") < stop))
        return keep.with_columns((pl.col("member") - start).cast(pl.Int32))

    return FreightResult(
        freight=rows(result.freight),
        railsea=rows(result.railsea),
        truck_vkt_bn={seg: values[start:stop] for seg, values in result.truck_vkt_bn.items()},
        msa_gap=result.msa_gap,
        port_t=result.port_t[start:stop] if result.port_t.size else result.port_t,
    )


def urban_activity(urban: object, dataset: Dataset) -> dict[str, ActivityInput]:
    """Urban vehicle activity as an index on each segment's own provincial demand.

    The urban model covers the big cities only; their change in vehicle-km (relative to the base year) scales the
    share of the provincial segment activity that happens in those cities (dataset: urban_share_of_vkt).
    """
    out: dict[str, ActivityInput] = {}
    vkt = getattr(urban, "vkt_bn", {})
    shares = getattr(dataset.urban, "provincial_vkt_share", {})
    for seg in URBAN_SEGMENTS:
        if seg not in vkt:
            continue
        series = np.asarray(vkt[seg], dtype=float)
        index = series / np.maximum(series[:, :1], 1e-12)
        weight = float(shares.get(seg, 0.0))
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


def target_rows(tables: Mapping[str, pl.DataFrame], urban: object, fleets: object, years: np.ndarray) -> pl.DataFrame:
    """The targets table (without run_id) from the result tables."""
    members = int(tables["energy"]["member"].max()) + 1 if tables["energy"].height else 1
    parts: dict[str, pl.DataFrame] = {"railsea": tg.railsea_targets(tables["railsea"])}
    green = getattr(urban, "green_share", None)
    population = getattr(urban, "population", None)
    if green is not None and population is not None:
        parts["green"] = tg.green_trip_targets(green(include_ebike=False), population)
        parts["green_ebike"] = tg.green_trip_targets(green(include_ebike=True), population, label="_with_ebike")
    oil, co2_ttw, co2_wtw = _member_year_sums(tables["energy"], ["oil_mt", "co2_ttw_mt", "co2_wtw_mt"], years, members)
    parts["oil"] = tg.peak_targets("road_oil", years, oil, "Mt")
    parts["co2_ttw"] = tg.peak_targets("road_co2_ttw", years, co2_ttw, "Mt")
    parts["co2_wtw"] = tg.peak_targets("road_co2_wtw", years, co2_wtw, "Mt")
    fleet = tables["fleet"].with_columns(
        pl.when(pl.col("powertrain").is_in(["bev", "phev", "fcev"])).then(pl.col("stock")).otherwise(0.0).alias("nev")
    )
    nev_stock, stock = _member_year_sums(fleet, ["nev", "stock"], years, members)
    nev_grid = np.divide(nev_stock, stock, out=np.zeros_like(stock), where=stock > 0)
    parts["nev"] = tg.indicator_rows("nev_share_of_stock", years, nev_grid, (2025, 2030, 2035, 2060), "share")
    non_fossil = getattr(fleets, "non_fossil_share", None)
    if non_fossil is not None:
        parts["non_fossil"] = tg.indicator_rows(
            "non_fossil_power_share_assumed",
            years,
            np.asarray(non_fossil),
            (2025, 2030, 2060),
            "share",
            "grid path behind the WTW CO2",
        )
    return tg.all_targets(parts)


def lmdi_rows(fleets: object, years: np.ndarray) -> pl.DataFrame:
    """Additive LMDI of road oil for 2020-2030 and 2030-2060, by segment and effect (Mt)."""
    segments: list[str] = list(fleets.segments)  # type: ignore[attr-defined]
    vkt = np.asarray(fleets.vkt_bn)  # type: ignore[attr-defined]  # (members, years, segments)
    energy = np.asarray(fleets.energy_pj)  # type: ignore[attr-defined]
    oil = np.asarray(fleets.oil_mt)  # type: ignore[attr-defined]
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
    schema = RESULT_COLUMNS["lmdi"]
    return pl.concat(frames).cast(schema) if frames else pl.DataFrame(schema=schema)
