"""The run's `concurrency` caps model calls in flight, for every backend, around the scripted
model (a test double), which records how many of its calls overlap."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from rlm_bench.errors import UserError
from rlm_bench.models.capping import CappedModel
from rlm_bench.models.setup import open_model
from rlm_bench.suites import load_suite
from tests.doubles import ScriptedModel


def overlapping(tokenizer) -> ScriptedModel:
    return ScriptedModel(tokenizer, reply=lambda prompt: " 7", delay_s=0.02)


@pytest.mark.parametrize("slots", [1, 3])
def test_no_more_calls_than_slots_are_in_flight(tokenizer, slots):
    inner = overlapping(tokenizer)
    model = CappedModel(inner, slots)

    async def many():
        return await asyncio.gather(*(model.complete(f"q{i}") for i in range(10)))

    assert [c.text for c in asyncio.run(many())] == [" 7"] * 10
    assert inner.most_in_flight == slots


@pytest.mark.parametrize("slots", [1, 3])
def test_chat_and_completion_calls_share_the_slots(tokenizer, slots):
    inner = overlapping(tokenizer)
    model = CappedModel(inner, slots)

    def call(i: int):
        if i % 2:
            return model.chat([{"role": "user", "content": f"q{i}"}])
        return model.complete(f"q{i}")

    async def many():
        return await asyncio.gather(*(call(i) for i in range(10)))

    outs = asyncio.run(many())
    assert [c.form for c in outs] == ["completion", "chat"] * 5
    assert len(inner.prompts) == len(inner.conversations) == 5
    assert inner.most_in_flight == slots


def test_the_cap_survives_successive_event_loops(tokenizer):
    """The CLI checks a model in one `asyncio.run` and runs the suite in another."""
    inner = overlapping(tokenizer)
    model = CappedModel(inner, 2)
    for _ in range(2):

        async def some():
            return await asyncio.gather(*(model.complete("q") for _ in range(4)))

        assert len(asyncio.run(some())) == 4
    assert inner.most_in_flight == 2


@pytest.mark.parametrize("slots", [0, -1, 1.5, True])
def test_a_cap_below_one_is_a_user_error(tokenizer, slots):
    with pytest.raises(UserError, match="concurrency must be a whole number of at least 1"):
        CappedModel(ScriptedModel(tokenizer), slots)


def test_the_run_model_is_capped_by_the_suites_concurrency_and_says_so():
    model = open_model(replace(load_suite("smoke"), model="scripted", concurrency=3))
    assert model.describe()["concurrency"] == 3
