"""Terminal output of tables: query results as table, CSV or JSON, and tables that fit the terminal.

A table never cuts a cell: rich wraps text columns and keeps number columns whole; when even that cannot fit the
terminal (many columns), the rows are printed as records, one `column: value` line each.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

_NUMERIC = re.compile(
    r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|"
    r"DOUBLE|DECIMAL\(\d+,\d+\))$"
)
_NARROWEST_TEXT = 8  # a wrapped text column keeps at least this many characters a line
_NON_FINITE = {"Infinity": "inf", "-Infinity": "-inf", "NaN": "nan"}


def is_numeric(duckdb_type: str) -> bool:
    """Whether a DuckDB type name is a plain number (right-aligned, never wrapped)."""
    return bool(_NUMERIC.match(duckdb_type))


def to_csv(columns: Sequence[str], rows: Sequence[Sequence[str | None]]) -> str:
    """CSV with a header; cells are DuckDB's text of each value (nested values as DuckDB literals), null empty."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return buffer.getvalue()


def to_json(rows: Sequence[Sequence[str]]) -> str:
    """A JSON array of row objects from DuckDB's `to_json` of each row (decimals keep every digit). Non-finite
    floats, which JSON cannot hold, become the strings "inf", "-inf", "nan"."""
    objects = []
    for (text,) in rows:
        found: list[str] = []

        def constant(name: str, found: list[str] = found) -> str:
            found.append(name)
            return _NON_FINITE[name]

        parsed = json.loads(text, parse_constant=constant)
        objects.append(json.dumps(parsed, ensure_ascii=False) if found else text)
    return "[" + ",\n".join(objects) + "]\n"


def _width(cells: Sequence[str]) -> int:
    return max((max(len(line) for line in c.splitlines() or [""]) for c in cells), default=0)


def print_table(
    console: Console,
    columns: Sequence[str],
    rows: Sequence[Sequence[str | None]],
    numeric: Sequence[bool] | None = None,
    title: str | None = None,
) -> None:
    """Print rows as a table that fits the console: number columns whole and right-aligned, text wrapped; if that
    cannot fit, one record per row."""
    numeric = list(numeric) if numeric is not None else [False] * len(columns)
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(str(c)), _width([r[i] for r in cells])) for i, c in enumerate(columns)]
    # what the table needs at the least: number columns whole, text columns down to a few characters a line
    least = sum(w if n else min(w, _NARROWEST_TEXT) for w, n in zip(widths, numeric, strict=True))
    least += 3 * len(columns) + 1
    if least > console.width:
        if title:
            console.print(title, style="bold", markup=False)
        label = max((len(c) for c in columns), default=0)
        for i, row in enumerate(cells):
            console.print(f"-- row {i + 1}", style="dim", markup=False)
            for name, value in zip(columns, row, strict=True):
                console.print(f"{name:>{label}}: {value}", markup=False, overflow="fold", soft_wrap=False)
        return
    table = Table(title=Text(title) if title else None, title_justify="left")
    for name, is_number, width in zip(columns, numeric, widths, strict=True):
        if is_number:
            table.add_column(Text(name), justify="right", no_wrap=True, min_width=width)
        else:
            table.add_column(Text(name), overflow="fold")
    for row in cells:
        table.add_row(*[Text(c) for c in row])
    console.print(table)
