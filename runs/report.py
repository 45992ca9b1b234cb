"""The report of a set of runs, top first: the verdicts in sentences, what each scenario changes, the charts, the
land-freight modal shift, the hindcast with its misses, every target value, and where the assumptions are.

One self-contained `report.html` (charts as inline PNG, the CJK font subset inline, no link to any file or site),
laid out for A4 print, and the same document as `report.pdf` (WeasyPrint: no browser). The chart files (SVG, PNG)
are written beside it for slides.
"""

from __future__ import annotations

import base64
import contextlib
import html
from collections.abc import Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from runs import charts
from runs.formatting import fmt_margin, fmt_number, fmt_share, fmt_value
from runs.scenario_diff import DEFAULTS, lever_changes, scenario_from_toml, shipped_parent
from runs.store import ResultsStore
from transport.analysis.discovery import MAX_PARAMETERS, MISSED_SHARE
from transport.cities import load_prefectures
from transport.errors import StoreError
from transport.levers import UNCERTAIN
from transport.scenario import DATA_DIR, DEFAULT_DATASET, Scenario, load_scenario
from transport.targets import (
    BIG_CITY_RESIDENTS,
    GREEN_SHARE_THRESHOLD,
    GREEN_SHARE_YEAR,
    OIL_PEAK_DEADLINE,
    RAILSEA_GROWTH_THRESHOLD,
    RAILSEA_PERIOD,
)
from transport.urban.names import GREEN_MODES

if TYPE_CHECKING:
    import altair as alt

RAILSEA = "railsea_teu_cagr"
RAIL_WATER = "rail_water_teu_cagr"
GREEN = "green_trip_share.all_big_cities"
GREEN_EBIKE = "green_trip_share_with_ebike.all_big_cities"
OIL = "road_oil_peak_year"
OIL_LEVEL = "road_oil_peak_level"

_HEADLINE_TARGETS = {
    RAILSEA: f"Rail-sea TEU growth {RAILSEA_PERIOD[0]}-{RAILSEA_PERIOD[1]} (target >= 15 %/yr)",
    GREEN: f"Green-trip share {GREEN_SHARE_YEAR}, lowest big city (target >= 70 %)",
    OIL: f"Road oil peak year (target <= {OIL_PEAK_DEADLINE})",
}
DEFINITIONS = {
    RAILSEA: "Measure: rail-sea containers (海铁联运), moved between rail and ship at the Beibu Gulf ports "
    "(Qinzhou, Fangchenggang, Beihai). The plan words its target for rail-water containers (集装箱铁水联运), which "
    "adds rail-river transfers at inland ports (Nanning, Guigang, Wuzhou...): Rail-water (铁水联运) = rail-sea + "
    "rail-river is reported beside it with its own growth (targets rail_water_teu_*). The headline verdict is on "
    "rail-sea, the part the Beibu Gulf port group counts and publishes.",
    GREEN: f"Green trips: {', '.join(GREEN_MODES)} (Ministry of Transport definition); e-bikes are NOT counted as "
    f"green. Cities: every city with >= {BIG_CITY_RESIDENTS / 1e6:.0f} million urban residents in "
    f"{GREEN_SHARE_YEAR}; the verdict is the lowest of them.",
    OIL: "Road oil: gasoline + diesel of road vehicles; peak year = year of the maximum of the centred 3-year "
    f"moving average; met when it is {OIL_PEAK_DEADLINE} or earlier and the path is not still rising at the horizon.",
}
# An indicative fact (no tolerance: its definition differs from the model's) further off than this is shown as a miss
INDICATIVE_MISS = 0.25


@dataclass(frozen=True)
class Verdict:
    """One headline target of one run, in words and in numbers."""

    scenario: str
    target: str
    sentence: str
    value: str
    met: bool | None
    probability: float | None
    members: int


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


def _central(targets: pl.DataFrame, run_id: str, target: str) -> dict | None:
    hit = targets.filter((pl.col("run_id") == run_id) & (pl.col("target") == target) & (pl.col("member") == 0))
    return hit.row(0, named=True) if hit.height else None


def _probability(targets: pl.DataFrame, run_id: str, target: str) -> tuple[float | None, int]:
    met = targets.filter((pl.col("run_id") == run_id) & (pl.col("target") == target))["met"].drop_nulls()
    members = met.len()
    return (float(met.cast(pl.Float64).mean()) if members else None), members  # type: ignore[arg-type]


def _verdict_word(met: bool | None) -> str:
    return {True: "MET", False: "NOT MET", None: "not evaluated"}[met]


def _odds(probability: float | None, members: int) -> str:
    if probability is None or members <= 1:
        return ""
    return f" Met in {probability:.0%} of {members:,d} ensemble members."


def verdicts(targets: pl.DataFrame, runs: pl.DataFrame, railsea: pl.DataFrame) -> list[Verdict]:
    """The three headline verdicts of each run as sentences: value, threshold, margin, probability, definition.

    targets: stored `targets` rows of the runs; runs: their `runs` rows; railsea: `railsea` rows (for the TEU)."""
    out: list[Verdict] = []
    for run in runs.iter_rows(named=True):
        run_id, name, end = run["run_id"], run["scenario"], run["end_year"]
        row = _central(targets, run_id, RAILSEA)
        prob, members = _probability(targets, run_id, RAILSEA)
        if row is None:
            text = (
                f"Rail-sea containers: not evaluated (the run ends in {end}, the target period is "
                f"{RAILSEA_PERIOD[0]}-{RAILSEA_PERIOD[1]})."
            )
            out.append(Verdict(name, RAILSEA, text, "n/a", None, None, members))
        else:
            teu = railsea.filter((pl.col("run_id") == run_id) & (pl.col("member") == 0))
            by_year = dict(teu.group_by("year").agg(pl.col("teu").sum()).iter_rows())
            t0, t1 = by_year.get(RAILSEA_PERIOD[0]), by_year.get(RAILSEA_PERIOD[1])
            text = (
                f"Rail-sea containers grow {fmt_value(row['value'], '1/yr')} over {RAILSEA_PERIOD[0]}-"
                f"{RAILSEA_PERIOD[1]} ({fmt_value(t0, 'TEU')} to {fmt_value(t1, 'TEU')}) against the target of "
                f"{fmt_value(RAILSEA_GROWTH_THRESHOLD, '1/yr')}: {_verdict_word(row['met'])}, "
                f"{fmt_margin(row['margin'], '1/yr')}.{_odds(prob, members)}"
            )
            water = _central(targets, run_id, RAIL_WATER)
            if water is not None:
                text += (
                    " Rail-water (rail-sea + rail-river, 铁水联运 as the plan words it) grows "
                    f"{fmt_value(water['value'], '1/yr')}: {_verdict_word(water['met']).lower()}, "
                    f"{fmt_margin(water['margin'], '1/yr')}."
                )
            out.append(Verdict(name, RAILSEA, text, fmt_value(row["value"], "1/yr"), row["met"], prob, members))

        row = _central(targets, run_id, GREEN)
        prob, members = _probability(targets, run_id, GREEN)
        if row is None:
            text = f"Green trips: not evaluated (the run ends in {end}, before the target year {GREEN_SHARE_YEAR})."
            out.append(Verdict(name, GREEN, text, "n/a", None, None, members))
        else:
            city = charts.place_label(str(row["detail"]).removeprefix("lowest: "))
            with_ebike = _central(targets, run_id, GREEN_EBIKE)
            ebike = ""
            if with_ebike is not None:
                ebike = (
                    " Counting e-bikes as green, the lowest city would reach "
                    f"{fmt_value(with_ebike['value'], 'share')} ({_verdict_word(with_ebike['met']).lower()}); "
                    "the verdict does not count them."
                )
            text = (
                f"Green trips: the lowest share among the big cities in {GREEN_SHARE_YEAR} is "
                f"{fmt_value(row['value'], 'share')} ({city}) against the target of "
                f"{fmt_value(GREEN_SHARE_THRESHOLD, 'share')}: {_verdict_word(row['met'])}, "
                f"{fmt_margin(row['margin'], 'share')}.{_odds(prob, members)}{ebike}"
            )
            out.append(Verdict(name, GREEN, text, fmt_value(row["value"], "share"), row["met"], prob, members))

        row = _central(targets, run_id, OIL)
        level = _central(targets, run_id, OIL_LEVEL)
        prob, members = _probability(targets, run_id, OIL)
        if row is None:
            out.append(Verdict(name, OIL, "Road oil: not evaluated (no energy results).", "n/a", None, None, members))
            continue
        year = int(row["value"])
        rising = "still rising" in str(row["detail"])
        if rising:
            text = (
                f"Road oil use is still rising in {end}, the last simulated year (no peak yet; deadline "
                f"{OIL_PEAK_DEADLINE}): NOT MET."
            )
        else:
            text = (
                f"Road oil use (gasoline + diesel) peaks in {year} at "
                f"{fmt_value(level['value'] if level else None, 'Mt')} a year against the deadline "
                f"{OIL_PEAK_DEADLINE}: {_verdict_word(row['met'])}, {fmt_margin(row['margin'], 'year')}."
            )
            if end <= OIL_PEAK_DEADLINE:
                text += f" The run ends in {end}, so a later, higher peak before {OIL_PEAK_DEADLINE} is not ruled out."
        text += _odds(prob, members)
        out.append(Verdict(name, OIL, text, str(year), row["met"], prob, members))
    return out


def headline_table(targets: pl.DataFrame, runs: pl.DataFrame) -> pl.DataFrame:
    """One row per scenario with the three headline numbers of the central member (value and verdict)."""
    rows = []
    for run in runs.iter_rows(named=True):
        row: dict[str, object] = {"scenario": run["scenario"]}
        for target, label in _HEADLINE_TARGETS.items():
            hit = _central(targets, run["run_id"], target)
            if hit is None:
                row[label] = "not evaluated"
                continue
            prob, members = _probability(targets, run["run_id"], target)
            verdict = _verdict_word(hit["met"]).lower()
            if members > 1 and prob is not None:
                verdict += f"; P(met) = {prob:.0%}"
            row[label] = f"{fmt_value(hit['value'], hit['unit'])} ({verdict})"
        rows.append(row)
    return pl.DataFrame(rows)


_SHORT = {
    RAILSEA: f"rail-sea growth {RAILSEA_PERIOD[0]}-{RAILSEA_PERIOD[1] % 100:02d} >= 15 %/yr",
    RAIL_WATER: f"rail-water growth {RAILSEA_PERIOD[0]}-{RAILSEA_PERIOD[1] % 100:02d} >= 15 %/yr",
    GREEN: f"green trips {GREEN_SHARE_YEAR} >= 70 %",
    OIL: f"oil peak <= {OIL_PEAK_DEADLINE}",
}


def verdict_rows(store: ResultsStore, run_ids: Sequence[str]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The headline verdicts of stored runs for the terminal: columns and rows of scenario, target (with its
    threshold), value, verdict, margin, P(met)."""
    runs = _run_list(store, run_ids)
    targets = _frame(store, "select * from targets where run_id in ({ids})", runs)
    rows = []
    for run in runs.iter_rows(named=True):
        for target, label in _SHORT.items():
            hit = _central(targets, run["run_id"], target)
            prob, members = _probability(targets, run["run_id"], target)
            if hit is None:
                rows.append((run["scenario"], label, "n/a", "not evaluated", f"run ends {run['end_year']}", "-"))
                continue
            rising = "still rising" in str(hit["detail"])
            rows.append(
                (
                    run["scenario"],
                    label,
                    fmt_value(hit["value"], hit["unit"]),
                    _verdict_word(hit["met"]).lower(),
                    f"still rising in {run['end_year']}" if rising else fmt_margin(hit["margin"], hit["unit"]),
                    f"{prob:.0%}" if prob is not None and members > 1 else "-",
                )
            )
    return ["scenario", "target", "value", "verdict", "margin", "P(met)"], rows


def headline_rows(store: ResultsStore, run_id: str) -> list[tuple[str, str]]:
    """The headline targets of one stored run (central member) as (label, 'value (verdict)')."""
    runs = store.query(f"select * from runs where run_id = '{run_id}'")
    targets = store.query(f"select * from targets where run_id = '{run_id}'")
    row = headline_table(targets, runs).row(0, named=True)
    return [(label, str(row[label])) for label in _HEADLINE_TARGETS.values()]


def _scenario_of(run: dict) -> Scenario:
    return scenario_from_toml(run["scenario_toml"], f"runs.scenario_toml of {run['run_id']}")


def scenario_changes(runs: pl.DataFrame) -> pl.DataFrame:
    """What each run's scenario changes against its parent (the run of the parent in `runs` if there is one, else
    the shipped parent scenario, else the lever defaults): scenario, against, lever, before, after."""
    stored = {r["scenario"]: _scenario_of(r) for r in runs.iter_rows(named=True)}
    rows = []
    for name, scenario in stored.items():
        parent_name = shipped_parent(name)
        parent: Scenario | None = None
        if parent_name is not None:
            parent = stored.get(parent_name) or load_scenario(parent_name)[0]
        against = parent_name or DEFAULTS
        changes = lever_changes(scenario, parent)
        if not changes:
            rows.append({"scenario": name, "against": against, "lever": "(none)", "before": "", "after": ""})
        rows += [{"scenario": name, "against": against, **c} for c in changes]
    return pl.DataFrame(rows, schema=dict.fromkeys(["scenario", "against", "lever", "before", "after"], pl.Utf8))


def scenario_questions(runs: pl.DataFrame) -> pl.DataFrame:
    """Which question each run's scenario answers: its parent and its description, and how to read the pair (the
    differences with the parent are what the scenario adds; `history` is what happened)."""
    rows = []
    for run in runs.iter_rows(named=True):
        parent = shipped_parent(run["scenario"]) or "-"
        reading = {
            "baseline": "the counterfactual: 2020 policies frozen",
            "history": "what happened (2021-2025 as enacted); history - baseline = what those measures did",
        }.get(run["scenario"], f"{run['scenario']} - {parent} = what {run['scenario']} adds" if parent != "-" else "")
        rows.append(
            {"scenario": run["scenario"], "extends": parent, "answers": reading, "description": run["description"]}
        )
    return pl.DataFrame(rows, schema=dict.fromkeys(["scenario", "extends", "answers", "description"], pl.Utf8))


# targets of each prefecture's road-oil peak year and level (transport.model.city_peak_targets)
CITY_PEAK, CITY_PEAK_LEVEL = "road_oil_peak_year.", "road_oil_peak_level."


def city_peak_table(targets: pl.DataFrame, runs: pl.DataFrame) -> pl.DataFrame:
    """One row per prefecture city: per scenario its central road-oil peak year and level, and with an ensemble the
    share of members whose peak comes by 2030 (empty without city targets)."""
    city_rows = targets.filter(
        pl.col("target").str.starts_with(CITY_PEAK) | pl.col("target").str.starts_with(CITY_PEAK_LEVEL)
    )
    if city_rows.height == 0:
        return pl.DataFrame()
    city_rows = city_rows.join(runs.select("run_id", "scenario"), on="run_id").with_columns(
        pl.col("target").str.split(".").list.get(1).alias("city"),
        pl.col("target").str.split(".").list.get(0).alias("what"),
    )
    columns = []
    for scenario in runs["scenario"].to_list():
        mine = city_rows.filter(pl.col("scenario") == scenario)
        year = mine.filter((pl.col("what") == "road_oil_peak_year") & (pl.col("member") == 0)).select(
            "city", pl.col("value").cast(pl.Int32).cast(pl.Utf8).alias(f"{scenario}: peak year")
        )
        level = mine.filter((pl.col("what") == "road_oil_peak_level") & (pl.col("member") == 0)).select(
            "city",
            pl.col("value").map_elements(lambda v: f"{v:.2f}", return_dtype=pl.Utf8).alias(f"{scenario}: peak Mt"),
        )
        frame = year.join(level, on="city")
        peaked = mine.filter(pl.col("what") == "road_oil_peak_year")
        if peaked["member"].n_unique() > 1:
            share = peaked.group_by("city").agg(pl.col("met").cast(pl.Float64).mean().alias("p"))
            frame = frame.join(
                share.select(
                    "city",
                    pl.col("p").map_elements(fmt_share, return_dtype=pl.Utf8).alias(f"{scenario}: P(peak <= 2030)"),
                ),
                on="city",
            )
        columns.append(frame)
    table = columns[0]
    for frame in columns[1:]:
        table = table.join(frame, on="city", how="full", coalesce=True)
    order = {city: i for i, city in enumerate(load_prefectures(DATA_DIR / DEFAULT_DATASET).cities)}
    return table.sort(pl.col("city").replace_strict(order, default=len(order)), "city").with_columns(
        pl.col("city").map_elements(charts.place_label, return_dtype=pl.Utf8)
    )


def city_oil_peaks(store: ResultsStore, run_id: str) -> pl.DataFrame:
    """Each prefecture's road-oil peak in one run, member 0 (view `city_oil_peak`: city, peak_year, peak_oil_mt);
    empty when the results have no such view (a store of an older schema) or no rows for the run."""
    found = store.query("select count(*) as n from information_schema.tables where table_name = 'city_oil_peak'")
    if not found["n"][0]:
        return pl.DataFrame()
    return store.query(
        f"select city, peak_year, peak_oil_mt from city_oil_peak where run_id = '{run_id}' and member = 0"
    )


def city_maps(store: ResultsStore, run: dict, urban: pl.DataFrame) -> dict[str, tuple[str, Any]]:
    """The choropleths of one run (the plan run in the report), by chart name: caption and chart. The green-trip share
    in the target year of every city the urban model covers (the others grey: not modelled), and each city's road
    oil peak year when the results have the `city_oil_peak` view; a map without data is left out."""
    maps: dict[str, tuple[str, Any]] = {}
    name, end = str(run["scenario"]), int(run["end_year"])
    green = (
        urban.filter(
            (pl.col("run_id") == run["run_id"])
            & (pl.col("year") == GREEN_SHARE_YEAR)
            & pl.col("mode").is_in(GREEN_MODES)
        )
        .group_by("city")
        .agg(pl.col("share").sum())
    )
    if green.height:
        maps["green_trip_map"] = (
            f"Green-trip share by city in {GREEN_SHARE_YEAR} ({name})",
            charts.city_choropleth(
                green,
                "share",
                f"Green-trip share by city in {GREEN_SHARE_YEAR}, {name}",
                f"{', '.join(GREEN_MODES).capitalize()} (Ministry of Transport definition, e-bikes not green); "
                f"central member; target >= {GREEN_SHARE_THRESHOLD:.0%} in cities of "
                f">= {BIG_CITY_RESIDENTS / 1e6:.0f} M residents",
                legend="Green-trip share",
            ),
        )
    peaks = city_oil_peaks(store, str(run["run_id"]))
    if peaks.height:
        # a peak in the last simulated year is no peak: the path is still rising there
        peaks = peaks.with_columns(pl.when(pl.col("peak_year") < end).then(pl.col("peak_year")).alias("peak_year"))
        maps["city_oil_peak_map"] = (
            f"Road oil peak year by city ({name})",
            charts.city_choropleth(
                peaks,
                "peak_year",
                f"Road oil peak year by city, {name}",
                "Year of the highest 3-year average of the city's road oil (gasoline + diesel); central member; "
                f"province's deadline {OIL_PEAK_DEADLINE}",
                legend="Peak year",
                discrete=True,
                scheme="yelloworangered",
                missing=f"no peak by {end}",
            ),
        )
    return maps


def land_freight_table(freight: pl.DataFrame) -> pl.DataFrame:
    """Per scenario, first and last year: each land mode's share of land tonne-km, and sea tonne-km apart."""
    total = freight.group_by("scenario", "year", "mode").agg(pl.col("tkm_bn").sum())
    years = [total["year"].min(), total["year"].max()]
    rows = []
    for (scenario, year), group in total.filter(pl.col("year").is_in(years)).group_by(["scenario", "year"]):
        tkm = dict(zip(group["mode"].to_list(), group["tkm_bn"].to_list(), strict=True))
        land = sum(v for m, v in tkm.items() if m in charts.LAND_MODES)
        row: dict[str, object] = {"scenario": scenario, "year": str(year)}
        for mode in charts.LAND_MODES:
            row[f"{mode} share of land tkm"] = fmt_share(tkm.get(mode, 0.0) / land if land else None)
        row["land tkm"] = f"{land:,.1f} bn tkm"
        row["sea tkm (apart)"] = f"{tkm.get('sea', 0.0):,.1f} bn tkm"
        rows.append(row)
    return pl.DataFrame(rows).sort("scenario", "year")


SEEK_NUMERIC = {"base", "value", "P reached", "P asked", "normalised change"}
_SEEK_SECTION = {"single_lever": 0, "robust": 0, "package": 1, "robust_package": 1, "combined": 2, "robust_combined": 2}


def seek_display(seek: pl.DataFrame) -> pl.DataFrame:
    """Rows of table `seek` for people (terminal and report): per target, each lever's deterministic row
    (single_lever: the central estimate meets the target) and robust row (robust: a share >= P of the members meets
    it) side by side, then the packages, then the combined settings; the P columns only when there are robust rows
    (stores written before them lack the columns)."""
    if "probability" not in seek.columns:
        seek = seek.with_columns(pl.lit(None, pl.Float64).alias("probability"))
    if "probability_asked" not in seek.columns:
        seek = seek.with_columns(pl.lit(None, pl.Float64).alias("probability_asked"))
    robust = seek["probability"].is_not_null().any()

    def number(column: str, spec: str) -> pl.Expr:
        return pl.col(column).map_elements(lambda v: f"{v:{spec}}", return_dtype=pl.Utf8).fill_null("")

    ordered = seek.sort(
        pl.col("target"),
        pl.col("kind").replace_strict(_SEEK_SECTION, default=3, return_dtype=pl.Int32),
        pl.col("lever"),
        pl.col("kind").str.starts_with("robust"),
    )
    columns = [
        pl.col("kind"),
        pl.col("target"),
        pl.col("lever"),
        number("base_value", ".4g").alias("base"),
        number("value", ".4g").alias("value"),
        pl.col("reachable")
        .replace_strict({True: "yes", False: "no"}, default="", return_dtype=pl.Utf8)
        .alias("reached"),
    ]
    if robust:
        columns += [number("probability", ".3f").alias("P reached"), number("probability_asked", "g").alias("P asked")]
    columns += [number("objective", ".3f").alias("normalised change"), pl.col("detail")]
    return ordered.select(columns)


def hindcast_table(hindcast: pl.DataFrame, base_year: int) -> tuple[pl.DataFrame, str]:
    """The hindcast rows for people (definition, values with units, error, status naming every miss) and the
    summary sentence."""
    rows = []
    tested = within = 0
    indicative_misses: list[str] = []
    for r in hindcast.iter_rows(named=True):
        error, tol = r["error"], r["tolerance"]
        if r["modelled"] is None:
            status = "before base year" if r["year"] < base_year else "not modelled"
        elif r["in_sample"]:
            status = "in sample (fitted)"
        elif tol is None:
            off = error is not None and abs(error) > INDICATIVE_MISS
            status = f"MISS by {abs(error):.0%}, not tested: definition differs" if off else "indicative (not tested)"
            if off:
                indicative_misses.append(f"{r['series']} {r['year']} ({error:+.0%})")
        else:
            tested += 1
            within += bool(r["within"])
            status = f"within ±{tol:.0%}" if r["within"] else f"MISS: outside ±{tol:.0%}"
        rows.append(
            {
                "series": r["series"],
                "year": str(r["year"]),
                "definition": r["definition_note"] or "",
                "published": fmt_value(r["published"], r["unit"]),
                "modelled": fmt_value(r["modelled"], r["unit"]) if r["modelled"] is not None else "",
                "error": "" if error is None else f"{error:+.1%}",
                "status": status,
            }
        )
    summary = f"{within} of {tested} tested out-of-sample facts are within their tolerance"
    summary += f"; {tested - within} tested facts miss." if tested > within else "."
    if indicative_misses:
        summary += (
            f" {len(indicative_misses)} indicative facts, not tested because the published definition differs from"
            f" the model's, are off by more than {INDICATIVE_MISS:.0%}: {', '.join(indicative_misses)}."
        )
    return pl.DataFrame(rows), summary


def _bound_text(name: str, low: float | None, high: float | None) -> str:
    unit = UNCERTAIN[name].unit if name in UNCERTAIN else "1"
    suffix = "" if unit == "1" else f" {unit}"
    if low is not None and high is not None:
        return f"{name} in [{low:.3g}, {high:.3g}]{suffix}"
    return f"{name} >= {low:.3g}{suffix}" if low is not None else f"{name} <= {high:.3g}{suffix}"


def discovery_sentences(discovery: pl.DataFrame, targets: pl.DataFrame) -> list[str]:
    """Per scenario, a sentence per target with PRIM boxes (stored `discovery` rows, with scenario): how often its
    members 1..N-1 miss it (any of its rows not met, as transport.analysis.discovery counts) and the boxes where it
    is missed, in the words "<target> is missed in X % of members; it fails mostly when <param> in [low, high] and
    ... (coverage C %, density D %)". Targets whose boxes are the same share one sentence. `targets`: the runs'
    stored rows (run_id, member, target, met)."""
    if discovery.height == 0:
        return []
    missed = (
        targets.filter((pl.col("member") > 0) & pl.col("met").is_not_null())
        .group_by("run_id", "target", "member")
        .agg((~pl.col("met")).any().alias("missed"))
        .group_by("run_id", "target")
        .agg(pl.col("missed").cast(pl.Float64).mean())
    )
    rows = discovery.join(missed, on=["run_id", "target"], how="left").sort("scenario", "target", "box", "parameter")
    groups: dict[tuple[str, str], list[str]] = {}
    for (scenario, target), frame in rows.group_by("scenario", "target", maintain_order=True):
        boxes = []
        for (_box,), box in frame.group_by("box", maintain_order=True):
            bounds = " and ".join(_bound_text(r["parameter"], r["low"], r["high"]) for r in box.iter_rows(named=True))
            boxes.append(
                f"{bounds} (coverage {fmt_share(box['coverage'][0], 0)}, density {fmt_share(box['density'][0], 0)})"
            )
        share = frame["missed"][0]
        claim = f"missed in {fmt_share(share, 0)} of members" if share is not None else "missed by some members"
        text = f"{claim}; {{it}} mostly when " + "; or when ".join(boxes)
        groups.setdefault((str(scenario), text), []).append(str(target))
    sentences = []
    for (scenario, text), names in groups.items():
        subject = " and ".join(f"<code>{html.escape(n)}</code>" for n in names)
        verb, it = ("are", "they fail") if len(names) > 1 else ("is", "it fails")
        body = html.escape(text.replace("{it}", it))
        sentences.append(f"<p><b>{html.escape(scenario)}</b>: {subject} {verb} {body}.</p>")
    parameters = sorted(set(rows["parameter"].to_list()))
    legend = "; ".join(
        f"<code>{html.escape(n)}</code>: {html.escape(UNCERTAIN[n].doc)} (range {UNCERTAIN[n].low:g} to "
        f"{UNCERTAIN[n].high:g}{'' if UNCERTAIN[n].unit == '1' else ' ' + html.escape(UNCERTAIN[n].unit)})"
        for n in parameters
        if n in UNCERTAIN
    )
    return [*sentences, f"<p class='def'>{legend}.</p>"] if legend else sentences


def _html_table(frame: pl.DataFrame, miss_column: str | None = None) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for row in frame.iter_rows(named=True):
        miss = miss_column is not None and "MISS" in str(row[miss_column])
        cells = "".join(f"<td>{html.escape(fmt_number(v))}</td>" for v in row.values())
        body.append(f"<tr class='miss'>{cells}</tr>" if miss else f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


_CSS = """
@font-face{font-family:'Guangxi CJK';src:url(%(font)s) format('opentype')}
@page{size:A4;margin:14mm 12mm}
body{font-family:'Noto Sans CJK SC','Noto Sans CJK TC','Guangxi CJK',sans-serif;max-width:1000px;margin:1.5em auto;
color:#222;line-height:1.4;font-size:15px;padding:0 1em}
h1{font-size:26px;margin-bottom:.2em}h2{font-size:20px;margin-top:1.6em;border-bottom:1px solid #ddd;break-after:avoid}
.meta{color:#555;font-size:13px}
table{border-collapse:collapse;font-size:12px;margin:.8em 0;break-inside:auto}
td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}th{background:#f3f3f3;text-align:left}
tr{break-inside:avoid}tr.miss td{background:#fde8e8}
figure{margin:1.2em 0;break-inside:avoid}img{max-width:100%%;height:auto}figcaption{font-size:13px;color:#444}
.verdict{margin:.5em 0 .9em;padding:.5em .8em;border-left:5px solid #999;background:#fafafa;break-inside:avoid}
.verdict.met{border-color:#2e7d32}.verdict.notmet{border-color:#c62828}
.tag{font-weight:bold}.met .tag{color:#2e7d32}.notmet .tag{color:#c62828}
.def{font-size:13px;color:#444}
@media print{body{max-width:none;margin:0;font-size:11pt}table{font-size:8.5pt}}
"""


def _verdict_html(items: list[Verdict]) -> list[str]:
    parts = []
    for target, label in _HEADLINE_TARGETS.items():
        parts.append(f"<h3>{html.escape(label)}</h3>")
        for v in (i for i in items if i.target == target):
            css = {True: "met", False: "notmet", None: ""}[v.met]
            parts.append(
                f"<div class='verdict {css}'><span class='tag'>{html.escape(v.scenario)}: "
                f"{_verdict_word(v.met)}</span> — {html.escape(v.sentence)}</div>"
            )
        parts.append(f"<p class='def'>{html.escape(DEFINITIONS[target])}</p>")
    return parts


def warm_up() -> None:
    """Import what `write_report` uses and read its fixed inputs (the prefectures' shapes; PDF fonts), e.g. in a
    thread of a process waiting for its scenarios to run elsewhere (runs.parallel). Failures are left to the report."""
    with contextlib.suppress(Exception):
        from weasyprint import HTML

        HTML(string="<p>warm-up</p>").write_pdf()
        charts._prefecture_features(DATA_DIR / DEFAULT_DATASET)


def write_report(store: ResultsStore, out: Path, run_ids: Sequence[str] | None, pool: Executor | None = None) -> Path:
    """Charts (SVG + PNG files), the self-contained report.html and report.pdf for the given runs (default: the
    latest run of each scenario). Returns the path of report.html. `pool`: worker processes that draw the charts
    while this one builds the rest (the same files)."""
    with store.reading():
        return _write_report(store, out, run_ids, pool)


def _write_report(store: ResultsStore, out: Path, run_ids: Sequence[str] | None, pool: Executor | None) -> Path:
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
    drawn: dict[str, tuple[str, alt.TopLevelMixin, Future[list[Path]] | list[Path]]] = {}

    def add(name: str, caption: str, build: alt.TopLevelMixin) -> None:
        if pool is not None:  # the chart itself goes: its spec is built (and validated) there too
            drawn[name] = (caption, build, pool.submit(charts.export, build, fig_dir, name))
        else:
            drawn[name] = (caption, build, charts.export(build, fig_dir, name))

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
        green = urban.filter(pl.col("mode").is_in(GREEN_MODES) & pl.col("city").is_in(cities))
        share = green.group_by("scenario", "city", "year").agg(pl.col("share").sum())
        add("green_trip_share", f"Green-trip share by city in {GREEN_SHARE_YEAR}", charts.green_share_chart(share))
    if freight.height:
        add("freight_tkm", "Modal shift of land freight (sea apart)", charts.freight_chart(freight))
    mapped = next((r for r in runs.iter_rows(named=True) if r["scenario"] == "plan"), None) or runs.row(0, named=True)
    links = store.query(f"select * from links where run_id = '{mapped['run_id']}'")
    flows = store.query(f"select * from link_flows where run_id = '{mapped['run_id']}' and member = 0")
    if links.height and flows.height:
        last = int(flows["year"].cast(pl.Int64).max())  # type: ignore[arg-type]  # non-empty: an int
        years = sorted({min(2025, last), min(2030, last)})
        add(
            "freight_flow_map",
            f"Freight on the land network ({mapped['scenario']}), {' and '.join(map(str, years))}",
            charts.flow_map(links, flows, str(mapped["scenario"]), years),
        )
    for name, (caption, chart) in city_maps(store, mapped, urban).items():
        add(name, caption, chart)
    # the counterfactual's peaks beside the plan's: with the plan's measures every city may peak in one year
    frozen = next((r for r in runs.iter_rows(named=True) if r["scenario"] == "baseline"), None)
    if frozen is not None and frozen["run_id"] != mapped["run_id"]:
        baseline_maps = city_maps(store, frozen, urban)
        if "city_oil_peak_map" in baseline_maps:
            add("city_oil_peak_map_baseline", *baseline_maps["city_oil_peak_map"])
    if fleet.height:
        add("fleet_stock", "Vehicle stock by powertrain", charts.fleet_chart(fleet))
        add("fleet_sales", "Vehicle sales by powertrain", charts.sales_chart(fleet))
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

    figures: dict[str, tuple[str, bytes]] = {}
    for name, (caption, build, paths) in drawn.items():
        if isinstance(paths, Future):
            try:
                paths = paths.result()
            except Exception:  # a chart that did not cross to a worker is drawn here (a real error raises here again)
                paths = charts.export(build, fig_dir, name)
        _svg, png = paths
        figures[name] = (caption, png.read_bytes())

    def figure(name: str) -> list[str]:
        if name not in figures:
            return []
        caption, png = figures[name]
        return [
            f"<figure><img src='{_data_uri(png, 'image/png')}' alt='{html.escape(caption)}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        ]

    n_members: int = max(runs["members"].to_list())
    first_year: int = min(runs["base_year"].to_list())
    last_year: int = max(runs["end_year"].to_list())
    finished = max(runs["finished_at"].to_list())
    spread = (
        f"{n_members:,d} members per run: probabilities are shares of members meeting a target"
        if n_members > 1
        else "1 member: central estimates, no probabilities (run with --members 101 or more for them)"
    )
    font = (charts.FONT_DIR / "NotoSansCJK-GuangxiSubset.otf").read_bytes()
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Guangxi transport model: carbon-peak targets under policy scenarios</title>",
        f"<style>{_CSS % {'font': _data_uri(font, 'font/otf')}}</style></head><body>",
        "<h1>Guangxi transport: will the carbon-peak plan's three targets be met?</h1>",
        f"<p class='meta'>Scenarios: {html.escape(', '.join(runs['scenario']))}; years "
        f"{first_year}-{last_year}; {spread}; "
        f"code {html.escape(str(runs['code_version'][0]))}; finished "
        f"{finished:%Y-%m-%d %H:%M} UTC.</p>",
        "<h2>Verdicts</h2>",
        *_verdict_html(verdicts(targets, runs, railsea)),
        "<h2>Headline numbers</h2>",
        _html_table(headline_table(targets, runs)),
        "<h2>What each scenario answers</h2>",
        _html_table(scenario_questions(runs)),
        "<h2>What each scenario changes</h2>",
        "<p>Every lever whose value differs from the scenario it extends (year paths as year: value, interpolated "
        "between years; rule lists show the rules removed and added). Units and ranges: docs/levers.md; measures "
        "and their sources: docs/scenarios.md.</p>",
        _html_table(scenario_changes(runs)),
        "<h2>Road oil and rail-sea containers</h2>",
        *figure("road_oil"),
        *figure("railsea_teu"),
        *figure("oil_peak_year"),
        *figure("city_oil_peak_map_baseline"),
        *figure("city_oil_peak_map"),
        "<h2>Green trips in the big cities</h2>",
        *(
            figure("green_trip_share")
            or [f"<p>Not evaluated: the runs end in {last_year}, before {GREEN_SHARE_YEAR}.</p>"]
        ),
        *figure("green_trip_map"),
    ]
    if freight.height:
        parts += [
            "<h2>Freight: modal shift on land</h2>",
            "<p>Sea shipping carries most of the tonne-km and changes little between scenarios, so the shift the "
            "plan is about (road to rail and inland water) is shown on land freight alone; sea is given apart.</p>",
            *figure("freight_tkm"),
            *figure("freight_flow_map"),
            _html_table(land_freight_table(freight)),
        ]
    parts += ["<h2>Vehicles and what drives road oil</h2>", *figure("fleet_stock"), *figure("fleet_sales")]
    parts += figure("lmdi_road_oil")
    city_peaks = city_peak_table(targets, runs)
    if city_peaks.height:
        parts += [
            "<h2>Every prefecture city: road oil peak</h2>",
            "<p>Each city's road energy is the province's split by where each vehicle segment drives (population and "
            "income and the urban model for cars and buses; intercity routes for coaches; the freight model's road "
            "tonne-km for trucks), with the province's powertrain mix in every city; the cities add up to the "
            "province. A city's peak is the peak of its 3-year smoothed oil path, as for the province. A sales rule "
            "or an NEV subsidy for one city runs its segment city by city.</p>",
            _html_table(city_peaks),
        ]
    if probability.height:
        table = (
            probability.with_columns(pl.col("probability").map_elements(fmt_share, return_dtype=pl.Utf8))
            .pivot(on="scenario", index=["target", "year"], values="probability")
            .sort("target", "year")
        )
        parts += ["<h2>Probability of meeting each target (share of ensemble members)</h2>", _html_table(table)]
    parts += figure("sensitivity")
    discovery = _frame(store, "select * from discovery where run_id in ({ids})", runs)
    if discovery.height:
        parts += [
            "<h2>When the targets are missed (scenario discovery)</h2>",
            f"<p>For each target the members miss in {fmt_share(MISSED_SHARE[0], 0)} to "
            f"{fmt_share(MISSED_SHARE[1], 0)} of cases: the "
            f"ranges of at most {MAX_PARAMETERS} uncertain parameters in which it is missed most (PRIM, "
            "<code>transport/analysis/discovery.py</code>). Coverage: share of the members missing the target that "
            "fall in the box; density: share of the members in the box that miss it.</p>",
            *discovery_sentences(discovery, targets),
        ]
    seek = store.query(
        "select s.*, r.scenario from seek s join runs r using (run_id) where run_id = (select run_id from runs "
        "where run_set like 'seek-%' order by finished_at desc limit 1)"
    )
    if seek.height:
        parts += [
            f"<h2>What it takes (latest <code>transport seek</code>, scenario {html.escape(seek['scenario'][0])})</h2>",
            "<p>Single-lever rows: the least change of one lever (ramped to its value in 2030) that meets the target "
            "alone in the central estimate, or why not. Robust rows (<code>--robust P --members N</code>), beside "
            "them: the least change with which a share of at least P of the N ensemble members meets it (P reached, "
            "P asked; the same sampled members for every lever value). Combined rows: those settings together, "
            "verified by one coupled run (the stored scenario is the robust one when there are robust rows).</p>",
            _html_table(seek_display(seek)),
        ]
    if hindcast.height:
        base_year = first_year
        table, summary = hindcast_table(hindcast, base_year)
        parts += [
            "<h2>Hindcast: the model against published statistics</h2>",
            f"<p>The baseline run from the {base_year} base against every published fact (latest "
            "<code>transport validate-history</code>). Only facts up to the base year were used for fitting; later "
            f"facts test the model. {html.escape(summary)} Rows in red are misses.</p>",
            *figure("hindcast"),
            _html_table(table, miss_column="status"),
        ]
    verdict_rows = (
        targets.filter(
            (pl.col("member") == 0)
            # the cities' peaks have their own table above
            & ~pl.col("target").str.starts_with(CITY_PEAK)
            & ~pl.col("target").str.starts_with(CITY_PEAK_LEVEL)
        )
        .sort("scenario", "target", "year")
        .select(
            "scenario",
            "target",
            pl.col("year").cast(pl.Utf8),
            pl.struct("value", "unit").map_elements(lambda r: fmt_value(r["value"], r["unit"]), return_dtype=pl.Utf8),
            pl.struct("threshold", "unit")
            .map_elements(
                lambda r: "" if r["threshold"] is None else fmt_value(r["threshold"], r["unit"]), return_dtype=pl.Utf8
            )
            .alias("threshold"),
            pl.col("met").replace_strict({True: "met", False: "not met"}, default="", return_dtype=pl.Utf8),
            pl.struct("margin", "unit")
            .map_elements(
                lambda r: "" if r["margin"] is None else fmt_margin(r["margin"], r["unit"]), return_dtype=pl.Utf8
            )
            .alias("margin"),
            "detail",
        )
    )
    scenario_table = runs.select(
        "scenario",
        "description",
        "run_id",
        "members",
        "seed",
        pl.col("end_year").cast(pl.Utf8),
        "freight_method",
        "code_version",
        pl.col("scenario_hash").str.slice(0, 12),
        pl.col("dataset_hash").str.slice(0, 12),
    )
    # the longest table (every target of every scenario, ~130 rows for the shipped four) is in the HTML only: in the
    # PDF, laying it out took a third of the rendering
    every_target = [
        "<h2>Every target and indicator (central member)</h2>",
        HTML_ONLY,
        _html_table(verdict_rows),
        HTML_ONLY_END,
    ]
    parts += [
        *every_target,
        "<h2>Runs</h2>",
        _html_table(scenario_table),
        "<h2>Assumptions and sources</h2>",
        "<p>Every dataset table, its units, sources (with URLs) and assumptions (value and range) are documented "
        "in the dataset's domain READMEs: <code>transport/data/guangxi/fleets/README.md</code>, "
        "<code>freight/README.md</code>, <code>urban/README.md</code> and <code>history/README.md</code> (the "
        "hindcast facts). The scenarios' measures with their sources and dates: <code>docs/scenarios.md</code>; "
        "every lever with its unit and valid range: <code>docs/levers.md</code>; the architecture: "
        "<code>docs/design.md</code>. Each run's full scenario is stored in <code>runs.scenario_toml</code>.</p>",
        "</body></html>",
    ]
    out.mkdir(parents=True, exist_ok=True)
    document = "\n".join(parts)
    path = out / "report.html"
    tmp = out / ".report.html.tmp"
    tmp.write_text(document, encoding="utf-8")
    _write_pdf(pdf_document(document), out / "report.pdf")
    tmp.replace(path)
    return path


HTML_ONLY = "<!-- html only -->"
HTML_ONLY_END = "<!-- end html only -->"


def pdf_document(document: str) -> str:
    """The report's HTML for the PDF: each part between HTML_ONLY and HTML_ONLY_END left out, with a line saying
    it is in report.html."""
    while HTML_ONLY in document:
        start = document.index(HTML_ONLY)
        end = document.index(HTML_ONLY_END, start) + len(HTML_ONLY_END)
        document = document[:start] + "<p>This table is in report.html (too long for print).</p>" + document[end:]
    return document


def _write_pdf(document: str, path: Path) -> None:
    """The same document as an A4 PDF (WeasyPrint lays out HTML and CSS itself: no browser)."""
    import logging

    from weasyprint import HTML

    # WeasyPrint logs every CSS property it does not know (font fallbacks...) as a warning; they are not problems
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    tmp = path.with_name(f".{path.name}.tmp")
    HTML(string=document).write_pdf(tmp)
    tmp.replace(path)


_COMPARED = (
    (RAILSEA, "Rail-sea TEU growth 2020-2025"),
    (GREEN, f"Green-trip share {GREEN_SHARE_YEAR}, lowest big city"),
    (GREEN_EBIKE, "  same, e-bikes counted as green"),
    (OIL, "Road oil peak year"),
    (OIL_LEVEL, "Road oil at its peak"),
)


def _diff_text(a: float | None, b: float | None, unit: str) -> str:
    if a is None or b is None:
        return "n/a"
    if unit == "year":
        years = round(b - a)
        return f"{years:+d} years" if years else "same year"
    if unit in ("1/yr", "share"):
        return f"{100 * (b - a):+.1f} points"
    return f"{b - a:+,.2f} {unit}"


def headline_values(store: ResultsStore, scenario_a: str, scenario_b: str) -> pl.DataFrame:
    """Headline values (central member) of the latest runs of two scenarios, and B - A, as numbers in their
    stored unit: target, label, unit, a, b, b_minus_a."""
    runs = store.query("select * from latest_runs")
    for name in (scenario_a, scenario_b):
        if runs.filter(pl.col("scenario") == name).height == 0:
            raise StoreError(
                store.db_path, "scenario", name, f"a scenario with a stored run ({', '.join(runs['scenario'])})"
            )
    ids = {n: runs.filter(pl.col("scenario") == n)["run_id"][0] for n in (scenario_a, scenario_b)}
    quoted = ", ".join(f"'{r}'" for r in ids.values())
    targets = store.query(f"select * from targets where run_id in ({quoted}) and member = 0")
    rows = []
    for target, label in _COMPARED:
        found = {n: _central(targets, rid, target) for n, rid in ids.items()}
        if all(v is None for v in found.values()):
            continue
        unit = next(v["unit"] for v in found.values() if v is not None)
        a, b = (None if found[n] is None else found[n]["value"] for n in (scenario_a, scenario_b))  # type: ignore[index]
        diff = None if a is None or b is None else b - a
        rows.append({"target": target, "label": label, "unit": unit, "a": a, "b": b, "b_minus_a": diff})
    return pl.DataFrame(
        rows,
        schema={
            "target": pl.Utf8,
            "label": pl.Utf8,
            "unit": pl.Utf8,
            "a": pl.Float64,
            "b": pl.Float64,
            "b_minus_a": pl.Float64,
        },
    )


def compare_tables(store: ResultsStore, scenario_a: str, scenario_b: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """For `transport compare`: the headline values with units (label, A, B, B - A) and the levers that differ
    between the two latest runs (lever, A, B)."""
    values = headline_values(store, scenario_a, scenario_b)
    col_a, col_b = scenario_a, scenario_b if scenario_b != scenario_a else f"{scenario_b} (B)"
    shown = pl.DataFrame(
        [
            {
                "headline": r["label"],
                col_a: fmt_value(r["a"], r["unit"]),
                col_b: fmt_value(r["b"], r["unit"]),
                "B - A": _diff_text(r["a"], r["b"], r["unit"]),
            }
            for r in values.iter_rows(named=True)
        ],
        schema=dict.fromkeys(["headline", col_a, col_b, "B - A"], pl.Utf8),
    )
    runs = store.query("select * from latest_runs")
    pick = {n: runs.filter(pl.col("scenario") == n).row(0, named=True) for n in (scenario_a, scenario_b)}
    changes = lever_changes(_scenario_of(pick[scenario_b]), _scenario_of(pick[scenario_a]))
    levers = pl.DataFrame(
        [{"lever": c["lever"], col_a: c["before"], col_b: c["after"]} for c in changes],
        schema=dict.fromkeys(["lever", col_a, col_b], pl.Utf8),
    )
    return shown, levers
