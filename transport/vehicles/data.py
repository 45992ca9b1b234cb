"""Fleet tables of a dataset folder (segments, powertrains, growth, macro, fuels, learning, history), checked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from fleets import FUELS, POWERTRAINS, SEGMENTS
from transport.errors import DatasetError
from transport.tables import Column, TableSpec, read_table, read_toml
from transport.vehicles.names import PT_SET, SEG_SET

SEGMENTS_SPEC = TableSpec(
    name="fleet segments",
    columns=(
        Column("segment", "str", allowed=SEG_SET),
        Column("base_stock_vehicles", min=0, unit="vehicles"),
        Column("vkt_km", min=0, max=300000, unit="km/vehicle/yr"),
        Column("vkt_decline_per_yr", min=0, max=0.2),
        Column("survival", "str", allowed=frozenset({"weibull", "step"})),
        Column("weibull_shape", min=0.1, max=20),
        Column("weibull_scale_yr", min=0.1, max=100, unit="yr"),
        Column("age_limit_yr", "int", min=0, max=40, unit="yr"),
        Column("km_limit_km", min=0, unit="km"),
        Column("km_enforcement", min=0, max=1),
        Column("demand_driver", "str", allowed=frozenset({"ownership", "growth"})),
        Column("activity_scales", "str", allowed=frozenset({"stock", "use"})),
        Column("charger_pool_share", min=0, max=1),
        Column("home_charging_share", min=0, max=1),
        Column("counts_for_chargers", "int", min=0, max=1),
        Column("tco_years", min=1, max=30, unit="yr"),
        Column("discount_rate", min=0, max=0.5),
        Column("liquid_fuel", "str", allowed=frozenset({"gasoline", "diesel"})),
        Column("real_world_uplift", min=0.8, max=2.0),
        Column("hist_growth_per_yr", min=-0.2, max=0.5),
    ),
    key=("segment",),
)
POWERTRAINS_SPEC = TableSpec(
    name="fleet powertrains",
    columns=(
        Column("segment", "str", allowed=SEG_SET),
        Column("powertrain", "str", allowed=PT_SET),
        Column("available", "int", min=0, max=1),
        Column("stock_share_2020", min=0, max=1),
        Column("sales_share_2020", min=0, max=1),
        Column("price_kyuan", min=0, unit="thousand yuan"),
        Column("learning_kyuan", min=0, unit="thousand yuan"),
        Column("maintenance_kyuan_yr", min=0, unit="thousand yuan/yr"),
        Column("intensity_test_mj_km", min=0, max=50, unit="MJ/km"),
        Column("phev_electric_mj_km", min=0, max=20, unit="MJ/km"),
        Column("improvement_per_yr", min=0, max=0.1),
        Column("historical_per_yr", min=0, max=0.1),
        Column("floor_ratio", min=0.1, max=1),
        Column("hist_growth_per_yr", min=-0.3, max=1.0),
        Column("lifetime_factor", min=0.3, max=2),
    ),
    key=("segment", "powertrain"),
    shares=None,
)
GROWTH_SPEC = TableSpec(
    name="fleet demand growth",
    columns=(
        Column("segment", "str", allowed=SEG_SET),
        Column("year", "int", min=2000, max=2100),
        Column("growth_per_yr", min=-0.3, max=0.5),
    ),
    key=("segment", "year"),
)
MACRO_SPEC = TableSpec(
    name="fleet macro",
    columns=(
        Column("year", "int", min=2000, max=2100),
        Column("population_m", min=1, unit="million"),
        Column("gdp_growth_per_yr", min=-0.3, max=0.5),
    ),
    key=("year",),
)
FUELS_SPEC = TableSpec(
    name="fleet fuels",
    columns=(
        Column("fuel", "str", allowed=frozenset(FUELS)),
        Column("unit", "str"),
        Column("price_yuan_per_unit", min=0),
        Column("mj_per_unit", min=0.001),
        Column("price_growth_per_yr", min=-0.2, max=0.2),
        Column("price_floor_ratio", min=0, max=1),
        Column("lhv_mj_per_kg", min=0.001),
        Column("ttw_kgco2_per_gj", min=0, max=200),
        Column("upstream_kgco2_per_gj_2020", min=0, max=400),
        Column("upstream_kgco2_per_gj_2060", min=0, max=400),
    ),
    key=("fuel",),
)
LEARNING_SPEC = TableSpec(
    name="fleet learning",
    columns=(
        Column("year", "int", min=1990, max=2100),
        Column("battery_gwh_cum", min=1e-6, unit="GWh"),
        Column("fuel_cell_mw_cum", min=1e-6, unit="MW"),
    ),
    key=("year",),
)
HISTORY_SPEC = TableSpec(
    name="fleet subsidy history",
    columns=(
        Column("year", "int", min=2000, max=2020),
        Column("bev_subsidy_share", min=0, max=1),
        Column("phev_subsidy_share", min=0, max=1),
        Column("fcev_subsidy_share", min=0, max=1),
    ),
    key=("year",),
)


@dataclass(frozen=True)
class FleetData:
    """The checked fleet tables of a dataset."""

    folder: Path
    segments: pl.DataFrame
    powertrains: pl.DataFrame
    growth: pl.DataFrame
    macro: pl.DataFrame
    fuels: pl.DataFrame
    learning: pl.DataFrame
    history: pl.DataFrame
    parameters: dict[str, Any]
    calibration: dict[str, float]

    def seg(self, name: str) -> dict[str, Any]:
        return self.segments.filter(pl.col("segment") == name).row(0, named=True)

    def pt(self, name: str, column: str) -> np.ndarray:
        """Column of powertrains.csv for a segment, in POWERTRAINS order (P,)."""
        rows = self.powertrains.filter(pl.col("segment") == name)
        lookup = dict(zip(rows["powertrain"].to_list(), rows[column].to_list(), strict=True))
        return np.array([float(lookup[p]) for p in POWERTRAINS])

    def fuel(self, fuel: str, column: str) -> float:
        return float(self.fuels.filter(pl.col("fuel") == fuel)[column][0])


# ----------------------------------------------------------------------------------------------------------- loading


def load_fleet_data(folder: Path) -> FleetData:
    """Load and check `<folder>/fleets/*` (folder = dataset root); the first problem raises a DatasetError."""
    base = Path(folder) / "fleets"
    segments = read_table(base / "segments.csv", SEGMENTS_SPEC)
    powertrains = read_table(base / "powertrains.csv", POWERTRAINS_SPEC)
    data = FleetData(
        folder=base,
        segments=segments,
        powertrains=powertrains,
        growth=read_table(base / "growth.csv", GROWTH_SPEC),
        macro=read_table(base / "macro.csv", MACRO_SPEC),
        fuels=read_table(base / "fuels.csv", FUELS_SPEC),
        learning=read_table(base / "learning.csv", LEARNING_SPEC),
        history=read_table(base / "history.csv", HISTORY_SPEC),
        parameters=read_toml(base / "parameters.toml"),
        calibration=_read_calibration(base / "calibration.toml"),
    )
    _check(data, base)
    return data


def _read_calibration(path: Path) -> dict[str, float]:
    raw = read_toml(path)
    params = raw.get("parameters", {})
    for key in ("asc_bev", "liuzhou_bonus", "asc_half_life_yr", "liuzhou_half_life_yr"):
        if not isinstance(params.get(key), int | float):
            raise DatasetError(path, f"parameters.{key}", params.get(key, "missing"), "a number")
    return {k: float(v) for k, v in params.items()}


def _check(data: FleetData, base: Path) -> None:
    missing = sorted(SEG_SET - set(data.segments["segment"].to_list()))
    if missing:
        raise DatasetError(base / "segments.csv", "segment", missing[0], f"one row per segment {sorted(SEG_SET)}")
    for seg in SEGMENTS:
        rows = data.powertrains.filter(pl.col("segment") == seg)
        if set(rows["powertrain"].to_list()) != PT_SET:
            raise DatasetError(base / "powertrains.csv", f"powertrain ({seg})", rows.height, "one row per powertrain")
        for col in ("stock_share_2020", "sales_share_2020"):
            total = float(rows[col].sum())
            if abs(total - 1.0) > 1e-6:
                raise DatasetError(base / "powertrains.csv", f"{col} ({seg})", total, "shares that sum to 1")
            bad = rows.filter((pl.col("available") == 0) & (pl.col(col) > 0))
            if bad.height:
                raise DatasetError(base / "powertrains.csv", f"{col} ({seg})", bad["powertrain"][0], "0 if unavailable")
    smoothing = data.parameters.get("ownership", {}).get("income_smoothing_years", 1)
    if not isinstance(smoothing, int) or isinstance(smoothing, bool) or smoothing < 1 or smoothing % 2 == 0:
        raise DatasetError(
            base / "parameters.toml", "ownership.income_smoothing_years", smoothing, "an odd whole number of years >= 1"
        )
    dips = data.parameters.get("covid", {}).get("vkt_dip_2020", {})
    for seg, dip in dips.items():
        if seg not in SEG_SET:
            raise DatasetError(base / "parameters.toml", "covid.vkt_dip_2020", seg, f"a segment of {sorted(SEG_SET)}")
        if not isinstance(dip, int | float) or not 0.0 <= dip <= 0.9:
            raise DatasetError(base / "parameters.toml", f"covid.vkt_dip_2020.{seg}", dip, "a share in [0, 0.9]")
    if set(data.fuels["fuel"].to_list()) != set(FUELS):
        raise DatasetError(base / "fuels.csv", "fuel", sorted(data.fuels["fuel"].to_list()), f"all of {FUELS}")
    growth_segments = set(data.growth["segment"].to_list())
    for seg in SEGMENTS:
        if seg not in growth_segments:
            raise DatasetError(base / "growth.csv", "segment", seg, "a growth path for every segment")
