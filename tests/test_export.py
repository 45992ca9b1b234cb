"""transport export: GIS layers (GeoPackage, GeoParquet) in EPSG:4326 and an Excel workbook that equals the stored
tables it came from (member 0); bad arguments give one line, exit 2, and create nothing."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import polars as pl
import pyogrio
import pytest
import shapely
from polars.testing import assert_frame_equal

from tests.conftest import SmallRun, run_cli


def _plan_run(small_run: SmallRun) -> str:
    folders = sorted(p.name for p in (small_run.db.parent / "runs").iterdir() if p.name.startswith("plan-"))
    return folders[-1]


def _stored(small_run: SmallRun, run_id: str, table: str) -> pl.DataFrame:
    folder = small_run.db.parent / "runs" / run_id
    parts = sorted(folder.glob(f"{table}.parquet")) + sorted(folder.glob(f"{table}.*.parquet"))
    frame = pl.concat([pl.read_parquet(p) for p in parts])
    return frame.filter(pl.col("member") == 0) if "member" in frame.columns else frame


def test_geopackage_has_the_network_with_flows_and_the_cities(small_run: SmallRun, tmp_path: Path) -> None:
    run_id = _plan_run(small_run)
    result = run_cli("export", str(tmp_path / "gis"), "--run", run_id, "--db", str(small_run.db))
    assert result.code == 0, result.stderr
    path = tmp_path / "gis" / f"{run_id}.gpkg"
    layers = dict(pyogrio.list_layers(path))
    assert layers == {"links": "LineString", "link_flows": "LineString", "cities": "MultiPolygon"}
    for layer in layers:
        assert pyogrio.read_info(path, layer=layer)["crs"] == "EPSG:4326"
    flows = gpd.read_file(path, layer="link_flows")
    stored = _stored(small_run, run_id, "link_flows")
    assert len(flows) == stored.height
    by_link = dict(zip(stored["link_id"] + stored["year"].cast(pl.Utf8), stored["tonnes_mt"], strict=True))
    for row in flows.itertuples():
        assert row.tonnes_mt == pytest.approx(by_link[f"{row.link_id}{row.year}"], rel=1e-12)
    cities = gpd.read_file(path, layer="cities")
    nanning = cities[(cities.city == "nanning") & (cities.year == 2025)].iloc[0]
    assert nanning.geometry.contains(shapely.Point(108.297, 22.806))  # Nanning's seat, in its boundary
    assert 20_000 < nanning.geometry.area * 111.32**2 * math.cos(math.radians(23)) < 24_000  # ~22,100 km2
    urban = _stored(small_run, run_id, "urban").filter((pl.col("city") == "nanning") & (pl.col("year") == 2025))
    green = urban.filter(pl.col("mode").is_in(["walk", "bicycle", "bus", "metro"]))["share"].sum()
    assert nanning.green_trip_share == pytest.approx(green, rel=1e-12)
    ebike = urban.filter(pl.col("mode") == "ebike")["share"].sum()
    assert nanning.green_trip_share_with_ebike == pytest.approx(green + ebike, rel=1e-12)
    road = _stored(small_run, run_id, "city_road").filter(
        (pl.col("city") == "nanning") & (pl.col("year") == 2025) & (pl.col("member") == 0)
    )
    assert nanning.oil_mt == pytest.approx(road["oil_mt"][0], rel=1e-12) and nanning.city_code == 450100


def test_geoparquet_layers_read_back_in_epsg_4326(small_run: SmallRun, tmp_path: Path) -> None:
    run_id = _plan_run(small_run)
    args = ["export", str(tmp_path / "gp"), "--run", run_id, "--format", "geoparquet", "--db", str(small_run.db)]
    assert run_cli(*args).code == 0
    for name in ("links", "link_flows", "cities"):
        layer = gpd.read_parquet(tmp_path / "gp" / f"{name}.parquet")
        assert layer.crs.to_epsg() == 4326 and len(layer) > 0


def test_excel_workbook_equals_the_stored_tables(small_run: SmallRun, tmp_path: Path) -> None:
    run_id = _plan_run(small_run)
    args = ["export", str(tmp_path / "xl"), "--run", run_id, "--format", "xlsx", "--db", str(small_run.db)]
    assert run_cli(*args).code == 0
    path = tmp_path / "xl" / f"{run_id}.xlsx"
    for table in ("freight", "targets", "fleet", "link_flows"):
        sheet = pl.read_excel(path, sheet_name=table)
        stored = _stored(small_run, run_id, table)
        assert sheet.columns == stored.columns  # units are in the column names (tonnes_mt, tkm_bn, ...)
        # a spreadsheet cell cannot tell an empty text from no value: both read back as null
        blank = [pl.col(c).replace("", None) for c, t in stored.schema.items() if t == pl.Utf8]
        assert_frame_equal(
            sheet.with_columns(blank), stored.with_columns(blank), check_dtypes=False, check_exact=False, rel_tol=1e-12
        )


@pytest.mark.parametrize(
    ("case", "expected"),
    [("not-empty", "a new or empty folder"), ("no-run", "a stored run id"), ("no-db", "a results database")],
)
def test_bad_exports_say_so_and_create_nothing(small_run: SmallRun, tmp_path: Path, case: str, expected: str) -> None:
    out, db, run_id = tmp_path / "out", small_run.db, _plan_run(small_run)
    if case == "not-empty":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    if case == "no-run":
        run_id = "plan-nope"
    if case == "no-db":
        db = tmp_path / "missing" / "results.duckdb"
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    result = run_cli("export", str(out), "--run", run_id, "--db", str(db))
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.code == 2 and len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before
    if case == "not-empty":
        assert (out / "notes.txt").read_text() == "mine"
