"""Why samples were not answered right: the share of each failure category per cell.

A row per task; a stacked bar per (solver, length), grouped by solver, from full credit at the
bottom up through the failure categories of `evaluation/failures.py`, each with one colour in
every panel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.patches import Patch
from matplotlib.transforms import blended_transform_factory, offset_copy

from rlm_bench.evaluation.failures import FAILURES
from rlm_bench.reporting.style import figure_title, legend_below, length_label, n_text, save

Rows = Sequence[Mapping[str, Any]]
CORRECT = "correct"
CATEGORY_COLORS = {
    CORRECT: "#4daf4a",
    "wrong value": "#e41a1c",
    "no answer": "#ff7f00",
    "format error": "#984ea3",
    "truncated input": "#377eb8",
    "crash": "#4d4d4d",
}
GAP = 0.8
"""Space between solver groups, in bar widths."""


def _shares(row: Mapping[str, Any]) -> dict[str, float]:
    """Each category's share of the cell's samples; full credit is what no failure claims."""
    n = row["n"]
    failures = row.get("failures") or {}
    counts = {CORRECT: n - sum(failures.values()), **failures}
    return {category: count / n for category, count in counts.items() if n}


def _categories(rows: Rows) -> list[str]:
    """Correct first, then the known failures in their order, then any others by name."""
    seen = {category for row in rows for category in (row.get("failures") or {})}
    known = [CORRECT, *FAILURES]
    return known + sorted(seen - set(known))


def _color(category: str, others: list[str]) -> Any:
    if category in CATEGORY_COLORS:
        return CATEGORY_COLORS[category]
    return plt.get_cmap("Pastel2")(others.index(category) % 8)


def _panel(
    ax: Axes,
    rows: Rows,
    solvers: Sequence[str],
    categories: list[str],
) -> None:
    others = [c for c in categories if c not in CATEGORY_COLORS]
    x = 0.0
    ticks: list[float] = []
    labels: list[str] = []
    below = offset_copy(
        blended_transform_factory(ax.transData, ax.transAxes), fig=ax.figure, y=-20, units="points"
    )
    for solver in solvers:
        group = sorted((r for r in rows if r["solver"] == solver), key=lambda r: r["length"])
        if not group:
            continue
        start = x
        for row in group:
            shares = _shares(row)
            bottom = 0.0
            for category in categories:
                share = shares.get(category, 0.0)
                if share > 0:
                    ax.bar(x, share, 0.85, bottom=bottom, color=_color(category, others),
                           edgecolor="white", linewidth=0.5)  # fmt: skip
                    bottom += share
            ticks.append(x)
            labels.append(length_label(row["length"]))
            x += 1
        ax.text((start + x - 1) / 2, 0, solver, transform=below, ha="center", va="top",
                fontweight="bold")  # fmt: skip
        x += GAP
    ax.set_xticks(ticks, labels, fontsize="small")
    ax.set_xlim(-0.6, x - GAP - 0.4)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of samples")
    ax.grid(alpha=0.3, axis="y")


def failure_categories(rows: Rows, out_dir: Path, title: str = "") -> list[Path]:
    """Write failure_categories.{png,svg}; nothing (an empty list) when the rows predate
    failure categories. Colour is the category's here, so solvers are named under their bars."""
    if not rows or not any("failures" in row for row in rows):
        return []
    tasks = sorted({r["task"] for r in rows})
    solvers = sorted({r["solver"] for r in rows})
    categories = _categories(rows)
    bars = max(sum(1 for r in rows if r["task"] == task) for task in tasks)
    # Wide enough for the bars, and for each solver's name under its group.
    names = sum(0.11 * len(solver) + 0.3 for solver in solvers) + 1.5
    width = min(max(0.34 * bars + 0.6 * len(solvers) + 2.5, names, 7.0), 30.0)
    fig, axes = plt.subplots(
        len(tasks), 1, figsize=(width, 3.0 * len(tasks) + 1.4), squeeze=False, layout="constrained"
    )
    for ax, task in zip(axes[:, 0], tasks, strict=True):
        task_rows = [r for r in rows if r["task"] == task]
        _panel(ax, task_rows, solvers, categories)
        n = n_text(r["n"] for r in task_rows)
        ax.set_title(f"{task} ({n} samples per bar; bar labels: context length in tokens)",
                     fontsize="medium")  # fmt: skip
    others = [c for c in categories if c not in CATEGORY_COLORS]
    used = {c for r in rows for c, share in _shares(r).items() if share > 0}
    handles = [
        Patch(color=_color(c, others), label="correct (full credit)" if c == CORRECT else c)
        for c in categories
        if c in used
    ]
    legend_below(fig, handles, "outcome")
    figure_title(fig, "outcome of each sample by solver and context length", title)
    return save(fig, out_dir, "failure_categories")
