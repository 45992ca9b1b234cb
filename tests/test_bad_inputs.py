"""Bad inputs and faults, run as a hostile or careless user would: every case exits with code 2 (or its documented
code) and one line on stderr without a traceback, and no file anywhere changes (`unchanged`: folders checksummed
before and after). In-process through the CLI's entry point (tests.conftest.cli_in_process), except the operational
faults that need another process: a real full disk or read-only mount (a private mount namespace; skipped where it
cannot be made) and a Dask scheduler that goes away mid-run. The signal cases are in tests/test_signals.py.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import duckdb
import numpy as np
import polars as pl
import pytest
import tomli_w

from runs.store import ResultsStore
from tests.conftest import REPO, SHIPPED_DATASET, CliResult, SmallRun, assert_user_error, cli_in_process
from transport.analysis.sensitivity import bootstrap_seed, target_sensitivity
from transport.consistency import checked_inputs
from transport.dataset import load_dataset
from transport.errors import UserError


def checksums(*folders: Path) -> dict[str, str]:
    """sha256 of every file under the folders, and every folder's presence (a created empty folder counts)."""
    out: dict[str, str] = {}
    for folder in folders:
        if not folder.exists():
            continue
        for path in sorted(folder.rglob("*")):
            key = str(path)
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return out


@contextlib.contextmanager
def unchanged(*folders: Path) -> Iterator[None]:
    """Assert that nothing under the folders is created, changed or removed inside the block (paths and sha256 of
    every file, every folder's presence); the failure names each path that differs."""
    before = checksums(*folders)
    yield
    after = checksums(*folders)
    if after != before:
        created = sorted(set(after) - set(before))
        removed = sorted(set(before) - set(after))
        changed = sorted(k for k in set(after) & set(before) if after[k] != before[k])
        raise AssertionError(f"files changed: created {created}, removed {removed}, changed {changed}")


def assert_refused(result: CliResult, *fragments: str, code: int = 2) -> str:
    """Exit `code`, one line on stderr naming the fragments, no traceback."""
    if code == 2:
        return assert_user_error(result, *fragments)
    assert result.code == code, (result.code, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def _targets(run_id: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "run_id": [run_id],
            "member": [0],
            "target": ["road_oil_peak_year"],
            "year": [2029],
            "value": [2029.0],
            "threshold": [2030.0],
            "met": [True],
            "margin": [1.0],
            "unit": ["year"],
            "detail": [""],
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> ResultsStore:
    """A results store with one published run (tables written directly: no model run needed to attack it)."""
    s = ResultsStore(tmp_path / "store" / "results.duckdb")
    with s.writer():
        s.write_run("r1", {"targets": _targets("r1")})
    return s


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    folder = tmp_path / "scratch"
    folder.mkdir()
    (folder / "secret.txt").write_text("not for the query\n")
    pl.DataFrame({"a": [1]}).write_parquet(folder / "other.parquet")
    return folder


# ----------------------------------------------------------------------------- 1. the query sandbox
def _hostile(store: ResultsStore, scratch: Path) -> list[str]:
    targets = (store.runs_dir / "r1" / "targets.parquet").as_posix()
    s = scratch.as_posix()
    fake = "select 'r1' as run_id, 0 as member, 'road_oil_peak_year' as target, 2099 as year"
    return [
        f"EXPLAIN ANALYZE COPY ({fake}) TO '{targets}' (FORMAT parquet)",
        f"/* hidden */ explain analyze copy ({fake}) to '{targets}' (format parquet)",
        f"explain (format json) copy (select 1) to '{targets}'",
        f"EXPLAIN ANALYZE COPY (select 1) TO '{s}/x.csv'",
        f"copy (select 1) to '{targets}' (format parquet)",
        f"copy (select 1) to '{s}/x.csv'",
        f"copy targets from '{s}/x.csv'",
        f"select 1; copy (select 1) to '{s}/y.csv'",
        "EXPLAIN ANALYZE CREATE TEMP TABLE t AS SELECT 1",
        "create temp table t as select 1",
        "create or replace view targets as select 1 as value",
        "drop view targets",
        "insert into runs select * from runs",
        "delete from runs",
        f"attach '{s}/a.duckdb' as a",
        "detach memory",
        "load httpfs",
        "install httpfs",
        "set enable_external_access = true",
        "reset lock_configuration",
        "pragma enable_profiling",
        "set threads = 1",
        f"export database '{s}/export'",
        f"import database '{s}/export'",
        "checkpoint",
        "vacuum",
        "begin transaction",
        "use memory",
        "update extensions",
        f"prepare p as copy (select 1) to '{s}/p.csv'",
        "create macro m() as 1",
        "create secret s (type s3)",
        "select * from read_csv('/etc/passwd')",
        f"select * from read_text('{s}/secret.txt')",
        f"select * from '{s}/other.parquet'",
        f"select * from query('copy (select 1) to ''{s}/q.csv''')",
    ]


HOSTILE_COUNT = 36


@pytest.mark.parametrize("index", range(HOSTILE_COUNT))
def test_hostile_query_is_refused_and_changes_nothing(store: ResultsStore, scratch: Path, index: int) -> None:
    statements = _hostile(store, scratch)
    assert len(statements) == HOSTILE_COUNT
    with unchanged(store.root, scratch):
        result = cli_in_process("query", statements[index], "--db", str(store.db_path))
        assert_refused(result, "sql")
    assert ResultsStore(store.db_path).query("select max(year) as y from targets")["y"][0] == 2029


@pytest.mark.parametrize(
    "sql",
    [
        "copy (select 1) to '{scratch}/direct.csv'",
        "attach '{scratch}/direct.duckdb'",
        "select * from read_text('{scratch}/secret.txt')",
        "set enable_external_access = true",
        "load httpfs",
    ],
)
def test_the_connection_itself_refuses_outside_files_and_settings(store: ResultsStore, scratch: Path, sql: str) -> None:
    """DuckDB's own controls, without the statement check: no file outside the run folders, no settings."""
    with unchanged(store.root, scratch):
        con = store.connect()
        try:
            with pytest.raises(duckdb.Error):
                con.execute(sql.format(scratch=scratch.as_posix())).fetchall()
        finally:
            con.close()


def test_reading_queries_still_work(store: ResultsStore) -> None:
    with unchanged(store.root):
        for sql in ("select count(*) as n from targets", "explain analyze select 1", "describe targets", "from runs"):
            result = cli_in_process("query", sql, "--db", str(store.db_path), "--format", "csv")
            assert result.code == 0, result.stderr


# ----------------------------------------------------------------------------- 2. user files
def test_run_never_replaces_a_foreign_file(tmp_path: Path) -> None:
    notes = tmp_path / "notes.duckdb"
    notes.write_text("my notes\n")
    with unchanged(tmp_path):
        assert_refused(cli_in_process("run", "baseline", "--db", str(notes), "--no-charts"), "notes.duckdb", "--db")


def test_run_refuses_a_db_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "results.duckdb").mkdir()
    with unchanged(tmp_path):
        assert_refused(cli_in_process("run", "baseline", "--db", str(tmp_path / "results.duckdb")), "not a folder")


def test_run_refuses_a_db_below_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with unchanged(tmp_path):
        assert_refused(cli_in_process("run", "baseline", "--db", str(tmp_path / "file" / "r.duckdb")), "a file")


@pytest.mark.parametrize("command", [["query", "select 1"], ["report"], ["compare", "baseline", "plan"]])
def test_reads_of_a_missing_database_create_nothing(tmp_path: Path, store: ResultsStore, command: list[str]) -> None:
    missing = store.root / "missing.duckdb"  # beside a real store: the views could be (but must not be) rebuilt
    with unchanged(tmp_path):
        assert_refused(cli_in_process(*command, "--db", str(missing)), "missing.duckdb", "transport run")


@pytest.mark.parametrize("command", [["query", "select 1"], ["report"]])
def test_reads_of_a_foreign_file_change_nothing(tmp_path: Path, command: list[str]) -> None:
    notes = tmp_path / "notes.duckdb"
    notes.write_text("my notes\n")
    with unchanged(tmp_path):
        assert_refused(cli_in_process(*command, "--db", str(notes)), "notes.duckdb", "made by `transport run`")


def test_query_with_db_naming_a_folder(tmp_path: Path) -> None:
    with unchanged(tmp_path):
        assert_refused(cli_in_process("query", "select 1", "--db", str(tmp_path)), "not a folder")


def test_out_naming_a_file_is_refused_before_work(tmp_path: Path) -> None:
    (tmp_path / "out.txt").write_text("x")
    with unchanged(tmp_path):
        result = cli_in_process(
            "run", "baseline", "--db", str(tmp_path / "db" / "r.duckdb"), "--out", str(tmp_path / "out.txt")
        )
        assert_refused(result, "--out", "a file")


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "locked"
    folder.mkdir()
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=False)


def test_out_in_an_immutable_folder_is_refused_before_work(tmp_path: Path, immutable: Path) -> None:
    with unchanged(tmp_path):
        result = cli_in_process("run", "baseline", "--db", str(tmp_path / "db" / "r.duckdb"), "--out", str(immutable))
        assert_refused(result, "--out", "can write")


def test_db_in_an_immutable_folder_is_refused_before_work(tmp_path: Path, immutable: Path) -> None:
    with unchanged(tmp_path):
        assert_refused(cli_in_process("run", "baseline", "--db", str(immutable / "r.duckdb")), "--db folder")


# ----------------------------------------------------------------------------- 3. arguments
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--seed", str(2**63)], ("--seed",)),
        (["--seed", "-1"], ("--seed",)),
        (["--seed", "1e3"], ("--seed",)),
        (["--members", "0"], ("--members",)),
        (["--members", "1000000000"], ("--members", "at most")),
        (["--members", "abc"], ("--members",)),
        (["--workers", "-1"], ("--workers",)),
        (["--workers", "100000", "--members", "20000"], ("members", "GiB")),
        (["--chunk-size", "0"], ("--chunk-size",)),
        (["--freight", "guess"], ("--freight",)),
        (["--end-year", "2075"], ("--end-year", "2075")),
        (["--end-year", "2020"], ("--end-year",)),
        (["--end-year", "1" * 401], ("--end-year",)),
        (["--scheduler", "not an address::"], ("--scheduler",)),
        (["--scheduler", "tcp://127.0.0.1:99999"], ("--scheduler", "port")),
        (["--scheduler", "http://127.0.0.1:8786"], ("--scheduler",)),
        (["--scheduler", "tcp://:8786"], ("--scheduler",)),
        (["--no-such-option"], ("no-such-option",)),
    ],
)
def test_bad_run_arguments(tmp_path: Path, args: list[str], fragments: tuple[str, ...]) -> None:
    with unchanged(tmp_path):
        started = time.perf_counter()
        result = cli_in_process("run", "baseline", "--db", str(tmp_path / "r.duckdb"), "--no-charts", *args)
        assert_refused(result, *fragments)
        assert time.perf_counter() - started < 20  # refused before any model work or allocation


def test_scheduler_that_does_not_answer_is_refused_within_seconds(tmp_path: Path) -> None:
    started = time.perf_counter()
    result = cli_in_process(
        "run", "baseline", "--db", str(tmp_path / "r.duckdb"), "--scheduler", f"tcp://127.0.0.1:{_closed_port()}"
    )
    assert_refused(result, "--scheduler", "running Dask scheduler")
    assert time.perf_counter() - started < 5
    assert not any(tmp_path.iterdir())


def test_query_format_is_checked(store: ResultsStore) -> None:
    with unchanged(store.root):
        assert_refused(cli_in_process("query", "select 1", "--db", str(store.db_path), "--format", "xml"), "--format")


# ----------------------------------------------------------------------------- 4. scenario files
def _write(path: Path, data: dict | bytes | str) -> Path:
    if isinstance(data, bytes):
        path.write_bytes(data)
    elif isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def _validate(path: Path) -> CliResult:
    return cli_in_process("validate", str(path))


SPUR = {"terminal": "Nowhere yard", "year": 2025, "drayage_km_saved": 5.0}
EXPANSION = {"group": "Atlantis lock", "year": 2030, "added_mt": 10.0}


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            'name = "x"\nextends = "baseline"\n[levers.fleets.chargers]\n"2030" = 1.0\n"02030" = 2.0\n',
            ("chargers", "02030"),
        ),
        ('name = "x"\nextends = "baseline"\n[levers.fleets.chargers]\n"2030" = 1.0\n"+2030" = 2.0\n', ("chargers",)),
        ('name = "x"\n[levers.fleets]\nchargers = {}\n', ("chargers", "at least one")),
        ('name = "x"\n[levers.fleets.chargers]\n"-5" = 1.0\n', ("chargers", "-5")),
        ('name = "x"\n[levers.fleets.chargers]\n1900 = 1.0\n', ("chargers", "2000")),
        ('name = "x"\n[levers.fleets.chargers]\n3000 = 1.0\n', ("chargers", "2100")),
        ('name = "x"\n[levers.fleets.chargers]\n' + "1" * 401 + " = 1.0\n", ("chargers", "401 characters")),
        ('name = "x"\n[levers.fleets.chargers]\n2070 = 1.0\n', ("chargers.2070", "horizon")),
        ('name = "x"\n[levers.urban.metro_km_added]\nnanning = {}\n', ("metro_km_added", "at least one")),
        (
            'name = "x"\n[[levers.fleets.scrappage_programmes]]\nsegment = "heavy_truck"\npowertrains = ["diesel"]\n'
            "max_vintage = 2013\nstart = 2030.0\nend = 2025.0\n",
            ("scrappage_programmes[0].end", "after its start"),
        ),
        ('name = "x"\n[uncertain.fleet_vkt_factor]\ndist = "normal"\nmean = 1.0\nsd = inf\n', ("sd", "finite")),
        ('name = "x"\n[uncertain.fleet_vkt_factor]\ndist = "normal"\nmean = nan\nsd = 0.1\n', ("mean",)),
        ('name = "x"\n[uncertain.fleet_vkt_factor]\ndist = "lognormal"\nmedian = 1.0\nsigma = 1e308\n', ("sigma",)),
        ('name = "x"\n[uncertain.fleet_vkt_factor]\ndist = "normal"\nmean = 1.0\nsd = 5.0\n', ("sd", "width")),
        ('name = "x"\n[uncertain.fleet_vkt_factor]\ndist = "uniform"\nlow = 0.9\nhigh = 1.3\n', ("high", "within")),
        ('name = "x"\ndataset = "no/such/folder"\n', ("no/such/folder", "dataset folder")),
        ('name = "x"\n[years]\nbase = 2021\n', ("years.base", "2020")),
    ],
)
def test_bad_scenario_values(tmp_path: Path, text: str, fragments: tuple[str, ...]) -> None:
    path = _write(tmp_path / "s.toml", text)
    with unchanged(tmp_path):
        assert_refused(_validate(path), "s.toml", *fragments)


@pytest.mark.parametrize(
    ("levers", "fragment"),
    [
        ({"freight": {"rail_spurs": [SPUR]}}, "Nowhere yard"),
        ({"freight": {"capacity_expansions": [EXPANSION]}}, "Atlantis lock"),
        ({"urban": {"metro_km_added": {"gotham": {"2030": 20.0}}}}, "gotham"),
        (
            {
                "fleets": {
                    "sales_rules": [
                        {
                            "segment": "bus",
                            "group": "nev",
                            "kind": "min",
                            "share": 1.0,
                            "start": 2025.0,
                            "city": "gotham",
                        }
                    ]
                }
            },
            "gotham",
        ),
        ({"fleets": {"city_car_nev_subsidy_share": {"atlantis": {"2025": 0.1}}}}, "atlantis"),
        (
            {
                "freight": {
                    "new_links": [
                        {
                            "layer": "rail",
                            "from_place": "Nanning",
                            "to_place": "Atlantis",
                            "distance_km": 50.0,
                            "open_year": 2030,
                        }
                    ]
                }
            },
            "Atlantis",
        ),
    ],
)
def test_bad_references_are_named_with_the_valid_names(tmp_path: Path, levers: dict, fragment: str) -> None:
    path = _write(tmp_path / "s.toml", {"name": "x", "extends": "baseline", "levers": levers})
    with unchanged(tmp_path):
        line = assert_refused(_validate(path), "s.toml", fragment, "expected a")
    assert "," in line.split("expected", 1)[1]  # the valid names are listed


def test_three_bad_references_are_all_named_quickly(tmp_path: Path) -> None:
    levers = {
        "freight": {"rail_spurs": [SPUR], "capacity_expansions": [EXPANSION]},
        "urban": {"metro_km_added": {"gotham": {"2030": 20.0}}},
    }
    path = _write(tmp_path / "s.toml", {"name": "x", "extends": "baseline", "levers": levers})
    cli_in_process("validate", "baseline")  # imports and the first dataset read, as a fresh process has paid
    with unchanged(tmp_path):
        started = time.perf_counter()
        line = assert_refused(_validate(path), "3 problems", "Nowhere yard", "Atlantis lock", "gotham")
        assert time.perf_counter() - started < 3.0, line


def test_binary_scenario_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", bytes(range(256)) * 4)
    with unchanged(tmp_path):
        assert_refused(_validate(path), "s.toml", "UTF-8")


def test_latin1_scenario_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", 'name = "x"\ndescription = "Guangxi caf\xe9"\n'.encode("latin-1"))
    with unchanged(tmp_path):
        assert_refused(_validate(path), "s.toml", "UTF-8")


def test_extends_chain_1500_deep(tmp_path: Path) -> None:
    _write(tmp_path / "s0.toml", {"name": "s0", "extends": "baseline"})
    for i in range(1, 1500):
        _write(tmp_path / f"s{i}.toml", {"name": f"s{i}", "extends": f"s{i - 1}.toml"})
    with unchanged(tmp_path):
        assert_refused(_validate(tmp_path / "s1499.toml"), "extends", "at most")


def test_deeply_nested_toml(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", 'name = "x"\ndescription = ' + "[" * 5000 + "]" * 5000 + "\n")
    with unchanged(tmp_path):
        assert_refused(_validate(path), "s.toml")


def test_huge_scenario_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", 'name = "x"\n' + "# padding\n" * 200_000)
    with unchanged(tmp_path):
        assert_refused(_validate(path), "s.toml", "1 MB")


def test_scenario_path_is_a_folder_without_dataset(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a dataset\n")
    with unchanged(tmp_path):
        assert_refused(_validate(tmp_path), "dataset.toml")


# ----------------------------------------------------------------------------- 5. datasets
def _osm_edit(folder: Path, edit: str) -> None:
    path = folder / "freight" / "trunk_network.osm"
    text = path.read_text(encoding="utf-8")
    if edit == "truncate":
        path.write_text(text[: len(text) // 2], encoding="utf-8")
        return
    tree = ElementTree.fromstring(text)
    if edit.startswith("distance="):
        way = tree.find("way")
        assert way is not None
        tag = next(t for t in way.iter("tag") if t.get("k") == "distance")
        tag.set("v", edit.split("=", 1)[1])
    elif edit == "isolate":  # every way touching Chongzuo removed: the zone has demand and no network
        ids = {n.get("id") for n in tree.iter("node") if any(t.get("v") == "Chongzuo" for t in n.iter("tag"))}
        for way in list(tree.iter("way")):
            if {nd.get("ref") for nd in way.iter("nd")} & ids:
                tree.remove(way)
    path.write_bytes(ElementTree.tostring(tree, encoding="utf-8", xml_declaration=True))


@pytest.mark.parametrize(
    ("edit", "fragments"),
    [
        ("truncate", ("trunk_network.osm", "xml")),
        ("distance=0", ("distance", "> 0 km")),
        ("distance=-35", ("distance", "-35")),
        ("distance=abc", ("distance", "nan")),
        ("isolate", ("Chongzuo", "demand would be lost")),
    ],
)
def test_broken_networks_are_named(dataset_copy: Path, edit: str, fragments: tuple[str, ...]) -> None:
    _osm_edit(dataset_copy, edit)
    with unchanged(dataset_copy):
        assert_refused(_validate(dataset_copy), *fragments)


def test_distance_in_scientific_notation_is_read_whole(dataset_copy: Path) -> None:
    _osm_edit(dataset_copy, "distance=1.2e2")
    with unchanged(dataset_copy):
        links = load_dataset(dataset_copy, calibrate=False).freight.links
    first = ElementTree.parse(dataset_copy / "freight" / "trunk_network.osm").getroot().find("way")
    assert first is not None
    assert links.filter(pl.col("osm_way") == int(first.get("id", "0")))["length_km"].sum() == pytest.approx(240.0)


def test_terminal_capacity_group_unknown(dataset_copy: Path) -> None:
    path = dataset_copy / "freight" / "terminals.csv"
    text = path.read_text(encoding="utf-8")
    row = "Liuzhou rail yard,Liuzhou,road,rail,25,24,10,"
    assert row + "none" in text
    path.write_text(text.replace(row + "none", row + "Atlantis yard", 1), encoding="utf-8")
    with unchanged(dataset_copy):
        assert_refused(_validate(dataset_copy), "capacity_group", "Atlantis yard")


def test_binary_dataset_manifest(dataset_copy: Path) -> None:
    (dataset_copy / "dataset.toml").write_bytes(b"\xff\xfe\x00name = 1")
    with unchanged(dataset_copy):
        assert_refused(_validate(dataset_copy), "dataset.toml", "UTF-8")


def test_binary_dataset_table(dataset_copy: Path) -> None:
    (dataset_copy / "freight" / "modes.csv").write_bytes(bytes(range(256)))
    with unchanged(dataset_copy):
        assert_refused(_validate(dataset_copy), "modes.csv")


def test_every_shipped_scenario_passes_every_check() -> None:
    for name in ("baseline", "plan", "accelerated"):
        checked_inputs(name)
    assert cli_in_process("validate", str(SHIPPED_DATASET)).code == 0


# ----------------------------------------------------------------------------- 6. the store, faults, determinism
def test_damaged_run_folder_is_reported_by_name(store: ResultsStore) -> None:
    (store.runs_dir / "r1" / "targets.parquet").unlink()
    with unchanged(store.root):
        assert_refused(cli_in_process("query", "select 1", "--db", str(store.db_path)), "r1", "targets.parquet")


@pytest.mark.parametrize("content", [b"", b"garbage, not a database"])
def test_damaged_views_file_is_rebuilt(store: ResultsStore, content: bytes) -> None:
    store.db_path.write_bytes(content)
    with unchanged(store.runs_dir):  # the views file is rebuilt; the runs are left as they were
        result = cli_in_process(
            "query", "select max(year) as y from targets", "--db", str(store.db_path), "--format", "csv"
        )
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines()[1] == "2029"


def test_analyst_holding_the_store_read_write_stops_the_run_before_it_starts(store: ResultsStore) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(store.db_path)!r}); print(1, flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "1"
        with unchanged(store.root):  # no run stored that a retry would duplicate
            result = cli_in_process("run", "baseline", "--end-year", "2022", "--db", str(store.db_path))
            assert_refused(result, "locked")
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("where", ["first part", "later part", "flush at publish"])
def test_full_disk_publishes_nothing_and_removes_staging(
    store: ResultsStore, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """ENOSPC where the store writes a run's Parquet parts: on the first part, half-way through a later chunk's part
    (parts of the run already staged), or when the parts are flushed before the publishing rename (file systems that
    allocate late report a full disk there). One line naming the file and what to do; the store as it was."""
    import runs.store

    written: list[str] = []
    write_file = runs.store.write_file

    def full(path: Path, data: bytes) -> None:
        if where == "first part" or (where == "later part" and ".part-" in path.name):
            path.write_bytes(data[: len(data) // 2])  # the disk fills in the middle of the file
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        write_file(path, data)
        written.append(path.name)

    def full_on_flush(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runs.store, "write_file", full)
    if where == "flush at publish":
        monkeypatch.setattr(runs.store.os, "fsync", full_on_flush)
    with unchanged(store.root):  # nothing published, the staging folder as empty as before, r1 and the views intact
        two_chunks = ["--members", "4", "--chunk-size", "2", "--no-charts"]
        result = cli_in_process("run", "baseline", "--end-year", "2022", *two_chunks, "--db", str(store.db_path))
        line = assert_refused(result, "No space left on device", "free disk space", "--db")
    assert "stored run" not in result.stdout
    if where == "first part":
        assert not written and "diagnostics.parquet" in line, (written, line)  # the run's first table
    elif where == "later part":
        assert "fleet.parquet" in written and ".part-00001.parquet" in line, (written, line)  # chunk 0 was staged
    else:
        assert "runs.parquet" in written, written  # every part written; the flush failed


@pytest.mark.parametrize(
    ("size", "failing"), [("40k", ".staging/_schema_v"), ("100k", "results.duckdb"), ("400k", ".staging/baseline-")]
)
def test_full_disk_on_a_real_file_system(tmp_path: Path, size: str, failing: str) -> None:
    """A real ENOSPC from the kernel: a first run into a tmpfs of `size` mounted in a private mount namespace (root,
    or a user namespace), with the up-front disk check off (another process fills the disk after it). 40 kB: the
    store's empty schema tables do not fit; 100 kB: the views file (DuckDB) does not; 400 kB: schema and views fit,
    the run's Parquet parts do not."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    mount = ["unshare", "--mount", *([] if os.geteuid() == 0 else ["--map-root-user"])]
    probe = subprocess.run(
        [*mount, "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(tmp_path)], capture_output=True
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a private mount namespace here: {probe.stderr.decode().strip()}")
    disk, listing = tmp_path / "disk", tmp_path / "listing.txt"
    disk.mkdir()
    run = (
        "import sys; import runs.preflight as p; p.check_disk = lambda *a, **k: None; "
        "sys.argv[0] = 'transport'; from runs.cli import main; main()"
    )
    script = (
        'mount -t tmpfs -o size="$1" tmpfs "$2" || exit 99; cd "$5"; "$3" -c "$4" run baseline --end-year 2021 '
        '--no-charts --db "$2/db/results.duckdb"; code=$?; (cd "$2" && find . -mindepth 1 | sort) > "$6"; exit $code'
    )
    proc = subprocess.run(
        [*mount, "sh", "-c", script, "sh", size, str(disk), sys.executable, run, str(REPO), str(listing)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 99, proc.stderr
    line = assert_refused(CliResult(proc.returncode, proc.stdout, proc.stderr), "No space left on device", "--db")
    assert failing in line, line
    left = listing.read_text().split()
    assert not [p for p in left if p.startswith("./db/runs/") and not p.startswith("./db/runs/_schema_v")], left
    assert not [p for p in left if p.startswith("./db/.staging/")], left  # no staging folder left behind
    assert not [p for p in left if ".tmp" in p], left  # nor a half-built views file or its WAL


@pytest.mark.parametrize("what", ["--db folder", "--out"])
def test_run_that_would_not_fit_on_disk_is_refused_before_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, what: str
) -> None:
    """The up-front free-space check (runs.preflight.check_disk): the folder with too little space is named, with the
    space the run needs; nothing is written or created."""
    from runs import preflight

    db, out = tmp_path / "db" / "results.duckdb", tmp_path / "out"
    db.parent.mkdir()
    out.mkdir()
    tight = db.parent if what == "--db folder" else out
    disk_usage = shutil.disk_usage

    def usage(path: str | os.PathLike[str]) -> shutil._ntuple_diskusage:
        real = disk_usage(path)
        return real._replace(free=200_000) if Path(path) == tight else real

    monkeypatch.setattr(preflight.shutil, "disk_usage", usage)
    need = preflight.results_bytes(1, 2) if what == "--db folder" else preflight.REPORT_BYTES
    with unchanged(tmp_path):
        result = cli_in_process("run", "baseline", "--end-year", "2021", "--db", str(db), "--out", str(out))
        assert_refused(result, str(tight), what, "0 MB free", f"at least {need / 1e6:.0f} MB free")


def _store_copy(small_run: SmallRun, tmp_path: Path) -> Path:
    """A copy of the session's small run (results, charts, report) to attack; the shared fixture is never touched."""
    copy = tmp_path / "out"
    shutil.copytree(small_run.db.parent, copy)
    return copy / small_run.db.name


def test_read_only_store_is_refused_and_left_as_it_was(small_run: SmallRun, tmp_path: Path) -> None:
    """A results folder made by a real run, then made read-only (0o555 on it and on runs/): `transport run` names
    the --db folder in one line and changes nothing."""
    if os.geteuid() == 0:
        pytest.skip(
            "root ignores permission bits; the read-only mount and the not-writable tests cover this case as root"
        )
    db = _store_copy(small_run, tmp_path)
    with unchanged(tmp_path):
        for folder in (db.parent / "runs", db.parent):
            folder.chmod(0o555)
        try:
            result = cli_in_process("run", "baseline", "--end-year", "2021", "--db", str(db))
        finally:
            for folder in (db.parent, db.parent / "runs"):
                folder.chmod(0o755)
        assert_refused(result, str(db.parent), "--db folder", "can write")


@pytest.mark.parametrize("preflight", ["checked", "unchecked"])
def test_store_on_a_read_only_mount_is_refused_and_left_as_it_was(
    small_run: SmallRun, tmp_path: Path, preflight: str
) -> None:
    """The same results folder bind-mounted read-only in a private mount namespace, which binds root too (EROFS):
    refused in one line by the up-front check (`checked`), and by the store itself when that check is skipped
    (`unchecked`: the folder turned read-only after the check); every file unchanged."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    db = _store_copy(small_run, tmp_path)
    mount = ["unshare", "--mount", *([] if os.geteuid() == 0 else ["--map-root-user"])]
    bind = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1"'
    (tmp_path / "probe").mkdir()
    probe = subprocess.run([*mount, "sh", "-c", bind + ' && ! touch "$1/x" 2>/dev/null', "sh", str(tmp_path / "probe")])
    if probe.returncode != 0:
        pytest.skip("cannot bind-mount a folder read-only in a private mount namespace here")
    run = "import sys; from runs.cli import main; sys.argv[0] = 'transport'; "
    if preflight == "unchecked":
        run += "import runs.store; runs.store.check_writable_folder = lambda *a, **k: None; "
    script = bind + ' || exit 99; exec "$2" -c "$3" run baseline --end-year 2021 --db "$4"'
    with unchanged(tmp_path):
        proc = subprocess.run(
            [*mount, "sh", "-c", script, "sh", str(db.parent), sys.executable, run + "main()", str(db)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
        )
        assert proc.returncode != 99, proc.stderr
        expected = ("--db folder", "can write") if preflight == "checked" else ("Read-only file system",)
        assert_refused(CliResult(proc.returncode, proc.stdout, proc.stderr), str(db.parent), *expected)


def test_store_that_is_not_writable_is_refused_and_left_as_it_was(
    small_run: SmallRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writability check (runs.store.check_writable_folder, os.access) told that the results folder is not
    writable, which a root user is never told by permission bits: one line naming --db, nothing changed."""
    db = _store_copy(small_run, tmp_path)
    access = os.access

    def read_only(path: str | os.PathLike[str], mode: int, **kwargs: object) -> bool:
        inside = Path(path).resolve().is_relative_to(db.parent.resolve())
        return False if inside and mode & os.W_OK else access(path, mode, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", read_only)
    with unchanged(tmp_path):
        result = cli_in_process("run", "baseline", "--end-year", "2021", "--db", str(db))
        assert_refused(result, str(db.parent), "--db folder", "can write")


@pytest.mark.parametrize("loss", ["closed", "killed"])
def test_scheduler_lost_mid_run_publishes_nothing(store: ResultsStore, loss: str) -> None:
    """A Dask scheduler that answers the up-front probe, takes the run's chunks, then goes away: closed (a
    LocalCluster shut down) or killed (kill -9 of the scheduler process) once the run has staged its first table and
    is handing chunks out. One line naming the scheduler, exit 2, nothing published, staging removed, in bounded time.
    """
    distributed = pytest.importorskip("distributed")
    deadline = time.monotonic() + 60
    with contextlib.ExitStack() as stack:
        if loss == "closed":
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
                )
            )
            address, go_away = cluster.scheduler_address, cluster.close
        else:
            port = _closed_port()
            address = f"tcp://127.0.0.1:{port}"
            dask, quiet = [sys.executable, "-m", "dask"], {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
            scheduler = subprocess.Popen(
                [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], **quiet
            )
            worker = subprocess.Popen([*dask, "worker", address, "--nthreads", "1", "--no-dashboard"], **quiet)
            for process in (worker, scheduler):
                stack.callback(process.wait, 10)
                stack.callback(process.kill)
            go_away = scheduler.kill
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
                time.sleep(0.1)
        with unchanged(store.root):
            args = f"run baseline --scheduler {address} --members 12 --chunk-size 2 --end-year 2022 --no-charts --db"
            run = subprocess.Popen(
                [sys.executable, "-m", "transport", *args.split(), str(store.db_path)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=REPO,
            )
            stack.callback(run.wait, 10)
            stack.callback(run.kill)
            # the run has connected, computed its freight and staged the diagnostics: its chunks are being handed out
            while time.monotonic() < deadline and run.poll() is None:
                if any(store.staging_dir.glob("[!_]*/diagnostics.parquet")):
                    break
                time.sleep(0.05)
            assert run.poll() is None, run.communicate()
            go_away()
            stdout, stderr = run.communicate(timeout=max(1.0, deadline - time.monotonic()))
            line = assert_refused(
                CliResult(run.returncode, stdout, stderr), "--scheduler", address, "nothing was published"
            )
            assert "stored run" not in stdout
    assert "lost" in line, line


def test_report_failure_after_publish_says_the_runs_are_stored(
    store: ResultsStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import runs.report

    def broken(*_args: object, **_kwargs: object) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device", "report.html")

    monkeypatch.setattr(runs.report, "write_report", broken)
    result = cli_in_process("run", "baseline", "--end-year", "2022", "--db", str(store.db_path))
    assert_refused(result, "runs are stored", "transport report", code=3)
    assert len(ResultsStore(store.db_path).query("select * from runs where scenario = 'baseline'")) == 1


def test_sensitivity_is_the_same_for_the_same_seed_whatever_the_global_random_state() -> None:
    rng = np.random.default_rng(1)
    members = 121
    params = {"a": rng.uniform(size=members), "b": rng.uniform(size=members)}
    value = 3 * params["a"] + params["b"] ** 2 + rng.normal(scale=0.1, size=members)
    targets = pl.DataFrame(
        {
            "member": np.arange(members, dtype=np.int32),
            "target": "road_oil_peak_level",
            "year": np.full(members, 2030, dtype=np.int32),
            "value": value,
        }
    )
    rows = []
    for noise in (1, 2):
        np.random.seed(noise)  # what SALib falls back to when it is not seeded
        rows.append(target_sensitivity(targets, params, ["a", "b"], seed=0))
    assert rows[0].height > 0 and rows[0].equals(rows[1])
    assert all(bootstrap_seed(s) > 0 for s in (0, 1, 2**63 - 1))


def test_user_error_lists_every_problem_on_one_line() -> None:
    err = UserError.collected("f.toml", [("a", 1, "b"), ("c", "d", "e")])
    assert err.one_line() == "f.toml: 2 problems: (1) a: got 1; expected b | (2) c: got 'd'; expected e"
