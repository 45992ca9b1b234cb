"""The `transport` command line: run, validate, validate-history, scenarios, query, report, compare."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import os
import signal
import sys
import threading
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import numpy as np
import polars as pl
import typer
from rich.console import Console

from transport.errors import UserError
from transport.levers.base import FIRST_YEAR, LAST_YEAR

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from runs.store import ResultsStore
    from transport.dataset import Dataset
    from transport.scenario import Scenario

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Guangxi transport modal-shift and fleet-electrification model.",
)


def _console_width() -> int | None:
    # a terminal (or COLUMNS) sets the width; piped output (CI logs, files) gets room for wide tables instead of
    # rich's 80-column default
    if os.environ.get("COLUMNS", "").isdigit() or sys.stdout.isatty():
        return None
    return 160


console = Console(width=_console_width())
err_console = Console(stderr=True, soft_wrap=True, highlight=False)

DEFAULT_DB = Path("out/results.duckdb")
MAX_SEED = 2**63 - 1  # the runs table stores the seed as a signed 64-bit integer
# Exit codes besides 0 and 2 (a user error): the runs are stored but the report failed; interrupted; terminated.
EXIT_REPORT_FAILED = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class Terminated(Exception):
    """SIGTERM arrived: unwind like Ctrl-C (stop workers, remove staging), then exit 143."""


class FreightMethod(StrEnum):
    """How an ensemble's freight is computed (runs.ensemble.freight_method)."""

    auto = "auto"
    exact = "exact"
    emulated = "emulated"


class LinkFlows(StrEnum):
    """Whose link flows a run stores in table link_flows (runs.ensemble.LINK_FLOWS)."""

    member0 = "member0"
    all = "all"


DbOption = Annotated[Path, typer.Option("--db", help="Results database (views over per-run Parquet files)")]


@app.callback()
def _diagnostics(
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            help="Diagnostics on stderr: -v calibration residuals and phase timings, -vv every year's MSA gap",
        ),
    ] = 0,
) -> None:
    """Guangxi transport modal-shift and fleet-electrification model."""
    level = (logging.WARNING, logging.INFO)[verbose] if verbose < 2 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)


def _ensemble_analyses(
    seed: int,
) -> Callable[[Scenario, Dataset, Mapping[str, np.ndarray], dict[str, pl.DataFrame]], dict[str, pl.DataFrame]]:
    """Global sensitivity of the headline targets, its bootstrap seeded from the run's seed, and scenario discovery
    (PRIM boxes where a target is missed; no randomness), for ensembles of >= 101 members (empty tables otherwise):
    equal seeds give equal rows however the members are split."""
    from transport.analysis.discovery import target_discovery
    from transport.analysis.sensitivity import target_sensitivity

    def analyses(
        scenario: Scenario, _dataset: Dataset, params: Mapping[str, np.ndarray], tables: dict[str, pl.DataFrame]
    ) -> dict[str, pl.DataFrame]:
        sampled = [name for name, spec in sorted(scenario.uncertain.items()) if not isinstance(spec, float | int)]
        return {
            "sensitivity": target_sensitivity(tables["targets"], params, sampled, seed=seed),
            "discovery": target_discovery(tables["targets"], params, sampled),
        }

    return analyses


@app.command()
def run(
    scenarios: Annotated[
        list[str] | None, typer.Argument(help="Shipped scenario names or TOML paths (default: all)")
    ] = None,
    db: DbOption = DEFAULT_DB,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for charts and the report (default: db folder)")
    ] = None,
    members: Annotated[int, typer.Option("--members", min=1, help="Monte Carlo members (member 0 is central)")] = 1,
    seed: Annotated[
        int, typer.Option("--seed", min=0, max=MAX_SEED, help="Base seed of the uncertain parameters (0..2**63-1)")
    ] = 20201231,
    end_year: Annotated[
        int | None,
        typer.Option("--end-year", min=FIRST_YEAR, max=LAST_YEAR, help="Last simulated year (default: scenario's)"),
    ] = None,
    charts: Annotated[bool, typer.Option("--charts/--no-charts", help="Write charts and the report afterwards")] = True,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=0,
            help="Local worker processes for the members (0: run in-process; default: several scenarios of at most "
            "256 members run at once, one process each up to the cores, else in-process)",
            show_default=False,
        ),
    ] = None,
    chunk_size: Annotated[
        int,
        typer.Option(
            "--chunk-size",
            min=1,
            help="Most members per chunk (bounds memory; with --workers, smaller chunks so every worker gets one)",
        ),
    ] = 2000,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="Address of a Dask scheduler")] = None,
    freight: Annotated[
        FreightMethod,
        typer.Option(
            "--freight",
            help="Freight of ensembles: the exact assignment, or an emulator fitted on exact runs (its validation "
            "error is stored); auto emulates above 256 members",
        ),
    ] = FreightMethod.auto,
    link_flows: Annotated[
        LinkFlows,
        typer.Option(
            "--link-flows",
            help="Link flows stored per member: member 0's (default; exact ensembles also store their quantiles over "
            "the members), or every member's (exact freight only)",
        ),
    ] = LinkFlows.member0,
) -> None:
    """Run scenarios and store their results (every run appears whole or not at all)."""
    from concurrent.futures.process import BrokenProcessPool

    from runs import preflight
    from runs.ensemble import check_link_flows, executor, freight_method
    from runs.execute import RunRequest, execute, prepare
    from runs.parallel import run_scenarios, scenario_pool, scenario_processes
    from runs.progress import RunProgress
    from runs.store import ResultsStore, check_writable_folder
    from transport.errors import RunError
    from transport.scenario import load_scenario, shipped_scenarios

    names = scenarios or list(shipped_scenarios())
    # several small scenarios: one process each (as many at once as cores), the members of each in that process
    processes = scenario_processes(len(names), members, chunk_size, workers, scheduler)
    workers = workers or 0
    if workers > 0 and scheduler is None:
        # a 2,000-member run was one 2,000-member chunk, run in-process while the workers idled
        chunk_size = min(chunk_size, -(-members // workers))
    requests = [
        RunRequest(name, members, seed, end_year, chunk_size, freight.value, link_flows.value) for name in names
    ]
    check_link_flows(link_flows.value, freight_method(freight.value, members))
    store = ResultsStore(db)
    report_dir = out or db.parent
    # arguments first (seconds), then the inputs (prepare); nothing is written or allocated before both pass
    store.check_target()
    if charts:
        check_writable_folder(report_dir, "--out")
    if scheduler is not None:
        preflight.check_scheduler(scheduler)
    years = [(end_year or s.years.end) - s.years.base + 1 for s, _ in (load_scenario(n) for n in names)]
    exact = freight_method(freight.value, members) == "exact"
    preflight.check_memory(members, max(years), chunk_size, 0 if scheduler else max(workers, processes), exact)
    every = link_flows.value == "all"
    preflight.check_disk(db.parent, sum(preflight.results_bytes(members, y, every) for y in years), "--db folder")
    if charts:
        preflight.check_disk(report_dir, preflight.REPORT_BYTES, "--out")
        if db.exists():
            store.connect().close()  # the report reads the store: fail now, not after the runs are stored
    with (
        RunProgress(console, err_console if sys.stderr.isatty() else None) as progress,
        contextlib.ExitStack() as scenario_workers,
    ):
        # scenario workers (runs.parallel) run the scenarios, then draw the report's charts
        report_pool, events = scenario_workers.enter_context(scenario_pool(processes)) if processes else (None, None)
        prepared = []
        for request in [] if processes else requests:  # every input is checked before anything is written
            with progress.phase(f"{Path(request.scenario).stem}: dataset and calibration"):
                prepared.append(prepare(request))
        run_set = dt.datetime.now(dt.UTC).strftime("set-%Y%m%dT%H%M%S%fZ")
        run_ids: list[str] = []
        warming: threading.Thread | None = None
        kind = "local" if workers > 0 else "sequential"
        try:
            if report_pool is not None:
                # each worker checks and prepares its scenario; the runs are published together once all are done,
                # so an error in any publishes none. Meanwhile this process gets the report ready.
                if charts:
                    warming = threading.Thread(target=_warm_up_report, name="report-warm-up", daemon=True)
                    warming.start()
                with store.writer():
                    analyses = functools.partial(_ensemble_analyses, seed)
                    run_ids = run_scenarios(report_pool, events, requests, db, run_set, progress, analyses)
            else:
                with store.writer(), executor(kind, workers or None, scheduler) as pool:
                    for request, prep in zip(requests, prepared, strict=True):
                        run_ids.append(
                            execute(
                                request,
                                store,
                                run_set,
                                prep,
                                progress=progress,
                                pool=pool,
                                analyses=_ensemble_analyses(seed),
                            )
                        )
        except BrokenProcessPool:
            raise RunError(
                "--workers",
                "worker process",
                "died",
                "workers that stay up (killed by the system, out of memory?); nothing was published; try fewer "
                "--workers or a smaller --chunk-size",
            ) from None
        except OSError as exc:
            if scheduler is None:
                raise
            raise RunError(
                "--scheduler",
                "scheduler",
                scheduler,
                f"a Dask scheduler that stays up for the run (lost: {exc}); nothing was published; check it and run "
                "again",
            ) from None
        for run_id in run_ids:
            console.print(f"stored run {run_id}")
        if charts:
            from runs.report import write_report

            if warming is not None:
                warming.join()
            try:
                with progress.phase("charts and report"):
                    written = write_report(store, report_dir, run_ids, pool=report_pool)
            except (UserError, OSError) as exc:
                reason = exc.one_line() if isinstance(exc, UserError) else f"{exc.filename}: {exc.strerror}"
                err_console.print(
                    f"error: the runs are stored but the report was not written ({reason}); write it with "
                    "`transport report` (running again would store the runs twice)",
                    markup=False,
                )
                raise typer.Exit(EXIT_REPORT_FAILED) from None
            console.print(f"report: {written} (and report.pdf)")
    progress.print_summary()
    _print_verdicts(store, run_ids)


def _warm_up_report() -> None:
    from runs.report import warm_up

    warm_up()


def _print_verdicts(store: ResultsStore, run_ids: list[str]) -> None:
    """The headline verdicts of the runs: one row per scenario and target, value, verdict, margin, probability."""
    from runs.output import print_table
    from runs.report import verdict_rows

    with store.reading():
        columns, rows = verdict_rows(store, run_ids)
    print_table(console, columns, rows, title="Verdicts (central member; P = share of members meeting the target)")


def _unmodelled(year: int, base_year: int) -> str:
    return "before base year" if year < base_year else "not modelled"


@app.command("validate-history")
def validate_history(
    scenario: Annotated[str, typer.Option("--scenario", help="Scenario run from the 2020 base")] = "baseline",
    db: DbOption = DEFAULT_DB,
) -> None:
    """Run a scenario from the 2020 base and set it against every published fact in the dataset's history table;
    prints and stores (table `hindcast`) published, modelled, error, in/out of sample and tolerance."""
    from runs.execute import RunRequest, execute, prepare
    from runs.store import ResultsStore
    from transport.analysis import hindcast

    probe = prepare(RunRequest(scenario))
    facts = hindcast.load_facts(probe[2].folder)
    end = max(hindcast.last_fact_year(facts), probe[0].years.base + 1)
    request = RunRequest(scenario, members=1, end_year=end)
    prepared = prepare(request)
    store = ResultsStore(db)
    run_set = dt.datetime.now(dt.UTC).strftime("hindcast-%Y%m%dT%H%M%S%fZ")
    table: list = []

    def analyses(
        _scenario: Scenario, _dataset: Dataset, _params: Mapping[str, np.ndarray], tables: dict[str, pl.DataFrame]
    ) -> dict[str, pl.DataFrame]:
        table.append(hindcast.compare(tables, facts))
        return {"hindcast": table[0]}

    with store.writer():
        run_id = execute(request, store, run_set, prepared, analyses=analyses)
    from runs.output import print_table
    from runs.report import hindcast_table

    shown, summary = hindcast_table(table[0], prepared[0].years.base)
    print_table(console, shown.columns, shown.rows())
    console.print(summary, markup=False)
    console.print(f"stored run {run_id}")


@app.command()
def seek(
    targets: Annotated[str, typer.Option("--targets", help="Comma list of railsea, green, oil")] = "railsea,green,oil",
    levers: Annotated[
        str | None, typer.Option("--levers", help="Comma list of domain.lever year-path levers (default: all)")
    ] = None,
    base: Annotated[str, typer.Option("--base", help="Scenario to start from (name or TOML path)")] = "baseline",
    db: DbOption = DEFAULT_DB,
    write: Annotated[
        Path | None, typer.Option("--write", help="Scenario TOML to write (default: seek_<base>.toml beside --db)")
    ] = None,
    robust: Annotated[
        float | None,
        typer.Option(
            "--robust",
            help="Also seek the least change meeting each target with probability >= P over --members members "
            "(0 < P < 1); the written scenario is then the robust one",
        ),
    ] = None,
    members: Annotated[
        int, typer.Option("--members", help="Ensemble members of --robust (>= 2; member 0 is central)")
    ] = 1,
    seed: Annotated[
        int, typer.Option("--seed", min=0, max=MAX_SEED, help="Seed of the --robust members, as in `transport run`")
    ] = 20201231,
) -> None:
    """Search lever ranges for settings that meet the targets with the least change from the base scenario; print
    and store (table `seek`) the settings, which targets bind, and each target's smallest single-lever change;
    write the settings as a scenario TOML and store its run (run it again with `transport run FILE`). With
    --robust P --members N also the least changes meeting each target in a share >= P of N members (the same
    sampled members for every lever value), stored beside the others with the probability reached."""

    import time

    from runs.execute import RunRequest, execute, prepare
    from runs.store import ResultsStore
    from transport.analysis import seek as seeking
    from transport.errors import ScenarioError
    from transport.scenario import raw_with_parents, sample_parameters

    wanted = [t.strip() for t in targets.split(",") if t.strip()]
    for name in wanted:
        if name not in seeking.TARGETS:
            raise ScenarioError("--targets", "target", name, f"one of {', '.join(seeking.TARGETS)}")
    available = seeking.knobs()
    chosen = [k.strip() for k in levers.split(",")] if levers else list(available)
    for name in chosen:
        if name not in available:
            raise ScenarioError("--levers", "lever", name, f"a year-path lever: {', '.join(available)}")
    if robust is not None and not 0.0 < robust < 1.0:
        raise ScenarioError("--robust", "probability", robust, "a probability strictly between 0 and 1")
    if robust is not None and members < 2:
        raise ScenarioError("--members", "members", members, "an integer >= 2 with --robust (the ensemble)")
    if robust is None and members != 1:
        raise ScenarioError("--members", "members", members, "1 unless --robust P is given (the ensemble of it)")
    base_scenario, path, dataset = prepare(RunRequest(base))
    raw = raw_with_parents(path)
    raw.pop("description", None)
    params = sample_parameters(base_scenario, 1, 0)
    name = f"seek_{base_scenario.name}"
    started = dt.datetime.now(dt.UTC)
    with console.status("searching lever ranges (each step is a model run)"):
        result = seeking.seek(base_scenario, raw, dataset, params, wanted, chosen, name)
    found, rows = result, result.rows
    if robust is not None:
        ensemble = sample_parameters(base_scenario, members, seed)
        with console.status(f"robust search: P >= {robust:g} over {members} members (each step is an ensemble run)"):
            found = seeking.seek_robust(base_scenario, raw, dataset, ensemble, wanted, chosen, robust, name)
        rows = pl.concat([result.rows, found.rows])
    out_path = write or db.parent / f"{name}.toml"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    text = found.scenario.to_toml()
    asked = f" --robust {robust:g} --members {members} --seed {seed}" if robust is not None else ""
    out_path.write_text(
        f"# Written by `transport seek --base {base} --targets {','.join(wanted)}{asked}` on "
        f"{started:%Y-%m-%d %H:%M} UTC\n" + text,
        encoding="utf-8",
    )
    # a robust seek stores its scenario's run over the same members (exact freight, as the search computed them), so
    # table target_probability shows the probabilities it reached
    request = (
        RunRequest(str(out_path), members=1, end_year=base_scenario.years.end)
        if robust is None
        else RunRequest(str(out_path), members, seed, base_scenario.years.end, freight="exact")
    )
    store = ResultsStore(db)
    run_set = started.strftime("seek-%Y%m%dT%H%M%S%fZ")
    stored_from = time.perf_counter()
    with store.writer():
        run_id = execute(request, store, run_set, analyses=lambda *_: {"seek": rows})
    stored_seconds = time.perf_counter() - stored_from
    from runs.output import print_table
    from runs.report import SEEK_NUMERIC, seek_display

    shown = seek_display(rows)
    print_table(console, shown.columns, shown.rows(), numeric=[c in SEEK_NUMERIC for c in shown.columns])
    from runs.report import headline_rows

    for label, value in headline_rows(store, run_id):
        console.print(f"{label}: {value}")
    console.print(f"{result.evaluations} model evaluations in {result.seconds:.1f} s", markup=False)
    if robust is not None:
        console.print(
            f"robust: {found.evaluations} ensemble evaluations of {members} members in {found.seconds:.1f} s; "
            + "; ".join(f"{t} P = {p:.3f}" for t, p in found.probabilities.items())
            + f" (asked >= {robust:g})",
            markup=False,
        )
    console.print(
        f"scenario written to {out_path}; stored run {run_id} ({request.members} members, {stored_seconds:.1f} s)",
        markup=False,
    )


@app.command()
def validate(path: Annotated[Path, typer.Argument(help="A scenario TOML file or a dataset folder")]) -> None:
    """Check a scenario file (with its dataset) or a dataset folder: every check a run would hit (references,
    distances, connectivity, distributions, year paths, dates); exit 0 if valid, 2 with one line listing every
    problem if not. Tables are read, not calibrated (about a second)."""
    from transport.consistency import check_dataset, checked_inputs
    from transport.dataset import load_dataset
    from transport.errors import ScenarioError
    from transport.scenario import shipped_scenarios

    if not path.exists() and str(path) in shipped_scenarios():
        path = shipped_scenarios()[str(path)]
    if path.is_dir():
        dataset = load_dataset(path, calibrate=False)
        check_dataset(dataset)
        console.print(f"dataset {dataset.manifest.name} {dataset.manifest.version}: valid ({dataset.hash[:12]})")
        return
    if not path.exists():
        raise ScenarioError(path, "file", str(path), "an existing scenario TOML file or dataset folder")
    scenario, _file, _dataset = checked_inputs(str(path))
    console.print(f"scenario {scenario.name}: valid ({scenario.resolved_hash()[:12]})")


@app.command("scenarios")
def list_scenarios() -> None:
    """List the shipped scenarios, one line each."""
    from transport.scenario import load_scenario, shipped_scenarios

    for name in shipped_scenarios():
        scenario, _ = load_scenario(name)
        sys.stdout.write(f"{name:<12} {scenario.description}\n")


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="Read-only SQL over the result views")],
    db: DbOption = DEFAULT_DB,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
) -> None:
    """Run read-only SQL against the results (tables: runs fleet energy freight railsea urban targets lmdi
    indicators hindcast sensitivity seek; views: road_oil oil_peak target_probability latest_runs)."""
    from runs.store import ResultsStore
    from transport.errors import QueryError

    if fmt not in {"table", "csv", "json"}:
        raise QueryError("--format", "format", fmt, "one of table, csv, json")
    from runs.output import is_numeric, print_table, to_csv, to_json

    columns, types, rows = ResultsStore(db).query_cells(sql, as_json=fmt == "json")
    if fmt == "csv":
        sys.stdout.write(to_csv(columns, rows))
    elif fmt == "json":
        sys.stdout.write(to_json(rows))
    else:
        print_table(console, columns, rows, numeric=[is_numeric(t) for t in types])


@app.command()
def report(
    db: DbOption = DEFAULT_DB,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for charts and report (default: db folder)")] = None,
) -> None:
    """Write charts (SVG, PNG) and an HTML report for the latest run of each scenario."""
    from runs.report import write_report
    from runs.store import ResultsStore

    written = write_report(ResultsStore(db), out or db.parent, None)
    console.print(f"report: {written}")


class ExportFormat(StrEnum):
    gpkg = "gpkg"
    geoparquet = "geoparquet"
    xlsx = "xlsx"


@app.command()
def export(
    folder: Annotated[Path, typer.Argument(help="New or empty folder to write into")],
    run_id: Annotated[str, typer.Option("--run", help='Run id (transport query "select run_id from runs")')],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="GeoPackage, GeoParquet or Excel")] = ExportFormat.gpkg,
    db: DbOption = DEFAULT_DB,
) -> None:
    """Export one run: the freight network with flows and the cities with green-trip shares as GIS layers
    (EPSG:4326), or every table as an Excel workbook (member 0)."""
    from runs.export import export_run
    from runs.store import ResultsStore

    for path in export_run(ResultsStore(db), run_id, fmt.value, folder):
        console.print(f"wrote {path}")


@app.command()
def compare(
    scenario_a: Annotated[str, typer.Argument(help="Scenario name (its latest run)")],
    scenario_b: Annotated[str, typer.Argument(help="Scenario name (its latest run)")],
    db: DbOption = DEFAULT_DB,
) -> None:
    """Print the headline numbers of the latest runs of two scenarios and their difference (B - A)."""
    from runs.output import print_table
    from runs.report import compare_tables
    from runs.store import ResultsStore

    headlines, levers = compare_tables(ResultsStore(db), scenario_a, scenario_b)
    print_table(console, headlines.columns, headlines.rows(), title="Headline values (central member)")
    if levers.height:
        print_table(console, levers.columns, levers.rows(), title=f"Levers that differ ({scenario_a} -> {scenario_b})")
    else:
        console.print(f"No lever differs between {scenario_a} and {scenario_b}.", markup=False)


def _stop(signum: int, _frame: object) -> None:
    """The first Ctrl-C or SIGTERM unwinds the run (KeyboardInterrupt or Terminated); the ones after it are ignored
    from this moment: users press Ctrl-C twice, and a second exception raised inside the first one's unwinding (in a
    lock's wait, in the staging folder's removal) corrupts the lock or leaves the folder behind."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt if signum == signal.SIGINT else Terminated


def _exit_stopped(message: str, code: int) -> NoReturn:
    """Say why the run stopped and exit. A second Ctrl-C or SIGTERM now would land in the interpreter's shutdown
    (joining the pool's manager thread) and print a traceback or kill the process with no exit code: ignore it."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    err_console.print(f"error: {message}", markup=False)
    sys.exit(code)


def main() -> None:
    """Console-script entry: user errors become one line on stderr and exit code 2, never a traceback.

    Exit codes: 0 done; 2 a user error (bad input or argument, a store or service that cannot be used); 3 the runs
    are stored but the report failed; 130 interrupted (Ctrl-C); 143 terminated (SIGTERM). An interrupted or
    terminated run stops its workers, removes its staging folder and publishes nothing."""
    # Ctrl-C (SIGINT) always interrupts, even when started from a shell that ignores it for background jobs;
    # SIGTERM unwinds like Ctrl-C instead of killing the process where it stands (leaked semaphores, staging)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop)
    try:
        code = app(standalone_mode=False)
        # typer turns Ctrl-C into exit code 130 and, outside standalone mode, returns it instead of exiting
        if code == EXIT_INTERRUPTED:
            raise KeyboardInterrupt
        if isinstance(code, int) and code:  # typer.Exit(code) inside a command, outside standalone mode
            sys.exit(code)
    except UserError as exc:
        err_console.print(f"error: {exc.one_line()}", markup=False)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _exit_stopped("aborted", EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        _exit_stopped("interrupted; no partial run was published", EXIT_INTERRUPTED)
    except Terminated:
        _exit_stopped("terminated (SIGTERM); no partial run was published", EXIT_TERMINATED)
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument, bad option value
        err_console.print(f"error: {exc.format_message()}", markup=False)
        sys.exit(2)
    except Exception as exc:
        if _interrupted_query(exc):
            _exit_stopped("interrupted; no partial run was published", EXIT_INTERRUPTED)
        raise


def _interrupted_query(exc: Exception) -> bool:
    """Ctrl-C inside a DuckDB query: DuckDB takes the signal and raises its own error (InterruptException, or in 2.0
    a RuntimeError 'Query interrupted') instead of KeyboardInterrupt."""
    import duckdb

    return isinstance(exc, duckdb.InterruptException) or (
        isinstance(exc, RuntimeError) and str(exc).strip().lower() == "query interrupted"
    )
