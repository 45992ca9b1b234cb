"""The fleet result: the contract's `fleet` and `energy` frames and the arrays the coupling reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from fleets import FUELS, POWERTRAINS, SEGMENTS, powertrain_fuels
from fleets.energy import electricity_wtw_kg_gj, grid_factor_path
from transport.levers.base import year_path
from transport.levers.fleets import FleetLevers
from transport.result_tables import RESULT_COLUMNS
from transport.vehicles.data import FleetData


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
    # segments run by region (transport.vehicles.model.simulate_fleets `regional`): segment -> fuel -> quantity
    # (energy_pj, oil_mt, co2_ttw_mt, co2_wtw_mt) -> (members, years, regions); the province's rows are their sums
    regional_by_fuel: dict[str, dict[str, dict[str, np.ndarray]]] = field(default_factory=dict)


def _result(
    data: FleetData,
    levers: FleetLevers,
    out,
    years: np.ndarray,
    members: int,
    m,
    by_region: dict[str, dict[str, np.ndarray]] | None = None,
) -> FleetResult:
    """The frames and arrays from the engine's output; `by_region[segment]`: the energy of a segment run by region
    (energy_mj (M, R, Y, P), phev_electric_mj (M, R, Y)), converted like the province's into
    FleetResult.regional_by_fuel."""
    by_region = by_region or {}
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
        fuel_of = powertrain_fuels(liquid)
        for pi, p in enumerate(POWERTRAINS):
            rows.append((seg, p, fuel_of[p], energy_mj[:, :, si, pi] / 1e9))
        rows.append((seg, "phev", "electricity", phev_elec_mj[:, :, si] / 1e9))
    regional_by_fuel: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for seg, arrays in by_region.items():
        fuel_of = powertrain_fuels(data.seg(seg)["liquid_fuel"])
        parts = [(fuel_of[p], arrays["energy_mj"][..., pi]) for pi, p in enumerate(POWERTRAINS)]
        parts.append(("electricity", arrays["phev_electric_mj"]))
        for fuel, mj in parts:
            pj = mj.transpose(0, 2, 1) / 1e9  # (M, Y, R)
            quantities = _fuel_quantities(data, fuel, pj, elec_wtw[..., None], upstream[fuel][None, :, None])
            into = regional_by_fuel.setdefault(seg, {}).setdefault(fuel, {})
            for name, value in zip(_QUANTITIES, (pj, *quantities), strict=True):
                into[name] = into.get(name, 0.0) + value
    energy_pj = np.zeros((members, n_years, S))
    oil = np.zeros((members, n_years, S))
    ttw = np.zeros((members, n_years, S))
    wtw = np.zeros((members, n_years, S))
    frames = []
    member_col = np.repeat(np.arange(members, dtype=np.int32), n_years)
    year_col = np.tile(years.astype(np.int32), members)
    for seg, p, fuel, pj in rows:
        si = SEGMENTS.index(seg)
        oil_mt, co2_ttw, co2_wtw = _fuel_quantities(data, fuel, pj, elec_wtw, upstream[fuel][None, :])
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
    energy_schema = pl.Schema(RESULT_COLUMNS["energy"])
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
    fleet_schema = pl.Schema(RESULT_COLUMNS["fleet"])
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
        regional_by_fuel=regional_by_fuel,
    )


_QUANTITIES = ("energy_pj", "oil_mt", "co2_ttw_mt", "co2_wtw_mt")


def _fuel_quantities(
    data: FleetData, fuel: str, pj: np.ndarray, elec_wtw: np.ndarray, upstream: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Oil (Mt), TTW and WTW CO2 (Mt) of `pj` PJ of `fuel` (the WTW factor arrays broadcast against `pj`)."""
    oil_mt = pj / data.fuel(fuel, "lhv_mj_per_kg") if fuel in ("gasoline", "diesel") else 0 * pj
    co2_ttw = pj * data.fuel(fuel, "ttw_kgco2_per_gj") / 1e3
    up = elec_wtw if fuel == "electricity" else upstream
    return oil_mt, co2_ttw, co2_ttw + pj * up / 1e3
