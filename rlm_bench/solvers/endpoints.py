"""The OpenAI-compatible endpoint through which another group's RLM library reaches the run's
model.

Those libraries (`rlms`, `dspy.RLM`) speak to a chat-completions server themselves and cannot be
handed our `Model`. So a run on an OpenAI-compatible backend gives them the same base URL, model
and key; a run on an embedded model starts `python -m rlm_bench serve` on it the first time an
adapter needs it, once per run, and stops it when the run ends (`Endpoints.close`, called by the
executor). The served model is the embedded one number for number (`models/serving.py`), so the
library and our own solvers answer with the same weights and decoding.

What the library sends bypasses our response cache, retries and cap on calls in flight: those
wrap our `Model`, which the library never calls. A re-run of an adapter costs its calls again.
"""

from __future__ import annotations

import atexit
import threading
from contextlib import ExitStack
from dataclasses import dataclass

from rlm_bench.errors import UserError
from rlm_bench.models.base import Model, ModelWrapper
from rlm_bench.models.embedded import EmbeddedModel
from rlm_bench.models.openai_backend import OpenAIModel

UNUSED_KEY = "not-needed"
"""What is sent as the key to a local server, which ignores it (the OpenAI client insists on
one)."""


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model: str
    api_key: str

    def __repr__(self) -> str:  # the key never reaches a log or a trace
        return f"Endpoint(base_url={self.base_url!r}, model={self.model!r})"


def backend_of(model: Model) -> Model:
    """The backend under the run's wrappers (cap, cache, pricing)."""
    while isinstance(model, ModelWrapper):
        model = model.inner
    return model


class _Servers:
    """The servers started in this process, one per GGUF file, shared by every adapter that
    asked for it (a run comparing `rlms` with `dspy_rlm` serves its model once), and stopped
    when the last of them closes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, tuple[Endpoint, ExitStack, set[int]]] = {}

    def acquire(self, gguf: str, holder: int) -> Endpoint:
        with self._lock:
            if gguf not in self._running:
                self._running[gguf] = (*self._start(gguf), set())
            endpoint, _, holders = self._running[gguf]
            holders.add(holder)
            return endpoint

    def release(self, holder: int) -> None:
        with self._lock:
            for gguf, (_, stack, holders) in list(self._running.items()):
                holders.discard(holder)
                if not holders:
                    del self._running[gguf]
                    stack.close()

    @staticmethod
    def _start(gguf: str) -> tuple[Endpoint, ExitStack]:
        from rlm_bench.models.served_process import served_embedded_model
        from rlm_bench.models.serving import served_folder

        stack = ExitStack()
        base_url = stack.enter_context(served_embedded_model(gguf))
        endpoint = Endpoint(base_url=base_url, model=str(served_folder(gguf)), api_key=UNUSED_KEY)
        return endpoint, stack


_SERVERS = _Servers()


class Endpoints:
    """The endpoint of each model an adapter was given, serving embedded ones on demand.

    Thread-safe: adapters call `get` from the worker threads their library runs in."""

    def __init__(self, solver: str) -> None:
        self._solver = solver
        atexit.register(self.close)  # a run stopped by an error still stops its servers

    def get(self, model: Model) -> Endpoint:
        backend = backend_of(model)
        if isinstance(backend, OpenAIModel):
            if backend.endpoint != "chat":
                raise UserError(
                    f"solver {self._solver} needs a chat endpoint; {backend.name} is served on "
                    "/v1/completions (set the model option endpoint: chat)"
                )
            key = backend._api_key or UNUSED_KEY
            return Endpoint(base_url=backend.base_url, model=backend.model, api_key=key)
        if isinstance(backend, EmbeddedModel):
            return _SERVERS.acquire(str(backend.gguf), id(self))
        raise UserError(
            f"solver {self._solver} runs on an embedded model or an OpenAI-compatible server, "
            f"not on {backend.name} ({type(backend).__name__})"
        )

    def close(self) -> None:
        """Lets go of the servers this adapter used, stopping those no other adapter holds;
        safe to call again."""
        _SERVERS.release(id(self))
