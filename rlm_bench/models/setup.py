"""The model a run talks to: the backend, behind the response cache, behind pricing.

Pricing sits outside the cache so a cached answer is costed with today's prices; the cache sits
outside the backend so a hit never reaches the network. `check()` runs before the first sample,
so a missing key or a dead server is one line at the start, not an error in every row.
"""

from __future__ import annotations

import asyncio

from rlm_bench.models import load_model
from rlm_bench.models.base import Model
from rlm_bench.models.cache import CachedModel, ResponseCache, default_cache_path
from rlm_bench.models.pricing import PricedModel, price_for
from rlm_bench.suites import Suite

HOW_NOT_WHAT = ("concurrency", "retry")
"""How a backend is driven, which does not change what it answers: not part of a cache key."""


def open_model(suite: Suite, *, check: bool = True) -> Model:
    model = load_model(suite.model, suite.model_options)
    if check:
        asyncio.run(model.check())
    described = model.describe()
    if suite.cache and described.get("sampling") != "api default":
        # All the backend says of itself (the server's URL too: two servers of one model may
        # not answer alike), so a hit is an answer this very setup gave. A backend that cannot
        # sample greedily (Anthropic's current API takes no temperature) is never cached: its
        # answers vary from call to call, and a cache would hide that.
        key = {k: v for k, v in described.items() if k not in HOW_NOT_WHAT}
        key["model"] = model.name
        model = CachedModel(model, ResponseCache(default_cache_path()), key)
    return PricedModel(model, price_for(model.name, suite.pricing))
