"""Powertrain choice inputs: technology learning, fuel prices, total cost of ownership and the constants."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from fleets import AGES, POWERTRAINS, powertrain_fuels
from fleets.choice import capital_recovery_factor, learning_price, logit_shares, tco_utility
from transport.levers.fleets import UNCERTAIN
from transport.vehicles.data import FleetData
from transport.vehicles.names import NEV, P


def _learning_ratio(data: FleetData, column: str, years: np.ndarray) -> np.ndarray:
    """Q(t)/Q(2020) of a cumulative-deployment series, interpolated log-linearly."""
    xs = data.learning["year"].to_numpy().astype(float)
    ys = np.log(data.learning[column].to_numpy())
    q = np.exp(np.interp(np.asarray(years, float), xs, ys))
    return q / np.exp(np.interp(2020.0, xs, ys))


def fuel_price_yuan_mj(
    data: FleetData, fuel: str, years: np.ndarray, oil_factor: np.ndarray, gas_factor: np.ndarray | None = None
) -> np.ndarray:
    """Fuel price per MJ (M, Y): 2020 price, real trend (held at a floor), oil factor on gasoline/diesel and gas
    factor on natural gas after 2020."""
    price0 = data.fuel(fuel, "price_yuan_per_unit") / data.fuel(fuel, "mj_per_unit")
    dt = np.maximum(np.asarray(years, float) - 2020.0, 0.0)
    trend = np.maximum((1.0 + data.fuel(fuel, "price_growth_per_yr")) ** dt, data.fuel(fuel, "price_floor_ratio"))
    path = price0 * trend[None, :]
    if fuel in ("gasoline", "diesel"):
        factor = np.where(dt[None, :] > 0, np.asarray(oil_factor, float)[:, None], 1.0)
        path = path * factor
    if fuel == "natural_gas" and gas_factor is not None:
        path = path * np.where(dt[None, :] > 0, np.asarray(gas_factor, float)[:, None], 1.0)
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
    gas_factor: np.ndarray


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
    fuel_of = powertrain_fuels(liquid)
    carbon = np.asarray(carbon_price_yuan_t, float)[None, :]  # (1, Y)
    cost_km = np.zeros((ctx.members, len(years), P))
    for j, p in enumerate(POWERTRAINS):
        f = fuel_of[p]
        per_mj = (
            fuel_price_yuan_mj(data, f, years, ctx.oil_factor, ctx.gas_factor)
            + carbon * data.fuel(f, "ttw_kgco2_per_gj") / 1e6
        )
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
        d["fleet_gas_price_factor"],
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
