"""The response cache (real SQLite files) and the pricing of calls, around a scripted model."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest

from rlm_bench.errors import UserError
from rlm_bench.models.base import Completion
from rlm_bench.models.cache import (
    CachedModel,
    ResponseCache,
    cache_key,
    default_cache_path,
)
from rlm_bench.models.pricing import (
    FREE,
    PRICES,
    Price,
    PricedModel,
    cost_usd,
    parse_overrides,
    price_for,
)
from tests.doubles import ScriptedModel

PARTS = {"backend": "openai", "model": "gpt-4o-mini", "endpoint": "completions"}


QUESTION = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "What is the key?"},
]


def echo(prompt: str) -> str:
    return f" answer to {prompt[-12:]}"


def user(content: str) -> dict[str, str]:
    return {"role": "user", "content": content}


@pytest.fixture
def cache(tmp_path):
    with ResponseCache(tmp_path / "responses.sqlite") as c:
        yield c


def cached(tokenizer, cache, parts=PARTS, delay_s=0.01):
    inner = ScriptedModel(tokenizer, reply=echo, delay_s=delay_s)
    return inner, CachedModel(inner, cache, parts)


# --- the cache --------------------------------------------------------------------------------


def test_second_identical_call_is_a_hit_and_makes_no_call(tokenizer, cache):
    inner, model = cached(tokenizer, cache)
    first = asyncio.run(model.complete("What is the key?", max_tokens=8, stop=("\n",)))
    second = asyncio.run(model.complete("What is the key?", max_tokens=8, stop=("\n",)))
    assert len(inner.prompts) == 1
    assert not first.cached and second.cached
    assert second == replace(first, cached=True)  # stored latency kept: same model time
    assert second.latency_s == pytest.approx(0.01)
    assert (model.hits, model.misses, model.bypassed) == (1, 1, 0)


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "What is the other key?"},
        {"max_tokens": 9},
        {"stop": ("\n", ".")},
        {"parts": {**PARTS, "model": "gpt-4o"}},
        {"parts": {**PARTS, "backend": "anthropic"}},
        {"parts": {**PARTS, "endpoint": "chat"}},
        {"parts": {**PARTS, "base_url": "http://127.0.0.1:8000/v1"}},
    ],
)
def test_a_different_prompt_parameter_or_model_misses(tokenizer, cache, change):
    call = {"prompt": "What is the key?", "max_tokens": 8, "stop": ("\n",)}
    inner, model = cached(tokenizer, cache)
    asyncio.run(model.complete(call["prompt"], max_tokens=call["max_tokens"], stop=call["stop"]))
    call = {**call, **change}
    inner2, model2 = cached(tokenizer, cache, call.pop("parts", PARTS))
    out = asyncio.run(
        model2.complete(call["prompt"], max_tokens=call["max_tokens"], stop=call["stop"])
    )
    assert not out.cached and len(inner2.prompts) == 1
    assert (model2.hits, model2.misses) == (0, 1)
    assert len(cache) == 2


def test_a_completions_key_is_the_one_it_had_before_chat(tokenizer, cache):
    """Entries a run stored before chat existed still hit."""
    _, model = cached(tokenizer, cache)
    before = {"key_version": 1, **PARTS, "temperature": 0.0, "max_tokens": 4, "stop": ["\n"]}
    spelled = json.dumps({**before, "prompt": "p"}, sort_keys=True, separators=(",", ":"))
    assert (
        model.key("p", max_tokens=4, stop=("\n",)) == hashlib.sha256(spelled.encode()).hexdigest()
    )


def test_a_second_identical_chat_is_a_hit_and_says_chat(tokenizer, cache):
    inner, model = cached(tokenizer, cache)
    first = asyncio.run(model.chat(QUESTION, max_tokens=8, stop=("\n",)))
    second = asyncio.run(model.chat([dict(m) for m in QUESTION], max_tokens=8, stop=("\n",)))
    assert inner.conversations == [QUESTION]
    assert first.form == second.form == "chat"
    assert not first.cached and second.cached
    assert second == replace(first, cached=True)
    assert (model.hits, model.misses, model.bypassed) == (1, 1, 0)


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "Answer briefly."}, QUESTION[1]],  # a role
        [QUESTION[0], user("What is the other key?")],  # a content
        [*QUESTION, {"role": "assistant", "content": " 7"}],  # a message more
        [QUESTION[0]],  # a message fewer
    ],
)
def test_a_different_conversation_misses(tokenizer, cache, messages):
    inner, model = cached(tokenizer, cache)
    asyncio.run(model.chat(QUESTION, max_tokens=8))
    out = asyncio.run(model.chat(messages, max_tokens=8))
    assert not out.cached and inner.conversations == [QUESTION, messages]
    assert (model.hits, model.misses) == (0, 2) and len(cache) == 2


def test_the_order_of_messages_is_part_of_the_key(tokenizer, cache):
    inner, model = cached(tokenizer, cache)
    asyncio.run(model.chat([user("First."), user("Second.")], max_tokens=4))
    out = asyncio.run(model.chat([user("Second."), user("First.")], max_tokens=4))
    assert not out.cached and len(inner.conversations) == 2 and len(cache) == 2


def test_a_chat_and_a_completion_of_the_same_text_never_share_an_entry(tokenizer, cache):
    inner, model = cached(tokenizer, cache)
    text = "What is the key?"
    made = [
        asyncio.run(model.complete(text, max_tokens=4)),
        asyncio.run(model.chat([user(text)], max_tokens=4)),
    ]
    again = [
        asyncio.run(model.complete(text, max_tokens=4)),
        asyncio.run(model.chat([user(text)], max_tokens=4)),
    ]
    assert len(inner.prompts) == len(inner.conversations) == 1 and len(cache) == 2
    assert [c.form for c in made] == [c.form for c in again] == ["completion", "chat"]
    assert not any(c.cached for c in made) and all(c.cached for c in again)
    assert (model.hits, model.misses) == (2, 2)


def test_concurrent_identical_chats_make_one_call(tokenizer, cache):
    inner, model = cached(tokenizer, cache, delay_s=0.02)

    async def twins():
        return await asyncio.gather(
            model.chat(QUESTION, max_tokens=4),
            model.chat(QUESTION, max_tokens=4),
            model.complete(QUESTION[1]["content"], max_tokens=4),
        )

    first, second, completion = asyncio.run(twins())
    assert inner.conversations == [QUESTION] and len(inner.prompts) == 1
    assert not first.cached and second.cached and second.form == "chat"
    assert second.text == first.text == completion.text
    assert (model.hits, model.misses) == (1, 2) and len(cache) == 2


def test_the_cache_persists_across_instances(tokenizer, tmp_path):
    path = tmp_path / "deep" / "responses.sqlite"  # parent folders are created
    with ResponseCache(path) as first:
        _, model = cached(tokenizer, first)
        made = asyncio.run(model.complete("Context.\nQuestion?", max_tokens=4))
    with ResponseCache(path) as second:
        inner, model = cached(tokenizer, second)
        again = asyncio.run(model.complete("Context.\nQuestion?", max_tokens=4))
    assert inner.prompts == [] and again == replace(made, cached=True)


def test_concurrent_identical_calls_make_one_call_each(tokenizer, cache):
    inner, model = cached(tokenizer, cache, delay_s=0.02)
    prompts = [f"Text {i % 5}.\nQuestion?" for i in range(20)]

    async def run_all():
        return await asyncio.gather(*(model.complete(p, max_tokens=4) for p in prompts))

    outs = asyncio.run(run_all())
    assert sorted(inner.prompts) == sorted(set(prompts))
    assert (model.hits, model.misses) == (15, 5) and len(cache) == 5
    assert [o.text for o in outs] == [echo(p) for p in prompts]
    assert sum(not o.cached for o in outs) == 5


def test_a_failed_call_is_not_stored_and_a_waiting_twin_tries_again(tokenizer, cache):
    attempts = []

    def flaky(prompt: str) -> str:
        attempts.append(prompt)
        if len(attempts) == 1:
            raise TimeoutError("the server hung")
        return echo(prompt)

    inner = ScriptedModel(tokenizer, reply=flaky, delay_s=0.01)
    model = CachedModel(inner, cache, PARTS)

    async def twins():
        return await asyncio.gather(
            model.complete("Same?", max_tokens=4),
            model.complete("Same?", max_tokens=4),
            return_exceptions=True,
        )

    first, second = asyncio.run(twins())
    assert isinstance(first, TimeoutError)
    assert second.text == echo("Same?") and not second.cached
    assert len(attempts) == 2 and len(cache) == 1


def test_only_temperature_zero_is_cached(tokenizer, cache):
    inner, model = cached(tokenizer, cache, {**PARTS, "temperature": 0.7})
    for _ in range(2):
        assert not asyncio.run(model.complete("Sample me.", max_tokens=4)).cached
    assert len(inner.prompts) == 2 and model.bypassed == 2 and len(cache) == 0
    # 0 and 0.0 and "not given" are one key: the harness's temperature is 0
    keys = {
        CachedModel(inner, cache, {**PARTS, **t}).key("p", max_tokens=4, stop=())
        for t in ({}, {"temperature": 0}, {"temperature": 0.0})
    }
    assert len(keys) == 1
    for _ in range(2):
        assert not asyncio.run(model.chat(QUESTION, max_tokens=4)).cached
    assert len(inner.conversations) == 2 and model.bypassed == 4 and len(cache) == 0


def test_key_parts_must_name_backend_and_model(tokenizer, cache):
    inner = ScriptedModel(tokenizer)
    with pytest.raises(ValueError, match="model"):
        CachedModel(inner, cache, {"backend": "openai"})
    with pytest.raises(ValueError, match="prompt"):
        CachedModel(inner, cache, {**PARTS, "prompt": "x"})
    with pytest.raises(ValueError, match="messages"):
        CachedModel(inner, cache, {**PARTS, "messages": []})
    with pytest.raises(ValueError, match="form"):
        CachedModel(inner, cache, {**PARTS, "form": "chat"})
    with pytest.raises(ValueError, match="JSON"):
        CachedModel(inner, cache, {**PARTS, "path": object()})


def test_the_key_is_a_sha256_of_the_whole_request():
    key = cache_key(PARTS, "prompt", max_tokens=4, stop=("\n",))
    assert len(key) == 64 and key == cache_key(
        dict(reversed(PARTS.items())), "prompt", max_tokens=4, stop=("\n",)
    )


def test_the_stored_request_says_what_was_asked(tokenizer, cache):
    _, model = cached(tokenizer, cache)
    asyncio.run(model.complete("Secret context.", max_tokens=4, stop=("\n",)))
    with sqlite3.connect(cache.path) as db:
        (request,) = db.execute("SELECT request FROM responses").fetchone()
        (mode,) = db.execute("PRAGMA journal_mode").fetchone()
    assert '"model":"gpt-4o-mini"' in request and '"temperature":0.0' in request
    assert "Secret context" not in request and mode == "wal"


def test_a_stored_chat_request_says_chat_and_holds_no_message(tokenizer, cache):
    _, model = cached(tokenizer, cache)
    asyncio.run(model.chat([user("Secret context.")], max_tokens=4))
    with sqlite3.connect(cache.path) as db:
        (request,) = db.execute("SELECT request FROM responses").fetchone()
    assert '"form":"chat"' in request and "Secret context" not in request


def test_a_malformed_conversation_fails_before_any_call(tokenizer, cache):
    inner, model = cached(tokenizer, cache)
    with pytest.raises(ValueError, match="message 1"):
        asyncio.run(model.chat([user("Q?"), {"role": "system", "content": "late"}]))
    assert inner.conversations == [] and len(cache) == 0


def test_default_location_follows_rlm_bench_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("RLM_BENCH_CACHE", str(tmp_path / "root"))
    assert default_cache_path() == tmp_path / "root" / "responses.sqlite"
    with ResponseCache() as c:
        assert c.path == default_cache_path() and c.path.is_file()


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from rlm_bench.models.base import Completion
    from rlm_bench.models.cache import ResponseCache

    cache = ResponseCache(Path(sys.argv[1]))
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(300):
        cache.put(f"child-{i}", Completion(f"c{i}", 1, 1, 0.5), {"who": "child"})
        cache.put("shared", Completion("child", 1, 1, 0.5), {"who": "child"})
    """
)


def test_two_processes_can_write_one_cache_file(cache):
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(cache.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "ready"
        child.stdin.write("go\n")
        child.stdin.flush()
        for i in range(300):
            cache.put(f"parent-{i}", Completion(f"p{i}", 1, 1, 0.5), {"who": "parent"})
            cache.put("shared", Completion("parent", 1, 1, 0.5), {"who": "parent"})
        assert child.wait(timeout=60) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert len(cache) == 601
    assert cache.get("child-299").text == "c299" and cache.get("parent-0").text == "p0"
    assert cache.get("shared").text in ("child", "parent")


def assert_one_line_naming(exc_info, path):
    message = str(exc_info.value)
    assert str(path) in message and "\n" not in message


def test_a_corrupt_cache_file_is_a_user_error(tmp_path):
    path = tmp_path / "responses.sqlite"
    path.write_bytes(b"this is not a database, just bytes " * 200)
    with pytest.raises(UserError) as exc_info:
        ResponseCache(path)
    assert_one_line_naming(exc_info, path)


def test_a_foreign_sqlite_file_is_a_user_error(tmp_path):
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE responses (id INTEGER, body TEXT)")
    db.close()
    with pytest.raises(UserError) as exc_info:
        ResponseCache(path)
    assert_one_line_naming(exc_info, path)


def test_an_unopenable_cache_path_is_a_user_error(tmp_path):
    path = tmp_path / "a_folder"
    path.mkdir()
    with pytest.raises(UserError) as exc_info:
        ResponseCache(path)
    assert_one_line_naming(exc_info, path)


# --- pricing ----------------------------------------------------------------------------------


def test_known_names_have_prices():
    assert price_for("gpt-4o") == Price(2.50, 10.00)
    assert price_for("gpt-4o-mini") == Price(0.15, 0.60)  # not gpt-4o's price
    assert price_for("claude-haiku-4-5") == Price(1.00, 5.00)
    assert len(PRICES) >= 12 and all(p.prompt > 0 and p.completion > 0 for p in PRICES.values())


@pytest.mark.parametrize(
    "name, known",
    [
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("claude-haiku-4-5@20251001", "claude-haiku-4-5"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
    ],
)
def test_a_dated_snapshot_finds_its_model(name, known):
    assert price_for(name) == PRICES[known]


def test_an_exact_snapshot_entry_beats_its_prefix():
    assert price_for("gpt-4o-2024-05-13") == Price(5.00, 15.00)


@pytest.mark.parametrize("name", ["o3-pro", "gpt-5-pro", "gpt-4o-audio", "gemma-3-270m", ""])
def test_a_different_model_is_not_priced_by_its_prefix(name):
    assert price_for(name) is None


def test_an_override_beats_the_table_and_adds_names():
    overrides = {
        "gpt-4o": {"prompt": 1, "completion": 2},
        "my-model": {"prompt": 0.5, "completion": 1.5},
    }
    assert price_for("gpt-4o", overrides) == Price(1.0, 2.0)
    assert price_for("gpt-4o-2024-08-06", overrides) == Price(1.0, 2.0)
    assert price_for("my-model", overrides) == Price(0.5, 1.5)
    assert price_for("gpt-4o-mini", overrides) == PRICES["gpt-4o-mini"]
    assert price_for("local", {"local": {"prompt": 0, "completion": 0}}) == FREE


@pytest.mark.parametrize(
    "overrides, names",
    [
        ({"m": {"prompt": "cheap", "completion": 1}}, "pricing.m.prompt"),
        ({"m": {"prompt": 1}}, "pricing.m"),
        ({"m": {"prompt": -1, "completion": 1}}, "pricing.m.prompt"),
        ({"m": {"prompt": 1, "completion": float("nan")}}, "pricing.m.completion"),
        ({"m": {"prompt": True, "completion": 1}}, "pricing.m.prompt"),
        ({"m": {"prompt": 1, "completion": 1, "cached": 0.1}}, "pricing.m"),
        ({"m": 0.5}, "pricing.m"),
        (["gpt-4o"], "pricing"),
    ],
)
def test_a_bad_override_is_a_one_line_user_error(overrides, names):
    with pytest.raises(UserError, match=rf"^{names}\b") as exc_info:
        price_for("gpt-4o", overrides)
    assert "\n" not in str(exc_info.value)
    with pytest.raises(UserError):
        parse_overrides(overrides)


def test_cost_arithmetic():
    assert cost_usd(Price(2.50, 10.00), 1_000_000, 0) == pytest.approx(2.50)
    assert cost_usd(Price(2.50, 10.00), 0, 1_000_000) == pytest.approx(10.00)
    assert cost_usd(Price(0.15, 0.60), 12_000, 500) == pytest.approx(0.0018 + 0.0003)
    assert cost_usd(FREE, 10**9, 10**9) == 0.0


def test_priced_model_fills_cost_and_delegates(tokenizer):
    inner = ScriptedModel(tokenizer, reply=echo, context_window=4096)
    model = PricedModel(inner, Price(2.0, 8.0))
    out = asyncio.run(model.complete("How many?", max_tokens=4))
    assert out.cost_usd == pytest.approx((out.prompt_tokens * 2 + out.completion_tokens * 8) / 1e6)
    assert out.cost_usd > 0 and out.text == echo("How many?")
    assert model.name == "scripted" and model.context_window == 4096
    assert model.tokenizer is tokenizer and model.prompts == inner.prompts  # passes through
    assert model.describe() == {
        "backend": "scripted",
        "name": "scripted",
        "price_usd_per_million_tokens": {"prompt": 2.0, "completion": 8.0},
    }


def test_priced_model_prices_a_chat_like_a_completion(tokenizer):
    model = PricedModel(ScriptedModel(tokenizer, reply=echo), Price(2.0, 8.0))
    out = asyncio.run(model.chat(QUESTION, max_tokens=4))
    assert out.cost_usd == pytest.approx((out.prompt_tokens * 2 + out.completion_tokens * 8) / 1e6)
    assert out.cost_usd > 0 and out.form == "chat" and out.text == echo("What is the key?")


def test_without_a_price_the_backends_cost_passes_through(tokenizer):
    model = PricedModel(ScriptedModel(tokenizer, reply=echo), None)
    assert asyncio.run(model.complete("Free?")).cost_usd == 0.0
    assert model.describe()["price_usd_per_million_tokens"] is None


def test_priced_outside_cached_prices_hits_with_todays_price(tokenizer, cache):
    inner, model = cached(tokenizer, cache)
    asyncio.run(PricedModel(model, Price(1.0, 1.0)).complete("Q?", max_tokens=4))
    hit = asyncio.run(PricedModel(model, Price(2.0, 2.0)).complete("Q?", max_tokens=4))
    assert hit.cached and len(inner.prompts) == 1
    assert hit.cost_usd == pytest.approx((hit.prompt_tokens + hit.completion_tokens) * 2 / 1e6)


def test_a_chat_hit_is_priced_with_todays_price(tokenizer, cache):
    inner, model = cached(tokenizer, cache)
    asyncio.run(PricedModel(model, Price(1.0, 1.0)).chat(QUESTION, max_tokens=4))
    hit = asyncio.run(PricedModel(model, Price(2.0, 2.0)).chat(QUESTION, max_tokens=4))
    assert hit.cached and hit.form == "chat" and len(inner.conversations) == 1
    assert hit.cost_usd == pytest.approx((hit.prompt_tokens + hit.completion_tokens) * 2 / 1e6)


def test_check_goes_through_both_wrappers(tokenizer, cache):
    class Unreachable(ScriptedModel):
        async def check(self) -> None:
            raise UserError("server at http://127.0.0.1:9 is unreachable")

    model = PricedModel(CachedModel(Unreachable(tokenizer), cache, PARTS), None)
    with pytest.raises(UserError, match="unreachable"):
        asyncio.run(model.check())


def test_a_backend_that_samples_as_the_api_chooses_is_never_cached():
    from rlm_bench.models.anthropic_backend import anthropic_from_spec
    from rlm_bench.models.setup import samples_greedily

    assert not samples_greedily(anthropic_from_spec("claude-haiku-4-5", {}).describe())
    assert samples_greedily({"backend": "openai", "endpoint": "chat"})
