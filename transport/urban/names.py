"""Urban vocabularies: the eight urban modes, the green modes, the segments urban trips hand to fleets."""

from __future__ import annotations

MODES: tuple[str, ...] = ("walk", "bicycle", "ebike", "bus", "metro", "car", "taxi", "motorcycle")
GREEN_MODES: tuple[str, ...] = ("walk", "bicycle", "bus", "metro")
EBIKE = "ebike"  # green or not is the report's parameter (Ministry of Transport definition: not)
VKT_SEGMENTS: dict[str, str] = {"car": "private_car", "taxi": "taxi", "motorcycle": "motorcycle"}
HANDOFF_SEGMENTS: tuple[str, ...] = ("private_car", "taxi", "bus", "motorcycle")
DAYS_PER_YEAR = 365.0


MODE_INDEX = {m: i for i, m in enumerate(MODES)}
UNAVAILABLE_UTILITY = -1e9  # utility of an unavailable alternative (exp underflows to exactly 0)
