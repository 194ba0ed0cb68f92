"""The executor seam: a `Job` in, finished cells out through `Write`, one call per cell."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from rlm_bench.evaluation.cells import Cell
from rlm_bench.evaluation.executors.solving import Row
from rlm_bench.models.base import Model
from rlm_bench.suites import Suite
from rlm_bench.tasks import Task

Write = Callable[[Row, Row], None]
"""Takes a finished cell's (sample row, trace row); called in the thread that called `run`."""


@dataclass(frozen=True)
class Job:
    """The cells a run still needs, and what the run opened to solve them."""

    suite: Suite
    cells: list[Cell]
    tasks: dict[str, Task]
    """Built with the run's model's tokenizer."""
    model: Model
    sub_model: Model | None = None


class Executor(Protocol):
    def run(self, job: Job, write: Write) -> None:
        """Solve every cell of `job`, calling `write` once per cell as soon as it finishes."""
        ...
