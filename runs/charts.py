"""Altair charts of the headline results, exported offline with vl-convert to SVG and PNG.

Every chart carries a title, units on its axes and its source line; Chinese place names render with the shipped font
subset (runs/fonts). The builders take plain polars frames, so they are testable without a results database.
"""

from __future__ import annotations

import functools
from pathlib import Path

import altair as alt
import polars as pl
import shapely
import vl_convert as vlc

from transport.cities import load_prefectures
from transport.freight.names import MODES as FREIGHT_MODES
from transport.scenario import DATA_DIR, DEFAULT_DATASET

FONT_DIR = Path(__file__).parent / "fonts"
FONT = "Noto Sans CJK TC"
WIDTH = 520
HEIGHT = 300
SOURCE = "Source: Guangxi transport model (this repository), shipped Guangxi dataset; see report assumptions."

_fonts_registered = False


@functools.cache
def _names_zh() -> dict[str, str]:
    prefectures = load_prefectures(DATA_DIR / DEFAULT_DATASET)
    return dict(zip(prefectures.cities, prefectures.names_zh, strict=True))


def place_label(city: str) -> str:
    """Display name 'Pinyin 汉字' of a city id; the Chinese name is the shipped dataset's prefecture table
    (cities/prefectures.csv name_zh, transport.cities), a place that is no prefecture city keeps its id."""
    zh = _names_zh().get(city.lower())
    return f"{city.lower().capitalize()} {zh}" if zh else city


def _finish(chart: alt.TopLevelMixin, title: str, subtitle: str) -> alt.TopLevelMixin:
    return (
        chart.properties(
            title=alt.TitleParams(title, subtitle=[subtitle, SOURCE], anchor="start", fontSize=15, subtitleFontSize=10)
        )
        .configure(font=FONT)
        .configure_axis(labelFontSize=11, titleFontSize=12)
        .configure_legend(labelFontSize=11, titleFontSize=12)
    )


def _band(frame: pl.DataFrame, value: str, by: list[str]) -> pl.DataFrame:
    return (
        frame.group_by(by)
        .agg(pl.col(value).quantile(0.05).alias("low"), pl.col(value).quantile(0.95).alias("high"))
        .sort(by)
    )


def _band_note(members: int) -> str:
    return "; band: 5-95 % of members" if members > 1 else "; central estimate (no ensemble band: 1 member)"


def road_oil_chart(oil: pl.DataFrame, peaks: pl.DataFrame) -> alt.TopLevelMixin:
    """Road oil (Mt/yr) per scenario, the central member as a line, the 5-95 % band of members, peaks marked.

    oil: scenario, member, year, oil_mt;  peaks: scenario, peak_year, peak_oil_mt (central member). Scenarios that
    peak in the same year share one label ("2022: plan, accelerated"), so labels never overlap each other.
    """
    central = oil.filter(pl.col("member") == 0)
    members = oil["member"].n_unique()
    base = alt.Chart(central).encode(
        x=alt.X("year:Q", title="Year", axis=alt.Axis(format="d")),
        color=alt.Color("scenario:N", title="Scenario", legend=alt.Legend(symbolOpacity=1, symbolStrokeWidth=3)),
    )
    layers: list[alt.Chart] = []
    if members > 1:
        band = _band(oil, "oil_mt", ["scenario", "year"])
        layers.append(
            alt.Chart(band)
            .mark_area(opacity=0.18)
            .encode(x="year:Q", y="low:Q", y2="high:Q", color=alt.Color("scenario:N", legend=None))
        )
    layers.append(base.mark_line(strokeWidth=2.2).encode(y=alt.Y("oil_mt:Q", title="Road oil use (Mt per year)")))
    layers.append(
        alt.Chart(peaks)
        .mark_point(shape="triangle-down", size=120, filled=True)
        .encode(
            x="peak_year:Q",
            y="peak_oil_mt:Q",
            color=alt.Color("scenario:N", legend=None),
            tooltip=["scenario", "peak_year", alt.Tooltip("peak_oil_mt", format=".2f")],
        )
    )
    labels = (
        peaks.sort("scenario")
        .group_by("peak_year", maintain_order=True)
        .agg(pl.col("peak_oil_mt").max(), pl.col("scenario").str.join(", "))
        .with_columns((pl.lit("peak ") + pl.col("peak_year").cast(pl.Utf8) + ": " + pl.col("scenario")).alias("label"))
    )
    layers.append(
        alt.Chart(labels)
        .mark_text(dy=-14, fontSize=10, color="#333")
        .encode(x="peak_year:Q", y="peak_oil_mt:Q", text="label:N")
    )
    layers.append(
        alt.Chart(pl.DataFrame({"year": [2030]})).mark_rule(strokeDash=[4, 4], color="gray").encode(x="year:Q")
    )
    chart = alt.layer(*layers).properties(width=WIDTH, height=HEIGHT)
    return _finish(
        chart,
        "Road oil use (gasoline + diesel) and its peak",
        "Triangles: peak of the 3-year moving average; dashed line: 2030 deadline" + _band_note(members),
    )


def railsea_chart(teu: pl.DataFrame) -> alt.TopLevelMixin:
    """Rail-sea container TEU per scenario (central member) against the plan's 15 %/yr path from 2020."""
    central = teu.filter(pl.col("member") == 0).group_by("scenario", "year").agg(pl.col("teu").sum())
    start = central.filter(pl.col("year") == 2020).select("scenario", pl.col("teu").alias("teu0"))
    path = (
        central.join(start, on="scenario")
        .filter(pl.col("year") <= 2030)
        .with_columns((pl.col("teu0") * 1.15 ** (pl.col("year") - 2020)).alias("plan_path_teu"))
    )
    shown = central.filter(pl.col("year") <= 2035).with_columns(pl.col("teu") / 1e4)
    layers: list[alt.Chart] = []
    members = teu["member"].n_unique()
    if members > 1:
        totals = teu.group_by("scenario", "member", "year").agg(pl.col("teu").sum() / 1e4)
        band = _band(totals.filter(pl.col("year") <= 2035), "teu", ["scenario", "year"])
        layers.append(
            alt.Chart(band)
            .mark_area(opacity=0.18)
            .encode(x="year:Q", y="low:Q", y2="high:Q", color=alt.Color("scenario:N", legend=None))
        )
    lines = (
        alt.Chart(shown)
        .mark_line(point=True)
        .encode(
            x=alt.X("year:Q", title="Year", axis=alt.Axis(format="d")),
            y=alt.Y("teu:Q", title="Rail-sea containers (万TEU per year)"),
            color=alt.Color("scenario:N", title="Scenario", legend=alt.Legend(symbolOpacity=1)),
        )
    )
    plan = (
        alt.Chart(path.filter(pl.col("scenario") == path["scenario"][0]).with_columns(pl.col("plan_path_teu") / 1e4))
        .mark_line(strokeDash=[5, 4], color="black")
        .encode(x="year:Q", y="plan_path_teu:Q")
    )
    return _finish(
        alt.layer(*layers, lines, plan).properties(width=WIDTH, height=HEIGHT),
        "Rail-sea containers through the Beibu Gulf ports (海铁联运)",
        "Dashed: +15 %/yr from the modelled 2020 volume (the plan's 2021-2025 target); rail<->ship at the Beibu Gulf "
        "ports" + _band_note(members),
    )


def green_share_chart(share: pl.DataFrame, year: int = 2030) -> alt.TopLevelMixin:
    """Green-trip share per city in `year` by scenario, against the 70 % target. share: scenario, city, year, share."""
    data = share.filter(pl.col("year") == year).with_columns(
        pl.col("city").map_elements(place_label, return_dtype=pl.Utf8).alias("city_name")
    )
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("city_name:N", title=None, axis=alt.Axis(labelAngle=0)),
            xOffset="scenario:N",
            y=alt.Y(
                "share:Q", title=f"Green-trip share {year}", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])
            ),
            color=alt.Color("scenario:N", title="Scenario"),
        )
    )
    rule = alt.Chart(pl.DataFrame({"share": [0.7]})).mark_rule(color="firebrick", strokeDash=[4, 3]).encode(y="share:Q")
    return _finish(
        alt.layer(bars, rule).properties(width=WIDTH, height=HEIGHT),
        f"Green-trip share (walk, bicycle, bus, metro) in {year}",
        "Red line: the plan's 70 % target for cities with >= 1 million urban residents; e-bikes not green",
    )


def _stacked_by_scenario(
    data: pl.DataFrame, value: str, value_title: str, colour: str, colour_title: str, title: str, subtitle: str
) -> alt.TopLevelMixin:
    chart = (
        alt.Chart(data)
        .mark_area()
        .encode(
            x=alt.X("year:Q", title="Year", axis=alt.Axis(format="d")),
            y=alt.Y(f"{value}:Q", title=value_title, stack=True),
            color=alt.Color(f"{colour}:N", title=colour_title),
        )
        .properties(width=260, height=220)
        .facet(column=alt.Column("scenario:N", title=None))
    )
    return _finish(chart, title, subtitle)


def fleet_chart(stock: pl.DataFrame) -> alt.TopLevelMixin:
    """Road vehicle stock by powertrain (million vehicles), stacked, one panel per scenario."""
    data = (
        stock.filter(pl.col("member") == 0)
        .group_by("scenario", "year", "powertrain")
        .agg((pl.col("stock").sum() / 1e6).alias("stock_m"))
    )
    return _stacked_by_scenario(
        data,
        "stock_m",
        "Vehicles (million)",
        "powertrain",
        "Powertrain",
        "Road vehicle stock by powertrain",
        "All segments incl. motorcycles; central member",
    )


def sales_chart(sales: pl.DataFrame) -> alt.TopLevelMixin:
    """New vehicle sales by powertrain (thousand per year), stacked, one panel per scenario."""
    data = (
        sales.filter(pl.col("member") == 0)
        .group_by("scenario", "year", "powertrain")
        .agg((pl.col("sales").sum() / 1e3).alias("sales_k"))
    )
    return _stacked_by_scenario(
        data,
        "sales_k",
        "Sales (thousand vehicles per year)",
        "powertrain",
        "Powertrain",
        "New vehicle sales by powertrain",
        "All segments incl. motorcycles; central member",
    )


# land modes: every freight mode but sea (transport.freight.names owns the vocabulary)
LAND_MODES = tuple(m for m in FREIGHT_MODES if m != "sea")


def freight_chart(freight: pl.DataFrame) -> alt.TopLevelMixin:
    """Modal shift on land: each land mode's share of land freight tonne-km (road, rail, inland water; sea apart,
    since coastal and ocean shipping is most of the tonne-km and hides the shift), one panel per mode."""
    land = (
        freight.filter((pl.col("member") == 0) & pl.col("mode").is_in(LAND_MODES))
        .group_by("scenario", "year", "mode")
        .agg(pl.col("tkm_bn").sum())
        .with_columns(
            (pl.col("tkm_bn") / pl.col("tkm_bn").sum().over("scenario", "year")).alias("share"),
            pl.col("mode").str.replace("_", " "),
        )
    )
    chart = (
        alt.Chart(land)
        .mark_line(point=True, strokeWidth=2)
        .encode(
            x=alt.X("year:Q", title="Year", axis=alt.Axis(format="d")),
            y=alt.Y("share:Q", title="Share of land tonne-km", axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)),
            color=alt.Color("scenario:N", title="Scenario"),
            tooltip=["scenario", "year", "mode", alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(width=170, height=200)
        .facet(
            column=alt.Column(
                "mode:N",
                title=None,
                sort=[m.replace("_", " ") for m in LAND_MODES],
                header=alt.Header(labelFontSize=13),
            )
        )
        .resolve_scale(y="independent")
    )
    return _finish(
        chart,
        "Modal shift of land freight: road, rail and inland water",
        "Share of tonne-km on Guangxi's land network (sea shipping apart); central member; all commodities",
    )


def flow_map(links: pl.DataFrame, flows: pl.DataFrame, scenario: str, years: list[int]) -> alt.TopLevelMixin:
    """Freight on the land network of one run (member 0): each link a line between its places, width by tonnes (both
    directions), colour by mode, one panel per year (e.g. before and after the Pinglu Canal opens). Sea lanes apart,
    as in the modal-shift chart; a link is drawn straight between its two places (links.geometry)."""
    coords = [shapely.get_coordinates(shapely.from_wkt(wkt)) for wkt in links["geometry"].to_list()]
    ends = links.select("link_id", "mode", "name", "from_place", "to_place").with_columns(
        pl.Series("lon1", [c[0, 0] for c in coords]),
        pl.Series("lat1", [c[0, 1] for c in coords]),
        pl.Series("lon2", [c[-1, 0] for c in coords]),
        pl.Series("lat2", [c[-1, 1] for c in coords]),
    )
    data = (
        flows.filter(pl.col("year").is_in(years) & (pl.col("tonnes_mt") > 0))
        .join(ends, on="link_id")
        .filter(pl.col("mode").is_in(LAND_MODES))
        .with_columns(pl.col("mode").str.replace("_", " "), pl.col("from_place").map_elements(place_label, pl.Utf8))
    )
    base = alt.Chart(data).properties(width=330, height=300)
    lines = base.mark_rule(strokeCap="round", opacity=0.8).encode(
        longitude="lon1:Q",
        latitude="lat1:Q",
        longitude2="lon2:Q",
        latitude2="lat2:Q",
        color=alt.Color("mode:N", title="Mode", sort=[m.replace("_", " ") for m in LAND_MODES]),
        strokeWidth=alt.StrokeWidth("tonnes_mt:Q", title="Mt/yr", scale=alt.Scale(range=[0.5, 12])),
        tooltip=["name", "mode", alt.Tooltip("tonnes_mt:Q", format=".1f", title="Mt/yr")],
    )
    places = base.mark_text(fontSize=9, dy=-7, font=FONT).encode(
        longitude="lon1:Q", latitude="lat1:Q", text="from_place"
    )
    chart = (
        alt.layer(lines, places)
        .project(type="mercator")
        .facet(column=alt.Column("year:O", title=None, header=alt.Header(labelFontSize=13)))
    )
    return _finish(
        chart,
        f"Freight on the land network, {scenario}: tonnes per link",
        "Line width: Mt a year, both directions; colour: mode; central member; links drawn straight between places",
    )


# labels placed by hand where the pole of inaccessibility crowds a neighbour's label at the report's size (lon, lat)
_LABEL_AT = {"guigang": (109.75, 23.2), "wuzhou": (111.2, 23.5)}


@functools.cache
def _prefecture_features(dataset: Path) -> tuple[tuple[str, dict, float, float], ...]:
    """(city, GeoJSON geometry, label lon, label lat) of each prefecture of a dataset (cities/prefectures.geojson).
    Rings are turned clockwise, the winding d3-geo (Vega) reads as 'inside' (GeoJSON files wind the other way); the
    label sits at the pole of inaccessibility of the city's largest part."""
    from shapely.ops import polylabel

    from transport.cities import load_prefecture_shapes

    shapes = load_prefecture_shapes(dataset)
    out = []
    for city, geom in zip(shapes["city"], shapes.geometry, strict=True):
        largest = max(shapely.get_parts(geom), key=lambda part: part.area)
        anchor = shapely.Point(_LABEL_AT[city]) if city in _LABEL_AT else polylabel(largest, tolerance=0.01)
        clockwise = shapely.orient_polygons(geom, exterior_cw=True)
        out.append((str(city), clockwise.__geo_interface__, anchor.x, anchor.y))
    return tuple(out)


def city_choropleth(
    values: pl.DataFrame,
    value: str,
    title: str,
    subtitle: str,
    *,
    legend: str,
    discrete: bool = False,
    number_format: str = ".0%",
    missing: str = "not modelled",
    scheme: str = "greens",
    dataset: Path = DATA_DIR / DEFAULT_DATASET,
) -> alt.TopLevelMixin:
    """The prefecture cities coloured by `values[value]` (one row per `city` id; a city without a row or with a null
    value is drawn grey and named `missing` in the legend), each labelled 'Pinyin 汉字' and its value. Sequential
    colour for a quantity (e.g. shares, `number_format` a Python format spec) or, with `discrete`, one colour per
    value in order (e.g. peak years, shown as integers). Boundaries: the dataset's cities/prefectures.geojson."""
    known = {
        str(city): val
        for city, val in values.select("city", value).iter_rows()
        if val is not None and val == val  # NaN is no value either
    }

    def shown(val: object) -> str:
        return str(int(val)) if discrete else format(val, number_format)  # type: ignore[call-overload]

    features, labels = [], []
    for city, geometry, lon, lat in _prefecture_features(dataset):
        val = known.get(city)
        text = missing if val is None else shown(val)
        props = {"city": place_label(city), "value": val, "shown": text, "status": missing}
        features.append({"type": "Feature", "geometry": geometry, **props})
        lines = [place_label(city)] if val is None else [place_label(city), text]  # grey: the legend says why
        labels.append({"lon": lon, "lat": lat, "lines": lines, "shown": text})
    width, height = 560, 440
    base = alt.Chart(alt.Data(values=features)).properties(width=width, height=height)
    tooltip = [alt.Tooltip("city:N", title="City"), alt.Tooltip("shown:N", title=legend)]
    grey = base.mark_geoshape(stroke="white", strokeWidth=1).encode(
        color=alt.Color(
            "status:N",
            title=None,
            scale=alt.Scale(range=["#cfcfcf"]),
            legend=alt.Legend(symbolType="square") if len(known) < len(features) else None,
        ),
        tooltip=tooltip,
    )
    if discrete:
        domain = sorted({int(v) for v in known.values()})
        color = alt.Color(
            "value:O",
            title=legend,
            scale=alt.Scale(scheme={"name": scheme}, domain=domain),
            legend=alt.Legend(symbolType="square"),
        )
    else:
        color = alt.Color(
            "value:Q", title=legend, scale=alt.Scale(scheme={"name": scheme}), legend=alt.Legend(format=number_format)
        )
    filled = (
        base.transform_filter("datum.value != null")
        .mark_geoshape(stroke="white", strokeWidth=1)
        .encode(color=color, tooltip=tooltip)
    )
    placed = alt.Chart(alt.Data(values=labels)).encode(longitude="lon:Q", latitude="lat:Q", text="lines:N")
    halo = placed.mark_text(fontSize=10, font=FONT, lineHeight=12, stroke="white", strokeWidth=3, strokeOpacity=0.85)
    names = placed.mark_text(fontSize=10, font=FONT, lineHeight=12, color="#222")
    chart = alt.layer(grey, filled, halo, names).project(type="mercator").resolve_scale(color="independent")
    return _finish(chart, title, subtitle)


def lmdi_chart(lmdi: pl.DataFrame, oil_start: pl.DataFrame) -> alt.TopLevelMixin:
    """Waterfall of the LMDI effects on road oil, per scenario and period.

    lmdi: scenario, period, effect, oil_mt (summed over segments);  oil_start: scenario, period, oil_mt (start level).
    """
    rows = []
    order = ["start", "activity", "structure", "intensity", "fuel_mix", "end"]
    for (scenario, period), group in lmdi.group_by(["scenario", "period"], maintain_order=True):
        start = oil_start.filter((pl.col("scenario") == scenario) & (pl.col("period") == period))["oil_mt"][0]
        level = start
        rows.append(
            {"scenario": scenario, "period": period, "step": "start", "low": 0.0, "high": start, "delta": start}
        )
        effects = dict(zip(group["effect"].to_list(), group["oil_mt"].to_list(), strict=True))
        for effect in order[1:-1]:
            delta = effects.get(effect, 0.0)
            rows.append(
                {
                    "scenario": scenario,
                    "period": period,
                    "step": effect,
                    "low": min(level, level + delta),
                    "high": max(level, level + delta),
                    "delta": delta,
                }
            )
            level += delta
        rows.append({"scenario": scenario, "period": period, "step": "end", "low": 0.0, "high": level, "delta": level})
    data = pl.DataFrame(rows).with_columns(
        pl.when(pl.col("step").is_in(["start", "end"]))
        .then(pl.lit("level"))
        .when(pl.col("delta") >= 0)
        .then(pl.lit("increase"))
        .otherwise(pl.lit("decrease"))
        .alias("kind")
    )
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("step:N", sort=order, title=None, axis=alt.Axis(labelAngle=-30)),
            y=alt.Y("low:Q", title="Road oil (Mt per year)"),
            y2="high:Q",
            color=alt.Color(
                "kind:N",
                title=None,
                scale=alt.Scale(domain=["level", "increase", "decrease"], range=["#4c78a8", "#e45756", "#54a24b"]),
            ),
            tooltip=["scenario", "period", "step", alt.Tooltip("delta:Q", format=".3f")],
        )
        .properties(width=200, height=200)
        .facet(row=alt.Row("period:N", title=None), column=alt.Column("scenario:N", title=None))
    )
    return _finish(
        chart,
        "What changes road oil use: additive LMDI decomposition",
        "Activity (vehicle-km), structure (segment mix), intensity (PJ/vkm), fuel mix (oil per PJ)",
    )


def peak_year_chart(peaks: pl.DataFrame) -> alt.TopLevelMixin:
    """Distribution of the road oil peak year over the members of each scenario. peaks: scenario, member, peak_year."""
    counts = (
        peaks.group_by("scenario", "peak_year")
        .agg(pl.len().alias("members"))
        .join(peaks.group_by("scenario").agg(pl.len().alias("total")), on="scenario")
        .with_columns((pl.col("members") / pl.col("total")).alias("share"))
    )
    years = peaks["peak_year"].to_numpy()
    bars = (
        alt.Chart(counts)
        .mark_bar(opacity=0.75)
        .encode(
            x=alt.X(
                "peak_year:O",
                title="Peak year of road oil use",
                scale=alt.Scale(domain=list(range(int(years.min()), int(years.max()) + 1))),
            ),
            y=alt.Y("share:Q", title="Share of members", axis=alt.Axis(format="%"), stack=None),
            color=alt.Color("scenario:N", title="Scenario"),
            xOffset="scenario:N",
            tooltip=["scenario", "peak_year", "members", alt.Tooltip("share:Q", format=".0%")],
        )
    )
    return _finish(
        bars.properties(width=WIDTH, height=HEIGHT),
        "When does road oil use peak? Distribution over the ensemble",
        "Each member samples the uncertain parameters (Latin hypercube); peak of the 3-year moving average",
    )


def sensitivity_chart(sensitivity: pl.DataFrame, top: int = 6) -> alt.TopLevelMixin:
    """First-order Sobol index (S1, with 95 % bootstrap interval) of the most influential parameters per target.

    sensitivity: scenario, target, year, parameter, index, value, conf (the stored `sensitivity` rows).
    """
    s1 = (
        sensitivity.filter((pl.col("index") == "S1") & (pl.col("year").is_null() | pl.col("year").is_in([2025, 2030])))
        .with_columns((pl.col("target") + " " + pl.col("year").cast(pl.Utf8).fill_null("")).alias("panel"))
        .sort("value", descending=True)
        .group_by("scenario", "panel", maintain_order=True)
        .head(top)
        .with_columns((pl.col("value") - pl.col("conf")).alias("low"), (pl.col("value") + pl.col("conf")).alias("high"))
    )
    base = alt.Chart(s1).encode(y=alt.Y("parameter:N", title=None, sort="-x"))
    bars = base.mark_bar().encode(
        x=alt.X("value:Q", title="First-order Sobol index S1"),
        color=alt.Color("scenario:N", title="Scenario", legend=alt.Legend(symbolOpacity=1)),
    )
    rules = base.mark_rule().encode(x="low:Q", x2="high:Q")
    chart = (
        alt.layer(bars, rules, data=s1)
        .properties(width=260, height=120)
        .facet(
            row=alt.Row(
                "panel:N",
                title=None,
                header=alt.Header(labelAngle=0, labelOrient="top", labelAnchor="start", labelFontSize=12),
            ),
            column=alt.Column("scenario:N", title=None),
        )
        .resolve_scale(y="independent")
        .properties(spacing=28)
    )
    return _finish(
        chart,
        "Which uncertainties decide each target (global sensitivity)",
        "S1: share of the target's variance explained by one parameter alone (SALib); line: 95 % bootstrap interval",
    )


def hindcast_chart(hindcast: pl.DataFrame) -> alt.TopLevelMixin:
    """Published vs modelled value of every fact with a modelled value, one panel per series (own scale).

    hindcast: the stored `hindcast` rows of one run (series, year, published, modelled, in_sample, unit).
    """
    rows = hindcast.filter(pl.col("modelled").is_not_null())
    long = pl.concat(
        [
            rows.select("series", "year", "unit", "in_sample", pl.col(col).alias("value"), pl.lit(label).alias("kind"))
            for col, label in (("published", "published"), ("modelled", "modelled"))
        ]
    ).with_columns(
        pl.when(pl.col("in_sample"))
        .then(pl.lit("in-sample (fitted)"))
        .otherwise(pl.lit("out-of-sample"))
        .alias("sample"),
        (pl.col("series") + " (" + pl.col("unit") + ")").alias("panel"),
    )
    points = (
        alt.Chart(long)
        .mark_point(size=70, filled=True)
        .encode(
            x=alt.X("year:O", title="Year"),
            y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=True)),
            color=alt.Color("kind:N", title="Value", scale=alt.Scale(range=["#222222", "#d95f02"])),
            shape=alt.Shape("sample:N", title="Fact"),
            tooltip=["series", "year", "kind", alt.Tooltip("value:Q", format=",.4g"), "sample"],
        )
        .properties(width=170, height=120)
    )
    chart = points.facet(facet=alt.Facet("panel:N", title=None), columns=4).resolve_scale(y="independent")
    return _finish(
        chart,
        "Hindcast: modelled vs published statistics",
        "Scenario run from the 2020 base; only facts up to 2020 were used for fitting; y axes start at zero",
    )


def export(chart: alt.TopLevelMixin, folder: Path, name: str) -> list[Path]:
    """Write `name`.svg and `name`.png (2x scale) with vl-convert, offline, with the shipped CJK font. The PNG is
    drawn with the font's glyphs, so it shows 南宁 and 万TEU on any machine (the SVG needs a CJK font installed)."""
    return export_spec(chart.to_dict(), folder, name)


def export_spec(spec: dict, folder: Path, name: str) -> list[Path]:
    """`export` of a chart's Vega-Lite spec. The PNG is rasterised from the SVG (the bytes vl-convert's
    Vega-Lite-to-PNG gives, without laying the chart out twice)."""
    global _fonts_registered
    if not _fonts_registered:
        vlc.register_font_directory(str(FONT_DIR))
        _fonts_registered = True
    folder.mkdir(parents=True, exist_ok=True)
    svg_path = folder / f"{name}.svg"
    png_path = folder / f"{name}.png"
    svg = vlc.vegalite_to_svg(spec)
    svg_path.write_text(svg, encoding="utf-8")
    png_path.write_bytes(vlc.svg_to_png(svg, scale=2))
    return [svg_path, png_path]
