"""Dataset table checks: every kind of bad cell is reported with file, field, value and expectation."""

from __future__ import annotations

from pathlib import Path

import hypothesis.strategies as st
import polars as pl
import pytest
from hypothesis import given, settings

from transport.errors import DatasetError
from transport.tables import Column, TableSpec, check_shares_sum, check_years, read_table, read_toml

SPEC = TableSpec(
    name="stock",
    columns=(
        Column("segment", "str", allowed=frozenset({"private_car", "bus"})),
        Column("powertrain", "str", allowed=frozenset({"gasoline", "bev"})),
        Column("year", "int", min=2000, max=2060),
        Column("stock_vehicles", "float", min=0),
        Column("share", "float", min=0, max=1),
    ),
    key=("segment", "powertrain", "year"),
    shares=("share", ("segment", "year")),
)

GOOD = """segment,powertrain,year,stock_vehicles,share
private_car,gasoline,2020,100,0.9
private_car,bev,2020,10,0.1
bus,bev,2020,5,1.0
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stock.csv"
    path.write_text(text)
    return path


def test_good_table_reads_with_types(tmp_path: Path) -> None:
    df = read_table(_write(tmp_path, GOOD), SPEC)
    assert df.schema["year"] == pl.Int64 and df.schema["stock_vehicles"] == pl.Float64
    assert df["stock_vehicles"].sum() == 115


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        (GOOD.replace("private_car,bev", "privat_car,bev"), "segment", "privat_car"),
        (GOOD.replace(",bev,2020,5", ",diesel,2020,5"), "powertrain", "diesel"),
        (GOOD.replace("2020,10,", "2020,-10,"), "stock_vehicles", "-10"),
        (GOOD.replace("2020,10,", "2020,,"), "stock_vehicles", ""),
        (GOOD.replace("2020,10,", "2020,NaN,"), "stock_vehicles", "NaN"),
        (GOOD.replace("2020,10,", "2020,ten,"), "stock_vehicles", "ten"),
        (GOOD.replace("0.1\n", "0.2\n"), "share", "1.1"),
        (GOOD + "bus,bev,2020,6,1.0\n", "segment+powertrain+year", "segment=bus"),
        (GOOD.replace(",share", ",shar"), "share", "missing column"),
        (GOOD.replace("bus,bev,2020", "bus,bev,2070"), "year", "2070"),
    ],
)
def test_bad_cells_name_file_field_value(tmp_path: Path, text: str, field: str, value: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(DatasetError) as info:
        read_table(path, SPEC)
    line = info.value.one_line()
    assert str(path) in line and field in line and value in line and "expected" in line
    assert "\n" not in line


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="file"):
        read_table(tmp_path / "nope.csv", SPEC)
    bad = tmp_path / "x.toml"
    bad.write_text("a = [1, 2\n")
    with pytest.raises(DatasetError, match="valid TOML"):
        read_toml(bad)


def test_years_outside_range(tmp_path: Path) -> None:
    df = pl.DataFrame({"year": [2020, 2065]})
    with pytest.raises(DatasetError, match="2065"):
        check_years(df, "year", 2020, 2060, tmp_path / "t.csv")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1, allow_nan=False), min_size=1, max_size=8))
def test_shares_check_accepts_exactly_the_normalised(values: list[float]) -> None:
    total = sum(values)
    df = pl.DataFrame({"g": ["a"] * len(values), "share": values})
    if abs(total - 1) <= 1e-6:
        check_shares_sum(df, "share", ["g"], "t.csv")
    else:
        with pytest.raises(DatasetError):
            check_shares_sum(df, "share", ["g"], "t.csv")
    if total > 1e-300:  # dividing by a subnormal total overflows to inf: no table is normalised that way
        normalised = df.with_columns(pl.col("share") / total)
        check_shares_sum(normalised, "share", ["g"], "t.csv")


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_any_text_in_a_number_cell_is_either_a_number_or_a_one_line_error(cell: str) -> None:
    import tempfile

    cell = cell.replace(",", ";").replace("\n", " ").replace("\r", " ").replace('"', "'")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stock.csv"
        path.write_text(GOOD.replace("2020,10,", f"2020,{cell},"), encoding="utf-8")
        try:
            df = read_table(path, SPEC)
        except DatasetError as exc:
            assert "\n" not in exc.one_line() and str(path) in exc.one_line()
        else:
            assert df["stock_vehicles"].min() >= 0
