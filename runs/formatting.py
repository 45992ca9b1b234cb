"""Numbers for people: stored values (unit as stored) turned into text with units, for the report and the terminal.

The stored tables keep SI-like units named in the `unit` column or the column name (share, 1/yr, TEU, t, tkm, Mt,
year, vehicles); this module alone decides how each is shown (万TEU, Mt, %, %/yr, points), so the report and the
command line say the same thing the same way.
"""

from __future__ import annotations

import math


def _finite(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def fmt_value(value: float | None, unit: str) -> str:
    """`value` stored in `unit` as text with its display unit: 0.315 '1/yr' -> '31.5 %/yr', 1.12e6 'TEU' ->
    '112.0 万TEU', 0.62 'share' -> '62.0 %', 2022.0 'year' -> '2022', 3.58e8 't' -> '358.0 Mt'."""
    if not _finite(value):
        return "n/a"
    assert value is not None
    if unit == "1/yr":
        return f"{100 * value:.1f} %/yr"
    if unit == "share":
        return f"{100 * value:.1f} %"
    if unit == "year":
        return f"{round(value):d}"
    if unit == "TEU":
        return f"{value / 1e4:,.1f} 万TEU"
    if unit == "t":
        return f"{value / 1e6:,.1f} Mt"
    if unit == "tkm":
        return f"{value / 1e9:,.1f} bn tkm"
    if unit in ("trips/yr", "trips"):
        return f"{value / 1e6:,.1f} m trips/yr"
    if unit in ("vehicles", "trains"):
        return f"{value:,.0f} {unit}"
    if unit in ("Mt", "PJ"):
        return f"{value:,.2f} {unit}"
    return f"{value:,.4g} {unit}".strip()


def fmt_margin(margin: float | None, unit: str) -> str:
    """A verdict's margin (value - threshold, or deadline - year) in words: '+16.5 points', '8 years early'."""
    if not _finite(margin):
        return "n/a"
    assert margin is not None
    if unit in ("1/yr", "share"):
        return f"{100 * margin:+.1f} points"
    if unit == "year":
        years = round(margin)
        if years == 0:
            return "on the deadline"
        return f"{abs(years)} year{'s' if abs(years) != 1 else ''} {'early' if years > 0 else 'late'}"
    return f"{margin:+,.4g} {unit}"


def fmt_share(value: float | None, digits: int = 1) -> str:
    """A share 0..1 as a percentage."""
    return "n/a" if not _finite(value) else f"{100 * value:.{digits}f} %"  # type: ignore[operator]


def fmt_number(value: object) -> str:
    """A table cell: integers with thousands separators, floats to 4 significant digits (never cut, never
    scientific below 1e15), anything else as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,d}"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value != 0 and (abs(value) >= 1e15 or abs(value) < 1e-4):
            return f"{value:.4g}"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.4g}"
    return str(value)
