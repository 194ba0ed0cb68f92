"""Task generators, by name. Importing a task module registers it."""

from __future__ import annotations

from rlm_bench.registry import Registry
from rlm_bench.tasks.base import Example, Sample, Task
from rlm_bench.tokens import Tokenizer

TASKS: Registry[type] = Registry("task", "rlm_bench.tasks")


def get_task(name: str, tokenizer: Tokenizer) -> Task:
    return TASKS.get(name)(tokenizer)


from rlm_bench.tasks import aggregation, niah  # noqa: E402,F401  (registers the built-in tasks)

__all__ = ["TASKS", "Example", "Sample", "Task", "get_task"]
