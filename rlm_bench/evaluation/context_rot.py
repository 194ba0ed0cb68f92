"""How fast each solver's accuracy falls as the context grows, in three numbers per (task, solver).

- The **effective length**: the longest length up to which accuracy holds a threshold (a share of
  the shortest length's accuracy, or a fixed accuracy as in RULER) at every measured length.
- The **AUC**: the area under accuracy against log2(length), scaled to a mean accuracy, so solvers
  measured at the same lengths compare by one number whatever the shape of their curves.
- A **logistic fit** of score against log2(length) on the samples: the length where the fitted
  curve crosses 50% and how steeply it falls, a summary that uses every sample at once.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from statistics import fmean
from typing import Any

import numpy as np

TOLERANCE = 1e-9
"""Accuracies this close below a threshold count as holding it: 0.8 x 3/4 is 0.6000000000000001,
and a cell with 3 right of 5 should not fall short by rounding."""
RIDGE = 1e-6
"""Penalty on the squared coefficients of the logistic fit: too small to move a fit the data
determine, enough to keep it finite when the data separate (all right up to some length, all
wrong beyond it), where maximum likelihood has no finite answer."""
MAX_ITERATIONS = 200


def effective_length(
    lengths: Sequence[int], accuracies: Sequence[float], threshold: float
) -> int | None:
    """The longest length L with accuracy >= `threshold` at every measured length <= L: the scan
    stops at the first length below it, even if a longer one recovers. None when the shortest
    length is already below."""
    effective = None
    for length, accuracy in sorted(zip(lengths, accuracies, strict=True)):
        if accuracy < threshold - TOLERANCE:
            break
        effective = length
    return effective


def auc_log2(lengths: Sequence[int], accuracies: Sequence[float]) -> float:
    """Trapezoid area under accuracy against log2(length), divided by the width of the measured
    range so it is a mean accuracy in [0, 1]; with one length, that length's accuracy."""
    points = sorted(zip(lengths, accuracies, strict=True))
    if len(points) == 1:
        return points[0][1]
    xs = [math.log2(length) for length, _ in points]
    area = float(np.trapezoid([accuracy for _, accuracy in points], xs))
    return area / (xs[-1] - xs[0])


def _log_likelihood(theta: np.ndarray, design: np.ndarray, targets: np.ndarray) -> float:
    z = design @ theta
    return float(np.sum(targets * z - np.logaddexp(0.0, z)) - RIDGE / 2 * theta @ theta)


def fit_logistic(xs: Sequence[float], targets: Sequence[float]) -> tuple[float, float]:
    """(a, b) maximizing the ridge-penalized likelihood of p(x) = sigmoid(a + b x), by Newton's
    method (IRLS) with step halving. Targets in [0, 1]: partial credit enters as a fraction."""
    x = np.asarray(xs, dtype=float)
    y = np.asarray(targets, dtype=float)
    centre = float(x.mean())  # centred, the two coefficients are nearly independent
    design = np.column_stack([np.ones_like(x), x - centre])
    theta = np.zeros(2)
    current = _log_likelihood(theta, design, y)
    for _ in range(MAX_ITERATIONS):
        p = 0.5 * (1.0 + np.tanh(design @ theta / 2))  # the sigmoid, without overflow
        gradient = design.T @ (y - p) - RIDGE * theta
        hessian = (design.T * (p * (1 - p))) @ design + RIDGE * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        scale = 1.0
        while (value := _log_likelihood(theta + scale * step, design, y)) < current:
            scale /= 2
            if scale < 1e-10:  # no ascent left: at the optimum up to rounding
                break
        if value < current:
            break
        theta, current = theta + scale * step, value
        if float(np.max(np.abs(scale * step))) < 1e-10:
            break
    a, b = float(theta[0]), float(theta[1])
    return a - b * centre, b


def logistic_midpoint(lengths: Sequence[int], scores: Sequence[float]) -> dict[str, Any]:
    """The fitted curve through per-sample (length, score) pairs: `midpoint`, the length in
    tokens where it crosses 50%; `slope`, its change in log-odds per doubling; `extrapolated`,
    whether the midpoint lies outside the measured lengths; `note`, why there is no midpoint.
    A curve whose measured accuracy stays above (or below) 50% everywhere gets no midpoint: where
    it would cross is a guess about lengths nobody measured."""
    by_length: dict[int, list[float]] = defaultdict(list)
    for length, score in zip(lengths, scores, strict=True):
        by_length[length].append(score)
    out: dict[str, Any] = {"midpoint": None, "slope": None, "extrapolated": False, "note": None}
    if len(by_length) < 2:
        out["note"] = "one length" if by_length else "no samples"
        return out
    a, b = fit_logistic([math.log2(length) for length in lengths], scores)
    out["slope"] = b
    accuracies = [fmean(group) for group in by_length.values()]
    crossing = -a / b if b < 0 else math.inf
    if all(accuracy > 0.5 for accuracy in accuracies):
        out["note"] = "above 50% at every length"
    elif all(accuracy < 0.5 for accuracy in accuracies):
        out["note"] = "below 50% at every length"
    elif crossing > 1000:  # no fall, or one too slow to reach 50% within any float length
        out["note"] = "no decay"
    else:
        midpoint = 2.0**crossing
        out["midpoint"] = midpoint
        out["extrapolated"] = not min(by_length) <= midpoint <= max(by_length)
    return out


def context_rot(
    rows: list[dict[str, Any]],
    samples: list[dict[str, Any]],
    *,
    relative: float = 0.8,
    absolute: float | None = None,
) -> list[dict[str, Any]]:
    """One row per (task, solver) from the cell rows (`metrics.summarize`) and the samples they
    summarize. The threshold is `absolute` when given, else `relative` times the accuracy at the
    shortest length; a relative threshold of a solver that fails there defines nothing."""
    cells: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        cells[(row["task"], row["solver"])].append(row)
    points: dict[tuple[str, str], tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
    for sample in samples:
        lengths, scores = points[(sample["task"], sample["solver"])]
        lengths.append(sample["length"])
        scores.append(sample["score"])
    out = []
    for (task, solver), group in sorted(cells.items()):
        group = sorted(group, key=lambda r: r["length"])
        lengths = [r["length"] for r in group]
        accuracies = [r["accuracy"] for r in group]
        reference = accuracies[0]
        if absolute is not None:
            threshold, kind = absolute, "absolute"
        else:
            threshold, kind = relative * reference, "relative"
        defined = kind == "absolute" or reference > 0
        out.append(
            {
                "task": task,
                "solver": solver,
                "lengths": lengths,
                "reference_length": lengths[0],
                "reference_accuracy": reference,
                "threshold": threshold,
                "threshold_kind": kind,
                "effective_length": (
                    effective_length(lengths, accuracies, threshold) if defined else None
                ),
                "auc": auc_log2(lengths, accuracies),
                "logistic": logistic_midpoint(*points[(task, solver)]),
            }
        )
    return out
