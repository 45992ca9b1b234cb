"""Freight tables of a dataset folder: their specs, the loader, and the authoring of the trunk-network OSM file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import polars as pl

from networks.osm import load_osm_layers, write_osm_xml
from transport.dataset import read_manifest
from transport.errors import DatasetError
from transport.freight.names import (
    CAPACITY_KINDS,
    COMMODITIES,
    LAYER_SET,
    PINGLU_CANAL,
    TARGET_NAMES,
    TRUCK_CLASSES,
    TRUNK_OSM,
)
from transport.tables import Column, TableSpec, read_table

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
        Column("link_id", "str", doc="stable id of the way (tag link_id), e.g. pinglu_canal", unique=True),
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
        Column("cost_group", "str", allowed=frozenset({"containers", "bulk"})),
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
        Column("element", "str", allowed=frozenset(CAPACITY_KINDS) - {"service"}),
        Column("capacity_mt_2020", "float", "Mt/yr", min=0.001),
        Column("cost_scale_yuan_t", "float", "yuan/t", min=0),
    ),
    key=("group",),
)
_COST_SENSITIVITY = TableSpec(
    "cost_sensitivity",
    (
        Column("cost_group", "str", allowed=frozenset({"containers", "bulk"})),
        Column("theta_per_yuan_t", "float", "1/(yuan/t)", min=1e-4, max=1.0),
        Column("low", "float", "1/(yuan/t)", min=1e-4, max=1.0),
        Column("high", "float", "1/(yuan/t)", min=1e-4, max=1.0),
        Column("basis", "str"),
    ),
    key=("cost_group",),
)
_CAPACITY_BUILT = TableSpec(
    "capacity_built",
    (
        Column("group", "str"),
        Column("year", "int", min=2020, max=2100),
        Column("capacity_mt", "float", "Mt/yr", min=0.001),
    ),
    key=("group", "year"),
)
_RAILSEA_RECORD = TableSpec(
    "railsea_record",
    (
        Column("year", "int", min=2000, max=2100),
        Column("trains", "float", "trains/yr", min=0),
        Column("teu_per_train", "float", "TEU/train", min=1, max=200),
        Column("source", "str"),
    ),
    key=("year",),
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


@dataclass
class Calibration:
    """Calibrated base-year quantities (central member) and the residuals of every target."""

    land_total_mt: float
    beta_per_yuan: float
    intra_factor: float
    sea_total_mt: np.ndarray  # (C,)
    corridor_factor: float  # Xijiang corridor demand (transport.freight.demand.CORRIDOR_*), fitted to the lock
    asc: np.ndarray  # (M, len(Asc)): chain constants, columns named by transport.freight.names.Asc
    # Guangxi carriers' inland-water tonnes that never touch the modelled network (their ships working the Pearl River
    # Delta and other provinces' waters): carrier statistics (R14) less the modelled shipments, 2020, Mt
    carrier_outside_mt: float
    residuals: dict[str, float]
    iterations: int
    msa_gap: float
    penalty: np.ndarray  # (G + 1, M) base-year congestion penalties, yuan/t: where 2020 starts (same routes)


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
    capacity_built: pl.DataFrame
    railsea_record: pl.DataFrame
    cost_sensitivity: pl.DataFrame
    targets: dict[str, float]
    gdp: pl.DataFrame
    trucks: pl.DataFrame
    nodes: pl.DataFrame
    links: pl.DataFrame
    base_year: int  # the dataset's base year (dataset.toml): the year calibrated, where every run starts
    calibration: Calibration | None = None
    cache: dict[str, object] = field(default_factory=dict)

    def theta_per_yuan_t(self) -> np.ndarray:
        """(C,) logit cost sensitivity of each commodity (its cost group's fitted value), per yuan/t."""
        by_group = dict(
            zip(self.cost_sensitivity["cost_group"], self.cost_sensitivity["theta_per_yuan_t"], strict=True)
        )
        return np.array([by_group[g] for g in self.commodities["cost_group"].to_list()], dtype=float)

    def __getstate__(self) -> dict[str, object]:
        # Graphs and routes are rebuilt on demand and keyed by id(): worthless in another process, and hundreds of
        # MB after a long run. Only the calibration's base costs travel to worker processes.
        state = dict(self.__dict__)
        state["cache"] = {k: v for k, v in self.cache.items() if not k.startswith(("routes:", "graph:"))}
        return state


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
        if r["link_id"] == PINGLU_CANAL:
            value = "canal"
        tags = {
            key: value,
            "link_id": r["link_id"],
            "name": r["name"],
            "distance": f"{r['distance_km']:g}",
            "inside_km": f"{r['inside_km']:g}",
        }
        if r["start_year"] > 0:
            tags["start_date"] = str(r["start_year"])
        if r["layer"] == "rail":
            tags["usage"] = "main"
        out_ways.append((-(i + 1), [ids[r["from"]], ids[r["to"]]], tags))
    write_osm_xml(out, nodes, out_ways)


def load_freight_data(folder: Path) -> FreightData:
    """Read and check the freight tables of a dataset folder (e.g. transport/data/guangxi); calibration is the
    separate step `transport.freight.calibration.calibrate_freight`. The base year is the manifest's (dataset.toml)."""
    base_year = read_manifest(Path(folder)).base_year
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
    capacity_built = read_table(
        base / "capacity_built.csv", _CAPACITY_BUILT, allowed={"group": capacity["group"].to_list()}
    )
    railsea_record = read_table(base / "railsea_record.csv", _RAILSEA_RECORD)
    cost_sensitivity = read_table(base / "cost_sensitivity.csv", _COST_SENSITIVITY)
    missing = {"containers", "bulk"} - set(cost_sensitivity["cost_group"].to_list())
    if missing:
        raise DatasetError(
            base / "cost_sensitivity.csv", "cost_group", sorted(missing), "a row for containers and bulk"
        )
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
    try:
        nodes, links = load_osm_layers(osm, default_speed_kmh=dict(zip(modes["mode"], modes["speed_kmh"], strict=True)))
    except (ElementTree.ParseError, UnicodeDecodeError) as exc:
        raise DatasetError(osm, "xml", str(exc), "a complete, well-formed OSM XML file") from None
    except (ValueError, KeyError) as exc:  # osmnx: no nodes/ways it can read, a node without coordinates
        raise DatasetError(
            osm, "osm", str(exc).splitlines()[0] if str(exc) else type(exc).__name__, "OSM XML 0.6 nodes and ways"
        ) from None
    data = FreightData(
        base,
        places,
        zones,
        terminals,
        commodities,
        zone_commodity,
        modes,
        capacity,
        capacity_built,
        railsea_record,
        cost_sensitivity,
        targets,
        gdp,
        trucks,
        nodes,
        links,
        base_year,
    )
    return data
