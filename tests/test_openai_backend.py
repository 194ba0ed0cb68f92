"""The OpenAI-compatible backend through the real `openai` SDK.

Fast tests talk to `ScriptedServer`, a stdlib HTTP server in a thread that plays back scripted
answers (429s, 5xx, hangs), to test retries, timeouts and `check()` over real HTTP. The slow tests
start a real `transformers serve` (through `python -m rlm_bench serve`) on the embedded
checkpoint and compare it with the embedded backend.
"""

from __future__ import annotations

import asyncio
import json
import time
from email.utils import formatdate
from pathlib import Path

import httpx2
import openai
import pytest

from rlm_bench.errors import UserError
from rlm_bench.models import serving
from rlm_bench.models.capping import CappedModel
from rlm_bench.models.checkpoint import default_gguf, ensure_tokenizer
from rlm_bench.models.openai_backend import (
    MESSAGE_OVERHEAD_TOKENS,
    OpenAIModel,
    TiktokenTokenizer,
    openai_from_spec,
    retry_after_s,
)
from rlm_bench.models.retrying import AttemptTimeout, RetryPolicy
from rlm_bench.models.served_process import free_port, served_embedded_model
from rlm_bench.solvers.prompts import ANSWER_STOP, build_prompt
from rlm_bench.tasks import get_task
from tests.scripted_server import ScriptedServer, chat_body, completion_body

FAST = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, timeout_s=5.0)


def local_model(server: ScriptedServer, **kwargs) -> OpenAIModel:
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("context_window", 4096)
    return OpenAIModel("m", base_url=server.base_url, **kwargs)


# --- retries and timeouts through the real SDK ----------------------------------------------


def test_rate_limit_and_server_error_are_retried():
    with ScriptedServer((429, {"Retry-After": "0"}), (503, {})) as server:
        completion = asyncio.run(local_model(server).complete("The capital of France is"))
    assert completion.text == " Paris." and completion.retries == 2
    assert (completion.prompt_tokens, completion.completion_tokens) == (5, 2)
    assert [path for path, _ in server.requests] == ["/v1/completions"] * 3


def test_a_hung_server_is_retried_then_fails_with_a_timeout():
    policy = RetryPolicy(max_attempts=3, base_delay_s=0.01, timeout_s=0.3)
    with ScriptedServer(*[("hang", 10.0)] * 3) as server:
        start = time.perf_counter()
        with pytest.raises(AttemptTimeout, match="no answer in 0.3 s") as info:
            asyncio.run(local_model(server, retry=policy).complete("Hello"))
        elapsed = time.perf_counter() - start
    assert len(server.requests) == 3 and "gave up after 3 attempt(s)" in info.value.__notes__
    assert elapsed < 3.0


@pytest.mark.parametrize(("status", "attempts"), [(400, 1), (401, 1), (404, 1), (408, 2), (502, 2)])
def test_only_transient_statuses_are_retried(status, attempts):
    policy = RetryPolicy(max_attempts=2, base_delay_s=0.01)
    with ScriptedServer((status, {}), (status, {})) as server:
        with pytest.raises(openai.APIStatusError) as info:
            asyncio.run(local_model(server, retry=policy).complete("Hello"))
    assert info.value.status_code == status and len(server.requests) == attempts


def test_the_request_is_greedy_and_the_stop_string_is_cut():
    with ScriptedServer(completion_body(" four, five")) as server:
        completion = asyncio.run(
            local_model(server).complete("one, two, three,", max_tokens=7, stop=("five", "\n"))
        )
    _, body = server.requests[0]
    assert body == {
        "model": "m",
        "prompt": "one, two, three,",
        "max_tokens": 7,
        "temperature": 0,
        "stop": ["five", "\n"],
    }
    assert completion.text == " four, "  # transformers serve keeps the stop string; OpenAI not


def test_the_chat_endpoint_sends_the_prompt_as_one_user_message():
    with ScriptedServer(chat_body("Paris.")) as server:
        completion = asyncio.run(local_model(server, endpoint="chat").complete("Capital?"))
    path, body = server.requests[0]
    assert path == "/v1/chat/completions"
    assert body["messages"] == [{"role": "user", "content": "Capital?"}]
    assert body["max_tokens"] == 16 and body["temperature"] == 0
    assert completion.text == "Paris." and completion.prompt_tokens == 9


def test_a_reasoning_model_gets_no_temperature_nor_stop_and_room_to_reason():
    with ScriptedServer(chat_body("four, five")) as server:
        model = local_model(server, endpoint="chat", reasoning=True, reasoning_headroom=100)
        completion = asyncio.run(model.complete("one, two, three,", max_tokens=7, stop=("five",)))
    _, body = server.requests[0]
    assert "temperature" not in body and "stop" not in body
    assert body["max_tokens"] == 107
    assert completion.text == "four, "  # cut at the stop string here, since the API took none
    assert model.describe()["sampling"].startswith("api default")


@pytest.mark.parametrize(
    ("name", "base_url", "reasoning"),
    [
        ("gpt-5", None, True),
        ("gpt-5-mini", None, True),
        ("o4-mini", None, True),
        ("gpt-4o", None, False),
        ("gpt-5", "http://127.0.0.1:9/v1", False),  # a local server's model of that name
    ],
)
def test_reasoning_models_are_known_by_name_on_openais_api(name, base_url, reasoning):
    model = OpenAIModel(name, base_url=base_url)
    assert model.reasoning is reasoning
    assert ("sampling" in model.describe()) is reasoning  # other models' cache keys unchanged


def test_tokens_are_counted_when_the_server_reports_no_usage():
    folder = ensure_tokenizer(default_gguf())
    with ScriptedServer(completion_body(" the city of Paris", usage=False)) as server:
        model = local_model(server, tokenizer=str(folder))
        completion = asyncio.run(model.complete("The capital of France is"))
    assert model.tokenizer.count(" the city of Paris") == 4  # Gemma's own count, no <bos>
    assert completion.prompt_tokens == model.tokenizer.count("The capital of France is") == 5
    assert completion.completion_tokens == 4


def test_the_runs_concurrency_caps_requests_in_flight_at_the_server():
    with ScriptedServer(*[("slow", 0.15)] * 6) as server:
        model = CappedModel(local_model(server), 2)

        async def six_calls():
            return await asyncio.gather(*(model.complete(f"q{i}") for i in range(6)))

        assert len(asyncio.run(six_calls())) == 6
    assert server.max_in_flight == 2


def test_one_model_serves_calls_from_successive_event_loops():
    with ScriptedServer() as server:
        model = local_model(server)
        first = asyncio.run(model.complete("a"))
        second = asyncio.run(model.complete("b"))
    assert first.text == second.text == " Paris."


# --- chat() ---------------------------------------------------------------------------------

CONVERSATION = [
    {"role": "system", "content": "Answer in one word."},
    {"role": "user", "content": "Capital of Italy?"},
    {"role": "assistant", "content": "Rome."},
    {"role": "user", "content": "Capital of France?"},
]


def test_chat_sends_the_conversation_as_it_is_and_cuts_the_stop_string():
    with ScriptedServer(chat_body("Paris.\nLyon is second.")) as server:
        model = local_model(server)  # a completions endpoint: chat still goes to /chat
        completion = asyncio.run(model.chat(CONVERSATION, max_tokens=5, stop=("\n", "###")))
    path, body = server.requests[0]
    assert path == "/v1/chat/completions"
    assert body == {
        "model": "m",
        "messages": CONVERSATION,
        "max_tokens": 5,
        "temperature": 0,
        "stop": ["\n", "###"],
    }
    assert completion.text == "Paris." and completion.form == "chat"
    assert (completion.prompt_tokens, completion.completion_tokens, completion.retries) == (9, 2, 0)


def test_a_rate_limited_chat_call_is_retried():
    with ScriptedServer((429, {"Retry-After": "0"}), chat_body("Paris.")) as server:
        completion = asyncio.run(local_model(server, endpoint="chat").chat(CONVERSATION))
    assert completion.text == "Paris." and completion.retries == 1 and completion.form == "chat"
    assert [path for path, _ in server.requests] == ["/v1/chat/completions"] * 2
    assert [body["messages"] for _, body in server.requests] == [CONVERSATION] * 2


@pytest.mark.parametrize(
    ("messages", "message"),
    [
        ([], "at least one message"),
        ([{"role": "user", "content": "a"}, {"role": "system", "content": "b"}], "only come first"),
        ([{"role": "tool", "content": "a"}], "message 0 must be"),
        ([{"role": "user", "content": None}], "message 0 must be"),
    ],
)
def test_malformed_messages_fail_before_any_request(messages, message):
    with ScriptedServer() as server:
        with pytest.raises(ValueError, match=message):
            asyncio.run(local_model(server).chat(messages))
    assert server.requests == []


def test_chat_tokens_are_estimated_when_the_server_reports_no_usage():
    folder = ensure_tokenizer(default_gguf())
    with ScriptedServer(chat_body("Paris", usage=False)) as server:
        model = local_model(server, tokenizer=str(folder), endpoint="chat")
        completion = asyncio.run(model.chat(CONVERSATION))
    contents = sum(model.tokenizer.count(m["content"]) for m in CONVERSATION)
    assert completion.prompt_tokens == contents + MESSAGE_OVERHEAD_TOKENS * len(CONVERSATION)
    assert completion.completion_tokens == model.tokenizer.count("Paris")


def test_only_a_chat_endpoint_has_a_chat_template():
    for endpoint, templated in (("chat", True), ("completions", False)):
        model = OpenAIModel("m", base_url="http://127.0.0.1:9/v1", endpoint=endpoint)
        assert model.has_chat_template is templated
        assert model.describe()["chat_template"] is templated


# --- check() --------------------------------------------------------------------------------


def test_check_against_a_closed_port_fails_fast():
    url = f"http://127.0.0.1:{free_port()}/v1"
    start = time.perf_counter()
    with pytest.raises(UserError, match=rf"^cannot reach {url}: .*refused") as info:
        asyncio.run(OpenAIModel("m", base_url=url).check())
    assert time.perf_counter() - start < 2.0 and "\n" not in str(info.value)


def test_the_check_is_retried_and_its_error_says_what_each_attempt_met(monkeypatch):
    from rlm_bench.models import openai_backend

    quick = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.02, timeout_s=0.5)
    monkeypatch.setattr(openai_backend, "PROBE_POLICY", quick)
    with ScriptedServer((429, {"Retry-After": "0"}), (500, {}), ("hang", 10.0)) as server:
        with pytest.raises(UserError) as info:
            asyncio.run(local_model(server).check())
    assert str(info.value) == (
        f"{server.base_url} failed the check after 3 attempts: 429, 500, no answer in 0.5 s"
    )
    assert len(server.requests) == 3


def test_a_check_that_succeeds_on_a_retry_passes(monkeypatch):
    from rlm_bench.models import openai_backend

    quick = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.02, timeout_s=0.5)
    monkeypatch.setattr(openai_backend, "PROBE_POLICY", quick)
    with ScriptedServer((429, {"Retry-After": "0"}), (500, {})) as server:
        asyncio.run(local_model(server).check())
    assert len(server.requests) == 3


def test_a_missing_key_for_a_hosted_api_fails_before_any_request(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    model = OpenAIModel("gpt-4o-mini")
    assert model.base_url == "https://api.openai.com/v1"
    with pytest.raises(
        UserError, match=r"^OPENAI_API_KEY is not set \(needed by openai:gpt-4o-mini\)$"
    ):
        asyncio.run(model.check())


def test_a_local_server_needs_no_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with ScriptedServer() as server:
        asyncio.run(local_model(server).check())
    ((path, body),) = server.requests  # one 1-token call on the endpoint the run will use
    assert path == "/v1/completions" and body["max_tokens"] == 1


def test_check_reports_a_rejected_key():
    with ScriptedServer(models_status=401) as server:
        with pytest.raises(UserError, match="^the server rejected the API key"):
            asyncio.run(local_model(server, api_key="sk-wrong").check())


def test_check_reports_a_model_the_server_does_not_have():
    with ScriptedServer((404, {}), models=("llama3:latest",)) as server:
        with pytest.raises(UserError) as info:
            asyncio.run(local_model(server).check())
    assert str(info.value) == "the server has no model m (it serves: llama3:latest)"


def test_check_reports_a_listed_model_the_endpoint_refuses():
    """OpenAI lists gpt-4o-mini, and answers 404 to it on the legacy completions endpoint."""
    with ScriptedServer((404, {}), models=("m",)) as server:
        with pytest.raises(UserError) as info:
            asyncio.run(local_model(server).check())
    assert str(info.value) == (
        f"{server.base_url} refused a 1-token completions request for m: 404 scripted 404 "
        "(does it take endpoint=chat?)"
    )


def test_check_accepts_an_alias_the_server_answers_to():
    """Ollama lists `llama3:latest` and answers to `llama3`: the 1-token call decides."""
    with ScriptedServer(models=("m:latest",)) as server:
        asyncio.run(local_model(server).check())
    assert [path for path, _ in server.requests] == ["/v1/completions"]


# --- tokenizer, context window, options, describe -------------------------------------------


def test_tiktoken_that_cannot_load_gives_a_one_line_fix(monkeypatch):
    import tiktoken

    def offline(name):
        raise OSError("Failed to resolve 'openaipublic.blob.core.windows.net'")

    monkeypatch.setattr(tiktoken, "get_encoding", offline)
    model = OpenAIModel("gpt-4o-mini", api_key="sk-test")
    assert model.describe()["tokenizer"] == "tiktoken:o200k_base"  # describing loads nothing
    with pytest.raises(UserError, match="tiktoken encoding o200k_base .* pass tokenizer=") as info:
        model.tokenizer  # noqa: B018
    assert "\n" not in str(info.value)


def test_tiktoken_tokenizer_counts_when_its_encoding_loads():
    try:
        tok = TiktokenTokenizer.load("gpt-4o")
    except UserError:
        pytest.skip("tiktoken's o200k_base is not cached on this machine (no network)")
    assert tok.count("hello world") == 2 and tok.decode(tok.encode("a <|endoftext|>")) == (
        "a <|endoftext|>"
    )


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("gpt-4o-2024-08-06", 128_000),
        ("gpt-4-0613", 8_192),
        ("gpt-4.1-mini", 1_047_576),
        ("meta-llama/Llama-3.1-8B", 8_192),
    ],
)
def test_context_window_from_the_table_or_the_default(model, window):
    assert OpenAIModel(model, api_key="k").context_window == window


def test_a_local_checkpoint_folder_gives_tokenizer_and_window():
    folder = ensure_tokenizer(default_gguf())
    model = OpenAIModel(str(folder), base_url="http://127.0.0.1:1/v1")
    assert model.tokenizer_name == f"hf:{folder}"
    if (folder / "config.json").is_file():
        assert model.context_window == 32768
    assert OpenAIModel("x", tokenizer=str(folder), context_window=2048).context_window == 2048


def test_describe_names_the_server_but_never_the_key():
    model = OpenAIModel(
        "gpt-4o-mini", api_key="sk-secret", base_url="https://user:pw@example.com/v1/"
    )
    info = model.describe()
    assert info["backend"] == "openai" and info["base_url"] == "https://example.com/v1"
    assert info["endpoint"] == "completions" and info["context_window"] == 128_000
    assert "sk-secret" not in json.dumps(info) and "pw" not in json.dumps(info)


@pytest.mark.parametrize(
    ("model", "base_url", "endpoint"),
    [
        ("gpt-4o-mini", None, "chat"),
        ("gpt-5", "https://api.openai.com/v1", "chat"),
        ("gpt-3.5-turbo-instruct", None, "completions"),
        ("davinci-002", None, "completions"),
        ("gpt-4o-mini", "http://127.0.0.1:9/v1", "completions"),
        ("meta-llama/Llama-3.1-8B", "http://gpu-box:8000/v1", "completions"),
    ],
)
def test_the_default_endpoint_is_chat_on_openai_and_completions_elsewhere(
    model, base_url, endpoint, monkeypatch
):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert OpenAIModel(model, base_url=base_url, api_key="sk-test").endpoint == endpoint
    forced = "completions" if endpoint == "chat" else "chat"
    assert OpenAIModel(model, base_url=base_url, endpoint=forced).endpoint == forced


def test_openai_from_spec_types_options():
    model = openai_from_spec(
        "gpt-4o-mini",
        {"base_url": "http://127.0.0.1:9/v1", "max_retries": 2, "timeout_s": "10",
         "endpoint": "chat", "context_window": "4096"},
    )  # fmt: skip
    assert (model.context_window, model.endpoint) == (4096, "chat")
    assert (model.retry.max_attempts, model.retry.timeout_s) == (3, 10.0)


@pytest.mark.parametrize(
    ("arg", "options", "message"),
    [
        ("", {}, "needs a model name"),
        ("m", {"api_key": "sk"}, "OPENAI_API_KEY, not in model options"),
        ("m", {"temperature": 1}, "does not take temperature"),
        ("m", {"context_window": "many"}, "context_window: 'many' is not a int"),
        ("m", {"concurrency": 4}, "does not take concurrency"),
        ("m", {"endpoint": "responses"}, "endpoint must be"),
        ("m", {"max_retries": -1}, "max_attempts must be at least 1"),
    ],
)
def test_openai_from_spec_refuses_bad_options(arg, options, message):
    with pytest.raises(UserError, match=message):
        openai_from_spec(arg, options)


def test_retry_after_forms():
    assert retry_after_s(httpx2.Headers({"retry-after": "2"})) == 2.0
    assert retry_after_s(httpx2.Headers({"retry-after-ms": "250"})) == 0.25
    in_a_minute = formatdate(time.time() + 60, usegmt=True)
    assert 55 < retry_after_s(httpx2.Headers({"retry-after": in_a_minute})) <= 60
    assert retry_after_s(httpx2.Headers({})) is None


# --- a real server: `python -m rlm_bench serve` (transformers serve) ---------------------------


@pytest.fixture(scope="module")
def served_folder() -> Path:
    return serving.served_folder()


@pytest.fixture(scope="module")
def server(served_folder, tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "stderr.log"
    with served_embedded_model(log=log) as base_url:
        # The first request pays a one-off warm-up (about 10 s here); keep it out of the tests.
        asyncio.run(OpenAIModel(str(served_folder), base_url=base_url).complete("Hi", max_tokens=1))
        yield base_url


def served(folder: Path, base_url: str, **kwargs) -> OpenAIModel:
    return OpenAIModel(str(folder), base_url=base_url, **kwargs)


@pytest.mark.slow
def test_real_server_check_passes(server, served_folder):
    model = served(served_folder, server)
    asyncio.run(model.check())
    assert model.context_window == 32768 and model.tokenizer_name == f"hf:{served_folder}"


@pytest.mark.slow
def test_real_server_completions_report_the_tokenizers_counts(server, served_folder):
    model = served(served_folder, server)
    prompts = ["The capital of France is", "Text:\nThe keeper counted 14 boats.\n\nAnswer:"]

    async def calls():
        return [await model.complete(p, max_tokens=8) for p in prompts]

    for prompt, completion in zip(prompts, asyncio.run(calls()), strict=True):
        assert completion.text.strip() and completion.retries == 0
        assert completion.prompt_tokens == model.tokenizer.count(prompt) + 1  # + <bos>
        assert completion.completion_tokens <= 8 and completion.latency_s > 0


@pytest.mark.slow
def test_real_server_chat_endpoint_answers(server, served_folder):
    model = served(served_folder, server, endpoint="chat")
    completion = asyncio.run(model.complete("What is the capital of France?", max_tokens=8))
    assert completion.text.strip() and 1 <= completion.completion_tokens <= 8
    # bos, <start_of_turn>, "user", "\n", the prompt, <end_of_turn>, "\n", ... "model", "\n"
    assert completion.prompt_tokens > model.tokenizer.count("What is the capital of France?") + 4


@pytest.mark.slow
def test_real_server_unknown_model_fails_the_check(server, served_folder):
    model = OpenAIModel("not-served", base_url=server, retry=FAST)
    with pytest.raises(UserError, match=r"^the server has no model not-served \(it serves: /"):
        asyncio.run(model.check())


@pytest.mark.slow
def test_real_server_greedy_text_equals_the_embedded_model(server, served_folder, embedded_model):
    """Same checkpoint, same dtype (bfloat16), same attention kernel, both greedy: texts and
    token counts agree exactly."""
    tok = embedded_model.tokenizer
    prompts = [("The capital of France is", 24, ())]
    for name in ("niah_single", "variable_tracking"):
        sample = get_task(name, tok).sample(256, 0, 0)
        query = sample.query
        prompts.append((build_prompt(query, sample.context), query.max_tokens, ANSWER_STOP))
    model = served(served_folder, server)

    async def both(prompt, max_tokens, stop):
        args = {"max_tokens": max_tokens, "stop": stop}
        return await model.complete(prompt, **args), await embedded_model.complete(prompt, **args)

    for prompt, max_tokens, stop in prompts:
        remote, local = asyncio.run(both(prompt, max_tokens, stop))
        assert remote.text == local.text
        assert remote.prompt_tokens == local.prompt_tokens
        assert remote.completion_tokens == local.completion_tokens
