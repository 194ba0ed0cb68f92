"""Task generators, by name. Importing a task module registers it."""

from __future__ import annotations

from typing import Any

from rlm_bench.registry import Registry
from rlm_bench.tasks.base import Example, Query, Sample, Task
from rlm_bench.tokens import Tokenizer

TASKS: Registry[type] = Registry("task", "rlm_bench.tasks")


def generated_tasks() -> list[str]:
    """The tasks that make every sample from a seed, with no data to load: the ones a test, a
    property check or a smoke run can use anywhere."""
    return [name for name in TASKS.names() if not getattr(TASKS.get(name), "from_data", False)]


def get_task(name: str, tokenizer: Tokenizer, label: str | None = None, **options: Any) -> Task:
    return TASKS.get(name)(tokenizer, label=label, **options)


from rlm_bench.tasks import (  # noqa: E402,F401  (registers the built-in tasks)
    aggregation,
    aggregation_most_frequent,
    aggregation_pairs,
    common_words,
    context_rot_probes,
    niah,
    oolong,
    oolong_pairs,
    ruler_jsonl,
    s_niah,
    variable_tracking,
)

__all__ = ["TASKS", "Example", "Query", "Sample", "Task", "generated_tasks", "get_task"]
