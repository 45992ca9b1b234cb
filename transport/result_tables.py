"""Columns and types of the result tables every run produces (the contract of docs/CONTRACT.md).

The province model builds these frames; runs.store adds `run_id` and stores them. Kept here, below both, so the
model and the store cannot drift apart.
"""

from __future__ import annotations

import polars as pl

_KEY = {"member": pl.Int32, "year": pl.Int32}

RESULT_COLUMNS: dict[str, dict[str, pl.DataType | type[pl.DataType]]] = {
    "fleet": {
        **_KEY,
        "segment": pl.Utf8,
        "powertrain": pl.Utf8,
        "stock": pl.Float64,
        "sales": pl.Float64,
        "retirements": pl.Float64,
    },
    "energy": {
        **_KEY,
        "segment": pl.Utf8,
        "powertrain": pl.Utf8,
        "fuel": pl.Utf8,
        "energy_pj": pl.Float64,
        "oil_mt": pl.Float64,
        "co2_ttw_mt": pl.Float64,
        "co2_wtw_mt": pl.Float64,
    },
    "freight": {**_KEY, "mode": pl.Utf8, "commodity": pl.Utf8, "tonnes_mt": pl.Float64, "tkm_bn": pl.Float64},
    "railsea": {**_KEY, "port": pl.Utf8, "teu": pl.Float64},
    "urban": {**_KEY, "city": pl.Utf8, "mode": pl.Utf8, "trips_m": pl.Float64, "share": pl.Float64},
    "targets": {
        "member": pl.Int32,
        "target": pl.Utf8,
        "year": pl.Int32,
        "value": pl.Float64,
        "threshold": pl.Float64,
        "met": pl.Boolean,
        "margin": pl.Float64,
        "unit": pl.Utf8,
        "detail": pl.Utf8,
    },
    "lmdi": {"member": pl.Int32, "period": pl.Utf8, "segment": pl.Utf8, "effect": pl.Utf8, "oil_mt": pl.Float64},
}
