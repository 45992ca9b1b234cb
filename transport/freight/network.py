"""The multimodal network of a year (links open, rail spurs, capacities) and its generalized-cost prices."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np
import polars as pl

from networks.graph import ATTRS, MultimodalGraph, build_multimodal_graph
from networks.osm import OPEN_FOREVER, haversine_km
from transport.errors import DatasetError
from transport.freight.data import FreightData
from transport.freight.names import COMMODITIES, MODES, PINGLU_CANAL, T_PER_TEU
from transport.levers.base import year_path
from transport.levers.freight import FreightLevers
from transport.result_tables import ANALYSIS_COLUMNS

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


@dataclass(frozen=True)
class RunLinks:
    """The links of a run's network, one per `link_id`, and how the graph's link elements (every segment, each
    direction) add up to them. The graph's first elements are the rows of `_year_tables`' link table, in order, the
    same every year (a link not yet open keeps its rows), so one index serves every year of the run."""

    table: pl.DataFrame  # the `links` result table without run_id (transport.result_tables.ANALYSIS_COLUMNS)
    element_link: np.ndarray  # (link elements,) row of `table` each link element belongs to
    weight: np.ndarray  # (link elements,) element km / the link's length: tonnes on the link = weighted sum


def _wkt_number(value: float) -> str:
    return f"{value:.7f}".rstrip("0").rstrip(".")


def _chain(pairs: list[tuple[int, int]]) -> list[int]:
    """Nodes of a way in path order from its segments (first-seen orientation); in first-seen order if the segments
    do not form one path."""
    if len(pairs) == 1:
        return list(pairs[0])
    neighbours: dict[int, list[int]] = {}
    for a, b in pairs:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    ends = [n for n, near in neighbours.items() if len(near) == 1]
    if len(ends) != 2 or any(len(near) > 2 for near in neighbours.values()):
        return list(dict.fromkeys(n for pair in pairs for n in pair))
    path, previous = [pairs[0][0] if pairs[0][0] in ends else ends[0]], -1
    while len(path) < len(neighbours):
        step = next(n for n in neighbours[path[-1]] if n != previous)
        previous = path[-1]
        path.append(step)
    return path


def run_links(data: FreightData, levers: FreightLevers, places_km: float = 1.0) -> RunLinks:
    """One row per link of the run's network: the dataset's ways (by their `link_id`; a way without one, as in a real
    OSM extract, by `osm_way_<id>`) and the scenario's `new_links` (ids `new_links[i]`), with their mode, name, ends,
    length, opening year under the levers (the canal's from its lever) and a WKT LINESTRING in EPSG:4326.

    Ends: the place of freight/places.csv within `places_km` of the end node (the shipped network's nodes are its
    places), '' if none; a new link names its lever's places. Geometry: straight segments between the way's nodes, at
    the places' coordinates where a node is a place (the shipped ways have two nodes: a straight line between two
    places). length_km and inside_km: one direction of the way (flows on a two-way way are both directions summed).
    """
    nodes, links, _ = _year_tables(data, levers, data.base_year)
    node_xy = dict(zip(nodes["node"], zip(nodes["lon"], nodes["lat"], strict=True), strict=True))
    place_names = data.places["place"].to_list()
    place_xy = dict(zip(place_names, zip(data.places["lon"], data.places["lat"], strict=True), strict=True))
    lon_all, lat_all = data.places["lon"].to_numpy(), data.places["lat"].to_numpy()

    def place_of(node: int) -> str:
        km = haversine_km(node_xy[node][0], node_xy[node][1], lon_all, lat_all)
        return place_names[int(np.argmin(km))] if km.size and km.min() <= places_km else ""

    ids = [lid or f"osm_way_{way}" for lid, way in zip(links["link_id"], links["osm_way"], strict=True)]
    order = list(dict.fromkeys(ids))
    row_of = {lid: i for i, lid in enumerate(order)}
    element_link = np.array([row_of[lid] for lid in ids], dtype=np.int64)
    length = links["length_km"].to_numpy().astype(float)
    inside = links["inside_km"].to_numpy().astype(float)
    src, dst = links["from_node"].to_numpy(), links["to_node"].to_numpy()
    open_year = links["open_year"].to_numpy()
    new_places = {f"new_links[{i}]": (k.from_place, k.to_place) for i, k in enumerate(levers.new_links)}
    rows = []
    link_km = np.zeros(len(order))
    segments = np.zeros(len(order))
    by_link = np.split(np.argsort(element_link, kind="stable"), np.cumsum(np.bincount(element_link))[:-1])
    for r, (lid, mine) in enumerate(zip(order, by_link, strict=True)):
        pairs: dict[frozenset[int], tuple[int, int]] = {}
        km = inside_km = 0.0
        for e in mine:  # each segment once (a two-way way has each of them in both directions)
            key = frozenset((int(src[e]), int(dst[e])))
            if key not in pairs:
                pairs[key] = (int(src[e]), int(dst[e]))
                km, inside_km = km + length[e], inside_km + inside[e]
        path = _chain(list(pairs.values()))
        named = [place_of(n) for n in path]
        if lid in new_places:
            named[0], named[-1] = new_places[lid]
        points = [place_xy[name] if name else node_xy[n] for n, name in zip(path, named, strict=True)]
        wkt = "LINESTRING (" + ", ".join(f"{_wkt_number(x)} {_wkt_number(y)}" for x, y in points) + ")"
        first = int(mine[0])
        layer, name = str(links["layer"][first]), str(links["name"][first])
        rows.append((lid, layer, name, named[0], named[-1], km, inside_km, int(open_year[mine].min()), wkt))
        link_km[r], segments[r] = km, len(pairs)
    total = link_km[element_link]
    weight = np.where(total > 0, length / np.where(total > 0, total, 1.0), 1.0 / segments[element_link])
    table = pl.DataFrame(rows, schema=pl.Schema(ANALYSIS_COLUMNS["links"]), orient="row")
    return RunLinks(table, element_link, weight)


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
    """Element cost per commodity (C, E) of the first member (the routing member), for routing; never negative.

    One member's costs, not the members' mean: the routes of a member computed beside others then do not depend on
    which others they are (transport.freight.model.freight_arrays routes every member by the central estimate's)."""
    coef = prices.coef[0]  # (C, K)
    cost = coef @ graph.attrs.T  # (C, E)
    gm = graph.group_matrix()
    cost = cost + (gm @ penalty[: gm.shape[1], 0])[None, :]
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


def city_zones(data: FreightData) -> list[str]:
    """The zones of kind `city` (the prefecture cities), in zones.csv order: the city axis of the per-zone arrays."""
    return data.zones.filter(pl.col("kind") == "city")["zone"].to_list()


def road_link_zone_weights(data: FreightData, links: RunLinks) -> np.ndarray:
    """(links, city zones): the share of each road link's in-Guangxi km that lies in each prefecture.

    Without prefecture boundaries in the freight data, a link's in-Guangxi km go half to the city whose seat is
    nearest each end of its geometry (a Voronoi split of the province around the 14 seats); an end outside Guangxi
    gives its half to the nearest city seat, the border prefecture the link crosses into. Links of other modes: 0."""
    zones = city_zones(data)
    xy = np.array([_place_xy(data, str(p)) for p in data.zones.filter(pl.col("kind") == "city")["place"]])
    weights = np.zeros((links.table.height, len(zones)))
    for row, (mode, wkt) in enumerate(zip(links.table["mode"], links.table["geometry"], strict=True)):
        if mode != "road":
            continue
        points = [tuple(float(v) for v in pair.split()) for pair in wkt[wkt.index("(") + 1 : -1].split(",")]
        for lon, lat in (points[0], points[-1]):
            km = haversine_km(np.array([lon]), np.array([lat]), xy[:, 0], xy[:, 1])
            weights[row, int(np.argmin(km))] += 0.5
    return weights


def city_route_km(data: FreightData, links: RunLinks) -> np.ndarray:
    """(Zc, Zc, Zc): the km inside each prefecture (last axis) of the shortest road route between two city zones
    (axes 0, 1; zones.csv order), on the road links open in the base year; each link's in-Guangxi km split as in
    road_link_zone_weights. Pairs without a road route: 0."""
    zones = city_zones(data)
    place_of = dict(zip(data.zones["zone"], data.zones["place"], strict=True))
    weights = road_link_zone_weights(data, links)
    table = links.table.with_row_index("row").filter(
        (pl.col("mode") == "road") & (pl.col("open_year") <= data.base_year)
    )
    graph = nx.Graph()
    for row, a, b, km in table.select("row", "from_place", "to_place", "length_km").iter_rows():
        if not graph.has_edge(a, b) or graph[a][b]["km"] > km:
            graph.add_edge(a, b, km=km, row=row)
    inside = links.table["inside_km"].to_numpy()
    out = np.zeros((len(zones), len(zones), len(zones)))
    for i, origin in enumerate(zones):
        if place_of[origin] not in graph:
            continue
        paths = nx.single_source_dijkstra_path(graph, place_of[origin], weight="km")
        for j, destination in enumerate(zones):
            path = paths.get(place_of[destination])
            if i == j or path is None:
                continue
            rows = [graph[a][b]["row"] for a, b in itertools.pairwise(path)]
            out[i, j] = (inside[rows, None] * weights[rows]).sum(axis=0)
    return out
