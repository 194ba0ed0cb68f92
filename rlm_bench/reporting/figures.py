"""Every figure of a run, drawn from its analysis dict (summary.json) alone, so `plot` can redraw
any run folder; and the comparison of several runs.

Each figure is skipped when the analysis lacks what it needs (a summary written before context
rot, needle depths, failure categories or error propagation were analysed), so an old run folder
still gets the figures its summary supports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlm_bench.reporting.accuracy import accuracy_overlay, accuracy_vs_length, threshold_note
from rlm_bench.reporting.cost import accuracy_vs_cost, cost_vs_length
from rlm_bench.reporting.heatmap import needle_depth_heatmap
from rlm_bench.reporting.outcomes import failure_categories
from rlm_bench.reporting.propagation import error_propagation
from rlm_bench.reporting.style import solver_styles

__all__ = ["accuracy_vs_length", "draw_comparison", "draw_figures"]


def draw_figures(analysis: Mapping[str, Any], out_dir: Path, title: str = "") -> list[Path]:
    """Write every figure the analysis supports into `out_dir`; the paths written (a PNG and
    an SVG per figure)."""
    rows = analysis.get("rows") or []
    if not rows:
        return []
    propagation = analysis.get("propagation") or {}
    solvers = {r["solver"] for r in rows}
    solvers |= {r["solver"] for r in propagation.get("levels", [])}
    solvers |= {r["solver"] for r in propagation.get("cells", [])}
    styles = solver_styles(solvers)
    paths = accuracy_vs_length(
        rows, out_dir, title, context_rot=analysis.get("context_rot"),
        effective_note=threshold_note(analysis), styles=styles,
    )  # fmt: skip
    paths += needle_depth_heatmap(
        analysis.get("needle_depth") or [], out_dir, title, solvers=sorted(styles)
    )
    paths += cost_vs_length(rows, out_dir, title, styles)
    paths += accuracy_vs_cost(rows, out_dir, title, styles)
    paths += error_propagation(propagation, out_dir, title, styles)
    paths += failure_categories(rows, out_dir, title)
    return paths


def draw_comparison(runs: Sequence[tuple[str, Mapping[str, Any]]], out_dir: Path) -> list[Path]:
    """Write compare_accuracy_vs_length.{png,svg}: the accuracy curves of several runs (each a
    name and its analysis) on shared panels; nothing when no run has rows."""
    named = [(name, analysis.get("rows") or []) for name, analysis in runs]
    named = [(name, rows) for name, rows in named if rows]
    if not named:
        return []
    return accuracy_overlay(named, out_dir)
