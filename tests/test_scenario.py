"""Scenario files: schema, inheritance, errors, sampling, and the generated schema/docs kept in sync."""

from __future__ import annotations

import string
from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from scipy import stats

from transport.errors import ScenarioError
from transport.levers import UNCERTAIN
from transport.scenario import (
    Scenario,
    deep_merge,
    load_scenario,
    sample_parameters,
    shipped_scenarios,
    validate_scenario_dict,
)
from transport.schema_docs import LEVERS_DOC_PATH, SCHEMA_PATH, levers_markdown, schema_text


def _write(path: Path, data: dict) -> Path:
    path.write_text(tomli_w.dumps(data))
    return path


def test_shipped_scenarios_load_and_differ() -> None:
    names = list(shipped_scenarios())
    assert names[:4] == ["baseline", "history", "plan", "accelerated"]
    hashes = {name: load_scenario(name)[0].resolved_hash() for name in names}
    assert len(set(hashes.values())) == len(names), "each shipped scenario must change something"


def test_extends_overrides_only_what_it_names(tmp_path: Path) -> None:
    base, _ = load_scenario("baseline")
    child = _write(tmp_path / "child.toml", {"name": "child", "extends": "baseline", "years": {"end": 2040}})
    scenario, _ = load_scenario(str(child))
    assert scenario.years.end == 2040 and scenario.years.base == base.years.base
    assert scenario.levers == base.levers


def test_resolved_toml_round_trips(tmp_path: Path) -> None:
    for name in shipped_scenarios():
        scenario, _ = load_scenario(name)
        again = _write(tmp_path / f"{name}.toml", {})
        again.write_text(scenario.to_toml())
        reloaded, _ = load_scenario(str(again))
        assert reloaded.resolved_hash() == scenario.resolved_hash()


def test_circular_extends_is_named(tmp_path: Path) -> None:
    _write(tmp_path / "a.toml", {"name": "a", "extends": "b.toml"})
    _write(tmp_path / "b.toml", {"name": "b", "extends": "a.toml"})
    with pytest.raises(ScenarioError, match="a -> b -> a"):
        load_scenario(str(tmp_path / "a.toml"))


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "x", "colour": "red"}, "colour"),
        ({"name": "x", "years": {"end": "soon"}}, "years.end"),
        ({"name": "x", "years": {"end": 2010}}, "years"),
        ({"name": "x", "uncertain": {"no_such_parameter": 1.0}}, "uncertain"),
        ({"name": "x", "uncertain": {next(iter(UNCERTAIN)): {"dist": "normal", "mean": 0, "sd": -1}}}, "sd"),
        ({"name": "x", "uncertain": {next(iter(UNCERTAIN)): {"dist": "weibull", "k": 2}}}, "uncertain"),
        ({"name": "x", "levers": {"nonsense": {}}}, "levers.nonsense"),
        ({"name": "bad name!"}, "name"),
    ],
)
def test_invalid_scenarios_give_one_line(data: dict, field: str) -> None:
    with pytest.raises(ScenarioError) as info:
        validate_scenario_dict(data, "s.toml")
    line = info.value.one_line()
    assert line.startswith("s.toml: ") and field in line and "expected" in line and "\n" not in line


def test_out_of_range_uncertain_value_is_refused() -> None:
    name, spec = next(iter(UNCERTAIN.items()))
    with pytest.raises(ScenarioError, match="valid range"):
        validate_scenario_dict({"name": "x", "uncertain": {name: spec.high + abs(spec.high) + 1.0}}, "s.toml")


_keys = st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=12)
_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _values, max_size=6))
def test_parser_never_crashes_on_arbitrary_tables(data: dict) -> None:
    """Any mapping is either a valid scenario or a one-line ScenarioError, never another exception."""
    data = {k: v for k, v in data.items() if v is not None}
    try:
        scenario = validate_scenario_dict(data, "s.toml")
    except ScenarioError as exc:
        assert "\n" not in exc.one_line()
    else:
        assert isinstance(scenario, Scenario)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=4), st.dictionaries(_keys, _values, max_size=4))
def test_deep_merge_prefers_override_and_keeps_the_rest(base: dict, override: dict) -> None:
    merged = deep_merge(base, override)
    assert set(merged) == set(base) | set(override)
    for key, value in override.items():
        if not (isinstance(value, dict) and isinstance(base.get(key), dict)):
            assert merged[key] == value
    for key in set(base) - set(override):
        assert merged[key] == base[key]


def test_sampling_member_zero_is_central_and_reproducible() -> None:
    name, spec = next(iter(UNCERTAIN.items()))
    width = spec.high - spec.low
    scenario = validate_scenario_dict(
        {
            "name": "s",
            "uncertain": {name: {"dist": "uniform", "low": spec.low + 0.1 * width, "high": spec.low + 0.9 * width}},
        },
        "s.toml",
    )
    a = sample_parameters(scenario, 201, seed=7)
    b = sample_parameters(scenario, 201, seed=7)
    c = sample_parameters(scenario, 201, seed=8)
    assert np.array_equal(a[name], b[name]) and not np.array_equal(a[name], c[name])
    assert a[name][0] == pytest.approx(spec.low + 0.5 * width)
    # Latin hypercube: exactly one sample in each of the 200 equal-probability strata.
    strata = np.floor((a[name][1:] - (spec.low + 0.1 * width)) / (0.8 * width) * 200).astype(int)
    assert sorted(strata) == list(range(200))
    # and the sample's distribution is the declared one (KS test)
    assert stats.kstest(a[name][1:], stats.uniform(spec.low + 0.1 * width, 0.8 * width).cdf).pvalue > 0.05
    # the central member does not depend on the ensemble size
    assert sample_parameters(scenario, 1, seed=7)[name][0] == a[name][0]


def test_generated_schema_and_lever_docs_are_in_sync() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), "run `just schema`"
    assert LEVERS_DOC_PATH.read_text(encoding="utf-8") == levers_markdown(), "run `just schema`"
