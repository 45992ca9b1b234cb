"""Street-network metrics of a city for the urban mode-choice model: intersection density and transit coverage.

Pure engine code: takes a street graph (osmnx MultiDiGraph) or an OSM XML / PBF file, and points; knows nothing
about scenarios or the dataset. Two metrics enter the urban model's access terms (transport.urban):

- intersection density (intersections per km2): nodes where at least `min_streets` streets meet (osmnx's
  `street_count`, which counts a two-way street once), divided by the study area (given, or the convex hull of the
  projected nodes). Walkability studies use 3+-way intersections (Ewing & Cervero 2010), hence min_streets=3.
- transit coverage: the share of population (weighted points; default: one unit per street node, an area proxy)
  whose walk along the street network to the nearest transit stop is at most `walk_m` metres. Walking distance =
  straight-line snap of the point to its nearest node + network distance + snap of the stop to its node. Computed as
  one multi-source shortest-path tree (scipy.sparse.csgraph.dijkstra from a virtual source tied to every stop), so the
  cost does not grow with the number of stops.

OSM data must be OSM XML for osmnx; `pbf_to_osm_xml` converts a .pbf with pyosmium. Transit stops can be read from
the same file (`transit_stops_from_osm`: bus stops, platforms, stations, subway entrances).
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import osmnx as ox
from pyproj import Transformer
from scipy import sparse
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree
from shapely.geometry import MultiPoint

WALK_M_DEFAULT = 500.0
TRANSIT_TAGS: dict[str, frozenset[str]] = {
    "highway": frozenset({"bus_stop"}),
    "public_transport": frozenset({"platform", "stop_position", "station"}),
    "railway": frozenset({"station", "halt", "tram_stop", "subway_entrance"}),
    "amenity": frozenset({"bus_station"}),
}


@dataclass(frozen=True)
class StreetMetrics:
    """Street metrics of one study area."""

    intersections: int
    area_km2: float
    intersection_density_km2: float
    transit_coverage_share: float
    walk_m: float
    stops: int
    nodes: int
    street_km: float


def pbf_to_osm_xml(src: Path, dst: Path) -> Path:
    """Copy an OSM PBF file to OSM XML (what osmnx reads), with pyosmium; returns `dst`."""
    with osmium.SimpleWriter(str(dst), overwrite=True) as writer:
        for obj in osmium.FileProcessor(str(src)):
            writer.add(obj)
    return dst


def load_street_graph(osm_path: Path, simplify: bool = True) -> nx.MultiDiGraph:
    """Street graph of an OSM XML (.osm, .osm.bz2) or PBF (.pbf, converted first) file, through osmnx.

    `osmnx.graph_from_xml` turns every way of the file into edges, land-use and building outlines included; only
    ways with a `highway` tag (less NOT_STREETS) are streets, so the rest is dropped before simplification (else an
    outline touching a footpath would count as a street at an "intersection"). Footways and service roads stay:
    pedestrians use them. Disconnected pieces are retained (an extract's edge cuts streets into pieces that still
    belong to the city).
    """
    path = Path(osm_path)
    if not path.is_file():
        raise FileNotFoundError(path)
    if path.suffix == ".pbf":
        with tempfile.TemporaryDirectory() as tmp:
            xml = pbf_to_osm_xml(path, Path(tmp) / (path.stem + ".osm"))
            raw = ox.graph_from_xml(xml, simplify=False, retain_all=True)
    else:
        raw = ox.graph_from_xml(path, simplify=False, retain_all=True)
    drop = [(u, v, k) for u, v, k, d in raw.edges(keys=True, data=True) if not _is_street(d.get("highway"))]
    raw.remove_edges_from(drop)
    # Before simplification every edge is a straight segment, so two edges u->v are the same piece of street: OSM
    # sometimes maps one path twice (overlapping ways); keep one, else its ends would look like intersections.
    seen: set[tuple[int, int]] = set()
    duplicates = []
    for u, v, k in raw.edges(keys=True):
        if (u, v) in seen:
            duplicates.append((u, v, k))
        seen.add((u, v))
    raw.remove_edges_from(duplicates)
    raw.remove_nodes_from([n for n in list(raw.nodes) if raw.degree(n) == 0])
    graph = ox.simplify_graph(raw) if simplify else raw
    nx.set_node_attributes(graph, ox.stats.count_streets_per_node(graph), name="street_count")
    return graph


NOT_STREETS = frozenset({"proposed", "construction", "abandoned", "platform", "raceway", "razed"})


def _is_street(highway: object) -> bool:
    values = highway if isinstance(highway, list) else [highway]
    return any(isinstance(v, str) and v not in NOT_STREETS for v in values)


def transit_stops_from_osm(osm_path: Path) -> np.ndarray:
    """(lat, lon) of every transit stop node in an OSM file (tags in TRANSIT_TAGS), shape (stops, 2)."""
    points: list[tuple[float, float]] = []
    for obj in osmium.FileProcessor(str(osm_path), osmium.osm.NODE):
        if not isinstance(obj, osmium.osm.Node):  # the filter yields nodes only; this narrows the type
            continue
        tags = obj.tags
        if any(tags.get(key) in values for key, values in TRANSIT_TAGS.items()):
            points.append((obj.location.lat, obj.location.lon))
    return np.asarray(points, dtype=float).reshape(-1, 2)


def _projected(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    return graph if ox.projection.is_projected(graph.graph["crs"]) else ox.projection.project_graph(graph)


def street_nodes(graph: nx.MultiDiGraph) -> list[int]:
    """Nodes on at least one street. osmnx keeps tagged stand-alone nodes of an XML file (e.g. bus-stop poles beside
    the road) as isolated nodes; they are not places to walk through, so points snap only to street nodes."""
    return [n for n in graph.nodes if graph.degree(n) > 0]


def _project_points(graph: nx.MultiDiGraph, latlon: np.ndarray) -> np.ndarray:
    """(lat, lon) points -> (x, y) in the projected graph's CRS."""
    latlon = np.asarray(latlon, dtype=float).reshape(-1, 2)
    transformer = Transformer.from_crs("EPSG:4326", graph.graph["crs"], always_xy=True)
    x, y = transformer.transform(latlon[:, 1], latlon[:, 0])
    return np.column_stack([x, y])


def intersection_count(graph: nx.MultiDiGraph, min_streets: int = 3) -> int:
    """Nodes where at least `min_streets` streets meet (osmnx street_count).

    `graph_from_xml` does not always set the `street_count` node attribute (osmnx sets it while simplifying), so it
    is computed with `osmnx.stats.count_streets_per_node` where missing.
    """
    if len(nx.get_node_attributes(graph, "street_count")) < graph.number_of_nodes():
        graph = graph.copy()
        nx.set_node_attributes(graph, ox.stats.count_streets_per_node(graph), name="street_count")
    return int(ox.stats.intersection_count(graph, min_streets=min_streets))


def hull_area_km2(graph: nx.MultiDiGraph) -> float:
    """Area of the convex hull of the graph's nodes (km2), in a projected CRS."""
    proj = _projected(graph)
    xy = [(proj.nodes[n]["x"], proj.nodes[n]["y"]) for n in street_nodes(proj)]
    return float(MultiPoint(xy).convex_hull.area) / 1e6


def intersection_density(graph: nx.MultiDiGraph, area_km2: float | None = None, min_streets: int = 3) -> float:
    """Intersections per km2 of `area_km2` (default: the convex hull of the nodes)."""
    area = hull_area_km2(graph) if area_km2 is None else float(area_km2)
    if area <= 0:
        raise ValueError(f"study area must be > 0 km2, got {area}")
    return intersection_count(graph, min_streets) / area


def walk_distance_to_stops(
    graph: nx.MultiDiGraph, stops_latlon: np.ndarray, points_latlon: np.ndarray | None = None
) -> np.ndarray:
    """Walking distance (m) from each point (default: every street node) to its nearest stop along the network.

    The network is taken as undirected (pedestrians walk both ways on one-way streets); inf where no stop connects.
    """
    proj = _projected(graph)
    nodes = street_nodes(proj)
    index = {n: i for i, n in enumerate(nodes)}
    xy = np.array([(proj.nodes[n]["x"], proj.nodes[n]["y"]) for n in nodes])
    tree = cKDTree(xy)
    n = len(nodes)
    rows, cols, weights = [], [], []
    for u, v, data in proj.edges(data=True):
        if u == v or u not in index or v not in index:
            continue
        rows.append(index[u])
        cols.append(index[v])
        weights.append(float(data["length"]))
    stops_xy = _project_points(proj, stops_latlon)
    if len(stops_xy) == 0:
        return np.full(n if points_latlon is None else len(points_latlon), np.inf)
    snap, stop_nodes = tree.query(stops_xy)
    # A virtual source (index n) tied to each stop's node by the stop's snap distance: one shortest-path tree from it
    # gives every node its distance to the nearest stop.
    rows += [n] * len(stop_nodes)
    cols += list(stop_nodes)
    weights += list(np.maximum(snap, 1e-9))
    matrix = _min_weight_matrix(np.array(rows), np.array(cols), np.array(weights), n + 1)
    dist = dijkstra(matrix, directed=False, indices=n)[:n]
    if points_latlon is None:
        return dist
    points_xy = _project_points(proj, points_latlon)
    point_snap, point_nodes = tree.query(points_xy)
    return dist[point_nodes] + point_snap


def _min_weight_matrix(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, size: int) -> sparse.csr_matrix:
    """Sparse adjacency with the minimum weight of parallel edges (scipy would add them up)."""
    a, b = np.minimum(rows, cols), np.maximum(rows, cols)
    order = np.lexsort((weights, b, a))
    a, b, w = a[order], b[order], weights[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return sparse.csr_matrix((w[first], (a[first], b[first])), shape=(size, size))


def transit_coverage(
    graph: nx.MultiDiGraph,
    stops_latlon: np.ndarray,
    points_latlon: np.ndarray | None = None,
    weights: Sequence[float] | np.ndarray | None = None,
    walk_m: float = WALK_M_DEFAULT,
) -> float:
    """Weighted share of points (default: every street node, weight 1) within `walk_m` walking metres of a stop."""
    dist = walk_distance_to_stops(graph, stops_latlon, points_latlon)
    w = np.ones(len(dist)) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != dist.shape or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights must be non-negative, one per point, with a positive sum")
    return float(w[dist <= walk_m].sum() / w.sum())


def street_metrics(
    source: Path | nx.MultiDiGraph,
    stops_latlon: np.ndarray | None = None,
    points_latlon: np.ndarray | None = None,
    weights: Sequence[float] | np.ndarray | None = None,
    area_km2: float | None = None,
    walk_m: float = WALK_M_DEFAULT,
    min_streets: int = 3,
) -> StreetMetrics:
    """Both metrics for an OSM file or a graph. Stops default to the transit stops tagged in the OSM file."""
    if isinstance(source, nx.MultiDiGraph):
        graph = source
        if stops_latlon is None:
            raise ValueError("stops_latlon is required when a graph (not an OSM file) is given")
    else:
        graph = load_street_graph(Path(source))
        if stops_latlon is None:
            stops_latlon = transit_stops_from_osm(Path(source))
    area = hull_area_km2(graph) if area_km2 is None else float(area_km2)
    count = intersection_count(graph, min_streets)
    lengths = [float(d["length"]) for _, _, d in ox.convert.to_undirected(graph).edges(data=True)]
    return StreetMetrics(
        intersections=count,
        area_km2=area,
        intersection_density_km2=count / area,
        transit_coverage_share=transit_coverage(graph, stops_latlon, points_latlon, weights, walk_m),
        walk_m=walk_m,
        stops=len(np.asarray(stops_latlon).reshape(-1, 2)),
        nodes=len(street_nodes(graph)),
        street_km=sum(lengths) / 1000.0,
    )
