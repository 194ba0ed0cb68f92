"""Properties every registered task must keep, checked by hypothesis over seeds, lengths and
the partitions a recursive solver may choose: exact length, determinism across processes, each
needle present once, no needle or record cut at a chunk boundary, and span golds that add up to
the whole answer."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlm_bench.solvers.splitting import split_span
from rlm_bench.tasks import TASKS, generated_tasks, get_task
from rlm_bench.tasks.base import length_tolerance
from rlm_bench.tasks.combining import combine, finish

ALL_TASKS = generated_tasks()
"""Tasks that read a benchmark's table (the hub by default) are left out: the hub is not reached
from tests, and their own tests run them on tests/fixtures/."""
LENGTHS = [1024, 3000, 8192]


@pytest.fixture(scope="module")
def make(tokenizer):
    @cache
    def sample(name: str, length: int, seed: int, index: int):
        return get_task(name, tokenizer).sample(length, seed, index)

    return sample


def partition(text: str, fanout: int, depth: int) -> list[tuple[int, int]]:
    """The leaves of a recursive split of depth `depth`, as the recursive solver cuts them."""
    spans = [(0, len(text))]
    for _ in range(depth):
        spans = [part for s, e in spans for part in split_span(text, s, e, fanout)]
    return spans


def test_every_task_describes_itself():
    for name in ALL_TASKS:
        cls = TASKS.get(name)
        assert cls.description and cls.scorer, name


@pytest.mark.parametrize("name", ALL_TASKS)
@pytest.mark.parametrize("length", [1024, 4096, 32768])
def test_length_is_within_tolerance(tokenizer, make, name, length):
    for seed in range(3):
        sample = make(name, length, seed, seed)
        assert sample.actual_length == tokenizer.count(sample.context)
        assert abs(sample.actual_length - length) <= length_tolerance(length)


@pytest.mark.parametrize("name", ALL_TASKS)
def test_a_million_tokens_hit_the_length(tokenizer, name):
    task = get_task(name, tokenizer)
    sample = task.sample(1_048_576, 0, 0)
    assert abs(sample.actual_length - 1_048_576) <= length_tolerance(1_048_576)
    assert task.score(sample.answer, sample) == 1.0


@pytest.mark.parametrize("name", ALL_TASKS)
def test_the_gold_answer_scores_one_and_no_answer_zero(tokenizer, make, name):
    task = get_task(name, tokenizer)
    for index in range(3):
        sample = make(name, 1024, 0, index)
        assert task.score(sample.answer, sample) == 1.0
        assert task.score(None, sample) == 0.0


def _fingerprints(names: list[str]) -> dict[str, str]:
    from rlm_bench.models.embedded import EmbeddedModel

    tokenizer = EmbeddedModel().tokenizer
    return {
        name: hashlib.sha256(
            json.dumps(get_task(name, tokenizer).sample(2048, 11, 3).to_dict()).encode()
        ).hexdigest()
        for name in names
    }


def test_samples_are_byte_identical_across_processes():
    code = (
        "import json, sys; from tests.test_task_properties import _fingerprints; "
        f"print(json.dumps(_fingerprints({ALL_TASKS!r})))"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(other.stdout) == _fingerprints(ALL_TASKS)


@pytest.mark.parametrize("name", ALL_TASKS)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    length=st.sampled_from(LENGTHS),
    seed=st.integers(0, 3),
    index=st.integers(0, 4),
    fanout=st.integers(2, 9),
    depth=st.integers(1, 3),
)
def test_partitions_never_cut_an_item_and_golds_add_up(make, tokenizer, name, length, seed,
                                                       index, fanout, depth):  # fmt: skip
    task = get_task(name, tokenizer)
    sample = make(name, length, seed, index)
    spans = partition(sample.context, fanout, depth)
    bounds = {s for s, _ in spans[1:]}
    for start, end in sample.metadata["spans"]:
        assert not any(start < b < end for b in bounds), (start, end)
    for needle in sample.metadata.get("needles", []):
        assert sample.context.count(sample.context[needle["start"] : needle["end"]]) == 1
    whole = task.gold_for_span(sample, 0, len(sample.context))
    assert finish(whole, sample.decomposition, sample.part_query) == sample.answer
    golds = [task.gold_for_span(sample, s, e) for s, e in spans]
    combined = combine(golds, sample.decomposition, sample.part_query)
    if task.exact_decomposition:
        assert combined == whole
        assert finish(combined, sample.decomposition, sample.part_query) == sample.answer
