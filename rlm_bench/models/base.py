"""The model seam: one async interface for every backend, reporting tokens, latency and cost."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypedDict

from rlm_bench.tokens import Tokenizer

Role = Literal["system", "user", "assistant"]
PromptForm = Literal["completion", "chat"]
"""How a call reached the model: one text to continue (`complete`) or a conversation (`chat`)."""


class Message(TypedDict):
    role: Role
    content: str


ROLES: tuple[Role, ...] = ("system", "user", "assistant")


def check_messages(messages: Sequence[Message]) -> list[Message]:
    """The messages as plain dicts, or ValueError naming the first bad one: every backend takes
    the same conversations, so a solver's mistake fails the same way on all of them."""
    if not messages:
        raise ValueError("a chat call needs at least one message")
    checked: list[Message] = []
    for i, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if role not in ROLES or not isinstance(content, str):
            raise ValueError(
                f"message {i} must be {{role: system|user|assistant, content: str}}: {message!r}"
            )
        if role == "system" and i > 0:
            raise ValueError(f"message {i}: a system message may only come first")
        checked.append({"role": role, "content": content})
    return checked


def merged_turns(messages: Sequence[Message]) -> list[Message]:
    """Consecutive messages of one role as one turn, their contents joined by a blank line:
    chat templates and APIs (Anthropic's) expect user and assistant turns to alternate."""
    merged: list[Message] = []
    for message in messages:
        if merged and merged[-1]["role"] == message["role"]:
            joined = merged[-1]["content"] + "\n\n" + message["content"]
            merged[-1] = {"role": message["role"], "content": joined}
        else:
            merged.append({"role": message["role"], "content": message["content"]})
    return merged


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
    form: PromptForm = "completion"


class Model(Protocol):
    name: str
    context_window: int
    tokenizer: Tokenizer
    has_chat_template: bool
    """Whether `chat` applies the model's own conversation format (a checkpoint's chat
    template, a chat endpoint, the Messages API). Solvers ask it to choose between a
    conversation and a completion-style prompt; a base model without one says False."""

    async def complete(
        self, prompt: str, *, max_tokens: int = 16, stop: tuple[str, ...] = ()
    ) -> Completion:
        """Greedy completion of a plain (non-chat) prompt, cut before any `stop` string."""

    async def chat(
        self, messages: Sequence[Message], *, max_tokens: int = 16, stop: tuple[str, ...] = ()
    ) -> Completion:
        """Greedy reply to a conversation (system first, if any; then user and assistant
        turns), cut before any `stop` string; the Completion says `form="chat"`."""

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

    @property
    def has_chat_template(self) -> bool:
        return self.inner.has_chat_template

    async def check(self) -> None:
        await self.inner.check()

    def describe(self) -> dict[str, object]:
        return self.inner.describe()

    def __getattr__(self, attr: str) -> Any:
        # `inner` itself is guarded so that copying or unpickling cannot recurse.
        if attr == "inner":
            raise AttributeError(attr)
        return getattr(self.inner, attr)
