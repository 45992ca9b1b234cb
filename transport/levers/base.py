"""Building blocks shared by the lever models of every domain: uncertain-parameter declarations and year paths."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import numpy as np
from pydantic import AfterValidator, BeforeValidator, Field

# The schema's bounds of every dated value (scenario years, year-path points); transport.consistency also checks a
# path's points against the dataset's horizon.
FIRST_YEAR = 2000
LAST_YEAR = 2100
Year = Annotated[int, Field(ge=FIRST_YEAR, le=LAST_YEAR)]
_YEAR_TEXT = re.compile(r"[0-9]{4}")
V = TypeVar("V")


def _distinct_year_keys(value: Any) -> Any:
    """Year-path keys as written: four digits, each year once. TOML keys are text, so '2030' and '02030' (or
    '+2030') would otherwise both become 2030 and one would silently win."""
    if not isinstance(value, Mapping):
        return value
    seen: dict[int, object] = {}
    for key in value:
        if isinstance(key, str):
            if not _YEAR_TEXT.fullmatch(key):
                shown = key if len(key) <= 12 else f"{key[:8]}... ({len(key)} characters)"
                raise ValueError(f"year key {shown!r} is not a four-digit year")
            year = int(key)
        elif isinstance(key, int) and not isinstance(key, bool):
            year = key
        else:
            raise ValueError(f"year key {key!r} is not a year")
        if year in seen:
            raise ValueError(f"year {year} is given twice ({seen[year]!r} and {key!r})")
        seen[year] = key
    return value


def _not_empty(value: dict) -> dict:
    if not value:
        raise ValueError("a year path needs at least one year = value point")
    return value


def _each_distinct(value: Any) -> Any:
    if isinstance(value, Mapping):
        for path in value.values():
            _distinct_year_keys(path)
    return value


def _each_not_empty(value: dict) -> dict:
    for path in value.values():
        _not_empty(path)
    return value


YearPath = Annotated[dict[Year, V], BeforeValidator(_distinct_year_keys), AfterValidator(_not_empty)]
# year paths keyed by name (a city): the same rules for each
NamedYearPaths = Annotated[dict[str, dict[Year, V]], BeforeValidator(_each_distinct), AfterValidator(_each_not_empty)]


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
