"""Multinomial logit over mode chains, vectorised over any leading dimensions (members, ODs, commodities).

Infeasible chains carry utility -inf and get share 0; a row with no feasible chain gets all zeros (the caller keeps
that demand out of the network and must account for it: see `transport.freight`, which never creates such rows).
"""

from __future__ import annotations

import numpy as np


def logit_split(utility: np.ndarray) -> np.ndarray:
    """Shares exp(V_k) / sum_j exp(V_j) over the last axis; -inf utilities are infeasible alternatives."""
    utility = np.asarray(utility, dtype=float)
    top = np.max(utility, axis=-1, keepdims=True)
    finite_top = np.where(np.isfinite(top), top, 0.0)
    # subtracting the row maximum keeps exp() in range whatever the cost scale
    expo = np.exp(utility - finite_top)
    total = expo.sum(axis=-1, keepdims=True)
    return np.divide(expo, total, out=np.zeros_like(expo), where=total > 0)


def logsum(utility: np.ndarray) -> np.ndarray:
    """Expected maximum utility log(sum_j exp(V_j)) over the last axis (-inf where nothing is feasible)."""
    utility = np.asarray(utility, dtype=float)
    top = np.max(utility, axis=-1)
    finite_top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return finite_top + np.log(np.exp(utility - finite_top[..., None]).sum(axis=-1))
