"""Bad inputs and faults, run as a hostile or careless user would: every case exits with code 2 (or its documented
code) and one line on stderr without a traceback, and no file anywhere changes (folders checksummed before and
after). In-process through the CLI's entry point (tests.conftest.cli_in_process); the signal cases are in
tests/test_signals.py.
"""

from __future__ import annotations

import errno
import hashlib
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
from tests.conftest import SHIPPED_DATASET, CliResult, assert_user_error, cli_in_process
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
    before = checksums(store.root, scratch)
    result = cli_in_process("query", statements[index], "--db", str(store.db_path))
    assert_refused(result, "sql")
    assert checksums(store.root, scratch) == before
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
    before = checksums(store.root, scratch)
    con = store.connect()
    try:
        with pytest.raises(duckdb.Error):
            con.execute(sql.format(scratch=scratch.as_posix())).fetchall()
    finally:
        con.close()
    assert checksums(store.root, scratch) == before


def test_reading_queries_still_work(store: ResultsStore) -> None:
    for sql in ("select count(*) as n from targets", "explain analyze select 1", "describe targets", "from runs"):
        result = cli_in_process("query", sql, "--db", str(store.db_path), "--format", "csv")
        assert result.code == 0, result.stderr


# ----------------------------------------------------------------------------- 2. user files
def test_run_never_replaces_a_foreign_file(tmp_path: Path) -> None:
    notes = tmp_path / "notes.duckdb"
    notes.write_text("my notes\n")
    before = checksums(tmp_path)
    assert_refused(cli_in_process("run", "baseline", "--db", str(notes), "--no-charts"), "notes.duckdb", "--db")
    assert checksums(tmp_path) == before


def test_run_refuses_a_db_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "results.duckdb").mkdir()
    before = checksums(tmp_path)
    assert_refused(cli_in_process("run", "baseline", "--db", str(tmp_path / "results.duckdb")), "not a folder")
    assert checksums(tmp_path) == before


def test_run_refuses_a_db_below_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    before = checksums(tmp_path)
    assert_refused(cli_in_process("run", "baseline", "--db", str(tmp_path / "file" / "r.duckdb")), "a file")
    assert checksums(tmp_path) == before


@pytest.mark.parametrize("command", [["query", "select 1"], ["report"], ["compare", "baseline", "plan"]])
def test_reads_of_a_missing_database_create_nothing(tmp_path: Path, store: ResultsStore, command: list[str]) -> None:
    missing = store.root / "missing.duckdb"  # beside a real store: the views could be (but must not be) rebuilt
    before = checksums(tmp_path)
    assert_refused(cli_in_process(*command, "--db", str(missing)), "missing.duckdb", "transport run")
    assert checksums(tmp_path) == before


@pytest.mark.parametrize("command", [["query", "select 1"], ["report"]])
def test_reads_of_a_foreign_file_change_nothing(tmp_path: Path, command: list[str]) -> None:
    notes = tmp_path / "notes.duckdb"
    notes.write_text("my notes\n")
    before = checksums(tmp_path)
    assert_refused(cli_in_process(*command, "--db", str(notes)), "notes.duckdb", "made by `transport run`")
    assert checksums(tmp_path) == before


def test_query_with_db_naming_a_folder(tmp_path: Path) -> None:
    before = checksums(tmp_path)
    assert_refused(cli_in_process("query", "select 1", "--db", str(tmp_path)), "not a folder")
    assert checksums(tmp_path) == before


def test_out_naming_a_file_is_refused_before_work(tmp_path: Path) -> None:
    (tmp_path / "out.txt").write_text("x")
    before = checksums(tmp_path)
    result = cli_in_process(
        "run", "baseline", "--db", str(tmp_path / "db" / "r.duckdb"), "--out", str(tmp_path / "out.txt")
    )
    assert_refused(result, "--out", "a file")
    assert checksums(tmp_path) == before


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
    before = checksums(tmp_path)
    result = cli_in_process("run", "baseline", "--db", str(tmp_path / "db" / "r.duckdb"), "--out", str(immutable))
    assert_refused(result, "--out", "can write")
    assert checksums(tmp_path) == before


def test_db_in_an_immutable_folder_is_refused_before_work(tmp_path: Path, immutable: Path) -> None:
    before = checksums(tmp_path)
    assert_refused(cli_in_process("run", "baseline", "--db", str(immutable / "r.duckdb")), "--db folder")
    assert checksums(tmp_path) == before


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
    before = checksums(tmp_path)
    started = time.perf_counter()
    result = cli_in_process("run", "baseline", "--db", str(tmp_path / "r.duckdb"), "--no-charts", *args)
    assert_refused(result, *fragments)
    assert time.perf_counter() - started < 20  # refused before any model work or allocation
    assert checksums(tmp_path) == before


def test_scheduler_that_does_not_answer_is_refused_within_seconds(tmp_path: Path) -> None:
    started = time.perf_counter()
    result = cli_in_process(
        "run", "baseline", "--db", str(tmp_path / "r.duckdb"), "--scheduler", f"tcp://127.0.0.1:{_closed_port()}"
    )
    assert_refused(result, "--scheduler", "running Dask scheduler")
    assert time.perf_counter() - started < 5
    assert not any(tmp_path.iterdir())


def test_query_format_is_checked(store: ResultsStore) -> None:
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
    before = checksums(tmp_path)
    assert_refused(_validate(path), "s.toml", *fragments)
    assert checksums(tmp_path) == before


@pytest.mark.parametrize(
    ("levers", "fragment"),
    [
        ({"freight": {"rail_spurs": [SPUR]}}, "Nowhere yard"),
        ({"freight": {"capacity_expansions": [EXPANSION]}}, "Atlantis lock"),
        ({"urban": {"metro_km_added": {"gotham": {"2030": 20.0}}}}, "gotham"),
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
    line = assert_refused(_validate(path), "s.toml", fragment, "expected a")
    assert "," in line.split("expected", 1)[1]  # the valid names are listed


def test_three_bad_references_are_all_named_quickly(tmp_path: Path) -> None:
    levers = {
        "freight": {"rail_spurs": [SPUR], "capacity_expansions": [EXPANSION]},
        "urban": {"metro_km_added": {"gotham": {"2030": 20.0}}},
    }
    path = _write(tmp_path / "s.toml", {"name": "x", "extends": "baseline", "levers": levers})
    cli_in_process("validate", "baseline")  # imports and the first dataset read, as a fresh process has paid
    started = time.perf_counter()
    line = assert_refused(_validate(path), "3 problems", "Nowhere yard", "Atlantis lock", "gotham")
    assert time.perf_counter() - started < 3.0, line


def test_binary_scenario_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", bytes(range(256)) * 4)
    assert_refused(_validate(path), "s.toml", "UTF-8")


def test_latin1_scenario_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", 'name = "x"\ndescription = "Guangxi caf\xe9"\n'.encode("latin-1"))
    assert_refused(_validate(path), "s.toml", "UTF-8")


def test_extends_chain_1500_deep(tmp_path: Path) -> None:
    _write(tmp_path / "s0.toml", {"name": "s0", "extends": "baseline"})
    for i in range(1, 1500):
        _write(tmp_path / f"s{i}.toml", {"name": f"s{i}", "extends": f"s{i - 1}.toml"})
    assert_refused(_validate(tmp_path / "s1499.toml"), "extends", "at most")


def test_deeply_nested_toml(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", 'name = "x"\ndescription = ' + "[" * 5000 + "]" * 5000 + "\n")
    assert_refused(_validate(path), "s.toml")


def test_huge_scenario_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", 'name = "x"\n' + "# padding\n" * 200_000)
    assert_refused(_validate(path), "s.toml", "1 MB")


def test_scenario_path_is_a_folder_without_dataset(tmp_path: Path) -> None:
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
    before = checksums(dataset_copy)
    assert_refused(_validate(dataset_copy), *fragments)
    assert checksums(dataset_copy) == before


def test_distance_in_scientific_notation_is_read_whole(dataset_copy: Path) -> None:
    _osm_edit(dataset_copy, "distance=1.2e2")
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
    assert_refused(_validate(dataset_copy), "capacity_group", "Atlantis yard")


def test_binary_dataset_manifest(dataset_copy: Path) -> None:
    (dataset_copy / "dataset.toml").write_bytes(b"\xff\xfe\x00name = 1")
    assert_refused(_validate(dataset_copy), "dataset.toml", "UTF-8")


def test_binary_dataset_table(dataset_copy: Path) -> None:
    (dataset_copy / "freight" / "modes.csv").write_bytes(bytes(range(256)))
    assert_refused(_validate(dataset_copy), "modes.csv")


def test_every_shipped_scenario_passes_every_check() -> None:
    for name in ("baseline", "plan", "accelerated"):
        checked_inputs(name)
    assert cli_in_process("validate", str(SHIPPED_DATASET)).code == 0


# ----------------------------------------------------------------------------- 6. the store, faults, determinism
def test_damaged_run_folder_is_reported_by_name(store: ResultsStore) -> None:
    (store.runs_dir / "r1" / "targets.parquet").unlink()
    before = checksums(store.root)
    assert_refused(cli_in_process("query", "select 1", "--db", str(store.db_path)), "r1", "targets.parquet")
    assert checksums(store.root) == before


@pytest.mark.parametrize("content", [b"", b"garbage, not a database"])
def test_damaged_views_file_is_rebuilt(store: ResultsStore, content: bytes) -> None:
    store.db_path.write_bytes(content)
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
        before = checksums(store.root)
        result = cli_in_process("run", "baseline", "--end-year", "2022", "--db", str(store.db_path))
        assert_refused(result, "locked")
        assert checksums(store.root) == before  # no run stored that a retry would duplicate
    finally:
        holder.kill()
        holder.wait()


def test_full_disk_publishes_nothing_and_removes_staging(store: ResultsStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from runs.store import StagedRun

    def full(self: StagedRun, table: str, parquet: bytes, part: int = 0) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(self.folder / f"{table}.parquet"))

    monkeypatch.setattr(StagedRun, "write_encoded", full)
    result = cli_in_process("run", "baseline", "--end-year", "2022", "--no-charts", "--db", str(store.db_path))
    assert_refused(result, "No space left on device", "free disk space")
    assert sorted(p.name for p in store.runs_dir.iterdir() if not p.name.startswith("_")) == ["r1"]
    assert not any(store.staging_dir.glob("*"))


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
