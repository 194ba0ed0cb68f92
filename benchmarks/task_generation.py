"""Seconds to generate one sample per task at 8K, 128K and 1M tokens, and how close it lands.

python -m benchmarks.task_generation            # every task, best of 3 (1M: one run)
python -m benchmarks.task_generation --quick    # 8K and 128K only

Targets (issue 4): one 128K-token sample under 1 s, one 1M-token sample under 10 s.
"""

from __future__ import annotations

import argparse
import time

from benchmarks.record import record
from rlm_bench.models.embedded import EmbeddedModel
from rlm_bench.tasks import TASKS, get_task
from rlm_bench.tasks.base import length_tolerance

LENGTHS = (8192, 131072, 1048576)
TARGET_S = {131072: 1.0, 1048576: 10.0}


def best_time(task, length: int, repeats: int) -> tuple[float, int]:
    best, actual = float("inf"), 0
    for index in range(repeats):
        start = time.perf_counter()
        sample = task.sample(length, 0, index)
        best = min(best, time.perf_counter() - start)
        actual = sample.actual_length
    return best, actual


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip 1M tokens")
    args = parser.parse_args()
    lengths = LENGTHS[:2] if args.quick else LENGTHS
    tokenizer = EmbeddedModel().tokenizer
    head = " | ".join(f"{n // 1024}K: s (tokens)" for n in lengths)
    lines = [f"| task | {head} |", "| --- |" + " --- |" * len(lengths)]
    for name in TASKS.names():
        task = get_task(name, tokenizer)
        cells = []
        for length in lengths:
            seconds, actual = best_time(task, length, 1 if length > 200_000 else 3)
            ok = abs(actual - length) <= length_tolerance(length) and seconds < TARGET_S.get(
                length, float("inf")
            )
            cells.append(f"{seconds:.3f} ({actual}){'' if ok else ' MISSED'}")
        lines.append(f"| {name} | {' | '.join(cells)} |")
    record("Task generation (best of 3; 1M: one run)", lines)


if __name__ == "__main__":
    main()
