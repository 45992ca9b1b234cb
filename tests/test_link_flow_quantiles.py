"""Freight per link in ensembles (issue 17, point 4): table link_flow_quantiles (5 / 50 / 95 % of every link's flows
over all members of an exact-freight ensemble, stored once per run) and `transport run --link-flows all` (every
member's link flows; refused with emulated freight).

A one-member run stores no quantile rows (a quantile of one member would repeat its link_flows), and neither does a
run whose freight is emulated (the emulator gives no link flows)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from runs.ensemble import ensemble_freight, run_ensemble
from runs.execute import RunRequest, prepare
from tests.conftest import assert_user_error, cli_in_process
from transport.freight.model import LINK_FLOW_QUANTILES
from transport.result_tables import ANALYSIS_COLUMNS
from transport.scenario import sample_parameters

MEMBERS = 5
END = 2022
QUANTITIES = ("tonnes_mt", "tkm_bn", "teu")


def _stored(db: Path, table: str) -> pl.DataFrame:
    """Every Parquet part of `table` of the one run in the store at `db`."""
    (folder,) = [f for f in (db.parent / "runs").iterdir() if not f.name.startswith("_")]
    parts = sorted(folder.glob(f"{table}.parquet")) + sorted(folder.glob(f"{table}.*.parquet"))
    assert parts, table
    return pl.concat([pl.read_parquet(p) for p in parts]).drop("run_id")


def _run(db: Path, *args: str) -> None:
    result = cli_in_process(
        "run", "plan", "--members", str(MEMBERS), "--end-year", str(END), "--db", str(db), "--no-charts", *args
    )
    assert result.code == 0, result.stderr


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, pl.DataFrame]]:
    """`transport run plan --members 5 --end-year 2022`, with --link-flows all and with the default."""
    out: dict[str, dict[str, pl.DataFrame]] = {}
    for name, args in (("all", ("--link-flows", "all")), ("default", ())):
        db = tmp_path_factory.mktemp(f"link_flows_{name}") / "results.duckdb"
        _run(db, *args)
        out[name] = {table: _stored(db, table) for table in ("link_flows", "link_flow_quantiles", "links")}
    return out


def test_quantiles_are_numpys_over_every_members_link_flows(stored: dict[str, dict[str, pl.DataFrame]]) -> None:
    """Each (year, link) row of each quantile is np.quantile of the members' flows (members from --link-flows all,
    member 0 included), for tonnes, tkm and TEU alike; rows: quantiles x years x links."""
    flows, quantiles = stored["all"]["link_flows"], stored["all"]["link_flow_quantiles"]
    links, years = stored["all"]["links"]["link_id"].to_list(), list(range(2020, END + 1))
    assert sorted(flows["member"].unique().to_list()) == list(range(MEMBERS))
    assert flows.height == MEMBERS * len(years) * len(links)
    assert quantiles.schema == pl.Schema(ANALYSIS_COLUMNS["link_flow_quantiles"])
    assert quantiles.height == len(LINK_FLOW_QUANTILES) * len(years) * len(links)
    assert sorted(quantiles["quantile"].unique().to_list()) == [0.05, 0.5, 0.95]
    ordered = flows.sort("year", "link_id", "member")
    for column in QUANTITIES:
        per_member = ordered[column].to_numpy().reshape(len(years), len(links), MEMBERS)
        for q in LINK_FLOW_QUANTILES:
            expected = np.quantile(per_member, q, axis=2)
            got = quantiles.filter(pl.col("quantile") == q).sort("year", "link_id")[column].to_numpy()
            np.testing.assert_allclose(got.reshape(len(years), len(links)), expected, rtol=1e-12, atol=0)
    # the members differ, so the quantiles are not member 0 again
    spread = (
        quantiles.filter(pl.col("quantile") == 0.95)["tonnes_mt"]
        - quantiles.filter(pl.col("quantile") == 0.05)["tonnes_mt"]
    )
    assert (spread > 0).any()


def test_quantiles_are_ordered(stored: dict[str, dict[str, pl.DataFrame]]) -> None:
    quantiles = stored["default"]["link_flow_quantiles"]
    for column in QUANTITIES:
        wide = quantiles.pivot("quantile", index=["year", "link_id"], values=column)
        low, mid, high = (wide[str(q)].to_numpy() for q in LINK_FLOW_QUANTILES)
        assert wide.height > 0 and np.all(low <= mid) and np.all(mid <= high), column


def test_default_keeps_member_0_and_the_same_quantiles(stored: dict[str, dict[str, pl.DataFrame]]) -> None:
    """Without --link-flows all only member 0's rows, equal to its rows with it; the quantiles do not depend on it."""
    default, every = stored["default"], stored["all"]
    assert set(default["link_flows"]["member"].to_list()) == {0}
    assert_frame_equal(default["link_flows"], every["link_flows"].filter(pl.col("member") == 0))
    assert_frame_equal(default["link_flow_quantiles"], every["link_flow_quantiles"])


@pytest.fixture(scope="module")
def plan_inputs():  # type: ignore[no-untyped-def]
    scenario, _, dataset = prepare(RunRequest("plan", end_year=END))
    params = sample_parameters(scenario, MEMBERS, seed=11)
    return scenario, dataset, params, np.arange(scenario.years.base, END + 1)


def test_chunks_store_the_quantiles_once(plan_inputs) -> None:  # type: ignore[no-untyped-def]
    """The run-level table goes with the chunk holding member 0: one chunk and chunks of 2 give the same rows."""
    scenario, dataset, params, years = plan_inputs
    freight = ensemble_freight(scenario, dataset, params, years, MEMBERS, "exact")
    one = run_ensemble(scenario, dataset, params, years, MEMBERS, MEMBERS, freight=freight)
    chunked = run_ensemble(scenario, dataset, params, years, MEMBERS, 2, freight=freight)
    assert one["link_flow_quantiles"].height == len(LINK_FLOW_QUANTILES) * len(years) * one["links"].height
    assert_frame_equal(one["link_flow_quantiles"], chunked["link_flow_quantiles"])


def test_one_member_and_emulated_freight_store_no_quantiles(plan_inputs) -> None:  # type: ignore[no-untyped-def]
    """One member: no rows (its link_flows are the run's). Emulated freight: no rows (member 0's link flows only)."""
    scenario, dataset, params, years = plan_inputs
    head = {k: v[:1] for k, v in params.items()}
    alone = run_ensemble(scenario, dataset, head, years, 1, 1)
    assert alone["link_flow_quantiles"].height == 0 and alone["link_flows"].height > 0
    emulated = ensemble_freight(scenario, dataset, params, years, MEMBERS, "emulated")
    tables = run_ensemble(scenario, dataset, params, years, MEMBERS, 2, freight=emulated)
    assert tables["link_flow_quantiles"].height == 0
    assert tables["link_flow_quantiles"].schema == pl.Schema(ANALYSIS_COLUMNS["link_flow_quantiles"])
    assert set(tables["link_flows"]["member"].to_list()) == {0}


@pytest.mark.parametrize(
    "args",
    [
        ("--members", "5", "--freight", "emulated", "--link-flows", "all"),
        ("--members", "300", "--link-flows", "all"),  # auto emulates above 256 members
        ("--link-flows", "some"),
    ],
)
def test_every_members_link_flows_need_exact_freight(tmp_path: Path, args: tuple[str, ...]) -> None:
    """--link-flows all with emulated freight: exit 2, one line naming the option, nothing written."""
    db = tmp_path / "out" / "results.duckdb"
    result = cli_in_process("run", "plan", "--db", str(db), "--no-charts", *args)
    line = assert_user_error(result, "--link-flows")
    if "some" not in args:
        assert "emulated" in line and "--freight exact" in line, line
    assert not (tmp_path / "out").exists()
