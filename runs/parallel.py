"""Several scenarios at once: one worker process per scenario, up to the cores (`transport run` of small runs).

Each scenario is independent of the others (its own dataset, calibration, freight and members), so a worker computes
exactly the rows the run would compute in-process. Workers stage their runs sealed (`execute(publish=False)`); this
process publishes them, in the order asked, once every one has finished, so an error in any scenario publishes none
(in-process, the inputs of every scenario are checked before anything is written: here nothing is visible before
all are done). The workers relay their phases (dataset and calibration, freight, members, analyses) over a queue to
this process's progress display, and afterwards convert the report's charts (runs.report.write_report(pool=...)).

Workers are the local pool's (runs.ensemble): spawned, one compute thread each (numba and BLAS), Ctrl-C left to this
process, dead with it.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from runs.ensemble import _SpawnWithoutCtrlC, _start_worker, stop_pool
from runs.progress import RunProgress
from runs.signals import signals_held

# Scenarios run in parallel processes when a run has several, of at most this many members each (one chunk, small
# arrays: twice the memory of one scenario at most per core); bigger ensembles split their members over --workers.
PARALLEL_MAX_MEMBERS = 256
# One BLAS thread a worker: the pool already has a process per core (and the model's matrices are small: threads
# only spin, ~20 % more CPU time for freight)
_ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

_events: Any = None  # the worker's end of the phase queue (set by _start)


def cores() -> int:
    """Processors this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def scenario_processes(
    scenarios: int, members: int, chunk_size: int, workers: int | None, scheduler: str | None
) -> int:
    """Worker processes for a run's scenarios (0: in this process): with --workers and --scheduler unset, several
    scenarios of at most PARALLEL_MAX_MEMBERS members (one chunk) run one per core."""
    if workers is not None or scheduler is not None or scenarios < 2 or members > min(chunk_size, PARALLEL_MAX_MEMBERS):
        return 0
    n = min(scenarios, cores())
    return n if n >= 2 else 0


@contextlib.contextmanager
def scenario_pool(processes: int) -> Iterator[tuple[Executor, Any]]:
    """A pool of `processes` spawned workers and the queue they relay their phases on."""
    context = _SpawnWithoutCtrlC()
    events = context.Queue()
    before = {name: os.environ.get(name) for name in _ONE_THREAD}
    os.environ.update(_ONE_THREAD)  # inherited by the workers (spawned at the first submits), not by this process
    pool = ProcessPoolExecutor(
        max_workers=processes, mp_context=context, initializer=_start, initargs=(os.getpid(), events)
    )
    try:
        yield pool, events
    except BaseException:
        with signals_held():  # as runs.ensemble.executor: stop the workers now, whatever else arrives
            stop_pool(pool)
        raise
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        events.close()
        events.cancel_join_thread()
    pool.shutdown(wait=True)


def _start(parent_pid: int, events: Any) -> None:
    global _events
    _start_worker(parent_pid)
    _events = events


class _Relay:
    """The worker side of RunProgress: phases sent to the parent as (kind, label, value)."""

    def __init__(self, events: Any) -> None:
        self.events = events

    @contextlib.contextmanager
    def phase(self, label: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        start = time.perf_counter()
        self.events.put(("begin", label, total))
        yield lambda done: self.events.put(("advance", label, done))
        self.events.put(("end", label, time.perf_counter() - start))


def _run_scenario(request: Any, db: Path, run_set: str, analyses: Callable[[], Any] | None) -> str:
    """In a worker: prepare and run one scenario, leaving it sealed in staging; returns its run id."""
    from runs.execute import execute, prepare
    from runs.store import ResultsStore

    relay = _Relay(_events)
    with relay.phase(f"{Path(request.scenario).stem}: dataset and calibration"):
        prepared = prepare(request)
    store = ResultsStore(db)
    return execute(
        request,
        store,
        run_set,
        prepared,
        progress=relay,
        analyses=analyses() if analyses is not None else None,
        publish=False,
    )


def run_scenarios(
    pool: Executor,
    events: Any,
    requests: Sequence[Any],
    db: Path,
    run_set: str,
    progress: RunProgress,
    analyses: Callable[[], Any] | None = None,
) -> list[str]:
    """Run `requests` (runs.execute.RunRequest) on the pool and publish them in order; returns their run ids.

    `analyses`: a picklable factory of execute's `analyses` (called in the worker). The caller holds the store's
    writer lock. Any failure: the finished scenarios' staging folders are removed and the error raised."""
    from runs.store import ResultsStore

    progress.overlapped = True
    futures: list[Future[str]] = [pool.submit(_run_scenario, r, db, run_set, analyses) for r in requests]
    staging = ResultsStore(db).staging_dir
    try:
        pending: set[Future[str]] = set(futures)
        while pending:
            _relay_events(events, progress, 0.1)
            done, pending = wait(pending, timeout=0, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()  # the first failure raises here
        deadline = time.monotonic() + 5.0  # the last phases' ends may trail the results
        while progress.open_phases() and time.monotonic() < deadline:
            _relay_events(events, progress, 0.1)
    except BaseException:
        for future in futures:
            future.cancel()
            if future.done() and not future.cancelled() and future.exception() is None:
                shutil.rmtree(staging / future.result(), ignore_errors=True)
        raise
    run_ids = [future.result() for future in futures]
    store = ResultsStore(db)
    for run_id in run_ids:
        store.publish_sealed(run_id)
    return run_ids


def _relay_events(events: Any, progress: RunProgress, timeout: float) -> None:
    """Show the phases the workers sent: wait up to `timeout` for the first, then take all that are queued."""
    try:
        event = events.get(timeout=timeout)
        while True:
            kind, label, value = event
            if kind == "begin":
                progress.begin(label, value)
            elif kind == "advance":
                progress.advance(label, value)
            else:
                progress.end(label, value)
            event = events.get_nowait()
    except queue.Empty:
        return
