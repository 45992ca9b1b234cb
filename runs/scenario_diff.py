"""What a scenario changes against another: lever by lever, with values and years, as rows for people to read.

A stored run keeps its fully resolved scenario (`runs.scenario_toml`), so two runs can be compared without the
scenario files; the parent of a shipped scenario is the one it `extends`, and the defaults of the lever models
(the baseline: policies in force in 2020) stand in for a scenario without a parent.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

from transport.levers import Levers
from transport.scenario import Scenario, scenario_file, shipped_scenarios, validate_scenario_dict

DEFAULTS = "defaults (2020 policies)"


def scenario_from_toml(text: str, where: str) -> Scenario:
    """The scenario stored in a run's `scenario_toml`."""
    return validate_scenario_dict(tomllib.loads(text), where)


def shipped_parent(name: str) -> str | None:
    """The scenario a shipped scenario extends (None for a root scenario or one not shipped)."""
    if name not in shipped_scenarios():
        return None
    raw = tomllib.loads(scenario_file(name).read_text(encoding="utf-8"))
    parent = raw.get("extends")
    return str(parent) if parent else None


def _fmt_scalar(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) >= 10_000:
        return f"{int(value):,d}"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return "/".join(_fmt_scalar(v) for v in value)
    return str(value)


def _fmt_item(item: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {_fmt_scalar(v)}" for k, v in item.items() if v is not None)


def _is_year_path(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(str(k).lstrip("-").isdigit() for k in value)


def fmt_lever(value: Any) -> str:
    """A lever value as text: a year path as 'year: value' pairs, a per-city path per city, rules one by one."""
    if _is_year_path(value):
        return ", ".join(f"{k}: {_fmt_scalar(v)}" for k, v in sorted(value.items(), key=lambda kv: int(kv[0])))
    if isinstance(value, dict):
        return "; ".join(f"{k} ({fmt_lever(v)})" for k, v in sorted(value.items())) or "none"
    if isinstance(value, list):
        return "; ".join(_fmt_item(v) if isinstance(v, dict) else _fmt_scalar(v) for v in value) or "none"
    return _fmt_scalar(value)


def _levers(scenario: Scenario | None) -> dict[str, dict[str, Any]]:
    levers = scenario.levers if scenario is not None else Levers()
    return levers.model_dump(mode="json")


def lever_changes(child: Scenario, parent: Scenario | None) -> list[dict[str, str]]:
    """Every lever whose value differs between `parent` (None: the lever defaults) and `child`.

    Rows: lever (domain.name), before, after. Lists of rules show the rules added and removed, not the whole list.
    """
    before, after = _levers(parent), _levers(child)
    rows: list[dict[str, str]] = []
    for domain, fields in after.items():
        for name, value in fields.items():
            old = before.get(domain, {}).get(name)
            if old == value:
                continue
            lever = f"{domain}.{name}"
            if isinstance(value, list) and isinstance(old, list):
                removed = [v for v in old if v not in value]
                added = [v for v in value if v not in old]
                gone = "removed: " + fmt_lever(removed) if removed else "-"
                rows.append({"lever": lever, "before": gone, "after": "added: " + fmt_lever(added) if added else "-"})
            else:
                rows.append({"lever": lever, "before": fmt_lever(old), "after": fmt_lever(value)})
    return rows
