"""Building blocks shared by the lever models of every domain: uncertain-parameter declarations and year paths."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Uncertain:
    """An uncertain model parameter: its default (used when the scenario does not sample it) and plausible range."""

    default: float
    unit: str
    doc: str
    low: float
    high: float


def year_path(points: dict[int, float], years: np.ndarray) -> np.ndarray:
    """Value of a piecewise-linear path at `years`; flat before the first and after the last point."""
    if not points:
        raise ValueError("a year path needs at least one point")
    xs = np.array(sorted(points), dtype=float)
    ys = np.array([points[int(x)] for x in xs], dtype=float)
    return np.interp(np.asarray(years, dtype=float), xs, ys)
