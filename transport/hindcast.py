"""Hindcast: the model's years 2017-2025 set against published statistics (transport validate-history).

Each published series is matched to an expression over the result tables. A fact is in-sample when it was used to fit
a parameter (base year 2020 and earlier only) and out-of-sample otherwise; facts after 2020 are never used for fitting.
Tolerances for out-of-sample errors are stated (with reasons) in TOLERANCES and in the dataset README.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from transport.tables import Column, TableSpec, read_table

FACTS_SPEC = TableSpec(
    name="history facts",
    columns=(
        Column("fact_id", "int", min=0),
        Column("series", "str"),
        Column("year", "int", min=2000, max=2060),
        Column("value", "float", min=0),
        Column("unit", "str"),
        Column("in_sample", "str", allowed=frozenset({"true", "false"})),
        Column("definition_note", "str"),
        Column("source_url", "str"),
    ),
    key=("series", "year"),
)

Tables = Mapping[str, pl.DataFrame]


def _by_year(frame: pl.DataFrame, value: pl.Expr) -> pl.DataFrame:
    return frame.filter(pl.col("member") == 0).group_by("year").agg(value.alias("modelled")).sort("year")


def _railsea_teu(t: Tables) -> pl.DataFrame:
    return _by_year(t["railsea"], pl.col("teu").sum())


def _waterway_tkm(t: Tables) -> pl.DataFrame:
    water = t["freight"].filter(pl.col("mode").is_in(["inland_water", "sea"]))
    return _by_year(water, pl.col("tkm_bn").sum() * 1e9)


def _waterway_t(t: Tables) -> pl.DataFrame:
    water = t["freight"].filter(pl.col("mode").is_in(["inland_water", "sea"]))
    return _by_year(water, pl.col("tonnes_mt").sum() * 1e6)


def _nev_stock(t: Tables) -> pl.DataFrame:
    nev = t["fleet"].filter(pl.col("powertrain").is_in(["bev", "phev", "fcev"]) & (pl.col("segment") != "motorcycle"))
    return _by_year(nev, pl.col("stock").sum())


def _nev_share_of_car_sales(t: Tables) -> pl.DataFrame:
    cars = t["fleet"].filter(pl.col("segment").is_in(["private_car", "taxi"]))
    nev = pl.col("sales").filter(pl.col("powertrain").is_in(["bev", "phev", "fcev"])).sum()
    return _by_year(cars, nev / pl.col("sales").sum())


def _city_mode_trips(city: str, mode: str) -> Callable[[Tables], pl.DataFrame]:
    def series(t: Tables) -> pl.DataFrame:
        rows = t["urban"].filter((pl.col("city") == city) & (pl.col("mode") == mode))
        return _by_year(rows, pl.col("trips_m").sum() * 1e6)

    return series


@dataclass(frozen=True)
class Series:
    """How a published series is computed from the results, and the out-of-sample tolerance (relative)."""

    compute: Callable[[Tables], pl.DataFrame]
    tolerance: float
    reason: str


SERIES: dict[str, Series] = {
    "railsea_teu": Series(_railsea_teu, 0.25, "definitions differ between counts (Beibu Gulf vs national WLSC)"),
    "waterway_freight_tkm": Series(_waterway_tkm, 0.30, "statistics include ocean shipping by Guangxi carriers"),
    "waterway_freight_t": Series(_waterway_t, 0.30, "statistics include ocean shipping by Guangxi carriers"),
    "nev_stock": Series(_nev_stock, 0.15, "registration statistics; calibrated in 2020"),
    "nev_share_of_car_sales": Series(_nev_share_of_car_sales, 0.25, "new-registration share, volatile"),
    "nanning_metro_trips": Series(_city_mode_trips("nanning", "metro"), 0.25, "metro trips vs linked rides"),
}


def load_facts(folder: Path) -> pl.DataFrame:
    """The history facts table of a dataset (history/facts.csv)."""
    return read_table(folder / "history" / "facts.csv", FACTS_SPEC)


def compare(tables: Tables, facts: pl.DataFrame) -> pl.DataFrame:
    """fact, year, published, modelled, relative error, in/out of sample, tolerance, within tolerance, source."""
    rows = []
    for fact in facts.iter_rows(named=True):
        series = SERIES.get(fact["series"])
        if series is None:
            continue
        modelled = series.compute(tables).filter(pl.col("year") == fact["year"])
        if modelled.height == 0:
            continue
        value = float(modelled["modelled"][0])
        error = value / fact["value"] - 1.0
        in_sample = fact["in_sample"] == "true"
        rows.append(
            {
                "series": fact["series"],
                "year": fact["year"],
                "published": fact["value"],
                "modelled": value,
                "error": error,
                "in_sample": in_sample,
                "tolerance": series.tolerance,
                "within": abs(error) <= series.tolerance,
                "unit": fact["unit"],
                "source_url": fact["source_url"],
            }
        )
    return pl.DataFrame(rows)
