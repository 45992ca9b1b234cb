"""SimPy orchestration of the fleet turnover: the clock is simulated time in years.

Processes (never one per vehicle; Monte Carlo members are the first array axis of every state):
- one process per segment: at the end of each year (time y + 1) it steps the segment's whole (members, powertrains,
  ages) stock: survival, compulsory limits, early scrappage, sales, powertrain shares, energy;
- one process per policy rule (minimum or maximum share of a powertrain group in a segment's sales): it sleeps until
  its start date (which may fall mid-year) and then changes the rule in the rule book; a year's bound is the time
  average of the rule over the year, so a rule from 1 July counts half in that year;
- one process per early-scrappage programme: it wakes at its start and registers the programme, which removes the
  targeted cohorts uniformly until its end date;
- one infrastructure process: at the start of each year it builds the year's chargers; the segment processes read
  them as a cap on the BEV stock they serve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import simpy

from fleets import AGES, POWERTRAINS, group_mask
from fleets.choice import apply_max_share, apply_min_share, charger_cap_share
from fleets.energy import vintage_intensity
from fleets.stock import turnover_step
from fleets.survival import age_limit_rates, km_limit_hazard, programme_removal, transition_rates

P = len(POWERTRAINS)
BEV = POWERTRAINS.index("bev")
PHEV = POWERTRAINS.index("phev")


@dataclass
class SegmentInputs:
    """Everything the engine needs to run one segment; arrays with a leading 1 broadcast over members."""

    name: str
    base_stock: np.ndarray  # (M|1, P, A) vehicles at the end of the base year
    log_survival: np.ndarray  # (M|1, P, A) log S(a) of the lifetime curve (0 where survival is a step only)
    shares: np.ndarray  # (M|1, Y, P) powertrain shares of sales before policy bounds (the TCO logit)
    available: np.ndarray  # (P,) bool
    vkt_new_km: np.ndarray  # (M|1, Y) vehicle-km per vehicle at age 0
    vkt_age_factor: np.ndarray  # (A,) relative use by age
    intensity_mj_km: np.ndarray  # (M|1, P) real-world intensity of the base-year vintage (PHEV: fuel mode)
    improvement_per_yr: np.ndarray  # (P,)
    historical_per_yr: np.ndarray  # (P,)
    floor_ratio: np.ndarray  # (P,)
    phev_electric_mj_km: np.ndarray  # (M|1,) PHEV intensity in electric mode (base vintage)
    phev_utility_factor: np.ndarray  # (M|1,) share of PHEV kilometres on electricity
    demand: np.ndarray | None = None  # (M|1, Y) stock wanted at the end of each year (stock-driven)
    sales_total: np.ndarray | None = None  # (M|1, Y) sales per year (sales-driven)
    age_limit_yr: int = 0  # compulsory age limit (0 = none)
    km_limit_km: float = 0.0  # compulsory kilometre limit per vehicle (0 = none)
    km_sigma: float | np.ndarray = 0.0  # log-sd of per-vehicle kilometres within a cohort: a number or (M|1, 1)
    km_enforcement: float = 0.0  # share of vehicles over the kilometre limit that actually retire
    base_km: np.ndarray | None = None  # (M|1, A) mean accumulated km per vehicle by age, end of base year
    charger_pool_share: float = 0.0  # share of the charger-served BEV stock this segment may use (0 = own depots)


@dataclass(frozen=True)
class SalesRule:
    """A policy bound on a group's share of a segment's sales from `start` (decimal year) on."""

    segment: str
    group: str  # a key of fleets.GROUPS
    kind: str  # "min" or "max"
    share: float
    start: float


@dataclass(frozen=True)
class ScrappageProgramme:
    """Early scrappage: cohorts of `powertrains` with vintage <= max_vintage removed uniformly over [start, end]."""

    segment: str
    powertrains: tuple[str, ...]
    max_vintage: int
    start: float
    end: float


@dataclass
class SimulationOutput:
    """Per segment arrays shaped (members, years, powertrains) unless noted."""

    years: np.ndarray
    stock: dict[str, np.ndarray] = field(default_factory=dict)
    sales: dict[str, np.ndarray] = field(default_factory=dict)
    retirements: dict[str, np.ndarray] = field(default_factory=dict)
    vkt_km: dict[str, np.ndarray] = field(default_factory=dict)
    energy_mj: dict[str, np.ndarray] = field(default_factory=dict)  # PHEV: liquid-fuel part only
    phev_electric_mj: dict[str, np.ndarray] = field(default_factory=dict)  # (M, Y)
    chargers: np.ndarray | None = None  # (M, Y)
    events: list[tuple[float, str]] = field(default_factory=list)


class RuleBook:
    """The sales rules in force, as step functions of time per (segment, group, kind), changed by policy processes."""

    def __init__(self) -> None:
        self._changes: dict[tuple[str, str, str], list[tuple[float, float]]] = {}

    def set(self, rule: SalesRule, time: float) -> None:
        self._changes.setdefault((rule.segment, rule.group, rule.kind), []).append((time, rule.share))
        self._changes[(rule.segment, rule.group, rule.kind)].sort()

    def bounds(self, segment: str, year: float) -> list[tuple[str, str, float]]:
        """(group, kind, bound) of every rule of the segment, averaged over [year, year + 1)."""
        out = []
        for (seg, group, kind), changes in self._changes.items():
            if seg != segment:
                continue
            neutral = 0.0 if kind == "min" else 1.0
            value, t, total = neutral, year, 0.0
            for when, share in changes:
                if when >= year + 1:
                    break
                if when > t:
                    total += value * (when - t)
                    t = when
                value = share
            total += value * (year + 1 - t)
            if changes[0][0] < year + 1:
                out.append((group, kind, total))
        # Minimums first, then maximums: an ICE limit is applied after a clean-fuel minimum.
        return sorted(out, key=lambda r: (r[1] != "min", r[0]))


class Infrastructure:
    """Chargers per member and year, built by the infrastructure process."""

    def __init__(self, chargers: np.ndarray, vehicles_per_charger: np.ndarray, years: np.ndarray) -> None:
        self.path = np.asarray(chargers, dtype=float)  # (M|1, Y)
        self.vehicles_per_charger = np.asarray(vehicles_per_charger, dtype=float)  # (M|1,)
        self.years = years
        self.built: dict[int, np.ndarray] = {}

    def build(self, year_index: int) -> None:
        self.built[year_index] = self.path[:, year_index]

    def bev_cap(self, year_index: int) -> np.ndarray:
        """BEVs the year's chargers can serve (all charger-served segments together)."""
        return self.built[year_index] * self.vehicles_per_charger


def simulate(
    segments: Sequence[SegmentInputs],
    years: np.ndarray,
    members: int,
    rules: Sequence[SalesRule] = (),
    programmes: Sequence[ScrappageProgramme] = (),
    chargers: np.ndarray | None = None,
    vehicles_per_charger: np.ndarray | float = 1e12,
) -> SimulationOutput:
    """Run all segments from the base year (years[0], stock given) to years[-1] on one SimPy clock."""
    years = np.asarray(years, dtype=int)
    env = simpy.Environment(initial_time=float(years[0]))
    book = RuleBook()
    out = SimulationOutput(years=years)
    infra = Infrastructure(
        np.full((1, len(years)), np.inf) if chargers is None else np.atleast_2d(chargers),
        np.atleast_1d(np.asarray(vehicles_per_charger, dtype=float)),
        years,
    )
    names = {s.name for s in segments}
    for rule in rules:
        if rule.segment in names:
            env.process(_policy_process(env, book, rule, out))
    active: dict[str, list[ScrappageProgramme]] = {s.name: [] for s in segments}
    for prog in programmes:
        if prog.segment in names:
            env.process(_programme_process(env, active, prog, out))
    env.process(_infrastructure_process(env, infra, years))
    for seg in segments:
        env.process(_segment_process(env, seg, years, members, book, active, infra, out))
    env.run(until=float(years[-1]) + 1.0 + 1e-9)
    out.chargers = np.broadcast_to(infra.path, (members, len(years))).copy()
    return out


def _policy_process(env: simpy.Environment, book: RuleBook, rule: SalesRule, out: SimulationOutput):
    if rule.start > env.now:
        yield env.timeout(rule.start - env.now)
    book.set(rule, rule.start)
    out.events.append((float(env.now), f"rule {rule.segment} {rule.group} {rule.kind} {rule.share}"))


def _programme_process(env: simpy.Environment, active: dict, prog: ScrappageProgramme, out: SimulationOutput):
    if prog.start > env.now:
        yield env.timeout(prog.start - env.now)
    active[prog.segment].append(prog)
    out.events.append((float(env.now), f"scrappage {prog.segment} {','.join(prog.powertrains)} <= {prog.max_vintage}"))


def _infrastructure_process(env: simpy.Environment, infra: Infrastructure, years: np.ndarray):
    for i in range(len(years)):
        if years[i] > env.now:
            yield env.timeout(years[i] - env.now)
        infra.build(i)


def _segment_process(
    env: simpy.Environment,
    seg: SegmentInputs,
    years: np.ndarray,
    members: int,
    book: RuleBook,
    active: dict[str, list[ScrappageProgramme]],
    infra: Infrastructure,
    out: SimulationOutput,
):
    n_years = len(years)
    shape = (members, P, AGES)
    stock = np.array(np.broadcast_to(seg.base_stock, shape), dtype=float)
    spare = np.empty_like(stock)
    base_rates = transition_rates(seg.log_survival) * age_limit_rates(AGES, seg.age_limit_yr)
    base_rates = np.ascontiguousarray(base_rates)
    available = np.asarray(seg.available, dtype=bool)
    vkt_new = np.broadcast_to(seg.vkt_new_km, (members, n_years))
    g = np.asarray(seg.vkt_age_factor, dtype=float)
    intensity0 = np.broadcast_to(seg.intensity_mj_km, (members, P))
    uniform_intensity = np.asarray(seg.intensity_mj_km).shape[0] == 1
    phev_e = np.broadcast_to(seg.phev_electric_mj_km, (members,))
    uf = np.broadcast_to(seg.phev_utility_factor, (members,))
    use_km = seg.km_limit_km > 0 and seg.km_enforcement > 0
    km = np.array(np.broadcast_to(seg.base_km, (members, AGES)), dtype=float) if use_km else None
    res = {k: np.zeros((members, n_years, P)) for k in ("stock", "sales", "retirements", "vkt", "energy")}
    phev_elec = np.zeros((members, n_years))
    stock_p = stock.sum(axis=-1)
    res["stock"][:, 0] = stock_p
    res["sales"][:, 0] = stock[..., 0]
    _energy_into(res, phev_elec, 0, stock, vkt_new[:, 0], g, seg, intensity0, uniform_intensity, phev_e, uf, years)
    for i in range(1, n_years):
        year = int(years[i])
        step_time = float(year) + 1.0
        if step_time > env.now:
            yield env.timeout(step_time - env.now)
        rates = base_rates
        extra = None
        if use_km:
            # Accumulated kilometres of each cohort after this year's driving (age a -> a + 1).
            km_new = np.empty_like(km)
            km_new[:, 1:] = km[:, :-1] + vkt_new[:, i : i + 1] * g[None, 1:]
            km_new[:, 0] = 0.5 * vkt_new[:, i] * g[0]
            hazard = np.ones_like(km)
            hazard[:, :-1] = 1.0 - seg.km_enforcement * km_limit_hazard(
                km[:, :-1], km_new[:, 1:], seg.km_limit_km, seg.km_sigma
            )
            extra = hazard[:, None, :]
            km = km_new
        for prog in active[seg.name]:
            removal = programme_removal(float(year), prog.start, prog.end)
            if removal <= 0:
                continue
            factor = np.ones((P, AGES))
            ages_now = np.arange(AGES)
            targeted = (year - 1 - ages_now) <= prog.max_vintage  # vintage of the cohort aged a at end of year - 1
            for p in prog.powertrains:
                factor[POWERTRAINS.index(p), targeted] = 1.0 - removal
            extra = factor[None] if extra is None else extra * factor[None]
        if extra is not None:
            rates = base_rates * extra
        logit = np.broadcast_to(seg.shares[:, i], (members, P))
        demand = None if seg.demand is None else np.broadcast_to(seg.demand[:, i], (members,))
        sales_total = None if seg.sales_total is None else np.broadcast_to(seg.sales_total[:, i], (members,))
        bounds = book.bounds(seg.name, float(year))
        cap = infra.bev_cap(i) * seg.charger_pool_share if seg.charger_pool_share > 0 and available[BEV] else None

        def shares_rule(surv_p, total, logit=logit, bounds=bounds, cap=cap):
            return bounded_shares(logit, surv_p, total, bounds, cap, available)

        step = turnover_step(
            stock, rates, shares_rule, demand=demand, sales_total=sales_total, stock_by_powertrain=stock_p, out=spare
        )
        spare, stock = stock, step.stock
        stock_p = step.stock_by_powertrain
        res["stock"][:, i] = stock_p
        res["sales"][:, i] = step.sales
        res["retirements"][:, i] = step.retirements
        _energy_into(res, phev_elec, i, stock, vkt_new[:, i], g, seg, intensity0, uniform_intensity, phev_e, uf, years)
    out.stock[seg.name] = res["stock"]
    out.sales[seg.name] = res["sales"]
    out.retirements[seg.name] = res["retirements"]
    out.vkt_km[seg.name] = res["vkt"]
    out.energy_mj[seg.name] = res["energy"]
    out.phev_electric_mj[seg.name] = phev_elec


def bounded_shares(
    logit: np.ndarray,
    survivors_p: np.ndarray,
    total_sales: np.ndarray,
    bounds: Sequence[tuple[str, str, float]],
    bev_cap_vehicles: np.ndarray | None,
    available: np.ndarray,
) -> np.ndarray:
    """Logit shares after the charger cap (BEV stock <= what chargers serve) and the policy bounds of the year."""
    shares = np.array(logit, dtype=float)
    if bev_cap_vehicles is not None:
        cap = charger_cap_share(bev_cap_vehicles, survivors_p[:, BEV], total_sales)
        shares = apply_max_share(shares, np.array(group_mask("bev")), cap, available)
    for group, kind, bound in bounds:
        mask = np.array(group_mask(group))
        if kind == "min":
            shares = apply_min_share(shares, mask, bound, available)
        else:
            shares = apply_max_share(shares, mask, bound, available)
    return shares


def _energy_into(res, phev_elec, i, stock, u, g, seg, intensity0, uniform, phev_e, uf, years) -> None:
    """Vehicle-km and energy of the stock at the end of year index i."""
    year = int(years[i])
    rel = vintage_intensity(
        np.ones(P), seg.improvement_per_yr, seg.historical_per_yr, seg.floor_ratio, int(years[0]), year, AGES
    )  # (P, A) relative to the base vintage
    km_pa = np.einsum("mpa,a->mp", stock, g)  # vehicle-years weighted by relative use
    res["vkt"][:, i] = km_pa * u[:, None]
    weighted = np.einsum("mpa,pa->mp", stock, rel * g[None, :])  # km-weighted relative intensity
    energy = weighted * u[:, None] * intensity0
    fuel_share = 1.0 - uf
    energy[:, PHEV] *= fuel_share
    res["energy"][:, i] = energy
    phev_elec[:, i] = weighted[:, PHEV] * u * phev_e * uf
