"""The fleet adapter: activity hand-offs, levers and sampled parameters -> fleets engine inputs -> results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from fleets import POWERTRAINS, SEGMENTS
from fleets.choice import logit_shares, tco_utility
from fleets.simulation import SalesRule, ScrappageProgramme, SegmentInputs, simulate
from transport.levers.base import year_path
from transport.levers.fleets import UNCERTAIN, FleetLevers
from transport.vehicles.choice import (
    ChoiceContext,
    _relaxed_asc,
    _sales_shares_2020,
    asc_from_shares,
    reference_index,
    tco_yuan_yr,
)
from transport.vehicles.data import FleetData
from transport.vehicles.demand import car_ownership_per_1000, growth_index, population_m
from transport.vehicles.frames import FleetResult, _result
from transport.vehicles.stock import _members, base_km_by_age, base_stock, log_survival, vkt_age_factor


@dataclass(frozen=True)
class ActivityInput:
    """Activity of a segment handed in by another domain; give exactly one of the three (arrays (members, years)).

    stock_vehicles: vehicles wanted at the end of each year; vkt_bn: billion vehicle-km per year (its change from
    the base year is applied to the segment's own base-year level); vkt_index: multiplies the segment's own
    demand-driven vehicle-km.
    """

    stock_vehicles: np.ndarray | None = None
    vkt_bn: np.ndarray | None = None
    vkt_index: np.ndarray | None = None

    def __post_init__(self) -> None:
        given = [x is not None for x in (self.stock_vehicles, self.vkt_bn, self.vkt_index)]
        if sum(given) != 1:
            raise ValueError("ActivityInput needs exactly one of stock_vehicles, vkt_bn, vkt_index")


# ---------------------------------------------------------------------------------------------------------- adapter


def simulate_fleets(
    data: FleetData,
    levers: FleetLevers,
    params: Mapping[str, np.ndarray],
    years: np.ndarray,
    members: int,
    activity: Mapping[str, ActivityInput] | None = None,
    modes: Mapping[str, str] | None = None,
    sales_paths: Mapping[str, np.ndarray] | None = None,
    regional: Mapping[str, np.ndarray] | None = None,
    region_names: Sequence[str] = (),
) -> FleetResult:
    """Run every segment for all members; `years` starts at the base year 2020.

    `modes` may switch a segment to "sales" (sales-driven) with `sales_paths[segment]` (members, years) of sales.
    `regional[segment]` (M|1, Y, regions): run the segment as one stock per region (`region_names`, the ids a sales
    rule's `city` names), each with that share of the segment's base stock and of its demand path every year; the
    province is their sum, and the result keeps each region's energy (FleetResult.regional_road)."""
    regional = dict(regional or {})
    inputs, rules, programmes, chargers, m, base_flows = engine_inputs(
        data, levers, params, years, members, activity, modes, sales_paths, regional, region_names
    )
    years = np.asarray(years, dtype=int)
    out = simulate(
        inputs,
        years,
        members,
        rules,
        programmes,
        chargers,
        m["fleet_vehicles_per_charger"],
        nevs_per_charger=m["fleet_nevs_per_charger"],
    )
    by_region = {seg: _split_regions(out, seg, members, regional[seg].shape[2]) for seg in regional}
    for seg in SEGMENTS:  # base-year flows from the reconstructed history
        out.retirements[seg][:, 0] = base_flows[seg][1][None, :]
    return _result(data, levers, out, years, members, m, by_region)


def _split_regions(out, seg: str, members: int, regions: int) -> dict[str, np.ndarray]:
    """Replace a regional segment's outputs by their sums over its regions; return its energy per region:
    energy_mj (M, R, Y, P) and phev_electric_mj (M, R, Y)."""
    kept = {
        "energy_mj": out.energy_mj[seg].reshape(members, regions, *out.energy_mj[seg].shape[1:]),
        "phev_electric_mj": out.phev_electric_mj[seg].reshape(members, regions, -1),
    }
    for name in ("stock", "sales", "retirements", "vkt_km", "energy_mj", "phev_electric_mj"):
        values = getattr(out, name)[seg]
        getattr(out, name)[seg] = values.reshape(members, regions, *values.shape[1:]).sum(axis=1)
    return kept


def _by_region(values: np.ndarray, regions: int) -> np.ndarray:
    """A per-member array (M|1, ...) as the rows of a regional segment: each member's row once per region (a
    leading 1 stays 1: the same for every row)."""
    values = np.asarray(values)
    return values if values.shape[0] == 1 else np.repeat(values, regions, axis=0)


CITY_SUBSIDY_SEGMENT = "private_car"  # the segment levers.city_car_nev_subsidy_share applies to
COVID_YEAR = 2020  # the calendar year of the dip (parameters.toml [covid]), whatever the dataset's base year


def covid_use(data: FleetData, segment: str, years: np.ndarray, m: Mapping[str, np.ndarray]) -> np.ndarray:
    """(M, Y) use per vehicle relative to a normal year: 1 - dip x fleet_covid_dip_factor in 2020, 1 otherwise."""
    dip = float(data.parameters.get("covid", {}).get("vkt_dip_2020", {}).get(segment, 0.0))
    factor = np.asarray(m["fleet_covid_dip_factor"], dtype=float)[:, None]
    return np.where(np.asarray(years)[None, :] == COVID_YEAR, 1.0 - dip * factor, 1.0)


def engine_inputs(
    data: FleetData,
    levers: FleetLevers,
    params: Mapping[str, np.ndarray],
    years: np.ndarray,
    members: int,
    activity: Mapping[str, ActivityInput] | None = None,
    modes: Mapping[str, str] | None = None,
    sales_paths: Mapping[str, np.ndarray] | None = None,
    regional: Mapping[str, np.ndarray] | None = None,
    region_names: Sequence[str] = (),
):
    """The engine's inputs: segment inputs, rules, programmes, chargers, per-member parameters, base-year flows."""
    years = np.asarray(years, dtype=int)
    if years[0] != 2020:
        raise ValueError("years must start at the base year 2020")
    activity = activity or {}
    m = {name: _members(params, name, members) for name in UNCERTAIN}
    ctx = ChoiceContext(
        members,
        m["fleet_battery_learning_rate"],
        m["fleet_oil_price_factor"],
        m["fleet_real_world_factor"],
        m["fleet_phev_utility_factor"],
        m["fleet_vkt_factor"],
        m["fleet_gas_price_factor"],
    )
    n_years = len(years)
    subsidy = year_path(levers.nev_subsidy_share, years)
    nev_tax = year_path(levers.nev_purchase_tax_factor, years)
    carbon = year_path(levers.carbon_price_yuan_t, years)
    lam = float(data.parameters["choice"]["cost_sensitivity"]) * m["fleet_cost_sensitivity_factor"]
    half_life = data.calibration["asc_half_life_yr"]
    growth_shift = (
        _members(params, "freight_gdp_growth_shift", members)
        if "freight_gdp_growth_shift" in params
        else np.zeros(members)
    )
    inputs: list[SegmentInputs] = []
    base_flows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    regional = regional or {}
    city_shares: dict[str, np.ndarray] = {}  # segment -> (M x regions, Y, P) choice shares where cities differ
    for seg in SEGMENTS:
        row = data.seg(seg)
        avail = data.pt(seg, "available") > 0
        stock0, retire0 = base_stock(data, seg)
        base_flows[seg] = (stock0, retire0)
        tco = tco_yuan_yr(data, seg, years, ctx, subsidy, nev_tax, carbon)
        ref = reference_index(data, seg)
        reference = tco[:, 0, ref]
        asc = asc_from_shares(_sales_shares_2020(data, seg), tco[:, 0], ref, lam, reference)
        if seg == "private_car":
            asc[:, POWERTRAINS.index("bev")] = data.calibration["asc_bev"]
        relaxed = _relaxed_asc(asc, years, half_life)
        shares = logit_shares(
            tco_utility(tco, reference[:, None, None], relaxed, lam[:, None, None]), avail[None, None, :]
        )
        local = levers.city_car_nev_subsidy_share if seg == CITY_SUBSIDY_SEGMENT else {}
        if local and seg in regional:  # each city's buyers see its own subsidy (the constants stay the province's)
            by_city = []
            for city in region_names:
                if city not in local:
                    by_city.append(shares)
                    continue
                own = tco_yuan_yr(data, seg, years, ctx, subsidy + year_path(local[city], years), nev_tax, carbon)
                util = tco_utility(own, reference[:, None, None], relaxed, lam[:, None, None])
                by_city.append(logit_shares(util, avail[None, None, :]))
            city_shares[seg] = np.stack(by_city, axis=1).reshape(-1, *shares.shape[1:])  # rows member x city
        # Demand and use.
        base_total = float(row["base_stock_vehicles"])
        if row["demand_driver"] == "ownership":
            own = car_ownership_per_1000(data, years, m["fleet_car_saturation_per_1000"], growth_shift)
            own_demand = own * population_m(data, years)[None, :] * 1e3
            own_demand = own_demand * base_total / own_demand[:, :1]
        else:
            own_demand = np.tile(base_total * growth_index(data, seg, years), (members, 1))
        use = np.ones((members, n_years))
        demand = own_demand
        act = activity.get(seg)
        if act is not None:
            if act.stock_vehicles is not None:
                demand = np.broadcast_to(np.asarray(act.stock_vehicles, float), (members, n_years)).copy()
            else:
                series = act.vkt_bn if act.vkt_bn is not None else act.vkt_index
                series = np.broadcast_to(np.asarray(series, float), (members, n_years))
                # vkt_bn: its change since the base year; vkt_index: used as given (a multiplier).
                index = series / np.maximum(series[:, :1], 1e-12) if act.vkt_bn is not None else series
                if act.vkt_bn is not None:  # replaces the segment's own demand path
                    if row["activity_scales"] == "stock":
                        demand = base_total * index
                    else:
                        use = index * own_demand[:, :1] / own_demand
                elif row["activity_scales"] == "stock":
                    demand = own_demand * index
                else:
                    use = index
        mode = (modes or {}).get(seg, "stock")
        vkt_new = row["vkt_km"] * m["fleet_vkt_factor"][:, None] * use * covid_use(data, seg, years, m)
        uplift = row["real_world_uplift"] * m["fleet_real_world_factor"]
        inputs.append(
            SegmentInputs(
                name=seg,
                base_stock=stock0[None],
                log_survival=log_survival(data, seg, m["fleet_lifetime_factor"]),
                shares=shares,
                available=avail,
                vkt_new_km=vkt_new,
                vkt_age_factor=vkt_age_factor(data, seg),
                intensity_mj_km=data.pt(seg, "intensity_test_mj_km")[None, :] * uplift[:, None],
                improvement_per_yr=data.pt(seg, "improvement_per_yr"),
                historical_per_yr=data.pt(seg, "historical_per_yr"),
                floor_ratio=data.pt(seg, "floor_ratio"),
                phev_electric_mj_km=data.pt(seg, "phev_electric_mj_km")[POWERTRAINS.index("phev")] * uplift,
                phev_utility_factor=m["fleet_phev_utility_factor"],
                demand=demand if mode == "stock" else None,
                sales_total=None if mode == "stock" else np.asarray((sales_paths or {})[seg], float),
                age_limit_yr=int(row["age_limit_yr"]),
                km_limit_km=float(row["km_limit_km"]),
                km_sigma=np.asarray(m["fleet_km_sigma"], dtype=float)[:, None],
                km_enforcement=float(row["km_enforcement"]),
                # accumulated km are linear in the member's use factor
                base_km=base_km_by_age(data, seg)[None, :] * np.asarray(m["fleet_vkt_factor"], dtype=float)[:, None],
                charger_pool_share=float(row["charger_pool_share"]),
                home_charging_share=float(row["home_charging_share"]),
                counts_for_chargers=bool(row["counts_for_chargers"]),
            )
        )
    inputs = [
        _regional_inputs(x, regional[x.name], members, city_shares.get(x.name)) if x.name in regional else x
        for x in inputs
    ]
    region_index = {name: i for i, name in enumerate(region_names)}
    for rule in levers.sales_rules:
        if rule.city is not None and (rule.segment not in regional or rule.city not in region_index):
            raise ValueError(f"sales rule for {rule.segment} in {rule.city}: the segment is not run by region")
    rules = [
        SalesRule(r.segment, r.group, r.kind, r.share, r.start, None if r.city is None else region_index[r.city])
        for r in levers.sales_rules
    ]
    programmes = [
        ScrappageProgramme(p.segment, tuple(p.powertrains), p.max_vintage, p.start, p.end)
        for p in levers.scrappage_programmes
    ]
    chargers = year_path(levers.chargers, years)[None, :]
    return inputs, rules, programmes, chargers, m, base_flows


def _regional_inputs(
    seg: SegmentInputs, shares: np.ndarray, members: int, choice: np.ndarray | None = None
) -> SegmentInputs:
    """`seg` as one stock per region: region r holds shares[:, 0, r] of the base stock and shares[:, t, r] of the
    demand in year t (shares (M|1, Y, R), summing to 1 over R); rows member-major (m * R + r). `choice`: the
    regions' own powertrain shares of sales (M x R, Y, P), else the segment's for every region."""
    if seg.demand is None:
        raise ValueError(f"segment {seg.name}: only a stock-driven segment can be run by region")
    regions = shares.shape[2]
    shares = np.broadcast_to(shares, (members, *shares.shape[1:]))  # (M, Y, R)
    stock = np.asarray(seg.base_stock)[:1] * shares[:, 0, :, None, None]  # (M, R, P, A)
    demand = np.asarray(seg.demand)[:, None, :] * shares.transpose(0, 2, 1)  # (M, R, Y)
    per_member = {
        "log_survival": seg.log_survival,
        "shares": seg.shares,
        "vkt_new_km": np.broadcast_to(seg.vkt_new_km, (members, np.shape(seg.vkt_new_km)[-1])),
        "intensity_mj_km": seg.intensity_mj_km,
        "phev_electric_mj_km": np.atleast_1d(seg.phev_electric_mj_km),
        "phev_utility_factor": np.atleast_1d(seg.phev_utility_factor),
    }
    extra: dict[str, Any] = {name: _by_region(value, regions) for name, value in per_member.items()}
    if choice is not None:
        extra["shares"] = choice
    if seg.base_km is not None:
        extra["base_km"] = _by_region(seg.base_km, regions)
    if isinstance(seg.km_sigma, np.ndarray):
        extra["km_sigma"] = _by_region(seg.km_sigma, regions)
    return replace(
        seg,
        base_stock=stock.reshape(members * regions, *stock.shape[2:]),
        demand=demand.reshape(members * regions, -1),
        regions=regions,
        **extra,
    )
