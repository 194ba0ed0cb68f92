"""The comparison as a forest plot: each cell's accuracy change with its interval, by verdict.

A table of twenty Δs and intervals is hard to scan; a column of intervals against the zero
line shows at a glance where a candidate moved, by how much, and whether it could be chance.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from rlm_bench.evaluation.comparison import CellComparison, Comparison
from rlm_bench.evaluation.lengths import length_label
from rlm_bench.reporting.style import figure_title, save

VERDICT_COLORS = {"worse": "tab:red", "same": "tab:gray", "better": "tab:green"}


def row_label(row: CellComparison, pairs: int) -> str:
    where = "overall" if row.task is None else f"{row.task} {length_label(row.length or 0)}"
    solvers = f" ({row.candidate_solver} vs {row.base_solver})" if pairs > 1 else ""
    return f"{where}{solvers}  n={row.n}"


def draw_comparison_deltas(comparison: Comparison, out_dir: Path, stem: str) -> list[Path]:
    """`stem`.png and .svg in `out_dir`: one row per cell, overall rows last and bold."""
    rows = [*comparison.cells, *comparison.overall]
    pairs = len(comparison.overall)
    fig, ax = plt.subplots(figsize=(9, 1.6 + 0.32 * len(rows)), layout="constrained")
    positions = range(len(rows) - 1, -1, -1)
    for y, row in zip(positions, rows, strict=True):
        color = VERDICT_COLORS[row.verdict]
        ax.plot([row.delta_low, row.delta_high], [y, y], color=color, linewidth=2)
        marker = "D" if row.task is None else "o"
        ax.plot(row.delta, y, marker=marker, color=color, markersize=7)
    tolerance = comparison.options.tolerance
    ax.axvline(0, color="black", linewidth=0.8)
    if tolerance > 0:
        ax.axvspan(-tolerance, tolerance, color="tab:gray", alpha=0.12, label="tolerance")
    ax.set_yticks(list(positions), [row_label(row, pairs) for row in rows])
    for tick, row in zip(ax.get_yticklabels(), rows, strict=True):
        if row.task is None:
            tick.set_fontweight("bold")
    ax.set_xlim(-1.05, 1.05)
    ax.set_xlabel(
        f"accuracy change, candidate − base, with its {1 - comparison.options.alpha:.0%} interval"
    )
    ax.grid(axis="x", alpha=0.3)
    handles = [
        plt.Line2D([], [], color=color, marker="o", linewidth=2, label=verdict)
        for verdict, color in VERDICT_COLORS.items()
    ]
    ax.legend(handles=handles, title="verdict", loc="lower right", fontsize="small")
    names = sorted({f"{r.candidate_solver} vs {r.base_solver}" for r in comparison.overall})
    figure_title(fig, "paired comparison per (task, length)", ", ".join(names))
    return save(fig, out_dir, stem)
