"""`llm_query_batched` against a loop of `llm_query`: wall time of one REPL block that asks the
same sub-calls both ways, through the real `repl` solver and sandbox.

The root model's replies are replayed (the block is what is measured, not what a model would
write); the sub-calls go to:
- a fixed-latency stand-in for a hosted API (each call waits `--latency` seconds, no compute),
  which shows what the parallel path gives when the server is not the bottleneck;
- `python -m rlm_bench serve` with and without `--continuous-batching`, the real embedded model
  behind a real OpenAI-compatible server, which shows what this 2-core machine gives.

    python -m benchmarks.repl_batched [--chunks 8] [--latency 0.5] [--caps 1,2,4,8]

The loop is the sequential baseline; the batched block runs once per cap on calls in flight
(`--concurrency`), so the table shows where parallel sub-calls stop paying on this machine.
"""

from __future__ import annotations

import argparse
import asyncio

from benchmarks.record import record
from rlm_bench.models.base import Completion, Model
from rlm_bench.models.capping import CappedModel
from rlm_bench.models.embedded import EmbeddedModel
from rlm_bench.models.openai_backend import OpenAIModel
from rlm_bench.models.served_process import served_embedded_model
from rlm_bench.models.serving import served_folder
from rlm_bench.solvers import make_solver
from rlm_bench.tasks import get_task
from rlm_bench.tokens import Tokenizer

ASK = (
    "prompts = ['Text:\\n' + c + '\\n\\nQuestion: What is the special magic number mentioned in "
    "the text? Say none if there is none.\\nAnswer:' for c in chunks]"
)
SETUP = (
    "size = len(context) // {chunks} + 1\n"
    "chunks = [context[i:i + size] for i in range(0, len(context), size)]"
)
BLOCKS = {
    "llm_query_batched": f"{SETUP}\n{ASK}\nreplies = llm_query_batched(prompts)",
    "loop of llm_query": f"{SETUP}\n{ASK}\nreplies = [llm_query(p) for p in prompts]",
}


class ReplayRoot:
    """Replays one block, then `FINAL_VAR(replies)`: the root side of the measured trajectory."""

    name = "replay"
    context_window = 32768

    def __init__(self, tokenizer: Tokenizer, block: str) -> None:
        self.tokenizer = tokenizer
        self.replies = [f"```repl\n{block}\n```", "FINAL_VAR(replies)"]

    async def complete(self, prompt: str, *, max_tokens: int = 16, stop=()) -> Completion:
        return Completion(text=self.replies.pop(0), prompt_tokens=0, completion_tokens=0,
                          latency_s=0.0)  # fmt: skip


class FixedLatency:
    """A stand-in for a hosted API: every call takes `latency_s` and computes nothing."""

    name = "fixed-latency"
    context_window = 32768

    def __init__(self, tokenizer: Tokenizer, latency_s: float) -> None:
        self.tokenizer = tokenizer
        self.latency_s = latency_s

    async def complete(self, prompt: str, *, max_tokens: int = 16, stop=()) -> Completion:
        await asyncio.sleep(self.latency_s)
        return Completion(text=" none", prompt_tokens=0, completion_tokens=1,
                          latency_s=self.latency_s)  # fmt: skip


def block_seconds(sample, sub: Model, block: str, cap: int) -> tuple[float, int]:
    solver = make_solver("repl", {"timeout_s": 600.0})
    solver.use_sub_model(CappedModel(sub, cap))
    result = asyncio.run(solver.solve(sample, ReplayRoot(sub.tokenizer, block)))
    node = next(n for n in result.trace.nodes if n.kind == "exec")
    assert node.error is None, node.error
    return node.latency_s, sum(1 for n in result.trace.calls if n.depth == 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--length", type=int, default=4096, help="context tokens")
    parser.add_argument("--caps", default="1,2,4,8", help="calls in flight to measure")
    args = parser.parse_args()
    caps = [int(c) for c in args.caps.split(",")]
    tokenizer = EmbeddedModel().tokenizer
    sample = get_task("niah_single", tokenizer).sample(args.length, 0, 0)
    blocks = {name: code.format(chunks=args.chunks) for name, code in BLOCKS.items()}
    rows = []

    def measure(label: str, sub: Model) -> None:
        block_seconds(sample, sub, blocks["llm_query_batched"], max(caps))  # warm-up
        loop_s, calls = block_seconds(sample, sub, blocks["loop of llm_query"], 1)
        for cap in caps:
            batched_s, _ = block_seconds(sample, sub, blocks["llm_query_batched"], cap)
            rows.append((label, calls, cap, loop_s, batched_s))

    measure(f"fixed {args.latency} s latency (stand-in for a hosted API)",
            FixedLatency(tokenizer, args.latency))  # fmt: skip
    folder = str(served_folder())
    for label, batching in (("serve", False), ("serve --continuous-batching", True)):
        with served_embedded_model(continuous_batching=batching) as base_url:
            measure(f"embedded model, {label}", OpenAIModel(folder, base_url=base_url))
    lines = [
        f"One REPL block asking {args.chunks} niah_single chunks of a {args.length}-token context "
        f"(about {args.length // args.chunks} tokens each, replies of up to the solver's "
        "sub_max_tokens); the loop is sequential, the batched block runs under a cap of N calls "
        "in flight",
        "",
        "| sub-model | sub-calls | loop of llm_query s | N | llm_query_batched s | speed-up |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for label, calls, cap, loop_s, batched_s in rows:
        lines.append(
            f"| {label} | {calls} | {loop_s:.2f} | {cap} | {batched_s:.2f} | "
            f"{loop_s / batched_s:.2f}x |"
        )
    record("llm_query_batched against a loop of llm_query, by calls in flight", lines)


if __name__ == "__main__":
    main()
