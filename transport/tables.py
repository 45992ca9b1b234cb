"""Reading and checking dataset tables (CSV and TOML) with errors that name file, field, value and expectation.

Every table of a dataset is declared once as a `TableSpec`; `read_table` loads it with polars and checks the
declaration, so each loader elsewhere states *what* a table must be, never *how* to check it.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl

from transport.errors import DatasetError

ColumnType = Literal["str", "int", "float"]
_POLARS_TYPE: dict[str, pl.DataType] = {"str": pl.Utf8(), "int": pl.Int64(), "float": pl.Float64()}


@dataclass(frozen=True)
class Column:
    """One column of a table: its type, unit (documentation only) and constraints."""

    name: str
    type: ColumnType = "float"
    unit: str = ""
    doc: str = ""
    min: float | None = None
    max: float | None = None
    allowed: frozenset[str] | None = None
    unique: bool = False  # every row holds a different value (an id other tables and the code refer to)


@dataclass(frozen=True)
class TableSpec:
    """A CSV table: its columns, the key that must be unique, and rows that must add up to one."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    doc: str = ""
    shares: tuple[str, tuple[str, ...]] | None = None  # (share column, group-by columns): sums to 1 per group
    optional_columns: frozenset[str] = field(default_factory=frozenset)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


SHARE_TOLERANCE = 1e-6


def read_table(path: Path, spec: TableSpec, allowed: Mapping[str, Iterable[str]] | None = None) -> pl.DataFrame:
    """Read a CSV file and check it against `spec`; `allowed` adds per-call category sets (e.g. known cities)."""
    if not path.is_file():
        raise DatasetError(path, "file", str(path), f"the table '{spec.name}' as a CSV file")
    try:
        raw = pl.read_csv(path, infer_schema=False, comment_prefix="#")
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise DatasetError(path, "csv", str(exc).splitlines()[0], "a comma-separated table with a header") from None
    except OSError as exc:
        raise DatasetError(path, "file", str(path), f"a readable file ({exc.strerror})") from None
    required = [c.name for c in spec.columns if c.name not in spec.optional_columns]
    for name in required:
        if name not in raw.columns:
            raise DatasetError(path, name, "missing column", f"columns {', '.join(required)}")
    if raw.height == 0:
        raise DatasetError(path, "rows", 0, "at least one data row")
    extra = allowed or {}
    columns: dict[str, pl.Series] = {}
    for col in spec.columns:
        if col.name not in raw.columns:
            continue
        columns[col.name] = _typed_column(path, raw, col, set(extra.get(col.name, ())) or None)
    df = pl.DataFrame(columns)
    for col in spec.columns:
        if col.unique and col.name in df.columns and df[col.name].n_unique() < df.height:
            dup = df[col.name].filter(df[col.name].is_duplicated())[0]
            raise DatasetError(path, col.name, dup, "a value on one row only (an id: unique)")
    if spec.key:
        dup = df.group_by(list(spec.key)).len().filter(pl.col("len") > 1)
        if dup.height:
            first = dup.row(0, named=True)
            value = ", ".join(f"{k}={first[k]}" for k in spec.key)
            raise DatasetError(path, "+".join(spec.key), value, "each key to appear on one row only (duplicate row)")
    if spec.shares is not None:
        check_shares_sum(df, spec.shares[0], spec.shares[1], path)
    return df


def _typed_column(path: Path, raw: pl.DataFrame, col: Column, extra_allowed: set[str] | None) -> pl.Series:
    text = raw[col.name]
    for i, cell in enumerate(text.to_list()):
        if cell is None or str(cell).strip() == "" or str(cell).strip().lower() in {"nan", "na", "null"}:
            raise DatasetError(
                path, f"{col.name} (row {i + 2})", cell if cell is not None else "", "a value, not empty/NaN"
            )
    if col.type == "str":
        series = text.str.strip_chars()
        allowed = col.allowed if col.allowed is not None else None
        if extra_allowed is not None:
            allowed = frozenset(extra_allowed) | (allowed or frozenset())
        if allowed is not None:
            for i, value in enumerate(series.to_list()):
                if value not in allowed:
                    raise DatasetError(path, f"{col.name} (row {i + 2})", value, f"one of {sorted(allowed)}")
        return series
    values: list[float | int] = []
    for i, cell in enumerate(text.to_list()):
        try:
            number: float | int = int(cell) if col.type == "int" else float(cell)
        except ValueError:
            raise DatasetError(path, f"{col.name} (row {i + 2})", cell, f"a number ({col.type})") from None
        if isinstance(number, float) and not math.isfinite(number):
            raise DatasetError(path, f"{col.name} (row {i + 2})", cell, "a finite number")
        _check_range(path, f"{col.name} (row {i + 2})", number, col)
        values.append(number)
    return pl.Series(col.name, values, dtype=_POLARS_TYPE[col.type])


def _check_range(where: Path, field_name: str, value: float, col: Column) -> None:
    if col.min is not None and value < col.min:
        raise DatasetError(where, field_name, value, f"a value >= {col.min}{' ' + col.unit if col.unit else ''}")
    if col.max is not None and value > col.max:
        raise DatasetError(where, field_name, value, f"a value <= {col.max}{' ' + col.unit if col.unit else ''}")


def check_shares_sum(df: pl.DataFrame, share_col: str, by: Sequence[str], where: Path | str) -> None:
    """Raise if the `share_col` values do not add up to 1 within each group of `by`."""
    sums = (
        df.group_by(list(by)).agg(pl.col(share_col).sum().alias("total"))
        if by
        else df.select(pl.col(share_col).sum().alias("total"))
    )
    bad = sums.filter((pl.col("total") - 1.0).abs() > SHARE_TOLERANCE)
    if bad.height:
        row = bad.row(0, named=True)
        group = ", ".join(f"{k}={row[k]}" for k in by) or "all rows"
        raise DatasetError(where, f"{share_col} ({group})", round(row["total"], 9), "shares that sum to 1")


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file; syntax errors become one-line user errors."""
    if not path.is_file():
        raise DatasetError(path, "file", str(path), "a TOML file")
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise DatasetError(path, "toml", str(exc), "valid TOML syntax") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(path, "encoding", f"byte {exc.start}", "a UTF-8 text file (TOML)") from None
    except RecursionError:
        raise DatasetError(path, "toml", "nested too deeply", "tables and arrays nested a few levels") from None
    except OSError as exc:
        raise DatasetError(path, "file", str(path), f"a readable file ({exc.strerror})") from None


def check_years(df: pl.DataFrame, column: str, first: int, last: int, where: Path | str) -> None:
    """Raise if any year in `column` is outside [first, last]."""
    bad = df.filter((pl.col(column) < first) | (pl.col(column) > last))
    if bad.height:
        raise DatasetError(where, column, bad[column][0], f"a year within the dataset's range {first}-{last}")


def label_series(name: str, labels: Sequence[str], codes: Any) -> pl.Series:
    """Text column `labels[codes]` for a result frame, gathered from the few labels by integer code: converting a
    numpy array of millions of strings to polars costs more than the rest of the frame."""
    return pl.Series(name, list(labels), dtype=pl.Utf8).gather(codes)
