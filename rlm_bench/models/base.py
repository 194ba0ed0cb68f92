"""The model seam: one async interface for every backend, reporting tokens, latency and cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rlm_bench.tokens import Tokenizer


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cost_usd: float = 0.0


class Model(Protocol):
    name: str
    context_window: int
    tokenizer: Tokenizer

    async def complete(
        self, prompt: str, *, max_tokens: int = 16, stop: tuple[str, ...] = ()
    ) -> Completion:
        """Greedy completion of a plain (non-chat) prompt, cut before any `stop` string."""

    def describe(self) -> dict[str, object]:
        """What run.json records about this model (never secrets)."""
