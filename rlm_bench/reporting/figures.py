"""Figures drawn from summary rows alone, so `plot` can redraw any run folder."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FixedLocator, NullLocator  # noqa: E402


def length_label(tokens: int) -> str:
    if tokens >= 1024 * 1024 and tokens % (1024 * 1024) == 0:
        return f"{tokens // (1024 * 1024)}M"
    if tokens >= 1024 and tokens % 1024 == 0:
        return f"{tokens // 1024}K"
    return str(tokens)


def accuracy_vs_length(rows: list[dict[str, Any]], out_dir: Path, title: str = "") -> list[Path]:
    """One panel per task, one line per solver with its 95% interval as a band; x on log2."""
    by_task: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        by_task[row["task"]][row["solver"]].append(row)
    tasks = sorted(by_task)
    solvers = sorted({row["solver"] for row in rows})
    colors = {s: plt.get_cmap("tab10")(i % 10) for i, s in enumerate(solvers)}
    fig, axes = plt.subplots(
        1, len(tasks), figsize=(5.2 * len(tasks), 4.2), squeeze=False, sharey=True
    )
    lengths = sorted({row["length"] for row in rows})
    for ax, task in zip(axes[0], tasks, strict=True):
        for solver, group in sorted(by_task[task].items()):
            group.sort(key=lambda r: r["length"])
            xs = [r["length"] for r in group]
            ax.plot(
                xs, [r["accuracy"] for r in group], marker="o", color=colors[solver], label=solver
            )
            ax.fill_between(
                xs,
                [r["ci_low"] for r in group],
                [r["ci_high"] for r in group],
                color=colors[solver],
                alpha=0.15,
                linewidth=0,
            )
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(lengths))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([length_label(n) for n in lengths])
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(task)
        ax.set_xlabel("context length (model tokens, log2 scale)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy (mean score, 95% CI band)")
    axes[0][-1].legend(title="solver", loc="lower left", fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "accuracy_vs_length.png", out_dir / "accuracy_vs_length.svg"]
    for path in paths:
        fig.savefig(path, dpi=150)
    plt.close(fig)
    return paths
