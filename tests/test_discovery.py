"""Scenario discovery (PRIM): a planted box is found, rows repeat bit for bit, small ensembles get none, the store
keeps the table, and the report says when a target is missed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from runs.report import discovery_sentences
from runs.store import ResultsStore
from transport.analysis.discovery import MIN_MEMBERS, find_boxes, peeling_trajectory, target_discovery
from transport.result_tables import ANALYSIS_COLUMNS

NAMES = ["x0", "x1", "x2", "x3"]


def _planted(n: int = 2000, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """n points uniform in [0, 1]^4; missed inside x0 in [0.6, 1] and x2 in [0, 0.3], labels flipped for 5 %."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, 4))
    missed = (x[:, 0] >= 0.6) & (x[:, 2] <= 0.3)
    return x, missed ^ (rng.uniform(size=n) < 0.05)


def _inputs(x: np.ndarray, missed: np.ndarray) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    """A run's targets (member 0 central, met = not missed) and parameters with members 1..n = the rows of x."""
    n = len(missed) + 1
    params = {name: np.concatenate([[0.5], x[:, j]]) for j, name in enumerate(NAMES)}
    met = np.concatenate([[True], ~missed])
    targets = pl.DataFrame(
        {
            "member": np.arange(n, dtype=np.int32),
            "target": "railsea_teu_cagr",
            "year": np.full(n, 2025, dtype=np.int32),
            "value": np.where(met, 0.2, 0.1),
            "met": met,
        }
    )
    return targets, params


def test_prim_recovers_a_planted_box() -> None:
    x, missed = _planted()
    rows = target_discovery(*_inputs(x, missed), NAMES)
    assert set(rows["box"].to_list()) == {1}  # the flipped labels outside form no second box
    bounds = {r["parameter"]: (r["low"], r["high"]) for r in rows.iter_rows(named=True)}
    assert bounds.keys() == {"x0", "x2"}  # x1 and x3 unrestricted
    assert bounds["x0"][0] == pytest.approx(0.6, abs=0.05) and bounds["x0"][1] is None
    assert bounds["x2"][0] is None and bounds["x2"][1] == pytest.approx(0.3, abs=0.05)
    # 95 % of the box's members miss; it holds the misses of the planted box (0.114 of 0.158 of all members)
    assert rows["density"][0] > 0.9 and 0.6 < rows["coverage"][0] < 0.75
    assert rows.schema == pl.Schema(ANALYSIS_COLUMNS["discovery"])


def test_a_second_box_covers_a_second_region() -> None:
    rng = np.random.default_rng(4)
    x = rng.uniform(size=(3000, 4))
    missed = (x[:, 0] >= 0.7) | (x[:, 3] <= 0.2)
    boxes = find_boxes(x, missed)
    assert [b.restricted for b in boxes] == [(3,), (0,)] or [b.restricted for b in boxes] == [(0,), (3,)]
    assert all(b.density > 0.95 for b in boxes) and sum(b.coverage for b in boxes) > 0.9


@pytest.mark.parametrize(("n", "seed"), [(600, 2), (150, 9)])
def test_peeling_follows_ema_workbench(n: int, seed: int) -> None:
    """Step for step the same boxes and miss shares as ema_workbench's PRIM (whose later rows are its pasting),
    when it is installed (pip install ema-workbench: not a dependency, see transport/analysis/discovery.py)."""
    pd = pytest.importorskip("pandas")
    prim = pytest.importorskip("ema_workbench.analysis.prim")
    x, missed = _planted(n=n, seed=seed)
    # threshold 0: ema_workbench keeps the box whatever its density, so its trajectory is there to compare
    ema = prim.Prim(pd.DataFrame(x, columns=NAMES), missed.astype(int), threshold=0.0).find_box()
    steps = peeling_trajectory(x, missed)
    assert len(steps) > 10
    for i, (low, high, inside) in enumerate(steps):
        np.testing.assert_allclose(ema.box_lims[i].to_numpy(), np.vstack([low, high]), rtol=1e-12)
        assert missed[inside].mean() == pytest.approx(ema.peeling_trajectory["mean"][i], rel=1e-12)
    mass = ema.peeling_trajectory["mass"].to_numpy()
    assert np.all(np.diff(mass[len(steps) - 1 :]) > 0)  # its later rows (if any) paste: the box grows


def test_rows_repeat_bit_for_bit_whatever_the_order_of_the_members() -> None:
    x, missed = _planted(n=400, seed=3)
    targets, params = _inputs(x, missed)
    first = target_discovery(targets, params, NAMES)
    assert first.height > 0
    assert first.equals(target_discovery(targets, params, NAMES))
    # chunks arrive in any order: the rows do not depend on it
    shuffled = targets.sample(fraction=1.0, shuffle=True, seed=5)
    assert first.equals(target_discovery(shuffled, params, list(reversed(NAMES))))


def test_fewer_than_101_members_give_no_rows() -> None:
    x, missed = _planted(n=MIN_MEMBERS - 2, seed=6)
    rows = target_discovery(*_inputs(x, missed), NAMES)
    assert rows.height == 0 and rows.schema == pl.Schema(ANALYSIS_COLUMNS["discovery"])
    x, missed = _planted(n=MIN_MEMBERS - 1, seed=6)  # 101 members: member 0 and 100 design members
    assert target_discovery(*_inputs(x, missed), NAMES).height > 0


def test_targets_almost_always_or_never_missed_give_no_rows() -> None:
    x, _ = _planted(n=500)
    for missed in (np.zeros(500, dtype=bool), x[:, 1] < 0.03, x[:, 1] < 0.97):
        assert target_discovery(*_inputs(x, missed), NAMES).height == 0


def test_store_round_trips_the_table(tmp_path: Path) -> None:
    x, missed = _planted()
    rows = target_discovery(*_inputs(x, missed), NAMES).with_columns(pl.lit("r1").alias("run_id"))
    store = ResultsStore(tmp_path / "results.duckdb")
    with store.writer():
        store.write_run("r1", {"discovery": rows})
    back = store.query("select * from discovery order by box, parameter")
    assert back.select(rows.columns).equals(rows.sort("box", "parameter"))
    assert back.filter(pl.col("parameter") == "x0")["high"].to_list() == [None]


def test_report_says_when_the_plan_fails() -> None:
    discovery = pl.DataFrame(
        {
            "run_id": "r",
            "scenario": "plan",
            "target": ["railsea_teu_growth", "railsea_teu_growth", "rail_water_teu_growth", "rail_water_teu_growth"],
            "box": 1,
            "parameter": ["freight_rail_tariff_factor", "freight_logit_scale"] * 2,
            "low": [1.07, None] * 2,
            "high": [None, 1.5] * 2,
            "coverage": 0.54,
            "density": 1.0,
        }
    )
    members = np.arange(1, 101)
    targets = pl.DataFrame(
        {
            "run_id": "r",
            "member": np.tile(members, 2),
            "target": ["railsea_teu_growth"] * 100 + ["rail_water_teu_growth"] * 100,
            "met": np.tile(members > 31, 2),
        }
    )
    (sentence, legend) = discovery_sentences(discovery, targets)
    assert "<code>rail_water_teu_growth</code> and <code>railsea_teu_growth</code> are missed in 31 % of" in sentence
    assert (
        "they fail mostly when freight_logit_scale &lt;= 1.5 and freight_rail_tariff_factor &gt;= 1.07 "
        "(coverage 54 %, density 100 %)" in sentence
    )
    assert "Multiplier on rail line-haul tariffs" in legend
