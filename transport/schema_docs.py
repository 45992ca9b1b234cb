"""Generate the scenario JSON schema and the lever documentation from the pydantic models (`just schema`).

The models are the single source of truth; tests/test_scenario.py fails when the committed files drift from them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from transport.levers import UNCERTAIN, Levers
from transport.levers.base import Year
from transport.scenario import scenario_json_schema

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = Path(__file__).parent / "schema" / "scenario.schema.json"
LEVERS_DOC_PATH = ROOT / "docs" / "levers.md"


def schema_text() -> str:
    """The scenario JSON schema, pretty-printed."""
    return json.dumps(scenario_json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _bounds(info: FieldInfo) -> str:
    low = high = None
    for meta in info.metadata:
        low = getattr(meta, "ge", None) if getattr(meta, "ge", None) is not None else low
        low = getattr(meta, "gt", None) if getattr(meta, "gt", None) is not None else low
        high = getattr(meta, "le", None) if getattr(meta, "le", None) is not None else high
        high = getattr(meta, "lt", None) if getattr(meta, "lt", None) is not None else high
    if low is None and high is None:
        return "see description"
    return f"[{'' if low is None else low}, {'' if high is None else high}]"


def _default(info: FieldInfo) -> Any:
    value = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def _type_name(info: FieldInfo) -> str:
    text = str(info.annotation).replace(str(Year), "int")  # a year key's bounds are the schema's, stated once
    return text.replace("typing.", "").replace("<class '", "").replace("'>", "")


def levers_markdown() -> str:
    """Markdown table of every lever (meaning and unit, default = baseline, valid range) and uncertain parameter."""
    lines = [
        "# Scenario levers and uncertain parameters",
        "",
        "Generated from the pydantic models by `just schema` (python -m transport.schema_docs); do not edit by hand.",
        "A scenario file sets levers under `[levers.<domain>]`; defaults are the baseline (policies in force in 2020).",
        "",
    ]
    for domain, info in Levers.model_fields.items():
        model = info.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        lines += [
            f"## `[levers.{domain}]` - {info.description}",
            "",
            "| lever | type | default | valid range | meaning |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name, field in model.model_fields.items():
            desc = (field.description or "").replace("|", "\\|").replace("\n", " ")
            lines.append(f"| `{name}` | `{_type_name(field)}` | `{_default(field)}` | {_bounds(field)} | {desc} |")
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
        lines.append(f"| `{name}` | {spec.unit} | {spec.default} | [{spec.low}, {spec.high}] | {spec.doc} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    SCHEMA_PATH.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    LEVERS_DOC_PATH.parent.mkdir(parents=True, exist_ok=True)
    LEVERS_DOC_PATH.write_text(levers_markdown(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH.relative_to(ROOT)} and {LEVERS_DOC_PATH.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
