"""transport seek --robust P --members N: the robust threshold search on hand-made ensembles whose answer is known
(an empirical quantile), its monotonicity and tie rule, p = 0.5 against the deterministic search on the median, the
ensemble evaluation against a stored ensemble run, and the command's bad inputs."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from tests.conftest import assert_user_error, cli_in_process, run_cli
from transport.analysis.seek import (
    TARGETS,
    EnsembleEvaluator,
    knobs,
    members_needed,
    robust_threshold,
    search_threshold,
)


def uniform_members(m: int, seed: int = 7) -> np.ndarray:
    """M draws of u ~ Uniform(0, 1), fixed once: the common random numbers of every lever value tried."""
    return np.random.default_rng(seed).uniform(0.0, 1.0, m)


def test_members_needed_rounds_up_without_float_noise() -> None:
    assert members_needed(0.9, 200) == 180 and members_needed(0.9, 201) == 181
    assert members_needed(0.7, 10) == 7  # 0.7 * 10 = 7.000000000000001 in floating point
    assert members_needed(0.5, 7) == 4 and members_needed(0.01, 5) == 1


@pytest.mark.parametrize("m", [10, 200, 1001])
def test_least_x_meeting_p_is_the_empirical_quantile(m: int) -> None:
    """margin(x, u) = x - u, u ~ U(0, 1): P(meet at x) = share of u_i <= x, so the least x with P >= 0.9 is the
    ceil(0.9 M)-th smallest u (0.9 for M -> infinity); found to the tolerance, on the meeting side."""
    u = uniform_members(m)
    calls: list[float] = []

    def margins(x: float) -> np.ndarray:
        calls.append(x)
        return x - u

    tol = 1e-4
    reach = robust_threshold(margins, 0.9, base=0.0, low=0.0, high=1.0, x_tol=tol)
    expected = np.sort(u)[members_needed(0.9, m) - 1]
    assert reach.x is not None and expected <= reach.x <= expected + 2 * tol
    assert reach.probability >= 0.9 and reach.probability == np.mean(u <= reach.x)
    assert np.mean(u <= reach.x - 2 * tol) < 0.9  # the least such x: a step back falls short
    assert reach.base_probability == np.mean(u <= 0.0) and reach.end == 1.0
    assert len(calls) == len(set(calls)) and len(calls) < 40  # no ensemble run repeated; brentq, not a scan
    if m == 1001:
        assert abs(reach.x - 0.9) < 0.03  # and the empirical quantile is near the distribution's


def test_probability_is_monotone_in_x_and_the_answer_is_its_first_crossing() -> None:
    """With margins monotone in x (each member's), P(x) is a non-decreasing step function, and the answer is the
    first grid step where P >= p. A decreasing response is searched downwards the same way."""
    u = uniform_members(50, seed=3)
    scale = np.random.default_rng(4).uniform(0.5, 2.0, 50)  # members differ in slope too: margins cross in x

    def margins(x: float) -> np.ndarray:
        return scale * (x - u)

    grid = np.linspace(0.0, 1.0, 2001)
    probability = np.array([np.mean(margins(x) >= 0) for x in grid])
    assert np.all(np.diff(probability) >= 0)
    reach = robust_threshold(margins, 0.8, 0.0, 0.0, 1.0, 1e-4)
    first = grid[np.argmax(probability >= 0.8)]
    assert reach.x is not None and first - 1e-3 <= reach.x <= first
    # decreasing: margin(x) = u - x + 1 met for x <= 1 + u; from base 3 downwards the least change keeps P >= 0.8
    down = robust_threshold(lambda x: u + 1.0 - x, 0.8, 3.0, 0.0, 3.0, 1e-4)
    expected = 1.0 + np.sort(u)[::-1][members_needed(0.8, 50) - 1]
    assert down.x is not None and expected - 2e-4 <= down.x <= expected and down.end == 0.0


def test_tie_counts_as_met_and_step_responses() -> None:
    """Members meeting a step target (a peak year): each member i switches at its own t_i; P reaches exactly p at the
    k-th switch (the tie P = p counts as met)."""
    switch = np.arange(1, 11) / 10.0  # members switch at 0.1, 0.2, ..., 1.0

    def margins(x: float) -> np.ndarray:
        return np.where(x >= switch, 1.0, -1.0)

    reach = robust_threshold(margins, 0.7, 0.0, 0.0, 2.0, 1e-4)
    assert reach.x is not None and 0.7 <= reach.x <= 0.7 + 2e-4 and reach.probability == pytest.approx(0.7)


def test_unreachable_already_met_and_nan_members() -> None:
    u = uniform_members(20)
    # at most 50 % of the members ever meet it: not reachable within range, with the best probability
    never = robust_threshold(lambda x: np.where(u < 0.5, x - u, -1.0), 0.9, 0.0, 0.0, 1.0, 1e-4)
    assert never.x is None and never.end == 1.0 and never.probability == np.mean(u < 0.5)
    met = robust_threshold(lambda x: x - u, 0.9, 1.0, 0.0, 2.0, 1e-4)
    assert met.x == 1.0 and met.probability == 1.0
    # a member without a value (NaN) counts as not meeting the target
    half = robust_threshold(lambda x: np.where(np.arange(20) < 10, np.nan, x - u), 0.5, 0.0, 0.0, 1.0, 1e-4)
    assert half.x is not None and half.probability == 0.5 and half.x >= u[10:].max()


def test_p_half_agrees_with_the_deterministic_search_on_the_median_member() -> None:
    """p = 0.5 over an odd number of members = the deterministic search on the median: margin x - median(u)."""
    u = uniform_members(101, seed=11)
    robust = robust_threshold(lambda x: x - u, 0.5, 0.0, 0.0, 1.0, 1e-6)
    x, _, _ = search_threshold(lambda x: x - float(np.median(u)), 0.0, 0.0, 1.0, 1e-6)
    assert robust.x is not None and x is not None and abs(robust.x - x) <= 2e-6
    assert robust.probability >= 0.5 and np.mean(u <= robust.x - 4e-6) < 0.5


# --- the model: the ensemble evaluation and the command ---------------------------------------------------------


def test_member_margins_are_monotone_in_an_urban_lever() -> None:
    """The model's logic behind the search: a green-trip lever moves every member's margin one way (urban only, so
    cheap); the share meeting the target never falls as the parking price rises."""
    from runs.execute import RunRequest, prepare
    from transport.analysis.seek import _with_values
    from transport.scenario import raw_with_parents, sample_parameters

    scenario, path, dataset = prepare(RunRequest("plan"))
    raw = raw_with_parents(path)
    params = sample_parameters(scenario, 12, 5)
    green = TARGETS["green"]
    evaluate = EnsembleEvaluator(dataset, params, [green])
    knob = knobs()["urban.parking_price_factor"]
    margins = [
        green.margins(evaluate(_with_values(scenario, raw, {knob: x}, "t"), [green]), 12) for x in (1.0, 3.0, 6.0, 10.0)
    ]
    assert np.all(np.diff(np.vstack(margins), axis=0) >= -1e-12)
    assert all(np.isfinite(m).all() for m in margins)


def test_robust_seek_stores_rows_and_its_probability_is_a_runs(tmp_path: Path) -> None:
    """seek --robust on the rail-sea target from the baseline (7 %/yr against 15 %) with one freight lever: robust
    rows beside the deterministic ones; the robust subsidy is at least the central one (p = 0.9 > one member's
    half); the written scenario, run as an exact ensemble with the same members and seed, meets the target in the
    share of members the seek reported (common random numbers, same computation)."""
    db = tmp_path / "results.duckdb"
    toml = tmp_path / "robust.toml"
    lever = "freight.intermodal_subsidy_yuan_teu"
    found = run_cli(
        "seek", "--base", "baseline", "--targets", "railsea", "--levers", lever, "--robust", "0.9",
        "--members", "10", "--seed", "3", "--db", str(db), "--write", str(toml),
    )  # fmt: skip
    assert found.code == 0, found.stderr
    assert "P asked" in found.stdout and "robust" in found.stdout
    con = duckdb.connect(str(db), read_only=True, config={"file_search_path": str(db.parent)})
    try:
        rows = con.sql("select * from seek order by kind").pl()
        run = con.sql("select run_id, members, seed, freight_method from runs").pl()
        stored = con.sql("select probability from target_probability where target = 'railsea_teu_cagr'").pl()
    finally:
        con.close()
    assert rows["kind"].to_list() == ["combined", "robust", "robust_combined", "single_lever"]
    by_kind = {r["kind"]: r for r in rows.iter_rows(named=True)}
    robust, central = by_kind["robust"], by_kind["single_lever"]
    assert robust["reachable"] and robust["probability"] >= 0.9 and robust["probability_asked"] == 0.9
    assert central["probability"] is None and central["probability_asked"] is None
    assert central["value"] <= robust["value"] < 5000.0
    assert by_kind["robust_combined"]["probability"] == robust["probability"]
    assert run["members"][0] == 10 and run["seed"][0] == 3 and run["freight_method"][0] == "exact"
    # the stored run is the written scenario over the same members: its share meeting the target is the seek's
    assert stored["probability"][0] == pytest.approx(robust["probability"])
    again = run_cli(
        "run", str(toml), "--members", "10", "--seed", "3", "--freight", "exact", "--no-charts", "--db", str(db)
    )  # fmt: skip
    assert again.code == 0, again.stderr
    con = duckdb.connect(str(db), read_only=True, config={"file_search_path": str(db.parent)})
    try:
        rerun = con.sql(
            "select t.probability from target_probability t join runs r using (run_id) "
            "where t.target = 'railsea_teu_cagr' and r.run_set not like 'seek-%'"
        ).pl()
    finally:
        con.close()
    assert rerun["probability"][0] == pytest.approx(robust["probability"])


def test_ensemble_evaluator_equals_the_run_of_every_engine() -> None:
    """A target's own engines to its end year give the values of the whole model to 2035 (one-way coupling), for
    every member: the per-target evaluation the search uses is the verification run's."""
    from runs.execute import RunRequest, prepare
    from transport.scenario import sample_parameters

    scenario, _path, dataset = prepare(RunRequest("baseline"))
    params = sample_parameters(scenario, 4, 1)
    chosen = [TARGETS[t] for t in ("railsea", "green", "oil")]
    evaluate = EnsembleEvaluator(dataset, params, chosen)
    whole = evaluate(scenario)
    for target in chosen:
        alone = evaluate(scenario, [target])
        assert np.array_equal(target.margins(alone, 4), target.margins(whole, 4)), target.name
        assert whole.filter(pl.col("target") == target.target).height == 4  # one row per member


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--robust", "0", "--members", "10"), ("--robust", "0")),
        (("--robust", "1.5", "--members", "10"), ("--robust", "1.5")),
        (("--robust", "1", "--members", "10"), ("--robust", "1")),
        (("--robust", "0.9"), ("--members", "1", ">= 2")),
        (("--members", "50"), ("--members", "--robust")),
    ],
)
def test_bad_robust_options_are_one_line_errors(
    tmp_path: Path, args: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    db = tmp_path / "r.duckdb"
    result = cli_in_process("seek", *args, "--db", str(db), "--write", str(tmp_path / "s.toml"))
    assert_user_error(result, *fragments)
    assert not any(tmp_path.iterdir())  # nothing written


def test_report_shows_robust_rows_beside_the_deterministic_ones() -> None:
    """runs.report.seek_display (terminal and report): a lever's single_lever row and its robust row adjacent, with
    the probability reached and asked; without robust rows (or in a store older than the columns) no P columns."""
    from runs.report import seek_display
    from transport.result_tables import ANALYSIS_COLUMNS

    def rows(kind: str, lever: str, value: float, p: float | None) -> dict[str, object]:
        return {
            "kind": kind, "target": "green", "lever": lever, "base_value": 2.0, "value": value, "reachable": True,
            "objective": 0.1, "detail": "d", "probability": p, "probability_asked": None if p is None else 0.9,
        }  # fmt: skip

    frame = pl.DataFrame(
        [
            rows("robust_combined", "urban.a", 0.0, 0.91),
            rows("robust", "urban.b", 6.0, 0.905),
            rows("combined", "urban.a", 0.0, None),
            rows("single_lever", "urban.b", 4.0, None),
            rows("robust", "urban.a", 3.5, 0.9),
            rows("single_lever", "urban.a", 3.0, None),
        ],
        schema=ANALYSIS_COLUMNS["seek"],
    )
    shown = seek_display(frame)
    assert shown.select("kind", "lever").rows() == [
        ("single_lever", "urban.a"), ("robust", "urban.a"), ("single_lever", "urban.b"), ("robust", "urban.b"),
        ("combined", "urban.a"), ("robust_combined", "urban.a"),
    ]  # fmt: skip
    assert shown.row(1, named=True)["P reached"] == "0.900" and shown.row(1, named=True)["P asked"] == "0.9"
    assert shown.row(0, named=True)["P reached"] == "" and shown.row(1, named=True)["value"] == "3.5"
    deterministic = seek_display(frame.filter(pl.col("probability").is_null()).drop("probability", "probability_asked"))
    assert "P reached" not in deterministic.columns and deterministic.height == 3
