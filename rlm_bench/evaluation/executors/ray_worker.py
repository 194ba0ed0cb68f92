"""What one Ray task of the Ray executor does, in a worker process.

A task is given one sample's address (task label, length, index) and the solvers still to run
on it. It generates the sample where it runs, never shipped from the driver (a 1M-token context
is megabytes), and solves it with each solver in turn through the same `solve_cell` as the
local evaluator. The model, tasks and solvers are opened once per worker process and kept for
the next task of the same suite: a worker opens its model (an HTTP client, or the embedded
weights) once, not once per sample.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from rlm_bench.errors import UserError
from rlm_bench.evaluation.cells import Cell
from rlm_bench.evaluation.executors.solving import Row, make_solvers, make_tasks, solve_cell
from rlm_bench.models.base import Model
from rlm_bench.models.setup import open_model, open_sub_model
from rlm_bench.solvers import Solver
from rlm_bench.suites import Suite, suite_from_dict
from rlm_bench.tasks import Task


@dataclass(frozen=True)
class SampleWork:
    """One sample and the solvers still to run on it: the work of one Ray task, so a sample is
    generated once however many solvers read it (as the local `SampleBank` does)."""

    task: str
    length: int
    index: int
    solvers: tuple[str, ...]

    def cells(self) -> list[Cell]:
        return [Cell(self.task, self.length, self.index, solver) for solver in self.solvers]


def group_by_sample(cells: list[Cell]) -> list[SampleWork]:
    """The cells by sample, in the order their samples first appear."""
    groups: dict[tuple[str, int, int], list[str]] = {}
    for cell in cells:
        groups.setdefault((cell.task, cell.length, cell.index), []).append(cell.solver)
    return [SampleWork(t, n, i, tuple(solvers)) for (t, n, i), solvers in groups.items()]


RUN_ONLY = ("name", "description", "tasks", "lengths", "samples", "seed", "solvers", "depths")
"""Suite fields the model does not depend on: a run that changes only these keeps the worker's
open model (the embedded weights take a while to load)."""


@dataclass(frozen=True)
class WorkerState:
    """What a worker process opened for one suite."""

    key: str
    suite: Suite
    model: Model
    tasks: dict[str, Task]
    solvers: dict[str, Solver]


_state: WorkerState | None = None
_models: tuple[str, Model, Model | None] | None = None


def worker_state(suite_data: dict[str, Any], modules: list[str]) -> WorkerState:
    """This process's model, tasks and solvers for the suite, opened on its first task and kept
    for the next (only the last suite's, and the last model's: one run at a time).

    `modules` are imported first: they define the suite's backends, tasks and solvers, and a
    name registered by importing a module resolves here only once it is imported here too. The
    model is not checked again (the driver checked it before the first task)."""
    global _state, _models
    key = json.dumps(suite_data, sort_keys=True)
    if _state is not None and _state.key == key:
        return _state
    for name in modules:
        try:
            import_module(name)
        except ImportError as exc:
            raise UserError(
                f"a Ray worker cannot import {name} ({exc}); install it on every node"
            ) from None
    suite = suite_from_dict(suite_data, "the run's suite")
    model_key = json.dumps(
        {k: v for k, v in suite_data.items() if k not in RUN_ONLY}, sort_keys=True
    )
    if _models is None or _models[0] != model_key:
        _models = (model_key, open_model(suite, check=False), open_sub_model(suite, check=False))
    _, model, sub_model = _models
    tasks, solvers = make_tasks(suite, model.tokenizer), make_solvers(suite, sub_model)
    _state = WorkerState(key, suite, model, tasks, solvers)
    return _state


def solve_sample(
    suite_data: dict[str, Any], modules: list[str], work: SampleWork
) -> list[tuple[Row, Row]]:
    """The body of one Ray task: the (sample row, trace row) of each of `work`'s cells."""
    state = worker_state(suite_data, modules)
    task = state.tasks[work.task]
    sample = task.sample(work.length, state.suite.seed, work.index)

    async def solve_all() -> list[tuple[Row, Row]]:
        return [
            await solve_cell(cell, sample, task, state.solvers[cell.solver], state.model)
            for cell in work.cells()
        ]

    # A fresh loop per task: a task cancelled mid-call leaves nothing behind for the next one
    # (HTTP backends keep one client per event loop and close it with the loop).
    return asyncio.run(solve_all())
