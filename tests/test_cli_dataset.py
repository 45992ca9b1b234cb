"""`transport validate DATASET` on broken copies of the shipped dataset: one line, exit code 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import assert_user_error, run_cli

CAR_ROW = "private_car,gasoline,1,0.975,0.88,130,"
NANNING_WALK = "nanning,walk,0.22,"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture row not found in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_shipped_dataset_is_valid(dataset_copy: Path) -> None:
    result = run_cli("validate", str(dataset_copy))
    assert result.code == 0, result.stderr


@pytest.mark.parametrize(
    ("table", "old", "new", "fragments"),
    [
        ("fleets/powertrains.csv", CAR_ROW, "privte_car,gasoline,1,0.975,0.88,130,", ("segment", "privte_car")),
        ("fleets/powertrains.csv", CAR_ROW, "private_car,kerosene,1,0.975,0.88,130,", ("powertrain", "kerosene")),
        ("fleets/powertrains.csv", CAR_ROW, "private_car,gasoline,1,-0.975,0.88,130,", ("stock_share_2020", "-0.975")),
        ("fleets/powertrains.csv", CAR_ROW, "private_car,gasoline,1,,0.88,130,", ("stock_share_2020", "value")),
        ("fleets/powertrains.csv", CAR_ROW, "private_car,gasoline,1,NaN,0.88,130,", ("stock_share_2020", "NaN")),
        ("urban/base_shares.csv", NANNING_WALK, "nanjing,walk,0.22,", ("city", "nanjing")),
        ("urban/base_shares.csv", NANNING_WALK, "nanning,walk,0.32,", ("share", "sum to 1")),
        ("urban/base_shares.csv", "city,mode,share", "city,mode,shares", ("share", "missing column")),
        ("urban/base_shares.csv", NANNING_WALK, "nanning,bicycle,0.22,", ("city+mode", "duplicate")),
        # two ways with one link_id: the code finds ways by id, so the second would move with the first
        (
            "freight/trunk_network.osm",
            'v="qinzhou_port_road"',
            'v="g75_nanning_qinzhou"',
            ("link_id", "g75_nanning_qinzhou", "one way per id"),
        ),
    ],
)
def test_broken_tables_are_named(
    dataset_copy: Path, table: str, old: str, new: str, fragments: tuple[str, ...]
) -> None:
    _edit(dataset_copy / table, old, new)
    assert_user_error(run_cli("validate", str(dataset_copy)), table.split("/")[1], *fragments)
