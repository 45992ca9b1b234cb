"""Scenario discovery: the boxes of uncertain parameters in which a target is missed (PRIM).

An ensemble's members 1..N-1 are a Latin hypercube over the scenario's uncertain parameters (member 0, the central
estimate, is not part of the design). For each target with a verdict that the members miss in between
MISSED_SHARE[0] and MISSED_SHARE[1] of cases, PRIM (the Patient Rule Induction Method, Friedman and Fisher 1999, as
used for scenario discovery by Bryant and Lempert 2010) looks for a box - a range per parameter - inside which the
target is missed far more often than outside ("rail-sea growth falls short when rail tariffs rise more than 4 %").
A member misses a target when any of its rows of that target is not met (targets with several years, such as each
year's rail-sea growth, are missed when one year is).

Method (the algorithm of ema_workbench 2.5's `analysis.prim` for real-valued inputs, its default objective):

- peeling: starting from every member, remove the PEEL_ALPHA share of the members still in the box at the low or at
  the high end of one parameter (cut at the sdtoolkit quantile, the midpoint of the two order statistics around it),
  choosing the cut with the largest gain in the box's miss share per member removed (ties: the cut that restricts no
  new parameter, then parameter order, high end first); stop when no cut gains or the box would hold fewer than
  MASS_MIN of the members. PEEL_ALPHA = 0.05 is patient (Friedman and Fisher recommend 0.05-0.10): each step loses
  little, so a bound is placed to about 5 % of the members left; MASS_MIN = 0.05 keeps a box of >= 100 members at
  2,000 members, so its miss share (density) is not the luck of a few members;
- choosing the box on the peeling trajectory: the one with the highest F1 score, the harmonic mean of its coverage
  and density (the box read as a classifier of the members that miss: recall and precision). The densest box with
  a coverage floor (a usual reading) mostly ends on the floor, and boxes late in the trajectory
  restrict parameters the peeling touched by chance;
- pruning it: each restricted bound is tested as in Bryant and Lempert (quasi-p value: one-sided binomial test of
  the box's misses against the miss share of the box without that bound), and the least significant bound is
  released while its p-value exceeds MAX_P_VALUE or more than MAX_PARAMETERS parameters are restricted (three
  ranges make a sentence a reader can hold);
- the box is kept when its density is at least MIN_DENSITY (inside it the target is missed more often than not);
  then its members are set aside and a second box is sought among the others (covering), up to MAX_BOXES. No
  pasting: after patient peeling it moves a bound by about one peel, and pruning already relaxes the bounds that do
  not matter.

Coverage is the share of all the target's missed members that fall in the box; density the share of the members in
the box that miss it, counted (for a second box) among the members not in an earlier box. Bounds are in the
parameters' units; a side the box does not restrict is null (the parameter may take any sampled value there). No
randomness: the same members give the same rows, whatever the chunking of the run.

Why not the library: ema-workbench 3.0 needs Python >= 3.12 (this project supports 3.11); 2.5.3 installs 11 more
packages (statsmodels, scikit-learn, seaborn, Platypus-Opt, patsy, formulaic, ...; 157 MB), its import loads ~2,800
modules in ~3 s and warns that ipyparallel is missing, and its peeling spends ~1 s per target at 2,000 members and
27 parameters in pandas indexing (the plan run has 5 targets to search). The standalone `prim` 1.0.0 is a GPL-3
copy of the same code (this project is MIT), as slow. This numpy version takes 0.4 s for those 5 targets, pruning
and second boxes included, with the same boxes step for step as ema_workbench 2.5.3 (tests/test_discovery.py
compares them when ema-workbench is installed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.stats import binom

from transport.result_tables import ANALYSIS_COLUMNS

MIN_MEMBERS = 101  # members of the run, member 0 included: 100 design members, as for the sensitivity indices
MISSED_SHARE = (0.05, 0.95)  # targets missed in a share of members outside this range get no box
PEEL_ALPHA = 0.05
MASS_MIN = 0.05
MIN_DENSITY = 0.5
MAX_PARAMETERS = 3
MAX_P_VALUE = 0.05
MAX_BOXES = 2


@dataclass(frozen=True)
class Box:
    """One box: bounds per parameter (-inf, inf on a side it does not restrict), the parameters it restricts, its
    coverage and density, and which members (of those given) are in it."""

    low: np.ndarray
    high: np.ndarray
    restricted: tuple[int, ...]
    coverage: float
    density: float
    inside: np.ndarray


def _quantile(ordered: np.ndarray, q: float) -> float:
    """sdtoolkit's quantile of sorted values (as ema_workbench): the midpoint of the order statistics around
    (m - 1) q, widened past ties so a cut never falls inside a run of equal values."""
    i = (len(ordered) - 1) * q
    lo, hi = int(np.floor(i)), int(np.ceil(i))
    if q > 0.5:
        while ordered[lo] == ordered[hi] and lo > 0:
            lo -= 1
    else:
        while ordered[lo] == ordered[hi] and hi < len(ordered) - 1:
            hi += 1
    return float((ordered[lo] + ordered[hi]) / 2)


def _in_box(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return np.all((x >= low) & (x <= high), axis=1)


def _cuts(ordered: np.ndarray, in_order: np.ndarray, ranks: np.ndarray, q: float) -> np.ndarray:
    """_quantile(q) of each column's members in the box; ordered: x sorted by column, in_order: in the box, in that
    order, ranks: its cumulative sum along columns (the in-box rank from 1 of each sorted value); all (n, d)."""
    columns = np.arange(ordered.shape[1])
    i = (int(ranks[-1, 0]) - 1) * q
    lo = ordered[np.argmax(ranks > np.floor(i), axis=0), columns]
    hi = ordered[np.argmax(ranks > np.ceil(i), axis=0), columns]
    cuts = (lo + hi) / 2
    for j in np.flatnonzero(lo == hi):  # a tie (or an exact rank): widen as sdtoolkit does
        cuts[j] = _quantile(ordered[in_order[:, j], j], q)
    return cuts


def peeling_trajectory(
    x: np.ndarray,
    y: np.ndarray,
    alpha: float = PEEL_ALPHA,
    mass_min: float = MASS_MIN,
    init: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """PRIM's peeling: the boxes (low, high, inside) from all members to the last peel; x (n, d), y (n,) bool;
    `init`: the unrestricted bounds (default: the extremes of x), mass_min: share of n."""
    n = x.shape[0]
    init_low, init_high = init if init is not None else (x.min(axis=0), x.max(axis=0))
    low, high = init_low.copy(), init_high.copy()
    inside = np.ones(n, dtype=bool)
    order = np.argsort(x, axis=0, kind="stable")
    ordered = np.take_along_axis(x, order, axis=0)
    missed = y.astype(bool)[:, None]
    steps = [(low.copy(), high.copy(), inside.copy())]
    while True:
        n_old = int(inside.sum())
        mean_old = float(y[inside].mean())
        in_order = inside[order]
        ranks = np.cumsum(in_order, axis=0)
        free = (low == init_low) & (high == init_high)
        gains, frees, keeps = [], [], []
        for side, q in ((1, 1 - alpha), (0, alpha)):  # high end first, as ema_workbench
            cut = _cuts(ordered, in_order, ranks, q)
            keep = inside[:, None] & ((x <= cut) if side else (x >= cut))  # (n, d): the box after each cut
            n_new = keep.sum(axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                gain = ((keep & missed).sum(axis=0) / n_new - mean_old) / (n_old - n_new)
            gains.append(np.where((n_new < n_old) & (n_new > 0), gain, -np.inf))
            frees.append(free.sum() - (free & (cut != (init_high if side else init_low))))
            keeps.append((side, cut, keep))
        # the largest gain; of equals, the cut restricting no new parameter, then the first (parameter, high end)
        gain_at = np.column_stack(gains).ravel()
        free_at = np.where(gain_at == gain_at.max(), np.column_stack(frees).ravel(), -1)
        j, pick = divmod(int(np.argmax(free_at)), 2)
        side, cut, keep = keeps[pick]
        if not gain_at.max() > 0 or keep[:, j].sum() < mass_min * n:
            return steps
        inside = keep[:, j].copy()
        (high if side else low)[j] = cut[j]
        steps.append((low.copy(), high.copy(), inside.copy()))


def _prune(
    x: np.ndarray, y: np.ndarray, low: np.ndarray, high: np.ndarray, init: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Release, one at a time, the least significant restricted bound while its quasi-p value exceeds MAX_P_VALUE or
    more than MAX_PARAMETERS parameters are restricted (Bryant and Lempert 2010: the quasi-p value of a bound is
    P(>= the box's misses | the box's size, the miss share of the box without that bound), one-sided binomial)."""
    low, high = low.copy(), high.copy()
    while True:
        # a member is in the box without bound c when it meets every bound but c
        meets = np.concatenate([x >= low, x <= high], axis=1)  # (n, 2 d): low bounds, then high bounds
        fails = (~meets).sum(axis=1)
        inside = fails == 0
        n_box, k_box = int(inside.sum()), int(y[inside].sum())
        only = (fails == 1)[:, None] & ~meets  # members out of the box by bound c alone
        share = (k_box + (only & y[:, None]).sum(axis=0)) / (n_box + only.sum(axis=0))
        bound = np.concatenate([low != init[0], high != init[1]])
        if not bound.any():
            return low, high
        p_value = np.where(bound, binom.sf(k_box - 1, n_box, share), -1.0)
        worst = int(np.argmax(p_value))  # the first of equals: low bounds first, in parameter order
        n_restricted = int(np.sum((low != init[0]) | (high != init[1])))
        if p_value[worst] <= MAX_P_VALUE and n_restricted <= MAX_PARAMETERS:
            return low, high
        side, j = divmod(worst, x.shape[1])
        (low, high)[side][j] = init[side][j]


def find_boxes(x: np.ndarray, missed: np.ndarray, max_boxes: int = MAX_BOXES) -> list[Box]:
    """Boxes where `missed` (n,) bool concentrates in x (n, d), first box first (see the module docstring)."""
    init = (x.min(axis=0), x.max(axis=0))
    total = int(missed.sum())
    left = np.ones(len(missed), dtype=bool)
    boxes: list[Box] = []
    while len(boxes) < max_boxes and total and missed[left].any():
        xs, ys = x[left], missed[left]
        k_all = int(ys.sum())
        best: tuple[float, np.ndarray, np.ndarray] | None = None
        for low, high, inside in peeling_trajectory(xs, ys, mass_min=MASS_MIN * len(missed) / len(ys), init=init):
            k = int(ys[inside].sum())
            f1 = 2 * k / (k_all + int(inside.sum()))  # harmonic mean of coverage (k / k_all) and density
            if np.any((low != init[0]) | (high != init[1])) and (best is None or f1 > best[0]):
                best = (f1, low, high)
        if best is None:
            break
        low, high = _prune(xs, ys, best[1], best[2], init)
        restricted = tuple(int(j) for j in np.flatnonzero((low != init[0]) | (high != init[1])))
        in_box = _in_box(xs, low, high)
        density = float(ys[in_box].mean())
        if not restricted or density < MIN_DENSITY:
            break
        members = np.zeros(len(missed), dtype=bool)
        members[np.flatnonzero(left)[in_box]] = True
        coverage = float(missed[members].sum() / total)
        low = np.where(low == init[0], -np.inf, low)
        high = np.where(high == init[1], np.inf, high)
        boxes.append(Box(low, high, restricted, coverage, density, members))
        left &= ~members
    return boxes


def missed_by_member(targets: pl.DataFrame, members: int) -> dict[str, np.ndarray]:
    """Per target with a verdict and all members 1..N-1: True where the member misses it in any of its rows."""
    rows = targets.filter((pl.col("member") > 0) & pl.col("met").is_not_null())
    per_member = rows.group_by("target", "member").agg((~pl.col("met")).any().alias("missed"))
    out: dict[str, np.ndarray] = {}
    for (target,), frame in per_member.sort("target", "member").group_by("target", maintain_order=True):
        if frame.height == members - 1:
            out[str(target)] = frame["missed"].to_numpy().astype(bool)
    return out


def target_discovery(targets: pl.DataFrame, params: Mapping[str, np.ndarray], sampled: Sequence[str]) -> pl.DataFrame:
    """Discovery rows (target, box, parameter, low, high, coverage, density): one row per restricted parameter of
    each box, for the targets missed in MISSED_SHARE of the members; none below MIN_MEMBERS members.

    `targets`: the run's targets table (all members); `params`: every parameter's values per member; `sampled`: the
    parameters the scenario draws from distributions (the others are the same in every member)."""
    schema = ANALYSIS_COLUMNS["discovery"]
    members = int(targets["member"].to_numpy().max()) + 1 if targets.height else 0
    if members < MIN_MEMBERS or not sampled:
        return pl.DataFrame(schema=schema)
    names = sorted(sampled)
    x = np.column_stack([np.asarray(params[name], dtype=float)[1:members] for name in names])
    rows: list[dict[str, object]] = []
    for target, missed in missed_by_member(targets, members).items():
        if not MISSED_SHARE[0] <= missed.mean() <= MISSED_SHARE[1]:
            continue
        for number, box in enumerate(find_boxes(x, missed), start=1):
            rows.extend(
                {
                    "target": target,
                    "box": number,
                    "parameter": names[j],
                    "low": float(box.low[j]) if np.isfinite(box.low[j]) else None,
                    "high": float(box.high[j]) if np.isfinite(box.high[j]) else None,
                    "coverage": box.coverage,
                    "density": box.density,
                }
                for j in box.restricted
            )
    return pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
