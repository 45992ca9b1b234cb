"""Freight vocabularies: commodities, modes, Beibu Gulf sea ports, truck classes, mode chains, units."""

from __future__ import annotations

from enum import IntEnum

from networks.graph import DEFAULT_CHAINS, ChainSpec

COMMODITIES = ("containers", "coal", "metal_ores", "minerals_building", "agriculture", "manufactured", "other")
MODES = ("road", "rail", "inland_water", "sea")
LAYER_SET = frozenset(MODES)
PORTS = {"qinzhou": "QinzhouPort", "fangchenggang": "FangchenggangPort", "beihai": "TieshanPort"}
TRUCK_CLASSES = ("light_van", "medium_truck", "heavy_truck")
# The word naming each sea port in element names (Guangzhou: the Xijiang's outlet to the sea, not a Beibu Gulf port).
# Port-specific sea chains: the choice of sea port is part of the logit (smooth in cost, so MSA converges), not an
# all-or-nothing shortest path that would send a whole commodity through one port.
PORT_WORDS = {"qinzhou": "Qinzhou", "fangchenggang": "Fangchenggang", "beihai": "Tieshan", "guangzhou": "Guangzhou"}
CHAINS: tuple[ChainSpec, ...] = (
    *[c for c in DEFAULT_CHAINS if "sea" not in c.states],
    *[ChainSpec(f"road_sea:{p}", ("road", "sea"), w) for p, w in PORT_WORDS.items()],
    *[ChainSpec(f"rail_sea:{p}", ("road", "rail", "sea"), w) for p, w in PORT_WORDS.items() if p != "guangzhou"],
    *[
        ChainSpec(f"water_sea:{p}", ("road", "inland_water", "sea"), w)
        for p, w in PORT_WORDS.items()
        if p in ("qinzhou", "guangzhou")
    ],
    *[ChainSpec(f"coastal:{p}", ("road", "sea", "road"), w) for p, w in PORT_WORDS.items() if p != "guangzhou"],
    # rail-river (铁水联运 at inland ports): rail to a river port, then the Xijiang (or the reverse)
    ChainSpec("rail_river", ("road", "rail", "inland_water", "road")),
)
CHAIN_NAMES = tuple(c.name for c in CHAINS)


class Asc(IntEnum):
    """Columns of the chain constants (Calibration.asc and Choice.asc: members x len(Asc)), fitted in the base year by
    transport.freight.calibration and weighted into the utility by transport.freight.assignment.entry_utility."""

    RAIL = 0  # rail and rail-sea chains of every commodity but containers (fits rail tonnes)
    WATER = 1  # chains using inland water (fits the inland ports' tonnes)
    RAILSEA = 2  # rail-sea chains of containers (fits the rail-sea TEU)
    LOG_KM_RAIL = 3  # weight of log(1 + rail km / 100) (fits the rail haul)
    LOG_KM_WATER = 4  # weight of log(1 + inland-water km / 100) (follows the Changzhou lock, central fit only)
    WATER_CONTAINERS = 5  # containers on the Xijiang's barge services (fits the inland ports' TEU)


# Ways the code finds, by their `link_id` (trunk_ways.csv, the `link_id` tag of trunk_network.osm): ids are stable,
# display names are for people and may change.
PINGLU_CANAL = "pinglu_canal"  # the way the canal lever (freight.pinglu_canal_open_year) opens
T_PER_TEU = 10.0  # tonnes of cargo per TEU incl. empties (assumption 8-13; README "Rail-sea TEU")
TRUNK_OSM = "trunk_network.osm"


# Base-year calibration targets (freight/targets.csv), in this order. Inland water on both definitions: tonnes through
# the Changzhou lock and carrier statistics (inland_water_carrier_t), and the inland ports' throughput and TEU.
TARGET_NAMES = (
    "road_t",
    "road_tkm",
    "rail_t",
    "rail_tkm",
    "changzhou_lock_t",
    "inland_port_t",
    "inland_port_teu",
    "railsea_teu",
    "inland_water_carrier_t",
)
# What a capacity element is (capacity.csv `element`, capacity_flows.kind); `service` is the rail-sea container
# services (train paths, yard handling), whose capacity ramps up with demand (transport.freight.assignment).
CAPACITY_KINDS = ("lock", "canal", "rail_line", "rail_sea_yard", "sea_port", "river_port", "service")
SERVICE_GROUP = "rail-sea container services"
# Inland ports in Guangxi on the modelled waterways (terminals `<place> river port` and `<place> rail-river wharf`)
RIVER_PORTS = ("Nanning", "Guigang", "Wuzhou", "Laibin", "Liuzhou", "Baise")
