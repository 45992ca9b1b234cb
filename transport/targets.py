"""The carbon-peak plan's three transport targets (and companion indicators) as values, thresholds and verdicts.

1. Rail-sea containers: compound growth of rail-sea TEU 2020 -> 2025 against 15 %/yr (and each year's growth), on
   both measures: rail-sea at the Beibu Gulf ports (`railsea_teu_*`) and rail-water = rail-sea + rail-river at the
   inland ports (`rail_water_teu_*`, the plan's 集装箱铁水联运量).
2. Green trips: green-trip share in 2030 of every city with >= 1 million urban residents against 70 %.
3. Road oil: the year of the maximum of the smoothed road oil path against 2030. "Peaks before 2030" (2030年前达峰) is
   read as "the peak year is 2030 or earlier", and a path still rising in the last simulated year never counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from transport.result_tables import RESULT_COLUMNS

RAILSEA_GROWTH_THRESHOLD = 0.15
RAILSEA_PERIOD = (2020, 2025)
GREEN_SHARE_THRESHOLD = 0.70
GREEN_SHARE_YEAR = 2030
BIG_CITY_RESIDENTS = 1_000_000
OIL_PEAK_DEADLINE = 2030

_SCHEMA = RESULT_COLUMNS["targets"]


def smoothed(values: np.ndarray) -> np.ndarray:
    """Centred 3-year moving average along the last axis; the first and last years average their one neighbour.

    The same rule as the `oil_peak` view in the results store, so the verdict and the view agree.
    """
    values = np.asarray(values, dtype=float)
    padded = np.concatenate([np.zeros_like(values[..., :1]), values, np.zeros_like(values[..., :1])], axis=-1)
    counts = np.full(values.shape[-1], 3.0)
    counts[0] = counts[-1] = 2.0
    if values.shape[-1] == 1:
        return values.copy()
    return (padded[..., :-2] + padded[..., 1:-1] + padded[..., 2:]) / counts


def peak_year(years: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Year and level of the maximum of the smoothed path, per member (values shaped (members, years))."""
    smooth = smoothed(values)
    idx = np.argmax(smooth, axis=-1)
    return np.asarray(years)[idx], np.take_along_axis(smooth, idx[..., None], axis=-1)[..., 0]


def _rows(
    member: np.ndarray,
    target: str,
    year: int | np.ndarray,
    value: np.ndarray,
    threshold: float | None,
    met: np.ndarray | None,
    margin: np.ndarray | None,
    unit: str,
    detail: str | Sequence[str],
) -> pl.DataFrame:
    n = len(member)
    return pl.DataFrame(
        {
            "member": member,
            "target": [target] * n,
            "year": np.broadcast_to(year, n),
            "value": value,
            "threshold": [threshold] * n,
            "met": met if met is not None else [None] * n,
            "margin": margin if margin is not None else [None] * n,
            "unit": [unit] * n,
            "detail": list(detail) if not isinstance(detail, str) else [detail] * n,
        },
        schema=_SCHEMA,
    )


def railsea_targets(railsea: pl.DataFrame) -> pl.DataFrame:
    """Compound growth 2020-2025 and each year's growth of total rail-sea TEU (all Beibu Gulf ports): the port-group
    measure (海铁联运, containers on Western Land-Sea Corridor rail-sea trains through the Beibu Gulf ports)."""
    total = railsea.group_by("member", "year").agg(pl.col("teu").sum())
    return _growth_targets(total, "railsea_teu", "TEU")


def railwater_targets(railsea: pl.DataFrame, railriver: pl.DataFrame) -> pl.DataFrame:
    """The plan's own measure, 集装箱铁水联运量 (container rail-water intermodal volume): rail-sea at the Beibu Gulf
    ports plus rail-river at Guangxi's inland ports; railriver: member, year, teu. Targets `rail_water_teu_cagr` and
    `rail_water_teu_growth` against the same 15 %/yr."""
    both = pl.concat([railsea.select("member", "year", "teu"), railriver.select("member", "year", "teu")])
    total = both.group_by("member", "year").agg(pl.col("teu").sum())
    return _growth_targets(total, "rail_water_teu", "TEU (rail-sea + rail-river)")


def _growth_targets(total: pl.DataFrame, name: str, what: str) -> pl.DataFrame:
    wide = total.sort("member", "year").pivot(on="year", index="member", values="teu").sort("member")
    first, last = RAILSEA_PERIOD
    if str(first) not in wide.columns or str(last) not in wide.columns:
        return pl.DataFrame(schema=_SCHEMA)
    members = wide["member"].to_numpy()
    t0 = wide[str(first)].to_numpy()
    t1 = wide[str(last)].to_numpy()
    cagr = (t1 / t0) ** (1.0 / (last - first)) - 1.0
    frames = [
        _rows(
            members,
            f"{name}_cagr",
            last,
            cagr,
            RAILSEA_GROWTH_THRESHOLD,
            cagr >= RAILSEA_GROWTH_THRESHOLD,
            cagr - RAILSEA_GROWTH_THRESHOLD,
            "1/yr",
            [f"{a:,.0f} {what} in {first} -> {b:,.0f} in {last}" for a, b in zip(t0, t1, strict=True)],
        )
    ]
    for year in range(first + 1, last + 1):
        growth = wide[str(year)].to_numpy() / wide[str(year - 1)].to_numpy() - 1.0
        frames.append(
            _rows(
                members,
                f"{name}_growth",
                year,
                growth,
                RAILSEA_GROWTH_THRESHOLD,
                growth >= RAILSEA_GROWTH_THRESHOLD,
                growth - RAILSEA_GROWTH_THRESHOLD,
                "1/yr",
                f"growth {year - 1}->{year}",
            )
        )
    return pl.concat(frames)


def green_trip_targets(green_share: pl.DataFrame, population: pl.DataFrame, label: str = "") -> pl.DataFrame:
    """Green-trip share in 2030 per city with >= 1M urban residents in 2030, and the verdict over all of them.

    green_share: member, year, city, share;  population: member, year, city, residents.
    """
    year = GREEN_SHARE_YEAR
    big = population.filter((pl.col("year") == year) & (pl.col("residents") >= BIG_CITY_RESIDENTS))
    shares = green_share.filter(pl.col("year") == year).join(big.select("member", "city"), on=["member", "city"])
    if shares.height == 0:
        return pl.DataFrame(schema=_SCHEMA)
    name = f"green_trip_share{label}"
    frames = []
    for city in sorted(shares["city"].unique().to_list()):
        sub = shares.filter(pl.col("city") == city).sort("member")
        value = sub["share"].to_numpy()
        frames.append(
            _rows(
                sub["member"].to_numpy(),
                f"{name}.{city}",
                year,
                value,
                GREEN_SHARE_THRESHOLD,
                value >= GREEN_SHARE_THRESHOLD,
                value - GREEN_SHARE_THRESHOLD,
                "share",
                city,
            )
        )
    worst = shares.sort("share").group_by("member", maintain_order=True).first().sort("member")
    value = worst["share"].to_numpy()
    frames.append(
        _rows(
            worst["member"].to_numpy(),
            f"{name}.all_big_cities",
            year,
            value,
            GREEN_SHARE_THRESHOLD,
            value >= GREEN_SHARE_THRESHOLD,
            value - GREEN_SHARE_THRESHOLD,
            "share",
            [f"lowest: {c}" for c in worst["city"].to_list()],
        )
    )
    return pl.concat(frames)


def peak_targets(name: str, years: np.ndarray, values: np.ndarray, unit: str) -> pl.DataFrame:
    """Peak year (vs 2030) and peak level of a path shaped (members, years)."""
    members = np.arange(values.shape[0], dtype=np.int32)
    year, level = peak_year(years, values)
    still_rising = year == years[-1]
    met = (year <= OIL_PEAK_DEADLINE) & ~still_rising
    detail = [
        f"peak {lv:.3f} {unit}" + (" (still rising at the horizon)" if r else "")
        for lv, r in zip(level, still_rising, strict=True)
    ]
    return pl.concat(
        [
            _rows(
                members,
                f"{name}_peak_year",
                year,
                year.astype(float),
                float(OIL_PEAK_DEADLINE),
                met,
                (OIL_PEAK_DEADLINE - year).astype(float),
                "year",
                detail,
            ),
            _rows(
                members, f"{name}_peak_level", year, level, None, None, None, unit, "smoothed 3-year mean at the peak"
            ),
        ]
    )


def indicator_rows(
    name: str, years: np.ndarray, values: np.ndarray, at_years: Sequence[int], unit: str, detail: str = ""
) -> pl.DataFrame:
    """Companion indicators (no threshold) at chosen years from a path shaped (members, years)."""
    members = np.arange(values.shape[0], dtype=np.int32)
    frames = []
    for year in at_years:
        if year in years:
            idx = int(np.searchsorted(years, year))
            frames.append(_rows(members, name, year, values[:, idx], None, None, None, unit, detail))
    return pl.concat(frames) if frames else pl.DataFrame(schema=_SCHEMA)


def all_targets(parts: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """Stack the target frames of every part, in a stable order."""
    frames = [f for f in parts.values() if f.height]
    return pl.concat(frames).sort("target", "member", "year") if frames else pl.DataFrame(schema=_SCHEMA)
