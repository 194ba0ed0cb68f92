"""What every executor does with one cell: generate its sample, solve it, score it, and turn
the outcome into its two rows (samples.jsonl and traces.jsonl).

Kept apart from the executors so the local evaluator and a Ray worker solve a cell with the
very same code, and a run's rows do not depend on where its cells ran.
"""

from __future__ import annotations

import time
from typing import Any

from rlm_bench.evaluation.cells import Cell
from rlm_bench.evaluation.failures import classify_failure
from rlm_bench.evaluation.node_scoring import annotate
from rlm_bench.models.base import Model
from rlm_bench.solvers import ClosesAfterRun, Result, Solver, UsesSubModel, make_solver
from rlm_bench.suites import Suite
from rlm_bench.tasks import TASKS, Sample, Task
from rlm_bench.tokens import Tokenizer

Row = dict[str, Any]


def make_tasks(suite: Suite, tokenizer: Tokenizer | None) -> dict[str, Task]:
    """The suite's tasks by label, with the suite's needle `depths` given to every task that
    places needles (unless its own options set them). Without a tokenizer the tasks are built
    only to check their options, before a model loads."""
    tasks = {}
    for spec in suite.tasks:
        task_cls = TASKS.get(spec.task)
        params = dict(spec.params)
        if suite.depths is not None and "depths" not in params and task_cls.accepts("depths"):
            params["depths"] = suite.depths
        tasks[spec.label] = task_cls(tokenizer, label=spec.label, **params)
    return tasks


def make_solvers(suite: Suite, sub_model: Model | None) -> dict[str, Solver]:
    """The suite's solvers by label; `sub_model` goes to those that hand sub-calls to a second
    model."""
    solvers = {s.label: make_solver(s.solver, s.params) for s in suite.solvers}
    if sub_model is not None:
        for solver in solvers.values():
            if isinstance(solver, UsesSubModel):
                solver.use_sub_model(sub_model)
    return solvers


def close_solvers(solvers: dict[str, Solver]) -> None:
    for solver in solvers.values():
        if isinstance(solver, ClosesAfterRun):
            solver.close()


class SampleBank:
    """Generates each (task, length, index) sample once and shares it across solvers."""

    def __init__(self, tasks: dict[str, Task], seed: int) -> None:
        self.tasks = tasks
        self.seed = seed
        self._cache: dict[tuple[str, int, int], Sample] = {}

    def get(self, cell: Cell) -> Sample:
        key = (cell.task, cell.length, cell.index)
        if key not in self._cache:
            self._cache = {k: v for k, v in self._cache.items() if k[2] >= cell.index}
            self._cache[key] = self.tasks[cell.task].sample(cell.length, self.seed, cell.index)
        return self._cache[key]


def sample_row(
    cell: Cell,
    sample: Sample,
    result: Result | None,
    score: float,
    error: str | None,
    wall_s: float,
) -> Row:
    """One line of samples.jsonl: the answer, its score and failure category, and its cost."""
    calls = result.trace.calls if result else []
    return {
        "sample_id": sample.sample_id,
        "task": cell.task,
        "solver": cell.solver,
        "length": cell.length,
        "actual_length": sample.actual_length,
        "seed": sample.seed,
        "index": cell.index,
        "prediction": result.prediction if result else None,
        "answer": sample.answer,
        "score": score,
        "prompt_tokens": sum(c.prompt_tokens for c in calls),
        "completion_tokens": sum(c.completion_tokens for c in calls),
        "calls": len(calls),
        "latency_s": round(sum(c.latency_s for c in calls), 4),
        "cost_usd": sum(c.cost_usd for c in calls),
        "cached_calls": sum(c.cached for c in calls),
        "retries": sum(c.retries for c in calls),
        "wall_s": round(wall_s, 4),
        "truncated": bool(result and result.truncated),
        "error": error,
        "failure": classify_failure(score, error, result, sample),
        "metadata": {k: v for k, v in sample.metadata.items() if not isinstance(v, list)},
    }


def cell_rows(
    cell: Cell,
    sample: Sample,
    task: Task,
    result: Result | None,
    score: float,
    error: str | None,
    wall_s: float,
) -> tuple[Row, Row]:
    """The sample row and the trace row of one finished cell, its trace nodes scored."""
    row = sample_row(cell, sample, result, score, error, wall_s)
    nodes = result.trace.to_list() if result else []
    annotate(nodes, task, sample)
    trace = {
        "sample_id": sample.sample_id,
        "solver": cell.solver,
        "notes": result.notes if result else {},
        "nodes": nodes,
    }
    return row, trace


async def solve_cell(
    cell: Cell, sample: Sample, task: Task, solver: Solver, model: Model
) -> tuple[Row, Row]:
    start = time.perf_counter()
    result: Result | None = None
    error: str | None = None
    try:
        result = await solver.solve(sample, model)
        score = task.score(result.prediction, sample)
    except Exception as exc:  # a crashed cell is data, not the end of the run
        error = f"{type(exc).__name__}: {exc}"
        score = 0.0
    return cell_rows(cell, sample, task, result, score, error, time.perf_counter() - start)
