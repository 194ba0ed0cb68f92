"""Greedy generation with a transformers model in this process: what the embedded backend and the
`hf:` backend share, so a checkpoint run by either gives the same tokens for the same prompt.

torch is imported inside functions: the hosted backends import `cut_at_stop` from here and must
not pay for (or need) torch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import replace

from rlm_bench.models.base import Completion, Message, check_messages
from rlm_bench.models.hf_tokenizer import HFTokenizer


def pick_dtype(device: str = "cpu"):
    """bfloat16 where the hardware runs it natively (half the memory traffic of float32, which is
    what bounds a small model on a CPU), else float32 on a CPU and float16 on a GPU."""
    import torch

    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.bfloat16
    return torch.float32


def pick_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    cut = min((i for s in stop if (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]


class LocalModel:
    """One model instance shared by all concurrent calls; calls run one at a time in a worker
    thread, because two forward passes on the same cores only slow each other down.

    A subclass provides `tokenizer` (an `HFTokenizer`) and `load()` (the model, on `device`)."""

    device: str = "cpu"
    tokenizer: HFTokenizer

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._stop_ids: dict[tuple[str, ...], tuple[int, ...]] = {}

    def load(self):
        raise NotImplementedError

    @property
    def has_chat_template(self) -> bool:
        return self.tokenizer.hf.chat_template is not None

    async def complete(
        self, prompt: str, *, max_tokens: int = 16, stop: tuple[str, ...] = ()
    ) -> Completion:
        async with self._lock:
            return await asyncio.to_thread(self._generate, prompt, max_tokens, stop, True)

    async def chat(
        self, messages: Sequence[Message], *, max_tokens: int = 16, stop: tuple[str, ...] = ()
    ) -> Completion:
        """The conversation in the checkpoint's own chat template, ending with the assistant's
        cue; generation ends at the template's end of turn (the generation config's stop)."""
        text = self.chat_text(messages)
        async with self._lock:
            completion = await asyncio.to_thread(self._generate, text, max_tokens, stop, False)
        return replace(completion, form="chat")

    def chat_text(self, messages: Sequence[Message]) -> str:
        """The prompt text `chat` sends: the template adds its own special tokens (a <bos>
        where the model was trained with one), so none are added again when it is encoded."""
        messages = check_messages(messages)
        if not self.has_chat_template:
            raise ValueError(f"{self.name} has no chat template: call complete() instead")
        return self.tokenizer.hf.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )

    def _generate(
        self, prompt: str, max_tokens: int, stop: tuple[str, ...], special_tokens: bool
    ) -> Completion:
        import torch

        model = self.load()
        hf = self.tokenizer.hf
        start = time.perf_counter()
        # `special_tokens` adds <bos> where the model was trained so (plain prompts)
        inputs = hf(prompt, return_tensors="pt", add_special_tokens=special_tokens).to(self.device)
        with torch.inference_mode():
            out = model.generate(
                **inputs,
                max_new_tokens=max_tokens,
                do_sample=False,
                eos_token_id=[*_end_ids(hf, model), *self._stop_token_ids(stop)],
                pad_token_id=hf.pad_token_id if hf.pad_token_id is not None else hf.eos_token_id,
                stopping_criteria=_stop_on_text(hf, inputs["input_ids"].shape[1], stop),
            )
        new_ids = out[0, inputs["input_ids"].shape[1] :].tolist()
        text = cut_at_stop(hf.decode(new_ids, skip_special_tokens=True), stop)
        return Completion(
            text=text,
            prompt_tokens=int(inputs["input_ids"].shape[1]),
            completion_tokens=len(new_ids),
            latency_s=time.perf_counter() - start,
        )

    def _stop_token_ids(self, stop: tuple[str, ...]) -> tuple[int, ...]:
        """Vocabulary entries that contain a stop string end generation early. transformers'
        own `stop_strings` rebuilds its tables over Gemma's 262K-token vocabulary on every call,
        which cost 0.7 s per call here (more than the rest of a short call); the text is cut at
        the stop string afterwards either way. Kept per model (one tokenizer, few stop tuples)."""
        if stop not in self._stop_ids:
            vocab = self.tokenizer.hf.get_vocab()
            self._stop_ids[stop] = tuple(
                i for token, i in vocab.items() if any(s in token for s in stop)
            )
        return self._stop_ids[stop]


def _stop_on_text(hf, prompt_length: int, stop: tuple[str, ...]):
    """Stop strings that span several tokens (a REPL turn ends at "\n### REPL output"): no one
    token holds them, so the token ids above never fire, and a reply would run to
    `max_tokens` before being cut. This decodes the new tokens at each step and stops once a
    stop string is in them: microseconds a step, against a forward pass each wasted token."""
    from transformers import StoppingCriteria, StoppingCriteriaList

    long_stops = tuple(s for s in stop if len(s) > 1)

    class StopOnText(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            import torch

            text = hf.decode(input_ids[0, prompt_length:], skip_special_tokens=True)
            done = any(s in text for s in long_stops)
            return torch.full((input_ids.shape[0],), done, dtype=torch.bool)

    return StoppingCriteriaList([StopOnText()] if long_stops else [])


def _end_ids(hf, model) -> list[int]:
    """The tokenizer's end of text, then any other end the checkpoint's generation config names
    (instruction-tuned models end a turn with their own token): passing `eos_token_id` replaces
    the config's list, so it has to be carried over."""
    ids: list[int] = [] if hf.eos_token_id is None else [hf.eos_token_id]
    configured = getattr(model.generation_config, "eos_token_id", None)
    if isinstance(configured, int):
        configured = [configured]
    ids += [i for i in configured or () if i not in ids]
    return ids
