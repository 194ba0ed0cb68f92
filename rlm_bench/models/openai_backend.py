"""`openai:<model>`: OpenAI, or any OpenAI-compatible server (vLLM, SGLang, Ollama, llama.cpp,
`transformers serve`) given its `base_url`, through the official `openai` SDK.

The SDK's own retries are off: `retrying.call_with_retries` retries every HTTP backend the same
way, so a run's retry counts and timeouts mean the same thing whichever backend made them.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from rlm_bench.errors import UserError, exception_line, first_line
from rlm_bench.models.base import Completion, Message, PromptForm, check_messages
from rlm_bench.models.local_generation import cut_at_stop
from rlm_bench.models.retrying import (
    NO_RETRY,
    AttemptLog,
    AttemptTimeout,
    RetryDecision,
    RetryPolicy,
    call_with_retries,
)
from rlm_bench.models.tiktoken_tokenizer import TiktokenTokenizer, tiktoken_encoding_name
from rlm_bench.tokens import Tokenizer

DEFAULT_BASE_URL = "https://api.openai.com/v1"
PLACEHOLDER_KEY = "EMPTY"
"""Sent to servers that need no key: the SDK refuses to build a client without one."""
CHECK_TIMEOUT_S = 5.0
REASONING_MODEL = re.compile(r"(o\d|gpt-5)(\b|-)")
"""OpenAI model names that reason before they answer."""
DEFAULT_REASONING_HEADROOM = 8192
"""Tokens added to a reasoning model's completion budget for its hidden reasoning: a 12-token
answer cap would otherwise be spent before any answer is written."""
PROBE_POLICY = RetryPolicy(max_attempts=3, base_delay_s=0.5, max_delay_s=5.0, timeout_s=60.0)
"""The check's 1-token call, retried like any call: a server loading its model on the first
request can take most of a minute."""
LIST_POLICY = RetryPolicy(
    max_attempts=3, base_delay_s=0.5, max_delay_s=5.0, timeout_s=CHECK_TIMEOUT_S
)
"""The check's 1-token call: a cold `transformers serve` takes about 10 s to answer its first."""
MAX_STOP_SEQUENCES = 4
"""OpenAI rejects more; the text is cut at every stop string on our side anyway."""
DEFAULT_CONTEXT_WINDOW = 8192
MESSAGE_OVERHEAD_TOKENS = 4
"""Tokens a chat format adds around each message (OpenAI's add 3, Gemma's turns 5). Counted
only when a server reports no usage, so a chat call's prompt tokens are then an estimate."""
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")

CONTEXT_WINDOWS = {
    "gpt-5": 400_000,
    "gpt-4.1": 1_047_576,
    "gpt-4o": 128_000,
    "chatgpt-4o": 128_000,
    "gpt-4-turbo": 128_000,
    "gpt-4-1106": 128_000,
    "gpt-4-0125": 128_000,
    "gpt-4-32k": 32_768,
    "gpt-4": 8_192,
    "gpt-3.5-turbo-instruct": 4_096,
    "gpt-3.5-turbo": 16_385,
    "o1": 200_000,
    "o3": 200_000,
    "o4-mini": 200_000,
    "davinci-002": 16_384,
    "babbage-002": 16_384,
}
"""Tokens of input plus output, by model-name prefix (the longest matching prefix wins, so a
dated snapshot like `gpt-4o-2024-08-06` inherits its family's window)."""

Endpoint = Literal["completions", "chat"]
LEGACY_COMPLETION_MODELS = ("gpt-3.5-turbo-instruct", "davinci-002", "babbage-002")
"""The only models OpenAI's own API still serves on `/completions`."""


def default_endpoint(model: str, on_openai: bool) -> Endpoint:
    """OpenAI's chat models answer only on `/chat/completions`; a self-hosted server is most
    often asked to continue a prompt for a base model, the way RULER prompts one, and a base
    model may have no chat template at all. `endpoint=` overrides either choice."""
    if on_openai and not model.startswith(LEGACY_COMPLETION_MODELS):
        return "chat"
    return "completions"


@dataclass(frozen=True)
class _Reply:
    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_s: float


class OpenAIModel:
    """One model on one server; calls share one client per event loop. How many calls are in
    flight at once is capped outside, for every backend alike (`capping.py`)."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        endpoint: Endpoint | None = None,
        context_window: int | None = None,
        tokenizer: str | None = None,
        retry: RetryPolicy | None = None,
        reasoning: bool | None = None,
        reasoning_headroom: int = DEFAULT_REASONING_HEADROOM,
    ) -> None:
        if endpoint not in (None, "completions", "chat"):
            raise UserError(f"endpoint must be 'completions' or 'chat' (got {endpoint!r})")
        self.model = self.name = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip(
            "/"
        )
        self._api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
        self.endpoint: Endpoint = endpoint or default_endpoint(model, self.needs_key)
        self.retry = retry or RetryPolicy()
        self._tokenizer_folder = _tokenizer_folder(tokenizer, model)
        self._given_context_window = context_window
        self._loop: asyncio.AbstractEventLoop | None = None
        if reasoning_headroom < 0:
            raise UserError(f"reasoning_headroom must be 0 or more (got {reasoning_headroom})")
        if reasoning is None:
            reasoning = self.needs_key and bool(REASONING_MODEL.match(model))
        self.reasoning = reasoning
        """OpenAI's reasoning models (GPT-5, o-series) take no temperature and no stop, and spend
        hidden reasoning tokens out of the completion budget. Known by name on OpenAI's API;
        `reasoning: true` says so of a model served elsewhere."""
        self.extra_tokens = reasoning_headroom if self.reasoning else 0

    # --- what the harness reads -------------------------------------------------------------

    @cached_property
    def tokenizer(self) -> Tokenizer:
        if self._tokenizer_folder is not None:
            from rlm_bench.models.hf_tokenizer import HFTokenizer

            return HFTokenizer(self._tokenizer_folder, self.model)
        return TiktokenTokenizer.load(self.model)

    @cached_property
    def context_window(self) -> int:
        if self._given_context_window:
            return int(self._given_context_window)
        known = _known_context_window(self.model)
        if known:
            return known
        for folder in (_local_folder(self.model), self._tokenizer_folder):
            window = folder and _config_context_window(folder)
            if window:
                return window
        return DEFAULT_CONTEXT_WINDOW

    @property
    def tokenizer_name(self) -> str:
        if self._tokenizer_folder is not None:
            return f"hf:{self._tokenizer_folder}"
        return f"tiktoken:{tiktoken_encoding_name(self.model)}"

    @property
    def has_chat_template(self) -> bool:
        """A chat endpoint formats the conversation on the server (OpenAI's chat models, a
        checkpoint's template); a completions endpoint is taken to serve a base model, which
        solvers then prompt with plain text."""
        return self.endpoint == "chat"

    @property
    def needs_key(self) -> bool:
        """Only OpenAI's own API insists on a key; local and self-hosted servers mostly ignore it
        (one that does not will answer 401, which `check` reports)."""
        return (urlsplit(self.base_url).hostname or "").endswith("api.openai.com")

    def describe(self) -> dict[str, object]:
        described: dict[str, object] = {
            "backend": "openai",
            "name": self.name,
            "model": self.model,
            "base_url": _without_userinfo(self.base_url),
            "endpoint": self.endpoint,
            "chat_template": self.has_chat_template,
            "context_window": self.context_window,
            "tokenizer": self.tokenizer_name,
            "retry": asdict(self.retry),
        }
        if self.reasoning:  # described only then, so other models' cache keys stay as they were
            described["sampling"] = "api default (reasoning models take no temperature)"
            described["reasoning_headroom"] = self.extra_tokens
        return described

    # --- calls ------------------------------------------------------------------------------

    async def complete(
        self, prompt: str, *, max_tokens: int = 16, stop: tuple[str, ...] = ()
    ) -> Completion:
        client = await self._bound()
        reply, retries = await call_with_retries(
            lambda: self._request(client, prompt, max_tokens, stop),
            self.retry,
            classify_openai_error,
        )
        return self._completion(reply, stop, retries, lambda: self.tokenizer.count(prompt))

    async def chat(
        self, messages: Sequence[Message], *, max_tokens: int = 16, stop: tuple[str, ...] = ()
    ) -> Completion:
        """The conversation goes to `/chat/completions` whatever `endpoint` says: it has nowhere
        else to go. A completions-only server refuses it with its own error; `has_chat_template`
        is False there, so solvers do not ask."""
        checked = check_messages(messages)
        client = await self._bound()
        reply, retries = await call_with_retries(
            lambda: self._chat_request(client, checked, max_tokens, stop),
            self.retry,
            classify_openai_error,
        )
        return self._completion(
            reply, stop, retries, lambda: self._estimated_chat_tokens(checked), form="chat"
        )

    async def check(self) -> None:
        """A models list (one cheap GET, short timeout) says whether the server is up and takes
        the key; then a 1-token call on the configured endpoint says whether this model answers
        there. The list alone passes a chat-only model sent to `/completions` (OpenAI answers
        404) and a base model without a chat template sent to `/chat` (`transformers serve`
        answers 500), and then every call of the run would fail."""
        client = self._new_client(timeout=CHECK_TIMEOUT_S + 1.0)
        try:
            served = await self._served_models(client)
            probe = client.with_options(timeout=PROBE_POLICY.timeout_s + 1.0)
            log = AttemptLog(classify_openai_error, _attempt_outcome)
            try:
                await call_with_retries(
                    lambda: self._request(probe, "Hello", 1, ()), PROBE_POLICY, log.classify
                )
            except Exception as exc:
                raise self._check_failure(exc, served, log.outcomes) from None
        finally:
            await client.close()

    async def _bound(self):
        """The client of the running event loop. A CLI that checks the model in one
        `asyncio.run` and runs the suite in another would otherwise reuse connections bound to
        a closed loop. The client is closed when its loop shuts down, while
        that loop still runs: left to the garbage collector, the SDK closes it from whatever
        loop runs then, which fails with "Event loop is closed"."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._client = self._new_client(timeout=self.retry.timeout_s + 1.0)
            self._loop = loop
            self._closer = _close_at_loop_shutdown(self._client)
            await anext(self._closer)
        return self._client

    def _new_client(self, timeout: float):
        """The SDK timeout is a backstop a little past ours: `call_with_retries` times attempts
        out itself, so a timeout reads the same for every backend."""
        from openai import AsyncOpenAI

        if self._api_key is None and self.needs_key:
            raise UserError(f"OPENAI_API_KEY is not set (needed by openai:{self.model})")
        return AsyncOpenAI(
            base_url=self.base_url,
            api_key=self._api_key or PLACEHOLDER_KEY,
            max_retries=0,
            timeout=timeout,
        )

    async def _request(self, client, prompt: str, max_tokens: int, stop: tuple[str, ...]):
        if self.endpoint == "chat":
            messages: list[Message] = [{"role": "user", "content": prompt}]
            return await self._chat_request(client, messages, max_tokens, stop)
        start = time.perf_counter()
        response = await client.completions.create(
            prompt=prompt, max_tokens=max_tokens + self.extra_tokens, **self._sampling(stop)
        )
        text = response.choices[0].text if response.choices else None
        return self._reply(response, text, time.perf_counter() - start)

    async def _chat_request(
        self, client, messages: list[Message], max_tokens: int, stop: tuple[str, ...]
    ):
        params = {**self._sampling(stop), self._chat_limit_key: max_tokens + self.extra_tokens}
        start = time.perf_counter()
        response = await client.chat.completions.create(messages=messages, **params)
        text = response.choices[0].message.content if response.choices else None
        return self._reply(response, text, time.perf_counter() - start)

    def _sampling(self, stop: tuple[str, ...]) -> dict[str, Any]:
        """Greedy, with the stop strings; a reasoning model refuses both, so it samples as the
        API does and its reply is cut at the stop strings here (`_completion`)."""
        if self.reasoning:
            return {"model": self.model}
        params: dict[str, Any] = {"model": self.model, "temperature": 0}
        if stop:
            params["stop"] = list(stop[:MAX_STOP_SEQUENCES])
        return params

    def _reply(self, response, text: str | None, latency: float) -> _Reply:
        if text is None:
            url = _without_userinfo(self.base_url)
            raise ValueError(f"{url} returned no text for model {self.model}")
        usage = response.usage
        return _Reply(
            text=text,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            latency_s=latency,
        )

    @property
    def _chat_limit_key(self) -> str:
        """OpenAI's newer chat models refuse `max_tokens`; local servers may not know its
        successor, so only OpenAI's own API gets `max_completion_tokens`."""
        return "max_completion_tokens" if self.needs_key else "max_tokens"

    def _completion(
        self,
        reply: _Reply,
        stop: tuple[str, ...],
        retries: int,
        count_prompt: Callable[[], int],
        form: PromptForm = "completion",
    ) -> Completion:
        """Servers that honour `stop` still differ on whether the stop string is part of the
        text (`transformers serve` keeps it, OpenAI drops it): cut it here for all of them.
        `count_prompt` runs only for a server that reports no usage: a long prompt is not
        tokenized again for nothing."""
        prompt_tokens = reply.prompt_tokens
        if prompt_tokens is None:
            prompt_tokens = count_prompt()
        completion_tokens = reply.completion_tokens
        if completion_tokens is None:
            completion_tokens = self.tokenizer.count(reply.text)
        return Completion(
            text=cut_at_stop(reply.text, stop),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency_s=reply.latency_s,
            retries=retries,
            form=form,
        )

    def _estimated_chat_tokens(self, messages: list[Message]) -> int:
        contents = self.tokenizer.count_many([m["content"] for m in messages])
        return sum(contents) + MESSAGE_OVERHEAD_TOKENS * len(messages)

    # --- check ------------------------------------------------------------------------------

    async def _served_models(self, client) -> list[str]:
        """The ids the server lists; empty when it has no models list (then the probe decides)."""
        import openai

        log = AttemptLog(classify_openai_error, _attempt_outcome)
        try:
            page, _ = await call_with_retries(client.models.list, LIST_POLICY, log.classify)
        except openai.APIStatusError as exc:
            if exc.status_code in (401, 403):
                raise self._check_failure(exc, [], log.outcomes) from None
            return []
        except Exception as exc:
            raise self._check_failure(exc, [], log.outcomes) from None
        return [m.id for m in page.data]

    def _check_failure(self, exc: BaseException, served: list[str], tried: list[str]) -> UserError:
        """One line for a failed check. After several attempts it lists what each met, and says
        "cannot reach" only when none of them got an answer from the server."""
        import openai

        where = _without_userinfo(self.base_url)
        if isinstance(exc, openai.APIConnectionError | TimeoutError):
            if len(tried) < 2:
                return UserError(f"cannot reach {where}: {_reason(exc)}")
            each = tried[0] if len(set(tried)) == 1 else None
            attempts = f"{len(tried)} attempts" + (
                f", each {each}" if each else f": {', '.join(tried)}"
            )
            if any(outcome.isdigit() for outcome in tried):  # an HTTP status: it was reached
                return UserError(f"{where} failed the check after {attempts}")
            return UserError(f"cannot reach {where}: {attempts}")
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            hint = "" if self._api_key else " (no key was sent: set OPENAI_API_KEY)"
            return UserError(f"the server rejected the API key{hint}")
        if isinstance(exc, openai.APIStatusError):
            if self._refused_as_unknown(exc.status_code, served):
                listing = f" (it serves: {', '.join(served[:5])})" if served else ""
                return UserError(f"the server has no model {self.model}{listing}")
            other = "chat" if self.endpoint == "completions" else "completions"
            return UserError(
                f"{where} refused a 1-token {self.endpoint} request "
                f"for {self.model}: {exc.status_code} {first_line(_server_message(exc))} "
                f"(does it take endpoint={other}?)"
            )
        return UserError(f"openai:{self.model} failed its check: {first_line(str(exc))}")

    def _refused_as_unknown(self, status: int, served: list[str]) -> bool:
        """A 404 from a server without a list, or any 4xx for a model its list lacks (vLLM says
        404, `transformers serve` 400): a listed model refused is an endpoint problem instead."""
        if served:
            return self.model not in served and 400 <= status < 500
        return status == 404


async def _close_at_loop_shutdown(client):
    """An async generator left suspended here is closed by `asyncio.run` (`shutdown_asyncgens`)
    just before the loop closes, which is the last moment the client's connections can close."""
    try:
        yield
    finally:
        await client.close()


# --- error classification --------------------------------------------------------------------


def classify_openai_error(exc: BaseException) -> RetryDecision:
    """Retry what a second attempt can fix: rate limits, server errors, timeouts and dropped
    connections. A bad request, key or model name fails the same way every time."""
    import openai

    if isinstance(exc, openai.APIConnectionError | TimeoutError):  # APITimeoutError included
        return RetryDecision(retry=True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status in (408, 429) or status >= 500:
            return RetryDecision(retry=True, after_s=retry_after_s(exc.response.headers))
    return NO_RETRY


def retry_after_s(headers) -> float | None:
    """`retry-after-ms`, `Retry-After` in seconds, or `Retry-After` as an HTTP date."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return float(millis) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


# --- tokenizers and context windows ----------------------------------------------------------


def _known_context_window(model: str) -> int | None:
    name = model.removeprefix("openai/")
    matches = [prefix for prefix in CONTEXT_WINDOWS if name.startswith(prefix)]
    return CONTEXT_WINDOWS[max(matches, key=len)] if matches else None


def _local_folder(model: str) -> Path | None:
    """`transformers serve` (and vLLM given a path) name the model by its checkpoint folder."""
    if not model.startswith(("/", "./", "../", "~")):
        return None
    path = Path(model).expanduser()
    return path if path.is_dir() else None


def _tokenizer_folder(tokenizer: str | None, model: str) -> Path | None:
    if tokenizer:
        folder = Path(tokenizer).expanduser()
        if not any((folder / name).is_file() for name in TOKENIZER_FILES):
            raise UserError(f"tokenizer: no tokenizer files in {folder}")
        return folder
    folder = _local_folder(model)
    if folder and any((folder / name).is_file() for name in TOKENIZER_FILES):
        return folder
    return None


def _config_context_window(folder: Path) -> int | None:
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return None
    window = config.get("max_position_embeddings") or config.get("text_config", {}).get(
        "max_position_embeddings"
    )
    return int(window) if window else None


# --- messages --------------------------------------------------------------------------------


def _attempt_outcome(exc: BaseException) -> str:
    """What one failed attempt met, in the fewest words: its HTTP status, or why no answer."""
    import openai

    if isinstance(exc, openai.APIStatusError):
        return str(exc.status_code)
    return _reason(exc)


def _reason(exc: BaseException) -> str:
    """The SDK says only "Connection error."; the cause at the bottom of the chain says why
    (refused, name not resolved, timed out)."""
    import openai

    if isinstance(exc, AttemptTimeout):
        return str(exc)  # "no answer in 60 s"
    if isinstance(exc, TimeoutError | openai.APITimeoutError):
        return "no answer within the timeout"
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)  # "Connection refused", not asyncio's "Connect call failed"
    return exception_line(exc)


def _server_message(exc) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        detail = body.get("message") or body.get("detail") or body.get("error")
        if isinstance(detail, dict):
            detail = detail.get("message")
        if detail:
            return str(detail)
    return str(exc)


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


# --- spec ------------------------------------------------------------------------------------

MODEL_OPTIONS: dict[str, type] = {
    "base_url": str,
    "endpoint": str,
    "context_window": int,
    "tokenizer": str,
    "reasoning": bool,
    "reasoning_headroom": int,
}
RETRY_OPTIONS: dict[str, type] = {
    "timeout_s": float,
    "max_retries": int,
    "base_delay_s": float,
    "max_delay_s": float,
}


def openai_from_spec(arg: str, options: dict[str, Any]) -> OpenAIModel:
    """`openai:<model>` with model options from a suite file or CLI flags. Keys stay in the
    environment: an `api_key` option would be written into run.json with the suite."""
    if not arg:
        raise UserError("openai: needs a model name, e.g. openai:gpt-4o-mini")
    if "api_key" in options:
        raise UserError("set the API key in OPENAI_API_KEY, not in model options")
    unknown = sorted(set(options) - set(MODEL_OPTIONS) - set(RETRY_OPTIONS))
    if unknown:
        allowed = ", ".join([*MODEL_OPTIONS, *RETRY_OPTIONS])
        raise UserError(
            f"the openai backend does not take {', '.join(unknown)} (it takes {allowed})"
        )
    typed = {k: _typed(k, v, {**MODEL_OPTIONS, **RETRY_OPTIONS}[k]) for k, v in options.items()}
    model_kwargs = {k: v for k, v in typed.items() if k in MODEL_OPTIONS}
    return OpenAIModel(arg, retry=_retry_policy(typed), **model_kwargs)


def _retry_policy(typed: dict[str, Any]) -> RetryPolicy:
    names = {f.name for f in fields(RetryPolicy)}
    kwargs = {k: v for k, v in typed.items() if k in names}
    if "max_retries" in typed:
        kwargs["max_attempts"] = typed["max_retries"] + 1
    try:
        return RetryPolicy(**kwargs)
    except ValueError as exc:
        raise UserError(f"openai model options: {exc}") from None


def _typed(key: str, value: Any, kind: type) -> Any:
    if kind is bool:  # bool("false") is True: take only a real boolean or its spelling
        spelled = {"true": True, "false": False}.get(str(value).lower())
        if isinstance(value, bool) or spelled is not None:
            return value if isinstance(value, bool) else spelled
        raise UserError(f"model option {key}: {value!r} is not true or false")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise UserError(f"model option {key}: {value!r} is not a {kind.__name__}") from None
