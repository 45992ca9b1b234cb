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
from decimal import Decimal

from rich.console import Console
from rich.table import Table
from rich.text import Text

_NUMERIC = re.compile(
    r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|"
    r"DOUBLE|DECIMAL\(\d+,\d+\))$"
)
_NARROWEST_TEXT = 8  # a wrapped text column keeps at least this many characters a line
_LONGEST_WORD = 16  # longer words (paths, ids) may fold inside the word
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


def _json_text(value: object) -> str:
    # like json.dumps, but a Decimal is written as its exact digits
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_json_text(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def to_json(rows: Sequence[Sequence[str]]) -> str:
    """A JSON array of row objects from DuckDB's `to_json` of each row (decimals keep every digit). Non-finite
    floats, which JSON cannot hold, become the strings "inf", "-inf", "nan"."""
    objects = []
    for (text,) in rows:
        found: list[str] = []

        def constant(name: str, found: list[str] = found) -> str:
            found.append(name)
            return _NON_FINITE[name]

        parsed = json.loads(text, parse_constant=constant, parse_float=Decimal)
        objects.append(_json_text(parsed) if found else text)
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
    # a text column wraps between words, never inside one shorter than _LONGEST_WORD (a scenario name, a number)
    words = [
        min(_LONGEST_WORD, max((len(w) for r in cells for w in r[i].split()), default=1), widths[i])
        for i in range(len(columns))
    ]
    words = [max(w, _NARROWEST_TEXT) if widths[i] >= _NARROWEST_TEXT else widths[i] for i, w in enumerate(words)]
    # what the table needs at the least: number columns whole, text columns down to their longest word
    least = sum(w if n else word for w, word, n in zip(widths, words, numeric, strict=True))
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
    for name, is_number, width, word in zip(columns, numeric, widths, words, strict=True):
        if is_number:
            table.add_column(Text(name), justify="right", no_wrap=True, min_width=width)
        else:
            table.add_column(Text(name), overflow="fold", min_width=word)
    for row in cells:
        table.add_row(*[Text(c) for c in row])
    console.print(table)
