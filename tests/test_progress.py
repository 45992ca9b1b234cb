"""Run progress as a user sees it off a terminal: timestamped start and end lines per phase, counted work in
members at each quarter, and the seconds of every phase at the end."""

from __future__ import annotations

import io
import re

from rich.console import Console

from runs.progress import RunProgress
from tests.conftest import SmallRun


def test_plain_lines_count_members_and_end_with_the_seconds_of_each_phase() -> None:
    buffer = io.StringIO()
    with RunProgress(Console(file=buffer, width=200), live=None) as progress:
        with progress.phase("plan: freight (exact)"):
            pass
        with progress.phase("plan: members", 2000) as advance:
            for done in (500, 700, 1000, 2000):
                advance(done)
    progress.print_summary()
    lines = buffer.getvalue().splitlines()
    stamped = [line for line in lines if re.match(r"\d\d:\d\d:\d\d ", line)]
    assert [line[9:] for line in stamped[:2]] == ["plan: freight (exact) ...", "plan: freight (exact): done in 0.0 s"]
    # every quarter is a line (700 is not a quarter past 500, and came within 10 s): 0, 500, 1000, 2000
    counts = [line[9:] for line in stamped if "members: " in line and "/" in line]
    assert counts == [
        "plan: members: 0/2000",
        "plan: members: 500/2000",
        "plan: members: 1000/2000",
        "plan: members: 2000/2000",
    ]
    summary = lines[-4:]
    assert summary[0] == "Time per phase:"
    assert [re.sub(r"\s+\d+\.\d s$", "", line).strip() for line in summary[1:]] == [
        "plan: freight (exact)",
        "plan: members",
        "total",
    ]
    assert [label for label, _ in progress.seconds] == ["plan: freight (exact)", "plan: members"]


def test_a_run_off_a_terminal_logs_its_phases_in_members(small_run: SmallRun) -> None:
    out = small_run.result.stdout
    for scenario in ("baseline", "history", "plan", "accelerated"):
        assert re.search(rf"^\d\d:\d\d:\d\d {scenario}: members: 1/1$", out, re.M), scenario
        assert re.search(rf"^\d\d:\d\d:\d\d {scenario}: freight \(exact\): done in \d+\.\d s$", out, re.M)
    assert "Time per phase:" in out and out.index("Time per phase:") < out.index("Verdicts")
