"""Run a suite: expand it into cells, solve them concurrently, score and store each at once.

Concurrency is bounded by the suite's `concurrency`; a backend may serialize further (the
embedded model runs one forward pass at a time). A failing cell is recorded with its error and
a score of 0, never scored as if its error text were an answer.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rlm_bench.evaluation.analysis import analyze
from rlm_bench.evaluation.cells import Cell, expand
from rlm_bench.evaluation.failures import classify_failure
from rlm_bench.evaluation.node_scoring import annotate
from rlm_bench.evaluation.provenance import git_commit, now, versions
from rlm_bench.evaluation.store import RunStore
from rlm_bench.models.base import Model
from rlm_bench.solvers import Result, Solver, UsesSubModel, make_solver
from rlm_bench.suites import Suite
from rlm_bench.tasks import TASKS, Sample, Task
from rlm_bench.tokens import Tokenizer


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
) -> dict[str, Any]:
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


async def solve_cell(
    cell: Cell, sample: Sample, task: Task, solver: Solver, model: Model
) -> tuple[dict[str, Any], dict[str, Any]]:
    start = time.perf_counter()
    result: Result | None = None
    error: str | None = None
    try:
        result = await solver.solve(sample, model)
        score = task.score(result.prediction, sample)
    except Exception as exc:  # a crashed cell is data, not the end of the run
        error = f"{type(exc).__name__}: {exc}"
        score = 0.0
    row = sample_row(cell, sample, result, score, error, time.perf_counter() - start)
    nodes = result.trace.to_list() if result else []
    annotate(nodes, task, sample)
    trace = {
        "sample_id": sample.sample_id,
        "solver": cell.solver,
        "notes": result.notes if result else {},
        "nodes": nodes,
    }
    return row, trace


async def run_cells(
    cells: list[Cell],
    bank: SampleBank,
    solvers: dict[str, Solver],
    model: Model,
    store: RunStore,
    concurrency: int,
    progress: bool,
) -> None:
    # smoothing=0: the ETA uses the mean rate so far, since cell costs cycle with the length.
    bar = tqdm(total=len(cells), desc="samples", unit="sample", disable=not progress,
               dynamic_ncols=True, smoothing=0)  # fmt: skip
    semaphore = asyncio.Semaphore(concurrency)

    async def one(cell: Cell) -> None:
        async with semaphore:
            sample = bank.get(cell)
            row, trace = await solve_cell(
                cell, sample, bank.tasks[cell.task], solvers[cell.solver], model
            )
            store.append(row, trace)
            bar.set_postfix_str(f"{cell.task} L={cell.length} {cell.solver}", refresh=False)
            bar.update(1)

    try:
        await asyncio.gather(*(one(c) for c in cells))
    finally:
        bar.close()


def run_suite(
    suite: Suite,
    model: Model,
    folder: Path,
    *,
    resume: bool,
    progress: bool = True,
    sub_model: Model | None = None,
) -> list[dict[str, Any]]:
    """Run (or finish) `suite` into `folder` and return its analysis (what summary.json holds).
    `sub_model` goes to the solvers that hand sub-calls to a second model."""
    store = RunStore(folder)
    tasks = make_tasks(suite, model.tokenizer)
    solvers = {s.label: make_solver(s.solver, s.params) for s in suite.solvers}
    if sub_model is not None:
        for solver in solvers.values():
            if isinstance(solver, UsesSubModel):
                solver.use_sub_model(sub_model)
    if resume:
        info = store.read_run_info()
        done = store.recover()
    else:
        info = {
            "suite": suite.to_dict(),
            "model": model.describe(),
            "sub_model": sub_model.describe() if sub_model is not None else None,
            "seed": suite.seed,
            "versions": versions(),
            "git_commit": git_commit(),
            "started_at": now(),
            "finished_at": None,
        }
        store.create(info)
        done = set()
    todo = [c for c in expand(suite) if (c.sample_id(suite.seed), c.solver) not in done]
    bank = SampleBank(tasks, suite.seed)
    asyncio.run(run_cells(todo, bank, solvers, model, store, suite.concurrency, progress))
    info = {**info, "finished_at": now()}
    analysis = analyze(store.samples(), store.traces(), info)
    store.write_summary(analysis)
    store.write_run_info(info)
    return analysis
