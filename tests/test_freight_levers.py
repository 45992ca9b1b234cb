"""Freight levers against the record: the one-year response of rail-sea TEU to each lever over its plausible range
stays inside the band the record and the published elasticities allow, and port capacity never lowers rail-sea.

Band (freight README "Ramp-up"): a lever switched on in 2022 changes that year's rail-sea TEU, against the same year
without it, by no more than +50 % (SERVICE_GROWTH_MAX: services add at most half of last year's; the record's largest
year, 2022, is +44 % in trains) and by no less than -25 % (a 20 % dearer rail at the most elastic published value,
1.2^-1.5 - 1 = -24 %)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from transport import freight as F
from transport.freight.assignment import SERVICE_GROWTH_MAX
from transport.levers.freight import CapacityExpansion, FreightLevers, RailSpur

DATA = Path(__file__).resolve().parent.parent / "transport" / "data" / "guangxi"
YEARS = np.arange(2020, 2023)
BAND = (-0.25, SERVICE_GROWTH_MAX)

LEVERS: dict[str, FreightLevers] = {
    "subsidy 500 yuan/TEU": FreightLevers(intermodal_subsidy_yuan_teu={2021: 0.0, 2022: 500.0}),
    "subsidy 1000 yuan/TEU": FreightLevers(intermodal_subsidy_yuan_teu={2021: 0.0, 2022: 1000.0}),
    "subsidy 2000 yuan/TEU": FreightLevers(intermodal_subsidy_yuan_teu={2021: 0.0, 2022: 2000.0}),
    "rail tariff -20 %": FreightLevers(rail_tariff_change={2021: 0.0, 2022: -0.2}),
    "rail tariff +20 %": FreightLevers(rail_tariff_change={2021: 0.0, 2022: 0.2}),
    "road tolls +50 %": FreightLevers(road_toll_change={2021: 0.0, 2022: 0.5}),
    "carbon 300 yuan/t CO2": FreightLevers(carbon_price_yuan_t={2021: 0.0, 2022: 300.0}),
    "rail spurs into all three ports": FreightLevers(
        rail_spurs=[
            RailSpur(terminal="Qinzhou Port East rail-sea yard", year=2022, drayage_km_saved=8),
            RailSpur(terminal="Fangchenggang port rail-sea yard", year=2022, drayage_km_saved=10),
            RailSpur(terminal="Tieshan port rail-sea yard", year=2022, drayage_km_saved=15),
        ]
    ),
    "rail-sea yard +40 Mt": FreightLevers(
        capacity_expansions=[CapacityExpansion(group="Qinzhou rail-sea yard", year=2022, added_mt=40)]
    ),
}
PORTS = ("Qinzhou port", "Fangchenggang port", "Beihai port")


@pytest.fixture(scope="module")
def data() -> F.FreightData:
    return F.calibrate_freight(F.load_freight_data(DATA))


def _railsea(data: F.FreightData, levers: FreightLevers) -> np.ndarray:
    return F.freight_arrays(data, levers, {}, YEARS, 1).railsea_teu[0].sum(axis=1)


@pytest.fixture(scope="module")
def base(data: F.FreightData) -> np.ndarray:
    return _railsea(data, FreightLevers())


@pytest.mark.parametrize("name", list(LEVERS))
def test_one_year_rail_sea_response_inside_the_band(data: F.FreightData, base: np.ndarray, name: str) -> None:
    with_lever = _railsea(data, LEVERS[name])
    assert np.allclose(with_lever[:2], base[:2])  # nothing moves before the lever
    change = with_lever[2] / base[2] - 1.0
    print(f"\n{name}: rail-sea TEU 2022 {change:+.1%} against no lever")
    assert BAND[0] <= change <= BAND[1], (name, change)


def test_the_old_one_lever_jump_is_gone(data: F.FreightData, base: np.ndarray) -> None:
    """The issue's case: a 500 yuan/TEU subsidy alone gave +142 % in 2022 (trains rose 44 %)."""
    subsidy = _railsea(data, LEVERS["subsidy 500 yuan/TEU"])
    assert subsidy[2] / subsidy[1] - 1.0 < SERVICE_GROWTH_MAX
    assert subsidy[2] > base[2]  # and it still works in the right direction


@pytest.mark.parametrize("added_mt", [20.0, 60.0, 150.0])
@pytest.mark.parametrize("port", PORTS)
def test_port_capacity_never_lowers_rail_sea(data: F.FreightData, base: np.ndarray, port: str, added_mt: float) -> None:
    """Berths serve every landside chain of the port (a rail-sea yard loads its port's group too), so relief cannot
    favour road-sea over rail-sea there."""
    relief = FreightLevers(capacity_expansions=[CapacityExpansion(group=port, year=2022, added_mt=added_mt)])
    relieved = _railsea(data, relief)
    assert relieved[2] >= base[2] * (1.0 - 1e-3), (port, added_mt, relieved[2] / base[2] - 1.0)
