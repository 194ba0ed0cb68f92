"""How errors travel up a recursion: where intermediate answers go wrong, and whether a wrong
leaf makes the final answer wrong.

A column per task. Top: the error rate of scored nodes at each recursion level (0 = root).
Bottom: how often the final answer is wrong when every scored leaf was right, against when some
leaf was wrong. Both are pooled over lengths by counts, since single cells hold few samples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from rlm_bench.evaluation.propagation import pool_levels
from rlm_bench.reporting.style import (
    MAX_COLUMNS,
    SolverStyle,
    figure_title,
    legend_below,
    save,
    solver_handles,
    solver_styles,
)

Rows = Sequence[Mapping[str, Any]]
CONDITIONS = (
    ("p_wrong_given_leaves_right", "n_leaves_right", "all scored leaves right", None),
    ("p_wrong_given_leaf_wrong", "n_leaf_wrong", "a scored leaf wrong", "///"),
)
"""(rate key, its count key, legend text, hatch) of the bottom row's two bars."""


def _levels_panel(
    ax: Axes, levels: Rows, solvers: Sequence[str], styles: Mapping[str, SolverStyle]
) -> None:
    all_levels: set[int] = set()
    total = 0
    for solver in solvers:
        mine = [r for r in levels if r["solver"] == solver]
        if not mine:
            continue
        rates = {r["level"]: r["error_rate"] for r in mine}
        total += sum(r["nodes"] for r in mine)
        all_levels |= set(rates)
        style = styles[solver]
        ax.plot(list(rates), list(rates.values()), color=style.color, marker=style.marker,
                linestyle=style.linestyle)  # fmt: skip
    ax.set_xticks(sorted(all_levels) or [0])
    if len(all_levels) <= 1:
        level = next(iter(all_levels), 0)
        ax.set_xlim(level - 0.5, level + 0.5)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("recursion level (0 = root)")
    ax.set_ylabel("error rate of scored nodes")
    ax.set_title(f"error rate by level (n = {total} scored nodes)", fontsize="medium")
    ax.grid(alpha=0.3)


def _conditions_panel(
    ax: Axes, pooled: Rows, solvers: Sequence[str], styles: Mapping[str, SolverStyle]
) -> None:
    """`pooled`: the task's rows of `propagation["pooled"]`, one per solver, counted over
    lengths by `evaluation/propagation.py`."""
    width = 0.38
    by_solver = {row["solver"]: row for row in pooled}
    shown = [s for s in solvers if s in by_solver]
    for i, solver in enumerate(shown):
        for j, (rate_key, count_key, _, hatch) in enumerate(CONDITIONS):
            rate, n = by_solver[solver][rate_key], by_solver[solver][count_key]
            x = i + (j - 0.5) * width
            if rate is None:
                ax.text(x, 0.02, "n=0", ha="center", va="bottom", fontsize=7, color="grey")
                continue
            ax.bar(x, rate, width, color=styles[solver].color, hatch=hatch,
                   edgecolor="black", linewidth=0.6, alpha=0.85)  # fmt: skip
            ax.text(x, rate + 0.02, f"{rate:.2f}\nn={n}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(shown)), shown, rotation=30 if len(shown) > 3 else 0)
    ax.set_xlim(-0.6, max(len(shown), 1) - 0.4)
    ax.set_ylim(0, 1.18)
    ax.set_ylabel("P(final answer wrong)")
    ax.set_title("final answer wrong, given the leaves", fontsize="medium")
    ax.grid(alpha=0.3, axis="y")


def error_propagation(
    propagation: Mapping[str, Any],
    out_dir: Path,
    title: str = "",
    styles: Mapping[str, SolverStyle] | None = None,
) -> list[Path]:
    """Write error_propagation.{png,svg}; nothing (an empty list) without scored nodes."""
    levels = pool_levels(propagation.get("levels", []))
    pooled = list(propagation.get("pooled", []))
    if not levels and not pooled:
        return []
    tasks = sorted({r["task"] for r in levels} | {c["task"] for c in pooled})
    solvers = sorted({r["solver"] for r in levels} | {c["solver"] for c in pooled})
    styles = styles or solver_styles(solvers)
    # A pair of rows (levels above, conditions below) per MAX_COLUMNS tasks.
    ncols = min(len(tasks), MAX_COLUMNS)
    blocks = math.ceil(len(tasks) / ncols)
    fig, axes = plt.subplots(
        2 * blocks, ncols, figsize=(max(5.0, 0.9 * len(solvers) + 2.6) * ncols, 7.4 * blocks + 0.8),
        squeeze=False, layout="constrained",
    )  # fmt: skip
    for t, task in enumerate(tasks):
        top, bottom = axes[2 * (t // ncols)][t % ncols], axes[2 * (t // ncols) + 1][t % ncols]
        _levels_panel(top, [r for r in levels if r["task"] == task], solvers, styles)
        _conditions_panel(bottom, [c for c in pooled if c["task"] == task], solvers, styles)
        top.set_title(f"{task}\n{top.get_title()}", fontsize="medium")
    for t in range(len(tasks), blocks * ncols):
        axes[2 * (t // ncols)][t % ncols].set_visible(False)
        axes[2 * (t // ncols) + 1][t % ncols].set_visible(False)
    handles: list[Any] = solver_handles(solvers, styles)
    handles += [
        Patch(facecolor="lightgrey", edgecolor="black", hatch=hatch, label=f"bars: {text}")
        for _, _, text, hatch in CONDITIONS
    ]
    legend_below(fig, handles, "solver (rates pooled over context lengths)")
    figure_title(fig, "error propagation through the recursion", title)
    return save(fig, out_dir, "error_propagation")
