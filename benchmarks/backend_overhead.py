"""What the harness adds to a model call: the OpenAI backend (retries, stop handling) behind
the concurrency cap and the pricing wrapper, against the raw `AsyncOpenAI` client, on one server.

Start an OpenAI-compatible server first, e.g. the embedded model (`serve` prints its model id):

    python -m rlm_bench serve --port 8000 &
    python -m benchmarks.backend_overhead --base-url http://127.0.0.1:8000/v1 \
        --model ~/.cache/rlm_bench/served/<sha16>

Calls alternate between the two paths, so drift in the server's speed hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from openai import AsyncOpenAI

from benchmarks.record import record
from rlm_bench.models.capping import CappedModel
from rlm_bench.models.openai_backend import OpenAIModel
from rlm_bench.models.pricing import PricedModel

PROMPT = "Text:\nThe grass is green. The sky is blue.\n\nQuestion: What color is the sky?\nAnswer:"
MAX_TOKENS = 8


async def measure(base_url: str, model_name: str, calls: int) -> dict[str, list[float]]:
    raw = AsyncOpenAI(base_url=base_url, api_key="EMPTY", max_retries=0, timeout=120)
    harness = PricedModel(CappedModel(OpenAIModel(model_name, base_url=base_url), 1), None)

    async def raw_call() -> str:
        reply = await raw.completions.create(
            model=model_name, prompt=PROMPT, max_tokens=MAX_TOKENS, temperature=0, stop=["\n"]
        )
        return reply.choices[0].text

    async def harness_call() -> str:
        return (await harness.complete(PROMPT, max_tokens=MAX_TOKENS, stop=("\n",))).text

    for _ in range(3):  # warm up the server and both clients
        await raw_call()
        await harness_call()
    times: dict[str, list[float]] = {"raw AsyncOpenAI": [], "rlm_bench OpenAIModel": []}
    for _ in range(calls):
        for label, call in (("raw AsyncOpenAI", raw_call), ("rlm_bench OpenAIModel", harness_call)):
            start = time.perf_counter()
            await call()
            times[label].append(time.perf_counter() - start)
    await raw.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", required=True, help="the model name the server answers to")
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    times = asyncio.run(measure(args.base_url, args.model, args.calls))
    raw_median = statistics.median(times["raw AsyncOpenAI"])
    lines = [
        f"{args.calls} sequential calls per path, {MAX_TOKENS} new tokens, alternating",
        "",
        "| path | median ms | mean ms | calls/s | overhead vs raw (median) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, series in times.items():
        median = statistics.median(series)
        lines.append(
            f"| {label} | {median * 1000:.1f} | {statistics.mean(series) * 1000:.1f} | "
            f"{1 / statistics.mean(series):.2f} | {(median - raw_median) * 1000:+.1f} ms |"
        )
    record("Harness overhead per call on an OpenAI-compatible server", lines)


if __name__ == "__main__":
    main()
