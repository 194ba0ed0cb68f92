"""At most N calls of one model in flight: the run's `concurrency`, applied to every backend.

One cap, in one place, whatever the backend: an HTTP server is sent at most N requests at once
(so a rate limit is met by waiting, not by piling on), and with N = 1 a call's latency is the
model's own time, not time spent queued behind other calls on a server that answers one at a
time. A call holds its slot through its retries. Chat and completion calls share the slots:
the server answering them is the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from rlm_bench.errors import UserError
from rlm_bench.models.base import Completion, Message, Model, ModelWrapper


class CappedModel(ModelWrapper):
    def __init__(self, inner: Model, slots: int) -> None:
        super().__init__(inner)
        if not isinstance(slots, int) or isinstance(slots, bool) or slots < 1:
            raise UserError(f"concurrency must be a whole number of at least 1 (got {slots!r})")
        self.slots = slots
        self._semaphores: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}

    async def complete(
        self, prompt: str, *, max_tokens: int = 16, stop: tuple[str, ...] = ()
    ) -> Completion:
        async with self._semaphore():
            return await self.inner.complete(prompt, max_tokens=max_tokens, stop=stop)

    async def chat(
        self, messages: Sequence[Message], *, max_tokens: int = 16, stop: tuple[str, ...] = ()
    ) -> Completion:
        async with self._semaphore():
            return await self.inner.chat(messages, max_tokens=max_tokens, stop=stop)

    def _semaphore(self) -> asyncio.Semaphore:
        """One per event loop: a semaphore is bound to the loop it first waited in, and a CLI
        checks the model in one `asyncio.run` and runs the suite in another."""
        loop = asyncio.get_running_loop()
        for old in [other for other in self._semaphores if other.is_closed()]:
            del self._semaphores[old]
        if loop not in self._semaphores:
            self._semaphores[loop] = asyncio.Semaphore(self.slots)
        return self._semaphores[loop]

    def describe(self) -> dict[str, object]:
        return {**self.inner.describe(), "concurrency": self.slots}
