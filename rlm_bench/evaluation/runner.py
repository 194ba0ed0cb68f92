"""Run a suite: expand it into cells, have an executor solve them, store each as it finishes.

The run owns the run folder and is its one writer; the executor (`executors/`: local by
default, or Ray) only solves cells and hands each back to `write`. So resume, the order of
writes and no-duplicates are the same wherever the cells ran. A failing cell is recorded with
its error and a score of 0, never scored as if its error text were an answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tqdm import tqdm

from rlm_bench.evaluation.analysis import analyze
from rlm_bench.evaluation.cells import expand
from rlm_bench.evaluation.executors import Executor, Job, LocalExecutor
from rlm_bench.evaluation.executors.solving import Row, make_solvers, make_tasks
from rlm_bench.evaluation.provenance import git_commit, now, versions
from rlm_bench.evaluation.store import RunStore
from rlm_bench.models.base import Model
from rlm_bench.solvers.forms import pick_form
from rlm_bench.suites import Suite


def run_suite(
    suite: Suite,
    model: Model,
    folder: Path,
    *,
    resume: bool,
    progress: bool = True,
    sub_model: Model | None = None,
    executor: Executor | None = None,
) -> list[dict[str, Any]]:
    """Run (or finish) `suite` into `folder` and return its analysis (what summary.json holds).
    `sub_model` goes to the solvers that hand sub-calls to a second model; `executor` solves
    the cells (default: `LocalExecutor`, in this process)."""
    store = RunStore(folder)
    tasks = make_tasks(suite, model.tokenizer)
    if resume:
        info = store.read_run_info()
        done = store.recover()
    else:
        info = {
            "suite": suite.to_dict(),
            "model": model.describe(),
            "sub_model": sub_model.describe() if sub_model is not None else None,
            "prompt_forms": prompt_forms(suite, model, sub_model),
            "seed": suite.seed,
            "versions": versions(),
            "git_commit": git_commit(),
            "started_at": now(),
            "finished_at": None,
        }
        store.create(info)
        done = set()
    todo = [c for c in expand(suite) if (c.sample_id(suite.seed), c.solver) not in done]
    # smoothing=0: the ETA uses the mean rate so far, since cell costs cycle with the length.
    bar = tqdm(total=len(todo), desc="samples", unit="sample", disable=not progress,
               dynamic_ncols=True, smoothing=0)  # fmt: skip

    def write(row: Row, trace: Row) -> None:
        store.append(row, trace)
        bar.set_postfix_str(f"{row['task']} L={row['length']} {row['solver']}", refresh=False)
        bar.update(1)

    try:
        (executor or LocalExecutor()).run(Job(suite, todo, tasks, model, sub_model), write)
    finally:
        bar.close()
    info = {**info, "finished_at": now()}
    analysis = analyze(store.samples(), store.traces(), info)
    store.write_summary(analysis)
    store.write_run_info(info)
    return analysis


def prompt_forms(suite: Suite, model: Model, sub_model: Model | None) -> dict[str, str | None]:
    """How each solver's root calls reach the model ("chat" or "completion"), decided before the
    first sample so that a run asking chat of a model without a template stops at once. None
    for a solver that does not say (one from outside this package); each trace node records
    the form of its own call either way."""
    solvers = make_solvers(suite, sub_model)
    return {
        label: pick_form(solver.form, model) if hasattr(solver, "form") else None
        for label, solver in solvers.items()
    }
