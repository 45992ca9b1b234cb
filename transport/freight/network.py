"""The multimodal network of a year (links open, rail spurs, capacities) and its generalized-cost prices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from networks.graph import ATTRS, MultimodalGraph, build_multimodal_graph
from networks.osm import OPEN_FOREVER
from transport.errors import DatasetError
from transport.freight.data import FreightData
from transport.freight.names import COMMODITIES, MODES, PINGLU_CANAL, T_PER_TEU
from transport.levers.base import year_path
from transport.levers.freight import FreightLevers

# --- network


def _place_xy(data: FreightData, place: str) -> tuple[float, float]:
    row = data.places.filter(pl.col("place") == place).row(0, named=True)
    return row["lon"], row["lat"]


def _year_tables(
    data: FreightData, levers: FreightLevers, year: int
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Nodes, links and terminals of `year` under the levers (canal year, new links, spurs)."""
    nodes, links = data.nodes, data.links
    links = links.with_columns(
        pl.when(pl.col("link_id") == PINGLU_CANAL)
        .then(pl.lit(levers.pinglu_canal_open_year, dtype=pl.Int64))
        .otherwise(pl.col("open_year"))
        .alias("open_year")
    )
    if levers.new_links:
        from networks.osm import snap_points

        node_rows, link_rows = [], []
        n = nodes.height
        speed = dict(zip(data.modes["mode"], data.modes["speed_kmh"], strict=True))
        for i, link in enumerate(levers.new_links):
            ends = []
            for place in (link.from_place, link.to_place):
                if place not in set(data.places["place"].to_list()):
                    raise DatasetError("levers.freight.new_links", "place", place, "a place of freight/places.csv")
                lon, lat = _place_xy(data, place)
                node, km = snap_points(nodes, np.array([lon]), np.array([lat]), link.layer)
                if node[0] < 0 or km[0] > 1.0:  # the layer has no node at this place yet: add one
                    node_rows.append((n, link.layer, -1, lon, lat))
                    ends.append(n)
                    n += 1
                    nodes = pl.concat([nodes, pl.DataFrame([node_rows[-1]], schema=nodes.schema, orient="row")])
                else:
                    ends.append(int(node[0]))
            for a, b in ((ends[0], ends[1]), (ends[1], ends[0])):
                link_rows.append(
                    (
                        link.layer,
                        a,
                        b,
                        link.distance_km,
                        link.distance_km,
                        speed[link.layer],
                        link.open_year,
                        OPEN_FOREVER,
                        link.name or f"{link.from_place}-{link.to_place}",
                        -1,
                        f"new_links[{i}]",  # its own id: never one of the dataset's (no lever can move it)
                    )
                )
        links = pl.concat([links, pl.DataFrame(link_rows, schema=links.schema, orient="row")])
    terminals = data.terminals
    xy = {p: _place_xy(data, p) for p in set(terminals["place"].to_list())}
    saved = {t: 0.0 for t in terminals["terminal"].to_list()}
    for spur in levers.rail_spurs:
        if spur.terminal not in saved:
            raise DatasetError("levers.freight.rail_spurs", "terminal", spur.terminal, "a terminal of terminals.csv")
        if spur.year <= year:
            saved[spur.terminal] += spur.drayage_km_saved
    terminals = terminals.with_columns(
        pl.col("place").replace_strict({p: v[0] for p, v in xy.items()}).alias("lon"),
        pl.col("place").replace_strict({p: v[1] for p, v in xy.items()}).alias("lat"),
        (pl.col("drayage_km") - pl.col("terminal").replace_strict(saved, return_dtype=pl.Float64))
        .clip(0.0)
        .alias("drayage_km"),
    )
    return nodes, links, terminals


def _zone_table(data: FreightData) -> pl.DataFrame:
    xy = {p: _place_xy(data, p) for p in data.zones["place"].to_list()}
    return data.zones.with_columns(
        pl.col("place").replace_strict({p: v[0] for p, v in xy.items()}).alias("lon"),
        pl.col("place").replace_strict({p: v[1] for p, v in xy.items()}).alias("lat"),
    )


def year_graph(data: FreightData, levers: FreightLevers, year: int) -> MultimodalGraph:
    """The multimodal graph of `year` (cached per distinct network state)."""
    nodes, links, terminals = _year_tables(data, levers, year)
    open_key = (
        tuple((links["open_year"] <= year) & (links["close_year"] > year)),
        tuple(terminals["drayage_km"].to_list()),
        links.height,
    )
    key = f"graph:{hash(open_key)}"
    if key not in data.cache:
        cap = data.capacity
        link_groups = dict(
            zip(
                cap.filter(pl.col("kind") == "link")["match"],
                cap.filter(pl.col("kind") == "link")["group"],
                strict=True,
            )
        )
        term_map = dict(
            zip(
                cap.filter(pl.col("kind") == "terminal")["match"],
                cap.filter(pl.col("kind") == "terminal")["group"],
                strict=True,
            )
        )
        # terminal capacity groups are keyed by the terminal's capacity_group column ('+' joins several)
        terminal_groups = {
            t: tuple(term_map[g] for g in groups.split("+") if g in term_map)
            for t, groups in zip(terminals["terminal"], terminals["capacity_group"], strict=True)
            if any(g in term_map for g in groups.split("+"))
        }
        data.cache[key] = build_multimodal_graph(
            nodes, links, terminals, _zone_table(data), year, link_groups=link_groups, terminal_groups=terminal_groups
        )
    return data.cache[key]  # type: ignore[return-value]


# --- costs


@dataclass
class YearPrices:
    """Coefficients of the element attributes per member and commodity (yuan/t per unit attribute)."""

    coef: np.ndarray  # (M, C, K)
    railsea_subsidy_yuan_t: np.ndarray  # (M,) per tonne of containers crossing a rail<->sea transfer


def year_prices(
    data: FreightData, levers: FreightLevers, params: Mapping[str, np.ndarray], year: int, members: int
) -> YearPrices:
    """Generalized-cost coefficients: tariff per km, value of time per hour, handling, tolls, carbon."""
    m = {r["mode"]: r for r in data.modes.iter_rows(named=True)}
    carbon = float(year_path(levers.carbon_price_yuan_t, np.array([year]))[0])
    rail_change = float(year_path(levers.rail_tariff_change, np.array([year]))[0])
    toll_change = float(year_path(levers.road_toll_change, np.array([year]))[0])
    rail_factor = (
        np.asarray(params["freight_rail_tariff_factor"], dtype=float) if year > data.base_year else np.ones(members)
    )
    coef = np.zeros((members, len(COMMODITIES), len(ATTRS)))
    for mode in MODES:
        per_km = m[mode]["tariff_yuan_tkm"] + carbon * m[mode]["co2_kg_tkm"] / 1000.0
        factor = rail_factor * (1.0 + rail_change) if mode == "rail" else np.ones(members)
        coef[:, :, ATTRS.index(f"{mode}_km")] = (per_km * factor)[:, None] if mode == "rail" else per_km
        if mode == "rail":
            coef[:, :, ATTRS.index("rail_km")] = (
                m["rail"]["tariff_yuan_tkm"] * factor + carbon * m["rail"]["co2_kg_tkm"] / 1000.0
            )[:, None]
    coef[:, :, ATTRS.index("hours")] = data.commodities["vot_yuan_t_h"].to_numpy()[None, :]
    coef[:, :, ATTRS.index("handling_yuan_t")] = 1.0
    coef[:, :, ATTRS.index("toll_km")] = m["road"]["toll_yuan_tkm"] * (1.0 + toll_change)
    subsidy = float(year_path(levers.intermodal_subsidy_yuan_teu, np.array([year]))[0]) / T_PER_TEU
    return YearPrices(coef, np.full(members, subsidy))


def _element_cost(graph: MultimodalGraph, prices: YearPrices, penalty: np.ndarray) -> np.ndarray:
    """Member-mean element cost per commodity (C, E) for routing; never negative."""
    coef = prices.coef.mean(axis=0)  # (C, K)
    cost = coef @ graph.attrs.T  # (C, E)
    gm = graph.group_matrix()
    cost = cost + (gm @ penalty[: gm.shape[1]].mean(axis=1))[None, :]
    return np.maximum(cost, 0.0)


def built_capacity(data: FreightData, group: str, year: int) -> float:
    """Capacity of a group in `year` as built (capacity_built.csv interpolated, held after its last row; the 2020
    value before its first), Mt/yr, before scenario expansions."""
    rows = data.capacity_built.filter(pl.col("group") == group).sort("year")
    base = float(data.capacity.filter(pl.col("group") == group)["capacity_mt_2020"][0])
    if rows.height == 0 or year < int(rows["year"][0]):
        return base
    return float(np.interp(year, rows["year"].to_numpy(), rows["capacity_mt"].to_numpy()))


def _capacity(
    data: FreightData, graph: MultimodalGraph, levers: FreightLevers, year: int
) -> tuple[np.ndarray, np.ndarray]:
    """Capacity (Mt/yr) and congestion cost scale (yuan/t) of the graph's groups in `year`: as built plus the
    scenario's expansions in force."""
    cap = {r["group"]: r["cost_scale_yuan_t"] for r in data.capacity.iter_rows(named=True)}
    added = {g: 0.0 for g in cap}
    for exp in levers.capacity_expansions:
        if exp.group not in cap:
            raise DatasetError("levers.freight.capacity_expansions", "group", exp.group, f"one of {sorted(cap)}")
        if exp.year <= year:
            added[exp.group] += exp.added_mt
    capacity = np.array([built_capacity(data, g, year) + added[g] for g in graph.groups])
    scale = np.array([cap[g] for g in graph.groups])
    return capacity.reshape(-1), scale.reshape(-1)
