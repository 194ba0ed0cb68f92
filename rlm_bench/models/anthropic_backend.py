"""`anthropic:<model>`: Claude through the official `anthropic` SDK (the `anthropic` extra).

The harness prompts are completion-style (text, question, "Answer: <cue>"). The Messages API
has no plain-completion endpoint, and an assistant prefill with the cue cannot be cut out of an
arbitrary prompt generically, so the prompt goes as the user turn and a one-line system prompt
asks for the continuation of its last line only.

Decoding is the API's, not greedy: the SDK (2.x) sends API version 2026-10-21, which answers
any sampling parameter (`temperature`, `top_p`, `top_k`, whatever its value) with a 400, and
the SDK no longer takes them. Repeated calls can differ; `describe()` says so.

What a model accepts varies by model and changes, so `check()` asks the Models API: the
context window (`max_input_tokens`) and whether thinking can be turned off. Thinking tokens count
against `max_tokens`, so a model that thinks by default would spend a 16-token answer budget
before it answers: thinking is turned off where the model allows it, and where it does not,
`thinking_headroom` tokens are added to the budget.

The SDK's own retries are off (`max_retries=0`): `retrying.call_with_retries` owns the timing
for every backend, and this module only says which errors are worth another attempt.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import time
from collections.abc import Sequence
from functools import cache, cached_property
from typing import Any

from rlm_bench.errors import UserError
from rlm_bench.models.base import (
    Completion,
    Message,
    PromptForm,
    check_messages,
    merged_turns,
)
from rlm_bench.models.local_generation import cut_at_stop
from rlm_bench.models.options import check_options
from rlm_bench.models.retrying import (
    NO_RETRY,
    RetryDecision,
    RetryPolicy,
    call_with_retries,
    timeout_classify,
)
from rlm_bench.models.tiktoken_tokenizer import TiktokenTokenizer
from rlm_bench.tokens import Tokenizer

INSTALL_HINT = (
    "the anthropic backend needs the anthropic package: pip install 'rlm_bench[anthropic]'"
)
API_KEY_ENV = "ANTHROPIC_API_KEY"

SYSTEM = (
    "The user's text ends partway through a final line that starts with 'Answer:'. Reply with "
    "only the words that complete that line, in the format of any solved examples in the text, "
    "and nothing else."
)

CONTEXT_WINDOWS = (
    # Until `check()` reads the model's `max_input_tokens` from the Models API. 200K is what
    # every Claude model takes by default; the larger models take 1M on the API, but published
    # figures disagree on which and when, and a window set too small only makes `direct`
    # truncate early, where one set too large sends prompts the API refuses. The option
    # `context_window` overrides both the table and the API.
    ("claude-", 200_000),
)
DEFAULT_CONTEXT_WINDOW = 200_000
DEFAULT_THINKING_HEADROOM = 2048

RETRY_STATUSES = frozenset({408, 409, 429})
"""With every status >= 500 (529 is "overloaded"): the statuses the SDK itself retries."""


def sdk():
    try:
        import anthropic
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    return anthropic


def context_window_for(model: str) -> int:
    return next(
        (n for prefix, n in CONTEXT_WINDOWS if model.startswith(prefix)), DEFAULT_CONTEXT_WINDOW
    )


def build_request(
    model: str,
    prompt: str,
    max_tokens: int,
    stop: tuple[str, ...],
    *,
    thinking: dict | None = None,
    extra_tokens: int = 0,
) -> dict:
    """The Messages request for a completion-style prompt: one user turn under `SYSTEM`."""
    turns = [{"role": "user", "content": prompt}]
    return _request(model, SYSTEM, turns, max_tokens, stop, thinking, extra_tokens)


def build_chat_request(
    model: str,
    messages: Sequence[Message],
    max_tokens: int,
    stop: tuple[str, ...],
    *,
    thinking: dict | None = None,
    extra_tokens: int = 0,
) -> dict:
    """The Messages request for a conversation: a leading system message becomes `system`, the
    rest `messages`. The API wants user and assistant turns to alternate, starting with user,
    where other backends take any order: consecutive messages of one role are merged into one
    turn, their contents joined by a blank line. A conversation whose first turn is the
    assistant's is a ValueError (there is no user text to merge it into). A last assistant
    turn is the start of the reply, which the model continues."""
    checked = check_messages(messages)
    system = checked[0]["content"] if checked[0]["role"] == "system" else None
    turns = _alternating(checked[1:] if system is not None else checked)
    return _request(model, system, turns, max_tokens, stop, thinking, extra_tokens)


def _alternating(messages: list[Message]) -> list[Message]:
    """User and assistant messages as alternating turns, starting with the user's."""
    turns = merged_turns(messages)
    if not turns or turns[0]["role"] != "user":
        raise ValueError("anthropic: a conversation needs a user message before any other turn")
    return turns


def _request(
    model: str,
    system: str | None,
    turns: list[dict],
    max_tokens: int,
    stop: tuple[str, ...],
    thinking: dict | None,
    extra_tokens: int,
) -> dict:
    """The API rejects stop sequences that are only whitespace, and the harness's usual stop is
    "\\n": those are left out of the request and the reply is cut at them afterwards instead, so
    the model may write past them (up to `max_tokens`, which are billed). No sampling
    parameters: the API version the SDK speaks refuses them (see the module docstring)."""
    request: dict[str, Any] = {"model": model, "max_tokens": max_tokens + extra_tokens}
    if system is not None:
        request["system"] = system
    request["messages"] = turns
    sendable = [s for s in dict.fromkeys(stop) if s.strip()]
    if sendable:
        request["stop_sequences"] = sendable
    if thinking is not None:
        request["thinking"] = thinking
    return request


def reply_text(message, stop: tuple[str, ...]) -> str:
    """The text blocks of the reply, cut at the first stop string. Leading whitespace goes first:
    a chat model starts its reply on a fresh line where a base model would continue the line,
    and a leading "\\n" would otherwise cut the whole answer away. Thinking blocks are left out.
    """
    text = "".join(b.text for b in message.content if getattr(b, "type", None) == "text")
    return cut_at_stop(text.lstrip(), stop)


def prompt_tokens(usage) -> int:
    """`input_tokens` leaves out tokens read from or written to the prompt cache; this backend
    sets no cache breakpoints, but a proxy or a future default might."""
    return (
        usage.input_tokens
        + (getattr(usage, "cache_creation_input_tokens", None) or 0)
        + (getattr(usage, "cache_read_input_tokens", None) or 0)
    )


def classify(exc: BaseException) -> RetryDecision:
    """Rate limits (429), overload (529), server errors (>= 500), request timeouts and lost
    connections are worth another attempt, after the server's `retry-after` when it gives one;
    a bad request, key or model (400, 401, 403, 404) fails the same way every time."""
    anthropic = sdk()
    if isinstance(exc, anthropic.APIStatusError):
        headers = exc.response.headers
        said = headers.get("x-should-retry")  # the API's own verdict, which the SDK obeys too
        retry = exc.status_code in RETRY_STATUSES or exc.status_code >= 500
        if said in ("true", "false"):
            retry = said == "true"
        return RetryDecision(True, retry_after_s(headers)) if retry else NO_RETRY
    if isinstance(exc, anthropic.APIConnectionError):  # APITimeoutError is one
        return RetryDecision(True)
    return timeout_classify(exc)


def retry_after_s(headers) -> float | None:
    """`retry-after-ms` (Anthropic's, more precise), else `retry-after` in seconds or as a date."""
    for name, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        try:
            return float(headers.get(name)) * scale
        except (TypeError, ValueError):
            pass
    value = headers.get("retry-after")
    try:
        when = email.utils.parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None
    return None if when is None else max(0.0, when.timestamp() - time.time())


class AnthropicModel:
    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        context_window: int | None = None,
        tokenizer: str = "auto",
        api_key_env: str = API_KEY_ENV,
        thinking_headroom: int = DEFAULT_THINKING_HEADROOM,
        policy: RetryPolicy | None = None,
        http_client=None,
        sleep=asyncio.sleep,
    ) -> None:
        """`http_client` (an `httpx2.AsyncClient`, which this SDK uses instead of `httpx`) and
        `sleep` are for tests: a transport-level test double and a clock that does not wait."""
        self.name = model
        self.base_url = base_url
        self._context_window_option = context_window
        self.context_window = context_window or context_window_for(model)
        self.policy = policy or RetryPolicy()
        self.thinking: dict | None = None
        """`{"type": "disabled"}` once `check()` has seen the model accept it; None sends none
        (the model's default)."""
        self.extra_tokens = 0
        """Added to every `max_tokens` for a model whose thinking cannot be turned off."""
        self._thinking_headroom = thinking_headroom
        self._tokenizer_choice = tokenizer
        self._api_key_env = api_key_env
        self._http_client = http_client
        self._sleep = sleep
        self._client = None
        self._client_loop = None

    has_chat_template = True
    """The Messages API takes conversations and formats them itself."""

    @cached_property
    def tokenizer(self) -> Tokenizer:
        return approximate_tokenizer(self._tokenizer_choice)

    def _api_key(self) -> str:
        key = os.environ.get(self._api_key_env, "").strip()
        if not key:
            raise UserError(f"the anthropic backend needs an API key: set {self._api_key_env}")
        return key

    def _new_client(self):
        return sdk().AsyncAnthropic(
            api_key=self._api_key(),
            base_url=self.base_url,
            max_retries=0,
            timeout=self.policy.timeout_s,
            http_client=self._http_client,
        )

    def _client_for_this_loop(self):
        """A client's connection pool belongs to the event loop it first ran in; `check()` and
        the run may each have their own loop (two `asyncio.run`s), so a new loop gets a new
        client."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client, self._client_loop = self._new_client(), loop
        return self._client

    async def complete(
        self, prompt: str, *, max_tokens: int = 16, stop: tuple[str, ...] = ()
    ) -> Completion:
        request = build_request(
            self.name,
            prompt,
            max_tokens,
            stop,
            thinking=self.thinking,
            extra_tokens=self.extra_tokens,
        )
        return await self._send(request, stop, "completion")

    async def chat(
        self, messages: Sequence[Message], *, max_tokens: int = 16, stop: tuple[str, ...] = ()
    ) -> Completion:
        """See `build_chat_request` for how a conversation is reshaped into turns the API takes."""
        request = build_chat_request(
            self.name,
            messages,
            max_tokens,
            stop,
            thinking=self.thinking,
            extra_tokens=self.extra_tokens,
        )
        return await self._send(request, stop, "chat")

    async def _send(self, request: dict, stop: tuple[str, ...], form: PromptForm) -> Completion:
        client = self._client_for_this_loop()

        async def attempt():
            start = time.perf_counter()
            message = await client.messages.create(**request)
            return message, time.perf_counter() - start

        (message, latency_s), failures = await call_with_retries(
            attempt, self.policy, classify, sleep=self._sleep
        )
        return Completion(
            text=reply_text(message, stop),
            prompt_tokens=prompt_tokens(message.usage),
            completion_tokens=message.usage.output_tokens,
            latency_s=latency_s,
            retries=failures,
            form=form,
        )

    async def check(self) -> None:
        """Looking the model up costs nothing and proves the key, the network and the model
        name at once, and says what the model accepts. A rate limit or server error here says
        nothing against the setup: the run's retries deal with those."""
        anthropic = sdk()
        client = self._new_client()
        where = self.base_url or os.environ.get("ANTHROPIC_BASE_URL") or "api.anthropic.com"
        try:
            info = await client.models.retrieve(self.name)
        except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as exc:
            raise UserError(
                f"anthropic: the key in {self._api_key_env} was refused ({exc.status_code})"
            ) from None
        except anthropic.NotFoundError:
            raise UserError(f"anthropic: no model named {self.name!r} at {where}") from None
        except anthropic.APIConnectionError as exc:
            raise UserError(f"anthropic: cannot reach {where}: {exc}".splitlines()[0]) from None
        except anthropic.APIStatusError:
            return
        finally:
            if self._http_client is None:
                await client.close()
        self.adapt_to(info)

    def adapt_to(self, info) -> None:
        """Take the window and the thinking switch from the Models API's description."""
        if getattr(info, "lifecycle", None) == "retired":
            raise UserError(f"anthropic: model {self.name!r} is retired")
        if not self._context_window_option and getattr(info, "max_input_tokens", None):
            self.context_window = int(info.max_input_tokens)
        can_disable = _supported(info, "capabilities", "thinking", "types", "disabled")
        if can_disable is True:
            self.thinking, self.extra_tokens = {"type": "disabled"}, 0
        elif can_disable is False:
            self.thinking, self.extra_tokens = None, self._thinking_headroom

    def describe(self) -> dict[str, object]:
        return {
            "backend": "anthropic",
            "name": self.name,
            "base_url": self.base_url,
            "context_window": self.context_window,
            "tokenizer": self.tokenizer.name,
            "tokenizer_exact": False,
            "sampling": "api default (the API takes no temperature)",
            "thinking": (self.thinking or {}).get("type", "model default"),
            "thinking_headroom": self.extra_tokens,
            "system": SYSTEM,
            "chat_template": self.has_chat_template,
        }


def _supported(info, *path: str) -> bool | None:
    """`info.a.b.c.supported`, or None when the API did not say (an older API, a proxy)."""
    node = info
    for name in path:
        node = getattr(node, name, None)
        if node is None:
            return None
    supported = getattr(node, "supported", None)
    return supported if isinstance(supported, bool) else None


def approximate_tokenizer(choice: str) -> Tokenizer:
    """Anthropic publishes no tokenizer for its current models (only a counting endpoint, one
    request per count, far too slow to fit haystacks with), so task lengths are measured with a
    stand-in: tiktoken's o200k_base when its file is available (it is downloaded once, then
    cached), else the embedded model's tokenizer. Both are approximations of Claude's counts;
    the `prompt_tokens` of each call come from the API and are exact. `describe()` names the
    stand-in, because it decides how long a sample's context is."""
    if choice in ("auto", "o200k_base"):
        try:
            import tiktoken

            return TiktokenTokenizer(tiktoken.get_encoding("o200k_base"), "tiktoken:o200k_base")
        except (ImportError, OSError, ValueError) as exc:
            if choice == "o200k_base":
                raise UserError(
                    f"anthropic: cannot load tiktoken's o200k_base: {exc}".splitlines()[0]
                ) from None
    return _embedded_tokenizer()


@cache
def _embedded_tokenizer() -> Tokenizer:
    """Loaded once per process (seconds): every Anthropic model shares the one stand-in."""
    from rlm_bench.models.embedded import EmbeddedModel

    return EmbeddedModel().tokenizer


def anthropic_from_spec(arg: str, options: dict[str, Any]) -> AnthropicModel:
    """`anthropic:<model>` with the suite's model options: base_url, context_window, tokenizer
    (auto, o200k_base, embedded), api_key_env (the name of the variable holding the key: keys
    themselves never go in a suite, which run.json records), timeout (seconds per attempt),
    max_attempts, thinking_headroom (answer tokens added for a model that always thinks)."""
    sdk()
    if not arg:
        raise UserError("the anthropic backend needs a model name: anthropic:<model>")
    known = {
        "base_url": str,
        "context_window": int,
        "tokenizer": str,
        "api_key_env": str,
        "timeout": (int, float),
        "max_attempts": int,
        "thinking_headroom": int,
    }
    check_options("anthropic", options, known)
    if options.get("tokenizer", "auto") not in ("auto", "o200k_base", "embedded"):
        raise UserError("anthropic model option tokenizer must be auto, o200k_base or embedded")
    try:
        policy = RetryPolicy(
            max_attempts=options.get("max_attempts", RetryPolicy.max_attempts),
            timeout_s=float(options.get("timeout", RetryPolicy.timeout_s)),
        )
    except ValueError as exc:
        raise UserError(f"anthropic model options: {exc}") from None
    if options.get("context_window", 1) < 1 or options.get("thinking_headroom", 0) < 0:
        raise UserError(
            "anthropic model options: context_window must be positive, "
            "thinking_headroom not negative"
        )
    return AnthropicModel(
        arg,
        base_url=options.get("base_url"),
        context_window=options.get("context_window"),
        tokenizer=options.get("tokenizer", "auto"),
        api_key_env=options.get("api_key_env", API_KEY_ENV),
        thinking_headroom=options.get("thinking_headroom", DEFAULT_THINKING_HEADROOM),
        policy=policy,
    )
