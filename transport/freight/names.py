"""Freight vocabularies: commodities, modes, Beibu Gulf sea ports, truck classes, mode chains, units."""

from __future__ import annotations

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
)
CHAIN_NAMES = tuple(c.name for c in CHAINS)
BASE_YEAR = 2020


T_PER_TEU = 10.0  # tonnes of cargo per TEU incl. empties (assumption 8-13; README "Rail-sea TEU")
TRUNK_OSM = "trunk_network.osm"


TARGET_NAMES = ("road_t", "road_tkm", "rail_t", "rail_tkm", "inland_water_t", "inland_water_tkm", "railsea_teu")
