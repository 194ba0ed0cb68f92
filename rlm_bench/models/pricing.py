"""What a call costs: a table of hosted models' list prices, user overrides, and a model wrapper.

Cost is computed here, from token counts, rather than in each backend, so every backend prices
the same way and a price a suite overrides applies to every call, cached or not.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from rlm_bench.errors import UserError
from rlm_bench.models.base import Completion, Message, Model, ModelWrapper


@dataclass(frozen=True)
class Price:
    """USD per million tokens, the unit every vendor publishes."""

    prompt: float
    completion: float


FREE = Price(0.0, 0.0)
"""Local models (embedded, gguf, hf, a server on this machine): the tokens cost nothing."""

# List prices in USD per million tokens (prompt, completion), standard tier, no batch or
# prompt-caching discounts, as the vendors' pricing pages gave them when checked in November
# 2026. Prices change and new models appear: a suite overrides or adds entries with
# `pricing: {model-name: {prompt: 0.5, completion: 1.5}}`. Only names whose price could be
# checked are listed; an unknown name gets no price (cost 0) rather than a guessed one.
PRICES: dict[str, Price] = {
    # OpenAI
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-2024-05-13": Price(5.00, 15.00),  # the first snapshot kept its launch price
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "o3": Price(2.00, 8.00),
    "o3-mini": Price(1.10, 4.40),
    "o4-mini": Price(1.10, 4.40),
    "gpt-5": Price(1.25, 10.00),
    "gpt-5-mini": Price(0.25, 2.00),
    "gpt-5-nano": Price(0.05, 0.40),
    # Anthropic
    "claude-opus-4-7": Price(5.00, 25.00),
    "claude-opus-4-6": Price(5.00, 25.00),
    "claude-opus-4-5": Price(5.00, 25.00),
    "claude-opus-4-1": Price(15.00, 75.00),
    "claude-opus-4-0": Price(15.00, 75.00),
    "claude-opus-4": Price(15.00, 75.00),
    "claude-sonnet-4-6": Price(3.00, 15.00),
    "claude-sonnet-4-5": Price(3.00, 15.00),
    "claude-sonnet-4-0": Price(3.00, 15.00),
    "claude-sonnet-4": Price(3.00, 15.00),
    "claude-haiku-4-5": Price(1.00, 5.00),
    "claude-3-5-haiku": Price(0.80, 4.00),
}

# What may follow a known name and still be the same model at the same price: a dated snapshot
# (`gpt-4o-2024-08-06`, `claude-sonnet-4-5-20250929`, Vertex's `claude-haiku-4-5@20251001`) or
# a moving alias. Any other suffix is a different model (`o3-pro`, `gpt-5-pro`) that would be
# mispriced by its prefix, so it gets no price.
_SNAPSHOT = re.compile(r"[-@](\d{4}-\d{2}-\d{2}|\d{8}|latest)")


def parse_overrides(overrides: Mapping[str, Any] | None) -> dict[str, Price]:
    """A suite's `pricing:` section as prices; raises `UserError` naming the first bad entry.
    Public so a suite can be checked before any model loads."""
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise UserError(
            "pricing must map model names to {prompt: USD, completion: USD} per million tokens"
        )
    prices = {}
    for name, entry in overrides.items():
        where = f"pricing.{name}"
        if not isinstance(name, str) or not name:
            raise UserError(f"{where}: a model name must be a non-empty string")
        if not isinstance(entry, Mapping):
            raise UserError(
                f"{where}: expected {{prompt: USD, completion: USD}} per million tokens, "
                f"got {entry!r}"
            )
        unknown = sorted(str(k) for k in entry if k not in ("prompt", "completion"))
        if unknown:
            raise UserError(f"{where}: unknown field {unknown[0]!r} (use prompt and completion)")
        values = []
        for field in ("prompt", "completion"):
            if field not in entry:
                raise UserError(f"{where}: missing {field!r} (USD per million tokens)")
            value = entry[field]
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not math.isfinite(value) or value < 0:
                raise UserError(
                    f"{where}.{field}: expected a number >= 0 of USD per million tokens, "
                    f"got {value!r}"
                )
            values.append(float(value))
        prices[name] = Price(*values)
    return prices


def price_for(
    model_name: str, overrides: Mapping[str, Mapping[str, float]] | None = None
) -> Price | None:
    """The price of `model_name`: an exact name first, then the longest known name it extends by
    a snapshot suffix; the suite's overrides replace table entries of the same name. None when
    the name is unknown: the caller decides between free (a local model) and unpriced."""
    table = {**PRICES, **parse_overrides(overrides)}
    if model_name in table:
        return table[model_name]
    candidates = [
        name
        for name in table
        if model_name.startswith(name) and _SNAPSHOT.fullmatch(model_name[len(name) :])
    ]
    return table[max(candidates, key=len)] if candidates else None


def cost_usd(price: Price, prompt_tokens: int, completion_tokens: int) -> float:
    return (prompt_tokens * price.prompt + completion_tokens * price.completion) / 1_000_000


def reported_or_priced(
    reported: float | None, price: Price | None, prompt_tokens: int, completion_tokens: int
) -> float:
    """A call another library made and costed itself where it could (rlms from OpenRouter,
    dspy from litellm's table): its own figure, else the run's price table, else 0."""
    if reported is not None:
        return float(reported)
    return cost_usd(price, prompt_tokens, completion_tokens) if price is not None else 0.0


class PricedModel(ModelWrapper):
    """Any backend with each Completion's `cost_usd` filled from `price`. With no price the
    backend's own figure passes through (0 unless the server reported one).

    Wrap it outside a `CachedModel`, so a cache hit is priced with today's table rather than
    the price the call had when it was stored."""

    def __init__(self, inner: Model, price: Price | None) -> None:
        super().__init__(inner)
        self.price = price

    async def complete(
        self, prompt: str, *, max_tokens: int = 16, stop: tuple[str, ...] = ()
    ) -> Completion:
        return self._priced(await self.inner.complete(prompt, max_tokens=max_tokens, stop=stop))

    async def chat(
        self, messages: Sequence[Message], *, max_tokens: int = 16, stop: tuple[str, ...] = ()
    ) -> Completion:
        return self._priced(await self.inner.chat(messages, max_tokens=max_tokens, stop=stop))

    def _priced(self, completion: Completion) -> Completion:
        """One price for both forms: a vendor charges the same per token through either endpoint."""
        if self.price is None:
            return completion
        cost = cost_usd(self.price, completion.prompt_tokens, completion.completion_tokens)
        return replace(completion, cost_usd=cost)

    def describe(self) -> dict[str, object]:
        price = asdict(self.price) if self.price is not None else None
        return {**self.inner.describe(), "price_usd_per_million_tokens": price}
