"""The model seam: one async interface for every backend, reporting tokens, latency and cost."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from rlm_bench.tokens import Tokenizer


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    """Seconds the model took. A cached completion keeps the latency of the call that made it,
    so a run served from the cache reports the same model time as the run that filled it."""
    cost_usd: float = 0.0
    cached: bool = False
    retries: int = 0
    """Attempts that failed (rate limit, server error, timeout) before this one succeeded."""


class Model(Protocol):
    name: str
    context_window: int
    tokenizer: Tokenizer

    async def complete(
        self, prompt: str, *, max_tokens: int = 16, stop: tuple[str, ...] = ()
    ) -> Completion:
        """Greedy completion of a plain (non-chat) prompt, cut before any `stop` string."""

    async def check(self) -> None:
        """Fail fast, before a run starts: raise `UserError` with one line naming what is wrong
        (a missing API key, an unreachable server, a model the server does not have)."""

    def describe(self) -> dict[str, object]:
        """What run.json records about this model (never secrets)."""


class ModelWrapper:
    """A model around another one that changes some of what it does (caching, pricing) and
    passes the rest through, including any attribute a particular backend has."""

    def __init__(self, inner: Model) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def context_window(self) -> int:
        return self.inner.context_window

    @property
    def tokenizer(self) -> Tokenizer:
        return self.inner.tokenizer

    async def check(self) -> None:
        await self.inner.check()

    def describe(self) -> dict[str, object]:
        return self.inner.describe()

    def __getattr__(self, attr: str) -> Any:
        # `inner` itself is guarded so that copying or unpickling cannot recurse.
        if attr == "inner":
            raise AttributeError(attr)
        return getattr(self.inner, attr)
