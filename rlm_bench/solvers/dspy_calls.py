"""The `dspy.LM` a `dspy_rlm` run talks through: one per sample and role (root, sub-calls), each
keeping a record of every call it answered, which is what the trace is built from.

dspy's own history is not used: it keeps every entry three times (a global list of the last
10,000, the LM's, and each calling module's), prompts included, where a run needs one small
record per call for one sample. dspy 3.4.1's entries carry usage and, when dspy knows the
model's price, cost, but no latency, so each call is timed here.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import dspy

from rlm_bench.solvers.endpoints import Endpoint

QUIET_LOGGERS = ("dspy", "LiteLLM", "litellm")
"""Set to ERROR: dspy warns once per sample that ran out of iterations, and litellm (when
dspy falls back to it) logs at INFO; the run's progress bar is the terminal's."""


def quiet() -> None:
    """No log noise from dspy and what it calls, and no network fetch of a price table: dspy
    reads LiteLLM's switch and would otherwise try GitHub once per process (a warning offline).
    A user's own setting of the switch is kept."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@dataclass(frozen=True)
class LMCall:
    prompt: str
    """The last message's text: a sub-call's whole prompt (the root's is dspy's template)."""
    reply: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float
    cost_usd: float | None
    """As dspy reports it: None when it knows no price for the model."""


def call_record(entry: dict[str, Any], latency_s: float) -> LMCall:
    """An `LMCall` from one of dspy's history entries."""
    usage = entry.get("usage") or {}
    outputs = entry.get("outputs") or [""]
    first = outputs[0]
    reply = first.get("text") if isinstance(first, dict) else first
    prompt = entry.get("prompt")
    if not isinstance(prompt, str):
        messages = entry.get("messages") or [{}]
        prompt = messages[-1].get("content") if isinstance(messages[-1], dict) else ""
    cost = entry.get("cost")
    return LMCall(
        prompt=prompt if isinstance(prompt, str) else "",
        reply=reply if isinstance(reply, str) else "",
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        latency_s=latency_s,
        cost_usd=float(cost) if isinstance(cost, int | float) else None,
    )


class RecordingLM(dspy.LM):
    """A `dspy.LM` that records each call it answers in `calls` (and each that failed in
    `failures`) instead of dspy's history. Thread-safe: `llm_query_batched` calls it from a
    pool."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[LMCall] = []
        self.failures: list[str] = []
        self._started = threading.local()

    @classmethod
    def at(cls, endpoint: Endpoint, *, max_tokens: int, timeout_s: float) -> RecordingLM:
        """Greedy chat calls to `endpoint` (dspy routes `openai/<model>` to an OpenAI-compatible
        server at `api_base`), never from or into dspy's cache."""
        return cls(
            "openai/" + endpoint.model,
            api_base=endpoint.base_url,
            api_key=endpoint.api_key,
            temperature=0.0,
            max_tokens=max_tokens,
            cache=False,
            timeout=timeout_s,
        )

    def __call__(self, prompt: Any = None, *, messages: Any = None, **kwargs: Any) -> Any:
        self._started.at = time.perf_counter()
        try:
            return super().__call__(prompt, messages=messages, **kwargs)
        except Exception as exc:
            self.failures.append(type(exc).__name__)
            raise

    def update_history(self, entry: dict[str, Any]) -> None:
        """Called by dspy once per answered call, in the calling thread, after the reply."""
        started = getattr(self._started, "at", None)
        latency = time.perf_counter() - started if started is not None else 0.0
        self.calls.append(call_record(entry, latency))
