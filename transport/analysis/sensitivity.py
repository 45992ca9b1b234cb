"""Global sensitivity of the targets to the sampled uncertain parameters of an ensemble (SALib).

The members 1..N-1 of an ensemble are a Latin hypercube over the scenario's declared distributions (member 0 is the
central estimate and not part of the design), so only estimators that accept any sample apply. Two, chosen for what
they tell and for a cost that stays a few seconds per run whatever the ensemble (the CLI path: issue 18):

- first-order Sobol index S1 (share of the output variance explained by one parameter alone), SALib's binning
  estimator from its `delta` module, on up to S1_MEMBERS members, with SALib's bootstrap 95 % half-width
  (NUM_RESAMPLES resamples): 0.3 s for one target at 2,000 members and 27 parameters;
- PAWN (Pianosi and Wagener 2015; SALib `pawn`), moment-independent: the median over PAWN_SLICES slices of each
  parameter of the Kolmogorov-Smirnov distance between the output's conditional and unconditional distributions.
  Like Borgonovo's delta, which it replaces, it catches effects on the tails or on a discrete peak year that variance
  misses, but it costs 0.2 s where delta (a Gaussian KDE per slice and resample) took 12-17 s per target and 120 s of
  a 2,000-member run's 160 s. Its `conf` is the KS critical value at 95 % for a slice against the whole sample
  (1.36 sqrt((n_s + n) / (n_s n))): an index below it is not distinguishable from 0 (Pianosi and Wagener's screening
  test), so `conf` is a threshold for PAWN, not a half-width.

Indices are estimated, not exact: with a few hundred members an index below ~0.05 is indistinguishable from zero
(tests/test_sensitivity.py measures both on known functions).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl
from SALib.analyze import delta, pawn

from transport.result_tables import ANALYSIS_COLUMNS

# Targets whose sensitivity is reported: the three plan targets and the numbers behind them.
HEADLINE_TARGETS = (
    "railsea_teu_cagr",
    "green_trip_share.all_big_cities",
    "green_trip_share_with_ebike.all_big_cities",
    "road_oil_peak_year",
    "road_oil_peak_level",
    "road_co2_wtw_peak_year",
    "nev_share_of_stock",
)
MIN_MEMBERS = 100  # below this S1's binning bias (~ bins / n) swamps indices of 0.1; the run stores none
S1_MEMBERS = 5000
NUM_RESAMPLES = 50
PAWN_SLICES = 10  # SALib's default; at the minimum ensemble (100 members) 10 members a slice
KS_CRITICAL_95 = 1.358  # two-sample Kolmogorov-Smirnov coefficient c(0.05)


def bootstrap_seed(seed: int) -> int:
    """SALib's seed for a run seed: derived like the members' draws (numpy SeedSequence, own channel) and never 0,
    because SALib seeds only when the seed is truthy (`if seed:`) and leaves 0 to the global random state. The
    result fits numpy's legacy seed range (1 .. 2**32 - 1), which SALib passes it to."""
    state = np.random.SeedSequence(entropy=seed, spawn_key=(0x5A11B,)).generate_state(1, dtype=np.uint32)[0]
    return int(state) or 1


def first_order_indices(
    samples: np.ndarray, output: np.ndarray, names: Sequence[str], seed: int, *, with_pawn: bool = True
) -> dict[str, dict[str, np.ndarray]]:
    """S1 with its 95 % bootstrap half-width, and PAWN (median KS distance) with its 95 % critical value, for one
    output; samples (n, d), output (n,). Seeded with bootstrap_seed(seed), so any seed (0 included) gives the same
    numbers every time."""
    seed = bootstrap_seed(seed)
    problem = {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}
    out: dict[str, dict[str, np.ndarray]] = {}
    # SALib prints bias notices to stdout; the numbers it returns are what we keep
    with contextlib.redirect_stdout(io.StringIO()):
        n_s1 = min(len(output), S1_MEMBERS)
        res = delta.analyze(
            problem, samples[:n_s1], output[:n_s1], num_resamples=NUM_RESAMPLES, seed=seed, method="sobol"
        )
        out["S1"] = {"value": np.asarray(res["S1"]), "conf": np.asarray(res["S1_conf"])}
        if with_pawn:
            res = pawn.analyze(problem, samples, output, S=PAWN_SLICES, seed=seed)
            n = len(output)
            per_slice = n / PAWN_SLICES
            critical = KS_CRITICAL_95 * np.sqrt((per_slice + n) / (per_slice * n))
            out["pawn"] = {"value": np.asarray(res["median"]), "conf": np.full(len(names), critical)}
    return out


def _one_value_per_member(targets: pl.DataFrame) -> pl.DataFrame:
    """Targets with one row per member (a peak year: its `year` is the member's peak) get year = null, so that all
    members form one sample; targets reported for several years keep one sample per year."""
    per_member = targets.group_by("target", "member").len().group_by("target").agg(pl.col("len").max() == 1)
    single = per_member.filter(pl.col("len"))["target"].to_list()
    return targets.with_columns(
        pl.when(pl.col("target").is_in(single)).then(None).otherwise(pl.col("year")).cast(pl.Int32).alias("year")
    )


def target_sensitivity(
    targets: pl.DataFrame, params: Mapping[str, np.ndarray], sampled: Sequence[str], seed: int
) -> pl.DataFrame:
    """Sensitivity rows (target, year, parameter, method, index, value, conf) of the headline targets.

    `targets`: the run's targets table (all members); `params`: every parameter's values per member; `sampled`: the
    parameters the scenario draws from distributions. Targets that do not vary across members are skipped.
    """
    schema = ANALYSIS_COLUMNS["sensitivity"]
    members = int(targets["member"].to_numpy().max()) + 1 if targets.height else 0
    if members - 1 < MIN_MEMBERS or not sampled:
        return pl.DataFrame(schema=schema)
    # rows of the design: members 1..N-1; columns: the sampled parameters, scaled to [0, 1] by rank (the indices
    # are invariant to monotone transforms of an input, and SALib wants bounds)
    raw = np.column_stack([np.asarray(params[name], dtype=float)[1:members] for name in sampled])
    ranks = (np.argsort(np.argsort(raw, axis=0), axis=0) + 0.5) / raw.shape[0]
    frames = []
    wanted = targets.filter(pl.col("target").is_in(HEADLINE_TARGETS) & (pl.col("member") > 0))
    for (target, year), rows in _one_value_per_member(wanted).group_by("target", "year", maintain_order=True):
        rows = rows.sort("member")
        if rows.height != members - 1:
            continue
        output = rows["value"].to_numpy().astype(float)
        if not np.all(np.isfinite(output)) or np.ptp(output) == 0:
            continue
        indices = first_order_indices(ranks, output, sampled, seed)
        for index, values in indices.items():
            frames.append(
                pl.DataFrame(
                    {
                        "target": target,
                        "year": year,
                        "parameter": list(sampled),
                        "method": "salib.pawn(median)" if index == "pawn" else "salib.delta(sobol)",
                        "index": index,
                        "value": values["value"],
                        "conf": values["conf"],
                    }
                ).cast(schema)  # type: ignore[arg-type]  # a pooled target's year is null: cast before stacking
            )
    return pl.concat(frames).cast(schema) if frames else pl.DataFrame(schema=schema)  # type: ignore[arg-type]
