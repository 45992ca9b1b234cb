"""Fleet adapter: the Guangxi fleet dataset, levers and sampled parameters -> fleets engine inputs -> result frames.

Job of this module (the engine `fleets` knows nothing of files or scenarios):
- load and check the tables of `<dataset>/fleets/` (`load_fleet_data`);
- reconstruct the 2020 stock by segment x powertrain x age from a documented sales history and the survival curves
  (private cars: the calibrated 2013-2020 choice model gives the NEV cohorts);
- build stock demand (Gompertz car ownership on GDP per capita x population; activity handed in by the freight and
  urban models; growth rates otherwise), TCO-logit shares, rules, programmes and chargers;
- run the SimPy engine for all members at once and return the `fleet` and `energy` frames of the contract plus
  arrays for coupling (`FleetResult`);
- calibrate the private-car choice model (least squares; `python -m transport.fleet_model calibrate`).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy.optimize import least_squares

from fleets import AGES, FUELS, POWERTRAINS, SEGMENTS
from fleets.choice import capital_recovery_factor, learning_price, logit_shares, tco_utility
from fleets.energy import electricity_wtw_kg_gj, grid_factor_path
from fleets.simulation import SalesRule, ScrappageProgramme, SegmentInputs, simulate
from fleets.survival import age_limit_rates, share_over_km_limit, weibull_log_survival
from transport.errors import DatasetError
from transport.levers.base import year_path
from transport.levers.fleets import UNCERTAIN, FleetLevers
from transport.tables import Column, TableSpec, read_table, read_toml

P = len(POWERTRAINS)
NEV = ("phev", "bev", "fcev")
SEG_SET = frozenset(SEGMENTS)
PT_SET = frozenset(POWERTRAINS)

SEGMENTS_SPEC = TableSpec(
    name="fleet segments",
    columns=(
        Column("segment", "str", allowed=SEG_SET),
        Column("base_stock_vehicles", min=0, unit="vehicles"),
        Column("vkt_km", min=0, max=300000, unit="km/vehicle/yr"),
        Column("vkt_decline_per_yr", min=0, max=0.2),
        Column("survival", "str", allowed=frozenset({"weibull", "step"})),
        Column("weibull_shape", min=0.1, max=20),
        Column("weibull_scale_yr", min=0.1, max=100, unit="yr"),
        Column("age_limit_yr", "int", min=0, max=40, unit="yr"),
        Column("km_limit_km", min=0, unit="km"),
        Column("km_enforcement", min=0, max=1),
        Column("demand_driver", "str", allowed=frozenset({"ownership", "growth"})),
        Column("activity_scales", "str", allowed=frozenset({"stock", "use"})),
        Column("charger_pool_share", min=0, max=1),
        Column("tco_years", min=1, max=30, unit="yr"),
        Column("discount_rate", min=0, max=0.5),
        Column("liquid_fuel", "str", allowed=frozenset({"gasoline", "diesel"})),
        Column("real_world_uplift", min=0.8, max=2.0),
        Column("hist_growth_per_yr", min=-0.2, max=0.5),
    ),
    key=("segment",),
)
POWERTRAINS_SPEC = TableSpec(
    name="fleet powertrains",
    columns=(
        Column("segment", "str", allowed=SEG_SET),
        Column("powertrain", "str", allowed=PT_SET),
        Column("available", "int", min=0, max=1),
        Column("stock_share_2020", min=0, max=1),
        Column("sales_share_2020", min=0, max=1),
        Column("price_kyuan", min=0, unit="thousand yuan"),
        Column("learning_kyuan", min=0, unit="thousand yuan"),
        Column("maintenance_kyuan_yr", min=0, unit="thousand yuan/yr"),
        Column("intensity_test_mj_km", min=0, max=50, unit="MJ/km"),
        Column("phev_electric_mj_km", min=0, max=20, unit="MJ/km"),
        Column("improvement_per_yr", min=0, max=0.1),
        Column("historical_per_yr", min=0, max=0.1),
        Column("floor_ratio", min=0.1, max=1),
        Column("hist_growth_per_yr", min=-0.3, max=1.0),
        Column("lifetime_factor", min=0.3, max=2),
    ),
    key=("segment", "powertrain"),
    shares=None,
)
GROWTH_SPEC = TableSpec(
    name="fleet demand growth",
    columns=(
        Column("segment", "str", allowed=SEG_SET),
        Column("year", "int", min=2000, max=2100),
        Column("growth_per_yr", min=-0.3, max=0.5),
    ),
    key=("segment", "year"),
)
MACRO_SPEC = TableSpec(
    name="fleet macro",
    columns=(
        Column("year", "int", min=2000, max=2100),
        Column("population_m", min=1, unit="million"),
        Column("gdp_growth_per_yr", min=-0.3, max=0.5),
    ),
    key=("year",),
)
FUELS_SPEC = TableSpec(
    name="fleet fuels",
    columns=(
        Column("fuel", "str", allowed=frozenset(FUELS)),
        Column("unit", "str"),
        Column("price_yuan_per_unit", min=0),
        Column("mj_per_unit", min=0.001),
        Column("price_growth_per_yr", min=-0.2, max=0.2),
        Column("price_floor_ratio", min=0, max=1),
        Column("lhv_mj_per_kg", min=0.001),
        Column("ttw_kgco2_per_gj", min=0, max=200),
        Column("upstream_kgco2_per_gj_2020", min=0, max=400),
        Column("upstream_kgco2_per_gj_2060", min=0, max=400),
    ),
    key=("fuel",),
)
LEARNING_SPEC = TableSpec(
    name="fleet learning",
    columns=(
        Column("year", "int", min=1990, max=2100),
        Column("battery_gwh_cum", min=1e-6, unit="GWh"),
        Column("fuel_cell_mw_cum", min=1e-6, unit="MW"),
    ),
    key=("year",),
)
HISTORY_SPEC = TableSpec(
    name="fleet subsidy history",
    columns=(
        Column("year", "int", min=2000, max=2020),
        Column("bev_subsidy_share", min=0, max=1),
        Column("phev_subsidy_share", min=0, max=1),
        Column("fcev_subsidy_share", min=0, max=1),
    ),
    key=("year",),
)


@dataclass(frozen=True)
class FleetData:
    """The checked fleet tables of a dataset."""

    folder: Path
    segments: pl.DataFrame
    powertrains: pl.DataFrame
    growth: pl.DataFrame
    macro: pl.DataFrame
    fuels: pl.DataFrame
    learning: pl.DataFrame
    history: pl.DataFrame
    parameters: dict[str, Any]
    calibration: dict[str, float]

    def seg(self, name: str) -> dict[str, Any]:
        return self.segments.filter(pl.col("segment") == name).row(0, named=True)

    def pt(self, name: str, column: str) -> np.ndarray:
        """Column of powertrains.csv for a segment, in POWERTRAINS order (P,)."""
        rows = self.powertrains.filter(pl.col("segment") == name)
        lookup = dict(zip(rows["powertrain"].to_list(), rows[column].to_list(), strict=True))
        return np.array([float(lookup[p]) for p in POWERTRAINS])

    def fuel(self, fuel: str, column: str) -> float:
        return float(self.fuels.filter(pl.col("fuel") == fuel)[column][0])


@dataclass(frozen=True)
class ActivityInput:
    """Activity of a segment handed in by another domain; give exactly one of the three (arrays (members, years)).

    stock_vehicles: vehicles wanted at the end of each year; vkt_bn: billion vehicle-km per year (its change from
    the base year is applied to the segment's own base-year level); vkt_index: multiplies the segment's own
    demand-driven vehicle-km.
    """

    stock_vehicles: np.ndarray | None = None
    vkt_bn: np.ndarray | None = None
    vkt_index: np.ndarray | None = None

    def __post_init__(self) -> None:
        given = [x is not None for x in (self.stock_vehicles, self.vkt_bn, self.vkt_index)]
        if sum(given) != 1:
            raise ValueError("ActivityInput needs exactly one of stock_vehicles, vkt_bn, vkt_index")


@dataclass
class FleetResult:
    """Result frames (contract columns) and arrays for coupling: (members, years, segments[, powertrains])."""

    fleet: pl.DataFrame
    energy: pl.DataFrame
    segments: tuple[str, ...]
    years: np.ndarray
    stock: np.ndarray
    sales: np.ndarray
    retirements: np.ndarray
    vkt_bn: np.ndarray
    energy_pj: np.ndarray
    oil_mt: np.ndarray
    co2_ttw_mt: np.ndarray
    co2_wtw_mt: np.ndarray
    grid_kg_kwh: np.ndarray  # (members, years)
    non_fossil_share: np.ndarray  # (members, years)
    chargers: np.ndarray  # (members, years)
    events: list[tuple[float, str]] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------------------- loading


def load_fleet_data(folder: Path) -> FleetData:
    """Load and check `<folder>/fleets/*` (folder = dataset root); the first problem raises a DatasetError."""
    base = Path(folder) / "fleets"
    segments = read_table(base / "segments.csv", SEGMENTS_SPEC)
    powertrains = read_table(base / "powertrains.csv", POWERTRAINS_SPEC)
    data = FleetData(
        folder=base,
        segments=segments,
        powertrains=powertrains,
        growth=read_table(base / "growth.csv", GROWTH_SPEC),
        macro=read_table(base / "macro.csv", MACRO_SPEC),
        fuels=read_table(base / "fuels.csv", FUELS_SPEC),
        learning=read_table(base / "learning.csv", LEARNING_SPEC),
        history=read_table(base / "history.csv", HISTORY_SPEC),
        parameters=read_toml(base / "parameters.toml"),
        calibration=_read_calibration(base / "calibration.toml"),
    )
    _check(data, base)
    return data


def _read_calibration(path: Path) -> dict[str, float]:
    raw = read_toml(path)
    params = raw.get("parameters", {})
    for key in ("asc_bev", "liuzhou_bonus", "asc_half_life_yr", "liuzhou_half_life_yr"):
        if not isinstance(params.get(key), int | float):
            raise DatasetError(path, f"parameters.{key}", params.get(key, "missing"), "a number")
    return {k: float(v) for k, v in params.items()}


def _check(data: FleetData, base: Path) -> None:
    missing = sorted(SEG_SET - set(data.segments["segment"].to_list()))
    if missing:
        raise DatasetError(base / "segments.csv", "segment", missing[0], f"one row per segment {sorted(SEG_SET)}")
    for seg in SEGMENTS:
        rows = data.powertrains.filter(pl.col("segment") == seg)
        if set(rows["powertrain"].to_list()) != PT_SET:
            raise DatasetError(base / "powertrains.csv", f"powertrain ({seg})", rows.height, "one row per powertrain")
        for col in ("stock_share_2020", "sales_share_2020"):
            total = float(rows[col].sum())
            if abs(total - 1.0) > 1e-6:
                raise DatasetError(base / "powertrains.csv", f"{col} ({seg})", total, "shares that sum to 1")
            bad = rows.filter((pl.col("available") == 0) & (pl.col(col) > 0))
            if bad.height:
                raise DatasetError(base / "powertrains.csv", f"{col} ({seg})", bad["powertrain"][0], "0 if unavailable")
    if set(data.fuels["fuel"].to_list()) != set(FUELS):
        raise DatasetError(base / "fuels.csv", "fuel", sorted(data.fuels["fuel"].to_list()), f"all of {FUELS}")
    growth_segments = set(data.growth["segment"].to_list())
    for seg in SEGMENTS:
        if seg not in growth_segments:
            raise DatasetError(base / "growth.csv", "segment", seg, "a growth path for every segment")


# --------------------------------------------------------------------------------------------------- building blocks


def _members(params: Mapping[str, np.ndarray], name: str, members: int) -> np.ndarray:
    value = params.get(name)
    if value is None:
        return np.full(members, UNCERTAIN[name].default)
    return np.broadcast_to(np.asarray(value, dtype=float), (members,)).astype(float)


def log_survival(data: FleetData, seg: str, lifetime_factor: np.ndarray) -> np.ndarray:
    """log S(a) shaped (M, P, A): Weibull per powertrain (scale x lifetime factors); (1, P, A) zeros for step-only
    segments, whose survival does not depend on the member."""
    row = data.seg(seg)
    ages = np.arange(AGES, dtype=float)
    lf = np.asarray(lifetime_factor, dtype=float)[:, None, None]
    if row["survival"] == "step":
        return np.zeros((1, P, AGES))
    scale = row["weibull_scale_yr"] * data.pt(seg, "lifetime_factor")[None, :, None] * lf
    return weibull_log_survival(ages[None, None, :], row["weibull_shape"], scale)


def base_km_by_age(data: FleetData, seg: str, vkt_factor: float = 1.0) -> np.ndarray:
    """Mean accumulated km per vehicle by age at the end of the base year (A,), at base-year use."""
    row = data.seg(seg)
    g = vkt_age_factor(data, seg)
    first = float(data.parameters["stock"]["first_year_use"])
    driven = row["vkt_km"] * vkt_factor * g
    km = np.cumsum(driven) - driven[0] + first * driven[0]
    return km


def vkt_age_factor(data: FleetData, seg: str) -> np.ndarray:
    """Relative use by age, (1 - decline)^age (A,)."""
    return (1.0 - data.seg(seg)["vkt_decline_per_yr"]) ** np.arange(AGES)


def cumulative_survival(data: FleetData, seg: str, lifetime_factor: float = 1.0) -> np.ndarray:
    """S(a) (P, A) including the compulsory age and (enforced) kilometre limits at base-year use."""
    row = data.seg(seg)
    log_s = log_survival(data, seg, np.array([lifetime_factor]))[0]
    steps = np.cumprod(np.concatenate([[1.0], age_limit_rates(AGES, int(row["age_limit_yr"]))[:-1]]))
    km_surv = 1.0 - row["km_enforcement"] * share_over_km_limit(
        base_km_by_age(data, seg), row["km_limit_km"], float(UNCERTAIN["fleet_km_sigma"].default)
    )
    return np.exp(log_s) * steps[None, :] * km_surv[None, :]


def _reconstruct(
    cohort_sales: np.ndarray, survival: np.ndarray, total: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stock 2020 (P, A), stock 2019 by powertrain (P,), scale, from sales by cohort age (P, A+1; index a = sold
    a years before 2020) and survival (P, A); scaled so the 2020 stock sums to `total`."""
    s2020 = cohort_sales[:, :AGES] * survival
    s2019 = (cohort_sales[:, 1 : AGES + 1] * survival).sum(axis=-1)
    scale = total / s2020.sum() if s2020.sum() > 0 else 0.0
    return s2020 * scale, s2019 * scale, np.array(scale)


def base_stock(data: FleetData, seg: str, calibration: Mapping[str, float] | None = None):
    """Stock at the end of 2020 (P, A) and the 2020 retirements by powertrain (P,).

    Cohort sales of powertrain p sold a years before 2020 ∝ share_p * (1 + g_p)^-a (documented history growth);
    stock = cohort sales x survival, scaled to the segment's 2020 stock and its stock shares. Private cars: total
    sales grow at the segment's history rate and the 2013-2020 cohorts split by the calibrated choice model.
    """
    row = data.seg(seg)
    surv = cumulative_survival(data, seg)
    ages = np.arange(AGES + 1)
    if seg == "private_car":
        shares = private_car_history_shares(data, calibration or data.calibration)  # (A+1, P)
        sales = (1.0 + row["hist_growth_per_yr"]) ** (-ages.astype(float))
        stock, s2019, _ = _reconstruct((sales[:, None] * shares).T, surv, row["base_stock_vehicles"])
    else:
        share = data.pt(seg, "stock_share_2020")
        growth = data.pt(seg, "hist_growth_per_yr")
        profile = (1.0 + growth[:, None]) ** (-ages[None, :].astype(float))
        stock = np.zeros((P, AGES))
        s2019 = np.zeros(P)
        for p in range(P):
            if share[p] <= 0:
                continue
            st, s19, _ = _reconstruct(profile[p : p + 1], surv[p : p + 1], share[p] * row["base_stock_vehicles"])
            stock[p], s2019[p] = st[0], s19[0]
    retire_2020 = s2019 - (stock.sum(axis=-1) - stock[:, 0])
    return stock, np.maximum(retire_2020, 0.0)


def _learning_ratio(data: FleetData, column: str, years: np.ndarray) -> np.ndarray:
    """Q(t)/Q(2020) of a cumulative-deployment series, interpolated log-linearly."""
    xs = data.learning["year"].to_numpy().astype(float)
    ys = np.log(data.learning[column].to_numpy())
    q = np.exp(np.interp(np.asarray(years, float), xs, ys))
    return q / np.exp(np.interp(2020.0, xs, ys))


def fuel_price_yuan_mj(data: FleetData, fuel: str, years: np.ndarray, oil_factor: np.ndarray) -> np.ndarray:
    """Fuel price per MJ (M, Y): 2020 price, real trend (held at a floor), oil factor on gasoline/diesel after 2020."""
    price0 = data.fuel(fuel, "price_yuan_per_unit") / data.fuel(fuel, "mj_per_unit")
    dt = np.maximum(np.asarray(years, float) - 2020.0, 0.0)
    trend = np.maximum((1.0 + data.fuel(fuel, "price_growth_per_yr")) ** dt, data.fuel(fuel, "price_floor_ratio"))
    path = price0 * trend[None, :]
    if fuel in ("gasoline", "diesel"):
        factor = np.where(dt[None, :] > 0, np.asarray(oil_factor, float)[:, None], 1.0)
        path = path * factor
    return path


@dataclass
class ChoiceContext:
    """Per-member inputs of the TCO computation."""

    members: int
    battery_lr: np.ndarray
    oil_factor: np.ndarray
    real_world: np.ndarray
    phev_uf: np.ndarray
    vkt_factor: np.ndarray


def tco_yuan_yr(
    data: FleetData,
    seg: str,
    years: np.ndarray,
    ctx: ChoiceContext,
    subsidy_share: np.ndarray,
    nev_tax_factor: np.ndarray,
    carbon_price_yuan_t: np.ndarray,
) -> np.ndarray:
    """TCO per vehicle-year (M, Y, P) of new vehicles of a segment (see fleets.choice for the formula)."""
    row = data.seg(seg)
    years = np.asarray(years, dtype=float)
    price0 = data.pt(seg, "price_kyuan") * 1e3
    learn0 = data.pt(seg, "learning_kyuan") * 1e3
    is_fc = np.array([p == "fcev" for p in POWERTRAINS])
    ratio = np.where(
        is_fc[None, :],
        _learning_ratio(data, "fuel_cell_mw_cum", years)[:, None],
        _learning_ratio(data, "battery_gwh_cum", years)[:, None],
    )  # (Y, P)
    lr = np.where(
        is_fc[None, None, :], float(data.parameters["choice"]["fuel_cell_learning_rate"]), ctx.battery_lr[:, None, None]
    )
    price = learning_price(price0 - learn0, learn0, ratio[None], lr)  # (M, Y, P)
    nev = np.array([p in NEV for p in POWERTRAINS])
    tax_rate = float(data.parameters["choice"]["purchase_tax_rate"])
    tax = price * tax_rate * np.where(nev[None, None, :], np.asarray(nev_tax_factor)[None, :, None], 1.0)
    mult = np.array([{"bev": 1.0, "phev": 0.5, "fcev": 3.0}.get(p, 0.0) for p in POWERTRAINS])
    subsidy = price * np.minimum(np.asarray(subsidy_share)[None, :, None] * mult[None, None, :], 0.6)
    crf = capital_recovery_factor(row["discount_rate"], row["tco_years"])
    capex = (price + tax - subsidy) * crf
    uplift = row["real_world_uplift"] * ctx.real_world[:, None]  # (M, 1)
    intensity = data.pt(seg, "intensity_test_mj_km")[None, :] * uplift  # (M, P)
    phev_e = data.pt(seg, "phev_electric_mj_km")[None, :] * uplift
    liquid = row["liquid_fuel"]
    fuel_of = {
        "gasoline": "gasoline",
        "diesel": "diesel",
        "hev": liquid,
        "phev": liquid,
        "bev": "electricity",
        "fcev": "hydrogen",
        "gas": "natural_gas",
    }
    carbon = np.asarray(carbon_price_yuan_t, float)[None, :]  # (1, Y)
    cost_km = np.zeros((ctx.members, len(years), P))
    for j, p in enumerate(POWERTRAINS):
        f = fuel_of[p]
        per_mj = fuel_price_yuan_mj(data, f, years, ctx.oil_factor) + carbon * data.fuel(f, "ttw_kgco2_per_gj") / 1e6
        if p == "phev":
            elec = fuel_price_yuan_mj(data, "electricity", years, ctx.oil_factor)
            uf = ctx.phev_uf[:, None]
            cost_km[:, :, j] = (1 - uf) * intensity[:, j : j + 1] * per_mj + uf * phev_e[:, j : j + 1] * elec
        else:
            cost_km[:, :, j] = intensity[:, j : j + 1] * per_mj
    vkt = row["vkt_km"] * ctx.vkt_factor[:, None, None]
    maintenance = data.pt(seg, "maintenance_kyuan_yr")[None, None, :] * 1e3
    return capex + vkt * cost_km + maintenance


def reference_index(data: FleetData, seg: str) -> int:
    """The segment's reference powertrain: its conventional liquid-fuel ICE (or the first available)."""
    avail = data.pt(seg, "available") > 0
    ref = POWERTRAINS.index(data.seg(seg)["liquid_fuel"])
    return ref if avail[ref] else int(np.argmax(avail))


def asc_from_shares(
    shares: np.ndarray, tco_2020: np.ndarray, ref: int, cost_sensitivity: np.ndarray, reference_tco: np.ndarray
) -> np.ndarray:
    """Alternative-specific constants (M, P) that make the logit reproduce `shares` (P,) at the 2020 TCO (M, P)."""
    s = np.asarray(shares, dtype=float)
    with np.errstate(divide="ignore"):
        log_ratio = np.where(s > 0, np.log(np.where(s > 0, s, 1.0) / s[ref]), -np.inf)
    lam = np.asarray(cost_sensitivity, float)[:, None]
    return log_ratio[None, :] + lam * (tco_2020 - tco_2020[:, ref : ref + 1]) / reference_tco[:, None]


def _relaxed_asc(asc: np.ndarray, years: np.ndarray, half_life_yr: float) -> np.ndarray:
    """Constants (M, Y, P): those of the NEV powertrains fade towards 0 with the half-life (larger before 2020) as
    non-cost barriers (model range, charging habits, familiarity) fall; hybrids and gas keep theirs."""
    decay = 0.5 ** ((np.asarray(years, float) - 2020.0) / half_life_yr)
    nev = np.array([p in NEV for p in POWERTRAINS])
    factor = np.where(nev[None, :], decay[:, None], 1.0)  # (Y, P)
    return np.where(np.isfinite(asc[:, None, :]), asc[:, None, :] * factor[None], -np.inf)


def _sales_shares_2020(data: FleetData, seg: str) -> np.ndarray:
    avail = data.pt(seg, "available") > 0
    shares = np.where(
        avail,
        np.maximum(data.pt(seg, "sales_share_2020"), float(data.parameters["choice"]["min_sales_share_2020"])),
        0.0,
    )
    return shares / shares.sum()


def _history_ctx() -> ChoiceContext:
    d = {k: np.array([UNCERTAIN[k].default]) for k in UNCERTAIN}
    return ChoiceContext(
        1,
        d["fleet_battery_learning_rate"],
        d["fleet_oil_price_factor"],
        d["fleet_real_world_factor"],
        d["fleet_phev_utility_factor"],
        d["fleet_vkt_factor"],
    )


def private_car_history_shares(
    data: FleetData, calibration: Mapping[str, float], liuzhou: bool = False, years: np.ndarray | None = None
) -> np.ndarray:
    """Powertrain shares of private-car sales (rows: years or, if `years` is None, cohort ages 0..A; cols: P).

    2013-2020 cohorts from the choice model at default parameters (history subsidies, learning, fading constants);
    older cohorts: the non-NEV shares of the 2020 stock table.
    """
    seg = "private_car"
    first = int(data.parameters["calibration"]["first_year"])
    hist_years = np.arange(first, 2021)
    ctx = _history_ctx()
    sub = data.history.sort("year")
    sub_share = np.interp(hist_years, sub["year"].to_numpy(), sub["bev_subsidy_share"].to_numpy())
    tco = tco_yuan_yr(data, seg, hist_years, ctx, sub_share, np.zeros(len(hist_years)), np.zeros(len(hist_years)))
    ref = reference_index(data, seg)
    lam = np.array([float(data.parameters["choice"]["cost_sensitivity"])])
    asc = asc_from_shares(_sales_shares_2020(data, seg), tco[:, -1], ref, lam, tco[:, -1, ref])
    asc[:, POWERTRAINS.index("bev")] = calibration["asc_bev"]
    asc_t = _relaxed_asc(asc, hist_years, calibration["asc_half_life_yr"])
    if liuzhou:
        # Liuzhou's lead (local mini-EV maker, road rights, parking) diffuses to the rest of the province, so its
        # bonus shrinks with its own half-life.
        bonus = np.array([calibration["liuzhou_bonus"] if p in ("bev", "phev") else 0.0 for p in POWERTRAINS])
        fade = 0.5 ** ((hist_years - 2020.0) / calibration["liuzhou_half_life_yr"])
        asc_t = asc_t + bonus[None, None, :] * fade[None, :, None]
    util = tco_utility(tco, tco[:, -1:, ref : ref + 1], asc_t, lam[:, None, None])
    shares = logit_shares(util, (data.pt(seg, "available") > 0)[None, None, :])[0]  # (Y, P)
    if years is not None:
        idx = np.searchsorted(hist_years, years)
        return shares[idx]
    old = data.pt(seg, "stock_share_2020") * np.array([p not in NEV for p in POWERTRAINS])
    old = old / old.sum()
    out = np.tile(old, (AGES + 1, 1))
    for a in range(AGES + 1):
        y = 2020 - a
        if y >= first:
            out[a] = shares[y - first]
    return out


# ----------------------------------------------------------------------------------------------------------- demand


def gdp_per_capita_kyuan(data: FleetData, years: np.ndarray, growth_shift: np.ndarray) -> np.ndarray:
    """GDP per capita (M, Y) in thousand 2020 yuan from the 2020 level, GDP growth (+ shift after 2020), population."""
    macro = data.macro.sort("year")
    mx = macro["year"].to_numpy().astype(float)
    years = np.asarray(years, dtype=float)
    all_years = np.arange(2017, max(years.max(), 2020) + 1, dtype=float)
    growth = np.interp(all_years, mx, macro["gdp_growth_per_yr"].to_numpy())
    shift = np.where(all_years[None, :] > 2020, np.asarray(growth_shift, float)[:, None], 0.0)
    level = np.cumprod(1.0 + np.where(all_years[None, :] > 2017, growth[None, :] + shift, 0.0), axis=1)
    level = level / level[:, [2020 - 2017]]
    pop = np.interp(all_years, mx, macro["population_m"].to_numpy())
    gdp_pc = float(data.parameters["ownership"]["gdp_per_capita_2020_kyuan"]) * level * (pop[2020 - 2017] / pop)
    idx = (years - 2017).astype(int)
    return gdp_pc[:, idx]


def population_m(data: FleetData, years: np.ndarray) -> np.ndarray:
    macro = data.macro.sort("year")
    return np.interp(np.asarray(years, float), macro["year"].to_numpy(), macro["population_m"].to_numpy())


def car_ownership_per_1000(data: FleetData, years: np.ndarray, saturation: np.ndarray, growth_shift: np.ndarray):
    """Gompertz ownership (M, Y): V = Vmax exp(alpha exp(beta g)), alpha/beta through the 2017 and 2020 anchors."""
    own = data.parameters["ownership"]
    v2020 = data.seg("private_car")["base_stock_vehicles"] / (population_m(data, np.array([2020]))[0] * 1e3)
    g = gdp_per_capita_kyuan(data, np.concatenate([[own["anchor_year"], 2020], years]), growth_shift)
    vmax = np.asarray(saturation, float)[:, None]
    z1 = np.log(-np.log(own["anchor_cars_per_1000"] / vmax[:, 0]))
    z2 = np.log(-np.log(v2020 / vmax[:, 0]))
    beta = (z2 - z1) / (g[:, 1] - g[:, 0])
    log_neg_alpha = z2 - beta * g[:, 1]
    return vmax * np.exp(-np.exp(log_neg_alpha[:, None] + beta[:, None] * g[:, 2:]))


def growth_index(data: FleetData, seg: str, years: np.ndarray) -> np.ndarray:
    """Cumulative growth of demand relative to the base year (Y,)."""
    rows = data.growth.filter(pl.col("segment") == seg).sort("year")
    rates = np.interp(np.asarray(years, float), rows["year"].to_numpy(), rows["growth_per_yr"].to_numpy())
    rates[0] = 0.0
    return np.cumprod(1.0 + rates)


# ---------------------------------------------------------------------------------------------------------- adapter


def simulate_fleets(
    data: FleetData,
    levers: FleetLevers,
    params: Mapping[str, np.ndarray],
    years: np.ndarray,
    members: int,
    activity: Mapping[str, ActivityInput] | None = None,
    modes: Mapping[str, str] | None = None,
    sales_paths: Mapping[str, np.ndarray] | None = None,
) -> FleetResult:
    """Run every segment for all members; `years` starts at the base year 2020.

    `modes` may switch a segment to "sales" (sales-driven) with `sales_paths[segment]` (members, years) of sales.
    """
    inputs, rules, programmes, chargers, m, base_flows = engine_inputs(
        data, levers, params, years, members, activity, modes, sales_paths
    )
    years = np.asarray(years, dtype=int)
    out = simulate(inputs, years, members, rules, programmes, chargers, m["fleet_vehicles_per_charger"])
    for seg in SEGMENTS:  # base-year flows from the reconstructed history
        out.retirements[seg][:, 0] = base_flows[seg][1][None, :]
    return _result(data, levers, out, years, members, m)


def engine_inputs(
    data: FleetData,
    levers: FleetLevers,
    params: Mapping[str, np.ndarray],
    years: np.ndarray,
    members: int,
    activity: Mapping[str, ActivityInput] | None = None,
    modes: Mapping[str, str] | None = None,
    sales_paths: Mapping[str, np.ndarray] | None = None,
):
    """The engine's inputs: segment inputs, rules, programmes, chargers, per-member parameters, base-year flows."""
    years = np.asarray(years, dtype=int)
    if years[0] != 2020:
        raise ValueError("years must start at the base year 2020")
    activity = activity or {}
    m = {name: _members(params, name, members) for name in UNCERTAIN}
    ctx = ChoiceContext(
        members,
        m["fleet_battery_learning_rate"],
        m["fleet_oil_price_factor"],
        m["fleet_real_world_factor"],
        m["fleet_phev_utility_factor"],
        m["fleet_vkt_factor"],
    )
    n_years = len(years)
    subsidy = year_path(levers.nev_subsidy_share, years)
    nev_tax = year_path(levers.nev_purchase_tax_factor, years)
    carbon = year_path(levers.carbon_price_yuan_t, years)
    lam = float(data.parameters["choice"]["cost_sensitivity"]) * m["fleet_cost_sensitivity_factor"]
    half_life = data.calibration["asc_half_life_yr"]
    growth_shift = (
        _members(params, "freight_gdp_growth_shift", members)
        if "freight_gdp_growth_shift" in params
        else np.zeros(members)
    )
    inputs: list[SegmentInputs] = []
    base_flows: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for seg in SEGMENTS:
        row = data.seg(seg)
        avail = data.pt(seg, "available") > 0
        stock0, retire0 = base_stock(data, seg)
        base_flows[seg] = (stock0, retire0)
        tco = tco_yuan_yr(data, seg, years, ctx, subsidy, nev_tax, carbon)
        ref = reference_index(data, seg)
        reference = tco[:, 0, ref]
        asc = asc_from_shares(_sales_shares_2020(data, seg), tco[:, 0], ref, lam, reference)
        if seg == "private_car":
            asc[:, POWERTRAINS.index("bev")] = data.calibration["asc_bev"]
        util = tco_utility(tco, reference[:, None, None], _relaxed_asc(asc, years, half_life), lam[:, None, None])
        shares = logit_shares(util, avail[None, None, :])
        # Demand and use.
        base_total = float(row["base_stock_vehicles"])
        if row["demand_driver"] == "ownership":
            own = car_ownership_per_1000(data, years, m["fleet_car_saturation_per_1000"], growth_shift)
            own_demand = own * population_m(data, years)[None, :] * 1e3
            own_demand = own_demand * base_total / own_demand[:, :1]
        else:
            own_demand = np.tile(base_total * growth_index(data, seg, years), (members, 1))
        use = np.ones((members, n_years))
        demand = own_demand
        act = activity.get(seg)
        if act is not None:
            if act.stock_vehicles is not None:
                demand = np.broadcast_to(np.asarray(act.stock_vehicles, float), (members, n_years)).copy()
            else:
                series = act.vkt_bn if act.vkt_bn is not None else act.vkt_index
                series = np.broadcast_to(np.asarray(series, float), (members, n_years))
                # vkt_bn: its change since the base year; vkt_index: used as given (a multiplier).
                index = series / np.maximum(series[:, :1], 1e-12) if act.vkt_bn is not None else series
                if act.vkt_bn is not None:  # replaces the segment's own demand path
                    if row["activity_scales"] == "stock":
                        demand = base_total * index
                    else:
                        use = index * own_demand[:, :1] / own_demand
                elif row["activity_scales"] == "stock":
                    demand = own_demand * index
                else:
                    use = index
        mode = (modes or {}).get(seg, "stock")
        vkt_new = row["vkt_km"] * m["fleet_vkt_factor"][:, None] * use
        uplift = row["real_world_uplift"] * m["fleet_real_world_factor"]
        inputs.append(
            SegmentInputs(
                name=seg,
                base_stock=stock0[None],
                log_survival=log_survival(data, seg, m["fleet_lifetime_factor"]),
                shares=shares,
                available=avail,
                vkt_new_km=vkt_new,
                vkt_age_factor=vkt_age_factor(data, seg),
                intensity_mj_km=data.pt(seg, "intensity_test_mj_km")[None, :] * uplift[:, None],
                improvement_per_yr=data.pt(seg, "improvement_per_yr"),
                historical_per_yr=data.pt(seg, "historical_per_yr"),
                floor_ratio=data.pt(seg, "floor_ratio"),
                phev_electric_mj_km=data.pt(seg, "phev_electric_mj_km")[POWERTRAINS.index("phev")] * uplift,
                phev_utility_factor=m["fleet_phev_utility_factor"],
                demand=demand if mode == "stock" else None,
                sales_total=None if mode == "stock" else np.asarray((sales_paths or {})[seg], float),
                age_limit_yr=int(row["age_limit_yr"]),
                km_limit_km=float(row["km_limit_km"]),
                km_sigma=np.asarray(m["fleet_km_sigma"], dtype=float)[:, None],
                km_enforcement=float(row["km_enforcement"]),
                # accumulated km are linear in the member's use factor
                base_km=base_km_by_age(data, seg)[None, :] * np.asarray(m["fleet_vkt_factor"], dtype=float)[:, None],
                charger_pool_share=float(row["charger_pool_share"]),
            )
        )
    rules = [SalesRule(r.segment, r.group, r.kind, r.share, r.start) for r in levers.sales_rules]
    programmes = [
        ScrappageProgramme(p.segment, tuple(p.powertrains), p.max_vintage, p.start, p.end)
        for p in levers.scrappage_programmes
    ]
    chargers = year_path(levers.chargers, years)[None, :]
    return inputs, rules, programmes, chargers, m, base_flows


def _result(data: FleetData, levers: FleetLevers, out, years: np.ndarray, members: int, m) -> FleetResult:
    n_years = len(years)
    S = len(SEGMENTS)
    stock = np.stack([out.stock[s] for s in SEGMENTS], axis=2)
    sales = np.stack([out.sales[s] for s in SEGMENTS], axis=2)
    retire = np.stack([out.retirements[s] for s in SEGMENTS], axis=2)
    vkt = np.stack([out.vkt_km[s] for s in SEGMENTS], axis=2)  # (M, Y, S, P) km
    energy_mj = np.stack([out.energy_mj[s] for s in SEGMENTS], axis=2)
    phev_elec_mj = np.stack([out.phev_electric_mj[s] for s in SEGMENTS], axis=2)  # (M, Y, S)
    # Grid factor path tied to the non-fossil share.
    nf = year_path(levers.non_fossil_share, years)
    grid_cfg = data.parameters["grid"]
    nf_base = float(year_path(levers.non_fossil_share, np.array([grid_cfg["factor_year"]]))[0])
    grid = grid_factor_path(grid_cfg["factor_kg_kwh"], nf_base, nf[None, :], m["fleet_grid_elasticity"][:, None])
    elec_wtw = electricity_wtw_kg_gj(grid, float(grid_cfg["losses"]))  # (M, Y)
    frac = np.clip((years - 2020.0) / 40.0, 0.0, 1.0)
    upstream = {
        f: data.fuel(f, "upstream_kgco2_per_gj_2020") * (1 - frac) + data.fuel(f, "upstream_kgco2_per_gj_2060") * frac
        for f in FUELS
    }
    # Energy by segment, powertrain, fuel (PJ).
    rows: list[tuple[str, str, str, np.ndarray]] = []
    for si, seg in enumerate(SEGMENTS):
        liquid = data.seg(seg)["liquid_fuel"]
        fuel_of = {
            "gasoline": "gasoline",
            "diesel": "diesel",
            "hev": liquid,
            "phev": liquid,
            "bev": "electricity",
            "fcev": "hydrogen",
            "gas": "natural_gas",
        }
        for pi, p in enumerate(POWERTRAINS):
            rows.append((seg, p, fuel_of[p], energy_mj[:, :, si, pi] / 1e9))
        rows.append((seg, "phev", "electricity", phev_elec_mj[:, :, si] / 1e9))
    energy_pj = np.zeros((members, n_years, S))
    oil = np.zeros((members, n_years, S))
    ttw = np.zeros((members, n_years, S))
    wtw = np.zeros((members, n_years, S))
    frames = []
    member_col = np.repeat(np.arange(members, dtype=np.int32), n_years)
    year_col = np.tile(years.astype(np.int32), members)
    for seg, p, fuel, pj in rows:
        si = SEGMENTS.index(seg)
        oil_mt = pj * 1e9 / data.fuel(fuel, "lhv_mj_per_kg") / 1e9 if fuel in ("gasoline", "diesel") else 0 * pj
        co2_ttw = pj * data.fuel(fuel, "ttw_kgco2_per_gj") / 1e3
        up = elec_wtw if fuel == "electricity" else upstream[fuel][None, :]
        co2_wtw = co2_ttw + pj * up / 1e3
        energy_pj[:, :, si] += pj
        oil[:, :, si] += oil_mt
        ttw[:, :, si] += co2_ttw
        wtw[:, :, si] += co2_wtw
        if not np.any(pj > 0):
            continue
        frames.append(
            pl.DataFrame(
                {
                    "member": member_col,
                    "year": year_col,
                    "segment": seg,
                    "powertrain": p,
                    "fuel": fuel,
                    "energy_pj": pj.reshape(-1),
                    "oil_mt": oil_mt.reshape(-1),
                    "co2_ttw_mt": co2_ttw.reshape(-1),
                    "co2_wtw_mt": co2_wtw.reshape(-1),
                }
            )
        )
    energy_schema = {
        "member": pl.Int32,
        "year": pl.Int32,
        "segment": pl.Utf8,
        "powertrain": pl.Utf8,
        "fuel": pl.Utf8,
        "energy_pj": pl.Float64,
        "oil_mt": pl.Float64,
        "co2_ttw_mt": pl.Float64,
        "co2_wtw_mt": pl.Float64,
    }
    energy = pl.concat(frames).cast(energy_schema) if frames else pl.DataFrame(schema=energy_schema)
    fleet_frames = []
    for si, seg in enumerate(SEGMENTS):
        for pi, p in enumerate(POWERTRAINS):
            st, sa, re = stock[:, :, si, pi], sales[:, :, si, pi], retire[:, :, si, pi]
            if not (np.any(st > 0) or np.any(sa > 0) or np.any(re > 0)):
                continue  # never present: dropped to keep the table small (conservation holds trivially)
            fleet_frames.append(
                pl.DataFrame(
                    {
                        "member": member_col,
                        "year": year_col,
                        "segment": seg,
                        "powertrain": p,
                        "stock": st.reshape(-1),
                        "sales": sa.reshape(-1),
                        "retirements": re.reshape(-1),
                    }
                )
            )
    fleet_schema = {
        "member": pl.Int32,
        "year": pl.Int32,
        "segment": pl.Utf8,
        "powertrain": pl.Utf8,
        "stock": pl.Float64,
        "sales": pl.Float64,
        "retirements": pl.Float64,
    }
    fleet = pl.concat(fleet_frames).cast(fleet_schema)
    return FleetResult(
        fleet=fleet,
        energy=energy,
        segments=SEGMENTS,
        years=years,
        stock=stock,
        sales=sales,
        retirements=retire,
        vkt_bn=vkt.sum(axis=-1) / 1e9,
        energy_pj=energy_pj,
        oil_mt=oil,
        co2_ttw_mt=ttw,
        co2_wtw_mt=wtw,
        grid_kg_kwh=grid,
        non_fossil_share=np.broadcast_to(nf, (members, n_years)).copy(),
        chargers=out.chargers,
        events=out.events,
    )


# ------------------------------------------------------------------------------------------------------ calibration


@dataclass
class Calibration:
    """Fitted private-car choice parameters and the residuals (model / published - 1) of each fact."""

    parameters: dict[str, float]
    residuals: dict[str, float]
    modelled: dict[str, float]
    published: dict[str, float]


def non_car_nev_stock_2020(data: FleetData) -> float:
    """NEV stock 2020 of all segments but private cars and motorcycles (from the stock-share table)."""
    total = 0.0
    for seg in SEGMENTS:
        if seg in ("private_car", "motorcycle"):
            continue
        share = data.pt(seg, "stock_share_2020")
        total += data.seg(seg)["base_stock_vehicles"] * sum(share[POWERTRAINS.index(p)] for p in NEV)
    return total


def calibration_residuals(data: FleetData, cal: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """Modelled and published values of the calibration facts for the private-car choice parameters `cal`."""
    cfg = data.parameters["calibration"]
    nev_idx = [POWERTRAINS.index(p) for p in NEV]
    stock, _ = base_stock(data, "private_car", cal)
    modelled = {"nev_stock_2020": float(stock[nev_idx].sum()) + non_car_nev_stock_2020(data)}
    published = {"nev_stock_2020": float(cfg["nev_stock_2020"])}
    gx = private_car_history_shares(data, cal, years=np.array([2020]))
    modelled["guangxi_nev_sales_share_2020"] = float(gx[0, nev_idx].sum())
    published["guangxi_nev_sales_share_2020"] = float(cfg["guangxi_nev_sales_share_2020"])
    lz_years = sorted(int(y) for y in cfg["liuzhou_nev_sales_share"])
    lz = private_car_history_shares(data, cal, liuzhou=True, years=np.array(lz_years))
    for k, y in enumerate(lz_years):
        modelled[f"liuzhou_nev_sales_share_{y}"] = float(lz[k, nev_idx].sum())
        published[f"liuzhou_nev_sales_share_{y}"] = float(cfg["liuzhou_nev_sales_share"][str(y)])
    return modelled, published


def calibrate(data: FleetData) -> Calibration:
    """Least squares (scipy.optimize.least_squares) of the relative errors of the 2020 NEV stock, Guangxi's 2020 NEV
    sales share and Liuzhou's 2018-2020 shares over asc_bev, liuzhou_bonus, the half-life of the NEV constants
    (how fast non-cost barriers fade) and that of Liuzhou's lead; the cost sensitivity is fixed from the
    literature (parameters.toml)."""
    names = ("asc_bev", "liuzhou_bonus", "asc_half_life_yr", "liuzhou_half_life_yr")

    def residuals(x: np.ndarray) -> np.ndarray:
        modelled, published = calibration_residuals(data, dict(zip(names, x, strict=True)))
        return np.array([modelled[k] / published[k] - 1.0 for k in published])

    fit = least_squares(
        residuals,
        x0=np.array([-2.0, 1.0, 10.0, 10.0]),
        bounds=([-10, 0.0, 1.0, 1.0], [5, 5.0, 40.0, 1000.0]),
        xtol=1e-12,
        ftol=1e-12,
    )
    params = dict(zip(names, (float(v) for v in fit.x), strict=True))
    modelled, published = calibration_residuals(data, params)
    res = {k: modelled[k] / published[k] - 1.0 for k in published}
    return Calibration(params, res, modelled, published)


def write_calibration(cal: Calibration, path: Path) -> None:
    """Write calibration.toml (parameters + residuals, for the README and the tests)."""
    lines = ["# Written by `python -m transport.fleet_model calibrate` (least squares; see README.md).", "[parameters]"]
    lines += [f"{k} = {v:.10g}" for k, v in cal.parameters.items()]
    lines.append("\n[residuals]  # model / published - 1")
    lines += [f"{k} = {v:.6f}" for k, v in cal.residuals.items()]
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str]) -> int:
    if argv[:1] != ["calibrate"]:
        print("usage: python -m transport.fleet_model calibrate [dataset_folder]")
        return 2
    folder = Path(argv[1]) if len(argv) > 1 else Path(__file__).parent / "data" / "guangxi"
    path = folder / "fleets" / "calibration.toml"
    if not path.exists():
        path.write_text(
            "[parameters]\nasc_bev = -2.0\nliuzhou_bonus = 1.0\nasc_half_life_yr = 10.0\nliuzhou_half_life_yr = 10.0\n"
        )
    cal = calibrate(load_fleet_data(folder))
    write_calibration(cal, path)
    for k in cal.residuals:
        print(
            f"{k:34s} published {cal.published[k]:12.4f} modelled {cal.modelled[k]:12.4f} "
            f"residual {cal.residuals[k]:+.4f}"
        )
    print(cal.parameters)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
