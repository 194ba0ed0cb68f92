"""Accuracy against context length: the figure the benchmark exists to draw.

One panel per task, one line per solver with its 95% interval as a band. The x axis is log2 of
the context length, since suites double the length from one cell to the next. A triangle on
the x axis marks each solver's effective context length when the analysis has one.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.transforms import offset_copy

from rlm_bench.reporting.style import (
    LINESTYLES,
    MARKERS,
    SolverStyle,
    by_task_solver,
    dodge,
    figure_title,
    legend_below,
    legend_width,
    log2_length_axis,
    n_text,
    panel_grid,
    save,
    solver_handles,
    solver_styles,
)

Rows = Sequence[Mapping[str, Any]]
EFFECTIVE_MARKER = "^"
EFFECTIVE_SIZE = 8
"""Size of the effective-length triangles, in points; coinciding ones sit this far apart."""
DEFAULT_NOTE = "the longest length up to which accuracy stays above the threshold"


def panel_width(rows: Rows) -> float:
    """Inches per panel: wider when a task has many lengths to label."""
    lengths = max(
        len({r["length"] for r in rows if r["task"] == task}) for task in {r["task"] for r in rows}
    )
    return max(4.8, 0.42 * lengths + 1.6)


def _interval_text(rows: Rows) -> str:
    """How the band of a task's panel was computed (rows older than the bootstrap say
    nothing, and their intervals are Wilson's)."""
    methods = {row.get("ci_method", "wilson") for row in rows}
    if methods == {"bootstrap"}:
        return "95% bootstrap interval"
    if methods == {"wilson"}:
        return "95% Wilson interval"
    return "95% interval: Wilson, bootstrap if partial credit"


def _curve(
    ax: Axes,
    group: Sequence[Mapping[str, Any]],
    *,
    shift: float,
    color: Any,
    marker: str,
    linestyle: str,
    band_alpha: float,
) -> None:
    xs = [r["length"] * shift for r in group]
    ys = [r["accuracy"] for r in group]
    lows = [r.get("ci_low", r["accuracy"]) for r in group]
    highs = [r.get("ci_high", r["accuracy"]) for r in group]
    ax.plot(xs, ys, color=color, marker=marker, linestyle=linestyle, markersize=6)
    if len(group) == 1:
        # A band needs two points; a lone point gets an interval bar instead.
        ax.errorbar(
            xs, ys, yerr=[[ys[0] - lows[0]], [highs[0] - ys[0]]], color=color, capsize=4,
            linestyle="none", alpha=0.6,
        )  # fmt: skip
    else:
        ax.fill_between(xs, lows, highs, color=color, alpha=band_alpha, linewidth=0)


def _effective_lengths(
    ax: Axes,
    context_rot: Rows,
    task: str,
    solvers: Sequence[str],
    styles: Mapping[str, SolverStyle],
) -> bool:
    """Triangles on the x axis at each solver's effective length, side by side where lengths
    coincide; True when any was drawn."""
    marks = sorted(
        (row["effective_length"], solvers.index(row["solver"]), row["solver"])
        for row in context_rot
        if row.get("task") == task and row.get("solver") in solvers and row.get("effective_length")
    )
    for length, _, solver in marks:
        same = [m[2] for m in marks if m[0] == length]
        shift = (same.index(solver) - (len(same) - 1) / 2) * EFFECTIVE_SIZE
        transform = offset_copy(ax.get_xaxis_transform(), fig=ax.figure, x=shift, units="points")
        ax.plot(
            [length], [0.0], marker=EFFECTIVE_MARKER, markersize=EFFECTIVE_SIZE,
            color=styles[solver].color, markeredgecolor="black", markeredgewidth=0.6,
            linestyle="none", transform=transform, clip_on=False, zorder=5,
        )  # fmt: skip
    return bool(marks)


def threshold_note(analysis: Mapping[str, Any]) -> str:
    """What "effective length" means in this analysis, for the legend."""
    options = analysis.get("options") or {}
    absolute = options.get("threshold_absolute")
    relative = options.get("threshold_relative")
    if absolute is not None:
        return f"the longest length up to which accuracy stays ≥ {absolute:g}"
    if relative is not None:
        return (
            f"the longest length up to which accuracy stays ≥ {relative:.0%} of the "
            "shortest length's"
        )
    return DEFAULT_NOTE


def accuracy_vs_length(
    rows: Rows,
    out_dir: Path,
    title: str = "",
    *,
    context_rot: Rows | None = None,
    effective_note: str = DEFAULT_NOTE,
    styles: Mapping[str, SolverStyle] | None = None,
) -> list[Path]:
    """Write accuracy_vs_length.{png,svg}: one panel per task, one line per solver."""
    grouped = by_task_solver(rows)
    tasks = sorted(grouped)
    solvers = sorted({row["solver"] for row in rows})
    styles = styles or solver_styles(solvers)
    fig, axes = panel_grid(
        len(tasks), width=panel_width(rows), min_width=legend_width(len(solvers))
    )
    any_effective = False
    for ax, task in zip(axes, tasks, strict=True):
        task_rows = [r for group in grouped[task].values() for r in group]
        for i, solver in enumerate(solvers):
            group = grouped[task].get(solver)
            if not group:
                continue
            style = styles[solver]
            _curve(
                ax, group, shift=dodge(i, len(solvers)), color=style.color, marker=style.marker,
                linestyle=style.linestyle, band_alpha=0.15,
            )  # fmt: skip
        if context_rot:
            any_effective |= _effective_lengths(ax, context_rot, task, solvers, styles)
        log2_length_axis(ax, sorted({r["length"] for r in task_rows}))
        ax.set_ylim(-0.03, 1.03)
        detail = f"{n_text(r['n'] for r in task_rows)} per point; band: {_interval_text(task_rows)}"
        ax.set_title(f"{task}\n{textwrap.fill(detail, 52)}", fontsize="medium")
        ax.set_xlabel("context length (tokens, log2 scale)")
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel("accuracy (mean score)")
        ax.grid(alpha=0.3)
    legend_title = "solver"
    if any_effective:
        legend_title += f" (▲ on the x axis: effective context length, {effective_note})"
    legend_below(fig, solver_handles(solvers, styles), legend_title)
    figure_title(fig, "accuracy vs context length", title)
    return save(fig, out_dir, "accuracy_vs_length")


def accuracy_overlay(runs: Sequence[tuple[str, Rows]], out_dir: Path) -> list[Path]:
    """Write compare_accuracy_vs_length.{png,svg}: the curves of several runs on the same
    panels, colour by solver and line style and marker by run."""
    tasks = sorted({row["task"] for _, rows in runs for row in rows})
    solvers = sorted({row["solver"] for _, rows in runs for row in rows})
    styles = solver_styles(solvers)
    grouped = [(name, by_task_solver(rows)) for name, rows in runs]
    curves = len(solvers) * len(runs)
    fig, axes = panel_grid(
        len(tasks),
        width=panel_width([row for _, rows in runs for row in rows]),
        min_width=legend_width(len(solvers) * len(runs)),
    )
    handles: dict[tuple[int, int], Line2D] = {}
    for ax, task in zip(axes, tasks, strict=True):
        lengths: set[int] = set()
        counts: list[int] = []
        for r, (name, by_task) in enumerate(grouped):
            for s, solver in enumerate(solvers):
                group = by_task.get(task, {}).get(solver)
                if not group:
                    continue
                lengths |= {row["length"] for row in group}
                counts += [row["n"] for row in group]
                _curve(
                    ax, group, shift=dodge(r * len(solvers) + s, curves, step=0.03),
                    color=styles[solver].color, marker=MARKERS[r % len(MARKERS)],
                    linestyle=LINESTYLES[r % len(LINESTYLES)], band_alpha=0.08,
                )  # fmt: skip
                handles[(r, s)] = Line2D(
                    [], [], color=styles[solver].color, marker=MARKERS[r % len(MARKERS)],
                    linestyle=LINESTYLES[r % len(LINESTYLES)], label=f"{name}: {solver}",
                )  # fmt: skip
        log2_length_axis(ax, sorted(lengths))
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(f"{task}\n{n_text(counts)} per point; band: 95% interval", fontsize="medium")
        ax.set_xlabel("context length (tokens, log2 scale)")
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel("accuracy (mean score)")
        ax.grid(alpha=0.3)
    # The legend fills column by column: a column per solver when there are few, else per run.
    by_solver = len(solvers) <= 5
    order = sorted(handles, key=lambda key: (key[1], key[0]) if by_solver else key)
    legend_below(
        fig, [handles[key] for key in order], "run: solver",
        ncol=len(solvers) if by_solver else len(runs),
    )  # fmt: skip
    names = ", ".join(name for name, _ in runs)
    figure_title(fig, f"accuracy vs context length, runs compared: {names}")
    return save(fig, out_dir, "compare_accuracy_vs_length")
