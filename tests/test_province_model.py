"""The coupled province model: a networks lever reaches the fleets' diesel; charts and the report render."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from runs import charts
from runs.execute import RunRequest, execute, prepare
from runs.report import headline_values, write_report
from runs.store import ResultsStore
from transport.model import simulate
from transport.scenario import sample_parameters


@pytest.fixture(scope="module")
def baseline_prepared():
    return prepare(RunRequest("baseline", end_year=2032))


def _diesel_2032(scenario, dataset) -> float:
    params = sample_parameters(scenario, 1, 1)
    tables = simulate(scenario, dataset, params, np.arange(2020, 2033), 1)
    energy = tables["energy"].filter((pl.col("year") == 2032) & (pl.col("fuel") == "diesel"))
    return float(energy["energy_pj"].sum())


def test_truck_load_factor_lever_in_freight_lowers_fleet_diesel(baseline_prepared) -> None:
    scenario, _, dataset = baseline_prepared
    freight = scenario.levers.freight.model_copy(update={"truck_load_factor_gain": {2020: 0.0, 2030: 0.15}})
    changed = scenario.model_copy(update={"levers": scenario.levers.model_copy(update={"freight": freight})})
    assert _diesel_2032(changed, dataset) < _diesel_2032(scenario, dataset) * 0.99


def test_chart_specs_carry_fields_titles_and_units() -> None:
    oil = pl.DataFrame({"scenario": ["a"] * 3, "member": [0] * 3, "year": [2020, 2021, 2022], "oil_mt": [1.0, 2, 1]})
    peaks = pl.DataFrame({"scenario": ["a"], "peak_year": [2021], "peak_oil_mt": [1.5]})
    spec = charts.road_oil_chart(oil, peaks).to_dict()
    text = str(spec)
    assert "oil_mt" in text and "peak_year" in text and "Mt per year" in text
    assert spec["title"]["text"].startswith("Road oil") and "Source" in str(spec["title"]["subtitle"])
    share = pl.DataFrame({"scenario": ["a"], "city": ["nanning"], "year": [2030], "share": [0.5]})
    spec = charts.green_share_chart(share).to_dict()
    assert "南宁" in str(spec) and "0.7" in str(spec)


def test_report_renders_and_compare_reads_headlines(tmp_path: Path, baseline_prepared) -> None:
    store = ResultsStore(tmp_path / "results.duckdb")
    with store.writer():
        run_id = execute(RunRequest("baseline", end_year=2032), store, "set", baseline_prepared)
    report = write_report(store, tmp_path, [run_id])
    html = report.read_text(encoding="utf-8")
    assert "Verdicts" in html and "road_oil_peak_year" in html and "Road oil use (gasoline + diesel) peaks in" in html
    for name in ("road_oil", "railsea_teu", "fleet_stock", "freight_tkm"):
        assert (tmp_path / "charts" / f"{name}.png").stat().st_size > 10_000
        assert (tmp_path / "charts" / f"{name}.svg").is_file()
    assert html.count("data:image/png;base64,") >= 6 and "charts/" not in html.replace("<code>", "")
    table = headline_values(store, "baseline", "baseline")
    assert table["b_minus_a"].to_list() == [0.0] * table.height and table.height >= 3
