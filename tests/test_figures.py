"""Figures from an analysis dict: every file written, skipped without its data, and no edge case
(one task, one length, gaps, all wrong, old summaries, many solvers) raising."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rlm_bench.reporting.cost import pareto_front
from rlm_bench.reporting.figures import accuracy_vs_length, draw_comparison, draw_figures
from rlm_bench.reporting.style import length_label, solver_styles

ALL_FIGURES = (
    "accuracy_vs_length",
    "needle_depth_heatmap",
    "cost_vs_length",
    "accuracy_vs_cost",
    "error_propagation",
    "failure_categories",
)
FAILURE_KINDS = ("wrong value", "no answer", "format error", "truncated input", "crash")
DEPTHS = (0.0, 0.25, 0.5, 0.75, 1.0)
MANY_TASKS = ("aggregation_count", "aggregation_sum", "niah_single", "niah_multikey",
              "niah_multivalue", "variable_tracking")  # fmt: skip


def _wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _solver_depth(solver: str) -> int:
    return int(solver[-1]) if solver.startswith("recursive_d") else 0


def _cell(task: str, solver: str, length: int, n: int, rng: np.random.Generator) -> dict[str, Any]:
    """A CellRow as the spec defines it, with accuracy decaying with length (slower for
    deeper recursion) and costs growing with it."""
    depth = _solver_depth(solver)
    doublings = math.log2(length / 512)
    p = 1 / (1 + math.exp(-(2.5 - (1.2 / (1 + depth)) * doublings)))
    partial = task.startswith("aggregation")
    if partial:
        scores = np.clip(rng.normal(p, 0.25, n), 0, 1)
        scores[rng.random(n) < p] = 1.0
    else:
        scores = (rng.random(n) < p).astype(float)
    correct = int((scores >= 1).sum())
    accuracy = float(scores.mean())
    low, high = _wilson(accuracy, n)
    calls = 1.0 if depth == 0 else 1.0 + 4**depth
    prompt = length * (1.05 + 0.15 * depth) + 40 * calls
    completion = 6 * calls
    latency = prompt / 450 + completion / 12
    # Only the direct solver truncates; recursion crashes a little more often.
    shares = [0.6, 0.15, 0.1, 0.1, 0.05] if depth == 0 else [0.6, 0.15, 0.1, 0.0, 0.15]
    wrong = [FAILURE_KINDS[i] for i in rng.choice(len(FAILURE_KINDS), n - correct, p=shares)]
    failures = {kind: wrong.count(kind) for kind in FAILURE_KINDS if wrong.count(kind)}
    totals = {
        "calls": calls * n,
        "prompt_tokens": prompt * n,
        "completion_tokens": completion * n,
        "latency_s": latency * n,
        "cost_usd": 0.0,
    }
    return {
        "task": task, "solver": solver, "length": length, "n": n, "accuracy": accuracy,
        "ci_low": low, "ci_high": high,
        "ci_method": "bootstrap" if partial and set(scores) - {0.0, 1.0} else "wilson",
        "exact": correct / n, "exact_ci_low": _wilson(correct / n, n)[0],
        "exact_ci_high": _wilson(correct / n, n)[1], "correct": correct,
        "mean_calls": calls, "mean_prompt_tokens": prompt, "mean_completion_tokens": completion,
        "mean_latency_s": latency, "mean_wall_s": latency * 1.3, "mean_cost_usd": 0.0,
        "per_correct": {k: v / correct for k, v in totals.items()} if correct else None,
        "errors": failures.get("crash", 0), "truncated": failures.get("truncated input", 0),
        "failures": failures,
    }  # fmt: skip


def _rot(rows: list[dict[str, Any]], relative: float = 0.8) -> list[dict[str, Any]]:
    out = []
    for task, solver in sorted({(r["task"], r["solver"]) for r in rows}):
        cells = sorted((r for r in rows if (r["task"], r["solver"]) == (task, solver)),
                       key=lambda r: r["length"])  # fmt: skip
        reference = cells[0]["accuracy"]
        threshold = relative * reference
        effective = None
        if reference > 0:
            for cell in cells:
                if cell["accuracy"] < threshold:
                    break
                effective = cell["length"]
        out.append({
            "task": task, "solver": solver, "lengths": [c["length"] for c in cells],
            "reference_length": cells[0]["length"], "reference_accuracy": reference,
            "threshold": threshold, "threshold_kind": "relative", "effective_length": effective,
            "auc": float(np.mean([c["accuracy"] for c in cells])),
            "logistic": {"midpoint": None, "slope": None, "extrapolated": False,
                         "note": "one length" if len(cells) == 1 else None},
        })  # fmt: skip
    return out


def _depth_rows(rows: list[dict[str, Any]], rng: np.random.Generator) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        if not r["task"].startswith("niah"):
            continue
        for depth in DEPTHS:
            # Needles in the middle are found less often than those at the ends.
            p = r["accuracy"] * (1 - 0.5 * math.sin(math.pi * depth))
            accuracy = float((rng.random(2) < p).mean())
            out.append({"task": r["task"], "solver": r["solver"], "length": r["length"],
                        "depth": depth, "n": 2, "accuracy": accuracy})  # fmt: skip
    return out


def _propagation(rows: list[dict[str, Any]], rng: np.random.Generator) -> dict[str, Any]:
    levels, cells = [], []
    for r in rows:
        depth = _solver_depth(r["solver"])
        if depth == 0:
            continue
        n = r["n"]
        for level in range(depth + 1):
            nodes = n * 4**level
            wrong = int(rng.binomial(nodes, min(0.9, (1 - r["accuracy"]) * (0.4 + 0.3 * level))))
            levels.append({"task": r["task"], "solver": r["solver"], "length": r["length"],
                           "level": level, "nodes": nodes, "wrong": wrong,
                           "error_rate": wrong / nodes})  # fmt: skip
        leaves = n * 4**depth
        leaf_wrong = int(rng.binomial(leaves, 0.3 * (1 - r["accuracy"])))
        n_leaf_wrong = min(n, leaf_wrong)
        n_right = n - n_leaf_wrong
        final_wrong = n - r["correct"]
        cells.append({
            "task": r["task"], "solver": r["solver"], "length": r["length"], "samples": n,
            "samples_with_leaves": n, "leaf_nodes": leaves, "leaf_error_rate": leaf_wrong / leaves,
            "final_error_rate": final_wrong / n,
            "p_wrong_given_leaves_right": 0.1 if n_right else None, "n_leaves_right": n_right,
            "p_wrong_given_leaf_wrong": 0.7 if n_leaf_wrong else None, "n_leaf_wrong": n_leaf_wrong,
            "amplification": (final_wrong / n) / (leaf_wrong / leaves) if leaf_wrong else None,
            "final_errors": {"leaf error carried up": final_wrong, "aggregation error": 0,
                             "no answer": 0, "no scored leaves": 0},
        })  # fmt: skip
    pooled = []
    for task, solver in sorted({(c["task"], c["solver"]) for c in cells}):
        mine = [c for c in cells if (c["task"], c["solver"]) == (task, solver)]
        n_right, n_wrong = (sum(c[k] for c in mine) for k in ("n_leaves_right", "n_leaf_wrong"))
        pooled.append({"task": task, "solver": solver,
                       "p_wrong_given_leaves_right": 0.1 if n_right else None,
                       "n_leaves_right": n_right,
                       "p_wrong_given_leaf_wrong": 0.7 if n_wrong else None,
                       "n_leaf_wrong": n_wrong})  # fmt: skip
    return {"levels": levels, "cells": cells, "pooled": pooled}


def synthetic_analysis(
    tasks: tuple[str, ...] = ("aggregation_count", "niah_multikey"),
    solvers: tuple[str, ...] = ("direct", "recursive_d1", "recursive_d2"),
    lengths: tuple[int, ...] = (512, 1024, 2048, 4096, 8192),
    n: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """An analysis dict shaped as summary.json (schema 2) with plausible numbers."""
    rng = np.random.default_rng(seed)
    rows = [_cell(t, s, length, n, rng) for t in tasks for s in solvers for length in lengths]
    return {
        "schema_version": 2,
        "options": {
            "threshold_relative": 0.8,
            "threshold_absolute": None,
            "resamples": 2000,
            "seed": 0,
        },
        "calls": {},
        "rows": rows,
        "context_rot": _rot(rows),
        "needle_depth": _depth_rows(rows, rng),
        "crossover": {"baseline": "direct", "rows": [], "sentences": {}},
        "cost_ratios": [],
        "propagation": _propagation(rows, rng),
    }


@pytest.fixture(scope="module")
def analysis() -> dict[str, Any]:
    return synthetic_analysis()


def _written(paths: list[Path]) -> set[str]:
    for path in paths:
        head = path.read_bytes()[:8]
        assert path.stat().st_size > 2_000, path
        if path.suffix == ".png":
            assert head.startswith(b"\x89PNG"), path
        else:
            assert path.suffix == ".svg" and b"<svg" in path.read_bytes()[:1000], path
    stems = {path.stem for path in paths}
    assert {path.name for path in paths} == {f"{s}.{e}" for s in stems for e in ("png", "svg")}
    return stems


def test_every_figure_is_written_as_png_and_svg(analysis, tmp_path):
    paths = draw_figures(analysis, tmp_path, title="context_rot on gemma")
    assert _written(paths) == set(ALL_FIGURES)
    assert all(path.parent == tmp_path for path in paths)


def test_old_summary_gets_the_figures_its_rows_support(analysis, tmp_path):
    old_keys = ("task", "solver", "length", "n", "accuracy", "ci_low", "ci_high", "exact",
                "mean_calls", "mean_prompt_tokens", "mean_completion_tokens", "mean_latency_s",
                "mean_cost_usd", "errors", "truncated")  # fmt: skip
    old = {"schema_version": 2, "rows": [{k: r[k] for k in old_keys} for r in analysis["rows"]]}
    stems = _written(draw_figures(old, tmp_path))
    assert stems == {"accuracy_vs_length", "cost_vs_length", "accuracy_vs_cost"}


def test_figures_without_their_data_are_skipped(analysis, tmp_path):
    bare = copy.deepcopy(analysis)
    bare["needle_depth"] = []
    bare["propagation"] = {"levels": [], "cells": [], "pooled": []}
    bare["context_rot"] = []
    stems = _written(draw_figures(bare, tmp_path))
    assert "needle_depth_heatmap" not in stems and "error_propagation" not in stems
    assert not (tmp_path / "needle_depth_heatmap.png").exists()
    assert "accuracy_vs_length" in stems


def test_no_rows_draws_nothing(tmp_path):
    assert draw_figures({"rows": []}, tmp_path) == []
    assert draw_comparison([("a", {"rows": []})], tmp_path) == []


def _drop(analysis: dict[str, Any], solver: str, length: int) -> dict[str, Any]:
    out = copy.deepcopy(analysis)

    def keep(r: dict[str, Any]) -> bool:
        return not (r["solver"] == solver and r["length"] == length)

    out["rows"] = [r for r in out["rows"] if keep(r)]
    out["needle_depth"] = [r for r in out["needle_depth"] if keep(r)]
    out["propagation"]["levels"] = [r for r in out["propagation"]["levels"] if keep(r)]
    out["propagation"]["cells"] = [r for r in out["propagation"]["cells"] if keep(r)]
    return out


def _all_wrong(analysis: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(analysis)
    for r in out["rows"]:
        r.update(accuracy=0.0, ci_low=0.0, ci_high=0.52, correct=0, per_correct=None,
                 failures={"wrong value": r["n"]})  # fmt: skip
    for r in out["needle_depth"]:
        r["accuracy"] = 0.0
    for r in out["context_rot"]:
        r.update(reference_accuracy=0.0, effective_length=None, auc=0.0)
    return out


def _random_depths(analysis: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(analysis)
    rng = np.random.default_rng(1)
    for r in out["needle_depth"]:
        r["depth"] = float(rng.random())
    return out


def _zero_seconds(analysis: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(analysis)
    for r in out["rows"][::3]:
        r["mean_latency_s"] = 0.0
        r["mean_prompt_tokens"] = 0.0
        r["mean_completion_tokens"] = 0.0
    return out


EDGE_CASES = {
    "one length": lambda: synthetic_analysis(lengths=(4096,)),
    "one task, one length, one solver": lambda: synthetic_analysis(
        tasks=("niah_single",), solvers=("recursive_d1",), lengths=(1024,), n=1
    ),
    "solvers missing at some lengths": lambda: _drop(
        _drop(synthetic_analysis(), "recursive_d1", 2048), "direct", 512
    ),
    "all wrong": lambda: _all_wrong(synthetic_analysis()),
    "depths drawn at random": lambda: _random_depths(synthetic_analysis()),
    "zero seconds and tokens": lambda: _zero_seconds(synthetic_analysis()),
    "many solvers": lambda: synthetic_analysis(
        tasks=("niah_multikey",),
        solvers=tuple(f"recursive_d{d}" for d in range(1, 10))
        + ("direct", "repl", "repl_no_subcalls"),
        lengths=(1024, 4096),
    ),  # fmt: skip
    "many tasks": lambda: synthetic_analysis(tasks=MANY_TASKS, lengths=(1024, 4096), n=2),
    "many lengths": lambda: synthetic_analysis(
        tasks=("niah_single",), lengths=tuple(2**k for k in range(8, 19)), n=2
    ),
}


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_edge_cases_draw_without_raising(case, tmp_path):
    stems = _written(draw_figures(EDGE_CASES[case](), tmp_path))
    assert "accuracy_vs_length" in stems


def test_comparison_overlays_runs(analysis, tmp_path):
    other = synthetic_analysis(solvers=("direct", "repl"), lengths=(1024, 4096), seed=1)
    paths = draw_comparison([("baseline", analysis), ("candidate", other)], tmp_path)
    assert _written(paths) == {"compare_accuracy_vs_length"}


def test_accuracy_vs_length_takes_bare_rows(analysis, tmp_path):
    """The old entry point: summary rows alone, without context rot or interval methods."""
    rows = [{k: v for k, v in r.items() if k != "ci_method"} for r in analysis["rows"]]
    png, svg = accuracy_vs_length(rows, tmp_path, title="rows only")
    assert png.name == "accuracy_vs_length.png" and svg.exists()


def test_pareto_front_keeps_only_undominated_points():
    points = [(1.0, 0.2), (2.0, 0.2), (2.0, 0.6), (3.0, 0.5), (4.0, 0.9), (0.5, 0.0)]
    assert pareto_front(points) == [(0.5, 0.0), (1.0, 0.2), (2.0, 0.6), (4.0, 0.9)]


def test_solver_styles_do_not_depend_on_order():
    a = solver_styles(["repl", "direct", "recursive_d1"])
    b = solver_styles(["recursive_d1", "repl", "direct"])
    assert a == b and len({s.color for s in a.values()}) == 3
    assert len({s.color for s in solver_styles(f"s{i}" for i in range(15)).values()}) == 15


@pytest.mark.parametrize(
    ("tokens", "label"), [(512, "512"), (1024, "1K"), (8192, "8K"), (1536, "1536"), (2**20, "1M")]
)
def test_length_label(tokens, label):
    assert length_label(tokens) == label
