"""The Anthropic backend without a network: the SDK runs for real over a transport-level test
double (an `httpx2.MockTransport` answering with recorded-shape API replies), so request
building, usage mapping and the SDK's own error types are what production sees. One live call
runs when ANTHROPIC_API_KEY is set."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest

anthropic = pytest.importorskip("anthropic")
httpx2 = pytest.importorskip("httpx2")

from rlm_bench.errors import UserError  # noqa: E402
from rlm_bench.models.anthropic_backend import (  # noqa: E402
    INSTALL_HINT,
    SYSTEM,
    AnthropicModel,
    TiktokenTokenizer,
    anthropic_from_spec,
    approximate_tokenizer,
    build_chat_request,
    build_request,
    classify,
)
from rlm_bench.models.retrying import AttemptTimeout, RetryPolicy  # noqa: E402

PROMPT = (
    "Text:\nThe special magic number for gale mentioned in the text is 4821.\n\n"
    "Question: What is the special magic number for gale mentioned in the text?\n"
    "Answer: The special magic number for gale mentioned in the text is"
)


def message(
    text: str, input_tokens: int = 41, output_tokens: int = 6, thought: str = "", **usage
) -> dict:
    """A Messages API reply as the API sends it (with a thinking block first, if `thought`)."""
    thinking = [{"type": "thinking", "thinking": thought, "signature": "EqQBCgIYAh"}]
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": [*(thinking if thought else []), {"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens, **usage},
    }


ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "conflict_error",
    429: "rate_limit_error",
    500: "api_error",
    503: "api_error",
    529: "overloaded_error",
}


def error(status: int, **headers) -> tuple[int, dict, dict]:
    body = {"type": "error", "error": {"type": ERROR_TYPES[status], "message": "test double"}}
    return status, body, {k.replace("_", "-"): v for k, v in headers.items()}


def ok(text: str, **kw) -> tuple[int, dict, dict]:
    return 200, message(text, **kw), {}


class AnthropicTransportDouble:
    """A transport-level test double: answers the SDK's HTTP requests from a script of
    (status, json body, headers) tuples, exceptions (raised as a lost connection would be) or
    coroutines (a hung server), and records every request it was sent."""

    def __init__(self, *script) -> None:
        self.script = list(script)
        self.requests: list = []

    async def handle(self, request):
        self.requests.append(request)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        if asyncio.iscoroutine(step):
            step = await step
        status, body, headers = step
        return httpx2.Response(status, json=body, headers=headers)

    def body(self, i: int = -1) -> dict:
        return json.loads(self.requests[i].content)


class Clock:
    """`sleep` for the retry loop that records how long it was asked to wait, and does not."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def model_over(double: AnthropicTransportDouble, **kw) -> tuple[AnthropicModel, Clock]:
    clock = Clock()
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(double.handle))
    kw.setdefault("policy", RetryPolicy(timeout_s=5.0))
    kw.setdefault("api_key_env", DOUBLE_KEY_ENV)
    kw.setdefault("tokenizer", "embedded")  # "auto" would try to download o200k_base
    return AnthropicModel("claude-haiku-4-5", http_client=client, sleep=clock.sleep, **kw), clock


DOUBLE_KEY_ENV = "RLM_BENCH_TEST_DOUBLE_ANTHROPIC_KEY"
"""The double's key lives in its own variable: a real ANTHROPIC_API_KEY stays for the live test."""


@pytest.fixture(autouse=True)
def fake_key(monkeypatch):
    monkeypatch.setenv(DOUBLE_KEY_ENV, "sk-ant-test-double")


def test_prompt_goes_as_the_user_turn_with_the_continuation_system_line():
    double = AnthropicTransportDouble(ok("4821.", input_tokens=57, output_tokens=4))
    model, _ = model_over(double, base_url="http://claude-proxy.test:8080")
    out = asyncio.run(model.complete(PROMPT, max_tokens=8, stop=("\n",)))

    sent = double.requests[0]
    assert sent.method == "POST" and str(sent.url) == "http://claude-proxy.test:8080/v1/messages"
    assert "sk-ant-test-double" in (
        sent.headers.get("authorization", "") + sent.headers.get("x-api-key", "")
    )
    assert sent.headers["anthropic-version"]
    assert double.body() == {
        "model": "claude-haiku-4-5",
        "max_tokens": 8,
        "system": SYSTEM,
        "messages": [{"role": "user", "content": PROMPT}],
    }  # "\n" is whitespace: not sent, cut afterwards; no temperature: the API refuses one
    assert (out.text, out.prompt_tokens, out.completion_tokens) == ("4821.", 57, 4)
    assert out.retries == 0 and out.cost_usd == 0.0 and not out.cached and out.latency_s >= 0


def test_whitespace_stops_are_cut_locally_and_visible_ones_sent():
    request = build_request("claude-x", "p", 16, ("\n", "###", " ", "\n\n", "###"))
    assert request["stop_sequences"] == ["###"]
    assert "stop_sequences" not in build_request("claude-x", "p", 16, ("\n",))
    assert "stop_sequences" not in build_request("claude-x", "p", 16, ())

    double = AnthropicTransportDouble(ok("\n\n 4821.\nThe text says so.", output_tokens=9))
    model, _ = model_over(double)
    out = asyncio.run(model.complete(PROMPT, max_tokens=16, stop=("\n", "###")))
    assert double.body()["stop_sequences"] == ["###"]
    # the reply starts on a fresh line, as chat replies do: that is not a stop
    assert out.text == "4821." and out.completion_tokens == 9  # billed tokens, not kept ones


def test_prompt_tokens_include_prompt_cache_reads_and_writes():
    usage = {"cache_read_input_tokens": 1000, "cache_creation_input_tokens": 200}
    double = AnthropicTransportDouble(ok(" 7", input_tokens=12, output_tokens=2, **usage))
    model, _ = model_over(double)
    out = asyncio.run(model.complete(PROMPT))
    assert (out.prompt_tokens, out.completion_tokens) == (1212, 2)


async def _sdk_error(*script) -> BaseException:
    """The exception the SDK raises for a scripted failure, with retries off."""
    model, _ = model_over(
        AnthropicTransportDouble(*script), policy=RetryPolicy(max_attempts=1, timeout_s=5.0)
    )
    with pytest.raises(Exception) as caught:
        await model.complete(PROMPT)
    return caught.value


@pytest.mark.parametrize(
    ("step", "sdk_type", "retry", "after_s"),
    [
        (error(400), "BadRequestError", False, None),
        (error(401), "AuthenticationError", False, None),
        (error(403), "PermissionDeniedError", False, None),
        (error(404), "NotFoundError", False, None),
        (error(408), "RequestTimeoutError", True, None),
        (error(409), "ConflictError", True, None),
        (error(429), "RateLimitError", True, None),
        (error(429, retry_after="7"), "RateLimitError", True, 7.0),
        (error(429, retry_after_ms="1500", retry_after="2"), "RateLimitError", True, 1.5),
        (error(500), "InternalServerError", True, None),
        (error(503, retry_after="0"), "ServiceUnavailableError", True, 0.0),
        (error(529), "OverloadedError", True, None),
        (error(529, x_should_retry="false"), "OverloadedError", False, None),
        (error(400, x_should_retry="true"), "BadRequestError", True, None),
        (httpx2.ConnectError("connection refused"), "APIConnectionError", True, None),
        (httpx2.ReadTimeout("read timed out"), "APITimeoutError", True, None),
    ],
)
def test_which_errors_are_retried(step, sdk_type, retry, after_s):
    exc = asyncio.run(_sdk_error(step))
    assert type(exc).__name__ == sdk_type
    decision = classify(exc)
    assert (decision.retry, decision.after_s) == (retry, after_s)


def test_retry_after_as_an_http_date():
    exc = asyncio.run(_sdk_error(error(429, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")))
    assert classify(exc).after_s == 0.0  # a date in the past: go now
    assert classify(AttemptTimeout("no answer in 1 s")).retry
    assert not classify(ValueError("a bug, not the network")).retry


def test_transient_failures_are_retried_with_the_servers_delay():
    double = AnthropicTransportDouble(
        error(429, retry_after="3"), error(529), ok(" 4821.", input_tokens=41, output_tokens=3)
    )
    model, clock = model_over(double)
    out = asyncio.run(model.complete(PROMPT, stop=("\n",)))
    assert out.text == "4821." and out.retries == 2
    assert len(double.requests) == 3  # the SDK's own retries are off: each attempt is ours
    assert clock.waits[0] == 3.0 and 0.0 <= clock.waits[1] <= RetryPolicy().base_delay_s * 2


def test_a_bad_request_fails_at_once():
    double = AnthropicTransportDouble(error(400), ok("never sent"))
    model, clock = model_over(double)
    with pytest.raises(anthropic.BadRequestError):
        asyncio.run(model.complete(PROMPT))
    assert len(double.requests) == 1 and clock.waits == []


def test_a_hung_call_is_abandoned_and_retried():
    async def hang():
        await asyncio.sleep(30)

    double = AnthropicTransportDouble(hang(), ok(" 4821."))
    model, _ = model_over(double, policy=RetryPolicy(timeout_s=0.2))
    out = asyncio.run(model.complete(PROMPT))
    assert out.text == "4821." and out.retries == 1


# --- chat() ---------------------------------------------------------------------------------


def test_chat_sends_the_system_prompt_apart_and_merges_turns_of_one_role():
    conversation = [
        {"role": "system", "content": "Answer with the number only."},
        {"role": "user", "content": "Text: the number is 4821."},
        {"role": "user", "content": "What is the number?"},
        {"role": "assistant", "content": "Let me look."},
        {"role": "assistant", "content": "It is in the text."},
        {"role": "user", "content": "The number?"},
    ]
    double = AnthropicTransportDouble(ok("\n4821.\nDone.", input_tokens=60, output_tokens=5))
    model, _ = model_over(double)
    out = asyncio.run(model.chat(conversation, max_tokens=8, stop=("\n", "###")))
    assert double.body() == {
        "model": "claude-haiku-4-5",
        "max_tokens": 8,
        "system": "Answer with the number only.",
        "messages": [
            {"role": "user", "content": "Text: the number is 4821.\n\nWhat is the number?"},
            {"role": "assistant", "content": "Let me look.\n\nIt is in the text."},
            {"role": "user", "content": "The number?"},
        ],
        "stop_sequences": ["###"],
    }
    assert (out.text, out.prompt_tokens, out.completion_tokens) == ("4821.", 60, 5)
    assert out.form == "chat" and out.retries == 0


def test_a_chat_without_a_system_message_sends_no_system_prompt():
    request = build_chat_request("claude-x", [{"role": "user", "content": "Hi"}], 4, ())
    assert request == {
        "model": "claude-x",
        "max_tokens": 4,
        "messages": [{"role": "user", "content": "Hi"}],
    }  # not the completion instruction, SYSTEM: a chat caller says what it wants itself


def test_a_rate_limited_chat_call_is_retried():
    double = AnthropicTransportDouble(error(429, retry_after="2"), ok(" 4821."))
    model, clock = model_over(double)
    out = asyncio.run(model.chat([{"role": "user", "content": PROMPT}]))
    assert out.text == "4821." and out.retries == 1 and out.form == "chat"
    assert clock.waits == [2.0] and double.body(0) == double.body(1)


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([], "at least one message"),
        ([{"role": "system", "content": "s"}], "a user message before"),
        ([{"role": "assistant", "content": "a"}, {"role": "user", "content": "u"}], "before any"),
        ([{"role": "user", "content": "u"}, {"role": "system", "content": "s"}], "only come first"),
        ([{"role": "human", "content": "u"}], "message 0 must be"),
    ],
)
def test_conversations_the_api_cannot_take_fail_before_any_request(messages, message):
    double = AnthropicTransportDouble()
    model, _ = model_over(double)
    with pytest.raises(ValueError, match=message):
        asyncio.run(model.chat(messages))
    assert double.requests == []


def test_the_messages_api_is_a_chat_template():
    model, _ = model_over(AnthropicTransportDouble())
    assert model.has_chat_template is True and model.describe()["chat_template"] is True


def test_missing_key_is_one_line_naming_the_variable(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    model = anthropic_from_spec("claude-haiku-4-5", {})
    for call in (model.check(), model.complete(PROMPT)):
        with pytest.raises(UserError, match="ANTHROPIC_API_KEY") as caught:
            asyncio.run(call)
        assert "\n" not in str(caught.value)
    monkeypatch.setenv("MY_CLAUDE_KEY", "")
    with pytest.raises(UserError, match="MY_CLAUDE_KEY"):
        asyncio.run(anthropic_from_spec("claude-x", {"api_key_env": "MY_CLAUDE_KEY"}).check())


def model_info(disabled: bool = True, lifecycle: str = "active", window: int = 1_000_000):
    """A Models API description (the capability tree cut to the part this backend reads)."""
    flags = {"adaptive": True, "disabled": disabled, "enabled": False, "between_tools": False}
    return {
        "type": "model",
        "id": "claude-haiku-4-5-20251001",
        "display_name": "Claude Haiku 4.5",
        "created_at": "2025-10-15T00:00:00Z",
        "lifecycle": lifecycle,
        "max_input_tokens": window,
        "max_tokens": 64_000,
        "capabilities": {
            "thinking": {
                "supported": True,
                "types": {k: {"supported": v} for k, v in flags.items()},
            }
        },
    }


MODEL_INFO = model_info()


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ((200, MODEL_INFO, {}), None),
        (error(529), None),  # busy is not broken: the run's retries handle it
        (error(401), f"key in {DOUBLE_KEY_ENV} was refused"),
        (error(404), "no model named 'claude-haiku-4-5'"),
        (httpx2.ConnectError("name or service not known"), "cannot reach"),
    ],
)
def test_check_fails_fast_on_key_model_and_network(step, message):
    double = AnthropicTransportDouble(step)
    model, _ = model_over(double)
    if message is None:
        asyncio.run(model.check())
    else:
        with pytest.raises(UserError, match=message) as caught:
            asyncio.run(model.check())
        assert "\n" not in str(caught.value)
    assert double.requests[0].method == "GET"
    assert double.requests[0].url.path == "/v1/models/claude-haiku-4-5"


def test_check_reads_the_window_and_turns_thinking_off_where_it_can():
    double = AnthropicTransportDouble((200, model_info(window=1_000_000), {}), ok("4821."))
    model, _ = model_over(double)
    assert model.context_window == 200_000  # the table, until the API says
    asyncio.run(model.check())
    assert model.context_window == 1_000_000
    asyncio.run(model.complete(PROMPT, max_tokens=8, stop=("\n",)))
    assert double.body()["thinking"] == {"type": "disabled"} and double.body()["max_tokens"] == 8
    info = model.describe()
    assert info["thinking"] == "disabled" and info["context_window"] == 1_000_000

    pinned, _ = model_over(AnthropicTransportDouble((200, model_info(), {})), context_window=50_000)
    asyncio.run(pinned.check())
    assert pinned.context_window == 50_000  # the option wins over the API


def test_a_model_that_always_thinks_gets_headroom_and_its_thoughts_are_dropped():
    reply = ok(" 4821.", output_tokens=230, thought="The text states the number directly.")
    double = AnthropicTransportDouble((200, model_info(disabled=False), {}), reply)
    model, _ = model_over(double, thinking_headroom=1024)
    asyncio.run(model.check())
    out = asyncio.run(model.complete(PROMPT, max_tokens=8, stop=("\n",)))
    assert "thinking" not in double.body() and double.body()["max_tokens"] == 8 + 1024
    assert out.text == "4821." and out.completion_tokens == 230
    assert model.describe()["thinking_headroom"] == 1024


def test_a_retired_model_fails_the_check():
    model, _ = model_over(AnthropicTransportDouble((200, model_info(lifecycle="retired"), {})))
    with pytest.raises(UserError, match="retired"):
        asyncio.run(model.check())


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "anthropic", None)  # what `import anthropic` does when absent
    with pytest.raises(UserError) as caught:
        anthropic_from_spec("claude-haiku-4-5", {})
    assert (
        str(caught.value) == INSTALL_HINT and "pip install 'rlm_bench[anthropic]'" in INSTALL_HINT
    )


@pytest.mark.parametrize(
    ("arg", "options", "message"),
    [
        ("", {}, "needs a model name"),
        ("claude-x", {"temperature": 0.0}, "no model option 'temperature'"),
        ("claude-x", {"thinking_headroom": -1}, "thinking_headroom"),
        ("claude-x", {"tokenizer": "cl100k"}, "tokenizer must be"),
        ("claude-x", {"max_attempts": 0}, "max_attempts"),
        ("claude-x", {"timeout": "soon"}, "timeout"),
        ("claude-x", {"context_window": 0}, "context_window"),
    ],
)
def test_bad_spec_or_options_are_user_errors(arg, options, message):
    with pytest.raises(UserError, match=message):
        anthropic_from_spec(arg, options)


def test_context_window_and_description():
    model = anthropic_from_spec("claude-sonnet-4-5", {"tokenizer": "embedded"})
    assert model.context_window == 200_000
    assert anthropic_from_spec("proxy-model", {"context_window": 32_000}).context_window == 32_000
    info = model.describe()
    assert info["backend"] == "anthropic" and info["name"] == "claude-sonnet-4-5"
    assert info["tokenizer"] == "gemma-3-270m-q4_k_m" and info["tokenizer_exact"] is False
    assert not any("sk-ant" in str(v) for v in info.values())


def test_tokenizer_is_o200k_when_loadable_else_the_embedded_one(monkeypatch):
    import tiktoken

    byte_level = tiktoken.Encoding(  # a stand-in encoding: o200k's file needs a download
        name="o200k_base",
        pat_str=r"\S+|\s+",
        mergeable_ranks={bytes([i]): i for i in range(256)},
        special_tokens={"<|endoftext|>": 256},
    )
    monkeypatch.setattr(tiktoken, "get_encoding", lambda name: byte_level)
    tok = approximate_tokenizer("auto")
    assert isinstance(tok, TiktokenTokenizer) and tok.name == "tiktoken:o200k_base"
    assert tok.count("héllo <|endoftext|>") == len("héllo <|endoftext|>".encode())
    assert tok.count_many(["ab", "", "cde"]) == [2, 0, 3] and tok.count_many([]) == []
    assert tok.decode(tok.encode("round trip")) == "round trip"

    def offline(name):
        raise OSError("Name or service not known")

    monkeypatch.setattr(tiktoken, "get_encoding", offline)
    assert approximate_tokenizer("auto").name == "gemma-3-270m-q4_k_m"
    with pytest.raises(UserError, match="o200k_base"):
        approximate_tokenizer("o200k_base")


@pytest.mark.skipif(not os.environ.get("ANTHROPIC_API_KEY"), reason="needs ANTHROPIC_API_KEY")
def test_live_call():
    model = anthropic_from_spec(
        os.environ.get("ANTHROPIC_TEST_MODEL", "claude-haiku-4-5"), {"tokenizer": "embedded"}
    )

    async def run():
        await model.check()
        return await model.complete(PROMPT, max_tokens=16, stop=("\n",))

    out = asyncio.run(run())
    assert "4821" in out.text and "\n" not in out.text
    assert out.prompt_tokens > 40 and 0 < out.completion_tokens <= 16
