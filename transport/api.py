"""The Python API for notebooks: run a scenario in memory, or load stored results, as polars frames.

    from transport import api
    tables = api.run("plan", end_year=2030)          # {"fleet": DataFrame, "energy": ..., "targets": ...}
    stored = api.load_results("out/results.duckdb")  # every stored run, the same tables plus "runs"

`run` is the model of `transport run` without the store: the same scenario loading and checks, the same dataset
calibration and the same sampling of members, so its frames equal a stored run's rows (less the run_id column).
`load_results` reads the Parquet files of a results folder directly (no DuckDB needed), keeping only published runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from transport.dataset import load_dataset, read_manifest
from transport.errors import ScenarioError, StoreError
from transport.model import simulate
from transport.result_tables import ANALYSIS_COLUMNS, RESULT_COLUMNS
from transport.scenario import load_scenario, sample_parameters

DEFAULT_SEED = 20201231  # the command line's default, so api.run and `transport run` agree


def run(
    scenario: str | Path = "baseline", *, members: int = 1, seed: int = DEFAULT_SEED, end_year: int | None = None
) -> dict[str, pl.DataFrame]:
    """Run a shipped scenario (name) or a scenario TOML (path) and return its result tables keyed by name
    (fleet, energy, freight, railsea, urban, targets, lmdi, indicators). Member 0 is the central estimate."""
    if members < 1:
        raise ScenarioError("api.run", "members", members, "an integer >= 1")
    loaded, path = load_scenario(str(scenario))
    folder = loaded.dataset_path(relative_to=path.parent)
    manifest = read_manifest(folder)
    end = loaded.years.end if end_year is None else end_year
    if not loaded.years.base < end <= manifest.last_year:
        raise ScenarioError(
            "api.run",
            "end_year",
            end,
            f"a year within the dataset's range {manifest.base_year + 1}-{manifest.last_year}",
        )
    loaded = loaded.model_copy(update={"years": loaded.years.model_copy(update={"end": end})})
    params = sample_parameters(loaded, members, seed)
    years = np.arange(loaded.years.base, end + 1)
    return simulate(loaded, load_dataset(folder), params, years, members)


def load_results(db: str | Path = "out/results.duckdb", scenario: str | None = None) -> dict[str, pl.DataFrame]:
    """Every stored table of the results folder holding `db` (the runs' Parquet files), optionally only the runs of
    one scenario: {"runs": ..., "fleet": ..., ...}. Tables the stored runs lack are empty frames with their columns."""
    root = Path(db).parent
    runs_dir = root / "runs"
    if not runs_dir.is_dir():
        raise StoreError(Path(db), "results", str(runs_dir), "a results folder; run `transport run` first")
    folders = [f for f in sorted(runs_dir.iterdir()) if f.is_dir() and not f.name.startswith("_")]
    runs = pl.concat([pl.read_parquet(f / "runs.parquet") for f in folders]) if folders else pl.DataFrame()
    if scenario is not None:
        runs = runs.filter(pl.col("scenario") == scenario) if runs.height else runs
        if runs.height == 0:
            raise StoreError(Path(db), "scenario", scenario, "a scenario with a stored run")
    wanted = set(runs["run_id"].to_list()) if runs.height else set()
    out = {"runs": runs}
    for table, columns in {**RESULT_COLUMNS, **ANALYSIS_COLUMNS}.items():
        parts = [pl.read_parquet(p) for f in folders if f.name in wanted for p in sorted(f.glob(f"{table}.*parquet"))]
        frame = (
            pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame(schema={"run_id": pl.Utf8, **columns})
        )
        out[table] = frame
    return out
