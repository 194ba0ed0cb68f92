"""Where in the context a needle gets lost: accuracy by needle depth and context length.

A heatmap per (needle task, solver), a task's solvers side by side (wrapping after a few), each
cell coloured and annotated with its accuracy on one shared 0..1 scale, so cells can be compared
across panels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from rlm_bench.reporting.style import MAX_COLUMNS, figure_title, length_label, n_text, save

Rows = Sequence[Mapping[str, Any]]
CMAP = "viridis"
MAX_DEPTHS = 11
"""More distinct depths than this (depths drawn at random) are put into tenths."""
MAX_WIDTH = 20.0
"""Inches of panels in a row before the solvers of a task wrap onto another row."""


@dataclass(frozen=True)
class DepthAxis:
    """The rows every panel shares: each measured depth's row, and the rows' labels
    (0 = start of the context)."""

    row_of: dict[float, int]
    labels: list[str]

    @classmethod
    def of(cls, rows: Rows) -> DepthAxis:
        depths = sorted({float(r["depth"]) for r in rows})
        if len(depths) <= MAX_DEPTHS:
            return cls({d: i for i, d in enumerate(depths)}, [f"{d:.0%}" for d in depths])
        tenth = {d: min(math.floor(d * 10), 9) for d in depths}
        bins = sorted(set(tenth.values()))
        return cls(
            {d: bins.index(t) for d, t in tenth.items()},
            [f"{t * 10}%–{t * 10 + 10}%" for t in bins],
        )


def _cells(rows: Rows, depths: DepthAxis, lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and sample count per (depth, length); the n-weighted mean where several
    depths share a row, NaN where nothing was measured."""
    hits = np.zeros((len(depths.labels), len(lengths)))
    counts = np.zeros_like(hits)
    for r in rows:
        cell = (depths.row_of[float(r["depth"])], lengths.index(r["length"]))
        hits[cell] += r["accuracy"] * r["n"]
        counts[cell] += r["n"]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hits / counts, np.nan), counts


def _panel(
    ax: Axes, accuracy: np.ndarray, depths: DepthAxis, lengths: list[int], fontsize: float
) -> Any:
    cmap = plt.get_cmap(CMAP).with_extremes(bad="lightgrey")
    image = ax.imshow(accuracy, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto", origin="upper")
    for (i, j), value in np.ndenumerate(accuracy):
        text = "–" if math.isnan(value) else f"{value:.2f}"
        color = "black" if math.isnan(value) or value >= 0.6 else "white"
        ax.text(j, i, text, ha="center", va="center", color=color, fontsize=fontsize)
    ax.set_xticks(range(len(lengths)), [length_label(n) for n in lengths])
    ax.set_yticks(range(len(depths.labels)), depths.labels)
    return image


def needle_depth_heatmap(
    depth_rows: Rows, out_dir: Path, title: str = "", solvers: Sequence[str] | None = None
) -> list[Path]:
    """Write needle_depth_heatmap.{png,svg}; nothing (an empty list) without depth rows."""
    rows = [r for r in depth_rows if r.get("n")]
    if not rows:
        return []
    tasks = sorted({r["task"] for r in rows})
    present = {r["solver"] for r in rows}
    columns = [s for s in solvers if s in present] if solvers else sorted(present)
    depths = DepthAxis.of(rows)
    most_lengths = max(len({r["length"] for r in rows if r["task"] == task}) for task in tasks)
    width = max(3.4, 0.6 * most_lengths + 1.4)
    height = max(2.6, 0.32 * len(depths.labels) + 1.4)
    # Each task takes as many rows as its solvers need at up to MAX_COLUMNS a row.
    ncols = max(1, min(len(columns), MAX_COLUMNS, int(MAX_WIDTH / width)))
    per_task = math.ceil(len(columns) / ncols)
    fig, axes = plt.subplots(
        len(tasks) * per_task, ncols,
        figsize=(width * ncols + 1.2, height * len(tasks) * per_task + 0.8),
        squeeze=False, layout="constrained",
    )  # fmt: skip
    fontsize = 8 if most_lengths <= 8 else 6
    image = None
    counts: list[int] = []
    for t, task in enumerate(tasks):
        lengths = sorted({r["length"] for r in rows if r["task"] == task})
        for s, solver in enumerate(columns):
            row, column = t * per_task + s // ncols, s % ncols
            ax = axes[row][column]
            cell = [r for r in rows if r["task"] == task and r["solver"] == solver]
            ax.set_title(f"{task} · {solver}", fontsize="medium")
            if not cell:
                ax.text(0.5, 0.5, "not measured", ha="center", va="center",
                        transform=ax.transAxes, color="grey")  # fmt: skip
                ax.set_xticks([])
                ax.set_yticks([])
                continue
            accuracy, n = _cells(cell, depths, lengths)
            counts += [int(c) for c in n.flat if c]
            image = _panel(ax, accuracy, depths, lengths, fontsize)
            if column == 0:
                ax.set_ylabel("needle depth (0% = start)")
            ax.set_xlabel("context length (tokens)")
        for s in range(len(columns), per_task * ncols):
            axes[t * per_task + s // ncols][s % ncols].set_visible(False)
    if image is not None:
        fig.colorbar(image, ax=axes, label="accuracy (mean score)", shrink=0.9, aspect=30, pad=0.01)
    what = f"needle accuracy by depth and context length ({n_text(counts)} per cell)"
    figure_title(fig, what, title)
    return save(fig, out_dir, "needle_depth_heatmap")
