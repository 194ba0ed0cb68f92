"""The local executor: every cell in this process, on one event loop, at most the suite's
`concurrency` at once (the same number caps the model's calls in flight)."""

from __future__ import annotations

import asyncio

from rlm_bench.evaluation.cells import Cell
from rlm_bench.evaluation.executors.base import Job, Write
from rlm_bench.evaluation.executors.solving import (
    SampleBank,
    close_solvers,
    make_solvers,
    solve_cell,
)


class LocalExecutor:
    def run(self, job: Job, write: Write) -> None:
        asyncio.run(self._run(job, write))

    async def _run(self, job: Job, write: Write) -> None:
        solvers = make_solvers(job.suite, job.sub_model)
        bank = SampleBank(job.tasks, job.suite.seed)
        semaphore = asyncio.Semaphore(job.suite.concurrency)

        async def one(cell: Cell) -> None:
            async with semaphore:
                sample = bank.get(cell)
                task = job.tasks[cell.task]
                write(*await solve_cell(cell, sample, task, solvers[cell.solver], job.model))

        try:
            await asyncio.gather(*(one(c) for c in job.cells))
        finally:
            close_solvers(solvers)
