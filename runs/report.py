"""The HTML report of a set of runs: scenario table, target verdicts, charts, assumptions with sources."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from runs import charts
from runs.store import ResultsStore
from transport.errors import StoreError

_HEADLINE_TARGETS = {
    "railsea_teu_cagr": "Rail-sea TEU growth 2020-2025 (target >= 15 %/yr)",
    "green_trip_share.all_big_cities": "Green-trip share 2030, lowest big city (target >= 70 %)",
    "road_oil_peak_year": "Road oil peak year (target <= 2030)",
}


def _run_list(store: ResultsStore, run_ids: Sequence[str] | None) -> pl.DataFrame:
    if run_ids:
        quoted = ", ".join(f"'{r}'" for r in run_ids)
        runs = store.query(f"select * from runs where run_id in ({quoted}) order by started_at")
    else:
        runs = store.query("select * from latest_runs order by started_at")
    if runs.height == 0:
        raise StoreError(store.db_path, "runs", 0, "at least one stored run; run `transport run` first")
    return runs


def _frame(store: ResultsStore, sql: str, runs: pl.DataFrame) -> pl.DataFrame:
    ids = ", ".join(f"'{r}'" for r in runs["run_id"].to_list())
    frame = store.query(sql.format(ids=ids))
    return frame.join(runs.select("run_id", "scenario"), on="run_id") if "run_id" in frame.columns else frame


def headline_table(targets: pl.DataFrame, runs: pl.DataFrame) -> pl.DataFrame:
    """One row per scenario with the three headline numbers of the central member (value and verdict)."""
    central = targets.filter(pl.col("member") == 0).join(runs.select("run_id", "scenario"), on="run_id")
    rows = []
    for scenario in runs["scenario"].to_list():
        sub = central.filter(pl.col("scenario") == scenario)
        row: dict[str, object] = {"scenario": scenario}
        for target, label in _HEADLINE_TARGETS.items():
            hit = sub.filter(pl.col("target") == target)
            if hit.height == 0:
                row[label] = "n/a"
                continue
            r = hit.row(0, named=True)
            value = f"{int(r['value'])}" if r["unit"] == "year" else f"{100 * r['value']:.1f} %"
            met = targets.filter((pl.col("run_id") == r["run_id"]) & (pl.col("target") == target))["met"]
            prob = float(met.cast(pl.Float64).to_numpy().mean())
            verdict = "met" if r["met"] else "not met"
            if targets.filter(pl.col("run_id") == r["run_id"])["member"].n_unique() > 1:
                verdict += f"; P(met) = {prob:.0%}"
            row[label] = f"{value} ({verdict})"
        rows.append(row)
    return pl.DataFrame(rows)


def headline_rows(store: ResultsStore, run_id: str) -> list[tuple[str, str]]:
    """The headline targets of one stored run (central member) as (label, 'value (verdict)')."""
    runs = store.query(f"select * from runs where run_id = '{run_id}'")
    targets = store.query(f"select * from targets where run_id = '{run_id}'")
    row = headline_table(targets, runs).row(0, named=True)
    return [(label, str(row[label])) for label in _HEADLINE_TARGETS.values()]


def _html_table(frame: pl.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
        for row in frame.iter_rows()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_report(store: ResultsStore, out: Path, run_ids: Sequence[str] | None) -> Path:
    """Charts (SVG + PNG) and report.html for the given runs (default: the latest run of each scenario)."""
    runs = _run_list(store, run_ids)
    fig_dir = out / "charts"
    oil = _frame(store, "select * from road_oil where run_id in ({ids})", runs)
    peaks = _frame(store, "select * from oil_peak where run_id in ({ids}) and member = 0", runs)
    railsea = _frame(store, "select * from railsea where run_id in ({ids})", runs)
    urban = _frame(store, "select * from urban where run_id in ({ids}) and member = 0", runs)
    fleet = _frame(store, "select * from fleet where run_id in ({ids}) and member = 0", runs)
    freight = _frame(store, "select * from freight where run_id in ({ids}) and member = 0", runs)
    targets = _frame(store, "select * from targets where run_id in ({ids})", runs)
    lmdi = _frame(
        store,
        "select run_id, period, effect, sum(oil_mt) as oil_mt from lmdi where run_id in ({ids}) "
        "and member = 0 group by all",
        runs,
    )
    figures: list[tuple[str, str]] = []

    def add(name: str, caption: str, build: object) -> None:
        charts.export(build, fig_dir, name)  # type: ignore[arg-type]
        figures.append((name, caption))

    if oil.height:
        add("road_oil", "Road oil use and its peak", charts.road_oil_chart(oil, peaks))
    if railsea.height:
        add("railsea_teu", "Rail-sea containers vs the 15 % path", charts.railsea_chart(railsea))
    big = targets.filter(
        pl.col("target").str.starts_with("green_trip_share.")
        & (pl.col("member") == 0)
        & ~pl.col("target").str.ends_with("all_big_cities")
    )
    if urban.height and big.height:
        cities = big["detail"].unique().to_list()
        green = urban.filter(pl.col("mode").is_in(["walk", "bicycle", "bus", "metro"]) & pl.col("city").is_in(cities))
        share = green.group_by("scenario", "city", "year").agg(pl.col("share").sum())
        add("green_trip_share", "Green-trip share by city in 2030", charts.green_share_chart(share))
    if fleet.height:
        add("fleet_stock", "Vehicle stock by powertrain", charts.fleet_chart(fleet))
        add("fleet_sales", "Vehicle sales by powertrain", charts.sales_chart(fleet))
    if freight.height:
        add("freight_tkm", "Freight turnover by mode", charts.freight_chart(freight))
    if lmdi.height:
        start = oil.filter(pl.col("member") == 0).join(
            pl.DataFrame({"period": ["2020-2030", "2030-2060"], "year": [2020, 2030]}), on="year"
        )
        add(
            "lmdi_road_oil",
            "LMDI decomposition of road oil change",
            charts.lmdi_chart(lmdi, start.select("scenario", "period", "oil_mt")),
        )

    members = _frame(store, "select * from oil_peak where run_id in ({ids})", runs)
    if members["member"].n_unique() > 1:
        add("oil_peak_year", "Road oil peak year over the ensemble", charts.peak_year_chart(members))
    sensitivity = _frame(store, "select * from sensitivity where run_id in ({ids})", runs)
    if sensitivity.height:
        add("sensitivity", "Global sensitivity of the headline targets", charts.sensitivity_chart(sensitivity))
    probability = _frame(
        store, "select * from target_probability where run_id in ({ids}) and members > 1 order by target, year", runs
    )

    hindcast = store.query(
        "select * from hindcast where run_id = (select run_id from runs where run_set like 'hindcast-%' "
        "order by finished_at desc limit 1) order by series, year"
    )
    if hindcast.filter(pl.col("modelled").is_not_null()).height:
        add("hindcast", "Hindcast: modelled vs published (transport validate-history)", charts.hindcast_chart(hindcast))

    scenario_table = runs.select(
        "scenario",
        "description",
        "run_id",
        "members",
        "seed",
        "end_year",
        "code_version",
        pl.col("scenario_hash").str.slice(0, 12),
        pl.col("dataset_hash").str.slice(0, 12),
    )
    verdicts = (
        targets.filter(pl.col("member") == 0)
        .select(
            "scenario",
            "target",
            "year",
            pl.col("value").round(4),
            "threshold",
            "met",
            pl.col("margin").round(4),
            "unit",
            "detail",
        )
        .sort("scenario", "target", "year")
    )
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Guangxi transport model report</title>",
        "<style>body{font-family:'Noto Sans CJK TC',sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;font-size:12px;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px}"
        "th{background:#f3f3f3}figure{margin:1.5em 0}img{max-width:100%}</style></head><body>",
        "<h1>Guangxi transport modal-shift and fleet-electrification model</h1>",
        "<h2>Headline targets (central member)</h2>",
        _html_table(headline_table(targets, runs)),
        "<h2>Scenarios and runs</h2>",
        _html_table(scenario_table),
    ]
    for name, caption in figures:
        parts.append(
            f"<figure><img src='charts/{name}.svg' alt='{html.escape(caption)}'>"
            f"<figcaption>{html.escape(caption)} (<a href='charts/{name}.png'>PNG</a>)</figcaption></figure>"
        )
    if probability.height:
        parts += [
            "<h2>Probability of meeting each target (share of ensemble members)</h2>",
            _html_table(
                probability.pivot(on="scenario", index=["target", "year"], values="probability").sort("target", "year")
            ),
        ]
    seek = store.query(
        "select s.*, r.scenario from seek s join runs r using (run_id) where run_id = (select run_id from runs "
        "where run_set like 'seek-%' order by finished_at desc limit 1) order by kind, target, lever"
    )
    if seek.height:
        parts += [
            f"<h2>What it takes (latest <code>transport seek</code>, scenario {html.escape(seek['scenario'][0])})</h2>",
            "<p>Single-lever rows: the least change of one lever (ramped to its value in 2030) that meets the target "
            "alone, or why not. Combined rows: those settings together, verified by one coupled run.</p>",
            _html_table(
                seek.select("kind", "target", "lever", "base_value", "value", "reachable", "objective", "detail")
            ),
        ]
    if hindcast.height:
        parts += [
            "<h2>Hindcast errors (latest <code>transport validate-history</code>)</h2>",
            _html_table(
                hindcast.select(
                    "series",
                    "year",
                    "published",
                    pl.col("modelled").round(1),
                    (pl.col("error") * 100).round(1).alias("error_pct"),
                    "in_sample",
                    "tolerance",
                    "within",
                    "unit",
                )
            ),
        ]
    parts += [
        "<h2>All target values and verdicts (central member)</h2>",
        _html_table(verdicts),
        "<h2>Assumptions and sources</h2>",
        "<p>Every dataset table, its units, sources (with URLs) and assumptions (value and range) are documented "
        "in <code>transport/data/guangxi/README.md</code> and its domain READMEs; the levers of each scenario "
        "in <code>docs/levers.md</code>; each run's full scenario is stored in <code>runs.scenario_toml</code>."
        "</p></body></html>",
    ]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.html"
    tmp = out / ".report.html.tmp"
    tmp.write_text("\n".join(parts), encoding="utf-8")
    tmp.replace(path)
    return path


def headline_values(store: ResultsStore, scenario_a: str, scenario_b: str) -> pl.DataFrame:
    """Headline target values (central member) of the latest run of two scenarios, and B - A."""
    runs = store.query("select run_id, scenario from latest_runs")
    ids = {}
    for name in (scenario_a, scenario_b):
        hit = runs.filter(pl.col("scenario") == name)
        if hit.height == 0:
            raise StoreError(
                store.db_path, "scenario", name, f"a scenario with a stored run ({', '.join(runs['scenario'])})"
            )
        ids[name] = hit["run_id"][0]
    wanted = ", ".join(f"'{t}'" for t in [*_HEADLINE_TARGETS, "road_oil_peak_level"])
    values = {}
    for name, run_id in ids.items():
        rows = store.query(
            f"select target, value from targets where run_id = '{run_id}' and member = 0 and target in ({wanted})"
        )
        values[name] = dict(zip(rows["target"].to_list(), rows["value"].to_list(), strict=True))
    targets = [
        t for t in [*_HEADLINE_TARGETS, "road_oil_peak_level"] if t in values[scenario_a] or t in values[scenario_b]
    ]
    a = [values[scenario_a].get(t) for t in targets]
    b = [values[scenario_b].get(t) for t in targets]
    diff = [None if x is None or y is None else y - x for x, y in zip(a, b, strict=True)]
    return pl.DataFrame(
        {"target": targets, "a": a, "b": b, "b_minus_a": diff},
        schema={"target": pl.Utf8, "a": pl.Float64, "b": pl.Float64, "b_minus_a": pl.Float64},
    )
