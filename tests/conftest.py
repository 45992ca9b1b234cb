"""Shared fixtures: the shipped dataset copied to a temporary folder, and the CLI run as a user would run it."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHIPPED_DATASET = REPO / "transport" / "data" / "guangxi"


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600) -> CliResult:
    """Run `python -m transport ARGS` in a subprocess, as a user would."""
    # os.environ passed explicitly: a C library loaded by the test session can set COLUMNS behind Python's back,
    # which would give the child an 80-column console
    proc = subprocess.run(
        [sys.executable, "-m", "transport", *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        timeout=timeout,
        env=dict(os.environ),
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def cli_in_process(*args: str, cwd: Path | None = None) -> CliResult:
    """Run the `transport` entry point (runs.cli.main) in this process: what `run_cli` does without the ~2 s of
    interpreter start and imports, for the many bad-input cases."""
    from runs.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv, here = sys.argv, Path.cwd()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    sys.argv = ["transport", *args]
    code = 0
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except BaseException:  # a crash: show it the way a user would see it
                import traceback

                traceback.print_exc()
                code = 1
    finally:
        sys.argv = argv
        os.chdir(here)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return CliResult(code, out.getvalue(), err.getvalue())


def assert_user_error(result: CliResult, *fragments: str) -> str:
    """A user error: exit code 2, exactly one line on stderr, no traceback, and the line names each fragment."""
    assert result.code == 2, (result.code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture
def dataset_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped Guangxi dataset."""
    target = tmp_path / "guangxi"
    shutil.copytree(SHIPPED_DATASET, target)
    return target


@dataclass
class SmallRun:
    """One small `transport run` of the three shipped scenarios (2020-2025, 1 member), shared by a test session."""

    db: Path
    result: CliResult


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> SmallRun:
    """`transport run --end-year 2025` as a user runs it, made once per test session (charts and report included)."""
    db = tmp_path_factory.mktemp("small_run") / "out" / "results.duckdb"
    result = run_cli("run", "--end-year", "2025", "--db", str(db))
    assert result.code == 0, result.stderr
    return SmallRun(db, result)
