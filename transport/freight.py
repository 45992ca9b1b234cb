"""Freight adapter: Guangxi freight demand (gravity + balancing + growth), mode-chain choice and capacity per year.

Data flow per simulated year:
1. network of the year: the shipped trunk OSM XML (or any OSM extract) through `networks.osm.load_osm_layers`, with
   the year's links open (Pinglu Canal, scenario links), terminals (rail spurs cut drayage) and capacities;
2. demand: base-year OD tonnes by commodity (gravity model on the base-year least generalized cost, balanced to the
   provincial road tonnes and tkm and to Beibu Gulf port throughput by commodity) grown with GDP elasticities;
3. per OD and commodity, the least-cost path of each mode chain (`networks.graph.chain_paths`), a multinomial logit
   over chains (members vectorised), and capacity restraint by MSA (`networks.assign.msa_assign`);
4. outputs: tonnes and tkm by mode and commodity, rail-sea TEU by sea port, truck vehicle-km by class.

Calibration: the base year (2020) is calibrated per member by fixed-point iteration: alternative-specific constants
and a log-distance term per inland mode (rail, inland water) match tonnes and tkm, a rail-sea constant matches the
rail-sea TEU, and the demand balancing factors match road tonnes, road tkm and port throughput (README "Calibration").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from scipy.sparse import csr_array, vstack

from networks.assign import congestion_penalty, msa_assign
from networks.choice import grouped_logit_split
from networks.graph import ATTRS, DEFAULT_CHAINS, ChainSpec, MultimodalGraph, build_multimodal_graph, chain_paths
from networks.osm import OPEN_FOREVER, load_osm_layers, write_osm_xml
from transport.errors import DatasetError
from transport.levers.base import year_path
from transport.levers.freight import UNCERTAIN, FreightLevers
from transport.tables import Column, TableSpec, label_series, read_table

COMMODITIES = ("containers", "coal", "metal_ores", "minerals_building", "agriculture", "manufactured", "other")
MODES = ("road", "rail", "inland_water", "sea")
LAYER_SET = frozenset(MODES)
PORTS = {"qinzhou": "QinzhouPort", "fangchenggang": "FangchenggangPort", "beihai": "TieshanPort"}
TRUCK_CLASSES = ("light_van", "medium_truck", "heavy_truck")
# Port-specific sea chains: the choice of sea port is part of the logit (smooth in cost, so MSA converges), not an
# all-or-nothing shortest path that would send a whole commodity through one port.
_PORT_WORDS = {"qinzhou": "Qinzhou", "fangchenggang": "Fangchenggang", "beihai": "Tieshan", "guangzhou": "Guangzhou"}
CHAINS: tuple[ChainSpec, ...] = (
    *[c for c in DEFAULT_CHAINS if "sea" not in c.states],
    *[ChainSpec(f"road_sea:{p}", ("road", "sea"), w) for p, w in _PORT_WORDS.items()],
    *[ChainSpec(f"rail_sea:{p}", ("road", "rail", "sea"), w) for p, w in _PORT_WORDS.items() if p != "guangzhou"],
    *[
        ChainSpec(f"water_sea:{p}", ("road", "inland_water", "sea"), w)
        for p, w in _PORT_WORDS.items()
        if p in ("qinzhou", "guangzhou")
    ],
    *[ChainSpec(f"coastal:{p}", ("road", "sea", "road"), w) for p, w in _PORT_WORDS.items() if p != "guangzhou"],
)
CHAIN_NAMES = tuple(c.name for c in CHAINS)
BASE_YEAR = 2020
# Cost sensitivity of the chain logit, per yuan/t (assumption: a 50 yuan/t cost advantage ~ e^1 odds; README).
THETA_PER_YUAN_T = 0.02
# Gravity deterrence per yuan/t of least generalized cost (assumption; with beta_factor per commodity; README).
GRAVITY_BETA_PER_YUAN = 0.008
# Coastal shipping Beibu Gulf <-> Guangdong for Guangxi cargo is rare next to the Xijiang and road routes; the
# constant keeps it small (assumption: -2, i.e. e^-2 = 0.14 of the odds at equal cost; range -3..-1; README).
COASTAL_ASC = -2.0
T_PER_TEU = 10.0  # tonnes of cargo per TEU incl. empties (assumption 8-13; README "Rail-sea TEU")
TRUNK_OSM = "trunk_network.osm"
CALIBRATION_ACCEPT = 0.01  # every base-year target within 1% after the capacity-restrained assignment

_ZONES = TableSpec(
    "zones",
    (
        Column("zone", "str"),
        Column("place", "str"),
        Column(
            "kind",
            "str",
            allowed=frozenset({"city", "inland_gateway", "coastal_gateway", "border_gateway", "sea_gateway"}),
        ),
        Column("access_layer", "str", allowed=LAYER_SET),
        Column("mass_bn_yuan", "float", "bn yuan", min=0.0),
        Column("intrazonal_km", "float", "km", min=0.0, max=500.0),
    ),
    key=("zone",),
)
_PLACES = TableSpec(
    "places",
    (
        Column("place", "str"),
        Column("lon", min=-180, max=180),
        Column("lat", min=-90, max=90),
        Column("in_guangxi", "int", min=0, max=1),
    ),
    key=("place",),
)
_WAYS = TableSpec(
    "trunk_ways",
    (
        Column("layer", "str", allowed=LAYER_SET),
        Column("from", "str"),
        Column("to", "str"),
        Column("distance_km", "float", "km", min=0.1, max=5000),
        Column("inside_km", "float", "km", min=0.0, max=5000),
        Column("name", "str"),
        Column("start_year", "int", min=0, max=2100),
    ),
    key=("layer", "from", "to"),
)
_TERMINALS = TableSpec(
    "terminals",
    (
        Column("terminal", "str"),
        Column("place", "str"),
        Column("layer_a", "str", allowed=LAYER_SET),
        Column("layer_b", "str", allowed=LAYER_SET),
        Column("handling_yuan_t", "float", "yuan/t", min=0, max=500),
        Column("dwell_h", "float", "h", min=0, max=500),
        Column("drayage_km", "float", "km", min=0, max=200),
        Column("capacity_group", "str"),
    ),
    key=("terminal", "layer_a", "layer_b"),
    optional_columns=frozenset(),
)
_COMMODITIES = TableSpec(
    "commodities",
    (
        Column("commodity", "str", allowed=frozenset(COMMODITIES)),
        Column("land_share", "float", "1", min=0, max=1),
        Column("port_mt_2020", "float", "Mt", min=0),
        Column("vot_yuan_t_h", "float", "yuan/t/h", min=0),
        Column("beta_factor", "float", "1", min=0.01, max=10),
        Column("gdp_elasticity", "float", "1", min=-2, max=3),
        Column("gdp_elasticity_2020", "float", "1", min=-2, max=6),
        Column("elasticity_half_life_yr", "float", "yr", min=0.5, max=100),
    ),
    key=("commodity",),
    shares=("land_share", ()),
)
_ZONE_COMMODITY = TableSpec(
    "zone_commodity",
    (
        Column("zone", "str"),
        Column("commodity", "str", allowed=frozenset(COMMODITIES)),
        Column("production_factor", "float", "1", min=0, max=100),
        Column("attraction_factor", "float", "1", min=0, max=100),
    ),
    key=("zone", "commodity"),
)
_MODES = TableSpec(
    "modes",
    (
        Column("mode", "str", allowed=LAYER_SET),
        Column("tariff_yuan_tkm", "float", "yuan/tkm", min=0, max=5),
        Column("toll_yuan_tkm", "float", "yuan/tkm", min=0, max=5),
        Column("speed_kmh", "float", "km/h", min=1, max=200),
        Column("co2_kg_tkm", "float", "kg/tkm", min=0, max=1),
    ),
    key=("mode",),
)
_CAPACITY = TableSpec(
    "capacity",
    (
        Column("group", "str"),
        Column("match", "str"),
        Column("kind", "str", allowed=frozenset({"link", "terminal"})),
        Column("capacity_mt_2020", "float", "Mt/yr", min=0.001),
        Column("cost_scale_yuan_t", "float", "yuan/t", min=0),
    ),
    key=("group",),
)
_TARGETS = TableSpec(
    "targets", (Column("target", "str"), Column("value", min=0), Column("unit", "str")), key=("target",)
)
_GDP = TableSpec("gdp", (Column("year", "int", min=2000, max=2100), Column("growth", min=-0.2, max=0.3)), key=("year",))
_TRUCKS = TableSpec(
    "trucks",
    (
        Column("truck_class", "str", allowed=frozenset(TRUCK_CLASSES)),
        Column("tkm_share", "float", "1", min=0, max=1),
        Column("payload_t", "float", "t", min=0.1, max=60),
        Column("load_factor_2020", "float", "1", min=0.05, max=1),
    ),
    key=("truck_class",),
    shares=("tkm_share", ()),
)
TARGET_NAMES = ("road_t", "road_tkm", "rail_t", "rail_tkm", "inland_water_t", "inland_water_tkm", "railsea_teu")


@dataclass
class Calibration:
    """Calibrated base-year quantities (central member) and the residuals of every target."""

    land_total_mt: float
    beta_per_yuan: float
    intra_factor: float
    sea_total_mt: np.ndarray  # (C,)
    asc: np.ndarray  # (M, n_params): rail, water, railsea, log-km rail, log-km water
    residuals: dict[str, float]
    iterations: int
    msa_gap: float


@dataclass
class FreightData:
    """Freight tables of a dataset folder, the network tables read from its OSM file, and the base calibration."""

    folder: Path
    places: pl.DataFrame
    zones: pl.DataFrame
    terminals: pl.DataFrame
    commodities: pl.DataFrame
    zone_commodity: pl.DataFrame
    modes: pl.DataFrame
    capacity: pl.DataFrame
    targets: dict[str, float]
    gdp: pl.DataFrame
    trucks: pl.DataFrame
    nodes: pl.DataFrame
    links: pl.DataFrame
    calibration: Calibration | None = None
    cache: dict[str, object] = field(default_factory=dict)

    def __getstate__(self) -> dict[str, object]:
        # Graphs and routes are rebuilt on demand and keyed by id(): worthless in another process, and hundreds of
        # MB after a long run. Only the calibration's base costs travel to worker processes.
        state = dict(self.__dict__)
        state["cache"] = {k: v for k, v in self.cache.items() if not k.startswith(("routes:", "graph:"))}
        return state


@dataclass
class FreightResult:
    """Result frames in the contract's columns and the truck hand-off to fleets."""

    freight: pl.DataFrame
    railsea: pl.DataFrame
    truck_vkt_bn: dict[str, np.ndarray]
    msa_gap: np.ndarray  # (years,) relative gap at the end of each year's MSA
    port_t: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (M, years, C) Beibu Gulf throughput, Mt


# --- loading


def author_trunk_osm(folder: Path, out: Path) -> None:
    """Write the trunk-network OSM XML from places.csv and trunk_ways.csv (how the shipped file was authored)."""
    places = read_table(folder / "places.csv", _PLACES)
    ways = read_table(folder / "trunk_ways.csv", _WAYS)
    ids = {p: -(i + 1) for i, p in enumerate(places["place"].to_list())}
    nodes = [
        (ids[r["place"]], r["lon"], r["lat"], {"name": r["place"], "place": "city"})
        for r in places.iter_rows(named=True)
    ]
    tag_of = {"road": ("highway", "motorway"), "rail": ("railway", "rail"), "inland_water": ("waterway", "river")}
    out_ways = []
    for i, r in enumerate(ways.iter_rows(named=True)):
        for end in ("from", "to"):
            if r[end] not in ids:
                raise DatasetError(folder / "trunk_ways.csv", f"{end} (row {i + 2})", r[end], "a place of places.csv")
        key, value = tag_of.get(r["layer"], ("waterway", "fairway"))
        if r["name"] == "Pinglu Canal":
            value = "canal"
        tags = {key: value, "name": r["name"], "distance": f"{r['distance_km']:g}", "inside_km": f"{r['inside_km']:g}"}
        if r["start_year"] > 0:
            tags["start_date"] = str(r["start_year"])
        if r["layer"] == "rail":
            tags["usage"] = "main"
        out_ways.append((-(i + 1), [ids[r["from"]], ids[r["to"]]], tags))
    write_osm_xml(out, nodes, out_ways)


def load_freight_data(folder: Path, *, calibrate: bool = True) -> FreightData:
    """Read and check the freight tables of a dataset folder (e.g. transport/data/guangxi) and calibrate 2020."""
    base = Path(folder) / "freight"
    places = read_table(base / "places.csv", _PLACES)
    known = set(places["place"].to_list())
    zones = read_table(base / "zones.csv", _ZONES, allowed={"place": known})
    terminals = read_table(base / "terminals.csv", _TERMINALS, allowed={"place": known})
    commodities = read_table(base / "commodities.csv", _COMMODITIES)
    if sorted(commodities["commodity"].to_list()) != sorted(COMMODITIES):
        raise DatasetError(
            base / "commodities.csv", "commodity", commodities["commodity"].to_list(), f"all of {COMMODITIES}"
        )
    commodities = commodities.sort(pl.col("commodity").replace_strict({c: i for i, c in enumerate(COMMODITIES)}))
    zone_commodity = read_table(base / "zone_commodity.csv", _ZONE_COMMODITY, allowed={"zone": zones["zone"].to_list()})
    modes = read_table(base / "modes.csv", _MODES)
    capacity = read_table(base / "capacity.csv", _CAPACITY)
    targets_df = read_table(base / "targets.csv", _TARGETS, allowed={"target": TARGET_NAMES})
    targets = dict(zip(targets_df["target"].to_list(), targets_df["value"].to_list(), strict=True))
    for name in TARGET_NAMES:
        if name not in targets:
            raise DatasetError(base / "targets.csv", "target", name, "a row for every calibration target")
    gdp = read_table(base / "gdp.csv", _GDP)
    trucks = read_table(base / "trucks.csv", _TRUCKS)
    osm = base / TRUNK_OSM
    if not osm.is_file():
        raise DatasetError(osm, "file", str(osm), "the trunk network as OSM XML")
    nodes, links = load_osm_layers(osm, default_speed_kmh=dict(zip(modes["mode"], modes["speed_kmh"], strict=True)))
    data = FreightData(
        base, places, zones, terminals, commodities, zone_commodity, modes, capacity, targets, gdp, trucks, nodes, links
    )
    if calibrate:
        data.calibration = calibrate_base_year(data, _central_params(), members=1)
    return data


def _central_params(members: int = 1) -> dict[str, np.ndarray]:
    return {name: np.full(members, spec.default) for name, spec in UNCERTAIN.items()}


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
        pl.when(pl.col("name") == "Pinglu Canal")
        .then(pl.lit(levers.pinglu_canal_open_year, dtype=pl.Int64))
        .otherwise(pl.col("open_year"))
        .alias("open_year")
    )
    if levers.new_links:
        from networks.osm import snap_points

        node_rows, link_rows = [], []
        n = nodes.height
        speed = dict(zip(data.modes["mode"], data.modes["speed_kmh"], strict=True))
        for link in levers.new_links:
            ends = []
            for place in (link.from_place, link.to_place):
                if place not in set(data.places["place"].to_list()):
                    raise DatasetError("levers.freight.new_links", "place", place, "a place of freight/places.csv")
                lon, lat = _place_xy(data, place)
                node, km = snap_points(nodes, [lon], [lat], link.layer)
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
        # terminal capacity groups are keyed by the terminal's capacity_group column
        terminal_groups = {
            t: term_map[g]
            for t, g in zip(terminals["terminal"], terminals["capacity_group"], strict=True)
            if g in term_map
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
        np.asarray(params["freight_rail_tariff_factor"], dtype=float) if year > BASE_YEAR else np.ones(members)
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


# --- loading


@dataclass
class Routes:
    """Per commodity and chain: the OD x element incidence, OD x attribute sums, OD x group use, feasibility, and the
    member-independent terms every loading reuses (computed once per set of routes)."""

    incidence_t: list[csr_array]  # [c] (E, Z*Z*Kc): element x (OD, chain), columns OD-major
    path_attrs: np.ndarray  # (C, Z*Z, Kc, A)
    group_use: np.ndarray  # (C, Z*Z, Kc, G)
    railsea_use: np.ndarray  # (C, Z*Z, Kc) rail<->sea transfers crossed
    feasible: np.ndarray  # (C, Z*Z, Kc)
    # Loading works on the feasible (commodity, OD, chain) entries only (a fifth of the grid in Guangxi), in
    # (commodity, OD, chain) order, so each commodity's entries and each (commodity, OD)'s alternatives are contiguous.
    entries: np.ndarray = field(init=False)  # (N,) flat index into (C, Z*Z, Kc)
    entry_cod: np.ndarray = field(init=False)  # (N,) flat index into (C, Z*Z): the choice situation of the entry
    choice_start: np.ndarray = field(init=False)  # first entry of each choice situation with a feasible chain
    commodity_bounds: np.ndarray = field(init=False)  # (C + 1,) entries of commodity c: [b[c], b[c + 1])
    entry_incidence_t: list[csr_array] = field(init=False)  # [c] (E, entries of c)
    mode_use: np.ndarray = field(init=False)  # (N, 4) 1 where the path uses the mode inside the model
    # (N, A + G + 7) per feasible entry: path attributes, group use, rail-sea transfers (containers), the indicators
    # of the 3 constants (rail, inland water, rail-sea containers), log(1 + rail km/100), log(1 + water km/100),
    # coastal constant; the member weights of these terms, in the same order, are built in entry_utility
    features: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        n_c, n_od, n_k, n_a = self.path_attrs.shape
        self.entries = np.flatnonzero(self.feasible.reshape(-1))
        self.entry_cod = self.entries // n_k
        self.choice_start = np.flatnonzero(np.r_[True, self.entry_cod[1:] != self.entry_cod[:-1]])
        self.commodity_bounds = np.searchsorted(self.entries // (n_od * n_k), np.arange(n_c + 1))
        self.entry_incidence_t = [
            csr_array(self.incidence_t[c][:, self.entries[lo:hi] - c * n_od * n_k])
            for c, (lo, hi) in enumerate(zip(self.commodity_bounds[:-1], self.commodity_bounds[1:], strict=True))
        ]
        in_km = self.path_attrs[..., [ATTRS.index(f"{m}_in_km") for m in MODES]]
        self.mode_use = (in_km > 0).astype(float).reshape(-1, len(MODES))[self.entries]
        # Constants: rail (rail and rail-sea chains of every commodity but containers), inland water (chains using
        # the river), rail-sea (rail-sea chains of containers, calibrated to the rail-sea TEU). Splitting rail-sea by
        # commodity identifies rail tonnes and rail-sea TEU separately.
        is_rail = np.array(["rail" in c.states for c in CHAINS], dtype=float)
        is_railsea = np.array([c.name.startswith("rail_sea") for c in CHAINS], dtype=float)
        k_water = np.array(["inland_water" in c.states for c in CHAINS], dtype=float)
        coastal = np.array([c.name.startswith("coastal") for c in CHAINS], dtype=float)
        box = np.array([c == "containers" for c in COMMODITIES], dtype=float)[:, None]  # (C, 1)
        k_rail = is_rail[None, :] * (1.0 - box * is_railsea[None, :])
        per_chain = np.stack([k_rail, np.broadcast_to(k_water, (n_c, n_k)), box * is_railsea])  # (3, C, Kc)
        n_g = self.group_use.shape[-1]
        x = np.empty((n_c, n_od, n_k, n_a + n_g + 7))
        x[..., :n_a] = self.path_attrs
        x[..., n_a : n_a + n_g] = self.group_use
        x[..., n_a + n_g] = self.railsea_use * box[:, :, None]
        x[..., n_a + n_g + 1 : n_a + n_g + 4] = per_chain.transpose(1, 2, 0)[:, None]
        x[..., n_a + n_g + 4] = np.log1p(self.path_attrs[..., ATTRS.index("rail_km")] / 100.0)
        x[..., n_a + n_g + 5] = np.log1p(self.path_attrs[..., ATTRS.index("inland_water_km")] / 100.0)
        x[..., n_a + n_g + 6] = COASTAL_ASC * coastal
        self.features = x.reshape(n_c * n_od * n_k, -1)[self.entries]


def _special_elements(graph: MultimodalGraph) -> dict[str, np.ndarray]:
    """Element masks of rail-sea transfers and of each port's sea transfers (built once per graph: every loading
    reads them)."""
    if "special_elements" not in graph.derived:
        graph.derived["special_elements"] = _build_special_elements(graph)
    return graph.derived["special_elements"]


def _build_special_elements(graph: MultimodalGraph) -> dict[str, np.ndarray]:
    kind = graph.el_layer
    out = {"railsea": np.isin(kind, ["rail>sea", "sea>rail"]) & (graph.el_kind == "transfer")}
    port_places = {"qinzhou": "Qinzhou", "fangchenggang": "Fangchenggang", "beihai": "Tieshan"}
    to_sea = np.char.endswith(kind.astype(str), ">sea") | np.char.startswith(kind.astype(str), "sea>")
    for port, word in port_places.items():
        at = np.char.find(graph.el_name.astype(str), word) >= 0
        out[f"port:{port}"] = to_sea & at & (graph.el_kind == "transfer")
        out[f"railsea:{port}"] = out["railsea"] & at
    return out


def find_routes(graph: MultimodalGraph, element_cost: np.ndarray) -> Routes:
    """Least-cost paths per commodity (element_cost: (C, E)) and chain, with their attribute sums."""
    z = len(graph.zones)
    gm = graph.group_matrix()
    rs = _special_elements(graph)["railsea"].astype(float)
    n_c, n_k = element_cost.shape[0], len(CHAINS)
    attrs = np.zeros((n_c, z * z, n_k, len(ATTRS)))
    groups = np.zeros((n_c, z * z, n_k, gm.shape[1]))
    railsea = np.zeros((n_c, z * z, n_k))
    feasible = np.zeros((n_c, z * z, n_k), dtype=bool)
    incidence_t: list[csr_array] = []
    # row o * Kc + k of the stacked incidence is OD o on chain k (vstack puts chain k's ODs at k * Z*Z + o)
    od_major = (np.arange(z * z)[:, None] + z * z * np.arange(n_k)[None, :]).reshape(-1)
    for c in range(n_c):
        row = []
        for k, chain in enumerate(CHAINS):
            paths = chain_paths(graph, chain, element_cost[c])
            row.append(csr_array(paths.incidence))
            attrs[c, :, k] = paths.incidence @ graph.attrs
            groups[c, :, k] = (
                (paths.incidence @ gm).toarray() if hasattr(paths.incidence @ gm, "toarray") else paths.incidence @ gm
            )
            railsea[c, :, k] = paths.incidence @ rs
            feasible[c, :, k] = np.isfinite(paths.cost).reshape(-1)
        incidence_t.append(csr_array(vstack(row, format="csr")[od_major].T))
    # a chain must use its main mode inside the model (a rail chain with no rail km is the road chain in disguise)
    for k, chain in enumerate(CHAINS):
        for layer in set(chain.states) - {"road"}:
            feasible[:, :, k] &= attrs[:, :, k, ATTRS.index(f"{layer}_km")] > 0
    return Routes(incidence_t, attrs, groups, railsea, feasible)


@dataclass
class Choice:
    """Member-specific choice parameters: logit scale and calibrated constants."""

    theta: np.ndarray  # (M,) per yuan/t
    asc: np.ndarray  # (M, 5): rail, water, railsea, log-km rail, log-km water


def entry_utility(routes: Routes, prices: YearPrices, penalty: np.ndarray, choice: Choice) -> np.ndarray:
    """Utility (N, M) of every feasible (commodity, OD, chain) entry for every member.

    V = calibrated constants (rail, inland water, rail-sea containers) + log-km terms + coastal constant
        - theta x generalized cost (tariffs, time, handling, tolls, congestion penalties, less the rail-sea subsidy).
    Every term is a route feature times a member weight, so V is one BLAS product per commodity of the routes'
    feature matrix (computed once per set of routes) and a small (terms, M) weight matrix."""
    n_a = routes.path_attrs.shape[-1]
    members = prices.coef.shape[0]
    n_g = routes.group_use.shape[-1]
    theta, a = choice.theta, choice.asc
    weights = np.empty((len(COMMODITIES), n_a + n_g + 7, members))
    weights[:, :n_a] = -theta * prices.coef.transpose(1, 2, 0)
    weights[:, n_a : n_a + n_g] = -theta * np.asarray(penalty, dtype=float).reshape(n_g, members)
    weights[:, n_a + n_g] = theta * prices.railsea_subsidy_yuan_t
    weights[:, n_a + n_g + 1 : n_a + n_g + 6] = a.T
    weights[:, n_a + n_g + 6] = 1.0
    util = np.empty((len(routes.entries), members))
    bounds = routes.commodity_bounds
    for c in range(len(COMMODITIES)):
        np.matmul(routes.features[bounds[c] : bounds[c + 1]], weights[c], out=util[bounds[c] : bounds[c + 1]])
    return util


def chain_utility(routes: Routes, prices: YearPrices, penalty: np.ndarray, choice: Choice) -> np.ndarray:
    """Utility (C, OD, Kc, M) on the whole grid, members last; -inf where the chain is infeasible (for inspection
    and tests: loading works on the feasible entries, `entry_utility`)."""
    n_c, n_od, n_k, _ = routes.path_attrs.shape
    members = prices.coef.shape[0]
    util = np.full((n_c * n_od * n_k, members), -np.inf)
    util[routes.entries] = entry_utility(routes, prices, penalty, choice)
    return util.reshape(n_c, n_od, n_k, members)


@dataclass
class Loading:
    """One all-or-nothing-per-chain loading of the network (all members)."""

    group_flow: np.ndarray  # (G, M) Mt
    outputs: dict[str, np.ndarray]


def load_network(
    graph: MultimodalGraph,
    routes: Routes,
    demand: np.ndarray,
    intrazonal: np.ndarray,
    prices: YearPrices,
    penalty: np.ndarray,
    choice: Choice,
) -> Loading:
    """Split demand (M, C, Z*Z) Mt over chains and load the elements: tonnes, tkm, port and rail-sea flows."""
    members, n_c = demand.shape[0], demand.shape[1]
    flow = grouped_logit_split(entry_utility(routes, prices, penalty, choice), routes.choice_start, overwrite=True)
    flow *= demand.reshape(members, -1).T[routes.entry_cod]  # (N, M) Mt
    special = _special_elements(graph)
    gm = graph.group_matrix()
    # tkm by the statistical convention (whole haul of a shipment that touches Guangxi), and road tkm inside Guangxi
    # (what Guangxi's truck fleet drives, handed to fleets)
    # (road and water statistics count carriers' whole hauls; rail statistics count tkm on the region's own lines)
    full_km = np.stack(
        [graph.attrs[:, ATTRS.index(f"{m}_in_km" if m == "rail" else f"{m}_km")] for m in MODES], axis=1
    )  # (E, 4)
    road_in = graph.attrs[:, ATTRS.index("road_in_km")]
    road_tkm_in = np.zeros((members, n_c))
    tkm = np.zeros((members, n_c, len(MODES)))
    tonnes = np.zeros((members, n_c, len(MODES)))
    port = np.zeros((members, n_c, len(PORTS)))
    railsea = np.zeros((members, len(PORTS)))
    group_flow = np.zeros((gm.shape[1], members))
    bounds = routes.commodity_bounds
    for c in range(n_c):
        flow_c = flow[bounds[c] : bounds[c + 1]]  # (entries of c, M)
        el_flow = routes.entry_incidence_t[c] @ flow_c  # (E, M)
        tkm[:, c] = (el_flow.T @ full_km) / 1000.0  # Mt x km -> bn tkm
        road_tkm_in[:, c] = (el_flow.T @ road_in) / 1000.0
        tonnes[:, c] = flow_c.T @ routes.mode_use[bounds[c] : bounds[c + 1]]
        for p, port_name in enumerate(PORTS):
            port[:, c, p] = el_flow[special[f"port:{port_name}"]].sum(axis=0)
            if COMMODITIES[c] == "containers":
                railsea[:, p] = el_flow[special[f"railsea:{port_name}"]].sum(axis=0)
        group_flow += gm.T @ el_flow
    # intrazonal freight: road only, inside the prefecture
    tonnes[:, :, 0] += intrazonal[..., 0].sum(axis=-1)
    tkm[:, :, 0] += intrazonal[..., 1].sum(axis=-1) / 1000.0
    road_tkm_in += intrazonal[..., 1].sum(axis=-1) / 1000.0
    outputs = {
        "tkm": tkm,
        "tonnes": tonnes,
        "port": port,
        "railsea_teu": railsea * 1e6 / T_PER_TEU,
        "road_tkm_in": road_tkm_in,
    }
    return Loading(group_flow, outputs)


def _element_cost(graph: MultimodalGraph, prices: YearPrices, penalty: np.ndarray) -> np.ndarray:
    """Member-mean element cost per commodity (C, E) for routing; never negative."""
    coef = prices.coef.mean(axis=0)  # (C, K)
    cost = coef @ graph.attrs.T  # (C, E)
    gm = graph.group_matrix()
    cost = cost + (gm @ penalty.mean(axis=1))[None, :]
    return np.maximum(cost, 0.0)


def _capacity(
    data: FreightData, graph: MultimodalGraph, levers: FreightLevers, year: int
) -> tuple[np.ndarray, np.ndarray]:
    cap = {r["group"]: (r["capacity_mt_2020"], r["cost_scale_yuan_t"]) for r in data.capacity.iter_rows(named=True)}
    added = {g: 0.0 for g in cap}
    for exp in levers.capacity_expansions:
        if exp.group not in cap:
            raise DatasetError("levers.freight.capacity_expansions", "group", exp.group, f"one of {sorted(cap)}")
        if exp.year <= year:
            added[exp.group] += exp.added_mt
    capacity = np.array([cap[g][0] + added[g] for g in graph.groups]) if graph.groups else np.zeros(0)
    scale = np.array([cap[g][1] for g in graph.groups]) if graph.groups else np.zeros(0)
    return capacity, scale


def assign_year(
    data: FreightData,
    levers: FreightLevers,
    graph: MultimodalGraph,
    prices: YearPrices,
    demand: np.ndarray,
    intrazonal: np.ndarray,
    choice: Choice,
    year: int,
    *,
    max_iter: int = 40,
    tol: float = 5e-3,
    start_penalty: np.ndarray | None = None,
) -> tuple[Loading, float, np.ndarray]:
    """Capacity-restrained assignment of one year by MSA; returns the averaged loading, the gap and the penalties.

    max_iter 40: with 12, the plan scenario's years from 2047 on stopped at gaps of 0.05-0.12 (capacity saturates and
    MSA's 1/k steps are slow), which left late-year results sensitive to rounding and carried a poor start penalty
    into the next year; 40 reaches the 5e-3 gap in every year, and the whole run is faster (2.8 s instead of 7 s for
    the central member) because converged penalties let the next years reuse their routes."""
    capacity, scale = _capacity(data, graph, levers, year)
    members = demand.shape[0]
    start = np.zeros((len(graph.groups), members)) if start_penalty is None else start_penalty
    # Routes within each chain are optimised once per year at the starting congestion (the previous year's, or the
    # calibrated base year's); MSA then equilibrates the chain shares, which are smooth in cost, so the gap shrinks
    # to zero instead of flip-flopping between all-or-nothing routes.
    element_cost = _element_cost(graph, prices, start)
    # years with the same network and (rounded) prices share routes: most baseline years do
    key = f"routes:{id(graph)}:{hash(np.round(element_cost, 1).tobytes())}"
    if key not in data.cache:
        data.cache[key] = find_routes(graph, element_cost)
    routes: Routes = data.cache[key]  # type: ignore[assignment]

    def load(penalty: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        out = load_network(graph, routes, demand, intrazonal, prices, penalty, choice)
        return out.group_flow, out.outputs

    res = msa_assign(
        load, capacity[:, None] * np.ones((1, members)), scale[:, None], max_iter=max_iter, tol=tol, start_penalty=start
    )
    return Loading(res.group_flow, res.outputs), res.gap, res.penalty


# --- demand


def _masses(data: FreightData) -> tuple[np.ndarray, np.ndarray]:
    """Production and attraction masses (C, Z)."""
    zones = data.zones["zone"].to_list()
    mass = data.zones["mass_bn_yuan"].to_numpy()
    prod = np.tile(mass, (len(COMMODITIES), 1)).astype(float)
    attr = prod.copy()
    for r in data.zone_commodity.iter_rows(named=True):
        c, z = COMMODITIES.index(r["commodity"]), zones.index(r["zone"])
        prod[c, z] *= r["production_factor"]
        attr[c, z] *= r["attraction_factor"]
    return prod, attr


def od_segments(data: FreightData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks (Z, Z) of land ODs, sea ODs (one end is the sea gateway) and intrazonal city ODs."""
    kind = np.array(data.zones["kind"].to_list())
    city = kind == "city"
    sea = kind == "sea_gateway"
    inland_ext = np.isin(kind, ["inland_gateway", "border_gateway"])
    ext = ~city
    any_city = city[:, None] | city[None, :]
    land = any_city & ~sea[:, None] & ~sea[None, :]
    # external-external: Western Land-Sea Corridor flows between inland gateways and the sea or the Vietnam border
    corridor = (inland_ext[:, None] & sea[None, :]) | (sea[:, None] & inland_ext[None, :])
    sea_od = (city[:, None] & sea[None, :]) | (sea[:, None] & city[None, :]) | corridor
    np.fill_diagonal(land, False)
    land &= ~(ext[:, None] & ext[None, :])
    intra = np.diag(city)
    return land, sea_od, intra


def gravity_demand(
    data: FreightData,
    best_cost: np.ndarray,
    land_total_mt: float,
    beta_per_yuan: float,
    sea_total_mt: np.ndarray,
    intra_factor: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Base-year OD tonnes (C, Z*Z) and intrazonal (C, Z, 2: Mt, Mt km) by a doubly-weighted gravity model.

    T_cod = P_co A_cd exp(-beta b_c GC_cod), scaled per segment: land ODs + intrazonal to land_share_c x land total,
    sea ODs to the commodity's sea total. best_cost (C, Z, Z): least base-year generalized cost over chains (yuan/t).
    """
    prod, attr = _masses(data)
    land, sea_od, intra = od_segments(data)
    z = len(data.zones)
    b = data.commodities["beta_factor"].to_numpy()
    share = data.commodities["land_share"].to_numpy()
    road = {r["mode"]: r for r in data.modes.iter_rows(named=True)}["road"]
    intra_km = data.zones["intrazonal_km"].to_numpy()
    vot = data.commodities["vot_yuan_t_h"].to_numpy()
    intra_cost = (
        intra_km[None, :] * (road["tariff_yuan_tkm"] + road["toll_yuan_tkm"])
        + vot[:, None] * intra_km[None, :] / road["speed_kmh"]
    )
    cost = best_cost.copy()
    idx = np.arange(z)
    cost[:, idx, idx] = np.where(intra[idx, idx], intra_cost, np.inf)
    seed = (
        prod[:, :, None]
        * attr[:, None, :]
        * np.where(intra[None], intra_factor, 1.0)
        * np.exp(-beta_per_yuan * b[:, None, None] * np.where(np.isfinite(cost), cost, np.inf))
    )
    demand = np.zeros((len(COMMODITIES), z, z))
    land_mask = land | intra
    land_sum = (seed * land_mask).sum(axis=(1, 2))
    sea_sum = (seed * sea_od).sum(axis=(1, 2))
    demand += seed * land_mask * (share * land_total_mt / np.maximum(land_sum, 1e-300))[:, None, None]
    demand += seed * sea_od * (sea_total_mt / np.maximum(sea_sum, 1e-300))[:, None, None]
    intrazonal = np.zeros((len(COMMODITIES), z, 2))
    intrazonal[:, :, 0] = demand[:, idx, idx]
    intrazonal[:, :, 1] = demand[:, idx, idx] * intra_km[None, :]
    demand[:, idx, idx] = 0.0
    return demand.reshape(len(COMMODITIES), z * z), intrazonal


# --- calibration


def _measures(out: Mapping[str, np.ndarray], data: FreightData) -> np.ndarray:
    """(M, 7 + C) model values in target order, then port throughput by commodity."""
    t, tkm = out["tonnes"].sum(axis=1), out["tkm"].sum(axis=1)
    vals = [t[:, 0], tkm[:, 0], t[:, 1], tkm[:, 1], t[:, 2], tkm[:, 2], out["railsea_teu"].sum(axis=1)]
    return np.column_stack([*vals, out["port"].sum(axis=2)])


def _haul(model: np.ndarray, i: int) -> np.ndarray:
    """Average haul per member (1000 km: bn tkm / Mt): measure i + 1 over measure i; rows of `model` are members."""
    model = np.atleast_2d(model)
    return model[:, i + 1] / np.maximum(model[:, i], 1e-12)


def _target_vector(data: FreightData) -> np.ndarray:
    port = data.commodities["port_mt_2020"].to_numpy()
    return np.array([data.targets[n] for n in TARGET_NAMES] + list(port))


def calibrate_base_year(
    data: FreightData,
    params: Mapping[str, np.ndarray],
    members: int,
    *,
    rounds: int = 4,
    max_iter: int = 400,
    tol: float = 2e-3,
    levers: FreightLevers | None = None,
) -> Calibration:
    """Fit the demand balancing factors and the chain constants to the 2020 targets (fixed point, all members).

    Each round fixes routes and congestion penalties from the previous MSA, iterates the updates below until every
    target is within `tol`, then re-runs the base-year MSA. Updates (log space, per member where the parameter is):
      land total  *= road_t target / model;          sea total_c *= port_t_c target / model;
      beta        *= (road haul model / target)^1.5; ASC_rail, ASC_water += ln(t target / model);
      log-km rail, log-km water += ln(haul target / model);  ASC_railsea += ln(TEU target / model).
    """
    levers = levers or FreightLevers()
    graph = year_graph(data, levers, BASE_YEAR)
    prices = year_prices(data, levers, params, BASE_YEAR, members)
    zero_pen = np.zeros((len(graph.groups), members))
    free_routes = find_routes(graph, _element_cost(graph, prices, zero_pen))
    base_cost = np.einsum("cokA,cA->cok", free_routes.path_attrs, prices.coef[0])
    base_cost = np.where(free_routes.feasible, base_cost, np.inf).min(axis=2)  # (C, OD)
    z = len(graph.zones)
    best = base_cost.reshape(len(COMMODITIES), z, z)
    target = _target_vector(data)
    land_total = target[0] * 0.75  # start: road tonnes minus drayage of intermodal chains
    beta = GRAVITY_BETA_PER_YUAN
    intra_factor = 1.0
    sea_total = target[7:].copy()
    theta = THETA_PER_YUAN_T * np.asarray(params["freight_logit_scale"], dtype=float)
    asc = np.zeros((members, 5))
    asc[:, 2] = -1.0
    penalty = zero_pen
    routes = free_routes
    it_total = 0
    gap = 0.0
    capacity, scale = _capacity(data, graph, levers, BASE_YEAR)
    for _ in range(rounds):
        for _ in range(max_iter):
            it_total += 1
            demand, intra = gravity_demand(data, best, land_total, beta, sea_total, intra_factor)
            dm = np.broadcast_to(demand, (members, *demand.shape))
            im = np.broadcast_to(intra, (members, *intra.shape))
            loaded = load_network(graph, routes, dm, im, prices, penalty, Choice(theta, asc))
            model = _measures(loaded.outputs, data)
            ratio = target[None, :] / np.maximum(model, 1e-12)
            # joint fixed point: the congestion penalties relax towards those the current flows imply
            implied = congestion_penalty(loaded.group_flow, capacity[:, None], scale[:, None])
            moved = float(np.max(np.abs(implied - penalty), initial=0.0))
            penalty = penalty + 0.3 * (implied - penalty)
            if np.all(np.abs(ratio - 1.0) < tol) and moved < 0.05:
                break
            land_total *= float(np.mean(ratio[:, 0]))
            sea_total *= np.mean(ratio[:, 7:], axis=0)
            road_haul = float(np.mean(_haul(model, 0) / _haul(target, 0)))
            intra_factor = float(np.clip(intra_factor * road_haul**2.0, 0.05, 20.0))
            beta *= road_haul**1.5
            asc[:, 0] += np.log(ratio[:, 2])
            asc[:, 1] += np.log(ratio[:, 4])
            asc[:, 3] += 0.7 * np.log(_haul(target, 2) / _haul(model, 2))
            asc[:, 4] += 0.7 * np.log(_haul(target, 4) / _haul(model, 4))
            asc[:, 2] += np.log(ratio[:, 6])
        demand, intra = gravity_demand(data, best, land_total, beta, sea_total, intra_factor)
        dm = np.broadcast_to(demand, (members, *demand.shape))
        im = np.broadcast_to(intra, (members, *intra.shape))
        loading, gap, new_penalty = assign_year(
            data, levers, graph, prices, dm, im, Choice(theta, asc), BASE_YEAR, max_iter=20, start_penalty=penalty
        )
        model = _measures(loading.outputs, data)
        if np.all(np.abs(model / target[None, :] - 1.0) < CALIBRATION_ACCEPT):
            break
        penalty = new_penalty
        routes = find_routes(graph, _element_cost(graph, prices, penalty))
    model = _measures(loading.outputs, data)
    names = [*TARGET_NAMES, *[f"port_t_{c}" for c in COMMODITIES]]
    residuals = {n: float(np.mean(model[:, i]) / target[i] - 1.0) for i, n in enumerate(names)}
    data.cache["base_best_cost"] = best
    return Calibration(land_total, beta, intra_factor, sea_total, asc, residuals, it_total, gap)


# --- simulate


def gdp_index(data: FreightData, years: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """GDP relative to the base year (M, Y) from the growth path plus the member's shift."""
    growth = year_path(dict(zip(data.gdp["year"].to_list(), data.gdp["growth"].to_list(), strict=True)), years)
    rate = growth[None, :] + np.asarray(shift, dtype=float)[:, None]
    rate[:, 0] = 0.0
    return np.cumprod(1.0 + rate, axis=1)


def commodity_elasticity(data: FreightData, years: np.ndarray) -> np.ndarray:
    """GDP elasticity of tonnes per commodity and year (Y, C): from its 2020 value towards the long-run value with a
    half-life. Containers start high (the Beibu Gulf port grew 25 %/yr in 2015-2020 on ~6 % GDP growth, the Western
    Land-Sea Corridor ramping up) and converge on the long-run value as the corridor matures."""
    start = data.commodities["gdp_elasticity_2020"].to_numpy()[None, :]
    long_run = data.commodities["gdp_elasticity"].to_numpy()[None, :]
    half_life = data.commodities["elasticity_half_life_yr"].to_numpy()[None, :]
    age = (np.asarray(years, dtype=float) - BASE_YEAR)[:, None]
    return long_run + (start - long_run) * 0.5 ** (np.maximum(age, 0.0) / half_life)


def demand_growth(data: FreightData, years: np.ndarray, gdp: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """Tonnes relative to 2020 (M, Y, C): each year's GDP growth raised to that year's elasticity, compounded.
    With a constant elasticity this is gdp_index ** elasticity."""
    elasticity = commodity_elasticity(data, years)[None] * np.asarray(factor, dtype=float)[:, None, None]
    step = np.ones_like(gdp)
    step[:, 1:] = gdp[:, 1:] / gdp[:, :-1]
    return np.exp(np.cumsum(np.log(step)[:, :, None] * elasticity, axis=1))


@dataclass
class FreightArrays:
    """The freight model's member-by-year outputs, before they become frames (and what an emulator reproduces)."""

    tonnes_mt: np.ndarray  # (M, Y, C, modes)
    tkm_bn: np.ndarray  # (M, Y, C, modes)
    railsea_teu: np.ndarray  # (M, Y, ports)
    port_mt: np.ndarray  # (M, Y, C) Beibu Gulf throughput
    road_tkm_in_bn: np.ndarray  # (M, Y) road tkm inside Guangxi (what the province's trucks drive)
    msa_gap: np.ndarray  # (Y,)


def simulate_freight(
    data: FreightData, levers: FreightLevers, params: Mapping[str, np.ndarray], years: np.ndarray, members: int
) -> FreightResult:
    """Tonnes, tkm, rail-sea TEU and truck vehicle-km for every member and year (years start at 2020)."""
    return freight_result(data, levers, freight_arrays(data, levers, params, years, members), years)


def freight_result(data: FreightData, levers: FreightLevers, arrays: FreightArrays, years: np.ndarray) -> FreightResult:
    """Result frames and the truck hand-off from the arrays."""
    years = np.asarray(years, dtype=int)
    return FreightResult(
        freight=_freight_frame(arrays.tonnes_mt, arrays.tkm_bn, years),
        railsea=_railsea_frame(arrays.railsea_teu, years),
        truck_vkt_bn=truck_vkt(data, levers, arrays.road_tkm_in_bn, years),
        msa_gap=arrays.msa_gap,
        port_t=arrays.port_mt,
    )


def freight_arrays(
    data: FreightData, levers: FreightLevers, params: Mapping[str, np.ndarray], years: np.ndarray, members: int
) -> FreightArrays:
    """The exact model: assignment of every year for all members at once (see the module docstring)."""
    years = np.asarray(years, dtype=int)
    params = {
        k: np.broadcast_to(np.asarray(params.get(k, v.default), dtype=float), (members,)) for k, v in UNCERTAIN.items()
    }
    if data.calibration is None:
        data.calibration = calibrate_base_year(data, _central_params(), 1)
    cal = data.calibration
    # members differ in logit scale: refit their constants so every member reproduces 2020 (base-year demand shared)
    if np.allclose(params["freight_logit_scale"], 1.0) and cal.asc.shape[0] == 1:
        asc = np.repeat(cal.asc, members, axis=0)
    else:
        asc = _refit_constants(data, params, members, cal)
    theta = THETA_PER_YUAN_T * params["freight_logit_scale"]
    choice = Choice(theta, asc)
    best = data.cache.get("base_best_cost")
    if best is None:
        data.calibration = cal = calibrate_base_year(data, _central_params(), 1)
        best = data.cache["base_best_cost"]
    demand0, intra0 = gravity_demand(
        data, best, cal.land_total_mt, cal.beta_per_yuan, cal.sea_total_mt, cal.intra_factor
    )
    gdp = gdp_index(data, years, params["freight_gdp_growth_shift"])  # (M, Y)
    growth_by_year = demand_growth(data, years, gdp, params["freight_gdp_elasticity_factor"])  # (M, Y, C)
    n_y = len(years)
    tonnes = np.zeros((members, n_y, len(COMMODITIES), len(MODES)))
    tkm = np.zeros_like(tonnes)
    railsea = np.zeros((members, n_y, len(PORTS)))
    port = np.zeros((members, n_y, len(COMMODITIES)))
    road_in = np.zeros((members, n_y))
    gaps = np.zeros(n_y)
    penalty = None
    for yi, year in enumerate(years):
        graph = year_graph(data, levers, int(year))
        prices = year_prices(data, levers, params, int(year), members)
        growth = growth_by_year[:, yi]  # (M, C)
        demand = demand0[None] * growth[:, :, None]
        intra = intra0[None] * growth[:, :, None, None]
        if penalty is not None and penalty.shape[0] != len(graph.groups):
            penalty = None
        loading, gaps[yi], penalty = assign_year(
            data, levers, graph, prices, demand, intra, choice, int(year), start_penalty=penalty
        )
        tonnes[:, yi] = loading.outputs["tonnes"]
        tkm[:, yi] = loading.outputs["tkm"]
        railsea[:, yi] = loading.outputs["railsea_teu"]
        road_in[:, yi] = loading.outputs["road_tkm_in"].sum(axis=1)
        port[:, yi] = loading.outputs["port"].sum(axis=2)
    return FreightArrays(tonnes, tkm, railsea, port, road_in, gaps)


def _refit_constants(data: FreightData, params: Mapping[str, np.ndarray], members: int, cal: Calibration) -> np.ndarray:
    """Per-member constants at the member's logit scale, demand balancing fixed at the central calibration."""
    levers = FreightLevers()
    graph = year_graph(data, levers, BASE_YEAR)
    prices = year_prices(data, levers, params, BASE_YEAR, members)
    best = data.cache["base_best_cost"]
    demand, intra = gravity_demand(data, best, cal.land_total_mt, cal.beta_per_yuan, cal.sea_total_mt, cal.intra_factor)
    dm = np.broadcast_to(demand, (members, *demand.shape))
    im = np.broadcast_to(intra, (members, *intra.shape))
    theta = THETA_PER_YUAN_T * np.asarray(params["freight_logit_scale"], dtype=float)
    asc = np.repeat(cal.asc, members, axis=0)
    penalty = np.zeros((len(graph.groups), members))
    routes = find_routes(graph, _element_cost(graph, prices, penalty))
    capacity, scale = _capacity(data, graph, levers, BASE_YEAR)
    target = _target_vector(data)
    for _ in range(3):
        for _ in range(600):
            loaded = load_network(graph, routes, dm, im, prices, penalty, Choice(theta, asc))
            model = _measures(loaded.outputs, data)
            ratio = target[None, :] / np.maximum(model, 1e-12)
            implied = congestion_penalty(loaded.group_flow, capacity[:, None], scale[:, None])
            moved = float(np.max(np.abs(implied - penalty), initial=0.0))
            penalty = penalty + 0.3 * (implied - penalty)
            if np.all(np.abs(ratio[:, 2:7] - 1.0) < 2e-3) and moved < 0.05:
                break
            asc[:, 0] += np.log(ratio[:, 2])
            asc[:, 1] += np.log(ratio[:, 4])
            asc[:, 3] += 0.7 * np.log(_haul(target, 2) / _haul(model, 2))
            asc[:, 4] += 0.7 * np.log(_haul(target, 4) / _haul(model, 4))
            asc[:, 2] += np.log(ratio[:, 6])
        loading, _, new_penalty = assign_year(
            data, levers, graph, prices, dm, im, Choice(theta, asc), BASE_YEAR, max_iter=20, start_penalty=penalty
        )
        model = _measures(loading.outputs, data)
        if np.all(np.abs(model[:, 2:7] / target[None, 2:7] - 1.0) < CALIBRATION_ACCEPT):
            break
        penalty = new_penalty
        routes = find_routes(graph, _element_cost(graph, prices, penalty))
    return asc


def truck_vkt(
    data: FreightData, levers: FreightLevers, road_tkm_bn: np.ndarray, years: np.ndarray
) -> dict[str, np.ndarray]:
    """Truck vehicle-km (bn) by class: road tkm x class share / (payload x load factor), load factor raised by lever."""
    gain = year_path(levers.truck_load_factor_gain, years)[None, :]
    out = {}
    for r in data.trucks.iter_rows(named=True):
        out[r["truck_class"]] = road_tkm_bn * r["tkm_share"] / (r["payload_t"] * r["load_factor_2020"] * (1.0 + gain))
    return out


def _freight_frame(tonnes: np.ndarray, tkm: np.ndarray, years: np.ndarray) -> pl.DataFrame:
    m, y, c, k = tonnes.shape
    grid = np.indices((m, y, c, k)).reshape(4, -1)
    return pl.DataFrame(
        {
            "member": grid[0].astype(np.int32),
            "year": years[grid[1]].astype(np.int32),
            "mode": label_series("mode", MODES, grid[3]),
            "commodity": label_series("commodity", COMMODITIES, grid[2]),
            "tonnes_mt": tonnes.reshape(-1),
            "tkm_bn": tkm.reshape(-1),
        }
    )


def _railsea_frame(teu: np.ndarray, years: np.ndarray) -> pl.DataFrame:
    m, y, p = teu.shape
    grid = np.indices((m, y, p)).reshape(3, -1)
    return pl.DataFrame(
        {
            "member": grid[0].astype(np.int32),
            "year": years[grid[1]].astype(np.int32),
            "port": label_series("port", list(PORTS), grid[2]),
            "teu": teu.reshape(-1),
        }
    )
