"""The results store: atomic publication, views over Parquet, read-only queries, analysts never locked out."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from runs.store import TABLES, ResultsStore, check_read_only
from transport.errors import QueryError, StoreError


def _energy(run_id: str, oil: list[float]) -> pl.DataFrame:
    years = list(range(2020, 2020 + len(oil)))
    return pl.DataFrame(
        {
            "run_id": run_id,
            "member": 0,
            "year": years,
            "segment": "private_car",
            "powertrain": "gasoline",
            "fuel": "gasoline",
            "energy_pj": oil,
            "oil_mt": oil,
            "co2_ttw_mt": oil,
            "co2_wtw_mt": oil,
        }
    )


def test_views_work_before_any_run(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "results.duckdb")
    with store.writer():
        pass
    for table in TABLES:
        assert store.query(f"select count(*) as n from {table}")["n"][0] == 0


def test_published_run_is_visible_with_all_tables(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "results.duckdb")
    with store.writer():
        store.write_run("r1", {"energy": _energy("r1", [1.0, 2.0, 3.0])})
    assert store.query("select sum(oil_mt) as s from energy")["s"][0] == pytest.approx(6.0)
    assert sorted(p.name for p in (tmp_path / "runs" / "r1").iterdir()) == sorted(f"{t}.parquet" for t in TABLES)


def test_staging_leftovers_are_invisible_and_swept(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "results.duckdb")
    with store.writer():
        store.write_run("good", {"energy": _energy("good", [1.0])})
    # What a run killed during writing leaves behind: a half-written folder in staging.
    half = tmp_path / ".staging" / "killed"
    half.mkdir(parents=True)
    _energy("killed", [99.0]).write_parquet(half / "energy.parquet")
    assert store.query("select distinct run_id from energy")["run_id"].to_list() == ["good"]
    with store.writer():
        pass
    assert not half.exists()


def test_oil_peak_uses_smoothed_path(tmp_path: Path) -> None:
    # Raw maximum at 2021 (a one-year spike); 3-year centred mean peaks at 2023: 2022..2024 -> (5+6+5)/3.
    oil = [1.0, 9.0, 5.0, 6.0, 5.0, 2.0]
    store = ResultsStore(tmp_path / "results.duckdb")
    with store.writer():
        store.write_run("r", {"energy": _energy("r", oil)})
    row = store.query("select * from oil_peak").row(0, named=True)
    smooth = [(1 + 9) / 2, (1 + 9 + 5) / 3, (9 + 5 + 6) / 3, (5 + 6 + 5) / 3, (6 + 5 + 2) / 3, (5 + 2) / 2]
    assert row["peak_year"] == 2020 + smooth.index(max(smooth))
    assert row["peak_oil_mt"] == pytest.approx(max(smooth))


def test_analyst_holding_file_read_only_does_not_block_writing(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "results.duckdb")
    with store.writer():
        store.write_run("a", {"energy": _energy("a", [1.0])})
    analyst = duckdb.connect(
        str(tmp_path / "results.duckdb"), read_only=True, config={"file_search_path": str(tmp_path)}
    )
    try:
        with store.writer():
            store.write_run("b", {"energy": _energy("b", [2.0])})
        runs = analyst.execute("select distinct run_id from energy order by 1").fetchall()
        assert runs == [("a",), ("b",)]
    finally:
        analyst.close()


def test_second_writer_is_refused_with_one_line(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "results.duckdb")
    with (
        store.writer(),
        pytest.raises(StoreError, match="one writing process"),
        ResultsStore(tmp_path / "results.duckdb").writer(),
    ):
        pass


@pytest.mark.parametrize(
    "sql",
    [
        "insert into runs values (1)",
        "copy (select 1) to '/tmp/x.csv'",
        "create table t (a int)",
        "attach 'other.db'",
        "select 1; drop view fleet",
        "set threads = 1",
        "export database '/tmp/e'",
    ],
)
def test_writing_queries_are_refused(sql: str) -> None:
    with pytest.raises(QueryError, match="read-only"):
        check_read_only(sql)


@pytest.mark.parametrize(
    "sql",
    ["select 1", "with a as (select 1) select * from a", "describe select 1", "from range(3)", "explain select 1"],
)
def test_reading_queries_pass(sql: str) -> None:
    check_read_only(sql)
