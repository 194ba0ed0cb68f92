"""Executors: where a run's cells are solved. The run (`evaluation/runner.py`) owns the run
folder; an executor only solves cells and hands each finished one back to the run's single
writer, so resume, the order of writes (trace line, then sample line) and no-duplicates hold
wherever the cells ran.

`local` (the default) solves them in this process on one event loop; `ray` fans them out as
Ray tasks over a cluster (`ray_executor.py`; Ray is an optional extra).
"""

from __future__ import annotations

from rlm_bench.errors import UserError
from rlm_bench.evaluation.executors.base import Executor, Job, Write
from rlm_bench.evaluation.executors.local import LocalExecutor

EXECUTORS = ("local", "ray")


def make_executor(name: str, ray_address: str | None = None) -> Executor:
    """The executor `run --executor NAME [--ray-address A]` asks for; an unusable choice (Ray
    not installed, an address without Ray) is a UserError before any model loads."""
    if name == "local":
        if ray_address is not None:
            raise UserError("--ray-address needs --executor ray")
        return LocalExecutor()
    if name == "ray":
        from rlm_bench.evaluation.executors.ray_executor import RayExecutor

        return RayExecutor(ray_address)
    raise UserError(f"unknown executor {name!r} (known: {', '.join(EXECUTORS)})")


__all__ = ["EXECUTORS", "Executor", "Job", "LocalExecutor", "Write", "make_executor"]
