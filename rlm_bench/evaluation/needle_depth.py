"""Accuracy by where the needle sat (depth 0 = the start of the context, 1 = the end) and by
length: the data of a depth x length heatmap, showing whether a solver loses the middle."""

from __future__ import annotations

from collections import defaultdict
from statistics import fmean
from typing import Any


def _depth(sample: dict[str, Any]) -> float | None:
    depth = sample.get("metadata", {}).get("depth")
    if isinstance(depth, bool) or not isinstance(depth, int | float):
        return None
    return float(depth)


def accuracy_by_depth(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (task, solver, length, depth) over the samples whose metadata holds a numeric
    "depth" (the needle tasks), sorted by those keys; other samples are left out."""
    groups: dict[tuple[str, str, int, float], list[float]] = defaultdict(list)
    for sample in samples:
        depth = _depth(sample)
        if depth is not None:
            key = (sample["task"], sample["solver"], sample["length"], depth)
            groups[key].append(sample["score"])
    return [
        {"task": task, "solver": solver, "length": length, "depth": depth, "n": len(scores),
         "accuracy": fmean(scores)}
        for (task, solver, length, depth), scores in sorted(groups.items())
    ]  # fmt: skip
