"""The results store: one folder of Parquet files per run, published atomically, and a DuckDB file of views.

Layout under the results root (the folder holding `results.duckdb`):

    results.duckdb          views only (fleet, energy, ..., road_oil, oil_peak); analysts open this
    results.duckdb.json     which schema and storage version the views were built with
    runs/<run_id>/*.parquet one file per table; the folder appears by a single rename, so a run is whole or absent
    runs/_schema_vN/*.parquet empty tables carrying the column types, so the views work before the first run
    .staging/<run_id>/      being written; never matched by the views; left-overs of killed runs are swept
    .write.lock             only one process writes at a time (advisory lock)

The sidecar `results.duckdb.json` is also how this code recognises a results database it made: a `--db` that exists
without it is someone else's file and is never opened for writing, replaced or created by a read.

Why not write into the DuckDB file: DuckDB lets one process open a file read-write and then nobody else can open it,
not even read-only. A run that wrote there would fail whenever an analyst had the file open, and would lock the
analyst out while it wrote. The run never opens results.duckdb for writing once it exists; it only renames a folder.

Any DuckDB opens it, anywhere: the views file is written in storage format `STORAGE_VERSION` (DuckDB's v1.0.0
format, storage number 64), which every DuckDB from 1.0 to 2.0 reads (tests/test_readme_sql.py opens it with the
oldest `duckdb-cli` on PyPI, 1.4.4), and the views name their Parquet files by paths relative to the results folder
(`runs/*/fleet.*parquet`). DuckDB resolves relative paths against `file_search_path`, else the working directory:
`connect` sets the search path to the results folder, and the stock CLI works when started in that folder
(`cd out && duckdb -readonly results.duckdb`). So a results folder that is copied, moved or zipped still opens.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import json
import os
import shutil
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import duckdb
import polars as pl

from runs.signals import signals_held
from transport.errors import QueryError, StoreError
from transport.result_tables import ANALYSIS_COLUMNS, RESULT_COLUMNS

# Raise it whenever TABLES gains a table: the views file is rebuilt only when its recorded version differs, so an
# existing store would otherwise have no view of the new table in results.duckdb (6: links, link_flows; 7: discovery,
# city_energy, city_road, link_flow_quantiles and the views city_oil, city_oil_peak).
SCHEMA_VERSION = 7
# Tables every run folder of every schema version holds; a run folder without one of them is damaged.
REQUIRED_IN_EVERY_RUN = ("runs", "fleet", "energy", "freight", "railsea", "urban", "targets")

# DuckDB storage format of the views file: the oldest that DuckDB's ATTACH can still write, read by DuckDB 1.0 - 2.0
STORAGE_VERSION = "v1.0.0"

TABLES: dict[str, dict[str, pl.DataType | type[pl.DataType]]] = {
    "runs": {
        "run_id": pl.Utf8,
        "run_set": pl.Utf8,
        "scenario": pl.Utf8,
        "description": pl.Utf8,
        "scenario_toml": pl.Utf8,
        "scenario_hash": pl.Utf8,
        "dataset": pl.Utf8,
        "dataset_hash": pl.Utf8,
        "code_version": pl.Utf8,
        "seed": pl.Int64,
        "members": pl.Int32,
        "freight_method": pl.Utf8,  # exact | emulated (then table freight_emulator holds its validation error)
        "base_year": pl.Int32,
        "end_year": pl.Int32,
        "started_at": pl.Datetime("us", "UTC"),
        "finished_at": pl.Datetime("us", "UTC"),
        "status": pl.Utf8,
    },
    **{name: {"run_id": pl.Utf8, **cols} for name, cols in {**RESULT_COLUMNS, **ANALYSIS_COLUMNS}.items()},
}

# Peak year of the road oil path: the year of the maximum of its centred 3-year moving average (ends use the
# available neighbours), which keeps a one-year wobble from moving the peak. transport.targets uses the same rule.
_VIEWS = {
    "road_oil": """
        select run_id, member, year, sum(oil_mt) as oil_mt
        from energy group by run_id, member, year""",
    "oil_peak": """
        with smooth as (
            select run_id, member, year, oil_mt,
                   avg(oil_mt) over (partition by run_id, member order by year
                                     rows between 1 preceding and 1 following) as oil_smooth_mt
            from road_oil)
        select run_id, member, arg_max(year, oil_smooth_mt) as peak_year, max(oil_smooth_mt) as peak_oil_mt
        from smooth group by run_id, member""",
    # road oil by prefecture city (table city_road: every member) and each city's peak by oil_peak's rule
    "city_oil": """
        select run_id, member, year, city, oil_mt from city_road""",
    "city_oil_peak": """
        with smooth as (
            select run_id, member, city, year, oil_mt,
                   avg(oil_mt) over (partition by run_id, member, city order by year
                                     rows between 1 preceding and 1 following) as oil_smooth_mt
            from city_oil)
        select run_id, member, city, arg_max(year, oil_smooth_mt) as peak_year, max(oil_smooth_mt) as peak_oil_mt
        from smooth group by run_id, member, city""",
    # probability of meeting each target: the share of members that meet it. A peak-year target has one row per
    # member whose `year` is that member's peak, so it is pooled over years (year null).
    "target_probability": """
        with per_member as (
            select run_id, target, count(*) = count(distinct member) and count(distinct year) > 1 as pooled
            from targets group by run_id, target)
        select t.run_id, t.target, case when p.pooled then null else t.year end as year,
               avg(case when t.met then 1.0 else 0.0 end) as probability, count(*) as members
        from targets t join per_member p using (run_id, target)
        where t.met is not null group by all""",
    # latest `transport run` per scenario (hindcast and seek runs have their own run sets and stay out)
    "latest_runs": """
        select * from runs where run_set not like 'hindcast-%' and run_set not like 'seek-%'
        qualify row_number() over (partition by scenario order by finished_at desc) = 1""",
}


def _sql_type(dtype: pl.DataType | type[pl.DataType]) -> str:
    names = {pl.Utf8: "VARCHAR", pl.Int32: "INTEGER", pl.Int64: "BIGINT", pl.Float64: "DOUBLE", pl.Boolean: "BOOLEAN"}
    for kind, name in names.items():
        if dtype == kind:
            return name
    return "TIMESTAMPTZ"


def _quote(text: str) -> str:
    return text.replace("'", "''")


def table_frame(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with exactly the contract's columns of `table`, in order and cast to their types."""
    schema = TABLES[table]
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise ValueError(f"table {table} lacks columns {missing}")
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()])


def encode_part(table: str, frame: pl.DataFrame, stamp: Mapping[str, str] | None = None) -> bytes:
    """One Parquet part of `table` as bytes: the frame plus the constant text columns in `stamp` (run_id), in the
    contract's columns. Chunks encode in their own process, so the single writing process only writes bytes."""
    if stamp:
        frame = frame.with_columns([pl.lit(value).alias(name) for name, value in stamp.items()])
    buffer = io.BytesIO()
    # lz4: half the encoding time of zstd for files ~8 % larger (measured on a 2000-member chunk)
    table_frame(table, frame).write_parquet(buffer, compression="lz4", statistics=True)
    return buffer.getvalue()


class ResultsStore:
    """Reader and writer of the results under one root folder."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.root = db_path.parent
        self.runs_dir = self.root / "runs"
        self.staging_dir = self.root / ".staging"
        self._session: duckdb.DuckDBPyConnection | None = None  # the connection of `reading()`, while it lasts

    # ---------------------------------------------------------------- writing
    @contextlib.contextmanager
    def writer(self) -> Iterator[None]:
        """Hold the single-writer lock for the duration of a set of runs."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            lock = (self.root / ".write.lock").open("w")
        except OSError as exc:
            raise StoreError(
                self.root, "results folder", str(self.root), f"a writable folder ({exc.strerror})"
            ) from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise StoreError(
                self.root / ".write.lock",
                "lock",
                "held by another run",
                "one writing process at a time; wait for the other `transport run` to finish",
            ) from None
        try:
            try:
                self._sweep_staging()
                self._ensure_schema()
            except OSError as exc:
                raise storage_error(exc, self.root) from None
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()

    def _sweep_staging(self) -> None:
        # Under the write lock nobody else is staging, so anything here is a killed run's left-over.
        if self.staging_dir.is_dir():
            shutil.rmtree(self.staging_dir, ignore_errors=True)

    def _ensure_schema(self) -> None:
        # one empty-tables folder per schema version: a newer version adds its tables beside the older folders
        schema_name = f"_schema_v{SCHEMA_VERSION}"
        if not (self.runs_dir / schema_name).is_dir():
            self._publish(schema_name, {t: pl.DataFrame(schema=cols) for t, cols in TABLES.items()})
        self._ensure_views()

    @property
    def meta_path(self) -> Path:
        return self.db_path.with_name(self.db_path.name + ".json")

    def _meta(self) -> dict | None:
        try:
            meta = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return meta if isinstance(meta, dict) and "schema_version" in meta else None

    def made_here(self) -> bool:
        """Whether `db_path` is a results database made by this code (its sidecar says so)."""
        return self._meta() is not None

    def check_target(self) -> None:
        """Before a run: `--db` is a results database made here or does not exist yet, in a folder that exists or
        can be made and that this process can write. Raises StoreError; changes nothing."""
        db = self.db_path
        if db.is_dir():
            raise StoreError(db, "--db", str(db), "a results database file path, not a folder")
        if db.exists() and not self.made_here():
            raise StoreError(
                db,
                "--db",
                str(db),
                f"a results database made by `transport run` (this file has no {self.meta_path.name} beside it, so "
                "it is someone else's and was left untouched) or a path that does not exist yet",
            )
        check_writable_folder(self.root, "--db folder")

    def check_readable(self) -> None:
        """Before a read (query, report, compare, export): the database exists and was made here. Creates nothing."""
        db = self.db_path
        if db.is_dir():
            raise StoreError(db, "--db", str(db), "a results database file, not a folder")
        if not db.exists():
            raise StoreError(db, "database", str(db), "a results database; run `transport run` first")
        if not self.made_here():
            raise StoreError(
                db, "--db", str(db), f"a results database made by `transport run` (no {self.meta_path.name} beside it)"
            )

    def _ensure_views(self, force: bool = False) -> None:
        """(Re)build the views file when it is missing or was built by another schema or storage version."""
        meta_path = self.meta_path
        wanted = {"schema_version": SCHEMA_VERSION, "storage_version": STORAGE_VERSION, "paths": "relative"}
        current = self._meta()
        if current == wanted and self.db_path.is_file() and not force:
            return
        # Build the views file under a temporary name and rename it into place: an analyst who holds the old file
        # open keeps reading the old inode; nobody ever sees a half-built file.
        tmp = self.db_path.with_name(f".{self.db_path.name}.{os.getpid()}.tmp")
        leftovers = (tmp, tmp.with_name(tmp.name + ".wal"))
        try:
            tmp.unlink(missing_ok=True)
            con = duckdb.connect(":memory:")
            try:
                # the views are bound once at creation: relative paths must resolve against the results folder here
                con.execute("set file_search_path = ?", [str(self.root.resolve())])
                con.execute(f"attach '{_quote(tmp.as_posix())}' as views (storage_version '{STORAGE_VERSION}')")
                con.execute("use views")
                self._create_views(con, self.runs_dir.name)
                con.execute("use memory")
                con.execute("detach views")
            finally:
                con.close()
            os.replace(tmp, self.db_path)
        except BaseException as exc:
            # a full disk fails DuckDB's checkpoint: no half-written views file (nor its WAL) is left behind
            for path in leftovers:
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
            if isinstance(exc, duckdb.Error):
                raise _duckdb_os_error(exc, self.db_path) from None
            raise
        meta_path.write_text(json.dumps(wanted), encoding="utf-8")

    def _create_views(self, con: duckdb.DuckDBPyConnection, runs_prefix: str) -> None:
        """One view per table over every run's Parquet parts, then the derived views. `runs_prefix`: the runs
        folder's name (relative to the results folder) in the analysts' file, its absolute path in the query sandbox."""
        for table in TABLES:
            pattern = f"{_quote(runs_prefix)}/*/{table}.*parquet"
            if any(self.runs_dir.glob(f"*/{table}.parquet")):
                con.execute(f"create view {table} as select * from read_parquet('{pattern}', union_by_name=true)")
            else:  # a table newer than every stored run (read-only upgrade): empty, with its columns
                columns = ", ".join(f"cast(null as {_sql_type(t)}) as {c}" for c, t in TABLES[table].items())
                con.execute(f"create view {table} as select {columns} where false")
        for name, sql in _VIEWS.items():
            con.execute(f"create view {name} as {sql}")

    def write_run(self, run_id: str, tables: Mapping[str, pl.DataFrame]) -> Path:
        """Write all tables of one run to Parquet in staging, then publish them with one rename."""
        with self.stage(run_id) as staged:  # a failed write removes the staging folder
            for table, frame in tables.items():
                staged.write(table, frame)
            return staged.publish()

    def _publish(self, run_id: str, frames: Mapping[str, pl.DataFrame]) -> Path:
        return self.write_run(run_id, frames)

    def stage(self, run_id: str) -> StagedRun:
        """A run being written part by part (one part per chunk of members); invisible until `publish`. As a
        context manager it removes the staging folder when the block fails (and names a storage failure)."""
        try:
            return StagedRun(self, run_id)
        except OSError as exc:
            raise storage_error(exc, self.staging_dir) from None

    def publish_sealed(self, run_id: str) -> Path:
        """Make a sealed staged run (StagedRun.seal, maybe by another process) visible with one rename."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        final = self.runs_dir / run_id
        os.rename(self.staging_dir / run_id, final)
        return final

    def check_run_folders(self) -> None:
        """Raise StoreError naming the first published run folder that lacks one of REQUIRED_IN_EVERY_RUN (a damaged
        run would otherwise read as a run with no rows in that table)."""
        if not self.runs_dir.is_dir():
            return
        for folder in sorted(self.runs_dir.iterdir()):
            if folder.name.startswith("_schema_v") or not folder.is_dir():
                continue
            missing = [t for t in REQUIRED_IN_EVERY_RUN if not (folder / f"{t}.parquet").is_file()]
            if missing:
                raise StoreError(
                    folder,
                    "run folder",
                    f"missing {', '.join(f'{t}.parquet' for t in missing)}",
                    "every table of a published run; restore the files or remove the damaged run folder",
                )

    # ---------------------------------------------------------------- reading
    def connect(self) -> duckdb.DuckDBPyConnection:
        """A sandboxed read-only connection to the views (see `sandbox`); raises StoreError if there are no results
        yet, the file is not a results database made here, or a run folder is damaged.

        Views written by an older version of this code are rebuilt first (results written by a run stay as they are;
        a table the older version did not have reads as empty), so an upgrade never needs a new run to query; a views
        file that is no longer a DuckDB file (truncated, overwritten) is rebuilt the same way."""
        self.check_readable()
        self.check_run_folders()
        if any(self.runs_dir.glob("_schema_v*")):
            with contextlib.suppress(OSError, duckdb.Error):
                self._ensure_views()
        rebuilt = False
        for attempt in range(20):
            try:
                con = duckdb.connect(str(self.db_path), read_only=True, config=_SANDBOX_CONFIG)
            except duckdb.ConnectionException as exc:  # this process holds it open with other settings
                raise StoreError(
                    self.db_path, "database", "open", f"a database this process has not opened otherwise ({exc})"
                ) from None
            except duckdb.IOException as exc:
                if "not a valid DuckDB database" in str(exc) and not rebuilt and any(self.runs_dir.glob("_schema_v*")):
                    rebuilt = True
                    try:
                        self._ensure_views(force=True)
                    except (OSError, duckdb.Error) as build:
                        raise StoreError(
                            self.db_path, "database", "damaged", f"a views file that can be rebuilt ({build})"
                        ) from None
                    continue
                if "not a valid DuckDB database" in str(exc):
                    raise StoreError(self.db_path, "database", "damaged", "a DuckDB results database") from None
                # Another process has the file open read-write (an analyst's session); wait a moment and retry.
                if attempt == 19:
                    raise StoreError(
                        self.db_path,
                        "database",
                        "locked",
                        f"a database no other process holds open read-write ({str(exc).splitlines()[0]})",
                    ) from None
                time.sleep(0.25)
                continue
            con.close()
            # The file opened: it is a views database no one holds read-write. Queries run on an in-memory copy of
            # its views over absolute paths: DuckDB checks `allowed_directories` against a relative path resolved
            # from the working directory, not from `file_search_path`, so the file's relative views (there so the
            # folder can move) cannot be read inside the sandbox.
            memory = duckdb.connect(":memory:", config=_SANDBOX_CONFIG)
            self._create_views(memory, self.runs_dir.resolve().as_posix())
            sandbox(memory, self.runs_dir)
            return memory
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Queries inside the block share one connection (opened and checked once: a report runs ~20 queries, and
        opening one, with its views, cost more than most of them)."""
        if self._session is not None:
            yield
            return
        self._session = self.connect()
        try:
            yield
        finally:
            self._session.close()
            self._session = None

    def query(self, sql: str) -> pl.DataFrame:
        """Run read-only SQL (SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN of those) and return the result.

        Two locks, either enough on its own for what it covers: the statement check refuses anything but reads
        (inside EXPLAIN too), and the connection (`sandbox`) cannot touch a file outside the store's run folders,
        load an extension or change a setting."""
        check_read_only(sql)
        con = self._session or self.connect()
        try:
            relation = con.sql(sql)
            return relation.pl() if relation is not None else pl.DataFrame()
        except duckdb.Error as exc:
            raise QueryError("query", "sql", sql, f"valid read-only SQL ({str(exc).splitlines()[0]})") from None
        finally:
            if con is not self._session:
                con.close()

    def query_cells(self, sql: str, as_json: bool = False) -> tuple[list[str], list[str], list[tuple]]:
        """Run read-only SQL and return (columns, DuckDB type names, rows) with every value rendered by DuckDB
        itself, so every type comes out whole (lists, structs, maps, intervals in months, decimals to the last
        digit, blobs, infinite dates...): as text (`cast(... as varchar)`, None for null), or with `as_json` one
        JSON object text per row (`to_json`)."""
        check_read_only(sql)
        con = self.connect()
        try:
            relation = con.sql(sql)
            if relation is None:
                return [], [], []
            columns, types = list(relation.columns), [str(t) for t in relation.types]
            render = "select to_json(t) from t" if as_json else "select cast(columns(*) as varchar) from t"
            rendered = relation.query("t", render)
            return columns, types, rendered.fetchall() if rendered is not None else []
        except duckdb.Error as exc:
            raise QueryError("query", "sql", sql, f"valid read-only SQL ({str(exc).splitlines()[0]})") from None
        finally:
            con.close()


# Extensions never load (not even the ones DuckDB would fetch on first use) and nothing spills to a temp folder.
_SANDBOX_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "temp_directory": "",
}


def sandbox(con: duckdb.DuckDBPyConnection, runs_dir: Path) -> None:
    """Confine a connection with DuckDB's own controls: files only under `runs_dir` (what the views read), no other
    external access, and the configuration locked so a statement cannot undo it. DuckDB applies
    `allowed_directories` only while external access is still on, hence the order."""
    folder = runs_dir.resolve().as_posix().rstrip("/") + "/"
    con.execute(f"set allowed_directories = ['{folder.replace(chr(39), chr(39) * 2)}']")
    con.execute("set enable_external_access = false")
    con.execute("set lock_configuration = true")


def check_writable_folder(folder: Path, what: str) -> None:
    """Raise StoreError unless `folder` is a writable folder or can be made (its nearest existing ancestor is a
    writable folder). Creates nothing."""
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise StoreError(folder, what, str(probe), "a folder (this path is a file)")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise StoreError(folder, what, str(probe), "a folder this user can write")


def storage_error(exc: OSError, where: Path | str) -> StoreError:
    """One line for an operating-system failure while writing results (full disk, read-only or immutable store)."""
    target = exc.filename or where
    expected = _STORAGE_HINTS.get(exc.errno or 0, "a writable results store")
    return StoreError(target, "write", exc.strerror or str(exc), expected)


def _duckdb_os_error(exc: duckdb.Error, path: Path) -> OSError:
    """DuckDB's failure to write `path` as an OSError (DuckDB reports a full disk as an IO Error naming the
    operating system's reason: the reason's errno is recovered, so `storage_error` gives the same hint)."""
    text = str(exc)
    for code in _STORAGE_HINTS:
        if os.strerror(code) in text:
            return OSError(code, os.strerror(code), str(path))
    return OSError(errno.EIO, text.splitlines()[0] if text else type(exc).__name__, str(path))


_STORAGE_HINTS = {
    errno.ENOSPC: "free disk space (no space left on device), or choose another --db",
    errno.EDQUOT: "free disk space (disk quota exceeded), or choose another --db",
    errno.EROFS: "a writable file system (this one is mounted read-only); choose another --db",
    errno.EACCES: "a folder this user can write; choose another --db",
    errno.EPERM: "a folder whose files may be changed (immutable or not permitted); choose another --db",
}


def write_file(path: Path, data: bytes) -> None:
    """Write one Parquet part of a run: the one place a run's rows reach the disk (tests fail it here). A failed
    write names its file (the OSError of a write, unlike an open's, carries no file name)."""
    try:
        path.write_bytes(data)
    except OSError as exc:
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise


class StagedRun:
    """Parquet parts of one run in `.staging/<run_id>/`: part 0 of a table is `<table>.parquet`, part k
    `<table>.part-<k>.parquet` (the views read `<table>.*parquet`). Memory stays bounded by one chunk."""

    def __init__(self, store: ResultsStore, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self.folder = store.staging_dir / run_id
        self.folder.mkdir(parents=True, exist_ok=False)
        self.written: set[str] = set()

    def write(self, table: str, frame: pl.DataFrame, part: int = 0) -> None:
        """Write one part of a table (part numbers are the chunk indices, so file names do not depend on timing)."""
        if table not in TABLES:
            raise ValueError(f"unknown result table {table}")
        self.write_encoded(table, encode_part(table, frame), part)

    def write_encoded(self, table: str, parquet: bytes, part: int = 0) -> None:
        """Write one part already encoded by `encode_part`."""
        if table not in TABLES:
            raise ValueError(f"unknown result table {table}")
        name = f"{table}.parquet" if part == 0 else f"{table}.part-{part:05d}.parquet"
        write_file(self.folder / name, parquet)
        self.written.add(table)

    def discard(self) -> None:
        """Remove the staging folder of a run that failed or was interrupted (nothing of it is ever visible); a
        second Ctrl-C, which users press while the first unwinds, is held off until the folder is gone."""
        with signals_held():
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> StagedRun:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        if exc is None:
            return
        self.discard()
        if isinstance(exc, OSError) and (exc.errno in _STORAGE_HINTS or exc.filename):
            raise storage_error(exc, self.folder) from None

    def seal(self) -> None:
        """Add empty files for tables the run did not write and flush: the run is ready to publish."""
        for table in set(TABLES) - self.written:
            self.write(table, pl.DataFrame(schema=TABLES[table]))
        for path in self.folder.iterdir():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())

    def publish(self) -> Path:
        """Seal the run and make it visible with one rename."""
        self.seal()
        return self.store.publish_sealed(self.run_id)


def _statements(sql: str) -> list[duckdb.Statement]:
    try:
        return duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError("query", "sql", sql, f"valid SQL ({str(exc).splitlines()[0]})") from None


def _kind(statement: duckdb.Statement) -> str:
    try:
        return statement.type.name
    except ValueError:  # a statement type newer than the Python API's enum (UPDATE EXTENSIONS): not a read
        return "an unknown statement type"


def _explained(sql: str) -> str:
    """The statement inside `EXPLAIN [ANALYZE] [(options)] <statement>` (EXPLAIN ANALYZE executes it)."""
    tokens = [(pos, kind) for pos, kind in duckdb.tokenize(sql) if kind != duckdb.token_type.comment]
    ends = [p for p, _ in tokens[1:]] + [len(sql)]
    words = [(pos, sql[pos:end].strip().lower()) for (pos, _), end in zip(tokens, ends, strict=True)]
    i = 1  # words[0] is EXPLAIN
    if i < len(words) and words[i][1] == "analyze":
        i += 1
    if i < len(words) and words[i][1] == "(":
        depth = 0
        while i < len(words):
            depth += words[i][1].count("(") - words[i][1].count(")")
            i += 1
            if depth <= 0:
                break
    return sql[words[i][0] :] if i < len(words) else ""


def check_read_only(sql: str) -> None:
    """Refuse SQL that would write, attach, load, set or copy: every statement must be a SELECT (DESCRIBE, SHOW,
    SUMMARIZE and FROM are SELECTs to DuckDB), or an EXPLAIN [ANALYZE] of one; EXPLAIN ANALYZE runs its statement, so
    the statement inside is checked the same way."""
    statements = _statements(sql)
    if not statements:
        raise QueryError("query", "sql", sql, "one or more SQL statements")
    for statement in statements:
        kind = _kind(statement)
        text = statement.query.strip()
        if kind == "EXPLAIN":
            inner = _statements(_explained(text))
            kinds = [_kind(s) for s in inner]
            if kinds != ["SELECT"]:
                shown = ", ".join(kinds) or "nothing"
                raise QueryError("query", "sql", text, f"a read-only statement, not EXPLAIN of {shown}")
        elif kind != "SELECT":
            raise QueryError("query", "sql", text, f"a read-only statement, not {kind}")
