"""The embedded default model: a local GGUF file (Gemma 3 270M unless told otherwise) run with
transformers + torch on the CPU, in bfloat16 where the CPU has bf16 instructions.

transformers was chosen over llama.cpp for this machine: no source build at install, no crash in
llama.cpp's AMX kernels, and faster prefill here.
"""

from __future__ import annotations

import asyncio
from functools import cached_property
from pathlib import Path

from rlm_bench.models.checkpoint import default_gguf, ensure_checkpoint, ensure_tokenizer
from rlm_bench.models.hf_tokenizer import HFTokenizer
from rlm_bench.models.local_generation import LocalModel, pick_dtype


class EmbeddedModel(LocalModel):
    """Generation (greedy, one call at a time, stop tokens) is `LocalModel`'s, shared with the
    `hf:` backend; this class only knows where the GGUF file and its converted checkpoint are."""

    def __init__(self, gguf: Path | None = None) -> None:
        super().__init__()
        self.gguf = Path(gguf) if gguf else default_gguf()
        self.name = self.gguf.stem
        self._hf_model = None

    @cached_property
    def tokenizer(self) -> HFTokenizer:
        return HFTokenizer(ensure_tokenizer(self.gguf), self.name)

    @cached_property
    def context_window(self) -> int:
        import json

        config = json.loads((ensure_checkpoint(self.gguf) / "config.json").read_text())
        return int(config.get("max_position_embeddings", 8192))

    def load(self):
        if self._hf_model is None:
            import torch
            from transformers import AutoModelForCausalLM

            from rlm_bench.models import local_attention  # registers the attention kernel

            folder = ensure_checkpoint(self.gguf)
            model = AutoModelForCausalLM.from_pretrained(
                str(folder), dtype=pick_dtype(), attn_implementation=local_attention.NAME
            )
            self._hf_model = model.eval()
            torch.set_grad_enabled(False)
        return self._hf_model

    async def check(self) -> None:
        """Converting the GGUF (once per machine) is the only thing that can fail first."""
        await asyncio.to_thread(ensure_checkpoint, self.gguf)

    def describe(self) -> dict[str, object]:
        return {
            "backend": "embedded",
            "name": self.name,
            "gguf": str(self.gguf),
            "dtype": str(pick_dtype()).removeprefix("torch."),
            "context_window": self.context_window,
        }
