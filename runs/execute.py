"""Carrying out runs: scenario + dataset + seed -> model -> result tables with provenance -> the store."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import polars as pl

from runs.ensemble import DEFAULT_CHUNK, ensemble_freight, freight_method, run_ensemble
from runs.progress import Phases
from runs.store import ResultsStore
from transport.consistency import checked_inputs
from transport.dataset import Dataset
from transport.errors import ScenarioError
from transport.freight import calibrate_freight
from transport.freight.emulator import FreightEmulator
from transport.freight.frames import diagnostics_frame
from transport.scenario import Scenario, sample_parameters

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunRequest:
    """What the user asked for: a scenario (name or path) and the run settings."""

    scenario: str
    members: int = 1
    seed: int = 20201231
    end_year: int | None = None
    chunk_size: int = DEFAULT_CHUNK
    freight: str = "auto"  # exact | emulated | auto (runs.ensemble.freight_method)
    link_flows: str = "member0"  # member0 | all: whose link flows are stored (all: exact freight only)


@functools.cache
def code_version() -> str:
    """Package version plus the git commit (and '+dirty' for uncommitted changes) when run from a checkout."""
    try:
        version = metadata.version("guangxi-transport")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    here = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        return f"{version}+g{sha}{'.dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return version


def prepare(request: RunRequest) -> tuple[Scenario, Path, Dataset]:
    """Load and validate everything a run needs before anything is written, then calibrate the dataset."""
    scenario, path, dataset = checked_inputs(request.scenario)
    manifest = dataset.manifest
    end = request.end_year if request.end_year is not None else scenario.years.end
    if not scenario.years.base < end <= manifest.last_year:
        where = "--end-year" if request.end_year is not None else path
        raise ScenarioError(
            where, "years.end", end, f"a year within the dataset's range {manifest.base_year + 1}-{manifest.last_year}"
        )
    if end != scenario.years.end:
        scenario = scenario.model_copy(update={"years": scenario.years.model_copy(update={"end": end})})
    started = time.perf_counter()
    calibrate_freight(dataset.freight)
    log.info("dataset %s calibrated in %.1f s", dataset.folder, time.perf_counter() - started)
    return scenario, path, dataset


@contextlib.contextmanager
def _unreported(_label: str, _total: int | None = None) -> Iterator[Callable[[int], None]]:
    yield lambda _done: None


def run_id_for(scenario: Scenario, started: dt.datetime, seed: int, members: int) -> str:
    """A readable, unique run id: scenario, UTC start time, and a short hash of what makes the run."""
    stamp = started.strftime("%Y%m%dT%H%M%S%fZ")
    return f"{scenario.name}-{stamp}-{scenario.resolved_hash()[:8]}-s{seed}-m{members}"


def execute(
    request: RunRequest,
    store: ResultsStore,
    run_set: str,
    prepared: tuple[Scenario, Path, Dataset] | None = None,
    progress: Phases | None = None,
    pool: Executor | None = None,
    analyses: Callable[[Scenario, Dataset, Mapping[str, np.ndarray], dict[str, pl.DataFrame]], dict[str, pl.DataFrame]]
    | None = None,
    *,
    publish: bool = True,
) -> str:
    """Run one scenario (all members, in chunks on `pool` if given) and publish its tables; returns the run id.
    publish=False leaves the run sealed in staging, for the caller to publish (ResultsStore.publish_sealed).

    `analyses(scenario, dataset, params, tables)` returns run-level tables (hindcast, sensitivity, seek) published
    with the run, so a run and its analyses appear together or not at all. The caller holds the store's writer lock.
    `progress` shows and times the phases (freight, members, analyses)."""
    scenario, _path, dataset = prepared or prepare(request)
    phase = progress.phase if progress is not None else _unreported
    started = dt.datetime.now(dt.UTC)
    params = sample_parameters(scenario, request.members, request.seed)
    years = np.arange(scenario.years.base, scenario.years.end + 1)
    run_id = run_id_for(scenario, started, request.seed, request.members)
    # a failing step, a full disk, Ctrl-C or SIGTERM: the staging folder goes, nothing is published
    with store.stage(run_id) as staged:

        def sink(index: int, parts: Mapping[str, bytes]) -> None:
            for name, parquet in parts.items():
                staged.write_encoded(name, parquet, part=index)

        # one chunk: the analyses get every table; an ensemble in many chunks keeps only the targets in memory
        keep = None if request.members <= request.chunk_size else {"targets"}
        method = freight_method(request.freight, request.members)
        with phase(f"{scenario.name}: freight ({method})"):
            freight = ensemble_freight(scenario, dataset, params, years, request.members, method, request.link_flows)
        if isinstance(freight, FreightEmulator):
            staged.write("freight_emulator", freight.validation.with_columns(pl.lit(run_id).alias("run_id")))
        calibration = dataset.freight.calibration
        residuals = calibration.residuals if calibration is not None else {}
        diagnostics = diagnostics_frame(freight.msa_gap, years, residuals, scenario.years.base)
        staged.write("diagnostics", diagnostics.with_columns(pl.lit(run_id).alias("run_id")))
        with phase(f"{scenario.name}: members", request.members) as advance:
            tables = run_ensemble(
                scenario,
                dataset,
                params,
                years,
                request.members,
                request.chunk_size,
                pool,
                lambda done, _total: advance(done),
                sink,
                keep,
                freight,
                stamp={"run_id": run_id},
            )
        if analyses is not None:
            with phase(f"{scenario.name}: analyses"):
                for name, frame in analyses(scenario, dataset, params, tables).items():
                    staged.write(name, frame.with_columns(pl.lit(run_id).alias("run_id")))
        finished = dt.datetime.now(dt.UTC)
        runs_row = pl.DataFrame(
            {
                "run_id": [run_id],
                "run_set": [run_set],
                "scenario": [scenario.name],
                "description": [scenario.description],
                "scenario_toml": [scenario.to_toml()],
                "scenario_hash": [scenario.resolved_hash()],
                "dataset": [str(dataset.manifest.name)],
                "dataset_hash": [dataset.hash],
                "code_version": [code_version()],
                "seed": [request.seed],
                "members": [request.members],
                "freight_method": [method],
                "base_year": [scenario.years.base],
                "end_year": [scenario.years.end],
                "started_at": [started],
                "finished_at": [finished],
                "status": ["complete"],
            }
        )
        staged.write("runs", runs_row)
        if publish:
            staged.publish()
        else:
            staged.seal()
    return run_id
