"""What a run folder becomes in W&B, as plain data: history steps, tables and summary scalars.

Kept apart from the W&B session (`wandb_run.py`) so that the metric names the report's panels
plot and the columns of the tables are decided in one place, from the analysis dict and the
sample rows alone, and can be checked without starting wandb.

Every series carries the task and the solver in its name (`accuracy/<task>/<solver>`), and every
table has a `solver` column: one W&B run holds all the solvers of a run folder, so a line plot
of `accuracy/<task>/*` against `length` draws one line per solver.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from statistics import fmean
from typing import Any

from rlm_bench.evaluation.failures import failure_of
from rlm_bench.evaluation.propagation import FINAL_ERRORS, pool_levels

Row = dict[str, Any]

LENGTH, LEVEL = "length", "level"
"""The step metrics: the x axis of the context-rot curves and of the error-propagation curves."""

CURVES = ("accuracy", "cost_usd", "tokens", "seconds")
"""Per-sample means plotted against length, one series per (task, solver)."""

LEVEL_ERROR = "level_error"
"""Share of the scored trace nodes at a recursion level that are wrong, pooled over lengths."""


def series_key(metric: str, task: str, solver: str) -> str:
    return f"{metric}/{task}/{solver}"


@dataclass(frozen=True)
class TableData:
    """A table as W&B takes it: column names and rows of scalars."""

    columns: list[str]
    rows: list[list[Any]]


def _curve_values(cell: Row) -> dict[str, float]:
    return {
        "accuracy": cell["accuracy"],
        "cost_usd": cell["mean_cost_usd"],
        "tokens": cell["mean_prompt_tokens"] + cell["mean_completion_tokens"],
        "seconds": cell["mean_latency_s"],
    }


def length_steps(cells: list[Row]) -> list[Row]:
    """One history step per (task, solver, length) cell, lengths ascending within a series, so
    that a line plot with x = `length` draws each series in order."""
    ordered = sorted(cells, key=lambda c: (c["task"], c["solver"], c["length"]))
    return [
        {LENGTH: cell["length"]}
        | {
            series_key(metric, cell["task"], cell["solver"]): value
            for metric, value in _curve_values(cell).items()
        }
        for cell in ordered
    ]


def level_steps(propagation: Row) -> list[Row]:
    """One history step per (task, solver, level), levels ascending within a series."""
    return [
        {LEVEL: row[LEVEL], series_key(LEVEL_ERROR, row["task"], row["solver"]): row["error_rate"]}
        for row in pool_levels(propagation.get("levels", []))
    ]


def curve_keys(cells: list[Row], metric: str) -> dict[str, list[str]]:
    """task -> the series keys of `metric` for that task's solvers, sorted."""
    keys: dict[str, set[str]] = defaultdict(set)
    for cell in cells:
        keys[cell["task"]].add(series_key(metric, cell["task"], cell["solver"]))
    return {task: sorted(found) for task, found in sorted(keys.items())}


def level_keys(propagation: Row) -> dict[str, list[str]]:
    """task -> the level-error series keys of that task's recursive solvers, sorted."""
    keys: dict[str, set[str]] = defaultdict(set)
    for row in pool_levels(propagation.get("levels", [])):
        keys[row["task"]].add(series_key(LEVEL_ERROR, row["task"], row["solver"]))
    return {task: sorted(found) for task, found in sorted(keys.items())}


SUMMARY_COLUMNS = [
    "task", "solver", "length", "n", "accuracy", "ci_low", "ci_high", "ci_method", "exact",
    "correct", "mean_calls", "mean_prompt_tokens", "mean_completion_tokens", "mean_tokens",
    "mean_latency_s", "mean_wall_s", "mean_cost_usd", "errors", "truncated", "failures",
]  # fmt: skip
SAMPLE_COLUMNS = [
    "sample_id", "task", "solver", "length", "prediction", "answer", "score", "calls",
    "tokens", "latency_s", "cost_usd", "failure", "error",
]  # fmt: skip
PROPAGATION_COLUMNS = [
    "task", "solver", "samples", "samples_with_leaves", "leaf_nodes", "leaf_error_rate",
    "final_error_rate", "amplification", "p_wrong_given_leaves_right", "n_leaves_right",
    "p_wrong_given_leaf_wrong", "n_leaf_wrong",
    *(cause.replace(" ", "_") for cause in FINAL_ERRORS),
]  # fmt: skip
COMPARISON_COLUMNS = [
    "task", "solver", "baseline", "length", "accuracy", "baseline_accuracy", "accuracy_delta",
    "calls_ratio", "tokens_ratio", "latency_ratio", "cost_ratio", "crossover_length",
]  # fmt: skip


def summary_table(cells: list[Row]) -> TableData:
    """The analysis cells; `failures` (a count per category) as a JSON string."""
    rows = []
    for cell in cells:
        values = cell | {
            "mean_tokens": cell["mean_prompt_tokens"] + cell["mean_completion_tokens"],
            "failures": json.dumps(cell.get("failures", {}), sort_keys=True),
        }
        rows.append([values.get(column) for column in SUMMARY_COLUMNS])
    return TableData(SUMMARY_COLUMNS, rows)


def samples_table(samples: list[Row]) -> TableData:
    rows = []
    for row in samples:
        values = row | {
            "tokens": row["prompt_tokens"] + row["completion_tokens"],
            "cost_usd": row.get("cost_usd", 0.0),
            "failure": failure_of(row),
        }
        rows.append([values.get(column) for column in SAMPLE_COLUMNS])
    return TableData(SAMPLE_COLUMNS, rows)


def propagation_table(propagation: Row) -> TableData:
    """The pooled rows, one per (task, recursive solver); a column per final-error cause."""
    rows = []
    for row in propagation.get("pooled", []):
        causes = {cause.replace(" ", "_"): n for cause, n in row["final_errors"].items()}
        rows.append([(row | causes).get(column) for column in PROPAGATION_COLUMNS])
    return TableData(PROPAGATION_COLUMNS, rows)


def comparison_table(analysis: Row) -> TableData:
    """Every solver against the baseline (`direct`) cell by cell: accuracies and cost ratios,
    with the solver's crossover length on each of its rows. Empty when the run has no baseline."""
    baseline = analysis["crossover"]["baseline"]
    accuracy = {(c["task"], c["solver"], c["length"]): c["accuracy"] for c in analysis["rows"]}
    crossover = analysis["crossover"]["rows"]
    crossing = {(r["task"], r["solver"]): r["crossover_length"] for r in crossover}
    rows = []
    for ratio in analysis["cost_ratios"]:
        task, solver, length = ratio["task"], ratio["solver"], ratio["length"]
        mine, base = accuracy[(task, solver, length)], accuracy[(task, baseline, length)]
        values = ratio | {
            "baseline": baseline,
            "accuracy": mine,
            "baseline_accuracy": base,
            "accuracy_delta": mine - base,
            "crossover_length": crossing.get((task, solver)),
        }
        rows.append([values.get(column) for column in COMPARISON_COLUMNS])
    return TableData(COMPARISON_COLUMNS, rows)


def tables(analysis: Row, samples: list[Row]) -> dict[str, TableData]:
    """The tables worth logging by name; a table with no rows (no recursive solver, no
    baseline) is left out rather than logged empty."""
    found = {
        "summary": summary_table(analysis["rows"]),
        "samples": samples_table(samples),
        "propagation": propagation_table(analysis.get("propagation") or {}),
        "comparison": comparison_table(analysis),
    }
    return {name: table for name, table in found.items() if table.rows}


def summary_scalars(analysis: Row, samples: list[Row]) -> dict[str, Any]:
    """The headline numbers for the W&B runs table: overall accuracy per solver (mean score over
    all its samples), effective length, AUC and crossover length per (task, solver), and the
    run's call totals. Values the analysis could not determine (None) are left out."""
    scores: dict[str, list[float]] = defaultdict(list)
    for row in samples:
        scores[row["solver"]].append(row["score"])
    out: dict[str, Any] = {
        f"overall_accuracy/{solver}": fmean(values) for solver, values in sorted(scores.items())
    }
    for row in analysis.get("context_rot", []):
        for name in ("effective_length", "auc"):
            out[series_key(name, row["task"], row["solver"])] = row[name]
    for row in analysis["crossover"]["rows"]:
        out[series_key("crossover_length", row["task"], row["solver"])] = row["crossover_length"]
    out |= {f"total/{name}": value for name, value in analysis["calls"].items()}
    out["total/samples"] = len(samples)
    return {key: value for key, value in out.items() if value is not None}
