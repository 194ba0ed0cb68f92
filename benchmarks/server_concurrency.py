"""Calls in flight against a real local server: wall time of the same sub-calls at
`--concurrency` N = 1, 2, 4, 8, on `python -m rlm_bench serve` with and without
`--continuous-batching`, and whether the answers stay those of N = 1.

The calls are what a recursive solver sends its leaves: niah_single prompts of about 512
tokens, each asking for a short answer. The benchmark starts and stops each server itself:

    python -m benchmarks.server_concurrency [--calls 16]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass

from benchmarks.record import record
from rlm_bench.models.capping import CappedModel
from rlm_bench.models.openai_backend import OpenAIModel
from rlm_bench.models.served_process import served_embedded_model
from rlm_bench.models.serving import served_folder
from rlm_bench.solvers.prompts import ANSWER_STOP, build_prompt
from rlm_bench.tasks import get_task

LEVELS = (1, 2, 4, 8)
LEAF_TOKENS = 512


@dataclass(frozen=True)
class Measured:
    server: str
    slots: int
    wall_s: float
    answers: list[str]


def leaf_prompts(model: OpenAIModel, calls: int) -> list[tuple[str, int]]:
    task = get_task("niah_single", model.tokenizer)
    prompts = []
    for index in range(calls):
        sample = task.sample(LEAF_TOKENS, 0, index)
        prompts.append((build_prompt(sample.query, sample.context), sample.query.max_tokens))
    return prompts


async def all_levels(model: OpenAIModel, prompts) -> list[tuple[int, float, list[str]]]:
    await one_level(model, 2, prompts[:2])  # warm-up, outside the figures
    return [(n, *await one_level(model, n, prompts)) for n in LEVELS]


async def one_level(model: OpenAIModel, slots: int, prompts) -> tuple[float, list[str]]:
    capped = CappedModel(model, slots)
    start = time.perf_counter()
    done = await asyncio.gather(
        *(capped.complete(p, max_tokens=n, stop=ANSWER_STOP) for p, n in prompts)
    )
    return time.perf_counter() - start, [c.text for c in done]


def measure(calls: int) -> list[Measured]:
    folder = str(served_folder())
    results = []
    for label, batching in (("serve", False), ("serve --continuous-batching", True)):
        with served_embedded_model(continuous_batching=batching) as base_url:
            model = OpenAIModel(folder, base_url=base_url)
            levels = all_levels(model, leaf_prompts(model, calls))
            for slots, wall, answers in asyncio.run(levels):
                results.append(Measured(label, slots, wall, answers))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=16, help="sub-calls per level")
    args = parser.parse_args()
    results = measure(args.calls)
    reference = results[0].answers  # plain server, one call at a time
    lines = [
        f"{args.calls} niah_single prompts of {LEAF_TOKENS} tokens, greedy, sent with "
        "asyncio.gather under a cap of N calls in flight; speed-up over N = 1 on the same server",
        "",
        "| server | N | wall s | calls/s | speed-up | answers equal to plain N = 1 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for server in dict.fromkeys(r.server for r in results):
        rows = [r for r in results if r.server == server]
        for r in rows:
            same = sum(a == b for a, b in zip(r.answers, reference, strict=True))
            lines.append(
                f"| {server} | {r.slots} | {r.wall_s:.1f} | {args.calls / r.wall_s:.2f} | "
                f"{rows[0].wall_s / r.wall_s:.2f}x | {same}/{args.calls} |"
            )
    record("Calls in flight against a local server (transformers serve)", lines)


if __name__ == "__main__":
    main()
