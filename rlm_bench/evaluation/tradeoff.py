"""When a solver pays off against the direct baseline, and what it costs.

The crossover is the shortest length where a solver beats the baseline with its interval clear
of the baseline's (its lower bound above the baseline's upper bound), so a lucky cell of a few
samples does not count. Below it the baseline does as well, as far as the run can tell, for less.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from rlm_bench.evaluation.lengths import length_label

Cell = dict[str, Any]


def baseline_label(run_info: dict[str, Any]) -> str | None:
    """The label of the suite's `direct` solver (the one labelled "direct" when several run
    it), or None when the suite has none."""
    labels = [s["label"] for s in run_info["suite"]["solvers"] if s["solver"] == "direct"]
    if not labels:
        return None
    return "direct" if "direct" in labels else labels[0]


def _ratio(value: float, base: float) -> float | None:
    return value / base if base else None


def _tokens(cell: Cell) -> float:
    return cell["mean_prompt_tokens"] + cell["mean_completion_tokens"]


def _by_task(rows: list[Cell]) -> dict[str, dict[str, dict[int, Cell]]]:
    """task -> solver -> length -> cell row."""
    out: dict[str, dict[str, dict[int, Cell]]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        out[row["task"]][row["solver"]][row["length"]] = row
    return out


def _crossing(cells: dict[int, Cell], base: dict[int, Cell]) -> int | None:
    for length in sorted(cells.keys() & base.keys()):
        cell, ref = cells[length], base[length]
        if cell["accuracy"] > ref["accuracy"] and cell["ci_low"] > ref["ci_high"]:
            return length
    return None


def crossovers(rows: list[Cell], baseline: str) -> list[Cell]:
    """One row per (task, solver other than the baseline), for tasks the baseline ran: the
    crossover length and, there, the accuracies and what the solver costs per sample beyond
    the baseline (differences and ratios of the cell means; a ratio is None over a zero)."""
    out = []
    for task, solvers in sorted(_by_task(rows).items()):
        base = solvers.get(baseline)
        if base is None:
            continue
        for solver, cells in sorted(solvers.items()):
            if solver == baseline:
                continue
            length = _crossing(cells, base)
            row: Cell = {"task": task, "solver": solver, "baseline": baseline,
                         "crossover_length": length}  # fmt: skip
            if length is None:
                row |= dict.fromkeys(
                    ("accuracy", "baseline_accuracy", "extra_calls", "extra_tokens",
                     "extra_seconds", "calls_ratio", "tokens_ratio", "latency_ratio"),
                )  # fmt: skip
            else:
                cell, ref = cells[length], base[length]
                row |= {
                    "accuracy": cell["accuracy"],
                    "baseline_accuracy": ref["accuracy"],
                    "extra_calls": cell["mean_calls"] - ref["mean_calls"],
                    "extra_tokens": _tokens(cell) - _tokens(ref),
                    "extra_seconds": cell["mean_latency_s"] - ref["mean_latency_s"],
                    "calls_ratio": _ratio(cell["mean_calls"], ref["mean_calls"]),
                    "tokens_ratio": _ratio(_tokens(cell), _tokens(ref)),
                    "latency_ratio": _ratio(cell["mean_latency_s"], ref["mean_latency_s"]),
                }
            out.append(row)
    return out


def _costs(row: Cell) -> str:
    parts = [
        f"{row[key]:.1f}x the {what}"
        for key, what in (
            ("calls_ratio", "calls"),
            ("tokens_ratio", "tokens"),
            ("latency_ratio", "model seconds"),
        )
        if row[key] is not None
    ]
    if not parts:
        return ""
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f" at {listed}"


def _sentence(task: str, crossing: list[Cell], lengths: list[int], baseline: str) -> str:
    if not crossing:
        return f"{task}: no other solver ran at the lengths {baseline} ran."
    found = [r for r in crossing if r["crossover_length"] is not None]
    if not found:
        return (
            f"{task}: no solver beats {baseline} with its interval clear of {baseline}'s at any "
            f"length up to {length_label(max(lengths))}; {baseline} is the cheaper right choice "
            "throughout."
        )
    # The earliest crossover; among equals, the one costing the fewest tokens over the baseline.
    best = min(found, key=lambda r: (r["crossover_length"], r["extra_tokens"], r["solver"]))
    at = length_label(best["crossover_length"])
    sentence = (
        f"{task}: {best['solver']} beats {baseline} from {at} tokens "
        f"({best['accuracy']:.2f} vs {best['baseline_accuracy']:.2f}){_costs(best)}"
    )
    if best["crossover_length"] > min(lengths):
        return f"{sentence}; below {at} {baseline} is the cheaper right choice."
    return f"{sentence}, at every length measured."


def crossover_sentences(
    crossover_rows: list[Cell], rows: list[Cell], baseline: str
) -> dict[str, str]:
    """One sentence per task the baseline ran, for a reader who wants the answer: which solver
    beats the baseline from which length, at what multiple of its cost; or that none does."""
    by_task = _by_task(rows)
    crossing: dict[str, list[Cell]] = defaultdict(list)
    for row in crossover_rows:
        crossing[row["task"]].append(row)
    out = {}
    for task, solvers in sorted(by_task.items()):
        base = solvers.get(baseline)
        if base is None:
            continue
        shared = sorted(
            {length for solver, cells in solvers.items() if solver != baseline for length in cells}
            & base.keys()
        )
        out[task] = _sentence(task, crossing[task] if shared else [], shared, baseline)
    return out


def cost_ratios(rows: list[Cell], baseline: str) -> list[Cell]:
    """Each solver's mean costs over the baseline's in the same (task, length) cell; a ratio is
    None where the baseline's mean is 0 (a local model costs no dollars)."""
    out = []
    for task, solvers in sorted(_by_task(rows).items()):
        base = solvers.get(baseline, {})
        for solver, cells in sorted(solvers.items()):
            if solver == baseline:
                continue
            for length in sorted(cells.keys() & base.keys()):
                cell, ref = cells[length], base[length]
                out.append(
                    {
                        "task": task,
                        "solver": solver,
                        "length": length,
                        "calls_ratio": _ratio(cell["mean_calls"], ref["mean_calls"]),
                        "prompt_tokens_ratio": _ratio(
                            cell["mean_prompt_tokens"], ref["mean_prompt_tokens"]
                        ),
                        "completion_tokens_ratio": _ratio(
                            cell["mean_completion_tokens"], ref["mean_completion_tokens"]
                        ),
                        "tokens_ratio": _ratio(_tokens(cell), _tokens(ref)),
                        "latency_ratio": _ratio(cell["mean_latency_s"], ref["mean_latency_s"]),
                        "cost_ratio": _ratio(cell["mean_cost_usd"], ref["mean_cost_usd"]),
                    }
                )
    return out
