"""Paired tests for two runs of the same samples: exact McNemar, a paired bootstrap, Holm.

Two runs of one suite and seed answer the same samples, so they are compared sample by sample.
Most of the spread in accuracy is in which samples are hard, and both runs share it: two
accuracies with their own intervals overlap long after a paired test sees a real difference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from rlm_bench.evaluation.intervals import wilson_interval

TIE = 1e-12
"""A resampled mean difference this close to 0 is a tie (float sums of opposite scores)."""
DRAWS_PER_CHUNK = 1_000_000
"""Bootstrap index draws held in memory at once, so a pooled row of many pairs stays small."""


def mcnemar_exact(base_wins: int, candidate_wins: int) -> float:
    """Two-sided exact McNemar test. Pairs where both runs scored the same say nothing about which
    is better; under no difference each discordant pair favours either run with probability 1/2,
    so the smaller count is Binomial(b + c, 1/2) and p is twice its tail (at most 1). With no
    discordant pair, p = 1."""
    discordant = base_wins + candidate_wins
    if discordant == 0:
        return 1.0
    tail = sum(math.comb(discordant, k) for k in range(min(base_wins, candidate_wins) + 1))
    return min(1.0, 2 * tail / 2**discordant)


def newcombe_interval(
    both: int, candidate_only: int, base_only: int, neither: int, alpha: float
) -> tuple[float, float]:
    """Interval of the paired difference of two proportions (candidate - base) at level
    1 - alpha: Newcombe's square-and-add of the two Wilson intervals, corrected for the
    correlation of the pairs (Newcombe 1998, method 10). Unlike a bootstrap of 0/1 pairs it is
    not a point when every pair agrees: ten agreeing pairs do not rule out a difference."""
    n = both + candidate_only + base_only + neither
    if n == 0:
        return (-1.0, 1.0)
    z = NormalDist().inv_cdf(1 - alpha / 2)
    p1, p2 = (both + candidate_only) / n, (both + base_only) / n
    l1, u1 = wilson_interval(p1, n, z)
    l2, u2 = wilson_interval(p2, n, z)
    margins = (
        both + candidate_only,
        base_only + neither,
        both + base_only,
        candidate_only + neither,
    )
    phi = 0.0
    if all(margins):
        # The correlation of the pairs, shrunk towards 0 by n/2 when positive (Newcombe's
        # correction, as in Fagerland, Lydersen and Laake's reference code).
        cross = both * neither - candidate_only * base_only
        shrunk = cross - n / 2 if cross > n / 2 else min(cross, 0)
        phi = shrunk / math.sqrt(math.prod(margins))
    delta = p1 - p2
    below = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    above = math.sqrt(max(0.0, (p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2))
    return (max(-1.0, delta - below), min(1.0, delta + above))


@dataclass(frozen=True)
class BootstrapResult:
    delta: float  # mean of candidate - base over the pairs
    low: float
    high: float
    p_value: float


def paired_bootstrap(
    base: Sequence[float],
    candidate: Sequence[float],
    *,
    resamples: int = 10000,
    seed: int = 0,
    alpha: float = 0.05,
) -> BootstrapResult:
    """Resample the pairs with replacement and take the mean difference of each resample.

    The interval is the percentile interval at level 1 - alpha. The two-sided p is the share of
    resampled means on the far side of 0 (ties count on both sides), doubled, as (k + 1) /
    (resamples + 1) so it is never 0. Being read off the same resampled means as the interval,
    p < alpha goes with an interval that leaves out 0. It is never below 2 / 2**m, m the pairs that
    differ: the smallest p an exact paired test (a sign flip of each difference) can give. A
    bootstrap of a few pairs is overconfident (one differing pair resamples to the same
    difference every time, p near 0); the floor makes it need as many differing pairs as
    McNemar does. Identical runs give p = 1."""
    diffs = np.asarray(candidate, dtype=float) - np.asarray(base, dtype=float)
    if diffs.size == 0:
        return BootstrapResult(0.0, -1.0, 1.0, 1.0)
    delta = float(diffs.mean())
    rng = np.random.default_rng(seed)
    per_chunk = max(1, DRAWS_PER_CHUNK // diffs.size)
    means = np.concatenate(
        [
            diffs[
                rng.integers(0, diffs.size, size=(min(per_chunk, resamples - done), diffs.size))
            ].mean(axis=1)
            for done in range(0, resamples, per_chunk)
        ]
    )
    at_or_below = int(np.count_nonzero(means <= TIE))
    at_or_above = int(np.count_nonzero(means >= -TIE))
    p_value = 2 * (min(at_or_below, at_or_above) + 1) / (resamples + 1)
    differing = int(np.count_nonzero(np.abs(diffs) > TIE))
    p_value = min(1.0, max(p_value, 2.0 / 2.0**differing))
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return BootstrapResult(delta, min(delta, float(low)), max(delta, float(high)), p_value)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment, in the order given: the i-th smallest p is multiplied by
    (m - i), and an adjusted p is never below that of a smaller raw p. Controls the chance of any
    false "worse" over the cells of a comparison without Bonferroni's loss of power."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [1.0] * len(p_values)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
