"""Figures drawn from summary rows alone, so `plot` can redraw any run folder."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FixedLocator, NullLocator  # noqa: E402

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":")
DODGE = 0.06
"""Horizontal offset between solvers, in log2 units, so equal accuracies do not hide each other."""


def length_label(tokens: int) -> str:
    if tokens >= 1024 * 1024 and tokens % (1024 * 1024) == 0:
        return f"{tokens // (1024 * 1024)}M"
    if tokens >= 1024 and tokens % 1024 == 0:
        return f"{tokens // 1024}K"
    return str(tokens)


def accuracy_vs_length(rows: list[dict[str, Any]], out_dir: Path, title: str = "") -> list[Path]:
    """One panel per task, one line per solver with 95% interval bars; x on a log2 axis."""
    by_task: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        by_task[row["task"]][row["solver"]].append(row)
    tasks = sorted(by_task)
    solvers = sorted({row["solver"] for row in rows})
    lengths = sorted({row["length"] for row in rows})
    fig, axes = plt.subplots(
        1, len(tasks), figsize=(5.2 * len(tasks), 4.4), squeeze=False, sharey=True
    )
    for ax, task in zip(axes[0], tasks, strict=True):
        for i, solver in enumerate(solvers):
            group = sorted(by_task[task].get(solver, []), key=lambda r: r["length"])
            if not group:
                continue
            shift = 2 ** (DODGE * (i - (len(solvers) - 1) / 2))
            xs = [r["length"] * shift for r in group]
            ys = [r["accuracy"] for r in group]
            yerr = [
                [y - r["ci_low"] for y, r in zip(ys, group, strict=True)],
                [r["ci_high"] - y for y, r in zip(ys, group, strict=True)],
            ]
            ax.errorbar(
                xs, ys, yerr=yerr, label=solver, color=plt.get_cmap("tab10")(i % 10),
                marker=MARKERS[i % len(MARKERS)], linestyle=LINESTYLES[i % len(LINESTYLES)],
                capsize=3, elinewidth=1, alpha=0.9,
            )  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(lengths))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([length_label(n) for n in lengths])
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(task)
        ax.set_xlabel("context length (model tokens, log2 scale)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy (mean score)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    n = sorted({row["n"] for row in rows})
    n_text = f"n = {n[0]}" if len(n) == 1 else f"n = {n[0]}..{n[-1]}"
    fig.legend(handles, labels, loc="lower center", ncol=len(solvers), frameon=False,
               title=f"solver (bars: 95% Wilson interval, {n_text} per point)")  # fmt: skip
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.13, 1, 1))
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "accuracy_vs_length.png", out_dir / "accuracy_vs_length.svg"]
    for path in paths:
        fig.savefig(path, dpi=150)
    plt.close(fig)
    return paths
