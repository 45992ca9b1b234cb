"""Signals during a run with worker processes: kill -9, SIGTERM and Ctrl-C leave no worker running, publish nothing
and (when the run can react) say so in one line. Subprocesses, since the signal goes to a real `transport run`."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import REPO

WORKERS = 2


def _start(db: Path) -> subprocess.Popen[str]:
    # enough chunks that the run is still busy when the workers have started
    args = ["run", "baseline", "--no-charts", "--db", str(db), "--end-year", "2025", "--members", "12"]
    args += ["--chunk-size", "2", "--workers", str(WORKERS)]
    return subprocess.Popen(
        [sys.executable, "-m", "transport", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, like a job started from a shell
    )


def _workers_started(proc: subprocess.Popen[str], timeout: float = 120) -> list[psutil.Process]:
    """The run's child processes once its pool workers exist (the resource tracker is a child too)."""
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        children = parent.children(recursive=True)
        workers = [c for c in children if "spawn_main" in " ".join(_cmdline(c))]
        if len(workers) >= WORKERS:
            time.sleep(1.0)  # let them import and take a chunk
            return parent.children(recursive=True)
        time.sleep(0.2)
    raise AssertionError("the pool workers never started")


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def _left_running(processes: list[psutil.Process], timeout: float = 10) -> list[psutil.Process]:
    _gone, alive = psutil.wait_procs(processes, timeout=timeout)
    return [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def _nothing_published(db: Path) -> None:
    runs = db.parent / "runs"
    assert not runs.exists() or not [p for p in runs.iterdir() if not p.name.startswith("_schema")]


def test_kill_9_of_the_parent_leaves_no_worker(tmp_path: Path) -> None:
    db = tmp_path / "results.duckdb"
    proc = _start(db)
    children = _workers_started(proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert _left_running(children) == [], "workers outlived their killed parent"
    _nothing_published(db)


@pytest.mark.parametrize(
    ("sig", "code", "word", "again_after_s"),
    [
        (signal.SIGTERM, 143, "terminated", None),
        (signal.SIGINT, 130, "interrupted", None),
        # users press Ctrl-C twice: the second lands while the pool stops or the interpreter shuts down
        (signal.SIGINT, 130, "interrupted", 0.0),
        (signal.SIGINT, 130, "interrupted", 0.3),
        (signal.SIGTERM, 143, "terminated", 0.3),
    ],
)
def test_sigterm_and_ctrl_c_stop_the_workers_and_say_so(
    tmp_path: Path, sig: signal.Signals, code: int, word: str, again_after_s: float | None
) -> None:
    db = tmp_path / "results.duckdb"
    proc = _start(db)
    children = _workers_started(proc)
    for repeat in range(1 if again_after_s is None else 2):
        if repeat:
            time.sleep(again_after_s or 0.0)
        with contextlib.suppress(ProcessLookupError):
            if sig == signal.SIGINT:
                os.killpg(proc.pid, sig)  # Ctrl-C reaches the whole foreground process group
            else:
                proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and word in lines[0], lines
    assert "Traceback" not in err and "leaked" not in err
    assert _left_running(children) == []
    _nothing_published(db)
    assert not any((db.parent / ".staging").glob("*"))


BUSY_POOL = """
import time
from runs.ensemble import executor
with executor("local", 1) as pool:
    pool.submit(int).result()  # the worker has started and run its initializer
    task = pool.submit(time.sleep, 120)
    print(*pool._processes, flush=True)
    task.result()
"""


def test_a_busy_worker_exits_at_once_when_its_parent_is_killed() -> None:
    """A worker in the middle of a long chunk would not read its queue for minutes: it must notice the parent's
    death by itself (PR_SET_PDEATHSIG, or the watchdog thread elsewhere)."""
    parent = subprocess.Popen([sys.executable, "-c", BUSY_POOL], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        worker = psutil.Process(int(parent.stdout.readline().split()[0]))
        time.sleep(1.0)  # the worker is inside time.sleep(120)
        assert worker.is_running()
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        assert _left_running([worker], timeout=5.0) == [], "the busy worker outlived its killed parent"
    finally:
        parent.kill()
        parent.wait()


def test_ctrl_c_inside_a_duckdb_query_says_interrupted(tmp_path: Path) -> None:
    """DuckDB takes Ctrl-C during a query and raises its own error, not KeyboardInterrupt: still one line, 130."""
    db = tmp_path / "results.duckdb"
    made = subprocess.run(
        [sys.executable, "-m", "transport", "run", "baseline", "--no-charts", "--end-year", "2021", "--db", str(db)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert made.returncode == 0, made.stderr
    before = sorted((p.relative_to(tmp_path), p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "transport", "query", "--db", str(db), "select count(*) from range(100000000000)"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    time.sleep(4.0)  # the query runs (it would take minutes)
    assert proc.poll() is None
    os.killpg(proc.pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 130 and len(lines) == 1 and "interrupted" in lines[0], (proc.returncode, err[-500:])
    assert sorted((p.relative_to(tmp_path), p.stat().st_mtime_ns) for p in tmp_path.rglob("*")) == before
