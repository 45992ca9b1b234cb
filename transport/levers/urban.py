"""Urban levers (transit, cycling, car use, e-bike rules, land use) and the urban model's uncertain parameters.

Defaults are the baseline: the policies in force in 2020 carried forward. Year-path levers are `dict[int, float]`
(year -> value, linearly interpolated, held flat outside the given years). Levers that add infrastructure are stated
*per million urban residents* so that one scenario value means the same effort in a city of 0.7 and of 4.6 million
people; metro is the exception (lines are built city by city), so `metro_km_added` is keyed by city.

The committed metro network (lines open or under construction in 2020) is part of the dataset
(urban/metro_network.csv), not a lever; `metro_km_added` is extra network on top of it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from transport.levers.base import NamedYearPaths, Uncertain, YearPath

MetroKm = Annotated[float, Field(ge=0.0, le=600.0)]
LaneKmPerMillion = Annotated[float, Field(ge=0.0, le=300.0)]
FrequencyFactor = Annotated[float, Field(ge=0.5, le=3.0)]
FareFactor = Annotated[float, Field(ge=0.0, le=3.0)]
CycleKmPerMillion = Annotated[float, Field(ge=0.0, le=1000.0)]
ParkingFactor = Annotated[float, Field(ge=0.5, le=10.0)]
RestrictionShare = Annotated[float, Field(ge=0.0, le=0.8)]
EbikeRestriction = Annotated[float, Field(ge=0.0, le=1.0)]
DensityChange = Annotated[float, Field(ge=-0.3, le=1.0)]
ConnectivityChange = Annotated[float, Field(ge=-0.3, le=2.0)]


class UrbanLevers(BaseModel):
    """Levers of the urban green-trip model (transport.urban)."""

    model_config = ConfigDict(extra="forbid")

    metro_km_added: NamedYearPaths[MetroKm] = Field(
        default_factory=dict,
        description=(
            "Metro/light-rail km in service beyond the committed network, per city (city -> {year: km}), "
            "interpolated; a city without metro gets metro from its first km"
        ),
    )
    bus_lane_km_added_per_million: YearPath[LaneKmPerMillion] = Field(
        default_factory=lambda: {2020: 0.0},
        description="Bus priority lanes (incl. BRT) added since 2020, km per million urban residents, interpolated",
    )
    bus_frequency_factor: YearPath[FrequencyFactor] = Field(
        default_factory=lambda: {2020: 1.0},
        description="Bus service frequency relative to 2020 (1.2 = 20% more buses per hour, and 20% more bus-km)",
    )
    transit_fare_factor: YearPath[FareFactor] = Field(
        default_factory=lambda: {2020: 1.0},
        description="Bus and metro fares relative to 2020 (0 = free transit), interpolated",
    )
    cycle_lane_km_added_per_million: YearPath[CycleKmPerMillion] = Field(
        default_factory=lambda: {2020: 0.0},
        description="Protected cycle lanes / greenways added since 2020, km per million urban residents",
    )
    parking_price_factor: YearPath[ParkingFactor] = Field(
        default_factory=lambda: {2020: 1.0},
        description="Average parking charge per car trip relative to 2020 (2.0 = doubled), interpolated",
    )
    car_restriction_share: YearPath[RestrictionShare] = Field(
        default_factory=lambda: {2020: 0.0},
        description=(
            "Share of car-owning travellers kept off the car on a given day by purchase or use restrictions "
            "(plate-number rules, low-car zones); 0.2 = one weekday in five"
        ),
    )
    ebike_restriction_share: YearPath[EbikeRestriction] = Field(
        default_factory=lambda: {2020: 0.0},
        description="Share of travellers for whom the e-bike is not an option (licensing caps, banned roads)",
    )
    density_change: YearPath[DensityChange] = Field(
        default_factory=lambda: {2020: 0.0},
        description="Relative change of urban population density vs 2020 (compact growth / TOD; 0.2 = 20% denser)",
    )
    intersection_density_change: YearPath[ConnectivityChange] = Field(
        default_factory=lambda: {2020: 0.0},
        description="Relative change of street intersection density vs 2020 (small blocks, 小街区密路网 policy)",
    )


UNCERTAIN: dict[str, Uncertain] = {
    "urban_time_sensitivity_per_min": Uncertain(
        0.045,
        "1/min",
        "Logit coefficient on in-vehicle minutes (magnitude); mode-choice studies of Chinese cities 0.025-0.07",
        0.025,
        0.07,
    ),
    "urban_value_of_time_yuan_h": Uncertain(
        15.0,
        "yuan/h",
        "Value of travel time (all purposes) of urban residents in 2020; sets the cost coefficient",
        8.0,
        30.0,
    ),
    "urban_population_growth_factor": Uncertain(
        1.0,
        "1",
        "Multiplier on the log growth of each city's urban population since 2020 (dataset path = 1)",
        0.4,
        1.6,
    ),
    "urban_trip_rate_factor": Uncertain(
        1.0, "1", "Multiplier on trips per resident per day (dataset 2.0-2.3)", 0.85, 1.15
    ),
    "urban_trip_length_factor": Uncertain(
        1.0, "1", "Multiplier on every city's mean trip length (dataset 3.0-6.0 km)", 0.8, 1.25
    ),
    "urban_car_ownership_growth": Uncertain(
        0.04, "1/yr", "Initial growth rate of cars per resident (logistic towards saturation)", 0.01, 0.07
    ),
    "urban_cycle_lane_elasticity": Uncertain(
        0.3,
        "1",
        "Utility of cycling (and e-biking) per unit log of cycle-lane km; bike share elasticity ~0.2-0.4",
        0.1,
        0.5,
    ),
    "urban_ebike_share_quantile": Uncertain(
        0.5,
        "1",
        "Where every city's 2020 e-bike share lies in its range (urban/base_shares.csv low-high: 0 = low, 0.5 = the "
        "dataset value, 1 = high; the other modes scaled to keep the sum); no survey measures it",
        0.0,
        1.0,
    ),
    "urban_intersection_walk_elasticity": Uncertain(
        0.4, "1", "Utility of walking per unit log of intersection density (Ewing & Cervero 2010: 0.39)", 0.2, 0.6
    ),
    "urban_density_trip_length_elasticity": Uncertain(
        0.1,
        "1",
        "Fall of mean trip length per unit log of density (magnitude; Ewing & Cervero: 0.04-0.2)",
        0.02,
        0.2,
    ),
}
