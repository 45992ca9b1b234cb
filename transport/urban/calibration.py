"""Base-year (2020) calibration of the urban constants to the observed mode shares of each city."""

from __future__ import annotations

import numpy as np

from transport.urban.choice import mixed_shares

CALIBRATION_TOL = 1e-10


def calibrate_constants(
    utility: np.ndarray,
    band_weights: np.ndarray,
    segment_weights: np.ndarray,
    segment_available: np.ndarray,
    target: np.ndarray,
    tol: float = CALIBRATION_TOL,
    max_iter: int = 10_000,
) -> tuple[np.ndarray, float, int]:
    """Alternative-specific constants (..., modes) so that `mixed_shares` reproduces `target` (modes,).

    Iterative proportional adjustment asc += log(target / model) (the fixed point of the logit likelihood for the
    constants), normalised to asc[walk] = 0. Modes with target 0 (unavailable in the base year) keep asc 0.
    Returns (asc, max |model - target|, iterations).
    """
    lead = utility.shape[:-2]
    asc = np.zeros((*lead, utility.shape[-1]))
    active = target > 0
    log_target = np.log(np.where(active, target, 1.0))
    residual = np.inf
    for iteration in range(1, max_iter + 1):
        shares, _ = mixed_shares(utility + asc[..., None, :], band_weights, segment_weights, segment_available)
        step = np.where(active, log_target - np.log(np.maximum(shares, 1e-300)), 0.0)
        residual = float(np.max(np.abs(shares - target)))
        # each member (leading index) stops on its own convergence, so its constants never depend on which other
        # members share the array: an ensemble gives the same rows in one chunk or many
        converged = np.max(np.abs(step), axis=-1, keepdims=True) < tol
        if np.all(converged):
            return asc, residual, iteration
        asc = asc + np.where(converged, 0.0, step)
        asc = asc - asc[..., :1]
    raise RuntimeError(f"urban constants did not converge in {max_iter} iterations (residual {residual:.2e})")
