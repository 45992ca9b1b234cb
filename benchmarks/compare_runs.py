"""Compare the latest run of each scenario in two results databases, table by table (a refactoring's check).

Run: python benchmarks/compare_runs.py DB_A DB_B   (e.g. /tmp/ref/results.duckdb /tmp/new/results.duckdb)

Each database keeps its runs as Parquet files beside it (`<db folder>/runs/<run_id>/<table>.parquet`, see
runs/store.py); these are read directly, so the databases need no lock. For every scenario in either database the
latest run (by `runs.started_at`) is taken, and every table of the two runs is compared after sorting the rows by
their non-float columns: float and integer columns by relative difference |a - b| / max(|a|, |b|) (0 where both are
0, both NaN or both null), text and boolean columns by equality (a mismatch counts as an infinite difference), with
the columns that name a run rather than its results left out: run_id, run_set, timestamps, code_version,
dataset_hash. A table with a different row count or columns, a table gone from B, or a scenario missing on one side,
counts as infinite; a table only B has (a new output) is listed and not compared.

Prints the largest relative difference per table (over all scenarios) and per scenario and table where it is not 0;
exits 1 if any exceeds TOLERANCE.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import polars as pl

TOLERANCE = 1e-12
PROVENANCE = frozenset({"run_id", "run_set", "code_version", "dataset_hash", "started_at", "finished_at"})


def latest_runs(db: Path) -> dict[str, Path]:
    """Folder of the latest run of each scenario stored beside the database `db`."""
    runs_dir = db.parent / "runs"
    found: dict[str, tuple[object, Path]] = {}
    for folder in sorted(runs_dir.glob("*/runs.parquet")):
        frame = pl.read_parquet(folder)
        if folder.parent.name.startswith("_") or frame.height == 0:  # _schema_vN: the empty typed tables
            continue
        row = frame.row(0, named=True)
        scenario, started = row["scenario"], row["started_at"]
        if scenario not in found or started > found[scenario][0]:  # type: ignore[operator]
            found[scenario] = (started, folder.parent)
    return {s: path for s, (_, path) in found.items()}


def _compared_columns(frame: pl.DataFrame) -> list[str]:
    return [c for c, t in frame.schema.items() if c not in PROVENANCE and not isinstance(t, pl.Datetime)]


def table_difference(a: pl.DataFrame, b: pl.DataFrame) -> float:
    """Largest relative difference between two result tables (inf if their shapes or text columns differ)."""
    cols = _compared_columns(a)
    if cols != _compared_columns(b) or a.height != b.height:
        return math.inf
    if a.height == 0:
        return 0.0
    keys = [c for c in cols if not a.schema[c].is_float()]
    if keys:
        a, b = a.sort(keys, maintain_order=True, nulls_last=True), b.sort(keys, maintain_order=True, nulls_last=True)
    worst = 0.0
    for col in cols:
        x, y = a[col], b[col]
        if x.dtype.is_numeric() and y.dtype.is_numeric():
            xs, ys = x.cast(pl.Float64).to_numpy(), y.cast(pl.Float64).to_numpy()
            for u, v in zip(xs.tolist(), ys.tolist(), strict=True):
                if u == v or (math.isnan(u) and math.isnan(v)):
                    continue
                if math.isnan(u) or math.isnan(v):
                    return math.inf
                worst = max(worst, abs(u - v) / max(abs(u), abs(v)))
        elif x.dtype != y.dtype or not x.equals(y, check_names=False):
            return math.inf
    return worst


NEW_TABLES: set[str] = set()  # tables only B has, filled by compare()


def compare(db_a: Path, db_b: Path) -> dict[str, dict[str, float]]:
    """{scenario: {table: largest relative difference}} between the latest runs of the two databases."""
    runs_a, runs_b = latest_runs(db_a), latest_runs(db_b)
    out: dict[str, dict[str, float]] = {}
    for scenario in sorted(set(runs_a) | set(runs_b)):
        if scenario not in runs_a or scenario not in runs_b:
            out[scenario] = {"(run missing on one side)": math.inf}
            continue
        tables = sorted(
            {p.stem for p in runs_a[scenario].glob("*.parquet")} | {p.stem for p in runs_b[scenario].glob("*.parquet")}
        )
        out[scenario] = {}
        for table in tables:
            pa, pb = runs_a[scenario] / f"{table}.parquet", runs_b[scenario] / f"{table}.parquet"
            if not pa.is_file() and pb.is_file():
                NEW_TABLES.add(table)
                continue
            if not pb.is_file():
                out[scenario][table] = math.inf
                continue
            out[scenario][table] = table_difference(pl.read_parquet(pa), pl.read_parquet(pb))
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.splitlines()[2], file=sys.stderr)
        return 2
    db_a, db_b = Path(argv[0]), Path(argv[1])
    for db in (db_a, db_b):
        if not (db.parent / "runs").is_dir():
            print(f"{db}: no runs folder beside it ({db.parent / 'runs'})", file=sys.stderr)
            return 2
    result = compare(db_a, db_b)
    per_table: dict[str, float] = {}
    for tables in result.values():
        for table, diff in tables.items():
            per_table[table] = max(per_table.get(table, 0.0), diff)
    print(f"latest run of each of {len(result)} scenarios: {', '.join(result)}")
    print(f"{'table':<28} max relative difference")
    for table, diff in sorted(per_table.items()):
        print(f"{table:<28} {diff:.3e}{'  > tolerance' if diff > TOLERANCE else ''}")
    for scenario, tables in result.items():
        for table, diff in tables.items():
            if diff > 0:
                print(f"  {scenario}: {table} {diff:.3e}")
    if NEW_TABLES:
        print(f"new in B, not compared: {', '.join(sorted(NEW_TABLES))}")
    worst = max(per_table.values(), default=0.0)
    print(f"worst {worst:.3e} ({'within' if worst <= TOLERANCE else 'OVER'} tolerance {TOLERANCE:g})")
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
