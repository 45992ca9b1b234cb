"""City maps (issue 17, point 5): the prefectures' boundaries shipped with the dataset (cities/prefectures.geojson), the
choropleth drawn offline from them, and the report's two city maps, each left out when its data is not there."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import polars as pl
import pyogrio
import shapely

from runs import charts
from runs.report import city_maps, city_oil_peaks
from runs.store import ResultsStore
from tests.conftest import SmallRun
from transport.cities import PREFECTURE_SHAPES, load_prefecture_shapes, load_prefectures
from transport.scenario import DATA_DIR, DEFAULT_DATASET

DATASET = DATA_DIR / DEFAULT_DATASET
GUANGXI_KM2 = 237_600  # the region's published land area
# equal-area (Albers) projection for Guangxi, as in the derivation (cities/README.md)
ALBERS = "+proj=aea +lat_1=21 +lat_2=26 +lat_0=23.5 +lon_0=108.5 +datum=WGS84 +units=m"


def test_fourteen_valid_prefectures_in_the_table_order_with_their_codes() -> None:
    path = DATASET / PREFECTURE_SHAPES
    assert path.stat().st_size < 300_000  # simplified: data in the repository, not a GIS archive
    assert pyogrio.read_info(path)["crs"] == "EPSG:4326"
    shapes = load_prefecture_shapes(DATASET)
    prefectures = load_prefectures(DATASET)
    assert len(shapes) == 14
    assert tuple(shapes["city"]) == prefectures.cities
    assert tuple(int(c) for c in shapes["city_code"]) == prefectures.city_codes
    assert shapes.geometry.is_valid.all() and set(shapes.geom_type) <= {"Polygon", "MultiPolygon"}
    # one shared border between neighbours: no overlaps, no slivers
    assert shapely.coverage_is_valid(shapes.geometry.values)


def test_each_prefecture_contains_its_seat_and_the_area_is_guangxis() -> None:
    shapes = load_prefecture_shapes(DATASET)
    places = pl.read_csv(DATASET / "freight" / "places.csv", comment_prefix="#")
    seats = {p.lower(): shapely.Point(x, y) for p, x, y in places.select("place", "lon", "lat").iter_rows()}
    for city, geometry in zip(shapes["city"], shapes.geometry, strict=True):
        assert geometry.contains(seats[city]), city
        assert not any(geometry.contains(seats[other]) for other in shapes["city"] if other != city), city
    km2 = shapes.to_crs(ALBERS).area / 1e6
    assert abs(km2.sum() / GUANGXI_KM2 - 1) < 0.02, km2.sum()
    assert km2.min() > 3_000 and km2.max() < 40_000  # Beihai the smallest, Baise the largest


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_choropleth_renders_offline_with_grey_cities_not_modelled(tmp_path: Path) -> None:
    values = pl.DataFrame({"city": ["nanning", "liuzhou", "beihai"], "share": [0.72, 0.61, None]})
    chart = charts.city_choropleth(values, "share", "Green trips", "a tiny frame", legend="Green-trip share")
    spec = json.dumps(chart.to_dict())
    assert '"url"' not in spec  # data inline: nothing to fetch at render time
    svg, png = charts.export(chart, tmp_path, "green_trip_map")
    width, height = _png_size(png)
    assert 1000 < width < 2000 and 800 < height < 1400 and png.stat().st_size > 50_000
    text = svg.read_text(encoding="utf-8")
    assert "Nanning 南宁" in text and "72%" in text and "Fangchenggang 防城港" in text
    assert "not modelled" in text  # the legend of the grey cities (beihai's null too)


def test_choropleth_of_years_is_discrete(tmp_path: Path) -> None:
    years = pl.DataFrame({"city": ["nanning", "guilin", "hechi"], "peak_year": [2027, 2031, 2027]})
    chart = charts.city_choropleth(
        years, "peak_year", "Peaks", "years", legend="Peak year", discrete=True, missing="no peak by 2060"
    )
    colors = [layer["encoding"]["color"] for layer in chart.to_dict()["layer"] if "color" in layer.get("encoding", {})]
    color = next(c for c in colors if c["field"] == "value")
    assert color["type"] == "ordinal" and color["scale"]["domain"] == [2027, 2031]
    svg, png = charts.export(chart, tmp_path, "city_oil_peak_map")
    assert _png_size(png)[0] > 1000
    text = svg.read_text(encoding="utf-8")
    assert "2031" in text and "no peak by 2060" in text and "2027.0" not in text


class _OlderStore:
    """A results store of an older schema: no city_oil_peak view (information_schema finds none)."""

    def query(self, sql: str) -> pl.DataFrame:
        assert "information_schema" in sql, sql  # nothing else is asked when the view is missing
        return pl.DataFrame({"n": [0]})


def test_report_leaves_out_the_oil_peak_map_without_the_view() -> None:
    store: ResultsStore = _OlderStore()  # type: ignore[assignment]
    assert city_oil_peaks(store, "plan-x").height == 0
    urban = pl.DataFrame(
        {"run_id": ["plan-x"] * 2, "city": ["nanning"] * 2, "year": [2030] * 2, "mode": ["bus", "car"]},
    ).with_columns(pl.Series("share", [0.3, 0.7]))
    maps = city_maps(store, {"run_id": "plan-x", "scenario": "plan", "end_year": 2030}, urban)
    assert list(maps) == ["green_trip_map"]


def test_report_of_the_small_run_maps_the_oil_peaks_and_not_the_green_trips(small_run: SmallRun) -> None:
    """The small run ends in 2025: no green-trip share in 2030 to map; its city oil peaks are in the store."""
    store = ResultsStore(small_run.db)
    plan = store.query("select run_id from latest_runs where scenario = 'plan'")["run_id"][0]
    peaks = city_oil_peaks(store, plan)
    assert sorted(peaks["city"]) == sorted(load_prefectures(DATASET).cities)
    folder = small_run.db.parent / "charts"
    assert _png_size(folder / "city_oil_peak_map.png")[0] > 1000
    assert "Hechi 河池" in (folder / "city_oil_peak_map.svg").read_text(encoding="utf-8")
    assert not (folder / "green_trip_map.png").exists()
    body = (small_run.db.parent / "report.html").read_text(encoding="utf-8")
    assert "Road oil peak year by city (plan)" in body
    # the 2020-policies counterfactual beside it, where the plan's measures would make every city peak together
    assert _png_size(folder / "city_oil_peak_map_baseline.png")[0] > 1000
    assert "Road oil peak year by city (baseline)" in body
