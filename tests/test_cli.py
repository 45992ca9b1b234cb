"""The command line as a user meets it: every user error is one line on stderr, exit code 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import tomli_w

from tests.conftest import assert_user_error, run_cli


def _scenario(tmp_path: Path, data: dict, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(tomli_w.dumps(data))
    return path


def test_scenarios_lists_the_shipped_three() -> None:
    result = run_cli("scenarios")
    assert result.code == 0
    names = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert names[:4] == ["baseline", "history", "plan", "accelerated"]


def test_unknown_scenario_name() -> None:
    assert_user_error(run_cli("run", "nosuchscenario", "--no-charts"), "nosuchscenario", "shipped scenario")


def test_missing_scenario_file(tmp_path: Path) -> None:
    assert_user_error(run_cli("validate", str(tmp_path / "missing.toml")), "missing.toml", "file")


def test_toml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\n[years\nend = 2040\n')
    assert_user_error(run_cli("validate", str(path)), "broken.toml", "toml", "valid TOML")


def test_unknown_key(tmp_path: Path) -> None:
    path = _scenario(tmp_path, {"name": "x", "extends": "baseline", "levers": {"fleets": {"warp_drive": 1}}})
    assert_user_error(run_cli("validate", str(path)), "levers.fleets.warp_drive", "known key")


def test_wrong_type(tmp_path: Path) -> None:
    path = _scenario(tmp_path, {"name": "x", "years": {"end": "later"}})
    assert_user_error(run_cli("validate", str(path)), "years.end", "later")


def test_value_out_of_range(tmp_path: Path) -> None:
    path = _scenario(tmp_path, {"name": "x", "years": {"end": 2200}})
    assert_user_error(run_cli("validate", str(path)), "years.end", "2200")


def test_circular_extends(tmp_path: Path) -> None:
    _scenario(tmp_path, {"name": "a", "extends": "b.toml"}, "a.toml")
    _scenario(tmp_path, {"name": "b", "extends": "a.toml"}, "b.toml")
    assert_user_error(run_cli("validate", str(tmp_path / "a.toml")), "extends", "a -> b -> a")


def test_end_year_outside_dataset_range(tmp_path: Path) -> None:
    assert_user_error(
        run_cli("run", "baseline", "--end-year", "2075", "--db", str(tmp_path / "r.duckdb")),
        "--end-year",
        "2075",
        "2021-2060",
    )
    assert not (tmp_path / "r.duckdb").exists(), "nothing may be written for a user error"


def test_query_that_writes_is_refused(tmp_path: Path) -> None:
    assert_user_error(run_cli("query", "drop view fleet", "--db", str(tmp_path / "r.duckdb")), "read-only")


def test_query_without_results(tmp_path: Path) -> None:
    assert_user_error(
        run_cli("query", "select 1", "--db", str(tmp_path / "none.duckdb")), "none.duckdb", "transport run"
    )
