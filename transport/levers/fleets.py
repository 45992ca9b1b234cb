"""Fleet levers (sales mandates, ICE limits, truck programmes, early scrappage, chargers, subsidies, taxes, carbon
price, power-sector path) and the fleet model's uncertain parameters.

Defaults are the baseline: the policies in force in 2020 carried forward. In 2020 the national NEV purchase
subsidy was scheduled to fall by 10/20/30% in 2020-2022 and end after 2022, and the purchase-tax exemption ran to
the end of 2022; no provincial sales mandate for private vehicles existed. Rules in a scenario are dated events:
each fires at its start (a decimal year, so 2025.5 = 1 July 2025) and holds until a later rule of the same segment,
group and kind replaces it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from transport.levers.base import NamedYearPaths, Uncertain, YearPath

Segment = Literal[
    "private_car",
    "taxi",
    "bus",
    "coach",
    "light_van",
    "medium_truck",
    "heavy_truck",
    "sanitation",
    "postal",
    "motorcycle",
]
Powertrain = Literal["gasoline", "diesel", "hev", "phev", "bev", "fcev", "gas"]
Group = Literal["nev", "clean", "ice", "bev", "phev", "fcev", "gas", "hev", "gasoline", "diesel"]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
Chargers = Annotated[float, Field(ge=0.0, le=1e8)]
CarbonPrice = Annotated[float, Field(ge=0.0, le=2000.0)]


class SalesRule(BaseModel):
    """A minimum or maximum share of a powertrain group in a segment's new sales from `start` on."""

    model_config = ConfigDict(extra="forbid")

    segment: Segment = Field(description="Fleet segment")
    group: Group = Field(description="Powertrain group: nev = phev+bev+fcev; clean = nev+gas; ice = gasoline+diesel")
    kind: Literal["min", "max"] = Field(description="min = mandate or programme floor; max = sales limit")
    share: float = Field(ge=0.0, le=1.0, description="Share of the segment's sales (0-1)")
    start: float = Field(ge=2020.0, le=2100.0, description="Start as decimal year (2025.5 = 1 July 2025)")
    city: str | None = Field(
        default=None,
        description="A prefecture city id (cities/prefectures.csv, e.g. nanning) the rule is for; none: every city. "
        "A city's rule adds to the province's: where both bind, the stricter holds",
    )


class ScrappageProgramme(BaseModel):
    """Early scrappage: cohorts of the given powertrains up to a model year removed evenly between start and end."""

    model_config = ConfigDict(extra="forbid")

    segment: Segment = Field(description="Fleet segment")
    powertrains: list[Powertrain] = Field(min_length=1, description="Powertrains targeted")
    max_vintage: int = Field(ge=1980, le=2100, description="Last model year targeted (e.g. 2013 ~ China III diesel)")
    start: float = Field(ge=2020.0, le=2100.0, description="Programme start, decimal year")
    end: float = Field(ge=2020.0, le=2100.0, description="All targeted vehicles gone by this decimal year")


class FleetLevers(BaseModel):
    """Levers of the fleet model (transport.vehicles)."""

    model_config = ConfigDict(extra="forbid")

    sales_rules: list[SalesRule] = Field(
        default_factory=list, description="Dated minimum/maximum sales shares (mandates, ICE limits, H2/LNG programmes)"
    )
    scrappage_programmes: list[ScrappageProgramme] = Field(
        default_factory=list, description="Early-scrappage programmes"
    )
    chargers: YearPath[Chargers] = Field(
        default_factory=lambda: {2020: 0.0},
        description="Charging points built by public programmes by year, interpolated, on top of those the market "
        "builds for the NEV stock (one per fleet_nevs_per_charger NEVs of the year before)",
    )
    nev_subsidy_share: YearPath[Share] = Field(
        default_factory=lambda: {2020: 0.10, 2021: 0.08, 2022: 0.056, 2023: 0.0},
        description="Purchase subsidy for BEVs as share of the price by year (PHEV half, FCEV triple, capped 0.6)",
    )
    city_car_nev_subsidy_share: NamedYearPaths[Share] = Field(
        default_factory=dict,
        description="A city's own purchase subsidy for private-car NEVs, share of the price by year, on top of "
        "nev_subsidy_share (same PHEV/FCEV multipliers and cap), keyed by prefecture city id (cities/prefectures.csv); "
        "private cars then run city by city",
    )
    nev_purchase_tax_factor: YearPath[Share] = Field(
        default_factory=lambda: {2020: 0.0, 2022: 0.0, 2023: 1.0},
        description="Share of the normal purchase tax NEVs pay by year (0 = exempt, 1 = full), interpolated",
    )
    carbon_price_yuan_t: YearPath[CarbonPrice] = Field(
        default_factory=lambda: {2020: 0.0},
        description="Carbon price on road-fuel CO2 (tank-to-wheel) by year, yuan per tonne, interpolated",
    )
    non_fossil_share: YearPath[Share] = Field(
        default_factory=lambda: {2020: 0.265, 2022: 0.28, 2030: 0.31, 2060: 0.40},
        description="Non-fossil share of Guangxi's energy use by year; drives the grid CO2 factor",
    )


UNCERTAIN: dict[str, Uncertain] = {
    "fleet_lifetime_factor": Uncertain(
        1.0, "1", "Multiplier on Weibull scale parameters (vehicle lifetimes)", 0.85, 1.15
    ),
    "fleet_cost_sensitivity_factor": Uncertain(
        1.0, "1", "Multiplier on the calibrated TCO sensitivity of the powertrain logit", 0.6, 1.5
    ),
    "fleet_battery_learning_rate": Uncertain(
        0.18, "1", "Battery pack cost decline per doubling of cumulative production", 0.12, 0.24
    ),
    "fleet_real_world_factor": Uncertain(
        1.0, "1", "Multiplier on real-world energy intensity (gap to type approval)", 0.9, 1.15
    ),
    "fleet_phev_utility_factor": Uncertain(0.5, "1", "Share of PHEV kilometres driven on electricity", 0.3, 0.7),
    "fleet_vkt_factor": Uncertain(1.0, "1", "Multiplier on vehicle-km per vehicle", 0.85, 1.15),
    "fleet_car_saturation_per_1000": Uncertain(
        400.0, "cars/1000 people", "Saturation level of the Gompertz car ownership curve", 300.0, 500.0
    ),
    "fleet_grid_elasticity": Uncertain(
        1.5, "1", "Elasticity of the grid CO2 factor to the fossil share of energy use", 1.0, 2.5
    ),
    "fleet_nevs_per_charger": Uncertain(
        2.3, "vehicles/charger", "NEVs per charging point the market builds as the NEV stock grows", 1.8, 3.5
    ),
    "fleet_vehicles_per_charger": Uncertain(
        8.0, "vehicles/charger", "BEVs one charging point can serve before it limits BEV uptake", 5.0, 12.0
    ),
    "fleet_covid_dip_factor": Uncertain(
        1.0, "1", "Multiplier on the 2020 (COVID-19) dip of use per vehicle below a normal year", 0.5, 1.5
    ),
    "fleet_oil_price_factor": Uncertain(1.0, "1", "Multiplier on gasoline and diesel prices after 2020", 0.7, 1.5),
    "fleet_gas_price_factor": Uncertain(
        1.0, "1", "Multiplier on natural-gas (CNG, LNG) prices after 2020: the LNG-diesel spread of trucks", 0.6, 1.4
    ),
    "fleet_km_sigma": Uncertain(
        0.3, "1", "Log-sd of per-vehicle kilometres within a cohort (spread of km-limit scrappage)", 0.1, 0.5
    ),
}
