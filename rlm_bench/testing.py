"""A regression check for a researcher's own CI: is my solver no worse than a checked-in baseline?

    from rlm_bench.testing import assert_no_regression

    def test_my_strategy_does_not_regress():
        assert_no_regression("mypkg.strategy:Mine", baseline="baselines/smoke",
                             against="recursive_d2")

The candidate runs the suite recorded in the baseline's `run.json` (same tasks, lengths, samples
and seed), not the suite file as it reads today, so the two runs pair sample by sample even after
the suite file changes. The verdict is `compare`'s: a cell fails only when it is worse beyond the
tolerance *and* the paired test says so, so one flipped answer on a small suite does not break a
build while a real drop does.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from rlm_bench.errors import UserError
from rlm_bench.evaluation.comparison import CompareOptions, Comparison, compare_folders
from rlm_bench.evaluation.comparison_text import format_comparison
from rlm_bench.evaluation.store import RunStore
from rlm_bench.models.base import Model
from rlm_bench.suites import SolverSpec, Suite, parse_solver, solver_in, suite_from_dict


def solver_spec(solver: str | type, suite: Suite) -> SolverSpec:
    """A label of the baseline's suite, a spec (`name:key=value`, `pkg.module:Class`) or a class
    (named by its import path, so the run records where it came from)."""
    if isinstance(solver, type):
        return parse_solver(f"{solver.__module__}:{solver.__qualname__}", "solver")
    return solver_in(suite, solver, "solver")


def baseline_label(against: str | None, candidate: SolverSpec, suite: Suite) -> str:
    labels = [s.label for s in suite.solvers]
    label = against or (candidate.label if candidate.label in labels else None)
    if label is None or label not in labels:
        raise UserError(
            f"name the baseline solver to compare with: against=one of {', '.join(labels)}"
        )
    return label


def assert_no_regression(
    solver: str | type,
    *,
    baseline: str | Path,
    suite: str | None = "smoke",
    against: str | None = None,
    model: Model | None = None,
    tolerance: float = 0.0,
    alpha: float = 0.05,
    out: str | Path | None = None,
    progress: bool = False,
) -> Comparison:
    """Run `solver` on the baseline's suite and fail (AssertionError with the comparison table)
    when any (task, length) cell, or the whole, is significantly worse than the baseline's
    `against` solver (default: the solver of the same label). `model` defaults to the model the
    suite names (the embedded one for `smoke`); the candidate's run folder is `out` or a fresh
    temporary folder, named in the message. Returns the comparison for further checks."""
    from rlm_bench.evaluation.runner import run_suite
    from rlm_bench.models.setup import open_model

    base_dir = Path(baseline)
    info = RunStore(base_dir).read_run_info()
    recorded = suite_from_dict(info["suite"], str(base_dir / "run.json"))
    if suite is not None and recorded.name != suite:
        raise UserError(f"{base_dir} is a run of suite {recorded.name!r}, not {suite!r}")
    candidate = solver_spec(solver, recorded)
    label = baseline_label(against, candidate, recorded)
    if candidate.label == label:
        candidate = dataclasses.replace(candidate, label=f"{label}_candidate")
    run = dataclasses.replace(recorded, solvers=[candidate])
    model = model or open_model(run)
    if model.name != info["model"].get("name"):
        raise UserError(
            f"{base_dir} was run on {info['model'].get('name')!r}, this run is on {model.name!r}"
        )
    folder = Path(out) if out else Path(tempfile.mkdtemp(prefix="rlm_bench_regression_"))
    run_suite(run, model, folder, resume=False, progress=progress)
    comparison = compare_folders(
        base_dir,
        folder,
        CompareOptions(
            tolerance=tolerance,
            alpha=alpha,
            base_solver=label,
            candidate_solver=candidate.label,
        ),
    )
    if comparison.worse:
        raise AssertionError(
            f"{candidate.solver} regressed against {label} in {base_dir} "
            f"(candidate run: {folder}):\n{format_comparison(comparison)}"
        )
    return comparison
