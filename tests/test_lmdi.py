"""LMDI: the effects add up exactly to the change; hand-checked single-factor cases."""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from transport.lmdi import EFFECTS, lmdi_oil, log_mean


def test_log_mean_hand_values() -> None:
    assert log_mean(np.array(2.0), np.array(2.0)) == pytest.approx(2.0)
    assert log_mean(np.array(np.e), np.array(1.0)) == pytest.approx(np.e - 1.0)


def test_pure_activity_growth_is_all_activity_effect() -> None:
    vkt0, energy0, oil0 = np.array([10.0, 5.0]), np.array([20.0, 15.0]), np.array([0.4, 0.3])
    effects = lmdi_oil(vkt0, energy0, oil0, 2 * vkt0, 2 * energy0, 2 * oil0)
    assert effects["activity"].sum() == pytest.approx(0.7)
    for name in ("structure", "intensity", "fuel_mix"):
        assert np.allclose(effects[name], 0.0)


def test_electrification_is_fuel_mix_effect() -> None:
    vkt, energy = np.array([10.0]), np.array([20.0])
    effects = lmdi_oil(vkt, energy, np.array([0.5]), vkt, energy, np.array([0.25]))
    assert effects["fuel_mix"].sum() == pytest.approx(-0.25)
    assert effects["intensity"].sum() == pytest.approx(0.0)


positive = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(float, (6, 4), elements=positive),
    st.integers(0, 3),
)
def test_effects_sum_exactly_to_change(values: np.ndarray, zero_segment: int) -> None:
    vkt0, energy0, oil0, vkt1, energy1, oil1 = values
    oil1 = oil1.copy()
    oil1[zero_segment] = 0.0  # a segment that stops using oil altogether
    effects = lmdi_oil(vkt0, energy0, oil0, vkt1, energy1, oil1)
    total = sum(effects[name].sum() for name in EFFECTS)
    assert total == pytest.approx(oil1.sum() - oil0.sum(), rel=1e-9, abs=1e-9)
