"""Estimation of the chain logit's cost sensitivity (freight/cost_sensitivity.csv), not an assumption.

Two cost groups (commodities.csv `cost_group`):
- bulk: the scale at which the model's own-price elasticity of rail tonnes (bulk goods, 2020, a 10 % rise of rail
  tariffs with the 2020 constants) equals the central published value, ELASTICITY_CENTRAL; the band ELASTICITY_BAND
  gives its range.
- containers: least squares on the log of the Beibu Gulf rail-sea train record 2021-2022 (freight/railsea_record.csv,
  TEU per train as data) under the measures in force in those years (the `history` scenario), each candidate scale
  with its own 2020 calibration, bounded to the scales whose implied rail-sea elasticity to rail tariffs lies inside
  ELASTICITY_BAND.

Sources of the band (freight README "Cost sensitivity"). Run: `python -m transport.freight.estimation [SCENARIO]`
prints the fitted values and the rows for cost_sensitivity.csv (the dataset is never written by this module).
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from transport.freight.calibration import calibrate_freight
from transport.freight.data import FreightData, load_freight_data
from transport.freight.model import freight_arrays, teu_per_train
from transport.freight.names import COMMODITIES, MODES
from transport.levers.freight import FreightLevers

ELASTICITY_CENTRAL = -0.6  # own-price elasticity of rail freight tonnes, middle of the surveyed range
ELASTICITY_BAND = (-1.5, -0.3)  # the range published estimates span for rail and intermodal freight
FIT_YEARS = (2021, 2022)
TARIFF_STEP = 0.10
GRID = np.geomspace(0.25, 4.0, 9)  # multipliers on the current value searched


@dataclass(frozen=True)
class Estimate:
    """Fitted scales (per yuan/t), their elasticity-bounded ranges, and what they imply."""

    theta_bulk: float
    bulk_range: tuple[float, float]
    theta_containers: float
    containers_range: tuple[float, float]
    rail_elasticity_bulk: float
    railsea_elasticity: float
    trains: dict[int, tuple[float, float]]  # year: (modelled, record)


def _with_theta(data: FreightData, bulk: float, containers: float) -> FreightData:
    fresh = copy.copy(data)
    fresh.cache = {}
    fresh.calibration = None
    fresh.cost_sensitivity = data.cost_sensitivity.with_columns(
        pl.when(pl.col("cost_group") == "bulk")
        .then(pl.lit(bulk))
        .otherwise(pl.lit(containers))
        .alias("theta_per_yuan_t")
    )
    return calibrate_freight(fresh)


def _elasticities(data: FreightData, members: int, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Arc elasticities (per member) of bulk rail tonnes and of rail-sea TEU to a TARIFF_STEP rise of rail tariffs in
    2020, the 2020 constants held."""
    years = np.array([data.base_year])
    params = {"freight_logit_scale": scale}
    base = freight_arrays(data, FreightLevers(), params, years, members)
    dearer = freight_arrays(
        data, FreightLevers(rail_tariff_change={data.base_year: TARIFF_STEP}), params, years, members
    )
    bulk = [i for i, c in enumerate(COMMODITIES) if c != "containers"]
    rail = MODES.index("rail")

    def rail_t(a: np.ndarray) -> np.ndarray:
        return a[:, 0, bulk, rail].sum(axis=1)

    step = np.log1p(TARIFF_STEP)
    e_bulk = np.log(rail_t(dearer.tonnes_mt) / rail_t(base.tonnes_mt)) / step
    e_box = np.log(dearer.railsea_teu[:, 0].sum(axis=1) / base.railsea_teu[:, 0].sum(axis=1)) / step
    return e_bulk, e_box


def _crossing(x: np.ndarray, e: np.ndarray, level: float) -> float:
    """x where the (monotone decreasing) elasticity e(x) crosses `level`, interpolated in log x; clipped to the grid."""
    order = np.argsort(e)
    return float(np.exp(np.interp(level, e[order], np.log(x)[order])))


def estimate(data: FreightData, levers: FreightLevers) -> Estimate:
    """Fit bulk on the elasticity, then containers on the rail-sea record (see the module docstring)."""
    theta0 = data.theta_per_yuan_t()
    bulk0 = float(theta0[COMMODITIES.index("coal")])
    box0 = float(theta0[COMMODITIES.index("containers")])
    base = data if data.calibration is not None else calibrate_freight(data)
    e_bulk, _ = _elasticities(base, len(GRID), GRID)
    theta_bulk = bulk0 * _crossing(GRID, e_bulk, ELASTICITY_CENTRAL)
    bulk_range = (
        bulk0 * _crossing(GRID, e_bulk, ELASTICITY_BAND[1]),
        bulk0 * _crossing(GRID, e_bulk, ELASTICITY_BAND[0]),
    )
    record = data.railsea_record.filter(pl.col("year").is_in(FIT_YEARS)).sort("year")
    years = np.arange(data.base_year, max(FIT_YEARS) + 1)
    per_train = teu_per_train(data, years)
    candidates = box0 * GRID
    sse, e_box = [], []
    for theta in candidates:
        fitted = _with_theta(data, theta_bulk, float(theta))
        arrays = freight_arrays(fitted, levers, {}, years, 1)
        trains = arrays.railsea_teu[0].sum(axis=1) / per_train
        model = np.array([trains[int(y) - data.base_year] for y in record["year"]])
        sse.append(float(np.sum(np.log(model / record["trains"].to_numpy()) ** 2)))
        e_box.append(float(_elasticities(fitted, 1, np.ones(1))[1][0]))
    e = np.array(e_box)
    low, high = _crossing(candidates, e, ELASTICITY_BAND[1]), _crossing(candidates, e, ELASTICITY_BAND[0])
    inside = (candidates >= low) & (candidates <= high)
    pool = np.where(inside, np.array(sse), np.inf)
    best = int(np.argmin(pool))
    # refine: parabola through the best grid point and its neighbours in log theta
    theta_box = float(candidates[best])
    if 0 < best < len(candidates) - 1 and np.isfinite(pool[best - 1 : best + 2]).all():
        x = np.log(candidates[best - 1 : best + 2])
        a, b, _ = np.polyfit(x, pool[best - 1 : best + 2], 2)
        if a > 0:
            theta_box = float(np.clip(np.exp(-b / (2 * a)), low, high))
    final = _with_theta(data, theta_bulk, theta_box)
    arrays = freight_arrays(final, levers, {}, years, 1)
    trains = arrays.railsea_teu[0].sum(axis=1) / per_train
    e_b, e_x = _elasticities(final, 1, np.ones(1))
    fit = {
        int(y): (float(trains[int(y) - data.base_year]), float(t))
        for y, t in zip(record["year"], record["trains"], strict=True)
    }
    return Estimate(theta_bulk, bulk_range, theta_box, (low, high), float(e_b[0]), float(e_x[0]), fit)


def main(argv: list[str]) -> int:
    from transport.scenario import load_scenario

    scenario, _ = load_scenario(argv[0] if argv else "history")
    data = load_freight_data(Path(__file__).resolve().parent.parent / "data" / "guangxi")
    est = estimate(data, scenario.levers.freight)
    print(f"scenario {scenario.name}")
    print(f"bulk       theta {est.theta_bulk:.4f} per yuan/t (range {est.bulk_range[0]:.4f}-{est.bulk_range[1]:.4f}),")
    print(f"           rail own-price elasticity {est.rail_elasticity_bulk:.2f}")
    lo, hi = est.containers_range
    print(f"containers theta {est.theta_containers:.4f} per yuan/t (range {lo:.4f}-{hi:.4f}),")
    print(f"           rail-sea elasticity to rail tariffs {est.railsea_elasticity:.2f}")
    for year, (model, record) in est.trains.items():
        print(f"  {year}: {model:,.0f} trains modelled, {record:,.0f} recorded ({model / record - 1:+.1%})")
    print("cost_group,theta_per_yuan_t,low,high,basis")
    print(f"containers,{est.theta_containers:.4f},{lo:.4f},{hi:.4f},rail-sea trains 2021-2022 ({scenario.name})")
    low_b, high_b = est.bulk_range
    print(f"bulk,{est.theta_bulk:.4f},{low_b:.4f},{high_b:.4f},rail own-price elasticity {ELASTICITY_CENTRAL}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
