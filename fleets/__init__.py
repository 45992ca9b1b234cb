"""Fleet-turnover engine: vintage stocks, survival, powertrain choice, energy and CO2, run on a SimPy clock.

Pure: numpy arrays and plain parameters in, arrays out. Knows nothing of files, scenarios or databases (the adapter
`transport.vehicles` translates a dataset and levers into the inputs defined here).

Modules
- `fleets.survival`   Weibull and step survival, compulsory age and kilometre limits, early-scrappage fractions.
- `fleets.stock`      one turnover step of a (members, powertrains, ages) array: ageing, retirement, sales.
- `fleets.choice`     total cost of ownership, logit shares, policy bounds and smooth charger availability.
- `fleets.energy`     energy intensity by vintage, fuel split, oil and CO2 factors.
- `fleets.simulation` the SimPy orchestration: one process per segment, policy and infrastructure processes.
- `fleets.fused`      the compiled (numba) step of one segment-year that the simulation runs; the numpy functions of
                      `stock`, `survival` and `choice` define it and are the tests' reference.
"""

from __future__ import annotations

SEGMENTS: tuple[str, ...] = (
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
)
POWERTRAINS: tuple[str, ...] = ("gasoline", "diesel", "hev", "phev", "bev", "fcev", "gas")
FUELS: tuple[str, ...] = ("gasoline", "diesel", "electricity", "hydrogen", "natural_gas")
MAX_AGE = 40
AGES = MAX_AGE + 1

# Groups of powertrains that policy rules refer to.
GROUPS: dict[str, tuple[str, ...]] = {
    "nev": ("phev", "bev", "fcev"),
    "clean": ("phev", "bev", "fcev", "gas"),
    "ice": ("gasoline", "diesel"),
    "bev": ("bev",),
    "phev": ("phev",),
    "fcev": ("fcev",),
    "gas": ("gas",),
    "hev": ("hev",),
    "gasoline": ("gasoline",),
    "diesel": ("diesel",),
}


def group_mask(group: str) -> list[bool]:
    """Which powertrains (in POWERTRAINS order) belong to a policy group."""
    members = GROUPS[group]
    return [p in members for p in POWERTRAINS]


def powertrain_fuels(liquid_fuel: str) -> dict[str, str]:
    """The fuel each powertrain burns; hybrids (and a plug-in hybrid's liquid kilometres) burn the segment's liquid
    fuel, gasoline or diesel. A plug-in hybrid's electric kilometres are the utility-factor share (fleets.energy)."""
    return {
        "gasoline": "gasoline",
        "diesel": "diesel",
        "hev": liquid_fuel,
        "phev": liquid_fuel,
        "bev": "electricity",
        "fcev": "hydrogen",
        "gas": "natural_gas",
    }
