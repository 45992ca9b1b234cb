"""Export one stored run for GIS and report writers: the freight network with member 0's flows and the cities with
their green-trip shares as GeoPackage layers or GeoParquet files (EPSG:4326), or every table in an Excel workbook.

The files are written into a hidden folder beside DIR and renamed into place when complete: an interrupted or failed
export leaves no half-written folder. Member 0 (the central estimate) is exported: an ensemble's other members would
not fit a spreadsheet (1,048,576 rows a sheet) and are in the store for SQL.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import geopandas as gpd
import polars as pl
import shapely

from runs.scenario_diff import scenario_from_toml
from runs.store import ResultsStore
from transport.cities import PREFECTURE_SHAPES, load_prefecture_shapes
from transport.errors import StoreError
from transport.result_tables import ANALYSIS_COLUMNS, RESULT_COLUMNS
from transport.urban.names import EBIKE, GREEN_MODES

FORMATS = ("gpkg", "geoparquet", "xlsx")
CRS = "EPSG:4326"
EXCEL_MAX_ROWS = 1_048_575  # a sheet's rows less its header


def run_tables(store: ResultsStore, run_id: str) -> dict[str, pl.DataFrame]:
    """The stored tables of one run (every Parquet part), member 0 only where there are members."""
    store.check_readable()
    folder = store.runs_dir / run_id
    if run_id.startswith(("_", ".")) or "/" in run_id or not (folder / "runs.parquet").is_file():
        raise StoreError(
            store.db_path,
            "--run",
            run_id,
            'a stored run id (list them: transport query "select run_id, scenario from runs")',
        )
    out = {}
    for name in ("runs", *RESULT_COLUMNS, *ANALYSIS_COLUMNS):
        parts = sorted(folder.glob(f"{name}.parquet")) + sorted(folder.glob(f"{name}.*.parquet"))
        if not parts:
            continue
        frame = pl.concat([pl.read_parquet(p) for p in parts], how="diagonal_relaxed")
        out[name] = frame.filter(pl.col("member") == 0) if "member" in frame.columns else frame
    return out


def network_layers(tables: dict[str, pl.DataFrame]) -> dict[str, gpd.GeoDataFrame]:
    """`links` (one line per link) and `link_flows` (one line per link and year, member 0), EPSG:4326."""
    if "links" not in tables or tables["links"].height == 0:
        return {}
    links = tables["links"].drop("run_id", strict=False)
    out = {"links": _geo(links)}
    if "link_flows" in tables:
        flows = tables["link_flows"].drop("run_id", "member", strict=False)
        out["link_flows"] = _geo(flows.join(links, on="link_id", how="left"))
    return out


def city_layer(tables: dict[str, pl.DataFrame]) -> gpd.GeoDataFrame | None:
    """One feature per city and year of the urban model (member 0) with its green-trip share on the Ministry of
    Transport definition (transport.urban.names.GREEN_MODES) and with e-bikes counted too, and its road energy, oil
    and CO2 (table city_road) with its GB/T 2260 code: the city's boundary
    (MultiPolygon, cities/prefectures.geojson of the run's dataset), or its point (freight/places.csv) in a dataset
    without boundaries."""
    urban = tables.get("urban")
    if urban is None or urban.height == 0:
        return None
    shares = (
        urban.group_by("city", "year")
        .agg(
            pl.col("share").filter(pl.col("mode").is_in(GREEN_MODES)).sum().alias("green_trip_share"),
            pl.col("share")
            .filter(pl.col("mode").is_in([*GREEN_MODES, EBIKE]))
            .sum()
            .alias("green_trip_share_with_ebike"),
        )
        .sort("city", "year")
    )
    road = tables.get("city_road")
    if road is not None and road.height:  # the city's road energy, oil and CO2 of the same year (member 0)
        columns = ["city", "year", "city_code", "energy_pj", "oil_mt", "co2_ttw_mt", "co2_wtw_mt"]
        shares = shares.join(road.filter(pl.col("member") == 0).select(columns), on=["city", "year"], how="left")
    scenario = scenario_from_toml(tables["runs"]["scenario_toml"][0], "runs.scenario_toml")
    if (scenario.dataset_path() / PREFECTURE_SHAPES).is_file():
        shapes = load_prefecture_shapes(scenario.dataset_path())
        parts = [shapely.multipolygons(shapely.get_parts(g)) for g in shapes.geometry]
        outlines = dict(zip(shapes["city"], parts, strict=True))
        shaped = shares.filter(pl.col("city").is_in(list(outlines)))
        geometry = [outlines[city] for city in shaped["city"].to_list()]
        return gpd.GeoDataFrame(shaped.to_pandas(), geometry=geometry, crs=CRS)
    places = pl.read_csv(scenario.dataset_path() / "freight" / "places.csv", comment_prefix="#")
    points = places.select(pl.col("place").str.to_lowercase().alias("city"), "lon", "lat")
    located = shares.join(points, on="city", how="inner").sort("city", "year")
    geometry = shapely.points(located["lon"].to_numpy(), located["lat"].to_numpy())
    return gpd.GeoDataFrame(located.drop("lon", "lat").to_pandas(), geometry=geometry, crs=CRS)


def _geo(frame: pl.DataFrame) -> gpd.GeoDataFrame:
    geometry = shapely.from_wkt(frame["geometry"].to_numpy())
    return gpd.GeoDataFrame(frame.drop("geometry").to_pandas(), geometry=geometry, crs=CRS)


def export_run(store: ResultsStore, run_id: str, fmt: str, out: Path) -> list[Path]:
    """Write the run's export into the new or empty folder `out`; returns the files written."""
    if fmt not in FORMATS:
        raise StoreError("--format", "format", fmt, f"one of {', '.join(FORMATS)}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise StoreError(out, "DIR", str(out), "a new or empty folder (nothing is overwritten)")
    tables = run_tables(store, run_id)
    staging = out.parent / f".{out.name}.export-{os.getpid()}"
    try:
        staging.mkdir(parents=True)
        written = _write(tables, fmt, staging, run_id)
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except OSError as exc:
        raise StoreError(out, "DIR", str(out), f"a folder the export can be written to ({exc.strerror})") from None
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)
    return [out / path.name for path in written]


def _write(tables: dict[str, pl.DataFrame], fmt: str, folder: Path, run_id: str) -> list[Path]:
    if fmt == "xlsx":
        path = folder / f"{run_id}.xlsx"
        too_big = [name for name, frame in tables.items() if frame.height > EXCEL_MAX_ROWS]
        if too_big:
            raise StoreError("--format", "xlsx", ", ".join(too_big), f"tables of at most {EXCEL_MAX_ROWS} rows")
        import xlsxwriter

        # the stored times are UTC: Excel has no time zones, so they are written as UTC wall-clock times
        with xlsxwriter.Workbook(path, {"remove_timezone": True}) as workbook:
            for name, frame in tables.items():
                # nested or object columns (none today) would not fit a cell: written as their text
                frame.write_excel(workbook, worksheet=name[:31], autofit=True)
        return [path]
    layers = network_layers(tables)
    cities = city_layer(tables)
    if cities is not None:
        layers["cities"] = cities
    if not layers:
        raise StoreError("--run", "run", run_id, "a run with a freight network or city results to map")
    if fmt == "gpkg":
        path = folder / f"{run_id}.gpkg"
        for name, layer in layers.items():
            layer.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
        return [path]
    written = []
    for name, layer in layers.items():
        path = folder / f"{name}.parquet"
        layer.to_parquet(path)
        written.append(path)
    return written
