"""Multinomial logit over mode chains, vectorised over any leading dimensions (members, ODs, commodities).

Infeasible chains carry utility -inf and get share 0; a row with no feasible chain gets all zeros (the caller keeps
that demand out of the network and must account for it: see `transport.freight`, which never creates such rows).

Why not `scipy.special.softmax` (which transport.urban.choice uses, where every city has an available mode): these
functions do more than a plain softmax. `logit_split` masks infeasible alternatives and returns zeros for a row with
none (softmax returns NaN there), `grouped_logit_split` splits ragged groups of rows (one choice situation per group,
only its feasible alternatives stored; softmax works along a full axis), and `logsum` is -inf, without a warning,
where nothing is feasible (scipy.special.logsumexp warns). The arithmetic is the same max-shifted exp / sum.
"""

from __future__ import annotations

import numpy as np


def logit_split(utility: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shares exp(V_k) / sum_j exp(V_j) over `axis` (the alternatives); -inf utilities are infeasible alternatives.

    A masked softmax, kept rather than scipy.special.softmax: a row whose alternatives are all infeasible gets shares
    0 (no demand loaded), where softmax gives NaN that would spread through the flows."""
    shares = np.array(utility, dtype=float)
    top = np.max(shares, axis=axis, keepdims=True)
    top[~np.isfinite(top)] = 0.0
    # subtracting the row maximum keeps exp() in range whatever the cost scale; a row with nothing feasible is
    # exp(-inf) = 0 throughout and stays 0
    shares -= top
    np.exp(shares, out=shares)
    total = shares.sum(axis=axis, keepdims=True)
    return np.divide(shares, total, out=shares, where=total > 0)


def grouped_logit_split(utility: np.ndarray, group_start: np.ndarray, *, overwrite: bool = False) -> np.ndarray:
    """Logit shares over groups of rows: utility (N, ...) holds the alternatives of each choice situation in
    consecutive rows, situation g in rows [group_start[g], group_start[g + 1]) (the last runs to N); every row is a
    feasible alternative. The compact form of `logit_split` when most of a (situations x alternatives) grid is
    infeasible: work is proportional to the feasible alternatives only. A softmax per ragged group of rows
    (reduceat), which scipy.special.softmax (one full axis) cannot do without the dense grid this avoids.

    overwrite=True computes the shares in the utility array itself."""
    shares = np.asarray(utility, dtype=float) if overwrite else np.array(utility, dtype=float)
    sizes = np.diff(np.append(group_start, len(shares)))
    # subtracting each situation's maximum keeps exp() in range whatever the cost scale
    shares -= np.repeat(np.maximum.reduceat(shares, group_start, axis=0), sizes, axis=0)
    np.exp(shares, out=shares)
    shares /= np.repeat(np.add.reduceat(shares, group_start, axis=0), sizes, axis=0)
    return shares


def logsum(utility: np.ndarray) -> np.ndarray:
    """Expected maximum utility log(sum_j exp(V_j)) over the last axis (-inf where nothing is feasible, without the
    RuntimeWarning scipy.special.logsumexp gives there)."""
    utility = np.asarray(utility, dtype=float)
    top = np.max(utility, axis=-1)
    finite_top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return finite_top + np.log(np.exp(utility - finite_top[..., None]).sum(axis=-1))
