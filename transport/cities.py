"""The prefecture cities of a dataset (cities/prefectures.csv): the one owner of the city vocabulary.

Every domain that speaks of cities names them by the `city` id of this table (lower-case pinyin); their Chinese
names, GB/T 2260 codes, freight zones and census populations come from here, never restated elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from fleets import SEGMENTS
from transport.errors import DatasetError
from transport.tables import Column, TableSpec, read_table

if TYPE_CHECKING:
    import geopandas as gpd

PREFECTURES_SPEC = TableSpec(
    name="prefecture cities",
    doc="The prefecture-level cities of the province: ids, names, codes, freight zones, 2020 census population",
    key=("city",),
    columns=(
        Column("city", "str", doc="city id (lower-case pinyin), used by every domain", unique=True),
        Column("name_en", "str", doc="display name (pinyin)", unique=True),
        Column("name_zh", "str", doc="Chinese name", unique=True),
        Column("city_code", "int", doc="GB/T 2260 administrative code", min=100000, max=999999, unique=True),
        Column("freight_zone", "str", doc="the freight model's zone of the city (freight/zones.csv)", unique=True),
        Column("population_2020", unit="persons (7th census, 2020-11-01)", min=1.0, max=1e9),
    ),
)
PREFECTURES_CSV = Path("cities") / "prefectures.csv"
DRIVERS = ("population", "road_tkm", "routes")  # what splits a segment over the cities (transport.city_energy)
FLEET_SPLIT_SPEC = TableSpec(
    name="fleet split over cities",
    doc="How each fleet segment's provincial activity splits over the prefecture cities",
    key=("segment",),
    columns=(
        Column("segment", "str", allowed=frozenset(SEGMENTS), unique=True),
        Column("driver", "str", allowed=frozenset(DRIVERS)),
        Column(
            "income_elasticity", unit="1", doc="exponent of GDP per capita in the population weights", min=-3, max=3
        ),
        Column("elasticity_low", unit="1", min=-3, max=3),
        Column("elasticity_high", unit="1", min=-3, max=3),
    ),
)
FLEET_SPLIT_CSV = Path("cities") / "fleet_split.csv"


@dataclass(frozen=True)
class Prefectures:
    """The prefecture cities, in the table's order (the city axis of every per-city array)."""

    cities: tuple[str, ...]
    names_en: tuple[str, ...]
    names_zh: tuple[str, ...]
    city_codes: tuple[int, ...]
    freight_zones: tuple[str, ...]
    population_2020: np.ndarray  # (cities,) persons
    fleet_split: pl.DataFrame  # FLEET_SPLIT_SPEC rows, one per fleet segment

    def index(self, city: str) -> int:
        return self.cities.index(city)

    def code_of(self, city: str) -> int:
        return self.city_codes[self.index(city)]

    def zh_of(self, city: str) -> str:
        return self.names_zh[self.index(city)]


def load_prefectures(folder: Path) -> Prefectures:
    """Read and check cities/prefectures.csv of the dataset rooted at `folder`."""
    path = Path(folder) / PREFECTURES_CSV
    table = read_table(path, PREFECTURES_SPEC)
    if table.height == 0:
        raise DatasetError(path, "city", "no rows", "one row per prefecture city")
    return Prefectures(
        cities=tuple(table["city"].to_list()),
        names_en=tuple(table["name_en"].to_list()),
        names_zh=tuple(table["name_zh"].to_list()),
        city_codes=tuple(int(c) for c in table["city_code"].to_list()),
        freight_zones=tuple(table["freight_zone"].to_list()),
        population_2020=table["population_2020"].to_numpy().astype(float),
        fleet_split=_fleet_split(Path(folder) / FLEET_SPLIT_CSV),
    )


def _fleet_split(path: Path) -> pl.DataFrame:
    split = read_table(path, FLEET_SPLIT_SPEC)
    missing = [seg for seg in SEGMENTS if seg not in split["segment"].to_list()]
    if missing:
        raise DatasetError(path, "segment", ", ".join(missing), f"a row for every fleet segment: {', '.join(SEGMENTS)}")
    return split


PREFECTURE_SHAPES = Path("cities") / "prefectures.geojson"


def load_prefecture_shapes(folder: Path) -> gpd.GeoDataFrame:
    """The prefectures' boundaries (cities/prefectures.geojson of the dataset rooted at `folder`; source, licence
    and simplification: cities/README.md): one row per city with `city`, `city_code` and its (multi)polygon, EPSG:4326.
    geopandas is imported here, not with the module: only maps and GIS exports need it."""
    import geopandas as gpd

    path = Path(folder) / PREFECTURE_SHAPES
    if not path.is_file():
        raise DatasetError(path, "file", "missing", "the prefectures' boundaries (GeoJSON, EPSG:4326)")
    shapes = gpd.read_file(path, engine="pyogrio")
    if not {"city", "city_code"} <= set(shapes.columns) or shapes["city"].duplicated().any():
        raise DatasetError(path, "city", ", ".join(shapes.columns), "one feature per city with city and city_code")
    return shapes[["city", "city_code", "geometry"]].to_crs("EPSG:4326")
