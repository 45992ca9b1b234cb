"""Street metrics (networks.streets) on a real OSM extract and on hand-built graphs, against independent code."""

from __future__ import annotations

import itertools
from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import pytest
from pyproj import Transformer

from networks import streets

SAMPLE = Path(__file__).parent / "data" / "streets" / "osm_binary_sample.osm"


@pytest.fixture(scope="module")
def graph() -> nx.MultiDiGraph:
    return streets.load_street_graph(SAMPLE)


def _raw_street_degree(path: Path) -> dict[int, int]:
    """Independent count: neighbours of each node in the undirected graph of consecutive highway-way nodes."""
    neighbours: dict[int, set[int]] = {}
    for way in osmium.FileProcessor(str(path), osmium.osm.WAY):
        if "highway" not in way.tags:
            continue
        refs = [n.ref for n in way.nodes]
        for a, b in itertools.pairwise(refs):
            if a != b:
                neighbours.setdefault(a, set()).add(b)
                neighbours.setdefault(b, set()).add(a)
    return {n: len(s) for n, s in neighbours.items()}


def test_stops_are_the_tagged_bus_stops() -> None:
    stops = streets.transit_stops_from_osm(SAMPLE)
    assert stops.shape == (4, 2)
    assert np.all((stops[:, 0] > 51.76) & (stops[:, 0] < 51.78) & (stops[:, 1] > -0.25) & (stops[:, 1] < -0.21))


def test_intersections_match_a_count_from_the_raw_ways(graph: nx.MultiDiGraph) -> None:
    degree = _raw_street_degree(SAMPLE)
    expected = sum(1 for d in degree.values() if d >= 3)
    assert streets.intersection_count(graph, min_streets=3) == expected
    assert expected > 10  # a real street grid, not a trivial file


def test_intersection_density_uses_the_given_area(graph: nx.MultiDiGraph) -> None:
    count = streets.intersection_count(graph)
    assert streets.intersection_density(graph, area_km2=2.0) == pytest.approx(count / 2.0)
    hull = streets.hull_area_km2(graph)
    assert 0.2 < hull < 2.0  # the extract spans about 700 m x 700 m of streets
    assert streets.intersection_density(graph) == pytest.approx(count / hull)


def test_walk_distances_match_networkx_dijkstra(graph: nx.MultiDiGraph) -> None:
    """Reference: networkx single-source Dijkstra from each stop's street node, plus the stop's snap distance."""
    stops = streets.transit_stops_from_osm(SAMPLE)
    ours = streets.walk_distance_to_stops(graph, stops)
    proj = streets._projected(graph)
    nodes = streets.street_nodes(proj)
    undirected = nx.Graph()
    for u, v, d in proj.edges(data=True):
        if u in undirected and v in undirected[u]:
            undirected[u][v]["length"] = min(undirected[u][v]["length"], d["length"])
        else:
            undirected.add_edge(u, v, length=d["length"])
    transformer = Transformer.from_crs("EPSG:4326", proj.graph["crs"], always_xy=True)
    best = {n: np.inf for n in nodes}
    xy = np.array([(proj.nodes[n]["x"], proj.nodes[n]["y"]) for n in nodes])
    for lat, lon in stops:
        x, y = transformer.transform(lon, lat)
        gaps = np.hypot(xy[:, 0] - x, xy[:, 1] - y)
        j = int(np.argmin(gaps))
        lengths = nx.single_source_dijkstra_path_length(undirected, nodes[j], weight="length")
        for n, dist in lengths.items():
            best[n] = min(best[n], gaps[j] + dist)
    expected = np.array([best[n] for n in nodes])
    finite = np.isfinite(expected)
    assert np.array_equal(finite, np.isfinite(ours))
    np.testing.assert_allclose(ours[finite], expected[finite], rtol=1e-9, atol=1e-6)


def test_street_metrics_on_the_real_extract() -> None:
    m = streets.street_metrics(SAMPLE)
    assert m.stops == 4
    assert 0.5 < m.transit_coverage_share < 1.0  # four stops cover most but not all of the extract
    assert m.transit_coverage_share == pytest.approx(
        streets.transit_coverage(streets.load_street_graph(SAMPLE), streets.transit_stops_from_osm(SAMPLE))
    )
    assert 5.0 < m.street_km < 30.0
    assert m.intersection_density_km2 == pytest.approx(m.intersections / m.area_km2)
    # A longer walk covers at least as much.
    wider = streets.street_metrics(SAMPLE, walk_m=2000.0)
    assert wider.transit_coverage_share >= m.transit_coverage_share
    assert wider.transit_coverage_share == pytest.approx(
        np.isfinite(
            streets.walk_distance_to_stops(streets.load_street_graph(SAMPLE), streets.transit_stops_from_osm(SAMPLE))
        ).mean()
    )


def test_pbf_and_xml_give_the_same_graph(tmp_path: Path) -> None:
    xml_graph = streets.load_street_graph(SAMPLE)
    pbf = tmp_path / "sample.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(SAMPLE)):
            writer.add(obj)
    pbf_graph = streets.load_street_graph(pbf)
    assert set(pbf_graph.nodes) == set(xml_graph.nodes)
    assert pbf_graph.number_of_edges() == xml_graph.number_of_edges()


def _line_graph(spacing_m: float, n: int) -> nx.MultiDiGraph:
    """n nodes on an east-west line in UTM zone 49N (Nanning's zone), `spacing_m` apart, two-way streets."""
    g = nx.MultiDiGraph(crs="EPSG:32649")
    for i in range(n):
        g.add_node(i, x=500_000.0 + i * spacing_m, y=2_500_000.0)
    for i in range(n - 1):
        g.add_edge(i, i + 1, length=spacing_m)
        g.add_edge(i + 1, i, length=spacing_m)
    return g


def test_coverage_hand_checked_on_a_line() -> None:
    """Ten nodes 200 m apart, one stop on node 0: nodes 0, 1, 2 are within 500 m -> 3/10 covered."""
    g = _line_graph(200.0, 10)
    to_latlon = Transformer.from_crs("EPSG:32649", "EPSG:4326", always_xy=True)
    lon, lat = to_latlon.transform(500_000.0, 2_500_000.0)
    stops = np.array([[lat, lon]])
    assert streets.transit_coverage(g, stops, walk_m=500.0) == pytest.approx(0.3)
    # Weighted population points: all weight on node 9 (1800 m away) -> 0 covered; on node 2 -> 1.
    lon9, lat9 = to_latlon.transform(500_000.0 + 1800.0, 2_500_000.0)
    lon2, lat2 = to_latlon.transform(500_000.0 + 400.0, 2_500_000.0)
    points = np.array([[lat9, lon9], [lat2, lon2]])
    assert streets.transit_coverage(g, stops, points, weights=[1.0, 0.0]) == 0.0
    assert streets.transit_coverage(g, stops, points, weights=[0.0, 3.0]) == 1.0
    # A point 150 m north of node 2 walks 150 + 400 m > 500 m: not covered.
    lonn, latn = to_latlon.transform(500_000.0 + 400.0, 2_500_150.0)
    d = streets.walk_distance_to_stops(g, stops, np.array([[latn, lonn]]))
    assert d[0] == pytest.approx(550.0, abs=0.01)


def test_parallel_streets_keep_the_shorter_one() -> None:
    g = _line_graph(300.0, 3)
    g.add_edge(0, 1, length=100.0)  # a shortcut between the same two nodes
    to_latlon = Transformer.from_crs("EPSG:32649", "EPSG:4326", always_xy=True)
    lon, lat = to_latlon.transform(500_000.0, 2_500_000.0)
    d = streets.walk_distance_to_stops(g, np.array([[lat, lon]]))
    np.testing.assert_allclose(d, [0.0, 100.0, 400.0], atol=1e-6)


def test_no_stops_means_no_coverage() -> None:
    g = _line_graph(100.0, 4)
    assert streets.transit_coverage(g, np.zeros((0, 2))) == 0.0
