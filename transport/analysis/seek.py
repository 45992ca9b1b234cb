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

Robust seek (`transport seek --robust P --members M`): the least change whose probability of meeting the target over
an ensemble is at least P, instead of the central estimate meeting it.
- Members: the scenario's uncertain parameters sampled as `transport run --members M --seed S` samples them
  (transport.scenario.sample_parameters: member 0 central, 1..M-1 a Latin hypercube), drawn once and used for every
  lever value tried (common random numbers: the probability moves with the lever, not with the draws). The engines
  take the members as an array axis, so one evaluation is one vectorised run over all M; freight is computed as an
  exact ensemble run computes it (member 0 alone, members 1..M-1 together), so the seek's probabilities equal those
  of `transport run FILE --members M --seed S --freight exact` of the written scenario (table `target_probability`).
- Search: P(x), the share of members whose margin is >= 0 at lever value x, is a step function of x (steps of 1/M).
  P(x) >= P holds exactly when the k-th largest member margin is >= 0, k = ceil(P M) (at least k members meet it).
  That order statistic is continuous wherever the members' margins are, and monotone in x whenever each member's
  margin is (the model's logic, as above), so the least change is found by the deterministic search on it
  (search_threshold: Brent's method, to X_TOL of the lever's range, on the meeting side): the same answer as a
  bisection on P(x) - P >= 0 with the tie P(x) = P counted as met, in fewer model runs. A range end that does not
  reach P gives "not reachable within range" with the best probability reached. The rows (kind `robust`, and
  `robust_package` / `robust_combined` as above) store the probability reached and the probability asked.
- Cost: each evaluation runs only the engines its target reads, for all M members; the oil target's freight is
  reused while the freight levers are unchanged. Freight dominates (about 0.08 s per member and evaluation to 2025).
"""

from __future__ import annotations

import dataclasses
import math
import time
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
    margins: Callable[[pl.DataFrame, int], np.ndarray]  # (targets table, members) -> each member's margin
    label: str

    def margin(self, targets: pl.DataFrame) -> float:
        """The central estimate's (member 0's) margin; -inf when the table lacks the target."""
        return float(self.margins(targets.filter(pl.col("member") == 0), 1)[0])


def _per_member(
    targets: pl.DataFrame, name: str, members: int, signed: Callable[[pl.DataFrame], np.ndarray]
) -> np.ndarray:
    """signed(rows) for each member 0..members-1 of target `name`; -inf where a member has no row or no value."""
    rows = targets.filter((pl.col("target") == name) & (pl.col("member") < members))
    out = np.full(members, -np.inf)
    if rows.height:
        out[rows["member"].to_numpy()] = signed(rows)
    return np.where(np.isnan(out), -np.inf, out)


def _above(rows: pl.DataFrame) -> np.ndarray:
    return (rows["value"] - rows["threshold"]).to_numpy().astype(float)


def _railsea_margins(t: pl.DataFrame, members: int) -> np.ndarray:
    return _per_member(t, "railsea_teu_cagr", members, _above)


def _green_margins(t: pl.DataFrame, members: int) -> np.ndarray:
    return _per_member(t, "green_trip_share.all_big_cities", members, _above)


def _oil_signed(rows: pl.DataFrame) -> np.ndarray:
    # margin in years before the deadline; a path still rising at the horizon is "not met" whatever its last year
    gap = (rows["threshold"] - rows["value"]).to_numpy().astype(float)
    met = rows["met"].fill_null(False).to_numpy().astype(bool)
    return np.where(met, gap, np.minimum(-1.0, gap))


def _oil_margins(t: pl.DataFrame, members: int) -> np.ndarray:
    return _per_member(t, "road_oil_peak_year", members, _oil_signed)


TARGETS: dict[str, Target] = {
    "railsea": Target("railsea", "railsea_teu_cagr", ("freight",), 2025, _railsea_margins, "rail-sea TEU >= 15 %/yr"),
    "green": Target(
        "green", "green_trip_share.all_big_cities", ("urban",), 2030, _green_margins, "green trips >= 70 % in 2030"
    ),
    "oil": Target(
        "oil", "road_oil_peak_year", ("freight", "urban", "fleets"), 2035, _oil_margins, "road oil peaks by 2030"
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


def members_needed(p: float, members: int) -> int:
    """Least number of the `members` meeting a target for a probability >= p: ceil(p * members) (a float product
    such as 0.7 * 10 = 7.000000000000001 is not rounded up to 8)."""
    return max(1, math.ceil(p * members - 1e-9))


@dataclass(frozen=True)
class RobustReach:
    """Outcome of robust_threshold: the least-change value (None: not reachable within the range), the share of
    members meeting the target there (at the best end when not reachable), the favourable end, and the deciding
    member margin (the k-th largest, k = members_needed)."""

    x: float | None
    probability: float
    end: float
    decisive_margin: float
    base_probability: float


def robust_threshold(
    margins: Callable[[float], np.ndarray], p: float, base: float, low: float, high: float, x_tol: float
) -> RobustReach:
    """Smallest move from `base` towards low or high at which at least a share `p` of the members meet the target.

    `margins(x)`: every member's margin (>= 0 met) at lever value x, a vectorised evaluation over the same members for
    every x (common random numbers). P(x) >= p exactly when the k-th largest margin is >= 0 (k = ceil(p M)); that
    order statistic is searched like a deterministic margin (search_threshold), so the answer is within x_tol of the
    least |x - base| with P(x) >= p, on the meeting side, when P is monotone in x between base and the range end.
    """
    seen: dict[float, np.ndarray] = {}

    def at(x: float) -> np.ndarray:  # every evaluation is an ensemble run: never twice for the same x
        if x not in seen:
            values = np.asarray(margins(x), dtype=float).reshape(-1)
            seen[x] = np.where(np.isnan(values), -np.inf, values)
        return seen[x]

    def decisive(x: float) -> float:
        values = at(x)
        return float(np.sort(values)[values.size - members_needed(p, values.size)])

    def share(x: float) -> float:
        return float(np.mean(at(x) >= 0))

    x, margin, end = search_threshold(decisive, base, low, high, x_tol)
    return RobustReach(x, share(end if x is None else x), end, margin, share(base))


@dataclass
class SeekResult:
    """Rows of the `seek` table, the combined scenario (raw dict, validated) and its verified margins (and, for a
    robust seek, the share of members meeting each target with it)."""

    rows: pl.DataFrame
    scenario: Scenario
    margins: dict[str, float]
    evaluations: int
    probabilities: dict[str, float] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0


class Evaluator:
    """Runs only the engines the targets read: every chosen target's (base and combined runs) or the one target a
    search is about (its engines to its end year; the values equal those of the run of every engine, since the
    coupling is one-way and causal in time)."""

    def __init__(self, dataset: Dataset, params: Mapping[str, np.ndarray], targets: Sequence[Target]) -> None:
        self.dataset = dataset
        self.params = params
        self.targets = targets
        self.members = len(next(iter(params.values()))) if params else 1
        self.count = 0

    def span(self, scenario: Scenario, targets: Sequence[Target] | None) -> tuple[np.ndarray, set[str]]:
        chosen = targets or self.targets
        years = np.arange(scenario.years.base, max(t.end_year for t in chosen) + 1)
        return years, {d for t in chosen for d in t.domains}

    def __call__(self, scenario: Scenario, targets: Sequence[Target] | None = None) -> pl.DataFrame:
        from transport.model import simulate_domains

        self.count += 1
        years, domains = self.span(scenario, targets)
        return simulate_domains(scenario, self.dataset, self.params, years, domains)


class EnsembleEvaluator(Evaluator):
    """Every member's targets, computed as an exact-freight ensemble run computes them (runs.ensemble): member 0's
    freight alone, members 1..M-1 together (routes follow their mean cost), urban and fleets vectorised over all M.
    The freight of the last freight-lever settings seen is kept, so a fleets or urban lever tried on the oil target
    reruns only urban and fleets."""

    def __init__(self, dataset: Dataset, params: Mapping[str, np.ndarray], targets: Sequence[Target]) -> None:
        super().__init__(dataset, params, targets)
        self._freight: dict[tuple[str, int, int], Any] = {}

    def __call__(self, scenario: Scenario, targets: Sequence[Target] | None = None) -> pl.DataFrame:
        from transport.model import simulate, simulate_domains

        self.count += 1
        years, domains = self.span(scenario, targets)
        if self.members == 1 or "freight" not in domains:
            return simulate_domains(scenario, self.dataset, self.params, years, domains)
        if "fleets" in domains:
            freight = self._freight_of(scenario, years)
            return simulate(scenario, self.dataset, self.params, years, self.members, freight=freight)["targets"]
        head, tail = self._split()
        central = simulate_domains(scenario, self.dataset, head, years, domains)
        rest = simulate_domains(scenario, self.dataset, tail, years, domains)
        return pl.concat([central, rest.with_columns((pl.col("member") + 1).cast(pl.Int32))])

    def _split(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        return {k: v[:1] for k, v in self.params.items()}, {k: v[1:] for k, v in self.params.items()}

    def _freight_of(self, scenario: Scenario, years: np.ndarray) -> Any:
        from transport.freight import simulate_freight
        from transport.model import freight_joined

        levers = scenario.levers.freight
        key = (levers.model_dump_json(), int(years[0]), int(years[-1]))
        if key not in self._freight:
            for old in list(self._freight)[1:]:  # keep the first (the base's) and the one computed now
                del self._freight[old]
            head, tail = self._split()
            data = self.dataset.freight
            central = simulate_freight(data, levers, head, years, 1)
            self._freight[key] = freight_joined(central, simulate_freight(data, levers, tail, years, self.members - 1))
        return self._freight[key]


def _with_values(base: Scenario, base_raw: Mapping[str, Any], values: Mapping[Knob, float], name: str) -> Scenario:
    raw = _copy(base_raw)
    for knob, x in values.items():
        knob.apply(raw, base, x)
    return validate_scenario_dict(raw, name)


def _merged(settings: Mapping[str, Mapping[Knob, float]], base: Scenario) -> dict[Knob, float]:
    """Every target's lever values together; two targets asking for the same lever: the stronger setting (further
    from the base value)."""
    merged: dict[Knob, float] = {}
    for values in settings.values():
        for knob, x in values.items():
            if knob not in merged or abs(x - knob.base_value(base)) > abs(merged[knob] - knob.base_value(base)):
                merged[knob] = x
    return merged


def _change(values: Mapping[Knob, float], base: Scenario) -> float:
    return sum(abs(x - k.base_value(base)) / (k.high - k.low) for k, x in values.items())


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
    started = time.perf_counter()
    chosen = [TARGETS[t] for t in target_names]
    evaluate = Evaluator(dataset, params, chosen)
    all_knobs = knobs()
    rows: list[dict[str, Any]] = []
    settings: dict[str, dict[Knob, float]] = {}  # target -> the lever values its cheapest solution needs
    base_margins = {t.name: t.margin(evaluate(base)) for t in chosen}

    def scenario_with(values: Mapping[Knob, float]) -> Scenario:
        return _with_values(base, base_raw, values, "seek")

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
                "probability": None,
                "probability_asked": None,
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
                return t.margin(evaluate(scenario_with({k: v}), [t]))

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
            return tg.margin(evaluate(scenario_with(package(t)), [tg]))

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
    for knob, x in _merged(settings, base).items():
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
                "objective": _change(used, base) if used else 0.0,
                "detail": f"{t.label}: margin {margins[t.name]:+.4g}{binding}"
                + ("" if used is not None else "; no setting within the ranges reaches it"),
                "probability": None,
                "probability_asked": None,
            }
        )
    frame = pl.DataFrame(rows, schema=ANALYSIS_COLUMNS["seek"])
    return SeekResult(frame, combined, margins, evaluate.count, seconds=time.perf_counter() - started)


def seek_robust(
    base: Scenario,
    base_raw: dict[str, Any],
    dataset: Dataset,
    params: Mapping[str, np.ndarray],
    target_names: Sequence[str],
    knob_names: Sequence[str],
    p: float,
    name: str,
) -> SeekResult:
    """seek() over an ensemble: for every (target, lever) pair the least change whose share of members meeting the
    target is >= p (rows of kind `robust`), a proportional package where no single lever reaches it
    (`robust_package`), and the cheapest settings together, verified by one ensemble run (`robust_combined`).
    `params`: the members' sampled parameters (sample_parameters), the same for every lever value tried."""
    started = time.perf_counter()
    chosen = [TARGETS[t] for t in target_names]
    evaluate = EnsembleEvaluator(dataset, params, chosen)
    members = evaluate.members
    need = members_needed(p, members)
    over = f"over {members} members"
    all_knobs = knobs()
    rows: list[dict[str, Any]] = []
    settings: dict[str, dict[Knob, float]] = {}
    base_table = evaluate(base)
    base_meeting = {t.name: int(np.sum(t.margins(base_table, members) >= 0)) for t in chosen}

    def scenario_with(values: Mapping[Knob, float]) -> Scenario:
        return _with_values(base, base_raw, values, "seek")

    def row(
        kind: str,
        target: Target,
        lever: str,
        base_x: float | None,
        x: float | None,
        cost: float | None,
        probability: float,
        detail: str,
        reachable: bool | None = None,
    ) -> None:
        rows.append(
            {
                "kind": kind,
                "target": target.name,
                "lever": lever,
                "base_value": base_x,
                "value": x,
                "reachable": x is not None if reachable is None else reachable,
                "objective": cost,
                "detail": f"{target.label}: {detail}",
                "probability": probability,
                "probability_asked": p,
            }
        )

    for target in chosen:
        at_base = base_meeting[target.name] / members
        if base_meeting[target.name] >= need:
            row(
                "robust",
                target,
                "",
                None,
                None,
                0.0,
                at_base,
                f"P >= {p:g} met by {base.name} (P = {at_base:.3f} {over})",
                reachable=True,
            )
            settings[target.name] = {}
            continue
        own = [all_knobs[k] for k in knob_names if all_knobs[k].domain in target.domains]
        favourable: dict[Knob, float] = {}
        best_cost = np.inf
        for knob in own:
            base_x = knob.base_value(base)

            def lever_margins(v: float, k: Knob = knob, t: Target = target) -> np.ndarray:
                return t.margins(evaluate(scenario_with({k: v}), [t]), members)

            reach = robust_threshold(lever_margins, p, base_x, knob.low, knob.high, X_TOL * (knob.high - knob.low))
            favourable[knob] = reach.end
            if reach.x is None:
                row(
                    "robust",
                    target,
                    knob.name,
                    base_x,
                    None,
                    None,
                    reach.probability,
                    f"not reachable by this lever within [{knob.low:g}, {knob.high:g}] (best P = "
                    f"{reach.probability:.3f} {over}, asked >= {p:g})",
                )
                continue
            cost = abs(reach.x - base_x) / (knob.high - knob.low)
            row(
                "robust",
                target,
                knob.name,
                base_x,
                reach.x,
                cost,
                reach.probability,
                f"P = {reach.probability:.3f} {over} (asked >= {p:g}; {at_base:.3f} at the base value)",
            )
            if cost < best_cost:
                best_cost, settings[target.name] = cost, {knob: reach.x}
        if target.name in settings or not favourable:
            continue
        moving = {k: e for k, e in favourable.items() if e != k.base_value(base)}

        def package(t: float, moving: dict[Knob, float] = moving) -> dict[Knob, float]:
            return {k: k.base_value(base) + t * (e - k.base_value(base)) for k, e in moving.items()}

        def package_margins(t: float, tg: Target = target) -> np.ndarray:
            return tg.margins(evaluate(scenario_with(package(t)), [tg]), members)

        reach = robust_threshold(package_margins, p, 0.0, 0.0, 1.0, X_TOL)
        levers = ", ".join(k.name for k in moving)
        if reach.x is None:
            row(
                "robust_package",
                target,
                levers,
                0.0,
                None,
                None,
                reach.probability,
                f"not reachable even with every lever at its favourable end (best P = {reach.probability:.3f} "
                f"{over}, asked >= {p:g})",
            )
            continue
        values = package(reach.x)
        row(
            "robust_package",
            target,
            levers,
            0.0,
            reach.x,
            reach.x,
            reach.probability,
            f"each lever {reach.x:.0%} of the way to its favourable end: "
            + "; ".join(f"{k.name} = {v:.4g}" for k, v in values.items())
            + f" (P = {reach.probability:.3f} {over}, asked >= {p:g})",
        )
        settings[target.name] = values
    raw = _copy(base_raw)
    raw["name"] = name
    raw["description"] = (
        f"transport seek --robust {p:g} from {base.name}: least-change settings meeting {', '.join(target_names)} "
        f"in at least {p:.0%} of {members} members"
    )
    for knob, x in _merged(settings, base).items():
        knob.apply(raw, base, x)
    combined = validate_scenario_dict(raw, f"seek:{name}")
    table = evaluate(combined)
    meeting = {t.name: int(np.sum(t.margins(table, members) >= 0)) for t in chosen}
    probabilities = {t.name: meeting[t.name] / members for t in chosen}
    for t in chosen:
        used = settings.get(t.name)
        binding = "; binds (one member fewer and it falls short)" if used and meeting[t.name] == need else ""
        row(
            "robust_combined",
            t,
            ", ".join(k.name for k in used) if used else "",
            None,
            None,
            _change(used, base) if used else 0.0,
            probabilities[t.name],
            f"P = {probabilities[t.name]:.3f} {over} (asked >= {p:g}){binding}"
            + ("" if used is not None else "; no setting within the ranges reaches it"),
            reachable=meeting[t.name] >= need,
        )
    frame = pl.DataFrame(rows, schema=ANALYSIS_COLUMNS["seek"])
    margins = {t.name: t.margin(table) for t in chosen}
    return SeekResult(frame, combined, margins, evaluate.count, probabilities, time.perf_counter() - started)


def _copy(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _copy(v) if isinstance(v, Mapping) else (list(v) if isinstance(v, list) else v) for k, v in raw.items()}
