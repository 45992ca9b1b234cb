"""Road, rail and waterway layers from an OSM XML file (through osmnx), and snapping points to them.

One loader for the shipped trunk network (an OSM XML authored from public facts) and for real OpenStreetMap extracts:
`load_osm_layers` reads the file with `osmnx.graph_from_xml`, classifies every way into a freight layer by its tags
(`LAYER_RULES`) and returns plain node/link tables that `networks.graph.build_multimodal_graph` takes.

osmnx keeps only the way tags listed in `osmnx.settings.useful_tags_way`; the railway/waterway/route tags and the
dates and lengths this model reads are not in its default list, so the loader widens the list for the duration of the
call (and restores it, so other users of osmnx in the process are not affected).

Tags read from ways (all optional except the layer tags):
- `highway`, `railway`, `waterway`, `route`: the layer (see `LAYER_RULES`).
- `distance`: route length in km (the OSM key for route lengths); used instead of the great-circle length that osmnx
  computes, so an authored trunk way between two cities can carry the real route length. A multi-segment way's
  distance is spread over its segments in proportion to their geometric length. The value is read whole (`1.2e2` is
  120 km, an optional ` km` suffix); text that is not a number gives NaN km, and a negative number stays negative, so
  the caller's checks name the way instead of the loader guessing a length.
- `maxspeed`: km/h.   `start_date` / `end_date`: the year a link opens / closes (first four digits).
- `inside_km`: km of the way inside the study area (default: all of it); used to report tkm on Guangxi's network.
- `name`, `ref`, `lock`: kept as text; capacity groups are matched on `name` by the caller.
- `link_id`: a stable id of the way for the caller to find it by (links column `link_id`; '' if the way has none,
  as in a real extract, whose ways are named by `osm_way`). Display names may change; ids do not.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import polars as pl
from scipy.spatial import cKDTree

LAYERS = ("road", "rail", "inland_water", "sea")
EARTH_RADIUS_KM = 6371.0088

# Which way tags put a way into which layer. Freight trucks use the classified road network; paths, footways,
# service roads and tram tracks carry no inter-city freight and are left out.
LAYER_RULES: dict[str, dict[str, frozenset[str]]] = {
    "road": {
        "highway": frozenset(
            {
                "motorway",
                "motorway_link",
                "trunk",
                "trunk_link",
                "primary",
                "primary_link",
                "secondary",
                "secondary_link",
                "tertiary",
                "tertiary_link",
                "unclassified",
            }
        )
    },
    "rail": {"railway": frozenset({"rail"})},
    "inland_water": {"waterway": frozenset({"river", "canal"})},
    "sea": {"waterway": frozenset({"fairway"}), "route": frozenset({"ferry"})},
}
EXTRA_WAY_TAGS = (
    "railway",
    "waterway",
    "route",
    "distance",
    "start_date",
    "end_date",
    "inside_km",
    "usage",
    "lock",
    "link_id",
)

LINK_SCHEMA = {
    "layer": pl.Utf8,
    "from_node": pl.Int64,
    "to_node": pl.Int64,
    "length_km": pl.Float64,
    "inside_km": pl.Float64,
    "speed_kmh": pl.Float64,
    "open_year": pl.Int64,
    "close_year": pl.Int64,
    "name": pl.Utf8,
    "osm_way": pl.Int64,
    "link_id": pl.Utf8,
}
NODE_SCHEMA = {"node": pl.Int64, "layer": pl.Utf8, "osm_id": pl.Int64, "lon": pl.Float64, "lat": pl.Float64}
OPEN_FOREVER = 9999


@contextlib.contextmanager
def _way_tags(extra: Sequence[str]) -> Iterator[None]:
    import osmnx as ox

    saved = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = list(dict.fromkeys([*saved, *extra]))
    try:
        yield
    finally:
        ox.settings.useful_tags_way = saved


def _first(value: object) -> str | None:
    """osmnx stores a tag as a string (or a list after simplification); take the first non-empty value."""
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return _first(value[0]) if value else None
    if isinstance(value, float) and math.isnan(value):
        return None
    text = str(value).strip()
    return text or None


def _number(value: object) -> float | None:
    text = _first(value)
    if text is None:
        return None
    match = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)", text)
    return float(match.group(1)) if match else None


_KM = re.compile(r"^\s*([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\s*(?:km)?\s*$")


def _km(value: object) -> float | None:
    """A length tag in km, read whole; NaN if it is there but not a number."""
    text = _first(value)
    if text is None:
        return None
    match = _KM.match(text)
    return float(match.group(1)) if match else math.nan


def _year(value: object, default: int) -> int:
    text = _first(value)
    if text is None:
        return default
    match = re.match(r"^\s*(\d{4})", text)
    return int(match.group(1)) if match else default


def classify_way(tags: Mapping[str, object], rules: Mapping[str, Mapping[str, frozenset[str]]] = LAYER_RULES) -> str:
    """The freight layer of a way from its tags, or '' if it belongs to none."""
    for layer, keys in rules.items():
        for key, values in keys.items():
            value = _first(tags.get(key))
            if value is not None and value in values:
                return layer
    return ""


def load_osm_layers(
    path: str | Path,
    rules: Mapping[str, Mapping[str, frozenset[str]]] = LAYER_RULES,
    default_speed_kmh: Mapping[str, float] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read an OSM XML file into (nodes, links) tables, one node per OSM node and layer.

    nodes: node (int, 0..n-1), layer, osm_id, lon, lat.
    links: layer, from_node, to_node (node indices), length_km, inside_km, speed_kmh, open_year, close_year, name,
    osm_way, link_id. One-way ways give one directed link per segment, others two. Ways in no layer are dropped.
    """
    import osmnx as ox

    speeds = {"road": 60.0, "rail": 40.0, "inland_water": 12.0, "sea": 28.0} | dict(default_speed_kmh or {})
    with _way_tags(EXTRA_WAY_TAGS):
        graph = ox.graph_from_xml(Path(path), bidirectional=False, simplify=False, retain_all=True)
    # A way's `distance` (route km) is shared over its segments by geometric length: sum the geometry per way first.
    way_geo_m: dict[int, float] = {}
    for _, _, data in graph.edges(data=True):
        if data.get("reversed") is True:  # the reverse copy of a two-way way: count its geometry once
            continue
        way = int(_first(data.get("osmid")) or -1)
        way_geo_m[way] = way_geo_m.get(way, 0.0) + float(data.get("length", 0.0))
    node_index: dict[tuple[str, int], int] = {}
    node_rows: list[tuple[int, str, int, float, float]] = []
    link_rows: list[tuple] = []
    for u, v, data in graph.edges(data=True):
        layer = classify_way(data, rules)
        if not layer:
            continue
        ids = []
        for osm in (u, v):
            key = (layer, int(osm))
            if key not in node_index:
                node_index[key] = len(node_rows)
                node_rows.append((len(node_rows), layer, int(osm), graph.nodes[osm]["x"], graph.nodes[osm]["y"]))
            ids.append(node_index[key])
        way = int(_first(data.get("osmid")) or -1)
        geo_km = float(data.get("length", 0.0)) / 1000.0
        share = geo_km * 1000.0 / way_geo_m[way] if way_geo_m.get(way, 0.0) > 0 else 1.0
        route_km = _km(data.get("distance"))
        length_km = route_km * share if route_km is not None else geo_km
        inside = _km(data.get("inside_km"))
        inside_km = min(length_km, inside * share) if inside is not None else length_km
        speed = _number(data.get("maxspeed")) or speeds[layer]
        link_rows.append(
            (
                layer,
                ids[0],
                ids[1],
                length_km,
                inside_km,
                speed,
                _year(data.get("start_date"), 0),
                _year(data.get("end_date"), OPEN_FOREVER),
                _first(data.get("name")) or "",
                way,
                _first(data.get("link_id")) or "",
            )
        )
    nodes = pl.DataFrame(node_rows, schema=NODE_SCHEMA, orient="row")
    links = pl.DataFrame(link_rows, schema=LINK_SCHEMA, orient="row")
    return nodes, links


def _unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lam, phi = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def snap_points(nodes: pl.DataFrame, lon: np.ndarray, lat: np.ndarray, layer: str) -> tuple[np.ndarray, np.ndarray]:
    """Nearest node of `layer` to each point: (node indices, great-circle distance in km). -1 if the layer is empty."""
    sub = nodes.filter(pl.col("layer") == layer)
    lon = np.atleast_1d(np.asarray(lon, dtype=float))
    lat = np.atleast_1d(np.asarray(lat, dtype=float))
    if sub.height == 0:
        return np.full(lon.shape, -1, dtype=np.int64), np.full(lon.shape, np.inf)
    tree = cKDTree(_unit_vectors(sub["lon"].to_numpy(), sub["lat"].to_numpy()))
    chord, idx = tree.query(_unit_vectors(lon, lat))
    # chord length on the unit sphere -> central angle -> km
    distance_km = 2.0 * np.arcsin(np.clip(chord / 2.0, 0.0, 1.0)) * EARTH_RADIUS_KM
    return sub["node"].to_numpy()[idx], distance_km


def haversine_km(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    """Great-circle distance in km (broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi, dlam = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def write_osm_xml(
    path: str | Path,
    nodes: Sequence[tuple[int, float, float, Mapping[str, str]]],
    ways: Sequence[tuple[int, Sequence[int], Mapping[str, str]]],
) -> None:
    """Write nodes (id, lon, lat, tags) and ways (id, node ids, tags) as OSM XML 0.6."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="networks.osm.write_osm_xml">']
    for osm_id, lon, lat, tags in nodes:
        attrs = f'id="{osm_id}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"'
        if tags:
            lines.append(f"  <node {attrs}>")
            lines += [f"    <tag k={quoteattr(k)} v={quoteattr(str(v))}/>" for k, v in tags.items()]
            lines.append("  </node>")
        else:
            lines.append(f"  <node {attrs}/>")
    for osm_id, refs, tags in ways:
        lines.append(f'  <way id="{osm_id}" version="1">')
        lines += [f'    <nd ref="{ref}"/>' for ref in refs]
        lines += [f"    <tag k={quoteattr(k)} v={quoteattr(str(v))}/>" for k, v in tags.items()]
        lines.append("  </way>")
    lines.append("</osm>")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
