"""Ensembles: identical rows whatever the chunking or executor (sequential, local processes, Dask LocalCluster),
Ctrl-C leaves no partial run, and sampled parameters follow their declared distributions."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy import stats

from runs.ensemble import executor, run_ensemble
from runs.execute import RunRequest, prepare
from tests.conftest import REPO, run_cli
from transport.analysis.discovery import missed_by_member
from transport.levers import UNCERTAIN
from transport.scenario import sample_parameters, validate_scenario_dict

MEMBERS = 5
END = 2023


@pytest.fixture(scope="module")
def plan_inputs():  # type: ignore[no-untyped-def]
    scenario, _, dataset = prepare(RunRequest("plan", end_year=END))
    params = sample_parameters(scenario, MEMBERS, seed=11)
    years = np.arange(scenario.years.base, END + 1)
    return scenario, dataset, params, years


@pytest.fixture(scope="module")
def one_chunk(plan_inputs) -> dict[str, pl.DataFrame]:  # type: ignore[no-untyped-def]
    scenario, dataset, params, years = plan_inputs
    return run_ensemble(scenario, dataset, params, years, MEMBERS, chunk_size=MEMBERS)


def _assert_same(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame], exact: bool = False) -> None:
    """Same rows in the same order; values equal, or (different chunk sizes) equal to 1e-12 relative: numpy/BLAS
    kernels may sum in a different order for arrays of another shape, which moves the last bits, nothing else."""
    assert a.keys() == b.keys()
    for name in a:
        if exact:
            assert a[name].equals(b[name]), name
        else:
            assert_frame_equal(a[name], b[name], check_exact=False, rel_tol=1e-12, abs_tol=1e-9)


def _assert_same_discovery(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame]) -> None:
    """Which members miss which target, discovery's only input besides the parameters (one draw for the run), is bit
    for bit the same, so its rows are: PRIM has no randomness and ignores the order of the members
    (tests/test_discovery.py; a run stores rows from 101 members on, too many for this test)."""
    first, second = missed_by_member(a["targets"], MEMBERS), missed_by_member(b["targets"], MEMBERS)
    assert first.keys() == second.keys() and first
    assert all(np.array_equal(first[t], second[t]) for t in first)


def test_members_differ_so_the_comparison_means_something(one_chunk: dict[str, pl.DataFrame]) -> None:
    oil = one_chunk["energy"].group_by("member").agg(pl.col("oil_mt").sum()).sort("member")["oil_mt"]
    assert oil.n_unique() == MEMBERS


def test_many_chunks_on_local_processes_equal_one_chunk(plan_inputs, one_chunk) -> None:  # type: ignore[no-untyped-def]
    scenario, dataset, params, years = plan_inputs
    with executor("local", workers=2) as pool:
        chunked = run_ensemble(scenario, dataset, params, years, MEMBERS, chunk_size=2, pool=pool)
    _assert_same(one_chunk, chunked)
    _assert_same_discovery(one_chunk, chunked)


def test_dask_local_cluster_equals_one_chunk(plan_inputs, one_chunk) -> None:  # type: ignore[no-untyped-def]
    distributed = pytest.importorskip("distributed")
    scenario, dataset, params, years = plan_inputs
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        on_dask = run_ensemble(scenario, dataset, params, years, MEMBERS, chunk_size=2, pool=client.get_executor())
    _assert_same(one_chunk, on_dask)
    _assert_same_discovery(one_chunk, on_dask)
    # the same chunks on local processes and on Dask: bit for bit
    with executor("local", workers=2) as pool:
        local = run_ensemble(scenario, dataset, params, years, MEMBERS, chunk_size=2, pool=pool)
    _assert_same(local, on_dask, exact=True)


def test_cli_scheduler_option_runs_on_a_dask_cluster(tmp_path: Path, one_chunk) -> None:  # type: ignore[no-untyped-def]
    distributed = pytest.importorskip("distributed")
    db = tmp_path / "results.duckdb"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cl:
        result = run_cli(
            "run", "plan", "--members", str(MEMBERS), "--seed", "11", "--end-year", str(END), "--chunk-size", "2",
            "--scheduler", cl.scheduler_address, "--no-charts", "--db", str(db),
        )  # fmt: skip
    assert result.code == 0, result.stderr
    con = duckdb.connect(str(db), read_only=True, config={"file_search_path": str(db.parent)})
    try:
        stored = con.sql("select member, year, segment, powertrain, stock from fleet order by all").pl()
    finally:
        con.close()
    expected = one_chunk["fleet"].select("member", "year", "segment", "powertrain", "stock").sort(pl.all())
    assert_frame_equal(stored, expected, check_exact=False, rel_tol=1e-12)


def test_ctrl_c_leaves_no_partial_run(tmp_path: Path) -> None:
    db = tmp_path / "results.duckdb"
    proc = subprocess.Popen(
        [sys.executable, "-m", "transport", "run", "plan", "--members", "40", "--chunk-size", "4", "--workers", "2",
         "--no-charts", "--db", str(db)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(8.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "no partial run" in err
    runs = tmp_path / "runs"
    assert not runs.exists() or [p.name for p in runs.iterdir() if not p.name.startswith("_")] == []


@pytest.mark.parametrize(
    "spec",
    [
        {"dist": "triangular", "low": 0.6, "mode": 1.0, "high": 1.5},
        {"dist": "normal", "mean": 1.0, "sd": 0.1},
        {"dist": "lognormal", "median": 1.0, "sigma": 0.08},
    ],
)
def test_sampled_parameter_follows_its_declared_distribution(spec: dict) -> None:
    name = "fleet_cost_sensitivity_factor"  # valid range 0.6-1.5: no clipping for these distributions
    scenario = validate_scenario_dict({"name": "ks", "uncertain": {name: spec}}, "ks.toml")
    values = sample_parameters(scenario, 801, seed=3)[name]
    dist = scenario.uncertain[name].frozen()  # type: ignore[union-attr]
    assert stats.kstest(values[1:], dist.cdf).pvalue > 0.05
    assert UNCERTAIN[name].low <= values.min() and values.max() <= UNCERTAIN[name].high
    assert values[0] == pytest.approx(scenario.uncertain[name].central())  # type: ignore[union-attr]


def test_member_0_equals_the_one_member_run_whatever_the_ensemble(plan_inputs, one_chunk) -> None:  # type: ignore[no-untyped-def]
    """Member 0 is the central estimate: its rows in every table equal a one-member run's (exact freight; members
    1..N-1 share routes among themselves, member 0 is computed alone)."""
    scenario, dataset, params, years = plan_inputs
    alone = run_ensemble(scenario, dataset, {k: v[:1] for k, v in params.items()}, years, 1, chunk_size=1)
    for name, frame in alone.items():
        if "member" not in frame.columns:
            continue
        ensemble_rows = one_chunk[name].filter(pl.col("member") == 0)
        assert_frame_equal(frame, ensemble_rows, check_exact=False, rel_tol=1e-12, abs_tol=1e-9)


def test_member_0_is_exact_beside_an_emulator(plan_inputs) -> None:  # type: ignore[no-untyped-def]
    """With emulated freight the other members come from the surface, member 0 from the exact model alone: its rows
    equal a one-member run's, and the run's network tables (links, member 0's link flows) are there."""
    from runs.ensemble import ensemble_freight

    scenario, dataset, params, years = plan_inputs
    emulated = ensemble_freight(scenario, dataset, params, years, MEMBERS, method="emulated")
    tables = run_ensemble(scenario, dataset, params, years, MEMBERS, chunk_size=2, freight=emulated)
    alone = run_ensemble(scenario, dataset, {k: v[:1] for k, v in params.items()}, years, 1, chunk_size=1)
    for name, frame in alone.items():
        if "member" in frame.columns:
            assert_frame_equal(frame, tables[name].filter(pl.col("member") == 0), check_exact=False, rel_tol=1e-12)
    assert tables["links"].height == alone["links"].height > 0
    assert set(tables["link_flows"]["member"].to_list()) == {0}


def _subset(params: dict[str, np.ndarray], rows: list[int]) -> dict[str, np.ndarray]:
    return {name: values[rows] for name, values in params.items()}


@pytest.mark.parametrize("method", ["exact", "emulated"])
def test_a_members_results_do_not_depend_on_the_members_beside_it(plan_inputs, method: str) -> None:  # type: ignore[no-untyped-def]
    """The same parameters give the same member whatever else runs: members (central, a, b, c) and (central, c, a)
    agree on a and c in every table, to 1e-9 (exact freight: shared central routes and a capacity restraint and
    base-year refit that stop member by member; emulated: a surface over the distributions' support, not over the
    members drawn). Member k of runs of different sizes is this case with k's own parameters."""
    from runs.ensemble import ensemble_freight

    scenario, dataset, params, years = plan_inputs
    runs = {}
    for rows in ([0, 1, 2, 3], [0, 3, 1]):
        chosen = _subset(params, rows)
        freight = ensemble_freight(scenario, dataset, chosen, years, len(rows), method=method)
        tables = run_ensemble(scenario, dataset, chosen, years, len(rows), chunk_size=len(rows), freight=freight)
        runs[tuple(rows)] = tables
    wide, narrow = runs[(0, 1, 2, 3)], runs[(0, 3, 1)]
    for name, frame in wide.items():
        if "member" not in frame.columns or frame.height == 0:
            continue
        for member_wide, member_narrow in ((1, 2), (3, 1)):
            a = frame.filter(pl.col("member") == member_wide).drop("member")
            b = narrow[name].filter(pl.col("member") == member_narrow).drop("member")
            assert_frame_equal(a, b, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)
