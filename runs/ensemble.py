"""Ensembles: members split into chunks, run sequentially, on local processes, or on a Dask cluster.

Members are a dimension of every array inside the model, so a chunk of members is one call of `transport.model.
simulate` with the parameter arrays sliced to that chunk. The parameter values come from the whole ensemble's Latin
hypercube drawn once (transport.scenario.sample_parameters), so member k gets the same values, and therefore the same
rows, whatever the chunk size or executor. Freight is computed once for the ensemble (exact, or an emulator the
chunks evaluate). Only this process writes results: chunks come back as Parquet parts it writes to the store.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import itertools
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, CancelledError, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass

import numba
import numpy as np
import polars as pl

from runs.signals import signals_held
from runs.store import encode_part
from transport.city_energy import CITY_ENERGY_MEMBERS
from transport.dataset import Dataset
from transport.errors import RunError
from transport.freight import FreightResult, freight_arrays, freight_result, simulate_freight
from transport.freight.emulator import FreightEmulator, fit_freight_emulator
from transport.levers import UNCERTAIN
from transport.model import freight_joined, freight_members, simulate
from transport.scenario import Scenario

DEFAULT_CHUNK = 2000
# Above this many members `auto` emulates freight: the exact model costs ~0.1 s a member for 2020-2060 plus ~6 s of
# routing, the emulator's design ~40 exact members once (~10 s, see transport.freight.emulator).
EMULATE_ABOVE = 256
FREIGHT_METHODS = ("auto", "exact", "emulated")
# Whose link flows a run stores (table link_flows): member 0's, or, asked for, every member's (exact freight only)
LINK_FLOWS = ("member0", "all")
# The Dask client's connect timeout, which is also how long it tries to reconnect to a lost scheduler (Dask's default
# 30 s). A run cannot go on after a loss (chunks sent before it are cancelled, chunks sent during it wait for the
# reconnection), so a longer wait only delays the error.
SCHEDULER_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Chunk:
    """Members [start, stop) of an ensemble."""

    start: int
    stop: int


def chunks(members: int, size: int) -> list[Chunk]:
    """Split `members` into consecutive chunks of at most `size`."""
    size = max(1, size)
    return [Chunk(i, min(i + size, members)) for i in range(0, members, size)]


def freight_method(requested: str, members: int) -> str:
    """`exact` or `emulated` for a run of `members` members (`auto` emulates above EMULATE_ABOVE)."""
    if requested not in FREIGHT_METHODS:
        raise ValueError(f"freight method {requested!r}: expected one of {', '.join(FREIGHT_METHODS)}")
    if requested == "auto":
        return "emulated" if members > EMULATE_ABOVE else "exact"
    return requested


def check_link_flows(link_flows: str, method: str) -> None:
    """Every member's link flows (`all`) come from the exact assignment: refused with emulated freight (RunError)."""
    if link_flows not in LINK_FLOWS:
        raise RunError("--link-flows", "link flows", link_flows, f"one of {', '.join(LINK_FLOWS)}")
    if link_flows == "all" and method == "emulated":
        raise RunError(
            "--link-flows",
            "link flows",
            link_flows,
            f"member0 with emulated freight (the emulator gives no link flows; above {EMULATE_ABOVE} members "
            "--freight auto emulates): add --freight exact to store every member's",
        )


def ensemble_freight(
    scenario: Scenario,
    dataset: Dataset,
    params: Mapping[str, np.ndarray],
    years: np.ndarray,
    members: int,
    method: str = "auto",
    link_flows: str = "member0",
) -> FreightResult | FreightEmulator:
    """Freight of the whole ensemble, computed here once: the exact result for all members, or a fitted emulator that
    each chunk evaluates for its own members.

    Member 0, the central estimate, is computed alone, exactly, also beside an emulator, so it equals a one-member
    run's whatever the ensemble, and its network tables (links, link_flows) are stored. Exact freight of members
    1..N-1 is computed together but member by member in effect: they follow the central estimate's routes and each
    stops its capacity restraint (and its base-year refit) on its own gap, so a member's freight depends only on its
    own parameters, never on which members run beside it. Emulated freight: the emulator's box is the support of
    each sampled parameter's distribution (clipped to its valid range), not the members' range, and its design is
    routed like the members, so a member's emulated freight does not depend on the others either.

    Exact ensembles also get the quantiles of the link flows over all members, member 0 included
    (link_flow_quantiles), and with `link_flows` = `all` every member's link flows (refused when emulated)."""
    levers = scenario.levers.freight
    check_link_flows(link_flows, freight_method(method, members))
    data = dataset.freight
    if members == 1 and freight_method(method, members) != "emulated":
        return simulate_freight(data, levers, params, years, 1)
    head = freight_arrays(data, levers, {k: v[:1] for k, v in params.items()}, years, 1)
    if freight_method(method, members) == "emulated":
        bounds = parameter_bounds(scenario)
        emulator = fit_freight_emulator(
            data, levers, params, years, members, bounds=bounds, route_costs=head.route_costs
        )
        return dataclasses.replace(emulator, central=freight_result(data, levers, head, years))
    kept = members - 1 if link_flows == "all" else 0
    others = {k: v[1:] for k, v in params.items()}
    tail = freight_arrays(data, levers, others, years, members - 1, kept, before=head, route_costs=head.route_costs)
    central, rest = freight_result(data, levers, head, years), freight_result(data, levers, tail, years)
    every = central.link_flows
    if link_flows == "all":  # rest's members follow member 0
        every = pl.concat([every, rest.link_flows.with_columns((pl.col("member") + 1).cast(pl.Int32))])
    return dataclasses.replace(
        freight_joined(central, rest), link_flows=every, link_flow_quantiles=rest.link_flow_quantiles
    )


def parameter_bounds(scenario: Scenario) -> dict[str, tuple[float, float]]:
    """(low, high) of every parameter the scenario samples: its distribution's support clipped to the parameter's
    valid range, as transport.scenario.sample_parameters clips the draws."""
    bounds = {}
    for name, dist in scenario.uncertain.items():
        if isinstance(dist, float | int):
            continue
        low, high = dist.frozen().support()
        bounds[name] = (max(float(low), UNCERTAIN[name].low), min(float(high), UNCERTAIN[name].high))
    return bounds


@dataclass
class EncodedChunk:
    """A chunk's tables as Parquet parts ready to store, and the tables the caller keeps in memory."""

    parts: dict[str, bytes]
    kept: dict[str, pl.DataFrame]


def run_chunk(
    scenario: Scenario,
    dataset: Dataset,
    params: Mapping[str, np.ndarray],
    years: np.ndarray,
    chunk: Chunk,
    freight: FreightResult | FreightEmulator | None = None,
    stamp: Mapping[str, str] | None = None,
    keep: Collection[str] | None = None,
) -> dict[str, pl.DataFrame] | EncodedChunk:
    """Simulate one chunk (given its members' freight, or the ensemble's freight emulator) and renumber its members
    to their ensemble index. With `stamp` (constant columns such as run_id) the tables come back encoded for the
    store (Parquet bytes travel between processes ten times faster than pickled frames), plus those named in `keep`.
    """
    sliced = {name: values[chunk.start : chunk.stop] for name, values in params.items()}
    members = chunk.stop - chunk.start
    if isinstance(freight, FreightEmulator):
        emulator = freight
        central = emulator.central if chunk.start == 0 else None
        freight = emulator.result(dataset.freight, scenario.levers.freight, sliced, members)
        if central is not None:  # member 0 exact, the others emulated
            freight = central if members == 1 else freight_joined(central, freight_members(freight, 1, members))
        elif emulator.central is not None:  # the trucks' city split follows the central estimate's road flows
            freight = dataclasses.replace(
                freight,
                city_road_tkm_bn=emulator.central.city_road_tkm_bn,
                city_zones=emulator.central.city_zones,
            )
    detail = max(0, min(members, CITY_ENERGY_MEMBERS - chunk.start))
    tables = simulate(scenario, dataset, sliced, years, members, freight=freight, city_energy_members=detail)
    tables = {
        name: frame.with_columns((pl.col("member") + chunk.start).cast(pl.Int32))
        if "member" in frame.columns
        else frame
        for name, frame in tables.items()
    }
    if stamp is None:
        return tables
    return EncodedChunk(
        {name: encode_part(name, frame, stamp) for name, frame in tables.items()},
        {name: frame for name, frame in tables.items() if keep is None or name in keep},
    )


@contextlib.contextmanager
def executor(kind: str, workers: int | None = None, scheduler: str | None = None) -> Iterator[Executor | None]:
    """`sequential` (None), `local` (a process pool) or `dask` (a client to the cluster at `scheduler`)."""
    if scheduler is not None:
        from distributed import Client

        with _quiet_distributed(), Client(scheduler, timeout=SCHEDULER_TIMEOUT_S) as client:
            try:
                yield client.get_executor()
            except CancelledError:
                # nothing here cancels a chunk: the client cancels every pending chunk when it loses the scheduler
                raise SchedulerLost("the connection closed while chunks ran") from None
    elif kind == "local":
        # spawn, not fork: polars' and BLAS' thread pools do not survive a fork (children can deadlock)
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=_SpawnWithoutCtrlC(),
            initializer=_start_worker,
            initargs=(os.getpid(),),
        )
        try:
            yield pool
        except BaseException:
            # an error, Ctrl-C or SIGTERM: do not wait for running chunks (minutes); stop the workers now, and let a
            # second Ctrl-C (users press it twice) not cut the stopping short and leave workers behind
            with signals_held():
                stop_pool(pool)
            raise
        pool.shutdown(wait=True)
    else:
        yield None


class SchedulerLost(ConnectionError):
    """The Dask scheduler went away during a run (closed, killed, unreachable): its chunks were cancelled."""


@contextlib.contextmanager
def _quiet_distributed() -> Iterator[None]:
    """The Dask client's own log lines off unless the CLI was asked for diagnostics (-v): a lost scheduler makes it
    log every reconnection attempt with a traceback, and the run reports the loss itself, in one line."""
    if logging.getLogger().getEffectiveLevel() <= logging.INFO:
        yield
        return
    names = [n for n in list(logging.root.manager.loggerDict) if n.split(".")[0] in {"distributed", "tornado"}]
    loggers = [logging.getLogger(n) for n in {"distributed", "tornado", *names}]
    levels = {logger: logger.level for logger in loggers}
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in levels.items():
            logger.setLevel(level)


class _SpawnProcessWithoutCtrlC(multiprocessing.context.SpawnProcess):
    """A spawned worker deaf to Ctrl-C from birth, so a Ctrl-C while it still imports (before its initializer runs)
    cannot print its traceback; the parent handles Ctrl-C and stops the pool.

    SIGINT is blocked, not ignored, in the spawning thread: the child inherits the blocked mask across exec, and a
    Ctrl-C that reaches the parent meanwhile stays pending and is delivered when the mask is restored (switching the
    handler to SIG_IGN would drop it, and the run would go on)."""

    def start(self) -> None:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            super().start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _SpawnWithoutCtrlC(multiprocessing.context.SpawnContext):
    Process = _SpawnProcessWithoutCtrlC


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started, terminate the worker processes and reap them (no orphans, no zombies)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h
PARENT_POLL_S = 1.0


def _start_worker(parent_pid: int) -> None:
    """Set up a pool worker: one compute thread, Ctrl-C left to the parent (which stops the pool), and exit when
    the parent dies, even by kill -9, which gives the parent no chance to stop us.

    The pool already has a process per core: the fleet engine's compiled kernel (fleets.fused) runs on one thread
    in each, not on as many threads as cores (which would put two threads on each core)."""
    numba.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Linux: the kernel sends SIGKILL when the parent exits, even in the middle of compiled code
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)
    # elsewhere (and as a second line): a watchdog thread notices re-parenting within PARENT_POLL_S
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True, name="parent-watch").start()


def _exit_with_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def run_ensemble(
    scenario: Scenario,
    dataset: Dataset,
    params: Mapping[str, np.ndarray],
    years: np.ndarray,
    members: int,
    chunk_size: int = DEFAULT_CHUNK,
    pool: Executor | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
    sink: Callable[[int, Mapping[str, bytes]], None] | None = None,
    keep: Collection[str] | None = None,
    freight: FreightResult | FreightEmulator | None = None,
    stamp: Mapping[str, str] | None = None,
) -> dict[str, pl.DataFrame]:
    """Run all chunks; each chunk's tables, stamped with the constant columns `stamp` and encoded as Parquet parts
    (runs.store.encode_part), go to `sink(chunk_index, parts)` as it finishes (so memory holds one chunk, not the
    ensemble), and the tables named in `keep` (default: all) come back concatenated in member order whatever order
    the chunks finish in. `freight`: from `ensemble_freight` (computed here with `auto` if None). `on_chunk(done,
    members)` after each chunk, counting members."""
    parts = chunks(members, chunk_size)
    if freight is None:
        freight = ensemble_freight(scenario, dataset, params, years, members)
    shares: dict[int, FreightResult | FreightEmulator] = {
        i: freight if isinstance(freight, FreightEmulator) else freight_members(freight, c.start, c.stop)
        for i, c in enumerate(parts)
    }
    kept: dict[int, dict[str, pl.DataFrame]] = {}
    done = 0  # members

    def collect(index: int, result: dict[str, pl.DataFrame] | EncodedChunk) -> None:
        nonlocal done
        if isinstance(result, EncodedChunk):
            if sink is not None:
                sink(index, result.parts)
            kept[index] = result.kept
        else:
            kept[index] = {name: frame for name, frame in result.items() if keep is None or name in keep}
        done += parts[index].stop - parts[index].start
        if on_chunk:
            on_chunk(done, members)

    encode = None if sink is None else dict(stamp or {})
    if pool is None or len(parts) == 1:
        for index, chunk in enumerate(parts):
            collect(index, run_chunk(scenario, dataset, params, years, chunk, shares[index], encode, keep))
    else:
        # A bounded window of chunks in flight: a finished chunk's result (hundreds of MB of Parquet parts) lives in
        # its future until collected, so submitting all chunks at once held a 100,000-member ensemble (17 GB) in
        # this process. Twice the workers keeps every worker busy while one result is being written (a process pool
        # knows its workers; a Dask client executor does not say, so 8 in flight).
        window = 2 * getattr(pool, "_max_workers", 4)
        waiting = iter(enumerate(parts))
        pending: dict[Future, int] = {}

        def submit_next() -> None:
            for i, chunk in itertools.islice(waiting, 1):
                pending[pool.submit(run_chunk, scenario, dataset, params, years, chunk, shares[i], encode, keep)] = i

        for _ in range(window):
            submit_next()
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                collect(pending.pop(future), future.result())
                submit_next()
    names = kept[0].keys()
    # member-major row order (stable), so one chunk and many chunks give the same rows in the same order
    return {name: _member_major(pl.concat([kept[i][name] for i in range(len(parts))])) for name in names}


def _member_major(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("member", maintain_order=True) if "member" in frame.columns else frame
