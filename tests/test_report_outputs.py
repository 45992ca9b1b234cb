"""What a department reads and an analyst types: the self-contained report, its verdict sentences and tables, the
terminal output (verdicts after run, compare, 80 columns, every DuckDB type in every query format), the Python API."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import polars as pl
import pytest

from runs.formatting import fmt_margin, fmt_value
from runs.report import hindcast_table, verdicts
from runs.scenario_diff import lever_changes
from runs.store import ResultsStore
from tests.conftest import SmallRun, run_cli
from transport import api
from transport.scenario import load_scenario

# one query over every kind of DuckDB type: nested, interval with months, exact decimals, blob, uuid, map, infinite
# date, non-finite float, json, enum, hugeint, bit, timestamps with and without zone
ALL_TYPES = (
    "select [1, 2] as l, {'a': 1, 'b': 'x,y'} as s, interval 14 month as i, "
    "12345678901234567890.123::decimal(38,3) as d, 'ab\\x00'::blob as b, "
    "'4b7a6d2e-1f0a-4c1e-9a53-0d1b2c3d4e5f'::uuid as u, map {'k': 1} as m, 'infinity'::date as dinf, "
    "'inf'::double as inf, '{\"j\": [1]}'::json as js, 'a'::enum('a', 'b') as en, "
    "170141183460469231731687303715884105727::hugeint as h, '101'::bit as bits, [[1], [2, 3]] as ll, "
    "timestamptz '2020-01-01 00:00:00+00' as tz, timestamp '2020-01-01 01:02:03.456' as ts, null as nothing"
)


def test_report_alone_in_an_empty_folder_references_nothing(small_run: SmallRun, tmp_path: Path) -> None:
    alone = tmp_path / "inbox"
    alone.mkdir()
    shutil.copy(small_run.db.parent / "report.html", alone / "report.html")
    text = (alone / "report.html").read_text(encoding="utf-8")
    sources = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]*)['"]""", text)
    assert sources and all(s.startswith("data:") for s in sources), [s[:40] for s in sources if "data:" not in s]
    # base64 payloads are left out: "http" turns up in them by chance (about 3 times in a 3 MB report)
    readable = re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", "data:", text)
    assert "http" not in readable.lower() and "url(" not in readable.replace("url(data:", "")
    assert text.count("data:image/png;base64,") >= 4  # the charts are inside
    assert (small_run.db.parent / "report.pdf").read_bytes().startswith(b"%PDF")


def test_report_tells_the_verdicts_first_with_units(small_run: SmallRun) -> None:
    text = (small_run.db.parent / "report.html").read_text(encoding="utf-8")
    body = re.sub(r"<[^>]+>", " ", text)
    first = body.index("Verdicts")
    assert first < body.index("What each scenario answers") < body.index("What each scenario changes")
    assert body.index("What each scenario changes") < body.index("Road oil and rail-sea")
    assert "what happened (2021-2025 as enacted)" in body and "plan - history = what plan adds" in body
    assert "万TEU" in body and " Mt " in body and "%/yr" in body
    assert "Rail-water (铁水联运) = rail-sea + rail-river" in body and "e-bikes are NOT counted" in body
    assert "Rail-water (rail-sea + rail-river, 铁水联运 as the plan words it) grows" in body
    assert "not evaluated (the run ends in 2025, before the target year 2030)" in body
    assert "True" not in body and not re.search(r"\d\.\d{6,}", body)  # no raw booleans or unformatted floats
    assert "sea shipping apart" in body.lower() or "sea apart" in body


def test_verdict_sentence_by_hand() -> None:
    runs = pl.DataFrame({"run_id": ["r"], "scenario": ["plan"], "end_year": [2035]})
    rows = [
        ("railsea_teu_cagr", 2025, 0.2, 0.15, True, 0.05, "1/yr", ""),
        ("green_trip_share.all_big_cities", 2030, 0.65, 0.7, False, -0.05, "share", "lowest: nanning"),
        ("green_trip_share_with_ebike.all_big_cities", 2030, 0.81, 0.7, True, 0.11, "share", "lowest: liuzhou"),
        ("road_oil_peak_year", 2027, 2027.0, 2030.0, True, 3.0, "year", "peak 11.000 Mt"),
        ("road_oil_peak_level", 2027, 11.0, None, None, None, "Mt", ""),
    ]
    names = ["target", "year", "value", "threshold", "met", "margin", "unit", "detail"]
    members = [0, 1, 2, 3]
    frame = pl.DataFrame(
        [dict(zip(names, r, strict=True)) | {"run_id": "r", "member": m} for r in rows for m in members]
    ).with_columns(
        # members 1..3: only member 3 misses the rail-sea target, so P(met) = 3/4
        pl.when((pl.col("member") == 3) & (pl.col("target") == "railsea_teu_cagr"))
        .then(False)
        .otherwise(pl.col("met"))
        .alias("met")
    )
    teu = pl.DataFrame({"run_id": "r", "member": 0, "year": [2020, 2025], "port": "qinzhou", "teu": [1e5, 2.5e5]})
    out = {v.target: v for v in verdicts(frame, runs, teu)}
    rail = out["railsea_teu_cagr"].sentence
    assert "20.0 %/yr" in rail and "10.0 万TEU to 25.0 万TEU" in rail and "15.0 %/yr: MET, +5.0 points" in rail
    assert "Met in 75% of 4 ensemble members" in rail
    green = out["green_trip_share.all_big_cities"].sentence
    assert "65.0 % (Nanning 南宁)" in green and "NOT MET, -5.0 points" in green and "would reach 81.0 %" in green
    oil = out["road_oil_peak_year"].sentence
    assert "peaks in 2027 at 11.00 Mt" in oil and "MET, 3 years early" in oil and "not ruled out" not in oil


def test_place_labels_come_from_the_dataset_cities() -> None:
    from runs.charts import place_label
    from transport.scenario import DATA_DIR, DEFAULT_DATASET
    from transport.urban import load_urban_data

    rows = list(
        csv.DictReader(
            line
            for line in (DATA_DIR / DEFAULT_DATASET / "cities" / "prefectures.csv").open()
            if not line.startswith("#")
        )
    )
    assert rows and all(place_label(r["city"]) == f"{r['city'].capitalize()} {r['name_zh']}" for r in rows)
    names = {r["city"]: r["name_zh"] for r in rows}
    urban = load_urban_data(DATA_DIR / DEFAULT_DATASET).cities
    assert all(place_label(c) == f"{c.capitalize()} {names[c]}" for c in urban)
    assert place_label("Nanning") == "Nanning 南宁" and place_label("QinzhouPort") == "QinzhouPort"


def test_hindcast_misses_are_misses() -> None:
    rows = pl.DataFrame(
        {
            "series": ["a", "b", "c", "d"],
            "year": [2021, 2022, 2022, 2020],
            "published": [100.0, 100.0, 7.56e5, 50.0],
            "modelled": [110.0, 150.0, 3.9e5, 50.0],
            "error": [0.10, 0.50, -0.484, 0.0],
            "in_sample": [False, False, False, True],
            "tolerance": [0.15, 0.30, None, 0.15],
            "within": [True, False, None, None],
            "unit": ["t", "t", "TEU", "t"],
            "definition_note": ["x", "y", "includes non-Beibu trains; definition differs", "z"],
        }
    )
    table, summary = hindcast_table(rows, 2020)
    status = dict(zip(table["series"], table["status"], strict=True))
    assert status == {
        "a": "within ±15%",
        "b": "MISS: outside ±30%",
        "c": "MISS by 48%, not tested: definition differs",
        "d": "in sample (fitted)",
    }
    assert summary.startswith("1 of 2 tested out-of-sample facts are within their tolerance; 1 tested facts miss.")
    assert "c 2022 (-48%)" in summary and table["published"][2] == "75.6 万TEU"


def test_formatting_by_hand() -> None:
    assert fmt_value(0.3148, "1/yr") == "31.5 %/yr"
    assert fmt_value(1_120_421, "TEU") == "112.0 万TEU"
    assert fmt_value(3.58e8, "t") == "358.0 Mt"
    assert fmt_value(2022.0, "year") == "2022"
    assert fmt_value(None, "share") == "n/a"
    assert fmt_margin(-0.006, "1/yr") == "-0.6 points"
    assert fmt_margin(-1.0, "year") == "1 year late"


def test_plan_changes_against_its_parent_name_levers_values_years() -> None:
    plan, _ = load_scenario("plan")
    history, _ = load_scenario("history")
    baseline, _ = load_scenario("baseline")
    rows = {r["lever"]: r for r in lever_changes(plan, history)}
    assert rows["freight.intermodal_subsidy_yuan_teu"] == {
        "lever": "freight.intermodal_subsidy_yuan_teu",
        "before": "2020: 0",
        "after": "2021: 0, 2022: 500, 2030: 300",
    }
    rules = rows["fleets.sales_rules"]
    # plan repeats history's bus rule: only the rules it adds are listed
    assert "segment sanitation, group nev, kind min, share 0.8, start 2025" in rules["after"]
    assert "segment bus" not in rules["after"] and rules["before"] == "-"
    assert "freight.truck_load_factor_gain" in rows
    assert lever_changes(baseline, None) == []  # the baseline is the defaults


def test_run_ends_with_the_verdicts_table(small_run: SmallRun) -> None:
    tail = small_run.result.stdout[small_run.result.stdout.index("Verdicts") :]
    for scenario in ("baseline", "plan", "accelerated"):
        assert scenario in tail
    assert "%/yr" in tail and "not evaluated" in tail and "oil peak <= 2030" in tail


def test_compare_prints_units_and_lever_differences(small_run: SmallRun) -> None:
    result = run_cli("compare", "baseline", "plan", "--db", str(small_run.db))
    assert result.code == 0, result.stderr
    out = result.stdout
    assert "%/yr" in out and "points" in out and " Mt" in out
    assert "freight.intermodal_subsidy_yuan_teu" in out and "2022: 500" in out


def _fits(text: str, width: int = 80) -> None:
    assert max(len(line) for line in text.splitlines()) <= width, text


def test_tables_fit_80_columns_without_cutting_digits(small_run: SmallRun) -> None:
    env_sql = "select run_id, year, sum(tkm_bn) as tkm_bn, sum(tonnes_mt) as tonnes_mt, 123456789.123456789 as big "
    env_sql += "from freight group by all order by all limit 5"
    full = ResultsStore(small_run.db).query_cells(env_sql)[2]
    result = _cli80("query", env_sql, "--db", str(small_run.db))
    _fits(result)
    for row in full:
        for cell in row[1:]:
            assert cell in result, cell  # every number whole on one line
    wide = _cli80("query", "select * from runs", "--db", str(small_run.db))
    _fits(wide)
    assert "scenario_hash" in wide and "…" not in wide
    _fits(_cli80("compare", "baseline", "accelerated", "--db", str(small_run.db)))


def _cli80(*args: str) -> str:
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "80"}
    proc = subprocess.run([sys.executable, "-m", "transport", *args], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_query_formats_handle_every_duckdb_type(small_run: SmallRun, fmt: str) -> None:
    result = run_cli("query", ALL_TYPES, "--format", fmt, "--db", str(small_run.db))
    assert result.code == 0, result.stderr
    out = result.stdout
    if fmt == "json":
        (row,) = json.loads(out)
        assert row["l"] == [1, 2] and row["s"] == {"a": 1, "b": "x,y"} and row["i"] == "1 year 2 months"
        assert row["m"] == {"k": 1} and row["dinf"] == "infinity" and row["inf"] == "inf" and row["js"] == {"j": [1]}
        assert row["h"] == 170141183460469231731687303715884105727 and row["nothing"] is None
        assert "12345678901234567890.123" in out  # every digit of the decimal
        assert row["ll"] == [[1], [2, 3]] and row["bits"] == "101"
    elif fmt == "csv":
        header, row = list(csv.reader(io.StringIO(out)))
        cells = dict(zip(header, row, strict=True))
        assert cells["l"] == "[1, 2]" and cells["i"] == "1 year 2 months" and cells["d"] == "12345678901234567890.123"
        assert cells["s"] == "{'a': 1, 'b': 'x,y'}" and cells["dinf"] == "infinity" and cells["nothing"] == ""
        assert cells["u"] == "4b7a6d2e-1f0a-4c1e-9a53-0d1b2c3d4e5f" and cells["b"] == "ab\\x00"
    else:
        for text in ("1 year 2 months", "12345678901234567890.123", "[[1], [2, 3]]", "infinity", "4b7a6d2e"):
            assert text in out.replace("\n", ""), text


def test_api_run_equals_the_stored_run_and_load_results_reads_it(small_run: SmallRun) -> None:
    stored = api.load_results(small_run.db, scenario="baseline")
    assert stored["runs"].height == 1 and set(stored["runs"]["scenario"]) == {"baseline"}
    assert stored["fleet"]["run_id"].n_unique() == 1
    fresh = api.run("baseline", end_year=2025)
    for table in ("energy", "railsea", "targets"):
        ours = fresh[table].sort(fresh[table].columns)
        theirs = stored[table].drop("run_id").select(ours.columns).sort(ours.columns)
        assert ours.height == theirs.height > 0, table
        for column, dtype in ours.schema.items():
            if dtype == pl.Float64:
                assert (ours[column] - theirs[column]).abs().max() <= 1e-9 * max(1.0, ours[column].abs().max())
            else:
                assert ours[column].to_list() == theirs[column].to_list(), (table, column)


def test_api_refuses_bad_input_with_one_line() -> None:
    from transport.errors import UserError

    with pytest.raises(UserError, match="end_year"):
        api.run("baseline", end_year=1999)
    with pytest.raises(UserError, match="results"):
        api.load_results("/nonexistent/results.duckdb")


def test_docs_are_in_the_repository_and_spell_out_levers() -> None:
    from tests.conftest import REPO

    docs = REPO / "docs"
    assert {p.name for p in docs.iterdir()} >= {"design.md", "scenarios.md", "levers.md", "api.md"}
    assert not (docs / "CONTRACT.md").exists() and not (docs / "HELPER_RULES.md").exists()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "../shared" not in readme
    for link in re.findall(r"`(docs/[a-z]+\.md)`", readme):
        assert (REPO / link).is_file(), link
    levers = (docs / "levers.md").read_text(encoding="utf-8")
    assert "see description" not in levers and "Annotated" not in levers and "typing." not in levers
    scenarios = (docs / "scenarios.md").read_text(encoding="utf-8")
    for name in ("baseline", "plan", "accelerated"):
        assert f"## `{name}`" in scenarios
    design = (docs / "design.md").read_text(encoding="utf-8")
    assert "STORAGE_VERSION" in design and "## Names" in design and "/work/" not in design


def test_report_has_the_freight_flow_map(small_run: SmallRun) -> None:
    """The plan run's land network with its tonnes per link (issue 17's flow map), drawn offline like the charts."""
    charts = small_run.db.parent / "charts"
    png = charts / "freight_flow_map.png"
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 50_000
    svg = (charts / "freight_flow_map.svg").read_text(encoding="utf-8")
    assert "inland water" in svg and "rail" in svg and "Mt/yr" in svg
    body = (small_run.db.parent / "report.html").read_text(encoding="utf-8")
    assert "Freight on the land network (plan), 2025" in body
