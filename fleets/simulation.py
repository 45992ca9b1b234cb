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
from fleets.stock import age_survivors, settle_sales
from fleets.survival import (
    age_limit_rates,
    hazard_between_shares,
    programme_removal,
    share_over_km_limit,
    transition_rates,
)

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
    available = np.asarray(seg.available, dtype=bool)
    base_stock = np.asarray(seg.base_stock, dtype=float)
    # Powertrain rows that can ever hold vehicles: on sale, or in the base stock. The others stay zero in every
    # output, so the (M, rows, A) state skips them (a quarter of the elements for the Guangxi segments).
    rows = np.flatnonzero(available | (base_stock.sum(axis=(0, 2)) > 0))
    stock = np.array(np.broadcast_to(base_stock[:, rows], (members, len(rows), AGES)), order="C")
    spare = np.empty_like(stock)
    # Full-shape contiguous rates let age_survivors take its flat fast path.
    base_rates = transition_rates(np.asarray(seg.log_survival)[:, rows]) * age_limit_rates(AGES, seg.age_limit_yr)
    base_rates = np.ascontiguousarray(np.broadcast_to(base_rates, stock.shape))
    vkt_new = np.broadcast_to(seg.vkt_new_km, (members, n_years))
    g = np.asarray(seg.vkt_age_factor, dtype=float)
    sums = _StockSums(seg, rows, members, int(years[0]))
    use_km = seg.km_limit_km > 0 and seg.km_enforcement > 0
    if use_km:
        km = np.array(np.broadcast_to(seg.base_km, (members, AGES)), dtype=float)
        over = share_over_km_limit(km, seg.km_limit_km, seg.km_sigma)
        keep = np.ones((members, AGES))
    # Results are written year-major (one contiguous block per year, not one cache line per member) and handed out
    # as (members, years, powertrains) views.
    res = {k: np.zeros((n_years, members, P)) for k in ("stock", "sales", "retirements", "vkt", "energy")}
    phev_elec = np.zeros((n_years, members))
    stock_p = stock.sum(axis=-1)
    res["stock"][0][:, rows] = stock_p
    res["sales"][0][:, rows] = stock[..., 0]
    base_sums = sums.of(stock, int(years[0]))
    sums.energy_into(res, phev_elec, 0, base_sums[..., 1].T, base_sums[..., 2].T, vkt_new[:, 0])
    surv_full = np.zeros((members, P))
    logit_by_year = np.ascontiguousarray(np.moveaxis(seg.shares, 1, 0))  # (Y, M|1, P): one block per year
    for i in range(1, n_years):
        year = int(years[i])
        step_time = float(year) + 1.0
        if step_time > env.now:
            yield env.timeout(step_time - env.now)
        new = age_survivors(stock, base_rates, out=spare)
        if use_km:
            # Accumulated kilometres of each cohort after this year's driving (age a -> a + 1); the share over the
            # limit of the new state is next year's "before", so each state is evaluated once.
            km_new = np.empty_like(km)
            np.add(km[:, :-1], vkt_new[:, i : i + 1] * g[None, 1:], out=km_new[:, 1:])
            km_new[:, 0] = 0.5 * vkt_new[:, i] * g[0]
            over_new = share_over_km_limit(km_new, seg.km_limit_km, seg.km_sigma)
            keep[:, 1:] = 1.0 - seg.km_enforcement * hazard_between_shares(over[:, :-1], over_new[:, 1:])
            new *= keep[:, None, :]
            km, over = km_new, over_new
        for prog in active[seg.name]:
            removal = programme_removal(float(year), prog.start, prog.end)
            if removal <= 0:
                continue
            vintage = year - np.arange(AGES)  # cohorts now aged a were aged a - 1 at the end of year - 1
            factor = np.ones((len(rows), AGES))
            for p in prog.powertrains:
                factor[np.flatnonzero(rows == POWERTRAINS.index(p))[:, None], vintage <= prog.max_vintage] = (
                    1.0 - removal
                )
            new *= factor[None]
        logit = np.broadcast_to(logit_by_year[i], (members, P))
        demand = None if seg.demand is None else np.broadcast_to(seg.demand[:, i], (members,))
        sales_total = None if seg.sales_total is None else np.broadcast_to(seg.sales_total[:, i], (members,))
        bounds = book.bounds(seg.name, float(year))
        cap = infra.bev_cap(i) * seg.charger_pool_share if seg.charger_pool_share > 0 and available[BEV] else None

        def shares_rule(surv_p, total, logit=logit, bounds=bounds, cap=cap):
            surv_full[:, rows] = surv_p
            return bounded_shares(logit, surv_full, total, bounds, cap, available)[:, rows]

        # One pass gives the survivors, their use and energy; the sales entering at age 0 are added after.
        aged = sums.of(new, year)
        step = settle_sales(new, stock_p, shares_rule, demand, sales_total, survivors_by_powertrain=aged[..., 0].T)
        if np.any(step.excess_retired > 0):
            aged = sums.of(step.stock, year)
            use_weighted, intensity_weighted = aged[..., 1].T, aged[..., 2].T
        else:
            use_weighted = aged[..., 1].T + step.sales * sums.weights[:, 0, 1]
            intensity_weighted = aged[..., 2].T + step.sales * sums.weights[:, 0, 2]
        spare, stock = stock, step.stock
        stock_p = step.stock_by_powertrain
        res["stock"][i][:, rows] = stock_p
        res["sales"][i][:, rows] = step.sales
        res["retirements"][i][:, rows] = step.retirements
        sums.energy_into(res, phev_elec, i, use_weighted, intensity_weighted, vkt_new[:, i])
    out.stock[seg.name] = res["stock"].transpose(1, 0, 2)
    out.sales[seg.name] = res["sales"].transpose(1, 0, 2)
    out.retirements[seg.name] = res["retirements"].transpose(1, 0, 2)
    out.vkt_km[seg.name] = res["vkt"].transpose(1, 0, 2)
    out.energy_mj[seg.name] = res["energy"].transpose(1, 0, 2)
    out.phev_electric_mj[seg.name] = phev_elec.T


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


class _StockSums:
    """Per member and powertrain row, in one BLAS pass over a stock (M, rows, A): vehicles, vehicle-years weighted by
    relative use g(a), and the same weighted by the vintage's intensity relative to the base vintage."""

    def __init__(self, seg: SegmentInputs, rows: np.ndarray, members: int, base_year: int) -> None:
        self.seg = seg
        self.rows = rows
        self.base_year = base_year
        self.g = np.asarray(seg.vkt_age_factor, dtype=float)
        self.intensity0 = np.broadcast_to(seg.intensity_mj_km, (members, P))[:, rows]
        self.phev_e = np.broadcast_to(seg.phev_electric_mj_km, (members,))
        self.uf = np.broadcast_to(seg.phev_utility_factor, (members,))
        self.phev_row = np.flatnonzero(rows == PHEV)
        self.weights = np.empty((len(rows), AGES, 3))  # (rows, A, [1, g, g x relative intensity])
        self.weights[:, :, 0] = 1.0
        self.weights[:, :, 1] = self.g
        self.year = None

    def of(self, stock: np.ndarray, year: int) -> np.ndarray:
        """(rows, M, 3) sums of the stock at the end of `year`."""
        if year != self.year:
            seg = self.seg
            rel = vintage_intensity(
                np.ones(P), seg.improvement_per_yr, seg.historical_per_yr, seg.floor_ratio, self.base_year, year, AGES
            )
            self.weights[:, :, 2] = rel[self.rows] * self.g
            self.year = year
        # (rows, M, A) @ (rows, A, 3) is a batched matmul numpy hands to BLAS without copying the stock.
        return np.matmul(stock.transpose(1, 0, 2), self.weights)

    def energy_into(
        self, res: dict, phev_elec: np.ndarray, i: int, use_weighted: np.ndarray, weighted: np.ndarray, u: np.ndarray
    ) -> None:
        """Vehicle-km and energy of year index i from the stock's use-weighted and intensity-weighted sums (M, rows)
        and the new-vehicle use u (M,) km."""
        res["vkt"][i][:, self.rows] = use_weighted * u[:, None]
        energy = weighted * u[:, None] * self.intensity0
        if self.phev_row.size:
            r = self.phev_row[0]
            energy[:, r] *= 1.0 - self.uf
            phev_elec[i] = weighted[:, r] * u * self.phev_e * self.uf
        res["energy"][i][:, self.rows] = energy
