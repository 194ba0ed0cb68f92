"""A suite expanded into cells: one (task label, length, sample index, solver label) each."""

from __future__ import annotations

from dataclasses import dataclass

from rlm_bench.suites import Suite
from rlm_bench.tasks.base import make_sample_id


@dataclass(frozen=True)
class Cell:
    task: str
    length: int
    index: int
    solver: str

    def sample_id(self, seed: int) -> str:
        return make_sample_id(self.task, self.length, seed, self.index)


def expand(suite: Suite) -> list[Cell]:
    """Sample index outermost: a run stopped early still has every curve, with fewer samples."""
    return [
        Cell(task.label, length, index, spec.label)
        for index in range(suite.samples)
        for length in suite.lengths
        for task in suite.tasks
        for spec in suite.solvers
    ]
