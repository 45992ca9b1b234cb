"""Vehicles wing (the fleet adapter): Guangxi fleet dataset, levers and parameters -> fleets engine -> result frames.

Job of this wing (the engine `fleets` knows nothing of files or scenarios):
- load and check the tables of `<dataset>/fleets/` (`load_fleet_data`);
- reconstruct the 2020 stock by segment x powertrain x age from a documented sales history and the survival curves
  (private cars: the calibrated 2013-2020 choice model gives the NEV cohorts);
- build stock demand (Gompertz car ownership on GDP per capita x population; activity handed in by the freight and
  urban models; growth rates otherwise), TCO-logit shares, rules, programmes and chargers;
- run the SimPy engine for all members at once and return the `fleet` and `energy` frames of the contract plus
  arrays for coupling (`FleetResult`);
- calibrate the private-car choice model (least squares; `python -m transport.vehicles.calibration calibrate`).

Modules, one job each: `names`, `data` (tables), `stock` (survival and the 2020 stock), `choice` (TCO and
constants), `demand` (stock demand), `model` (engine inputs and the run), `frames` (the result), `calibration`.
"""

from transport.vehicles.calibration import calibrate
from transport.vehicles.data import FleetData, load_fleet_data
from transport.vehicles.frames import FleetResult
from transport.vehicles.model import ActivityInput, engine_inputs, simulate_fleets
from transport.vehicles.names import NEV

__all__ = [
    "NEV",
    "ActivityInput",
    "FleetData",
    "FleetResult",
    "calibrate",
    "engine_inputs",
    "load_fleet_data",
    "simulate_fleets",
]
