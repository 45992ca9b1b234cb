"""Freight wing: Guangxi freight demand (gravity + balancing + growth), mode-chain choice and capacity per year.

Data flow per simulated year:
1. network of the year: the shipped trunk OSM XML (or any OSM extract) through `networks.osm.load_osm_layers`, with
   the year's links open (Pinglu Canal, scenario links), terminals (rail spurs cut drayage) and capacities;
2. demand: base-year OD tonnes by commodity (gravity model on the base-year least generalized cost, balanced to the
   provincial road tonnes and tkm and to Beibu Gulf port throughput by commodity) grown with GDP elasticities;
3. per OD and commodity, the least-cost path of each mode chain (`networks.graph.chain_paths`), a multinomial logit
   over chains (members vectorised), and capacity restraint by MSA (`networks.assign.msa_assign`);
4. outputs: tonnes and tkm by mode and commodity, rail-sea TEU by sea port, truck vehicle-km by class; tonnes, tkm
   and TEU on each link of the network (member 0, or every member on request; quantiles over an exact ensemble's
   members; tables `links`, `link_flows`, `link_flow_quantiles`).

Calibration: the base year (2020) is calibrated per member by fixed-point iteration: alternative-specific constants
and a log-distance term per inland mode (rail, inland water) match tonnes and tkm, a rail-sea constant matches the
rail-sea TEU, and the demand balancing factors match road tonnes, road tkm and port throughput (README "Calibration").

Modules, one job each: `names` (vocabularies), `data` (tables and loader), `network` (the year's graph and prices),
`assignment` (routes, chain logit, MSA loading), `demand` (gravity and growth), `calibration` (the explicit base-year
step), `model` (the years), `frames` (result frames), `emulator` (response surface for large ensembles).
"""

from transport.freight.assignment import Choice, chain_utility, find_routes, load_network
from transport.freight.calibration import calibrate_base_year, calibrate_freight
from transport.freight.data import FreightData, author_trunk_osm, load_freight_data
from transport.freight.demand import gravity_demand
from transport.freight.frames import FreightResult
from transport.freight.model import FreightArrays, freight_arrays, freight_result, simulate_freight
from transport.freight.names import COMMODITIES, MODES, PORTS, T_PER_TEU, TRUCK_CLASSES, TRUNK_OSM
from transport.freight.network import year_graph, year_prices

__all__ = [
    "COMMODITIES",
    "MODES",
    "PORTS",
    "TRUCK_CLASSES",
    "TRUNK_OSM",
    "T_PER_TEU",
    "Choice",
    "FreightArrays",
    "FreightData",
    "FreightResult",
    "author_trunk_osm",
    "calibrate_base_year",
    "calibrate_freight",
    "chain_utility",
    "find_routes",
    "freight_arrays",
    "freight_result",
    "gravity_demand",
    "load_freight_data",
    "load_network",
    "simulate_freight",
    "year_graph",
    "year_prices",
]
