"""Additive LMDI-I decomposition of the change in road oil use into activity, structure, intensity and fuel mix.

Road oil of segment s:  O_s = A * S_s * I_s * F_s   with
    A   total road vehicle activity (billion vehicle-km, all segments),
    S_s segment share of that activity,
    I_s energy intensity of the segment (PJ per billion vehicle-km),
    F_s oil per unit of energy (Mt oil per PJ; falls as electricity, hydrogen and gas replace oil).
Ang (2005, Energy Policy 33:867) additive LMDI-I: effect_x = sum_s L(O_s^T, O_s^0) * ln(x_s^T / x_s^0), with the
logarithmic mean L(a, b) = (a - b) / (ln a - ln b). The four effects add up exactly to O^T - O^0 when every factor
is positive; zero values are replaced by a tiny positive number (Ang & Liu 2007's small-value strategy), which keeps
the sum exact to rounding.
"""

from __future__ import annotations

import numpy as np

EFFECTS = ("activity", "structure", "intensity", "fuel_mix")
_TINY = 1e-12


def log_mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Logarithmic mean L(a, b), equal to a where a == b."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    same = np.isclose(a, b, rtol=1e-14, atol=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (a - b) / (np.log(a) - np.log(b))
    return np.where(same, a, out)


def lmdi_oil(
    vkt_bn_0: np.ndarray,
    energy_pj_0: np.ndarray,
    oil_mt_0: np.ndarray,
    vkt_bn_t: np.ndarray,
    energy_pj_t: np.ndarray,
    oil_mt_t: np.ndarray,
) -> dict[str, np.ndarray]:
    """Effects (Mt oil) per segment of moving from period 0 to period t; arrays shaped (..., segments).

    Returns a dict effect -> array (..., segments); summed over effects and segments they equal the total change.
    """
    v0, e0, o0 = (np.maximum(np.asarray(x, dtype=float), _TINY) for x in (vkt_bn_0, energy_pj_0, oil_mt_0))
    vt, et, ot = (np.maximum(np.asarray(x, dtype=float), _TINY) for x in (vkt_bn_t, energy_pj_t, oil_mt_t))
    a0 = v0.sum(axis=-1, keepdims=True)
    at = vt.sum(axis=-1, keepdims=True)
    factors0 = (np.broadcast_to(a0, v0.shape), v0 / a0, e0 / v0, o0 / e0)
    factorst = (np.broadcast_to(at, vt.shape), vt / at, et / vt, ot / et)
    # The weights use the factor products, which equal the (tiny-floored) oil values exactly.
    weight = log_mean(np.prod(factorst, axis=0), np.prod(factors0, axis=0))
    return {name: weight * np.log(ft / f0) for name, f0, ft in zip(EFFECTS, factors0, factorst, strict=True)}
