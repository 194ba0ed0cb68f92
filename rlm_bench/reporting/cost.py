"""What accuracy costs: tokens and model seconds by length, and accuracy against model seconds.

Model seconds (the sum of a sample's model-call latencies) stand for cost because the default
model is local and free; tokens are shown beside them since they are what a hosted model bills.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from rlm_bench.reporting.style import (
    SolverStyle,
    by_task_solver,
    figure_title,
    legend_below,
    legend_width,
    length_label,
    log2_length_axis,
    log_axis,
    n_text,
    panel_grid,
    save,
    solver_handles,
    solver_styles,
)

Rows = Sequence[Mapping[str, Any]]
Label = tuple[float, float, str, Any]
"""A point's length label: x, y, text, colour."""
LABEL_CHAR_POINTS = 4.3
"""Width of one character of a 7-point label, in points."""


def _tokens(row: Mapping[str, Any]) -> float:
    return row["mean_prompt_tokens"] + row["mean_completion_tokens"]


def _panels(rows: Rows, styles: Mapping[str, SolverStyle] | None):
    """The rows by task and solver, the panel (task) order, the solvers and their styles."""
    grouped = by_task_solver(rows)
    solvers = sorted({r["solver"] for r in rows})
    return grouped, sorted(grouped), solvers, styles or solver_styles(solvers)


def cost_vs_length(
    rows: Rows,
    out_dir: Path,
    title: str = "",
    styles: Mapping[str, SolverStyle] | None = None,
) -> list[Path]:
    """Write cost_vs_length.{png,svg}: a row per task, tokens and model seconds per sample."""
    grouped, tasks, solvers, styles = _panels(rows, styles)
    metrics = (
        ("mean tokens per sample\n(prompt + completion)", _tokens),
        ("mean model seconds per sample", lambda r: r["mean_latency_s"]),
    )
    fig, axes = plt.subplots(
        len(tasks), 2, figsize=(10.5, 3.3 * len(tasks) + 1.2), squeeze=False, layout="constrained"
    )
    for t, task in enumerate(tasks):
        task_rows = [r for group in grouped[task].values() for r in group]
        lengths = sorted({r["length"] for r in task_rows})
        for ax, (label, metric) in zip(axes[t], metrics, strict=True):
            values = []
            for solver in solvers:
                group = grouped[task].get(solver)
                if not group:
                    continue
                ys = [metric(r) for r in group]
                values += ys
                style = styles[solver]
                ax.plot([r["length"] for r in group], ys, color=style.color, marker=style.marker,
                        linestyle=style.linestyle)  # fmt: skip
            log2_length_axis(ax, lengths)
            log_axis(ax, "y", values)
            ax.set_ylabel(label)
            ax.set_title(f"{task} ({n_text(r['n'] for r in task_rows)} per point)",
                         fontsize="medium")  # fmt: skip
            ax.grid(alpha=0.3, which="both")
            ax.set_xlabel("context length (tokens, log2 scale)")
    legend_below(fig, solver_handles(solvers, styles), "solver")
    figure_title(fig, "cost per sample vs context length (log scales)", title)
    return save(fig, out_dir, "cost_vs_length")


def pareto_front(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats on both counts (cost no higher, accuracy no lower, one
    strictly), by increasing cost."""
    front: list[tuple[float, float]] = []
    for cost, accuracy in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or accuracy > front[-1][1]:
            front.append((cost, accuracy))
    return front


def _pareto_panel(
    ax: Axes,
    by_solver: Mapping[str, list[Mapping[str, Any]]],
    solvers: Sequence[str],
    styles: Mapping[str, SolverStyle],
) -> list[Label]:
    """Draw a panel's points, lines and front; the length labels it still needs placing."""
    points: list[tuple[float, float]] = []
    labels: list[Label] = []
    for solver in solvers:
        group = by_solver.get(solver)
        if not group:
            continue
        style = styles[solver]
        xs = [r["mean_latency_s"] for r in group]
        ys = [r["accuracy"] for r in group]
        points += zip(xs, ys, strict=True)
        ax.plot(xs, ys, color=style.color, linestyle=style.linestyle, alpha=0.35, linewidth=1)
        ax.scatter(xs, ys, color=style.color, marker=style.marker, s=42, zorder=3,
                   edgecolors="white", linewidths=0.5)  # fmt: skip
        labels += [
            (x, y, length_label(row["length"]), style.color)
            for x, y, row in zip(xs, ys, group, strict=True)
        ]
    front = pareto_front(points)
    ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="black",
            linestyle="--", linewidth=1, zorder=2)  # fmt: skip
    ax.plot([p[0] for p in front], [p[1] for p in front], linestyle="none", marker="o",
            markersize=12, markerfacecolor="none", markeredgecolor="black", zorder=4)  # fmt: skip
    log_axis(ax, "x", [p[0] for p in points])
    ax.set_ylim(-0.03, 1.08)
    return labels


def _boxes_overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _inside(box: tuple[float, ...], frame: tuple[float, ...]) -> bool:
    return frame[0] <= box[0] and box[2] <= frame[2] and frame[1] <= box[1] and box[3] <= frame[3]


def _place_labels(ax: Axes, labels: Sequence[Label]) -> None:
    """Put each length label beside its point, inside the panel, where it covers no other label
    or point (the first free spot of a few, else the first), so crowded panels stay legible."""
    to_points = 72 / ax.figure.dpi
    anchors = [tuple(ax.transData.transform((x, y)) * to_points) for x, y, _, _ in labels]
    taken = [(px - 4, py - 4, px + 4, py + 4) for px, py in anchors]
    extent = ax.get_window_extent()
    frame = (extent.x0 * to_points, extent.y0 * to_points, extent.x1 * to_points,
             extent.y1 * to_points)  # fmt: skip
    for (x, y, text, color), (px, py) in zip(labels, anchors, strict=True):
        width = LABEL_CHAR_POINTS * len(text)
        spots = [(4, 3), (4, -10), (-4 - width, 3), (-4 - width, -10), (-width / 2, 7),
                 (-width / 2, -15), (8, -3), (-8 - width, -3)]  # fmt: skip
        boxes = [(px + dx, py + dy, px + dx + width, py + dy + 7) for dx, dy in spots]
        free = [
            i
            for i, box in enumerate(boxes)
            if _inside(box, frame) and not any(_boxes_overlap(box, t) for t in taken)
        ]
        best = free[0] if free else 0
        taken.append(boxes[best])
        ax.annotate(text, (x, y), xytext=spots[best], textcoords="offset points", fontsize=7,
                    color=color, ha="left", va="bottom")  # fmt: skip


def accuracy_vs_cost(
    rows: Rows,
    out_dir: Path,
    title: str = "",
    styles: Mapping[str, SolverStyle] | None = None,
) -> list[Path]:
    """Write accuracy_vs_cost.{png,svg}: a point per (solver, length) and the Pareto front."""
    grouped, tasks, solvers, styles = _panels(rows, styles)
    fig, axes = panel_grid(len(tasks), width=5.2, height=4.2, min_width=legend_width(len(solvers)))
    labels = []
    for ax, task in zip(axes, tasks, strict=True):
        labels.append(_pareto_panel(ax, grouped[task], solvers, styles))
        task_rows = [r for group in grouped[task].values() for r in group]
        ax.set_title(f"{task} ({n_text(r['n'] for r in task_rows)} per point)",
                     fontsize="medium")  # fmt: skip
        ax.set_xlabel("mean model seconds per sample (log scale)")
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel("accuracy (mean score)")
        ax.grid(alpha=0.3, which="both")
    handles = solver_handles(solvers, styles)
    handles.append(
        Line2D([], [], color="black", linestyle="--", marker="o", markerfacecolor="none",
               markersize=10, label="Pareto front (nothing cheaper is as accurate)")
    )  # fmt: skip
    legend_below(fig, handles, "solver (point labels: context length in tokens)")
    figure_title(fig, "accuracy vs model seconds per sample", title)
    # Labels go where there is room, which is known once the layout is done.
    fig.draw_without_rendering()
    for ax, panel_labels in zip(axes, labels, strict=True):
        _place_labels(ax, panel_labels)
    return save(fig, out_dir, "accuracy_vs_cost")
