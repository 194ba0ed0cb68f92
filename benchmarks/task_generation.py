"""Seconds to generate one sample per task at 8K and 128K tokens, and how close it lands.

python -m benchmarks.task_generation    # prints a table and appends it to benchmarks/RESULTS.md
"""

from __future__ import annotations

import time

from benchmarks.record import record
from rlm_bench.models.embedded import EmbeddedModel
from rlm_bench.tasks import TASKS, get_task

LENGTHS = (8192, 131072)
REPEATS = 3


def main() -> None:
    tokenizer = EmbeddedModel().tokenizer
    lines = ["| task | length | seconds (best of 3) | actual tokens |", "| --- | --- | --- | --- |"]
    for name in TASKS.names():
        task = get_task(name, tokenizer)
        for length in LENGTHS:
            best, sample = float("inf"), None
            for index in range(REPEATS):
                start = time.perf_counter()
                sample = task.sample(length, 0, index)
                best = min(best, time.perf_counter() - start)
            lines.append(f"| {name} | {length} | {best:.3f} | {sample.actual_length} |")
    record("Task generation", lines)


if __name__ == "__main__":
    main()
