"""Calibration of the private-car choice model (least squares on 2013-2020 facts), written to calibration.toml."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from fleets import POWERTRAINS, SEGMENTS
from transport.vehicles.choice import private_car_history_shares
from transport.vehicles.data import FleetData, load_fleet_data
from transport.vehicles.names import NEV
from transport.vehicles.stock import base_stock

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
    lines = [
        "# Written by `python -m transport.vehicles.calibration calibrate` (least squares; see README.md).",
        "[parameters]",
    ]
    lines += [f"{k} = {v:.10g}" for k, v in cal.parameters.items()]
    lines.append("\n[residuals]  # model / published - 1")
    lines += [f"{k} = {v:.6f}" for k, v in cal.residuals.items()]
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str]) -> int:
    if argv[:1] != ["calibrate"]:
        print("usage: python -m transport.vehicles.calibration calibrate [dataset_folder]")
        return 2
    folder = Path(argv[1]) if len(argv) > 1 else Path(__file__).parent.parent / "data" / "guangxi"
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
