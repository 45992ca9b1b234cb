"""Scenario files: the TOML schema (pydantic models), `extends` inheritance, and sampling of uncertain parameters.

The pydantic models here are the single source of truth for what a scenario may say: they validate files, generate
the JSON schema (transport/schema/scenario.schema.json) and the lever documentation (docs/levers.md).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy import stats
from scipy.stats import qmc

from transport.errors import ScenarioError
from transport.levers import UNCERTAIN, Levers

SCENARIO_DIR = Path(__file__).parent / "scenarios"
DATA_DIR = Path(__file__).parent / "data"
DEFAULT_DATASET = "guangxi"


class _Strict(BaseModel):
    # inf and nan are not numbers a scenario can mean (sd = inf would make every member a clipped extreme)
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Normal(_Strict):
    """Normal distribution; samples are clipped to the parameter's valid range."""

    dist: Literal["normal"]
    mean: float
    sd: float = Field(gt=0)

    def frozen(self) -> Any:
        return stats.norm(loc=self.mean, scale=self.sd)

    def central(self) -> float:
        """The value of the central member (member 0)."""
        return self.mean


class LogNormal(_Strict):
    """Log-normal distribution given by its median and the standard deviation of log(x)."""

    dist: Literal["lognormal"]
    median: float = Field(gt=0)
    sigma: float = Field(gt=0)

    def frozen(self) -> Any:
        return stats.lognorm(s=self.sigma, scale=self.median)

    def central(self) -> float:
        """The value of the central member (member 0)."""
        return self.median


class Uniform(_Strict):
    """Uniform distribution on [low, high]."""

    dist: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if not self.high > self.low:
            raise ValueError(f"high ({self.high}) must be greater than low ({self.low})")
        return self

    def frozen(self) -> Any:
        return stats.uniform(loc=self.low, scale=self.high - self.low)

    def central(self) -> float:
        """The value of the central member (member 0): the midpoint."""
        return 0.5 * (self.low + self.high)


class Triangular(_Strict):
    """Triangular distribution with minimum `low`, mode `mode` and maximum `high`."""

    dist: Literal["triangular"]
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not (self.low <= self.mode <= self.high and self.high > self.low):
            raise ValueError(f"need low <= mode <= high and low < high, got {self.low}, {self.mode}, {self.high}")
        return self

    def frozen(self) -> Any:
        width = self.high - self.low
        return stats.triang(c=(self.mode - self.low) / width, loc=self.low, scale=width)

    def central(self) -> float:
        """The value of the central member (member 0): the mode, the most likely value (the best estimate that a
        triangular distribution is usually built around), not the median of a skewed triangle."""
        return self.mode


Distribution = Annotated[Normal | LogNormal | Uniform | Triangular, Field(discriminator="dist")]


class Years(_Strict):
    """The simulated period. The base year is the dataset's base year (2020 for Guangxi)."""

    base: int = Field(2020, ge=2000, le=2100, description="First simulated year (the calibration year)")
    end: int = Field(2060, ge=2000, le=2100, description="Last simulated year")

    @model_validator(mode="after")
    def _ordered(self) -> Years:
        if self.end <= self.base:
            raise ValueError(f"end ({self.end}) must be after base ({self.base})")
        return self


class Scenario(_Strict):
    """A policy scenario: levers, uncertain parameters and the dataset it runs on."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$", description="Short identifier")
    description: str = Field("", description="One line shown by `transport scenarios`")
    dataset: str = Field(DEFAULT_DATASET, description="Shipped dataset name or path to a dataset folder")
    years: Years = Field(default_factory=Years)
    levers: Levers = Field(default_factory=Levers)
    uncertain: dict[str, float | Distribution] = Field(
        default_factory=dict,
        description="Uncertain parameters: a fixed value or a distribution (normal, lognormal, uniform, triangular)",
    )

    @model_validator(mode="after")
    def _known_uncertain(self) -> Scenario:
        for name, spec in self.uncertain.items():
            if name not in UNCERTAIN:
                raise ValueError(f"unknown uncertain parameter '{name}'; known: {', '.join(sorted(UNCERTAIN))}")
            reg = UNCERTAIN[name]
            centre = spec if isinstance(spec, float | int) else spec.central()
            if not reg.low <= centre <= reg.high:
                raise ValueError(f"uncertain.{name} = {centre} lies outside its valid range [{reg.low}, {reg.high}]")
        return self

    def resolved_hash(self) -> str:
        """sha256 of the validated scenario (canonical JSON): equal hashes mean identical model inputs."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def to_toml(self) -> str:
        """The fully resolved scenario as TOML (no `extends`): running it again reproduces the run."""
        return tomli_w.dumps(_drop_none(self.model_dump(mode="json")))

    def dataset_path(self, relative_to: Path | None = None) -> Path:
        """Folder of the dataset this scenario runs on."""
        shipped = DATA_DIR / self.dataset
        if "/" not in self.dataset and shipped.is_dir():
            return shipped
        path = Path(self.dataset)
        if not path.is_absolute() and relative_to is not None:
            path = relative_to / path
        return path


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def shipped_scenarios() -> dict[str, Path]:
    """Names and files of the scenarios shipped with the package, in a stable order (baseline first)."""
    files = {p.stem: p for p in sorted(SCENARIO_DIR.glob("*.toml"))}
    order = ["baseline", "history", "plan", "accelerated"]
    return {name: files[name] for name in [*order, *sorted(set(files) - set(order))] if name in files}


def scenario_file(name_or_path: str) -> Path:
    """The file for a shipped scenario name or a path; raises ScenarioError if neither exists."""
    shipped = shipped_scenarios()
    if name_or_path in shipped:
        return shipped[name_or_path]
    path = Path(name_or_path)
    if path.suffix == ".toml" or "/" in name_or_path:
        if not path.is_file():
            raise ScenarioError(path, "file", str(path), "an existing scenario TOML file")
        return path
    raise ScenarioError("scenario", "name", name_or_path, f"a shipped scenario ({', '.join(shipped)}) or a .toml path")


MAX_EXTENDS_DEPTH = 32  # a longer `extends` chain is a mistake (and would exhaust Python's recursion limit)
MAX_SCENARIO_BYTES = 1_000_000  # scenario files are a few kB; anything this big is not one


def _read_scenario_toml(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_SCENARIO_BYTES:
            raise ScenarioError(path, "file", f"{path.stat().st_size} bytes", "a scenario TOML file under 1 MB")
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, "toml", str(exc), "valid TOML syntax") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(path, "encoding", f"byte {exc.start}", "a UTF-8 text file (TOML)") from None
    except RecursionError:
        raise ScenarioError(path, "toml", "nested too deeply", "tables and arrays nested a few levels") from None
    except OSError as exc:
        raise ScenarioError(path, "file", str(path), f"a readable file ({exc.strerror})") from None


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`, recursing into tables; arrays and values are replaced whole."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def raw_with_parents(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The scenario file's tables merged over its `extends` chain (unvalidated; `extends` resolved away)."""
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(p.stem for p in (*chain, resolved))
        raise ScenarioError(path, "extends", cycle, "a chain of scenarios without a cycle")
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise ScenarioError(path, "extends", f"a chain {len(chain) + 1} files deep", f"at most {MAX_EXTENDS_DEPTH}")
    raw = _read_scenario_toml(path)
    parent_name = raw.pop("extends", None)
    if parent_name is None:
        return raw
    if not isinstance(parent_name, str):
        raise ScenarioError(path, "extends", parent_name, "the name of a shipped scenario or a path to a TOML file")
    candidate = path.parent / parent_name
    if parent_name in shipped_scenarios() and not candidate.is_file():
        parent_path = shipped_scenarios()[parent_name]
    elif candidate.is_file():
        parent_path = candidate
    elif (path.parent / f"{parent_name}.toml").is_file():
        parent_path = path.parent / f"{parent_name}.toml"
    else:
        raise ScenarioError(
            path, "extends", parent_name, f"a shipped scenario ({', '.join(shipped_scenarios())}) or file"
        )
    parent = raw_with_parents(parent_path, (*chain, resolved))
    parent.pop("description", None)
    return deep_merge(parent, raw)


def load_scenario(name_or_path: str | Path) -> tuple[Scenario, Path]:
    """Load and validate a scenario (shipped name or TOML path), resolving `extends`. Returns it and its file."""
    path = scenario_file(str(name_or_path))
    raw = raw_with_parents(path)
    return validate_scenario_dict(raw, path), path


def validate_scenario_dict(raw: Mapping[str, Any], where: Path | str) -> Scenario:
    """Validate a raw scenario mapping; the first problem becomes a one-line ScenarioError."""
    try:
        return Scenario.model_validate(raw)
    except RecursionError:
        raise ScenarioError(where, "scenario", "nested too deeply", "tables nested as in docs/levers.md") from None
    except ValidationError as exc:
        # In a union (a value or a distribution) report the branch the user meant: the deepest, not the plain number.
        err = min(exc.errors(), key=lambda e: ("float" in e["loc"], -len(e["loc"])))
        field = ".".join(str(p) for p in err["loc"] if p != "float") or "scenario"
        value = err.get("input", "")
        if isinstance(value, Mapping):
            value = "{...}"
        raise ScenarioError(where, field, value, _expectation(err)) from None


def _expectation(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "a known key (see docs/levers.md); this key is not allowed here"
    if kind == "missing":
        return "this required key"
    return str(err["msg"]).removeprefix("Value error, ")


def sample_parameters(scenario: Scenario, members: int, seed: int) -> dict[str, np.ndarray]:
    """Values of every uncertain parameter for each member, shape (members,).

    Member 0 is the central estimate (declared value, or the distribution's `central()`: mean, median, midpoint
    or mode). Members 1..N-1 are a Latin hypercube over the declared distributions, drawn once for the whole
    ensemble from a seed derived from (seed, names of the sampled parameters): any split of members into chunks sees
    the same rows, so results do not depend on chunking; and scenarios that sample the same parameters get the same
    draws (common random numbers), so the difference between two scenarios' member k is the policy, not the luck.
    Samples are clipped to each parameter's valid range. Parameters the scenario does not declare keep the
    registry default for every member.
    """
    if members < 1:
        raise ScenarioError("--members", "members", members, "an integer >= 1")
    values = {name: np.full(members, spec.default, dtype=float) for name, spec in UNCERTAIN.items()}
    names = sorted(scenario.uncertain)
    sampled = [n for n in names if not isinstance(scenario.uncertain[n], float | int)]
    for name in names:
        spec = scenario.uncertain[name]
        values[name][:] = float(spec) if isinstance(spec, float | int) else spec.central()
    if members > 1 and sampled:
        design = latin_hypercube(members - 1, len(sampled), seed, "|".join(sampled))
        for j, name in enumerate(sampled):
            dist = scenario.uncertain[name]
            assert not isinstance(dist, float | int)
            reg = UNCERTAIN[name]
            values[name][1:] = np.clip(dist.frozen().ppf(design[:, j]), reg.low, reg.high)
    return values


def latin_hypercube(rows: int, dims: int, seed: int, channel: str) -> np.ndarray:
    """A Latin hypercube in (0, 1)^dims seeded by (seed, channel) through numpy's SeedSequence."""
    channel_key = int.from_bytes(hashlib.sha256(channel.encode()).digest()[:8], "little")
    rng = np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(channel_key,)))
    return qmc.LatinHypercube(d=dims, rng=rng).random(rows)


def scenario_json_schema() -> dict[str, Any]:
    """JSON schema of a scenario file, generated from the pydantic models."""
    schema = Scenario.model_json_schema()
    schema["$comment"] = "Generated from transport.scenario.Scenario; regenerate with `just schema`."
    return schema
