"""Freight result frames in the contract's columns and the result handed to the coupling."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from transport.freight.names import COMMODITIES, MODES, PORTS
from transport.tables import label_series


@dataclass
class FreightResult:
    """Result frames in the contract's columns and the truck hand-off to fleets."""

    freight: pl.DataFrame
    railsea: pl.DataFrame
    truck_vkt_bn: dict[str, np.ndarray]
    msa_gap: np.ndarray  # (years,) relative gap at the end of each year's MSA
    port_mt: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (M, years, C) Beibu Gulf throughput


def _freight_frame(tonnes: np.ndarray, tkm: np.ndarray, years: np.ndarray) -> pl.DataFrame:
    m, y, c, k = tonnes.shape
    grid = np.indices((m, y, c, k)).reshape(4, -1)
    return pl.DataFrame(
        {
            "member": grid[0].astype(np.int32),
            "year": years[grid[1]].astype(np.int32),
            "mode": label_series("mode", MODES, grid[3]),
            "commodity": label_series("commodity", COMMODITIES, grid[2]),
            "tonnes_mt": tonnes.reshape(-1),
            "tkm_bn": tkm.reshape(-1),
        }
    )


def _railsea_frame(teu: np.ndarray, years: np.ndarray) -> pl.DataFrame:
    m, y, p = teu.shape
    grid = np.indices((m, y, p)).reshape(3, -1)
    return pl.DataFrame(
        {
            "member": grid[0].astype(np.int32),
            "year": years[grid[1]].astype(np.int32),
            "port": label_series("port", list(PORTS), grid[2]),
            "teu": teu.reshape(-1),
        }
    )
