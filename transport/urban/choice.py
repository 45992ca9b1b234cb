"""Urban mode choice building blocks: gamma trip-length bands, the logit, shares mixed over availability segments."""

from __future__ import annotations

import numpy as np
from scipy.special import gammainc, gammaln, softmax

from transport.urban.names import UNAVAILABLE_UTILITY


def trip_length_bands(mean_km: np.ndarray, shape: float, edges_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share of trips and mean distance per band for gamma-distributed trip lengths with mean `mean_km`.

    Returns (weights, band_mean_km), both shaped mean_km.shape + (bands,); the last band is open-ended. The mean of a
    gamma(k, theta) variable within [a, b) is k*theta*(F_{k+1}(b) - F_{k+1}(a)) / (F_k(b) - F_k(a)).
    """
    mean = np.asarray(mean_km, dtype=float)[..., None]
    theta = mean / shape
    lo = np.asarray(edges_km, dtype=float)
    hi = np.append(lo[1:], np.inf)
    # The gamma CDF is the regularized lower incomplete gamma function P(k, x), called directly (the distribution
    # object's argument checks cost more than the function on these (members, years, bands) arrays), and
    # P(k + 1, x) = P(k, x) - x^k e^-x / Gamma(k + 1) spares evaluating it a second time.
    x_lo, x_hi = lo / theta, hi / theta
    p_lo, p_hi = gammainc(shape, x_lo), gammainc(shape, x_hi)
    with np.errstate(over="ignore", invalid="ignore"):
        term_lo = np.exp(
            shape * np.log(x_lo, where=x_lo > 0, out=np.full_like(x_lo, -np.inf)) - x_lo - gammaln(shape + 1)
        )
        term_hi = np.exp(shape * np.log(x_hi) - x_hi - gammaln(shape + 1))
    term_hi = np.where(np.isinf(x_hi), 0.0, term_hi)
    cdf_k = p_hi - p_lo
    cdf_k1 = (p_hi - term_hi) - (p_lo - term_lo)
    band_mean = np.where(cdf_k > 1e-300, mean * cdf_k1 / np.maximum(cdf_k, 1e-300), (lo + np.minimum(hi, lo + 1)) / 2)
    return cdf_k, band_mean


def logit_shares(utility: np.ndarray, available: np.ndarray | None = None) -> np.ndarray:
    """Multinomial logit probabilities over the last axis; unavailable alternatives get probability 0."""
    v = np.asarray(utility, dtype=float)
    if available is not None:
        v = np.where(available, v, UNAVAILABLE_UTILITY)
    return softmax(v, axis=-1)


def mixed_shares(
    utility: np.ndarray, band_weights: np.ndarray, segment_weights: np.ndarray, segment_available: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Shares over bands and availability segments.

    utility (..., bands, modes); band_weights (..., bands); segment_weights (..., segments); segment_available
    (segments, modes). Returns (shares (..., modes), shares by band (..., bands, modes)); each band row sums to 1.

    Every segment's logit shares exp(V_k) a_sk / sum_j exp(V_j) a_sj share one numerator, so the segments are two
    small matrix products over it instead of one logit each (this runs for every member, year, city and band).
    """
    avail = np.asarray(segment_available, dtype=float)  # (S, K)
    numerator = np.exp(utility - utility.max(axis=-1, keepdims=True))
    denominator = numerator @ avail.T  # (..., B, S)
    weight = segment_weights[..., None, :]  # (..., 1, S)
    if np.any((weight > 0) & (denominator < 1e-250)):
        # a weighted segment whose modes (nearly) underflow against an unavailable mode (utilities ~575 apart):
        # subnormal numbers would lose digits, so each segment takes its own maximum
        by_band = _by_band_per_segment(utility, segment_weights, segment_available)
    else:
        by_band = numerator * (np.where(weight > 0, weight / np.maximum(denominator, 1e-300), 0.0) @ avail)
    shares = (band_weights[..., None, :] @ by_band)[..., 0, :]
    return shares, by_band


def _by_band_per_segment(utility: np.ndarray, segment_weights: np.ndarray, segment_available: np.ndarray) -> np.ndarray:
    by_band = np.zeros(utility.shape)
    for s in range(segment_available.shape[0]):
        w = segment_weights[..., s]
        if not np.any(w > 0):
            continue
        by_band += w[..., None, None] * logit_shares(utility, segment_available[s])
    return by_band
