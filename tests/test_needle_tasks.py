"""The needle family: what each variant hides, where, and how it is asked and scored."""

from __future__ import annotations

import re

import pytest

from rlm_bench.tasks import get_task
from rlm_bench.tasks.base import LIST_SEPARATOR, NONE_ANSWER
from rlm_bench.tasks.context_rot_probes import NEAR_MISSES
from rlm_bench.tasks.filler import filler_text
from rlm_bench.tasks.needles import UUID_PATTERN
from rlm_bench.tasks.vocabulary import NEEDLE_WORDS

NEEDLE_TASKS = [
    "niah_single", "niah_multikey", "niah_multivalue", "niah_multiquery", "niah_distractors",
    "niah_semantic",
]  # fmt: skip
STOP_WORDS = {"the", "a", "an", "of", "to", "by", "is", "are", "with", "what", "which", "for"}


def content_words(text: str, key: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower().replace(key, ""))) - STOP_WORDS


def needle_texts(sample):
    return [sample.context[n["start"] : n["end"]] for n in sample.metadata["needles"]]


@pytest.mark.parametrize("name", NEEDLE_TASKS)
def test_every_needle_is_whole_and_appears_once(tokenizer, name):
    task = get_task(name, tokenizer)
    for index in range(5):
        sample = task.sample(2048, 1, index)
        texts = needle_texts(sample)
        assert texts, "a needle task hides at least one needle"
        for text, needle in zip(texts, sample.metadata["needles"], strict=True):
            assert sample.context.count(text) == 1
            assert text.endswith(f"{needle['value']}.")
            assert needle["start"] == 0 or sample.context[needle["start"] - 1] in " \n"


@pytest.mark.parametrize(
    ("kind", "pattern"), [("number", r"[1-9]\d{6}"), ("word", None), ("uuid", UUID_PATTERN)]
)
def test_value_kinds(tokenizer, kind, pattern):
    task = get_task("niah_single", tokenizer, value_kind=kind)
    sample = task.sample(1024, 0, 0)
    if pattern:
        assert re.fullmatch(pattern, sample.answer)
    else:
        assert sample.answer in NEEDLE_WORDS
    assert f"special magic {kind} for" in sample.query.question
    assert re.fullmatch(sample.query.answer_pattern, sample.answer)
    assert task.score(f" {sample.answer}.", sample) == 1.0


def test_needle_words_never_occur_in_the_filler():
    filler = set(re.findall(r"[a-z]+", filler_text(__import__("random").Random(0), 20000)))
    assert not filler & set(NEEDLE_WORDS)


@pytest.mark.parametrize("depth", [0.0, 0.3, 0.5, 1.0])
def test_depths_option_places_the_needle(tokenizer, depth):
    task = get_task("niah_single", tokenizer, depths=[depth])
    for index in range(3):
        sample = task.sample(4096, 0, index)
        (needle,) = sample.metadata["needles"]
        assert sample.metadata["depth"] == depth
        assert abs(needle["start"] / len(sample.context) - depth) < 0.03


def test_depths_cycle_over_the_samples_by_default(tokenizer):
    task = get_task("niah_single", tokenizer)
    depths = [task.sample(1024, 0, index).metadata["depth"] for index in range(6)]
    assert depths == [0.0, 0.25, 0.5, 0.75, 1.0, 0.0]


def test_multikey_asks_one_of_several_keys(tokenizer):
    sample = get_task("niah_multikey", tokenizer, keys=6).sample(2048, 0, 1)
    needles = sample.metadata["needles"]
    assert len(needles) == 6 and sum(n["answers"] for n in needles) == 1
    keys = [re.search(r"for ([a-z]+-[a-z]+) is", t).group(1) for t in needle_texts(sample)]
    assert len(set(keys)) == 6
    assert sample.metadata["key"] in sample.query.question
    assert sample.answer == next(n["value"] for n in needles if n["answers"])


def test_multivalue_answer_is_every_value_in_context_order(tokenizer):
    task = get_task("niah_multivalue", tokenizer, values=5)
    sample = task.sample(2048, 0, 2)
    values = [n["value"] for n in sample.metadata["needles"]]
    assert sample.answer == LIST_SEPARATOR.join(values) and len(set(values)) == 5
    assert all(t.startswith("One of the special magic numbers for") for t in needle_texts(sample))
    assert sample.decomposition.combine == "union"
    assert task.score(" and ".join(reversed(values)), sample) == 1.0
    assert task.score(", ".join(values[:-1]), sample) == 0.0


def test_multiquery_names_every_key_in_the_question(tokenizer):
    task = get_task("niah_multiquery", tokenizer, queries=3)
    sample = task.sample(2048, 0, 0)
    for key in sample.metadata["keys"].split(", "):
        assert key in sample.query.question
    assert len(sample.answer.split(LIST_SEPARATOR)) == 3
    assert re.fullmatch(sample.query.answer_pattern, sample.answer)


def test_distractors_answer_a_slightly_different_question(tokenizer):
    task = get_task("niah_distractors", tokenizer, distractors=4)
    sample = task.sample(2048, 0, 0)
    key, texts = sample.metadata["key"], needle_texts(sample)
    assert len(texts) == 5 and all(key in text for text in texts)
    near = [t for t, n in zip(texts, sample.metadata["needles"], strict=True) if not n["answers"]]
    shapes = [
        re.escape(t).replace(r"\{kind\}", "number").replace(r"\{key\}", key) for t in NEAR_MISSES
    ]
    for text in near:
        assert any(re.fullmatch(s.replace(r"\{value\}", r"\d{7}"), text) for s in shapes)
    assert task.score(sample.metadata["needles"][0]["value"], sample) in (0.0, 1.0)
    wrong = next(n["value"] for n in sample.metadata["needles"] if not n["answers"])
    assert task.score(wrong, sample) == 0.0


def test_semantic_question_shares_little_with_its_needle(tokenizer):
    task = get_task("niah_semantic", tokenizer)
    for index in range(10):
        sample = task.sample(1024, 0, index)
        key = sample.metadata["key"]
        (text,) = needle_texts(sample)
        needle_words = content_words(text, key)
        assert len(needle_words & content_words(sample.query.question, key)) <= 1
        assert key in sample.query.question


def test_shuffled_structure_keeps_the_needle_and_value(tokenizer):
    coherent = get_task("niah_single", tokenizer).sample(2048, 0, 2)
    shuffled = get_task("niah_single", tokenizer, structure="shuffled").sample(2048, 0, 2)
    assert shuffled.answer == coherent.answer and shuffled.context != coherent.context
    assert shuffled.metadata["structure"] == "shuffled"


def test_noise_haystack_is_rulers(tokenizer):
    sample = get_task("niah_single", tokenizer, haystack="noise").sample(1024, 0, 1)
    (text,) = needle_texts(sample)
    rest = sample.context.replace(text, "")
    assert set(re.split(r"(?<=\.)\s+", rest.strip())) <= {
        "The grass is green.", "The sky is blue.", "The sun is yellow.", "Here we go.",
        "There and back again.",
    }  # fmt: skip


def test_gold_for_span_needs_the_whole_needle(tokenizer):
    task = get_task("niah_multivalue", tokenizer)
    sample = task.sample(2048, 0, 0)
    first = sample.metadata["needles"][0]
    assert task.gold_for_span(sample, first["start"], first["end"]) == first["value"]
    assert task.gold_for_span(sample, first["start"] + 1, first["end"]) == NONE_ANSWER
    assert task.gold_for_span(sample, 0, len(sample.context)) == sample.answer
