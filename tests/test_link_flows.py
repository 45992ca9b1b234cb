"""Freight per link (issue 17, point 4): tables links and link_flows, by hand on a tiny network and conserved against
table freight on the shipped Guangxi network."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from networks.graph import ATTRS, build_multimodal_graph
from transport import freight as F
from transport.freight.model import LINK_FLOW_MEMBERS, freight_arrays, link_loads
from transport.freight.names import COMMODITIES, MODES, PINGLU_CANAL, Asc
from transport.freight.network import RunLinks, YearPrices, _chain, run_links, year_graph
from transport.levers.freight import FreightLevers, NewLink
from transport.model import freight_members
from transport.result_tables import ANALYSIS_COLUMNS, RESULT_COLUMNS

DATA = Path(__file__).resolve().parent.parent / "transport" / "data" / "guangxi"


@pytest.fixture(scope="module")
def data() -> F.FreightData:
    return F.calibrate_freight(F.load_freight_data(DATA))


def _tiny_graph():
    """Places A (0,0), B (1,0), C (2,0): road A-B and B-C 100 km each, rail A-C 180 km of which 120 inside the study
    area, road-rail terminals at A and C (handling 10 yuan/t, 5 km of drayage each)."""
    nodes = pl.DataFrame(
        {
            "node": [0, 1, 2, 3, 4],
            "layer": ["road", "road", "road", "rail", "rail"],
            "osm_id": [1, 2, 3, 1, 3],
            "lon": [0.0, 1.0, 2.0, 0.0, 2.0],
            "lat": [0.0, 0.0, 0.0, 0.0, 0.0],
        }
    )
    rows = []
    for a, b, layer, km, inside in (
        (0, 1, "road", 100.0, 100.0),
        (1, 2, "road", 100.0, 100.0),
        (3, 4, "rail", 180.0, 120.0),
    ):
        rows += [
            (layer, a, b, km, inside, 50.0, 0, 9999, f"{layer}{a}{b}"),
            (layer, b, a, km, inside, 50.0, 0, 9999, f"{layer}{a}{b}"),
        ]
    columns = [
        "layer",
        "from_node",
        "to_node",
        "length_km",
        "inside_km",
        "speed_kmh",
        "open_year",
        "close_year",
        "name",
    ]
    links = pl.DataFrame(rows, schema=columns, orient="row")
    transfers = pl.DataFrame(
        {
            "terminal": ["TA", "TC"],
            "lon": [0.0, 2.0],
            "lat": [0.0, 0.0],
            "layer_a": ["road", "road"],
            "layer_b": ["rail", "rail"],
            "handling_yuan_t": [10.0, 10.0],
            "dwell_h": [0.0, 0.0],
            "drayage_km": [5.0, 5.0],
        }
    )
    zones = pl.DataFrame(
        {"zone": ["A", "B", "C"], "lon": [0.0, 1.0, 2.0], "lat": [0.0, 0.0, 0.0], "access_layer": ["road"] * 3}
    )
    return build_multimodal_graph(nodes, links, transfers, zones, 2020)


def test_link_flows_by_hand_on_three_places() -> None:
    """10 Mt of containers A -> C and 4 Mt of coal C -> A choose road (200 km at 0.4 yuan/tkm = 80 yuan/t) or rail
    (180 km at 0.15 + 2 x 10 handling + 2 x 5 km drayage at 0.4 = 51 yuan/t) by a logit with theta 0.05/yuan: rail
    share s = 1 / (1 + exp(-0.05 x 29)). Each road link carries 14 (1 - s) Mt (both directions summed), the rail link
    14 s Mt; rail tkm counts the 120 km inside; TEU = container tonnes / 10 t."""
    graph = _tiny_graph()
    n_c = len(COMMODITIES)
    coef = np.zeros((1, n_c, len(ATTRS)))
    coef[..., ATTRS.index("road_km")] = 0.4
    coef[..., ATTRS.index("rail_km")] = 0.15
    coef[..., ATTRS.index("handling_yuan_t")] = 1.0
    prices = YearPrices(coef, np.zeros(1))
    routes = F.find_routes(graph, coef[0] @ graph.attrs.T)
    demand = np.zeros((1, n_c, 9))
    box, coal = COMMODITIES.index("containers"), COMMODITIES.index("coal")
    demand[0, box, 0 * 3 + 2] = 10.0  # A -> C
    demand[0, coal, 2 * 3 + 0] = 4.0  # C -> A
    intra = np.zeros((1, n_c, 3, 2))
    intra[0, coal, 1] = (2.0, 60.0)  # 2 Mt inside B, 60 Mt km: on no link
    choice = F.Choice(np.full((n_c, 1), 0.05), np.zeros((1, len(Asc))))
    out = F.load_network(
        graph, routes, demand, intra, prices, np.zeros((routes.group_use.shape[-1] + 1, 1)), choice
    ).outputs

    s = 1.0 / (1.0 + math.exp(-0.05 * (80.0 - 51.0)))
    links = RunLinks(pl.DataFrame({"link_id": ["ab", "bc", "rail"]}), np.array([0, 0, 1, 1, 2, 2]), np.ones(6))
    tonnes, tkm, teu, drayage = link_loads(links, graph, out["element_mt"], out["element_teu"])
    np.testing.assert_allclose(tonnes[0], [14 * (1 - s), 14 * (1 - s), 14 * s], rtol=1e-12)
    np.testing.assert_allclose(tkm[0], [14 * (1 - s) * 0.1, 14 * (1 - s) * 0.1, 14 * s * 0.12], rtol=1e-12)
    np.testing.assert_allclose(teu[0], [1e6 * (1 - s), 1e6 * (1 - s), 1e6 * s], rtol=1e-12)
    np.testing.assert_allclose(drayage, [14 * s * 2 * 5 / 1000], rtol=1e-12)
    np.testing.assert_allclose(out["intrazonal_road_tkm"], [0.06], rtol=1e-12)
    # the freight table's tkm: road = road links + drayage + intrazonal, rail = the rail link
    mode_tkm = out["tkm"][0].sum(axis=0)
    assert math.isclose(mode_tkm[MODES.index("road")], tkm[0, :2].sum() + drayage[0] + 0.06, rel_tol=1e-12)
    assert math.isclose(mode_tkm[MODES.index("rail")], tkm[0, 2], rel_tol=1e-12)


def test_links_table_of_the_shipped_network(data: F.FreightData) -> None:
    """One row per trunk way (68) by its stable id, the canal's year from its lever, a scenario's new link as
    new_links[0] between its lever's places; geometry a WKT line at places.csv coordinates."""
    new = NewLink(layer="rail", from_place="Hechi", to_place="Baise", distance_km=250.0, open_year=2028)
    levers = FreightLevers(pinglu_canal_open_year=2030, new_links=[new])
    table = run_links(data, levers).table
    assert table.schema == pl.Schema(ANALYSIS_COLUMNS["links"])
    assert table.height == 69 and table["link_id"].n_unique() == 69
    ways = pl.read_csv(DATA / "freight" / "trunk_ways.csv", comment_prefix="#")
    assert set(ways["link_id"]) | {"new_links[0]"} == set(table["link_id"])
    xy = {r["place"]: (r["lon"], r["lat"]) for r in data.places.iter_rows(named=True)}
    canal = table.filter(pl.col("link_id") == PINGLU_CANAL).row(0, named=True)
    assert (canal["mode"], canal["open_year"]) == ("inland_water", 2030)
    assert math.isclose(canal["length_km"], 134.2, rel_tol=1e-12)  # the OSM loader spreads km over segments
    assert {canal["from_place"], canal["to_place"]} == {"Pingtang", "QinzhouPort"}
    added = table.filter(pl.col("link_id") == "new_links[0]").row(0, named=True)
    assert (added["from_place"], added["to_place"], added["open_year"], added["length_km"]) == (
        "Hechi",
        "Baise",
        2028,
        250.0,
    )
    for row in table.iter_rows(named=True):
        match = re.fullmatch(r"LINESTRING \((.+)\)", row["geometry"])
        assert match, row["geometry"]
        points = [tuple(map(float, p.split())) for p in match.group(1).split(", ")]
        assert points == [xy[row["from_place"]], xy[row["to_place"]]], row
        way = ways.filter(pl.col("link_id") == row["link_id"])
        if way.height:  # ends are the way's places (in either order: the ways are two-way)
            assert {row["from_place"], row["to_place"]} == {way["from"][0], way["to"][0]}
            assert math.isclose(row["length_km"], way["distance_km"][0], rel_tol=1e-12)
            assert math.isclose(row["inside_km"], way["inside_km"][0], rel_tol=1e-12, abs_tol=1e-12)


def test_link_tkm_adds_up_to_the_freight_table(data: F.FreightData) -> None:
    """Member 0, every mode and year (canal open from 2026): the links' tkm of a mode equal table freight's tkm of the
    mode to 1e-9, road after adding the road tkm on no link (drayage at terminals, intrazonal freight). Only member 0
    is kept; the canal carries nothing before it opens; TEU only where containers go."""
    years = np.arange(2020, 2031)
    levers = FreightLevers(pinglu_canal_open_year=2026)
    arrays = freight_arrays(data, levers, {}, years, 2)
    result = F.freight_result(data, levers, arrays, years)
    assert LINK_FLOW_MEMBERS == 1 and set(result.link_flows["member"]) == {0}
    assert result.link_flows.schema == pl.Schema(RESULT_COLUMNS["link_flows"])
    assert result.link_flows.height == len(years) * result.links.height
    by_mode = (
        result.link_flows.join(result.links.select("link_id", "mode"), on="link_id")
        .group_by("year", "mode")
        .agg(pl.col("tkm_bn").sum().alias("links"))
    )
    table = result.freight.filter(pl.col("member") == 0).group_by("year", "mode").agg(pl.col("tkm_bn").sum())
    joined = table.join(by_mode, on=["year", "mode"], how="left").sort("year", "mode")
    assert joined.height == len(years) * len(MODES)
    for row in joined.iter_rows(named=True):
        comparable = row["tkm_bn"]
        if row["mode"] == "road":
            y = int(row["year"]) - 2020
            comparable -= arrays.drayage_tkm_bn[0, y] + arrays.intrazonal_tkm_bn[0, y]
            assert arrays.drayage_tkm_bn[0, y] > 0 and arrays.intrazonal_tkm_bn[0, y] > 0
        assert math.isclose(row["links"], comparable, rel_tol=1e-9), row
    canal = result.link_flows.filter(pl.col("link_id") == PINGLU_CANAL).sort("year")
    assert (canal.filter(pl.col("year") < 2026)["tonnes_mt"] == 0).all()
    assert (canal.filter(pl.col("year") >= 2026)["tonnes_mt"] > 0).all()
    # the canal's tonnes are the capacity element's (its capacity group is the one way)
    element = result.capacity_flows.filter((pl.col("member") == 0) & (pl.col("element") == "Pinglu Canal")).sort("year")
    np.testing.assert_allclose(canal["tonnes_mt"].to_numpy(), element["tonnes_mt"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(canal["teu"].to_numpy(), element["teu"].to_numpy(), rtol=1e-12)
    # chunks: the slice holding member 0 carries links and link_flows, the others neither
    first, second = freight_members(result, 0, 1), freight_members(result, 1, 2)
    assert first.links.height == 68 and first.link_flows.equals(result.link_flows)
    assert second.links.height == 0 and second.link_flows.height == 0


def test_a_way_of_several_segments_is_drawn_through_its_nodes_in_order() -> None:
    """A real OSM way has many segments, listed in any order and direction: the line walks them end to end."""
    assert _chain([(5, 7)]) == [5, 7]
    assert _chain([(2, 3), (1, 2), (3, 4)]) == [1, 2, 3, 4]
    assert _chain([(2, 3), (2, 1)]) == [3, 2, 1]
    assert _chain([(1, 2), (2, 3), (3, 1)]) == [1, 2, 3]  # a ring: the nodes once each, in first-seen order


def test_sea_tkm_count_no_km_of_the_guangzhou_asean_lane() -> None:
    """Scope and definitions: sea tkm are the sea legs of shipments through the Beibu Gulf ports; the Guangzhou-ASEAN
    lane (inside_km 0) adds tonnes on its link but no tkm to Guangxi's sea tkm; the Beibu lanes add their whole km."""
    from transport.freight.assignment import statistical_km

    data = F.calibrate_freight(F.load_freight_data(DATA))
    graph = year_graph(data, FreightLevers(), 2020)
    km = statistical_km(graph)
    sea = MODES.index("sea")
    names = graph.el_name.astype(str)
    assert km[names == "Guangzhou-ASEAN sea lane", sea].max() == 0.0
    assert km[names == "Qinzhou-ASEAN sea lane", sea].min() == 2000.0
