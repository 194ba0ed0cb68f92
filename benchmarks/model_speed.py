"""Seconds to generate 10 tokens after a prompt of N tokens on the embedded model, with plain SDPA
and with the blockwise sliding-window attention the harness uses.

    python -m benchmarks.model_speed    # prints a table and appends it to benchmarks/RESULTS.md
"""

from __future__ import annotations

import time

import torch
from transformers import AutoModelForCausalLM

from benchmarks.record import record
from rlm_bench.models import local_attention
from rlm_bench.models.checkpoint import default_gguf, ensure_checkpoint
from rlm_bench.models.embedded import EmbeddedModel
from rlm_bench.models.local_generation import pick_dtype
from rlm_bench.tasks import get_task

LENGTHS = (512, 2048, 4096, 8192)
NEW_TOKENS = 10


def main() -> None:
    folder = ensure_checkpoint(default_gguf())
    tokenizer = EmbeddedModel().tokenizer
    task = get_task("niah_single", tokenizer)
    prompts = {n: tokenizer.hf(task.sample(n, 0, 0).context, return_tensors="pt") for n in LENGTHS}
    dtype = pick_dtype()
    rows = []
    for attn in ("sdpa", local_attention.NAME):
        model = AutoModelForCausalLM.from_pretrained(
            str(folder), dtype=dtype, attn_implementation=attn
        ).eval()
        with torch.inference_mode():
            model.generate(**prompts[LENGTHS[0]], max_new_tokens=2)  # warm-up
            for n in LENGTHS:
                start = time.perf_counter()
                model.generate(**prompts[n], max_new_tokens=NEW_TOKENS,
                               min_new_tokens=NEW_TOKENS, do_sample=False)  # fmt: skip
                rows.append((attn, n, time.perf_counter() - start))
    lines = [f"| attention | {' | '.join(f'{n} tokens' for n in LENGTHS)} |",
             "| --- |" + " --- |" * len(LENGTHS)]  # fmt: skip
    for attn in ("sdpa", local_attention.NAME):
        cells = [f"{s:.2f} s" for a, _, s in rows if a == attn]
        lines.append(f"| {attn} ({str(dtype).removeprefix('torch.')}) | {' | '.join(cells)} |")
    record(f"Embedded model: {NEW_TOKENS} new tokens after an N-token prompt", lines)


if __name__ == "__main__":
    main()
