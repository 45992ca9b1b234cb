"""Working back from the targets: lever settings that reach them, and the smallest single-lever change per target.

A *knob* is one year-path lever of the scenario schema (e.g. `urban.parking_price_factor`) moved to a value x in
KNOB_YEAR: the base path plus (x - base value in KNOB_YEAR), phased in linearly from RAMP_FROM and kept after it
(clipped to the range). Its range is the lever's valid range in the schema (the pydantic ge/le bounds).

Method, and why it fits this model:
- Each target reads only some engines (the coupling is one-way: freight and urban never read the fleets), so a
  target is evaluated by running only what it reads: green trips = urban; rail-sea growth = freight to 2025;
  the oil peak = freight + urban + fleets to 2035 (reusing the unchanged engines' results).
- Single-lever reach: the target's margin (value minus threshold, signed so that >= 0 means met) is evaluated at
  the base value and at both ends of the range. If neither end meets the target it is "not reachable by this lever
  within its range". Otherwise the boundary between the base and the meeting end is found by Brent's method
  (scipy.optimize.brentq), which needs only a sign change: the margin is monotone in each of these levers in the
  model's logic (prices, supply and mandates act in one direction), but a peak year is a step function, which
  bisection-type methods handle and gradient methods do not.
- Combined settings: each target's cheapest single-lever solution (cost = normalised distance |x - base| / range,
  no lever carries a public cost per unit in the dataset), applied together and verified by one coupled run; the
  targets whose margin is within MARGIN_BINDING of zero bind. This is the least-change corner of the feasible set
  when the levers act on different targets (true here: urban levers cannot move rail-sea TEU), not a joint optimum
  over interacting levers; the note says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, get_args

import numpy as np
import polars as pl
from pydantic import BaseModel
from scipy.optimize import brentq

from transport.dataset import Dataset
from transport.levers import FleetLevers, FreightLevers, UrbanLevers
from transport.levers.base import year_path
from transport.result_tables import ANALYSIS_COLUMNS
from transport.scenario import Scenario, validate_scenario_dict

KNOB_YEAR = 2030
RAMP_FROM = 2023
MARGIN_BINDING = 1e-3
X_TOL = 1e-3  # of the lever's range


@dataclass(frozen=True)
class Target:
    """A plan target as a signed margin of the targets table (>= 0 met), and the engines it reads."""

    name: str
    target: str
    domains: tuple[str, ...]
    end_year: int
    margin: Callable[[pl.DataFrame], float]
    label: str


def _value(targets: pl.DataFrame, name: str) -> pl.DataFrame:
    return targets.filter((pl.col("member") == 0) & (pl.col("target") == name))


def _railsea_margin(t: pl.DataFrame) -> float:
    row = _value(t, "railsea_teu_cagr")
    return float(row["value"][0] - row["threshold"][0]) if row.height else float("-inf")


def _green_margin(t: pl.DataFrame) -> float:
    row = _value(t, "green_trip_share.all_big_cities")
    return float(row["value"][0] - row["threshold"][0]) if row.height else float("-inf")


def _oil_margin(t: pl.DataFrame) -> float:
    # margin in years before the deadline; a path still rising at the horizon is "not met" whatever its last year
    row = _value(t, "road_oil_peak_year")
    if row.height == 0:
        return float("-inf")
    gap = float(row["threshold"][0] - row["value"][0])
    return gap if row["met"][0] else min(-1.0, gap)


TARGETS: dict[str, Target] = {
    "railsea": Target("railsea", "railsea_teu_cagr", ("freight",), 2025, _railsea_margin, "rail-sea TEU >= 15 %/yr"),
    "green": Target(
        "green", "green_trip_share.all_big_cities", ("urban",), 2030, _green_margin, "green trips >= 70 % in 2030"
    ),
    "oil": Target(
        "oil", "road_oil_peak_year", ("freight", "urban", "fleets"), 2035, _oil_margin, "road oil peaks by 2030"
    ),
}

_MODELS: dict[str, type[BaseModel]] = {"fleets": FleetLevers, "freight": FreightLevers, "urban": UrbanLevers}


@dataclass(frozen=True)
class Knob:
    """A year-path lever set to `x` from KNOB_YEAR on; range = the schema's valid range of the lever's values."""

    domain: str
    field: str
    low: float
    high: float

    @property
    def name(self) -> str:
        return f"{self.domain}.{self.field}"

    def base_value(self, scenario: Scenario) -> float:
        path = getattr(getattr(scenario.levers, self.domain), self.field)
        return float(year_path(path, np.array([KNOB_YEAR]))[0]) if path else self.low

    def apply(self, raw: dict[str, Any], scenario: Scenario, x: float) -> None:
        """The base path plus (x - base value) phased in linearly from RAMP_FROM (0) to KNOB_YEAR (all of it), kept
        after; so x = base value reproduces the base path exactly, and later points (e.g. chargers in 2060) move with
        the change instead of being dropped."""
        path = getattr(getattr(scenario.levers, self.domain), self.field) or {RAMP_FROM: self.base_value(scenario)}
        years = sorted({*(int(y) for y in path), RAMP_FROM, KNOB_YEAR})
        base = year_path(path, np.array(years))
        phase = np.clip((np.array(years, dtype=float) - RAMP_FROM) / (KNOB_YEAR - RAMP_FROM), 0.0, 1.0)
        values = np.clip(base + (x - self.base_value(scenario)) * phase, self.low, self.high)
        raw.setdefault("levers", {}).setdefault(self.domain, {})[self.field] = {
            str(y): float(v) for y, v in zip(years, values, strict=True)
        }


def knobs() -> dict[str, Knob]:
    """Every scalar year-path lever (dict[int, float] with ge/le bounds) of the schema, by `domain.field`."""
    out: dict[str, Knob] = {}
    for domain, model in _MODELS.items():
        for field, info in model.model_fields.items():
            args = get_args(info.annotation)
            key = get_args(args[0])[0] if args and get_args(args[0]) else (args[0] if args else None)  # Year
            if len(args) != 2 or key is not int:
                continue
            bounds = {type(m).__name__: m for meta in get_args(args[1])[1:] for m in getattr(meta, "metadata", [])}
            if "Ge" in bounds and "Le" in bounds:
                out[f"{domain}.{field}"] = Knob(domain, field, float(bounds["Ge"].ge), float(bounds["Le"].le))
    return out


def search_threshold(
    margin: Callable[[float], float], base: float, low: float, high: float, x_tol: float
) -> tuple[float | None, float, float]:
    """Smallest move from `base` towards low or high that makes margin(x) >= 0.

    Returns (x, margin at x, favourable end): (base, margin, base) if already met; (None, best margin, the end
    with the best margin) if neither end meets it.
    """
    seen: dict[float, float] = {}

    def margin_of(x: float) -> float:  # every evaluation is a model run: never twice for the same x
        if x not in seen:
            seen[x] = margin(x)
        return seen[x]

    at_base = margin_of(base)
    if at_base >= 0:
        return base, at_base, base
    ends = [(end, margin_of(end)) for end in (low, high) if end != base]
    reaching = [(abs(end - base), end, m) for end, m in ends if m >= 0]
    if not reaching:
        best_end, best = max(ends, key=lambda e: e[1], default=(base, at_base))
        return None, best, best_end
    _, end, _ = min(reaching)
    # brentq needs opposite signs at the ends; it converges on the switch point of a step function too
    x = brentq(lambda v: margin_of(v) + (1e-12 if margin_of(v) >= 0 else 0.0), base, end, xtol=x_tol)
    # brentq returns a point within x_tol of the switch; step onto the meeting side if it landed short
    while margin_of(x) < 0 and abs(x - base) < abs(end - base):
        x = float(np.clip(x + np.sign(end - base) * x_tol, min(base, end), max(base, end)))
    return float(x), margin_of(x), end


@dataclass
class SeekResult:
    """Rows of the `seek` table, the combined scenario (raw dict, validated) and its verified margins."""

    rows: pl.DataFrame
    scenario: Scenario
    margins: dict[str, float]
    evaluations: int


class Evaluator:
    """Runs only the engines the chosen targets read; reuses unchanged engines' results between evaluations."""

    def __init__(self, dataset: Dataset, params: Mapping[str, np.ndarray], targets: Sequence[Target]) -> None:
        self.dataset = dataset
        self.params = params
        self.targets = targets
        self.end = max(t.end_year for t in targets)
        self.domains = {d for t in targets for d in t.domains}
        self.count = 0

    def __call__(self, scenario: Scenario) -> pl.DataFrame:
        from transport.model import simulate_domains

        self.count += 1
        years = np.arange(scenario.years.base, self.end + 1)
        return simulate_domains(scenario, self.dataset, self.params, years, self.domains)


def seek(
    base: Scenario,
    base_raw: dict[str, Any],
    dataset: Dataset,
    params: Mapping[str, np.ndarray],
    target_names: Sequence[str],
    knob_names: Sequence[str],
    name: str,
) -> SeekResult:
    """Single-lever reach of every (target, lever) pair, a proportional package where no single lever suffices, and
    the combined least-change settings, verified by one run."""
    chosen = [TARGETS[t] for t in target_names]
    evaluate = Evaluator(dataset, params, chosen)
    all_knobs = knobs()
    rows: list[dict[str, Any]] = []
    settings: dict[str, dict[Knob, float]] = {}  # target -> the lever values its cheapest solution needs
    base_margins = {t.name: t.margin(evaluate(base)) for t in chosen}

    def scenario_with(values: Mapping[Knob, float]) -> Scenario:
        raw = _copy(base_raw)
        for knob, x in values.items():
            knob.apply(raw, base, x)
        return validate_scenario_dict(raw, "seek")

    def row(
        kind: str, target: Target, lever: str, base_x: float | None, x: float | None, cost: float | None, detail: str
    ) -> None:
        rows.append(
            {
                "kind": kind,
                "target": target.name,
                "lever": lever,
                "base_value": base_x,
                "value": x,
                "reachable": x is not None,
                "objective": cost,
                "detail": f"{target.label}: {detail}",
            }
        )

    for target in chosen:
        if base_margins[target.name] >= 0:
            row(
                "single_lever",
                target,
                "",
                None,
                None,
                0.0,
                f"met by {base.name} (margin {base_margins[target.name]:+.4g})",
            )
            rows[-1]["reachable"] = True
            settings[target.name] = {}
            continue
        own = [all_knobs[k] for k in knob_names if all_knobs[k].domain in target.domains]
        favourable: dict[Knob, float] = {}
        best_cost = np.inf
        for knob in own:
            base_x = knob.base_value(base)

            def lever_margin(v: float, k: Knob = knob, t: Target = target) -> float:
                return t.margin(evaluate(scenario_with({k: v})))

            x, m, end = search_threshold(
                lever_margin,
                base_x,
                knob.low,
                knob.high,
                X_TOL * (knob.high - knob.low),
            )
            favourable[knob] = end
            if x is None:
                row(
                    "single_lever",
                    target,
                    knob.name,
                    base_x,
                    None,
                    None,
                    f"not reachable by this lever within [{knob.low:g}, {knob.high:g}] (best margin {m:+.4g})",
                )
                continue
            cost = abs(x - base_x) / (knob.high - knob.low)
            row("single_lever", target, knob.name, base_x, x, cost, f"margin {m:+.4g}")
            if cost < best_cost:
                best_cost, settings[target.name] = cost, {knob: x}
        if target.name in settings or not favourable:
            continue
        # no lever alone suffices: move all of this target's levers together, each the same fraction t of the way
        # from its base value to its favourable end, and find the least t
        moving = {k: e for k, e in favourable.items() if e != k.base_value(base)}

        def package(t: float, moving: dict[Knob, float] = moving) -> dict[Knob, float]:
            return {k: k.base_value(base) + t * (e - k.base_value(base)) for k, e in moving.items()}

        def package_margin(t: float, tg: Target = target) -> float:
            return tg.margin(evaluate(scenario_with(package(t))))

        t_found, m, _ = search_threshold(package_margin, 0.0, 0.0, 1.0, X_TOL)
        levers = ", ".join(k.name for k in moving)
        if t_found is None:
            row(
                "package",
                target,
                levers,
                0.0,
                None,
                None,
                f"not reachable even with every lever at its favourable end (margin {m:+.4g})",
            )
            continue
        values = package(t_found)
        row(
            "package",
            target,
            levers,
            0.0,
            t_found,
            t_found,
            f"each lever {t_found:.0%} of the way to its favourable end: "
            + "; ".join(f"{k.name} = {v:.4g}" for k, v in values.items())
            + f" (margin {m:+.4g})",
        )
        settings[target.name] = values
    raw = _copy(base_raw)
    raw["name"] = name
    raw["description"] = f"transport seek from {base.name}: least-change settings for {', '.join(target_names)}"
    merged: dict[Knob, float] = {}
    for values in settings.values():
        for knob, x in values.items():
            # two targets asking for the same lever: take the stronger setting (further from base)
            if knob not in merged or abs(x - knob.base_value(base)) > abs(merged[knob] - knob.base_value(base)):
                merged[knob] = x
    for knob, x in merged.items():
        knob.apply(raw, base, x)
    combined = validate_scenario_dict(raw, f"seek:{name}")
    table = evaluate(combined)
    margins = {t.name: t.margin(table) for t in chosen}
    for t in chosen:
        used = settings.get(t.name)
        binding = (
            "; binds" if 0 <= margins[t.name] <= MARGIN_BINDING or (t.name == "oil" and margins[t.name] == 0) else ""
        )
        rows.append(
            {
                "kind": "combined",
                "target": t.name,
                "lever": ", ".join(k.name for k in used) if used else "",
                "base_value": None,
                "value": None,
                "reachable": margins[t.name] >= 0,
                "objective": sum(abs(x - k.base_value(base)) / (k.high - k.low) for k, x in used.items())
                if used
                else 0.0,
                "detail": f"{t.label}: margin {margins[t.name]:+.4g}{binding}"
                + ("" if used is not None else "; no setting within the ranges reaches it"),
            }
        )
    frame = pl.DataFrame(rows, schema=ANALYSIS_COLUMNS["seek"])
    return SeekResult(frame, combined, margins, evaluate.count)


def _copy(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, Mapping) else (list(v) if isinstance(v, list) else v) for k, v in raw.items()}
