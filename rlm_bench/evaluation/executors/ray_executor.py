"""The Ray executor: a run's samples fanned out as Ray tasks, results streamed back to the run's
one writer in the driver.

- **Unit of work**: one Ray task per sample, running every solver still to do on it
  (`ray_worker.py`); the worker generates the sample and opens the model itself.
- **In flight**: at most the suite's `concurrency` tasks (samples) across the cluster. The next
  is submitted as one finishes, and each finished sample is written as soon as `ray.wait`
  returns it, so the driver holds a bounded amount of work whatever the size of the run.
- **A worker that dies mid-sample** (killed, out of memory, its node lost): Ray runs the task
  again, up to `retries` times, in a new worker. Past that, the sample's cells are recorded
  with the error and a score of 0, as a crashed cell is locally, and the run goes on.
- **An error raised by the code** (not the loss of its process) is not retried: a UserError in
  a worker (say, a model option its backend does not take) ends the run as one line, as it
  would locally.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rlm_bench.errors import UserError, exception_line
from rlm_bench.evaluation.executors.base import Job, Write
from rlm_bench.evaluation.executors.ray_worker import SampleWork, group_by_sample, solve_sample
from rlm_bench.evaluation.executors.solving import Row, cell_rows
from rlm_bench.models import BACKENDS
from rlm_bench.solvers import SOLVERS
from rlm_bench.suites import Suite
from rlm_bench.tasks import TASKS

RETRIES = 3
"""Runs of a task after its worker died (Ray's own default for tasks)."""


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError(
            '--executor ray needs Ray, an optional extra: pip install -e ".[ray]"'
        ) from None
    return ray


def worker_modules(suite: Suite) -> list[str]:
    """The modules that define the suite's model backends, tasks and solvers, for every worker
    to import before it opens them: a name registered by importing a module (a plugin without
    an entry point, a test double) is then known in the workers as it is here."""
    items = {f"task {t.task!r}": TASKS.get(t.task) for t in suite.tasks}
    items |= {f"solver {s.solver!r}": SOLVERS.get(s.solver) for s in suite.solvers}
    for spec in filter(None, (suite.model, suite.sub_model)):
        backend = spec.partition(":")[0]
        if backend in BACKENDS.names():
            items[f"model backend {backend!r}"] = BACKENDS.get(backend)
    for what, item in items.items():
        if item.__module__ == "__main__":
            raise UserError(
                f"--executor ray: the {what} is defined in __main__, which Ray workers cannot "
                "import; move it to a module (or register it as an entry point)"
            )
    return sorted({item.__module__ for item in items.values()})


def lost_sample(job: Job, work: SampleWork, error: str, wall_s: float) -> list[tuple[Row, Row]]:
    """The rows of a sample whose worker died past every retry: each cell with the error."""
    task = job.tasks[work.task]
    sample = task.sample(work.length, job.suite.seed, work.index)
    return [cell_rows(cell, sample, task, None, 0.0, error, wall_s) for cell in work.cells()]


class RayExecutor:
    def __init__(self, address: str | None = None, *, retries: int = RETRIES) -> None:
        """`address`: `auto` (the cluster `ray start` began on this machine), `ray://host:port`
        (Ray Client), or None for a local instance started for the run and stopped after it
        (or, when `RAY_ADDRESS` is set, that cluster). A session already open in this process
        (a notebook's, a test's) is used as it is and left open."""
        self.ray = import_ray()
        self.address = address
        self.retries = retries

    def run(self, job: Job, write: Write) -> None:
        modules = worker_modules(job.suite)
        with self._connected():
            solve = self.ray.remote(solve_sample).options(max_retries=self.retries)
            suite_data = self.ray.put(job.suite.to_dict())
            queue = deque(group_by_sample(job.cells))
            pending: dict[Any, tuple[SampleWork, float]] = {}
            try:
                while queue or pending:
                    while queue and len(pending) < job.suite.concurrency:
                        work = queue.popleft()
                        ref = solve.remote(suite_data, modules, work)
                        pending[ref] = (work, time.perf_counter())
                    [ref], _ = self.ray.wait(list(pending), num_returns=1)
                    work, started = pending.pop(ref)
                    for row, trace in self._rows(ref, job, work, started):
                        write(row, trace)
            except BaseException:  # an interrupt or a failed write: stop the work under way
                for ref in pending:
                    self.ray.cancel(ref)
                raise

    def _rows(self, ref: Any, job: Job, work: SampleWork, started: float) -> list[tuple[Row, Row]]:
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, UserError):
                raise UserError(f"on a Ray worker: {exc.cause}") from None
            raise
        except self.ray.exceptions.RayError as exc:  # the worker died, past every retry
            error = f"{type(exc).__name__}: {exception_line(exc)}"
            return lost_sample(job, work, error, time.perf_counter() - started)

    @contextmanager
    def _connected(self) -> Iterator[None]:
        if self.ray.is_initialized():
            yield
            return
        try:
            self.ray.init(
                address=self.address, include_dashboard=False, logging_level=logging.WARNING
            )
        except (ConnectionError, ValueError) as exc:
            what = f"connect to Ray at {self.address}" if self.address else "start Ray"
            raise UserError(f"cannot {what}: {exception_line(exc)}") from None
        try:
            yield
        finally:
            self.ray.shutdown()
