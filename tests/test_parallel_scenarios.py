"""Several scenarios of a small run go one per process (runs.parallel): the same rows as in-process, published
together, phases shown as they happen; errors raised in a worker reach the user as the same one line."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import pytest
from polars.testing import assert_frame_equal

from runs.parallel import PARALLEL_MAX_MEMBERS, cores, scenario_processes
from runs.report import write_report
from runs.store import TABLES, ResultsStore
from tests.conftest import SmallRun, run_cli
from transport.errors import RunError, ScenarioError

PROVENANCE = {"run_id", "run_set", "started_at", "finished_at", "code_version"}


def test_small_runs_of_several_scenarios_take_one_process_each_up_to_the_cores() -> None:
    n = min(4, cores())
    assert scenario_processes(4, 1, 2000, None, None) == (n if n >= 2 else 0)
    assert scenario_processes(1, 1, 2000, None, None) == 0  # one scenario: in-process
    assert scenario_processes(4, 1, 2000, 0, None) == 0  # --workers 0: in-process
    assert scenario_processes(4, 1, 2000, 2, None) == 0  # --workers 2: the members over the workers
    assert scenario_processes(4, 1, 2000, None, "tcp://x:8786") == 0
    assert scenario_processes(4, PARALLEL_MAX_MEMBERS + 1, 2000, None, None) == 0


def test_user_errors_cross_processes_whole() -> None:
    error = ScenarioError.collected("a.toml", [("years.end", 2070, "a year up to 2060"), ("name", "", "a name")])
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is ScenarioError and back.one_line() == error.one_line() and back.problems == error.problems
    assert str(pickle.loads(pickle.dumps(RunError("--db", "lock", "held", "one run")))) == str(
        RunError("--db", "lock", "held", "one run")
    )


@pytest.mark.skipif(cores() < 2, reason="scenarios run in parallel on 2 cores or more")
def test_scenarios_in_parallel_store_the_rows_of_a_run_in_process(tmp_path: Path) -> None:
    args = ["run", "baseline", "plan", "--end-year", "2023", "--no-charts"]
    parallel = run_cli(*args, "--db", str(tmp_path / "p" / "results.duckdb"))
    assert parallel.code == 0, parallel.stderr
    inprocess = run_cli(*args, "--workers", "0", "--db", str(tmp_path / "s" / "results.duckdb"))
    assert inprocess.code == 0, inprocess.stderr
    # phases from both workers, shown as they end, and the seconds from start to end
    for scenario in ("baseline", "plan"):
        assert f"{scenario}: freight (exact): done in" in parallel.stdout
        assert f"{scenario}: members: 1/1" in parallel.stdout
    assert "  elapsed " in parallel.stdout and "  elapsed " not in inprocess.stdout
    a, b = ResultsStore(tmp_path / "p" / "results.duckdb"), ResultsStore(tmp_path / "s" / "results.duckdb")
    assert a.query("select scenario from runs order by scenario")["scenario"].to_list() == ["baseline", "plan"]
    assert not any((tmp_path / "p" / ".staging").glob("*"))  # every staged run was published
    with a.reading():  # one connection for the queries inside (the report's ~20)
        first = a.query("select count(*) as n from runs")
        with a.reading():
            assert a.query("select count(*) as n from runs").equals(first)
    assert first["n"][0] == 2 and a._session is None
    for table in TABLES:
        sql = f"select t.* exclude (run_id), r.scenario as _scenario from {table} t join runs r using (run_id)"
        if table == "runs":
            sql = "select * from runs"
        left, right = a.query(sql), b.query(sql)
        keep = [c for c in left.columns if c not in PROVENANCE]
        keys = [c for c in keep if not left.schema[c].is_float()]
        # equal up to the last bits (two in-process runs differ there too: summation order of threaded reductions)
        assert_frame_equal(
            left.select(keep).sort(keys), right.select(keep).sort(keys), check_exact=False, rel_tol=1e-12, abs_tol=0
        )


def test_a_chart_that_cannot_go_to_a_worker_is_drawn_in_the_report_process(small_run: SmallRun, tmp_path: Path) -> None:
    class Refusing(Executor):
        def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
            future: Future[Any] = Future()
            future.set_exception(pickle.PicklingError("cannot pickle"))
            return future

    out = tmp_path / "report"
    written = write_report(ResultsStore(small_run.db), out, None, pool=Refusing())
    assert written.is_file() and (out / "report.pdf").is_file()
    drawn = {p.name for p in (out / "charts").glob("*.png")}
    assert drawn and drawn == {p.name for p in (small_run.db.parent / "charts").glob("*.png")}
