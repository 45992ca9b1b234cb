"""What a run is doing, where its user can see it: on a terminal a rich bar per phase (members counted, not chunks);
otherwise plain timestamped lines on stdout, a log a user can tail; at the end, one line per phase with its seconds.

Only phases that can take more than a moment are reported (dataset calibration, freight, members, analyses, writing,
charts and report)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

PLAIN_EVERY_S = 10.0  # a plain progress line at most this often for counted work (and at every quarter)


class Phases(Protocol):
    """What runs.execute reports its phases to: RunProgress here, or a relay to it from a scenario's process."""

    def phase(self, label: str, total: int | None = None) -> AbstractContextManager[Callable[[int], None]]: ...


class RunProgress:
    """Phases of a `transport run`: `with progress.phase("plan: members", total=2000) as advance: advance(done)`."""

    def __init__(self, out: Console, live: Console | None) -> None:
        """`out`: where plain lines and the summary go; `live`: a terminal for bars (None: plain lines instead)."""
        self.out = out
        self.seconds: list[tuple[str, float]] = []
        self._open: dict[str, tuple[TaskID | None, int | None, list[float]]] = {}
        self._started = time.perf_counter()
        self.overlapped = False  # set when phases ran at once (scenarios in parallel processes)
        self._bars = (
            Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=live,
                transient=False,
            )
            if live is not None
            else None
        )

    def __enter__(self) -> RunProgress:
        if self._bars is not None:
            self._bars.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._bars is not None:
            self._bars.stop()

    def _line(self, text: str) -> None:
        self.out.print(f"{time.strftime('%H:%M:%S')} {text}", markup=False, highlight=False, soft_wrap=True)

    @contextlib.contextmanager
    def phase(self, label: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        """Time one phase; yields `advance(done)` for counted work (members)."""
        start = time.perf_counter()
        self.begin(label, total)
        yield lambda done: self.advance(label, done)
        self.end(label, time.perf_counter() - start)

    def begin(self, label: str, total: int | None = None) -> None:
        """A phase starts (phases of scenarios run in other processes overlap: each is known by its label)."""
        task = self._bars.add_task(label, total=total) if self._bars is not None else None
        self._open[label] = (task, total, [time.perf_counter(), 0.0])  # time and fraction of the last plain line
        if self._bars is None:
            self._line(f"{label} ..." if total is None else f"{label}: 0/{total}")

    def advance(self, label: str, done: int) -> None:
        """`done` of the phase's `total` are finished."""
        task, total, last = self._open[label]
        if self._bars is not None and task is not None:
            self._bars.update(task, completed=done)
            return
        now, fraction = time.perf_counter(), done / total if total else 1.0
        if done == total or now - last[0] >= PLAIN_EVERY_S or fraction - last[1] >= 0.25:
            last[:] = [now, fraction]
            self._line(f"{label}: {done}/{total}")

    def end(self, label: str, seconds: float) -> None:
        """The phase took `seconds`."""
        task, total, _last = self._open.pop(label)
        self.seconds.append((label, seconds))
        if self._bars is not None and task is not None:
            self._bars.update(task, total=total or 1, completed=total or 1)
        else:
            self._line(f"{label}: done in {seconds:.1f} s")

    def open_phases(self) -> list[str]:
        """Labels of the phases begun and not ended."""
        return list(self._open)

    def print_summary(self) -> None:
        """One line per phase with its seconds, then the total; when phases ran at once in several processes
        (`overlapped`), then the seconds from start to end too."""
        if not self.seconds:
            return
        width = max(len(label) for label, _ in [*self.seconds, ("elapsed", 0.0)])
        self.out.print("Time per phase:", markup=False, highlight=False)
        for label, seconds in self.seconds:
            self.out.print(f"  {label:<{width}}  {seconds:8.1f} s", markup=False, highlight=False)
        total = sum(seconds for _, seconds in self.seconds)
        self.out.print(f"  {'total':<{width}}  {total:8.1f} s", markup=False, highlight=False)
        if self.overlapped:
            elapsed = time.perf_counter() - self._started
            self.out.print(f"  {'elapsed':<{width}}  {elapsed:8.1f} s", markup=False, highlight=False)
