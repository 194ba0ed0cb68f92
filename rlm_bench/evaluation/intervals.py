"""95% intervals for a cell's accuracy: Wilson's for proportions, a bootstrap for mean scores.

Both return (0.0, 1.0) for an empty cell: nothing measured rules nothing out, and the bounds stay
plottable. Both keep the estimate inside its interval, so a point never sits outside its bar.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959963984540054


def wilson_interval(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion `p` of `n` trials: it stays inside [0, 1] and is
    not degenerate at p = 0 or 1, where the normal approximation collapses to a point."""
    if n == 0:
        return (0.0, 1.0)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # The interval holds p in exact arithmetic; clamping keeps rounding (centre - half is
    # 5.6e-17, not 0, for p = 0 and n = 3) from putting p outside it.
    return (max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


def bootstrap_interval(
    values: Sequence[float], *, resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values` (partial-credit scores, which a
    proportion's interval does not fit). Seeded, so a run folder always gets the same numbers.
    One value (or all equal) gives (v, v): resampling cannot show spread the data lack."""
    if len(values) == 0:
        return (0.0, 1.0)
    data = np.asarray(values, dtype=float)
    mean = float(data.mean())
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(data), size=(resamples, len(data)))
    means = data[draws].mean(axis=1)
    tail = (1.0 - level) / 2
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return (min(mean, float(low)), max(mean, float(high)))
