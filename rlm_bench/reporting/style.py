"""What every figure shares: one look per solver, length tick labels, panel grids and saving.

A solver keeps its colour, marker and line style in every figure of a run, so a reader who has
learnt "recursive_d2 is the green triangles" on one figure can read the next without its legend.
"""

from __future__ import annotations

import math
import textwrap
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import (  # noqa: E402
    FixedLocator,
    FuncFormatter,
    LogLocator,
    NullFormatter,
    NullLocator,
)

from rlm_bench.evaluation.lengths import length_label  # noqa: E402

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":")
DPI = 150
MAX_COLUMNS = 4
"""Panels per row before a figure wraps onto another row."""


@dataclass(frozen=True)
class SolverStyle:
    color: Any
    marker: str
    linestyle: str


def _palette(count: int) -> list[Any]:
    if count <= 10:
        return [plt.get_cmap("tab10")(i) for i in range(10)]
    if count <= 20:
        return [plt.get_cmap("tab20")(i) for i in range(20)]
    return [plt.get_cmap("turbo")(i / max(count - 1, 1)) for i in range(count)]


def solver_styles(solvers: Iterable[str]) -> dict[str, SolverStyle]:
    """A style per solver, assigned in sorted order so that the same set of solvers always
    gets the same styles."""
    names = sorted(set(solvers))
    colors = _palette(len(names))
    return {
        name: SolverStyle(
            color=colors[i % len(colors)],
            marker=MARKERS[i % len(MARKERS)],
            linestyle=LINESTYLES[i % len(LINESTYLES)],
        )
        for i, name in enumerate(names)
    }


def by_task_solver(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, list[Any]]]:
    """Rows grouped by task, then solver, each group in order of length."""
    grouped: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for row in sorted(rows, key=lambda r: r["length"]):
        grouped[row["task"]][row["solver"]].append(row)
    return grouped


def solver_handles(solvers: Iterable[str], styles: Mapping[str, SolverStyle]) -> list[Line2D]:
    """Legend entries for the solvers, drawn as their lines are."""
    return [
        Line2D([], [], color=styles[s].color, marker=styles[s].marker,
               linestyle=styles[s].linestyle, label=s)
        for s in solvers
    ]  # fmt: skip


def log2_length_axis(ax: Axes, lengths: Sequence[int]) -> None:
    """A log2 x axis with a labelled tick at each measured length and nothing else."""
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(FixedLocator(list(lengths)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([length_label(n) for n in lengths])
    if len(lengths) == 1:
        ax.set_xlim(lengths[0] / 1.6, lengths[0] * 1.6)
    else:
        ax.set_xlim(min(lengths) / 1.25, max(lengths) * 1.25)
    if len(lengths) > 12:
        ax.tick_params(axis="x", labelrotation=45)


def log_axis(ax: Axes, axis: str, values: Iterable[float]) -> None:
    """A log10 axis with plain-number ticks at 1, 2 and 5 times each power of ten; symlog from
    0 when some value is 0, which a log axis cannot show."""
    finite = [v for v in values if v is not None and not math.isnan(v)]
    positive_values = [v for v in finite if v > 0]
    axis_obj = ax.xaxis if axis == "x" else ax.yaxis
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    if len(positive_values) < len(finite):
        linthresh = 10 ** math.floor(math.log10(min(positive_values, default=1.0)))
        (ax.set_xscale if axis == "x" else ax.set_yscale)("symlog", linthresh=linthresh)
        (ax.set_xlim if axis == "x" else ax.set_ylim)(0, None)
        axis_obj.set_major_formatter(plain)
        return
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    axis_obj.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis_obj.set_major_formatter(plain)
    axis_obj.set_minor_formatter(NullFormatter())


def dodge(index: int, count: int, step: float = 0.05, spread: float = 0.3) -> float:
    """Multiplier that shifts solver `index` of `count` sideways on a log2 axis (by `step`
    doublings, less when `count` steps would span more than `spread`), so equal values do not
    hide each other."""
    step = min(step, spread / max(count - 1, 1))
    return 2 ** (step * (index - (count - 1) / 2))


def n_text(counts: Iterable[int]) -> str:
    """ "n = 5" or "n = 3..5" for a set of sample counts."""
    values = sorted(set(counts))
    if not values:
        return "n = 0"
    return f"n = {values[0]}" if len(values) == 1 else f"n = {values[0]}..{values[-1]}"


def panel_grid(
    count: int,
    *,
    width: float = 4.8,
    height: float = 3.8,
    min_width: float = 0.0,
) -> tuple[Figure, list[Axes]]:
    """One panel per item sharing the y axis, wrapped onto rows of at most MAX_COLUMNS, the
    figure at least `min_width` inches wide (room for a long legend); unused panels are
    hidden."""
    ncols = max(1, min(count, MAX_COLUMNS))
    nrows = max(1, math.ceil(count / ncols))
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(max(width * ncols, min_width), height * nrows + 1.0),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    flat = [ax for row in axes for ax in row]
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count]


CHAR_INCHES = 0.1
"""Rough width of one legend character at the default font size, to fit legends to figures."""
ENTRY_INCHES = 0.45
"""Width of a legend entry's handle and the space around it."""


def _column_widths(labels: Sequence[str], ncol: int) -> list[int]:
    """The widest label (in characters) of each legend column, with entries dealt out as
    matplotlib does: column by column, the first columns taking one more when they do not
    divide evenly."""
    nrows, extra = divmod(len(labels), ncol)
    widths, start = [], 0
    for column in range(ncol):
        size = nrows + (1 if column < extra else 0)
        lines = [line for label in labels[start : start + size] for line in label.splitlines()]
        widths.append(max(map(len, lines), default=0))
        start += size
    return widths


def _columns(labels: Sequence[str], width: float) -> int:
    """Legend columns: the fewest that need no more rows than the most that fit across
    `width` inches would (so 6 entries that fit 5 across go 3 x 2, not 5 + 1)."""
    fits = 1
    for ncol in range(len(labels), 1, -1):
        widest = _column_widths(labels, ncol)
        if sum(ENTRY_INCHES + CHAR_INCHES * w for w in widest) <= width:
            fits = ncol
            break
    return math.ceil(len(labels) / math.ceil(len(labels) / fits))


def legend_width(entries: int) -> float:
    """A figure width (inches) that gives a legend of that many entries a few columns."""
    return min(4.0 + 0.45 * entries, 12.0)


def legend_below(
    fig: Figure, handles: Sequence[Any], title: str, ncol: int | None = None, wrap: int = 48
) -> None:
    """A legend under the panels, as many columns wide as fit the figure; long labels wrap."""
    for handle in handles:
        handle.set_label(textwrap.fill(handle.get_label(), wrap))
    labels = [handle.get_label() for handle in handles]
    width = fig.get_figwidth() - 0.4
    fits = _columns(labels, width)
    legend = fig.legend(
        handles=list(handles), loc="outside lower center", frameon=False,
        title=textwrap.fill(title, int(width / CHAR_INCHES)),
        ncol=min(ncol, fits) if ncol else fits,
    )  # fmt: skip
    legend.get_title().set_multialignment("center")


def figure_title(fig: Figure, what: str, title: str = "") -> None:
    """The run's title and what the figure plots, wrapped to the figure's width."""
    text = f"{title}: {what}" if title else what
    fits = int((fig.get_figwidth() - 0.3) / (CHAR_INCHES * 1.2))
    fig.suptitle(textwrap.fill(text, fits), fontsize="large")


def save(fig: Figure, out_dir: Path, stem: str) -> list[Path]:
    """Write `stem`.png (dpi 150) and `stem`.svg into `out_dir` and close the figure."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.svg"]
    try:
        for path in paths:
            fig.savefig(path, dpi=DPI)
    finally:
        plt.close(fig)
    return paths
