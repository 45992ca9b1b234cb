"""Consistency of a scenario with its dataset, and of a dataset's tables with each other: every rule a run would hit.

One `check_*` function per rule; each returns the problems it finds as (field, bad value, what is expected), the
expectation naming the fix (the valid names, the valid range). `check_dataset` and `check_scenario` run them all and
raise ONE DatasetError / ScenarioError listing every problem, so a modeller fixes a file in one pass. Both `prepare`
(before a run writes anything) and `transport validate` call them, on tables loaded without the freight calibration
(transport.dataset.load_dataset(calibrate=False)), so validating takes about a second.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from networks.osm import snap_points
from transport.dataset import Dataset, load_dataset, read_manifest
from transport.errors import DatasetError, Problem, ScenarioError
from transport.freight.names import PINGLU_CANAL, TRUNK_OSM
from transport.levers import UNCERTAIN
from transport.scenario import LogNormal, Normal, Scenario, Triangular, Uniform, load_scenario

CANAL_NEVER = 2100
NO_CAPACITY_GROUP = "none"  # terminals.csv: the terminal loads no capacity group
SNAP_KM = 1.0  # a zone, terminal or new link end farther than this from its layer's nearest node is not on it
MAX_LOG_SD = 3.0  # a log-normal sigma above this spreads one sd over a factor of 20: clipped to the range's ends


def _names(values: object) -> str:
    return ", ".join(sorted({str(v) for v in values}))  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- scenario -> dataset references
def check_rail_spur_terminals(scenario: Scenario, dataset: Dataset) -> list[Problem]:
    """Every rail spur names a terminal of freight/terminals.csv."""
    known = set(dataset.freight.terminals["terminal"].to_list())
    return [
        (
            f"levers.freight.rail_spurs[{i}].terminal",
            spur.terminal,
            f"a terminal of freight/terminals.csv: {_names(known)}",
        )
        for i, spur in enumerate(scenario.levers.freight.rail_spurs)
        if spur.terminal not in known
    ]


def check_sales_rule_cities(scenario: Scenario, dataset: Dataset) -> list[Problem]:
    """Every sales rule and city subsidy for one city names a prefecture city of cities/prefectures.csv."""
    known = dataset.prefectures.cities
    return [
        (f"levers.fleets.sales_rules[{i}].city", rule.city, f"a city of cities/prefectures.csv: {_names(known)}")
        for i, rule in enumerate(scenario.levers.fleets.sales_rules)
        if rule.city is not None and rule.city not in known
    ] + [
        (f"levers.fleets.city_car_nev_subsidy_share.{city}", city, f"a city of cities/prefectures.csv: {_names(known)}")
        for city in scenario.levers.fleets.city_car_nev_subsidy_share
        if city not in known
    ]


def check_capacity_groups(scenario: Scenario, dataset: Dataset) -> list[Problem]:
    """Every capacity expansion names a group of freight/capacity.csv."""
    known = set(dataset.freight.capacity["group"].to_list())
    return [
        (
            f"levers.freight.capacity_expansions[{i}].group",
            exp.group,
            f"a group of freight/capacity.csv: {_names(known)}",
        )
        for i, exp in enumerate(scenario.levers.freight.capacity_expansions)
        if exp.group not in known
    ]


def check_new_link_places(scenario: Scenario, dataset: Dataset) -> list[Problem]:
    """Both ends of every new link are places of freight/places.csv, and the link joins two different places."""
    known = set(dataset.freight.places["place"].to_list())
    problems: list[Problem] = []
    for i, link in enumerate(scenario.levers.freight.new_links):
        for end in ("from_place", "to_place"):
            place = getattr(link, end)
            if place not in known:
                problems.append(
                    (f"levers.freight.new_links[{i}].{end}", place, f"a place of freight/places.csv: {_names(known)}")
                )
        if link.from_place == link.to_place:
            problems.append((f"levers.freight.new_links[{i}].to_place", link.to_place, "a place other than from_place"))
    return problems


def check_canal(scenario: Scenario, dataset: Dataset) -> list[Problem]:
    """The canal lever moves the way with link_id PINGLU_CANAL; a dataset without one can only say 'never' (2100)."""
    year = scenario.levers.freight.pinglu_canal_open_year
    if year == CANAL_NEVER or (dataset.freight.links["link_id"] == PINGLU_CANAL).any():
        return []
    return [
        (
            "levers.freight.pinglu_canal_open_year",
            year,
            f"{CANAL_NEVER} (never): freight/{TRUNK_OSM} has no way with link_id '{PINGLU_CANAL}' for the lever "
            "to open",
        )
    ]


def check_metro_cities(scenario: Scenario, dataset: Dataset) -> list[Problem]:
    """Every city of metro_km_added is a city of urban/cities.csv."""
    known = dataset.urban.cities
    return [
        (f"levers.urban.metro_km_added.{city}", city, f"a city of urban/cities.csv: {_names(known)}")
        for city in scenario.levers.urban.metro_km_added
        if city not in known
    ]


def check_segments(scenario: Scenario, dataset: Dataset) -> list[Problem]:
    """Sales rules and scrappage programmes name segments the dataset's fleets/segments.csv has."""
    known = set(dataset.fleets.segments["segment"].to_list())
    fleets = scenario.levers.fleets
    items = [("sales_rules", i, r.segment) for i, r in enumerate(fleets.sales_rules)]
    items += [("scrappage_programmes", i, p.segment) for i, p in enumerate(fleets.scrappage_programmes)]
    return [
        (f"levers.fleets.{kind}[{i}].segment", segment, f"a segment of fleets/segments.csv: {_names(known)}")
        for kind, i, segment in items
        if segment not in known
    ]


# --------------------------------------------------------------------------- dates and year paths
def _year_paths(scenario: Scenario) -> Iterator[tuple[str, dict[int, float]]]:
    levers = scenario.levers
    for domain in ("fleets", "freight", "urban"):
        model = getattr(levers, domain)
        for name in type(model).model_fields:
            value = getattr(model, name)
            if not isinstance(value, dict) or not value:
                continue
            if all(isinstance(k, int) for k in value):
                yield f"levers.{domain}.{name}", value
            else:  # keyed by city: one path each
                for key, path in value.items():
                    if isinstance(path, dict):
                        yield f"levers.{domain}.{name}.{key}", path


def check_year_paths(scenario: Scenario, dataset: Dataset) -> list[Problem]:
    """Every year-path point lies in the dataset's horizon (base year .. last year of its tables); the schema has
    already made each path non-empty with distinct four-digit years inside 2000-2100."""
    first, last = dataset.manifest.base_year, dataset.manifest.last_year
    problems: list[Problem] = []
    for field, path in _year_paths(scenario):
        if not path:
            problems.append((field, "{}", "at least one year = value point"))
        outside = sorted(y for y in path if not first <= y <= last)
        if outside:
            problems.append(
                (f"{field}.{outside[0]}", outside[0], f"a year within the dataset's horizon {first}-{last}")
            )
    return problems


def check_dates(scenario: Scenario, dataset: Dataset) -> list[Problem]:
    """Dated events in order: a scrappage programme ends after it starts; the scenario starts at the dataset's
    base year and ends inside its tables."""
    problems: list[Problem] = []
    for i, prog in enumerate(scenario.levers.fleets.scrappage_programmes):
        if not prog.end > prog.start:
            problems.append(
                (f"levers.fleets.scrappage_programmes[{i}].end", prog.end, f"a date after its start {prog.start}")
            )
    manifest = dataset.manifest
    if scenario.years.base != manifest.base_year:
        problems.append(("years.base", scenario.years.base, f"the dataset's base year {manifest.base_year}"))
    if not scenario.years.end <= manifest.last_year:
        problems.append(
            (
                "years.end",
                scenario.years.end,
                f"a year within the dataset's range {manifest.base_year + 1}-{manifest.last_year}",
            )
        )
    return problems


def check_distributions(scenario: Scenario, dataset: Dataset) -> list[Problem]:
    """Every distribution's parameters are finite and inside the parameter's valid range (its support is clipped
    to that range, so a spread beyond it puts the members on the range's ends)."""
    problems: list[Problem] = []
    for name, spec in sorted(scenario.uncertain.items()):
        reg = UNCERTAIN[name]
        width = reg.high - reg.low
        field = f"uncertain.{name}"
        if isinstance(spec, float | int):
            values = {"value": float(spec)}
        else:
            values = {k: float(v) for k, v in spec.model_dump().items() if k != "dist"}
        for key, value in values.items():
            if not math.isfinite(value):
                problems.append((f"{field}.{key}", value, "a finite number"))
        if any(not math.isfinite(v) for v in values.values()):
            continue
        if isinstance(spec, Uniform | Triangular):
            for key in ("low", "high"):
                if not reg.low <= values[key] <= reg.high:
                    problems.append((f"{field}.{key}", values[key], f"a value within [{reg.low}, {reg.high}]"))
        elif isinstance(spec, Normal) and not values["sd"] <= width:
            problems.append(
                (f"{field}.sd", values["sd"], f"a value <= {width:g} (the width of [{reg.low}, {reg.high}])")
            )
        elif isinstance(spec, LogNormal):
            limit = math.log(reg.high / reg.low) if reg.low > 0 else MAX_LOG_SD
            if not values["sigma"] <= limit:
                problems.append(
                    (
                        f"{field}.sigma",
                        values["sigma"],
                        f"a value <= {limit:.3g} (log of the range [{reg.low}, {reg.high}])",
                    )
                )
    return problems


SCENARIO_CHECKS = (
    check_rail_spur_terminals,
    check_sales_rule_cities,
    check_capacity_groups,
    check_new_link_places,
    check_canal,
    check_metro_cities,
    check_segments,
    check_year_paths,
    check_dates,
    check_distributions,
)


# --------------------------------------------------------------------------- the dataset's own tables
def check_link_lengths(dataset: Dataset) -> list[Problem]:
    """Every link of the trunk network has a finite length > 0 km (a 0 km link is free to use, a negative one
    pays the router to use it)."""
    links = dataset.freight.links
    bad = links.filter(~pl.col("length_km").is_finite() | (pl.col("length_km") <= 0))
    seen: set[int] = set()
    problems: list[Problem] = []
    for row in bad.iter_rows(named=True):
        if row["osm_way"] in seen:
            continue
        seen.add(row["osm_way"])
        label = f"{TRUNK_OSM}: way {row['osm_way']}" + (f" ({row['name']})" if row["name"] else "")
        problems.append((f"{label} distance", row["length_km"], "a route length > 0 km (tag distance, in km)"))
    return problems


def check_link_ids(dataset: Dataset) -> list[Problem]:
    """A link_id tags one way only (the code finds ways by id, e.g. the canal the lever opens; a second way with the
    same id would move with it). Ways without one ('') are not checked."""
    links = dataset.freight.links.filter(pl.col("link_id") != "")
    ways = links.group_by("link_id").agg(pl.col("osm_way").unique().sort()).filter(pl.col("osm_way").list.len() > 1)
    return [
        (f"{TRUNK_OSM}: link_id (ways {', '.join(str(w) for w in row['osm_way'])})", row["link_id"], "one way per id")
        for row in ways.sort("link_id").iter_rows(named=True)
    ]


def check_terminal_capacity_groups(dataset: Dataset) -> list[Problem]:
    """A terminal's capacity_group is 'none' or matches of terminal rows of capacity.csv joined by '+' (a rail-sea
    yard loads its yard and its port's berths)."""
    freight = dataset.freight
    matches = set(freight.capacity.filter(pl.col("kind") == "terminal")["match"].to_list())
    problems: list[Problem] = []
    for row in freight.terminals.iter_rows(named=True):
        group = row["capacity_group"]
        if group != NO_CAPACITY_GROUP and not set(group.split("+")) <= matches:
            problems.append(
                (
                    f"terminals.csv: capacity_group (terminal {row['terminal']})",
                    group,
                    f"'{NO_CAPACITY_GROUP}' or terminal matches of capacity.csv joined by '+': "
                    f"{_names(matches) or 'none listed'}",
                )
            )
    return problems


def check_capacity_matches(dataset: Dataset) -> list[Problem]:
    """Each link group of capacity.csv matches the name of a way of the trunk network (else it loads nothing)."""
    freight = dataset.freight
    names = set(freight.links["name"].to_list())
    return [
        (f"capacity.csv: match (group {row['group']})", row["match"], f"the name of a way of {TRUNK_OSM}")
        for row in freight.capacity.filter(pl.col("kind") == "link").iter_rows(named=True)
        if row["match"] not in names
    ]


def check_zone_connectivity(dataset: Dataset) -> list[Problem]:
    """Every zone with demand sits on its access layer (a node within SNAP_KM) and reaches another zone over the
    network (links of any year, terminals joining layers); otherwise its freight would vanish without a word."""
    freight = dataset.freight
    nodes, links = freight.nodes, freight.links
    xy = {r["place"]: (r["lon"], r["lat"]) for r in freight.places.iter_rows(named=True)}
    demand = freight.zone_commodity.group_by("zone").agg(
        (pl.col("production_factor").sum() + pl.col("attraction_factor").sum()).alias("factor")
    )
    factor = dict(zip(demand["zone"].to_list(), demand["factor"].to_list(), strict=True))
    n = nodes.height
    rows = links["from_node"].to_list()
    cols = links["to_node"].to_list()
    for t in freight.terminals.iter_rows(named=True):  # a terminal joins its two layers at its place
        lon, lat = xy[t["place"]]
        (a,), km_a = snap_points(nodes, np.array([lon]), np.array([lat]), t["layer_a"])
        (b,), km_b = snap_points(nodes, np.array([lon]), np.array([lat]), t["layer_b"])
        if a >= 0 and b >= 0 and km_a[0] <= SNAP_KM and km_b[0] <= SNAP_KM:
            rows.append(int(a))
            cols.append(int(b))
    if n == 0:
        return [(f"{TRUNK_OSM}: ways", 0, "a trunk network with at least one way per zone's access layer")]
    adjacency = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _count, component = connected_components(adjacency, directed=False)
    zone_node: dict[str, int] = {}
    problems: list[Problem] = []
    for z in freight.zones.iter_rows(named=True):
        if z["mass_bn_yuan"] <= 0 or factor.get(z["zone"], 0.0) <= 0:
            continue  # no demand: nothing to lose
        lon, lat = xy[z["place"]]
        (node,), km = snap_points(nodes, np.array([lon]), np.array([lat]), z["access_layer"])
        if node < 0 or km[0] > SNAP_KM:
            problems.append(
                (
                    f"zones.csv: zone {z['zone']}",
                    z["place"],
                    f"a place on the {z['access_layer']} network of {TRUNK_OSM} (nearest {z['access_layer']} node "
                    f"{'none' if node < 0 else f'{km[0]:.0f} km'} away); its demand would be lost",
                )
            )
        else:
            zone_node[z["zone"]] = int(node)
    by_component: dict[int, list[str]] = {}
    for zone, node in zone_node.items():
        by_component.setdefault(int(component[node]), []).append(zone)
    for members in by_component.values():
        if len(members) == 1 and len(zone_node) > 1:
            problems.append(
                (
                    f"zones.csv: zone {members[0]}",
                    members[0],
                    f"a zone connected to the other zones over {TRUNK_OSM} (its network part reaches no other zone); "
                    "its demand would be lost",
                )
            )
    return problems


def check_prefecture_references(dataset: Dataset) -> list[Problem]:
    """Every prefecture city names a city zone of freight/zones.csv, and every urban city is a prefecture city."""
    problems: list[Problem] = []
    zones = dataset.freight.zones.filter(pl.col("kind") == "city")["zone"].to_list()
    for zone in dataset.prefectures.freight_zones:
        if zone not in zones:
            problems.append(
                (f"cities/prefectures.csv: freight_zone {zone}", zone, f"a city zone of zones.csv: {_names(zones)}")
            )
    for city in dataset.urban.cities:
        if city not in dataset.prefectures.cities:
            problems.append(
                (
                    f"urban/cities.csv: city {city}",
                    city,
                    f"a city of cities/prefectures.csv: {_names(dataset.prefectures.cities)}",
                )
            )
    return problems


DATASET_CHECKS = (
    check_prefecture_references,
    check_link_lengths,
    check_link_ids,
    check_terminal_capacity_groups,
    check_capacity_matches,
    check_zone_connectivity,
)


def check_dataset(dataset: Dataset) -> None:
    """Raise one DatasetError (naming the dataset's freight folder) listing every problem of DATASET_CHECKS."""
    problems = [p for check in DATASET_CHECKS for p in check(dataset)]
    if problems:
        raise DatasetError.collected(Path(dataset.folder) / "freight", problems)


def check_scenario(scenario: Scenario, dataset: Dataset, where: Path | str) -> None:
    """Raise one ScenarioError (naming the scenario file) listing every problem of SCENARIO_CHECKS."""
    problems = [p for check in SCENARIO_CHECKS for p in check(scenario, dataset)]
    if problems:
        raise ScenarioError.collected(where, problems)


def checked_inputs(scenario_name: str | Path) -> tuple[Scenario, Path, Dataset]:
    """The scenario and its dataset (tables read, not calibrated) after every check a run would hit: what
    `transport validate` runs, and the first step of runs.execute.prepare."""
    scenario, path = load_scenario(scenario_name)
    folder = scenario.dataset_path(relative_to=path.parent)
    if not folder.is_dir():
        raise ScenarioError(
            path, "dataset", scenario.dataset, f"a shipped dataset or a dataset folder (relative to the file): {folder}"
        )
    manifest = read_manifest(folder)
    if scenario.years.base != manifest.base_year:
        raise ScenarioError(path, "years.base", scenario.years.base, f"the dataset's base year {manifest.base_year}")
    dataset = load_dataset(folder, calibrate=False)
    check_dataset(dataset)
    check_scenario(scenario, dataset, path)
    return scenario, path, dataset
