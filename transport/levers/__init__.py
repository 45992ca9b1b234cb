"""Policy levers of every domain, composed into one model; and the registry of uncertain parameters.

Each domain module (`fleets`, `freight`, `urban`) owns its levers and its uncertain parameters; this module only
puts them side by side, so a scenario file has one `[levers.<domain>]` table per domain.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from transport.levers.base import Uncertain, year_path
from transport.levers.fleets import UNCERTAIN as FLEET_UNCERTAIN
from transport.levers.fleets import FleetLevers
from transport.levers.freight import UNCERTAIN as FREIGHT_UNCERTAIN
from transport.levers.freight import FreightLevers
from transport.levers.urban import UNCERTAIN as URBAN_UNCERTAIN
from transport.levers.urban import UrbanLevers


class Levers(BaseModel):
    """All policy levers of a scenario, one table per domain."""

    model_config = ConfigDict(extra="forbid")

    fleets: FleetLevers = Field(default_factory=FleetLevers, description="Vehicle fleets: electrification, scrappage")
    freight: FreightLevers = Field(default_factory=FreightLevers, description="Freight network and modal shift")
    urban: UrbanLevers = Field(default_factory=UrbanLevers, description="Urban trips: transit, cycling, car use")


def _merge_registries() -> dict[str, Uncertain]:
    merged: dict[str, Uncertain] = {}
    for registry in (FLEET_UNCERTAIN, FREIGHT_UNCERTAIN, URBAN_UNCERTAIN):
        for name, spec in registry.items():
            if name in merged and merged[name] != spec:
                raise RuntimeError(f"uncertain parameter {name!r} is declared twice with different specs")
            merged[name] = spec
    return merged


UNCERTAIN: dict[str, Uncertain] = _merge_registries()

__all__ = ["UNCERTAIN", "FleetLevers", "FreightLevers", "Levers", "Uncertain", "UrbanLevers", "year_path"]
