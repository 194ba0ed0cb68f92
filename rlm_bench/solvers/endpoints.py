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


class Endpoints:
    """The endpoint of each model an adapter was given, serving embedded ones on demand.

    Thread-safe: adapters call `get` from the worker threads their library runs in."""

    def __init__(self, solver: str) -> None:
        self._solver = solver
        self._lock = threading.Lock()
        self._served: dict[str, Endpoint] = {}
        self._stack = ExitStack()
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
            with self._lock:
                gguf = str(backend.gguf)
                if gguf not in self._served:
                    self._served[gguf] = self._serve(gguf)
                return self._served[gguf]
        raise UserError(
            f"solver {self._solver} runs on an embedded model or an OpenAI-compatible server, "
            f"not on {backend.name} ({type(backend).__name__})"
        )

    def _serve(self, gguf: str) -> Endpoint:
        from rlm_bench.models.served_process import served_embedded_model
        from rlm_bench.models.serving import served_folder

        base_url = self._stack.enter_context(served_embedded_model(gguf))
        return Endpoint(base_url=base_url, model=str(served_folder(gguf)), api_key=UNUSED_KEY)

    def close(self) -> None:
        """Stops the servers this run started; safe to call again."""
        with self._lock:
            self._served.clear()
            self._stack.close()
