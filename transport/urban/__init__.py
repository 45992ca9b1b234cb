"""Urban wing (the green-trip model): trips, mode shares and vehicle-km per city, year and Monte Carlo member.

For every city of the dataset table (urban/cities.csv) and every simulated year:

1. Residents: the dataset's urban population path, its log growth since 2020 scaled per member
   (`urban_population_growth_factor`). Trips = residents x trips per resident per day x 365.
2. Trip lengths: a gamma distribution with the city's mean trip length (shape from urban/handoff.toml), cut into
   distance bands; each band is represented by its conditional mean distance (closed form for the gamma).
3. Choice: a multinomial logit over the eight urban modes per band, with generalized time (in-vehicle minutes plus
   weighted access and waiting minutes), money cost (fares, fuel, parking) converted by the value of time, and street
   terms (intersection density for walking/cycling, cycle-lane supply for bikes and e-bikes). Availability enters as
   segments of travellers: with or without a car that day (ownership growth, restrictions), inside or outside a metro
   station's walking catchment (network km), allowed or not to use an e-bike (rules). Segment shares multiply.
4. Calibration: alternative-specific constants per city, mode and member are adjusted (asc += log(target/model))
   until the base-year (2020) shares of urban/base_shares.csv are reproduced to 1e-10. A city without metro in 2020
   gets the metro constant of the cities that have one, relative to its own bus constant.
5. Outputs: trips and shares by city and mode; car, taxi and motorcycle vehicle-km from passenger-km / occupancy;
   bus vehicle-km from the supply (base-year bus passenger-km / load x frequency lever x population), and the bus
   fleet from bus-km / annual km per bus (fewer buses when priority lanes raise commercial speed).

Members are the leading dimension of every array; only cities (a handful) and availability segments (8) are looped.
Green trips = walk + bicycle + bus + metro; `UrbanResult.green_share(include_ebike=...)` reports both readings.

Modules, one job each: `names`, `data` (tables and street metrics), `choice` (bands, logit, mixing), `calibration`
(the base-year constants), `model` (the years), `frames` (the result).
"""

from transport.urban.calibration import calibrate_constants
from transport.urban.choice import logit_shares, mixed_shares, trip_length_bands
from transport.urban.data import UrbanData, load_urban_data, with_street_metrics
from transport.urban.frames import UrbanResult
from transport.urban.model import cities_over_threshold, default_params, lever_sweep, simulate_urban
from transport.urban.names import GREEN_MODES, HANDOFF_SEGMENTS, MODES, VKT_SEGMENTS

__all__ = [
    "GREEN_MODES",
    "HANDOFF_SEGMENTS",
    "MODES",
    "VKT_SEGMENTS",
    "UrbanData",
    "UrbanResult",
    "calibrate_constants",
    "cities_over_threshold",
    "default_params",
    "lever_sweep",
    "load_urban_data",
    "logit_shares",
    "mixed_shares",
    "simulate_urban",
    "trip_length_bands",
    "with_street_metrics",
]
