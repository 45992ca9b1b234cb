"""Generate the scenario JSON schema and the lever documentation from the pydantic models (`just schema`).

The models are the single source of truth; tests/test_scenario.py fails when the committed files drift from them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from transport.levers import UNCERTAIN, Levers
from transport.scenario import scenario_json_schema

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = Path(__file__).parent / "schema" / "scenario.schema.json"
LEVERS_DOC_PATH = ROOT / "docs" / "levers.md"


def schema_text() -> str:
    """The scenario JSON schema, pretty-printed."""
    return json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _limits(metadata: list[Any]) -> tuple[Any, Any]:
    low = high = None
    for meta in metadata:
        for name in ("ge", "gt"):
            low = getattr(meta, name, None) if getattr(meta, name, None) is not None else low
        for name in ("le", "lt"):
            high = getattr(meta, name, None) if getattr(meta, name, None) is not None else high
        if isinstance(meta, FieldInfo):
            inner = _limits(list(meta.metadata))
            low, high = inner[0] if inner[0] is not None else low, inner[1] if inner[1] is not None else high
    return low, high


def _num(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) and abs(value) >= 10_000 else str(value)


def _range(low: Any, high: Any) -> str:
    if low is None and high is None:
        return "any"
    if low is None:
        return f"<= {_num(high)}"
    if high is None:
        return f">= {_num(low)}"
    return f"{_num(low)} to {_num(high)}"


def _leaf(annotation: Any) -> tuple[str, str]:
    """(type in words, valid range) of a scalar annotation, Annotated bounds included."""
    metadata: list[Any] = []
    if get_origin(annotation) is Annotated:
        annotation, *metadata = get_args(annotation)
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in get_args(annotation)), "-"
    if get_origin(annotation) is list:
        item, _ = _leaf(get_args(annotation)[0])
        return f"list of {item}", "-"
    name = {int: "integer", float: "number", str: "text", bool: "true/false"}.get(annotation, str(annotation))
    return name, _range(*_limits(metadata))


def _described(info: FieldInfo) -> tuple[str, str]:
    """(type in words, valid range) of a lever or rule field."""
    annotation = info.annotation
    if get_origin(annotation) is dict:
        key, value = get_args(annotation)
        if get_origin(value) is dict:
            _, inner = get_args(value)
            kind, limits = _leaf(inner)
            return f"per {key.__name__ if key is not str else 'city'}: year path {{year: {kind}}}", limits
        kind, limits = _leaf(value)
        return f"year path {{year: {kind}}}, interpolated", limits
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        if isinstance(item, type) and issubclass(item, BaseModel):
            return f"list of `{item.__name__}` rules (fields below)", "per field, below"
    kind, limits = _leaf(annotation)
    own = _limits(list(info.metadata))
    return kind, _range(*own) if own != (None, None) else limits


# The unit of a lever, read from its name (the project names quantities with their unit); the description says more.
_UNITS = (
    ("_yuan_teu", "yuan per TEU"),
    ("_yuan_t", "yuan per tonne CO2"),
    ("_per_million", "km per million urban residents"),
    ("_km_added", "km of line"),
    ("_share", "share (0-1)"),
    ("_tax_factor", "share of the normal tax (0-1)"),
    ("_factor", "factor (1 = as in 2020)"),
    ("_change", "relative change (0.1 = +10 %)"),
    ("_gain", "relative change (0.1 = +10 %)"),
    ("_year", "calendar year"),
    ("_mt", "Mt per year"),
    ("_km_saved", "km of road drayage saved"),
    ("chargers", "charging points"),
)


def _unit(name: str) -> str:
    return next((unit for suffix, unit in _UNITS if name.endswith(suffix)), "-")


def _default(info: FieldInfo) -> Any:
    value = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def levers_markdown() -> str:
    """Markdown tables of every lever (meaning, type, unit, default = baseline, valid range), of the fields of every
    rule type, and of the uncertain parameters."""
    lines = [
        "# Scenario levers and uncertain parameters",
        "",
        "Generated from the pydantic models by `just schema` (python -m transport.schema_docs); do not edit by hand.",
        "A scenario file sets levers under `[levers.<domain>]`; defaults are the baseline (policies in force in 2020).",
        "A year path `{year: value}` is interpolated linearly between the years given and held flat outside them;",
        "every value of it must lie in the valid range. A value outside its range is refused with one line naming it.",
        "",
    ]
    rules: dict[str, type[BaseModel]] = {}
    for domain, info in Levers.model_fields.items():
        model = info.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        lines += [
            f"## `[levers.{domain}]` - {info.description}",
            "",
            "| lever | type | unit | default | valid range | meaning |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for name, field in model.model_fields.items():
            kind, limits = _described(field)
            if get_origin(field.annotation) is list:
                (item,) = get_args(field.annotation)
                if isinstance(item, type) and issubclass(item, BaseModel):
                    rules[item.__name__] = item
            lines.append(
                f"| `{name}` | {_cell(kind)} | {_unit(name)} | `{_default(field)}` | {limits} | "
                f"{_cell(field.description or '')} |"
            )
        lines.append("")
    for rule_name, rule in rules.items():
        lines += [
            f"### Rule `{rule_name}`"
            + (f" - {_cell((rule.__doc__ or '').strip().splitlines()[0])}" if rule.__doc__ else ""),
            "",
            "| field | type | valid range | meaning |",
            "| --- | --- | --- | --- |",
        ]
        for name, field in rule.model_fields.items():
            kind, limits = _described(field)
            lines.append(f"| `{name}` | {_cell(kind)} | {limits} | {_cell(field.description or '')} |")
        lines.append("")
    lines += [
        "## `[uncertain]` - uncertain parameters",
        "",
        'A value, or a table `{dist = "normal"|"lognormal"|"uniform"|"triangular", ...}`. Samples are '
        "clipped to the valid range. Member 0 of every run is the central estimate.",
        "",
        "| parameter | unit | default | valid range | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, spec in sorted(UNCERTAIN.items()):
        lines.append(f"| `{name}` | {spec.unit} | {spec.default} | {_range(spec.low, spec.high)} | {spec.doc} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    SCHEMA_PATH.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    LEVERS_DOC_PATH.parent.mkdir(parents=True, exist_ok=True)
    LEVERS_DOC_PATH.write_text(levers_markdown(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH.relative_to(ROOT)} and {LEVERS_DOC_PATH.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
