"""Capacity restraint by the method of successive averages (MSA) with a congestion cost on capacity groups.

A capacity group is anything with a yearly throughput limit that several edges share: a rail line, a ship lock, a
terminal or a port. Its congestion cost per tonne rises with the volume/capacity ratio in the BPR form
    penalty = scale * alpha * (v / C) ** beta      (yuan/t),
which is near zero well below capacity and steep above it. MSA: load the network at the current penalties (the
"auxiliary" loading y_k), average x_k = x_{k-1} + (y_k - x_{k-1}) / k, reprice, repeat until the relative gap
|y_k - x_{k-1}| / |x_{k-1}| falls below the tolerance. Every quantity a loading returns is averaged with the same step,
so conservation laws that hold for each loading hold for the average.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass
class MsaResult:
    """Averaged group flows and outputs, the penalties they imply, and the convergence record."""

    group_flow: np.ndarray
    penalty: np.ndarray
    outputs: dict[str, np.ndarray]
    gap: float
    iterations: int
    gaps: list[float] = field(default_factory=list)


def congestion_penalty(
    flow: np.ndarray,
    capacity: np.ndarray,
    scale: np.ndarray,
    alpha: float = 0.15,
    beta: float | np.ndarray = 4.0,
) -> np.ndarray:
    """BPR-shaped congestion cost (yuan/t) of each capacity group; groups with capacity <= 0 or inf are free.
    `beta` may be an array broadcast like `scale` (a sharper curve for a group that is a wall, not a queue)."""
    cap = np.asarray(capacity, dtype=float)
    ratio = np.divide(flow, cap, out=np.zeros(np.broadcast(flow, cap).shape), where=(cap > 0) & np.isfinite(cap))
    return np.asarray(scale) * alpha * ratio**beta


def msa_assign(
    load: Callable[[np.ndarray], tuple[np.ndarray, Mapping[str, np.ndarray]]],
    capacity: np.ndarray,
    scale: np.ndarray,
    *,
    alpha: float = 0.15,
    beta: float | np.ndarray = 4.0,
    max_iter: int = 30,
    tol: float = 1e-3,
    start_penalty: np.ndarray | None = None,
    independent: bool = False,
) -> MsaResult:
    """Successive averages: `load(penalty) -> (group_flow, outputs)`; shapes of penalty and group_flow agree.

    Returns after the relative gap is below `tol` or after `max_iter` loadings. With no capacity groups the first
    loading is the answer (gap 0).

    independent: the last axis of the flows holds independent problems (Monte Carlo members), and the first axis of
    every output the same problems. Each has its own gap and stops on it (its flows and outputs stay as they were
    once its gap is below `tol`), so a problem's answer does not depend on the others solved beside it; the result's
    gap is the largest final gap. One problem: the same as without.
    """
    capacity = np.asarray(capacity, dtype=float)
    penalty = np.zeros_like(capacity) if start_penalty is None else np.asarray(start_penalty, dtype=float)
    flow, outs = load(penalty)
    outputs = {k: np.array(v, dtype=float) for k, v in outs.items()}
    flow = np.array(flow, dtype=float)
    if capacity.size == 0 or not np.any((capacity > 0) & np.isfinite(capacity)):
        return MsaResult(flow, penalty, outputs, 0.0, 1, [0.0])
    n = flow.shape[-1] if independent else 1

    def per_problem(values: np.ndarray) -> np.ndarray:
        return values.reshape(-1, n).sum(axis=0) if independent else np.array([values.sum()])

    def along(step: np.ndarray, ndim: int, axis_last: bool) -> np.ndarray | float:
        """The problems' steps shaped to broadcast over an array (problems on its last or first axis)."""
        if not independent:
            return float(step[0])
        return step if axis_last else step.reshape((n,) + (1,) * (ndim - 1))

    cap = capacity[(...,) + (None,) * (flow.ndim - capacity.ndim)]
    active = np.ones(n, dtype=bool)
    final_gap = np.full(n, np.inf)
    gaps: list[float] = []
    k = 1
    while k < max_iter and active.any():
        penalty = congestion_penalty(flow, cap, scale, alpha, beta)
        aux_flow, aux_outs = load(penalty)
        denom = per_problem(np.abs(flow))
        gap = np.divide(per_problem(np.abs(aux_flow - flow)), denom, out=np.zeros(n), where=denom > 0)
        final_gap[active] = gap[active]
        gaps.append(float(gap[active].max()))
        k += 1
        step = np.where(active, 1.0 / k, 0.0)
        flow += along(step, flow.ndim, True) * (aux_flow - flow)
        for name, value in aux_outs.items():
            into = outputs[name]
            into += along(step, into.ndim, False) * (np.asarray(value, dtype=float) - into)
        active &= gap >= tol
    penalty = congestion_penalty(flow, cap, scale, alpha, beta)
    return MsaResult(flow, penalty, outputs, float(final_gap.max()), k, gaps)
