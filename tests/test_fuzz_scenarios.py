"""Fuzzing: 1,000 mutated scenario files through `transport validate` (in-process entry point), 0 crashes.

Every mutation (bytes flipped, inserted, deleted or truncated; or a value, table or key of the parsed file replaced
by numbers huge, negative, infinite or NaN, text, empty tables and arrays) must give exit 0 (still valid) or exit 2
with one line on stderr and no traceback. The dataset is read once (load_dataset cached by folder), so the cases
cost milliseconds; everything else is what `transport validate` runs.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path
from typing import Any
from unittest import mock

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import transport.consistency
from tests.conftest import cli_in_process
from transport.scenario import shipped_scenarios

CUSTOM = """
name = "fuzz"
extends = "baseline"
[years]
end = 2040
[[levers.freight.rail_spurs]]
terminal = "Qinzhou Port East rail-sea yard"
year = 2025
drayage_km_saved = 5.0
[[levers.freight.capacity_expansions]]
group = "Qinzhou port"
year = 2030
added_mt = 20.0
[levers.urban.metro_km_added]
nanning = { 2025 = 20.0, 2030 = 60.0 }
[[levers.fleets.scrappage_programmes]]
segment = "heavy_truck"
powertrains = ["diesel"]
max_vintage = 2013
start = 2024.0
end = 2027.0
[uncertain.fleet_vkt_factor]
dist = "normal"
mean = 1.0
sd = 0.05
"""
BASES = [CUSTOM.encode(), *(path.read_bytes() for path in shipped_scenarios().values())]


@st.composite
def byte_mutations(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "repeat"]))
        if op == "flip":
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif op == "truncate":
            del data[at:]
        else:
            end = data.find(b"\n", at) + 1 or len(data)
            data[at:at] = data[at:end]
    return bytes(data)


values = st.recursive(
    st.one_of(
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
        st.booleans(),
        st.sampled_from(["nanning", "Qinzhou port", "heavy_truck", "normal", "2030", "diesel", ""]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["2030", "02030", "-5", "3000", "dist", "x", "2020"]), inner, max_size=3),
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


@st.composite
def value_mutations(draw: st.DrawFn) -> bytes:
    raw = tomllib.loads(draw(st.sampled_from(BASES)).decode())
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(raw)
        path = draw(st.sampled_from(paths))
        parent: Any = raw
        for key in path[:-1]:
            parent = parent[key]
        op = draw(st.sampled_from(["replace", "delete", "add"]))
        if op == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["warp", "2031", "end", "sd", "extends"]))] = draw(values)
        else:
            parent[path[-1]] = draw(values)
    try:
        return tomli_w.dumps(raw).encode()
    except (TypeError, ValueError):  # not representable in TOML (a NaN key, a mixed array): keep the original
        return tomli_w.dumps(tomllib.loads(BASES[0].decode())).encode()


_load_dataset = transport.consistency.load_dataset


@functools.cache
def _dataset(folder: Path, calibrate: bool) -> Any:
    return _load_dataset(folder, calibrate=calibrate)


def _cached_load_dataset(folder: Path, *, calibrate: bool = False) -> Any:
    return _dataset(Path(folder).resolve(), calibrate)


@settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(st.one_of(byte_mutations(), value_mutations()))
def test_mutated_scenarios_never_crash_validate(tmp_path_factory: Any, data: bytes) -> None:
    folder = tmp_path_factory.mktemp("fuzz", numbered=True)
    path = folder / "fuzz.toml"
    path.write_bytes(data)
    with mock.patch.object(transport.consistency, "load_dataset", _cached_load_dataset):
        result = cli_in_process("validate", str(path))
    assert result.code in (0, 2), (data[:300], result.stderr[-2000:])
    assert "Traceback" not in result.stderr, (data[:300], result.stderr[-2000:])
    if result.code == 2:
        assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1, result.stderr
