"""The urban result: the contract's `urban` frame, the hand-offs to fleets and the arrays behind them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from transport.tables import label_series
from transport.urban.names import GREEN_MODES, MODE_INDEX


@dataclass
class UrbanResult:
    """Urban results: the contract's `urban` frame, hand-offs to fleets, and the arrays behind them."""

    urban: pl.DataFrame
    vkt_bn: dict[str, np.ndarray]  # segment -> (members, years), modelled cities together
    bus_fleet_vehicles: np.ndarray  # (members, years)
    population: pl.DataFrame  # member, year, city, residents
    cities: tuple[str, ...]
    years: np.ndarray
    shares: np.ndarray  # (members, years, cities, modes)
    trips_m: np.ndarray  # (members, years, cities, modes), million trips per year
    pkm_bn: np.ndarray  # (members, years, cities, modes), billion passenger-km per year
    vkt_bn_by_city: dict[str, np.ndarray]  # segment -> (members, years, cities)
    bus_km_bn: np.ndarray  # (members, years, cities)
    bus_vehicles: np.ndarray  # (members, years, cities)
    residents: np.ndarray  # (members, years, cities)
    metro_km: np.ndarray  # (years, cities)
    asc: np.ndarray  # (members, cities, modes)
    calibration_residual: float

    def green_share_array(self, include_ebike: bool = False) -> np.ndarray:
        """Green-trip share (members, years, cities): walk + bicycle + bus + metro (+ e-bike if asked)."""
        modes = [*GREEN_MODES, "ebike"] if include_ebike else list(GREEN_MODES)
        return self.shares[..., [MODE_INDEX[m] for m in modes]].sum(axis=-1)

    def green_share(self, include_ebike: bool = False) -> pl.DataFrame:
        """Green-trip share per member, year and city: columns member, year, city, share."""
        return _long_frame(self.green_share_array(include_ebike), self.years, self.cities, "share")


def _long_frame(values: np.ndarray, years: np.ndarray, cities: Sequence[str], name: str) -> pl.DataFrame:
    m, y, c = values.shape
    return pl.DataFrame(
        {
            "member": np.repeat(np.arange(m, dtype=np.int32), y * c),
            "year": np.tile(np.repeat(np.asarray(years, dtype=np.int32), c), m),
            "city": label_series("city", cities, np.tile(np.arange(c), m * y)),
            name: values.reshape(-1).astype(float),
        },
        schema={"member": pl.Int32, "year": pl.Int32, "city": pl.Utf8, name: pl.Float64},
    )
