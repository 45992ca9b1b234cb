"""Global sensitivity: SALib estimators against a function whose indices are known, and the target wiring."""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.stats import qmc

from transport.analysis.sensitivity import MIN_MEMBERS, first_order_indices, target_sensitivity


def test_first_order_indices_match_the_analytic_values_of_a_linear_model() -> None:
    # Y = 5 x0 + x1 with x ~ U(0,1) independent: Var = 25/12 + 1/12, so S1 = 25/26 and 1/26; x2, x3 inert.
    x = qmc.LatinHypercube(d=4, rng=np.random.default_rng(3)).random(1000)
    y = 5.0 * x[:, 0] + x[:, 1]
    out = first_order_indices(x, y, ["a", "b", "c", "d"], seed=1)
    s1 = out["S1"]["value"]
    assert abs(s1[0] - 25 / 26) < 0.05
    assert abs(s1[1] - 1 / 26) < 0.04
    assert np.all(np.abs(s1[2:]) < 0.04)  # the binning bias of the estimator on 1000 rows
    pawn, critical = out["pawn"]["value"], out["pawn"]["conf"]
    assert pawn[0] == pawn.max() and pawn[0] > 3 * pawn[2:].max()
    assert np.all(pawn[2:] < critical[2:])  # the inert inputs do not pass the 95 % KS test


def test_pawn_sees_an_effect_on_the_spread_that_s1_misses() -> None:
    """Y = (x0 - 0.5) x1: x1 leaves the mean of Y unchanged (E[Y | x1] = 0, so S1 of x1 ~ 0) but sets its spread;
    PAWN, moment independent, tells x1 apart from 0 and the inert x2 not."""
    x = qmc.LatinHypercube(d=3, rng=np.random.default_rng(11)).random(2000)
    y = (x[:, 0] - 0.5) * x[:, 1]
    out = first_order_indices(x, y, ["x0", "x1", "x2"], seed=4)
    assert out["S1"]["value"][1] < 0.05  # x1 has no first-order effect: E[Y | x1] = 0
    assert out["pawn"]["value"][1] > out["pawn"]["conf"][1]  # but it sets the spread of Y
    assert out["pawn"]["value"][2] < out["pawn"]["conf"][2]


def _targets(values: np.ndarray) -> pl.DataFrame:
    n = len(values)
    return pl.DataFrame(
        {
            "member": np.arange(n, dtype=np.int32),
            "target": "road_oil_peak_level",
            "year": np.full(n, 2028, dtype=np.int32),
            "value": values,
        }
    )


def test_target_sensitivity_names_the_parameter_that_drives_a_target() -> None:
    n = 240
    rng = np.random.default_rng(5)
    params = {"oil_price": rng.random(n), "grid": rng.random(n), "unused": rng.random(n)}
    value = 10.0 - 3.0 * params["oil_price"] + 0.1 * params["grid"]
    rows = target_sensitivity(_targets(value), params, ["grid", "oil_price"], seed=0)
    s1 = rows.filter(pl.col("index") == "S1").sort("value", descending=True)
    assert s1["parameter"][0] == "oil_price" and s1["value"][0] > 0.8
    assert set(rows["parameter"]) == {"grid", "oil_price"}  # only sampled parameters appear
    # one row per member (like a peak year, whose year differs by member): pooled into one sample, year null
    assert rows["year"].to_list() == [None] * rows.height


def test_pooled_and_yearly_targets_stack_in_one_table() -> None:
    n = 150
    rng = np.random.default_rng(2)
    params = {"a": rng.random(n)}
    yearly = pl.concat(
        [
            _targets(params["a"] + year).with_columns(
                pl.lit("nev_share_of_stock").alias("target"), pl.lit(year, dtype=pl.Int32).alias("year")
            )
            for year in (2025, 2030)
        ]
    )
    rows = target_sensitivity(pl.concat([_targets(2.0 * params["a"]), yearly]), params, ["a"], seed=0)
    s1 = rows.filter(pl.col("index") == "S1")
    assert sorted(s1["year"].to_list(), key=lambda y: y or 0) == [None, 2025, 2030]
    assert s1["value"].min() > 0.8


def test_small_ensembles_store_no_indices() -> None:
    n = MIN_MEMBERS  # members 1..N-1 form the design: one short of the minimum
    params = {"p": np.linspace(0, 1, n)}
    assert target_sensitivity(_targets(np.linspace(1, 2, n)), params, ["p"], seed=0).height == 0


def test_rows_repeat_exactly_for_a_seed_zero_included() -> None:
    """Same targets and seed -> the same rows, bit for bit, seed 0 included (SALib leaves 0 unseeded: `if seed:`);
    another seed moves SALib's bootstrapped S1, so the seed does reach SALib."""
    n = 240
    rng = np.random.default_rng(8)
    params = {"a": rng.random(n), "b": rng.random(n)}
    targets = _targets(2.0 * params["a"] + 0.3 * params["b"] ** 2 + 0.05 * rng.random(n))
    first = target_sensitivity(targets, params, ["a", "b"], seed=0)
    assert first.equals(target_sensitivity(targets, params, ["a", "b"], seed=0))
    other = target_sensitivity(targets, params, ["a", "b"], seed=7)
    s1 = pl.col("index") == "S1"
    assert first.filter(s1)["value"].to_list() != other.filter(s1)["value"].to_list()
