"""One row per (task, solver, length): accuracy with a 95% interval, exact matches, mean costs,
costs per correct answer, and why the rest failed."""

from __future__ import annotations

from collections import Counter, defaultdict
from statistics import fmean
from typing import Any

from rlm_bench.evaluation.failures import failure_of
from rlm_bench.evaluation.intervals import bootstrap_interval, wilson_interval

COSTS = ("calls", "prompt_tokens", "completion_tokens", "latency_s", "cost_usd")
"""What `per_correct` divides by the number of correct answers."""


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


def _cost(row: dict[str, Any], name: str) -> float:
    # Rows written before a field was recorded (cost, wall time) count it as 0.
    return row.get(name, 0.0)


def summarize(
    samples: list[dict[str, Any]], *, resamples: int = 2000, seed: int = 0
) -> list[dict[str, Any]]:
    """The cell rows of `samples`, sorted by (task, solver, length). A cell whose scores are all
    0 or 1 gets Wilson's interval; one with partial credit gets a bootstrap of the mean score
    (`resamples` draws from `seed`), since its scores are not a proportion's trials."""
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = defaultdict(list)
    for row in samples:
        groups[(row["task"], row["solver"], row["length"])].append(row)
    return [
        {"task": task, "solver": solver, "length": length,
         **_cell(group, resamples=resamples, seed=seed)}
        for (task, solver, length), group in sorted(groups.items())
    ]  # fmt: skip


def _cell(group: list[dict[str, Any]], *, resamples: int, seed: int) -> dict[str, Any]:
    n = len(group)
    scores = [r["score"] for r in group]
    accuracy = fmean(scores)
    if all(s in (0.0, 1.0) for s in scores):
        method, (low, high) = "wilson", wilson_interval(accuracy, n)
    else:
        method = "bootstrap"
        low, high = bootstrap_interval(scores, resamples=resamples, seed=seed)
    correct = sum(1 for s in scores if s >= 1.0)
    exact_low, exact_high = wilson_interval(correct / n, n)
    totals = {name: sum(_cost(r, name) for r in group) for name in COSTS}
    failures = Counter(f for f in map(failure_of, group) if f is not None)
    return {
        "n": n,
        "accuracy": accuracy,
        "ci_low": low,
        "ci_high": high,
        "ci_method": method,
        "exact": correct / n,
        "exact_ci_low": exact_low,
        "exact_ci_high": exact_high,
        "correct": correct,
        "mean_calls": totals["calls"] / n,
        "mean_prompt_tokens": totals["prompt_tokens"] / n,
        "mean_completion_tokens": totals["completion_tokens"] / n,
        "mean_latency_s": totals["latency_s"] / n,
        "mean_wall_s": fmean(_cost(r, "wall_s") for r in group),
        "mean_cost_usd": totals["cost_usd"] / n,
        "per_correct": {k: v / correct for k, v in totals.items()} if correct else None,
        "errors": sum(1 for r in group if r["error"]),
        "truncated": sum(1 for r in group if r.get("truncated")),
        "failures": dict(sorted(failures.items())),
    }
