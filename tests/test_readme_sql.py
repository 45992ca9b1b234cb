"""Results any DuckDB opens, anywhere: every README SQL block runs against a real run, in this DuckDB and in the
oldest DuckDB command line on PyPI (duckdb-cli 1.4.4), from a copy of the results folder at another path."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import stat
import struct
import subprocess
from pathlib import Path

import duckdb
import pytest

from runs.store import ResultsStore
from tests.conftest import REPO, SmallRun
from transport.scenario import shipped_scenarios

OLDEST_CLI = "1.4.4"


def readme_sql() -> list[str]:
    """The statements of every ```sql block of the README."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sql\n(.*?)```", text, re.S)
    assert blocks, "README has no SQL examples"
    return [s.query for block in blocks for s in duckdb.extract_statements(block)]


@pytest.fixture(scope="module")
def stock_cli(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The DuckDB command line of the `duckdb-cli` test dependency (its wheel ships the binary without the
    executable bit, so an executable copy is made)."""
    try:
        dist = importlib.metadata.distribution("duckdb-cli")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f'duckdb-cli=={OLDEST_CLI} is a test dependency: pip install -e ".[test]"')
    binary = next(Path(str(dist.locate_file(f))) for f in dist.files or [] if Path(str(f)).name == "duckdb")
    copy = tmp_path_factory.mktemp("cli") / "duckdb"
    shutil.copy(binary, copy)
    copy.chmod(copy.stat().st_mode | stat.S_IXUSR)
    version = subprocess.run([str(copy), "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith(f"v{OLDEST_CLI}"), version
    return copy


def test_every_readme_query_runs_and_returns_rows(small_run: SmallRun) -> None:
    store = ResultsStore(small_run.db)
    for sql in readme_sql():
        frame = store.query(sql)
        assert frame.height > 0, sql


def test_land_freight_shares_sum_to_one_and_leave_sea_out(small_run: SmallRun) -> None:
    sql = next(s for s in readme_sql() if "share_land_tkm" in s)
    frame = ResultsStore(small_run.db).query(sql)
    assert "sea" not in frame["mode"].to_list()
    for (_s, _y), group in frame.group_by(["scenario", "year"]):
        assert abs(group["share_land_tkm"].sum() - 1.0) < 0.01  # shares rounded to 3 decimals


def test_views_file_is_in_the_v1_storage_format(small_run: SmallRun) -> None:
    # DuckDB's header: 8 bytes checksum, b"DUCK", the storage version number (64 = the v1.0.0 format)
    with small_run.db.open("rb") as fh:
        magic, version = struct.Struct("<8x4sQ").unpack(fh.read(20))
    assert magic == b"DUCK" and version == 64


def test_copied_folder_opens_in_the_oldest_stock_cli(small_run: SmallRun, stock_cli: Path, tmp_path: Path) -> None:
    moved = tmp_path / "mailed to a colleague" / "results"
    shutil.copytree(small_run.db.parent, moved, ignore=shutil.ignore_patterns("report.*", "charts"))
    for sql in readme_sql():
        proc = subprocess.run(
            [str(stock_cli), "-readonly", "-csv", "results.duckdb", "-c", sql],
            capture_output=True,
            text=True,
            cwd=moved,
            timeout=60,
        )
        assert proc.returncode == 0 and "Error" not in proc.stderr, (sql, proc.stderr)
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        assert len(lines) >= 2, (sql, proc.stdout)  # a header and at least one row
    # the views name no absolute path, so the copy reads its own Parquet files, never the original folder's
    assert str(small_run.db.parent.resolve()).encode() not in (moved / "results.duckdb").read_bytes()


def test_store_reads_a_moved_folder_from_any_working_directory(small_run: SmallRun, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere"
    shutil.copytree(small_run.db.parent, moved, ignore=shutil.ignore_patterns("report.*", "charts"))
    n = ResultsStore(moved / "results.duckdb").query("select count(*) as n from latest_runs")["n"][0]
    assert n == len(shipped_scenarios())
