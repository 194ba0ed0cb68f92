"""Accuracy with 95% Wilson intervals and mean costs per (task, solver, length)."""

from __future__ import annotations

import math
from collections import defaultdict
from statistics import fmean
from typing import Any

Z95 = 1.959963984540054


def wilson_interval(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion; with partial credit, `p` is the mean score
    (an approximation that keeps the interval inside [0, 1] at small n)."""
    if n == 0:
        return (0.0, 1.0)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # The interval holds p in exact arithmetic; clamping keeps rounding (centre - half is
    # 5.6e-17, not 0, for p = 0 and n = 3) from putting p outside it.
    return (max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


def call_totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Model calls over a whole run: how many, how many the response cache served (a rerun of a
    finished suite should be all of them), how many attempts were retried, and what they cost.
    Rows written before these fields existed count as uncached, unretried and free."""
    return {
        "calls": sum(r["calls"] for r in rows),
        "cached_calls": sum(r.get("cached_calls", 0) for r in rows),
        "retries": sum(r.get("retries", 0) for r in rows),
        "cost_usd": sum(r.get("cost_usd", 0.0) for r in rows),
    }


def describe_calls(totals: dict[str, Any]) -> str:
    """One line for the end of a run."""
    calls, cached = totals["calls"], totals["cached_calls"]
    share = f" ({cached / calls:.0%})" if calls else ""
    line = f"model calls: {calls}, {cached} served from the response cache{share}"
    if totals["retries"]:
        line += f", {totals['retries']} retried attempts"
    if totals["cost_usd"]:
        line += f", cost ${totals['cost_usd']:.4f}"
    return line


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["task"], row["solver"], row["length"])].append(row)
    out = []
    for (task, solver, length), group in sorted(groups.items()):
        n = len(group)
        accuracy = fmean(r["score"] for r in group)
        low, high = wilson_interval(accuracy, n)
        out.append(
            {
                "task": task,
                "solver": solver,
                "length": length,
                "n": n,
                "accuracy": accuracy,
                "ci_low": low,
                "ci_high": high,
                "exact": fmean(1.0 if r["score"] >= 1.0 else 0.0 for r in group),
                "mean_calls": fmean(r["calls"] for r in group),
                "mean_prompt_tokens": fmean(r["prompt_tokens"] for r in group),
                "mean_completion_tokens": fmean(r["completion_tokens"] for r in group),
                "mean_latency_s": fmean(r["latency_s"] for r in group),
                "mean_cost_usd": fmean(r.get("cost_usd", 0.0) for r in group),
                "errors": sum(1 for r in group if r["error"]),
                "truncated": sum(1 for r in group if r.get("truncated")),
            }
        )
    return out
