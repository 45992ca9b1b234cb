"""Freight levers (network changes, prices, platforms) and the freight model's uncertain parameters.

Defaults are the baseline: policies and projects in force or under construction in 2020 carried forward. The Pinglu
Canal is in the baseline at its scheduled opening (2026) because it is a dated construction project, not a policy
choice; a scenario can move it (or set 2100 = never) to study it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from transport.levers.base import Uncertain, YearPath

Layer = Literal["road", "rail", "inland_water", "sea"]
TariffChange = Annotated[float, Field(ge=-0.5, le=0.5)]
TollChange = Annotated[float, Field(ge=-0.5, le=1.0)]
CarbonPrice = Annotated[float, Field(ge=0.0, le=2000.0)]
Subsidy = Annotated[float, Field(ge=0.0, le=5000.0)]
LoadGain = Annotated[float, Field(ge=0.0, le=0.5)]


class RailSpur(BaseModel):
    """A rail spur into a port or logistics park: from `year` the terminal drayage shrinks by `drayage_km_saved`."""

    model_config = ConfigDict(extra="forbid")

    terminal: str = Field(description="Terminal name as in freight/terminals.csv")
    year: int = Field(ge=2020, le=2100, description="First year the spur is in service")
    drayage_km_saved: float = Field(ge=0, le=100, description="Truck km per tonne no longer needed at the terminal")


class CapacityExpansion(BaseModel):
    """More capacity for a capacity group (port, yard, lock, rail line) from a year on."""

    model_config = ConfigDict(extra="forbid")

    group: str = Field(description="Capacity group as in freight/capacity.csv")
    year: int = Field(ge=2020, le=2100, description="First year the extra capacity is available")
    added_mt: float = Field(ge=0, le=1000, description="Added capacity, Mt per year (both directions)")


class NewLink(BaseModel):
    """A rail, waterway, road or sea link added by the scenario (both directions)."""

    model_config = ConfigDict(extra="forbid")

    layer: Layer = Field(description="Mode layer of the link")
    from_place: str = Field(description="Place as in freight/places.csv")
    to_place: str = Field(description="Place as in freight/places.csv")
    distance_km: float = Field(gt=0, le=5000, description="Route length, km")
    open_year: int = Field(ge=2020, le=2100, description="First year in service")
    name: str = Field("", description="Name (used for capacity groups and reports)")


class FreightLevers(BaseModel):
    """Levers of the freight network model (transport.freight)."""

    model_config = ConfigDict(extra="forbid")

    pinglu_canal_open_year: int = Field(
        2026, ge=2024, le=2100, description="Year the Pinglu Canal opens to navigation (2100 = never)"
    )
    rail_spurs: list[RailSpur] = Field(default_factory=list, description="Rail spurs into ports and parks")
    rail_tariff_change: YearPath[TariffChange] = Field(
        default_factory=lambda: {2020: 0.0},
        description="Relative change of rail freight tariffs by year (-0.1 = 10% cheaper), interpolated",
    )
    road_toll_change: YearPath[TollChange] = Field(
        default_factory=lambda: {2020: 0.0},
        description="Relative change of expressway truck tolls by year (+0.2 = 20% dearer), interpolated",
    )
    carbon_price_yuan_t: YearPath[CarbonPrice] = Field(
        default_factory=lambda: {2020: 0.0},
        description="Carbon price on freight CO2 by year, yuan per tonne CO2, interpolated",
    )
    intermodal_subsidy_yuan_teu: YearPath[Subsidy] = Field(
        default_factory=lambda: {2020: 0.0},
        description="Subsidy per TEU moved rail-sea through a Beibu Gulf port, yuan/TEU, interpolated",
    )
    capacity_expansions: list[CapacityExpansion] = Field(
        default_factory=list, description="Port, yard, lock and line capacity added by year"
    )
    truck_load_factor_gain: YearPath[LoadGain] = Field(
        default_factory=lambda: {2020: 0.0},
        description="Relative rise of the average truck load factor (less empty running via freight platforms)",
    )
    new_links: list[NewLink] = Field(default_factory=list, description="Rail, waterway, road or sea links added")


UNCERTAIN: dict[str, Uncertain] = {
    "freight_logit_scale": Uncertain(
        1.0, "1", "Multiplier on the cost sensitivity of the mode-chain logit (response to cost changes)", 0.5, 2.0
    ),
    "freight_rail_tariff_factor": Uncertain(1.0, "1", "Multiplier on rail line-haul tariffs after 2020", 0.8, 1.2),
    "freight_gdp_elasticity_factor": Uncertain(
        1.0, "1", "Multiplier on the GDP elasticities of freight tonnes by commodity", 0.6, 1.4
    ),
    "freight_gdp_growth_shift": Uncertain(
        0.0, "1/yr", "Shift of Guangxi's real GDP growth path after 2020", -0.015, 0.01
    ),
}
