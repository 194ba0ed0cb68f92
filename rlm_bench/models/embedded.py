"""The embedded default model: a local GGUF file (Gemma 3 270M unless told otherwise) run with
transformers + torch on the CPU, in bfloat16 where the CPU has bf16 instructions.

transformers was chosen over llama.cpp for this machine: no source build at install, no crash in
llama.cpp's AMX kernels, and faster prefill here.
"""

from __future__ import annotations

import asyncio
import time
from functools import cached_property, lru_cache
from pathlib import Path

from rlm_bench.models.base import Completion
from rlm_bench.models.checkpoint import default_gguf, ensure_checkpoint, ensure_tokenizer
from rlm_bench.models.hf_tokenizer import HFTokenizer


def pick_dtype():
    import torch

    if torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.bfloat16
    return torch.float32


class EmbeddedModel:
    """One model instance shared by all concurrent calls; calls run one at a time in a worker
    thread, because two forward passes on the same cores only slow each other down."""

    def __init__(self, gguf: Path | None = None) -> None:
        self.gguf = Path(gguf) if gguf else default_gguf()
        self.name = self.gguf.stem
        self._lock = asyncio.Lock()
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

    async def complete(
        self, prompt: str, *, max_tokens: int = 16, stop: tuple[str, ...] = ()
    ) -> Completion:
        async with self._lock:
            return await asyncio.to_thread(self._generate, prompt, max_tokens, stop)

    def _generate(self, prompt: str, max_tokens: int, stop: tuple[str, ...]) -> Completion:
        import torch

        model = self.load()
        hf = self.tokenizer.hf
        start = time.perf_counter()
        inputs = hf(prompt, return_tensors="pt")  # adds <bos>, as the model was trained
        with torch.inference_mode():
            out = model.generate(
                **inputs,
                max_new_tokens=max_tokens,
                do_sample=False,
                eos_token_id=[hf.eos_token_id, *self._stop_token_ids(stop)],
                pad_token_id=hf.pad_token_id,
            )
        new_ids = out[0, inputs["input_ids"].shape[1] :].tolist()
        text = cut_at_stop(hf.decode(new_ids, skip_special_tokens=True), stop)
        return Completion(
            text=text,
            prompt_tokens=int(inputs["input_ids"].shape[1]),
            completion_tokens=len(new_ids),
            latency_s=time.perf_counter() - start,
        )

    @lru_cache(maxsize=8)  # noqa: B019  (one model per run; the cache lives as long as it)
    def _stop_token_ids(self, stop: tuple[str, ...]) -> tuple[int, ...]:
        """Vocabulary entries that contain a stop string end generation early. transformers'
        own `stop_strings` rebuilds its tables over Gemma's 262K-token vocabulary on every call,
        which cost 0.7 s per call here (more than the rest of a short call); the text is cut at
        the stop string afterwards either way."""
        vocab = self.tokenizer.hf.get_vocab()
        return tuple(i for token, i in vocab.items() if any(s in token for s in stop))

    def describe(self) -> dict[str, object]:
        return {
            "backend": "embedded",
            "name": self.name,
            "gguf": str(self.gguf),
            "dtype": str(pick_dtype()).removeprefix("torch."),
            "context_window": self.context_window,
        }


def cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    cut = min((i for s in stop if (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]
