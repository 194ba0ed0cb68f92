"""The model a run talks to: the backend, behind a cap on calls in flight, behind the response
cache, behind pricing.

Pricing sits outside the cache so a cached answer is costed with today's prices; the cache sits
outside the backend so a hit never reaches the network. `check()` runs before the first sample,
so a missing key or a dead server is one line at the start, not an error in every row.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from rlm_bench.models import load_model
from rlm_bench.models.base import Model
from rlm_bench.models.cache import CachedModel, ResponseCache, default_cache_path
from rlm_bench.models.capping import CappedModel
from rlm_bench.models.pricing import PricedModel, price_for
from rlm_bench.suites import Suite

HOW_NOT_WHAT = ("concurrency", "retry")
"""How a backend is driven, which does not change what it answers: not part of a cache key."""


def open_model(suite: Suite, *, check: bool = True) -> Model:
    model = load_model(suite.model, suite.model_options)
    if check:
        asyncio.run(model.check())
    # Inside the cache, so an answer the cache holds never waits for a slot.
    model = CappedModel(model, suite.concurrency)
    described = model.describe()
    if suite.cache and samples_greedily(described):
        # All the backend says of itself (the server's URL too: two servers of one model may
        # not answer alike), so a hit is an answer this very setup gave. A backend that cannot
        # sample greedily (Anthropic's current API takes no temperature) is never cached: its
        # answers vary from call to call, and a cache would hide that.
        key = {k: v for k, v in described.items() if k not in HOW_NOT_WHAT}
        key["model"] = model.name
        model = CachedModel(model, ResponseCache(default_cache_path()), key)
    return PricedModel(model, price_for(model.name, suite.pricing))


def samples_greedily(described: dict[str, object]) -> bool:
    """False for a backend whose description says it decodes as the API chooses ("api default
    (the API takes no temperature)" from Anthropic's), whatever it adds after that."""
    return not str(described.get("sampling", "")).startswith("api default")


def open_sub_model(suite: Suite, *, check: bool = True) -> Model | None:
    """The run's second model, opened like the first (same cache, prices and cap)."""
    if suite.sub_model is None:
        return None
    sub = replace(suite, model=suite.sub_model, model_options=suite.sub_model_options)
    return open_model(sub, check=check)
