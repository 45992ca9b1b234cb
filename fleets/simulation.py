"""SimPy orchestration of the fleet turnover: the clock is simulated time in years.

Processes (never one per vehicle; Monte Carlo members are the first array axis of every state):
- one process per segment: at the end of each year (time y + 1) it steps the segment's whole (members, powertrains,
  ages) stock: survival, compulsory limits, early scrappage, sales, powertrain shares, energy (one compiled pass,
  `fleets.fused.step_segment_year`; this module prepares its inputs and keeps the rules in force);
- one process per policy rule (minimum or maximum share of a powertrain group in a segment's sales): it sleeps until
  its start date (which may fall mid-year) and then changes the rule in the rule book; a year's bound is the time
  average of the rule over the year, so a rule from 1 July counts half in that year;
- one process per early-scrappage programme: it wakes at its start and registers the programme, which removes the
  targeted cohorts uniformly until its end date;
- one infrastructure process: at the start of each year it builds the programme's chargers; with a market ratio the
  market adds a charging point per so many NEVs of last year's stock (the segments report their NEVs as they settle
  each year); the segment processes read the chargers as the BEVs they serve, which sets the availability term of
  the BEV choice (fleets.choice).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import simpy

from fleets import AGES, POWERTRAINS, group_mask
from fleets.energy import vintage_intensity
from fleets.fused import step_segment_year
from fleets.survival import age_limit_rates, programme_removal, share_over_km_limit, transition_rates

P = len(POWERTRAINS)
BEV = POWERTRAINS.index("bev")
PHEV = POWERTRAINS.index("phev")
NEV_CHARGED = [BEV, PHEV]  # powertrains that plug in: the NEVs the charger market builds for


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
    home_charging_share: float = 0.0  # share of the segment's BEV buyers who charge from a socket at home
    counts_for_chargers: bool = False  # its BEV + PHEV stock is part of the NEV stock the charger market follows
    # The segment's stock kept as this many regional stocks per member: every array above with a leading members
    # axis then has members x regions rows (member-major: row m * regions + r) or 1; a rule with a region applies to
    # that region's rows; the charger-served BEVs are shared over the regions by their stock of the year before.
    regions: int = 1


@dataclass(frozen=True)
class SalesRule:
    """A policy bound on a group's share of a segment's sales from `start` (decimal year) on."""

    segment: str
    group: str  # a key of fleets.GROUPS
    kind: str  # "min" or "max"
    share: float
    start: float
    region: int | None = None  # one region of a regional segment (SegmentInputs.regions); None: every region


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
    """The sales rules in force, as step functions of time per (segment, group, kind, region), changed by policy
    processes. A regional rule adds to the segment's rules for its region: where both bind, the stricter holds."""

    def __init__(self) -> None:
        self._changes: dict[tuple[str, str, str, int | None], list[tuple[float, float]]] = {}

    def set(self, rule: SalesRule, time: float) -> None:
        key = (rule.segment, rule.group, rule.kind, rule.region)
        self._changes.setdefault(key, []).append((time, rule.share))
        self._changes[key].sort()

    def bounds(self, segment: str, year: float) -> list[tuple[str, str, float, int | None]]:
        """(group, kind, bound, region) of every rule of the segment, averaged over [year, year + 1)."""
        out = []
        for (seg, group, kind, region), changes in self._changes.items():
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
                out.append((group, kind, total, region))
        # Minimums first, then maximums: an ICE limit is applied after a clean-fuel minimum.
        return sorted(out, key=lambda r: (r[1] != "min", r[0], -1 if r[3] is None else r[3]))


class Infrastructure:
    """Chargers per member and year: the year's programme build-out plus, when a market ratio is given, the chargers
    the market builds for last year's NEV stock (`nevs_per_charger` NEVs per charging point).

    The segments add their NEV stock to `nev_stock` as they settle each year; the chargers of year i are read while
    the segments settle year i, after every segment has settled year i - 1 (one clock tick earlier), so the order in
    which SimPy runs the processes of one instant does not matter."""

    def __init__(
        self,
        programme: np.ndarray,
        vehicles_per_charger: np.ndarray,
        years: np.ndarray,
        nevs_per_charger: np.ndarray | None = None,
    ) -> None:
        self.path = np.asarray(programme, dtype=float)  # (M|1, Y)
        self.vehicles_per_charger = np.asarray(vehicles_per_charger, dtype=float)  # (M|1,)
        self.nevs_per_charger = None if nevs_per_charger is None else np.asarray(nevs_per_charger, dtype=float)
        self.years = years
        self.built: dict[int, np.ndarray] = {}
        self.nev_stock: dict[int, np.ndarray] = {}  # year index -> (M|1,) NEVs of the charger-market segments

    def build(self, year_index: int) -> None:
        self.built[year_index] = self.path[:, year_index]

    def add_nevs(self, year_index: int, nevs: np.ndarray) -> None:
        self.nev_stock[year_index] = self.nev_stock.get(year_index, 0.0) + nevs

    def chargers(self, year_index: int) -> np.ndarray:
        """Charging points in use during the year: the programme's, plus the market's for the NEVs of the year
        before (the base year: its own)."""
        if self.nevs_per_charger is None:
            return self.built[year_index]
        nevs = self.nev_stock.get(max(year_index - 1, 0), 0.0)
        return self.built[year_index] + nevs / self.nevs_per_charger

    def bev_cap(self, year_index: int) -> np.ndarray:
        """BEVs the year's chargers can serve (all charger-served segments together)."""
        return self.chargers(year_index) * self.vehicles_per_charger


def simulate(
    segments: Sequence[SegmentInputs],
    years: np.ndarray,
    members: int,
    rules: Sequence[SalesRule] = (),
    programmes: Sequence[ScrappageProgramme] = (),
    chargers: np.ndarray | None = None,
    vehicles_per_charger: np.ndarray | float = 1e12,
    nevs_per_charger: np.ndarray | float | None = None,
) -> SimulationOutput:
    """Run all segments from the base year (years[0], stock given) to years[-1] on one SimPy clock.

    `chargers` (M|1, Y): the programme's charging points (None: charging never limits); `nevs_per_charger` (M|1,):
    when given, the market also builds a charging point per that many NEVs of last year's stock (segments with
    `counts_for_chargers`); `vehicles_per_charger`: BEVs one charging point serves."""
    years = np.asarray(years, dtype=int)
    env = simpy.Environment(initial_time=float(years[0]))
    book = RuleBook()
    out = SimulationOutput(years=years)
    infra = Infrastructure(
        np.full((1, len(years)), np.inf) if chargers is None else np.atleast_2d(chargers),
        np.atleast_1d(np.asarray(vehicles_per_charger, dtype=float)),
        years,
        None if chargers is None or nevs_per_charger is None else np.atleast_1d(np.asarray(nevs_per_charger, float)),
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
    built = np.stack([np.broadcast_to(infra.chargers(i), (members,)) for i in range(len(years))], axis=1)
    out.chargers = np.ascontiguousarray(built, dtype=float)
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
    base_year = int(years[0])
    regions = int(seg.regions)
    people = members  # the members of the charger market; the segment's own rows are members x regions
    members = people * regions
    available = np.asarray(seg.available, dtype=bool)
    base_stock = np.asarray(seg.base_stock, dtype=float)
    # Powertrain rows that can ever hold vehicles: on sale, or in the base stock. The others stay zero in every
    # output, so the (M, rows, A) state skips them (a quarter of the elements for the Guangxi segments).
    rows = np.flatnonzero(available | (base_stock.sum(axis=(0, 2)) > 0))
    stock = np.array(np.broadcast_to(base_stock[:, rows], (members, len(rows), AGES)), order="C")
    spare = np.empty_like(stock)
    rates = transition_rates(seg.log_survival, rows)
    rates *= age_limit_rates(AGES, seg.age_limit_yr)
    g = np.ascontiguousarray(seg.vkt_age_factor, dtype=float)
    vkt_new = np.ascontiguousarray(np.broadcast_to(seg.vkt_new_km, (members, n_years)).T)  # (Y, M)
    per_member = {
        name: np.ascontiguousarray(np.broadcast_to(value, (members,)), dtype=float)
        for name, value in (
            ("phev_e", seg.phev_electric_mj_km),
            ("uf", seg.phev_utility_factor),
            ("sigma", np.reshape(np.asarray(seg.km_sigma, dtype=float), -1)),
        )
    }
    intensity0 = np.ascontiguousarray(np.broadcast_to(seg.intensity_mj_km, (members, P))[:, rows])
    phev_row = int(np.flatnonzero(rows == PHEV)[0]) if PHEV in rows else -1
    capped = seg.charger_pool_share > 0 and available[BEV]
    bev_row = int(np.flatnonzero(rows == BEV)[0]) if capped else -1
    use_km = seg.km_limit_km > 0 and seg.km_enforcement > 0
    if use_km:
        assert seg.base_km is not None, "a km limit needs the segment's km by age"
        km = np.broadcast_to(seg.base_km, (members, AGES)).astype(np.float64)
        over = share_over_km_limit(km, seg.km_limit_km, per_member["sigma"][:, None])
    else:
        km = over = np.zeros((0, AGES))
    # Results are written year-major (one contiguous block per year, not one cache line per member) and handed out
    # as (members, years, powertrains) views.
    res = {k: np.zeros((n_years, members, P)) for k in ("stock", "sales", "retirements", "vkt", "energy")}
    phev_elec = np.zeros((n_years, members))
    stock_p = stock.sum(axis=-1)
    _base_year_into(res, phev_elec, seg, stock, rows, g, vkt_new[0], intensity0, phev_row, per_member, base_year)
    if seg.counts_for_chargers:
        infra.add_nevs(0, _per_member(res["stock"][0][:, NEV_CHARGED].sum(axis=-1), people, regions))
    demand_by_year = None if seg.demand is None else np.ascontiguousarray(np.asarray(seg.demand, float).T)
    sales_by_year = None if seg.sales_total is None else np.ascontiguousarray(np.asarray(seg.sales_total, float).T)
    empty = np.zeros(0)
    for i in range(1, n_years):
        year = int(years[i])
        step_time = float(year) + 1.0
        if step_time > env.now:
            yield env.timeout(step_time - env.now)
        bounds = book.bounds(seg.name, float(year))
        relative = vintage_intensity(
            np.ones(P), seg.improvement_per_yr, seg.historical_per_yr, seg.floor_ratio, base_year, year, AGES
        )
        intensity_weight = g * relative[rows]
        bound_values = _bound_values(bounds, members, regions)
        # Ages `stock` into `spare`, settles sales and writes year i's results; stock_p becomes this year's.
        step_segment_year(
            stock,
            spare,
            stock_p,
            rates,
            _scrappage_factors(active[seg.name], rows, year),
            km,
            over,
            float(seg.km_limit_km),
            per_member["sigma"],
            float(seg.km_enforcement),
            g,
            intensity_weight,
            empty if demand_by_year is None else demand_by_year[i],
            empty if sales_by_year is None else sales_by_year[i],
            seg.shares[:, i][:, rows],
            available[rows],
            _regional_cap(infra.bev_cap(i) * seg.charger_pool_share, stock_p, people, regions) if capped else empty,
            bev_row,
            float(seg.home_charging_share),
            np.array([group_mask(b[0]) for b in bounds], dtype=bool).reshape(len(bounds), P)[:, rows],
            np.array([b[1] == "min" for b in bounds], dtype=bool),
            bound_values,
            vkt_new[i],
            intensity0,
            phev_row,
            per_member["phev_e"],
            per_member["uf"],
            rows,
            res["stock"][i],
            res["sales"][i],
            res["retirements"][i],
            res["vkt"][i],
            res["energy"][i],
            phev_elec[i],
        )
        stock, spare = spare, stock
        if seg.counts_for_chargers:
            infra.add_nevs(i, _per_member(res["stock"][i][:, NEV_CHARGED].sum(axis=-1), people, regions))
    out.stock[seg.name] = res["stock"].transpose(1, 0, 2)
    out.sales[seg.name] = res["sales"].transpose(1, 0, 2)
    out.retirements[seg.name] = res["retirements"].transpose(1, 0, 2)
    out.vkt_km[seg.name] = res["vkt"].transpose(1, 0, 2)
    out.energy_mj[seg.name] = res["energy"].transpose(1, 0, 2)
    out.phev_electric_mj[seg.name] = phev_elec.T


def _per_member(values: np.ndarray, members: int, regions: int) -> np.ndarray:
    """(members x regions,) regional values summed per member."""
    return values if regions == 1 else values.reshape(members, regions).sum(axis=1)


def _regional_cap(cap: np.ndarray, stock_p: np.ndarray, members: int, regions: int) -> np.ndarray:
    """BEVs the chargers serve per row: a member's (M|1,) cap shared over its regions by their stock of the year
    before (stock_p (members x regions, rows))."""
    if regions == 1:
        return cap
    stock = stock_p.sum(axis=1).reshape(members, regions)
    weight = stock / np.maximum(stock.sum(axis=1, keepdims=True), 1e-300)
    return (np.broadcast_to(cap, (members,))[:, None] * weight).reshape(-1)


def _bound_values(bounds: Sequence[tuple[str, str, float, int | None]], rows: int, regions: int) -> np.ndarray:
    """(K, 1) bounds of the year, or (K, rows) when a rule is regional: its bound on its region's rows, a bound that
    binds nothing (0 for a minimum, 1 for a maximum) on the others."""
    if all(region is None for *_, region in bounds):
        return np.array([[value] for _, _, value, _ in bounds], dtype=float).reshape(len(bounds), 1)
    region_of_row = np.arange(rows) % regions
    values = np.empty((len(bounds), rows))
    for k, (_, kind, value, region) in enumerate(bounds):
        neutral = 0.0 if kind == "min" else 1.0
        values[k] = value if region is None else np.where(region_of_row == region, value, neutral)
    return values


def _scrappage_factors(programmes: Sequence[ScrappageProgramme], rows: np.ndarray, year: int) -> np.ndarray:
    """(rows, A) share of each aged cohort the active early-scrappage programmes keep during `year`."""
    factor = np.ones((len(rows), AGES))
    vintage = year - np.arange(AGES)  # cohorts now aged a were aged a - 1 at the end of year - 1
    for prog in programmes:
        removal = programme_removal(float(year), prog.start, prog.end)
        if removal <= 0:
            continue
        targeted = np.isin(rows, [POWERTRAINS.index(p) for p in prog.powertrains])
        factor[np.ix_(targeted, vintage <= prog.max_vintage)] *= 1.0 - removal
    return factor


def _base_year_into(
    res: dict,
    phev_elec: np.ndarray,
    seg: SegmentInputs,
    stock: np.ndarray,
    rows: np.ndarray,
    g: np.ndarray,
    u: np.ndarray,
    intensity0: np.ndarray,
    phev_row: int,
    per_member: dict,
    base_year: int,
) -> None:
    """Base-year results from the given stock: vehicles, the youngest cohort as the year's sales, vkt and energy."""
    rel = vintage_intensity(
        np.ones(P), seg.improvement_per_yr, seg.historical_per_yr, seg.floor_ratio, base_year, base_year, AGES
    )[rows]
    use_weighted = stock @ g  # (M, rows)
    intensity_weighted = np.einsum("mra,ra->mr", stock, rel * g)
    res["stock"][0][:, rows] = stock.sum(axis=-1)
    res["sales"][0][:, rows] = stock[..., 0]
    res["vkt"][0][:, rows] = use_weighted * u[:, None]
    energy = intensity_weighted * u[:, None] * intensity0
    if phev_row >= 0:
        uf = per_member["uf"]
        phev_elec[0] = intensity_weighted[:, phev_row] * u * per_member["phev_e"] * uf
        energy[:, phev_row] *= 1.0 - uf
    res["energy"][0][:, rows] = energy
