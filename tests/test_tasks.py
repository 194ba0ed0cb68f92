"""Task generators: determinism, exact lengths, needle placement, span golds, scoring."""

from __future__ import annotations

import random
import re
import time
from itertools import count

import pytest

from rlm_bench.tasks import TASKS, get_task
from rlm_bench.tasks.base import NONE_ANSWER, Sample, length_tolerance
from rlm_bench.tasks.filler import filler_text, sentence
from rlm_bench.tasks.fitting import fit_units, join_units
from rlm_bench.tasks.scoring import exact_match, extract, partial_credit

TASK_NAMES = ["niah_single", "aggregation_count"]
LENGTHS = [256, 512, 1000, 2048, 8192, 32768]
NEEDLE = re.compile(r"The special magic number for ([a-z]+-[a-z]+) is (\d{7})\.")


@pytest.fixture(scope="module")
def niah(tokenizer):
    return get_task("niah_single", tokenizer)


@pytest.fixture(scope="module")
def aggregation(tokenizer):
    return get_task("aggregation_count", tokenizer)


def record_lines(context: str) -> list[tuple[int, int, str]]:
    """(start, end, text) of every line, found without the task's metadata."""
    return [(m.start(), m.end(), m.group(0)) for m in re.finditer(r"^.*$", context, re.M)]


def random_spans(rng: random.Random, text_length: int, how_many: int) -> list[tuple[int, int]]:
    spans = []
    for _ in range(how_many):
        start = rng.randrange(text_length)
        spans.append((start, rng.randint(start, text_length)))
    return spans


def test_both_tasks_are_registered(tokenizer):
    assert set(TASK_NAMES) <= set(TASKS.names())
    for name in TASK_NAMES:
        assert get_task(name, tokenizer).name == name


@pytest.mark.parametrize("name", TASK_NAMES)
def test_same_arguments_give_identical_samples(tokenizer, name):
    first = get_task(name, tokenizer).sample(2048, 3, 7)
    again = get_task(name, tokenizer).sample(2048, 3, 7)
    assert first == again
    assert first.sample_id == f"{name}/L2048/s3/i7"


@pytest.mark.parametrize("name", TASK_NAMES)
def test_seed_and_index_change_the_context(tokenizer, name):
    task = get_task(name, tokenizer)
    base = task.sample(1000, 0, 0).context
    assert task.sample(1000, 1, 0).context != base
    assert task.sample(1000, 0, 1).context != base


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("name", TASK_NAMES)
def test_context_length_is_within_tolerance(tokenizer, name, length):
    task = get_task(name, tokenizer)
    for seed in range(3):
        sample = task.sample(length, seed, seed)
        assert sample.actual_length == tokenizer.count(sample.context)
        assert abs(sample.actual_length - length) <= length_tolerance(length)
        assert sample.length == length


@pytest.mark.parametrize("length", [512, 4096])
def test_needle_sits_once_at_its_offsets_and_depth(niah, length):
    for index in range(10):
        sample = niah.sample(length, 5, index)
        meta = sample.metadata
        start, end = meta["needle_start"], meta["needle_end"]
        context = sample.context
        assert meta["depth"] == (index % 5) / 4
        assert [m.span() for m in NEEDLE.finditer(context)] == [(start, end)]
        assert NEEDLE.fullmatch(context[start:end]).groups() == (meta["key"], sample.answer)
        assert abs(start / len(context) - meta["depth"]) <= 0.1
        assert start == 0 or context[start - 1] in " \n"
        assert context[end : end + 1] in ("", " ", "\n")


def test_niah_sample_fields(niah):
    sample = niah.sample(1000, 2, 3)
    key = sample.metadata["key"]
    assert re.fullmatch(r"[a-z]+-[a-z]+", key)
    assert re.fullmatch(r"[1-9]\d{6}", sample.answer)
    assert key in sample.question and key in sample.answer_prefix
    assert sample.aggregation == "find"
    assert extract(sample.answer_pattern, sample.answer) == sample.answer


def test_niah_haystack_has_no_digits_besides_the_needle(niah):
    sample = niah.sample(4096, 1, 2)
    meta = sample.metadata
    haystack = sample.context[: meta["needle_start"]] + sample.context[meta["needle_end"] :]
    assert not re.search(r"\d", haystack)
    assert "magic number" not in haystack


def test_niah_gold_for_span_matches_span_text(niah):
    sample = niah.sample(2048, 0, 2)
    start, end = sample.metadata["needle_start"], sample.metadata["needle_end"]
    spans = random_spans(random.Random(0), len(sample.context), 50)
    spans += [(start, end), (start + 1, end), (start, end - 1), (0, len(sample.context))]
    for span_start, span_end in spans:
        found = NEEDLE.search(sample.context[span_start:span_end])
        expected = found.group(2) if found else NONE_ANSWER
        assert niah.gold_for_span(sample, span_start, span_end) == expected
    assert any(niah.gold_for_span(sample, *span) == sample.answer for span in spans)


def test_aggregation_answer_counts_the_lines_of_the_category(aggregation):
    sample = aggregation.sample(4096, 1, 0)
    category = sample.metadata["category"]
    lines = record_lines(sample.context)
    assert int(sample.answer) == sum(text.endswith(f"| category: {category}") for *_, text in lines)
    assert int(sample.answer) > 0
    assert [start for start, *_ in lines] == sample.metadata["record_starts"]
    assert [text.rsplit(": ", 1)[1] for *_, text in lines] == sample.metadata["labels"]
    ids = [re.match(r"id (\d+) \| user: [a-z]+ \| date: \d{4}-\d\d-\d\d \|", t) for *_, t in lines]
    assert all(ids)
    assert len({m.group(1) for m in ids}) == len(lines)
    assert category in sample.question and category in sample.answer_prefix
    assert sample.aggregation == "sum"


def test_aggregation_questions_vary(aggregation):
    samples = [aggregation.sample(2048, 0, index) for index in range(12)]
    assert len({s.metadata["category"] for s in samples}) > 2
    assert len({s.answer for s in samples}) > 3


def test_aggregation_gold_for_span_counts_whole_lines(aggregation):
    sample = aggregation.sample(2048, 3, 1)
    category = sample.metadata["category"]
    lines = record_lines(sample.context)
    spans = random_spans(random.Random(1), len(sample.context), 50)
    spans += [(start, end) for start, end, _ in lines[:5]]
    spans += [(start, end - 1) for start, end, _ in lines[:5]]
    spans += [(0, len(sample.context))]
    for span_start, span_end in spans:
        expected = sum(
            span_start <= start and end <= span_end and text.endswith(f"category: {category}")
            for start, end, text in lines
        )
        assert aggregation.gold_for_span(sample, span_start, span_end) == str(expected)
    assert aggregation.gold_for_span(sample, 0, len(sample.context)) == sample.answer


def test_aggregation_examples_are_counted_right(aggregation):
    for index in range(5):
        sample = aggregation.sample(512, 2, index)
        category = sample.metadata["category"]
        answers = []
        for example in sample.examples:
            lines = example.context.split("\n")
            assert 3 <= len(lines) <= 6
            assert int(example.answer) == sum(line.endswith(f": {category}") for line in lines)
            answers.append(example.answer)
        assert "0" in answers and any(answer != "0" for answer in answers)


def test_scoring_helpers():
    assert extract(r"\d{7}", "It is 1234567, I think") == "1234567"
    assert extract(r"\d{7}", "no idea") is None
    assert extract(r"\d{7}", None) is None
    assert exact_match(" 1234567.", "1234567", r"\d{7}") == 1.0
    assert exact_match("7654321", "1234567", r"\d{7}") == 0.0
    assert exact_match(None, "1234567", r"\d{7}") == 0.0
    assert partial_credit("7", 7, r"-?\d+") == 1.0
    assert partial_credit(" 5 records", 7, r"-?\d+") == pytest.approx(0.5625)
    assert partial_credit("-1", 1, r"-?\d+") == pytest.approx(0.5625)
    assert partial_credit("none", 7, r"-?\d+") == 0.0
    assert partial_credit(None, 7, r"-?\d+") == 0.0


def test_tasks_score_their_own_samples(niah, aggregation):
    needle: Sample = niah.sample(512, 0, 0)
    assert niah.score(needle.answer, needle) == 1.0
    assert niah.score(f" {needle.answer}.", needle) == 1.0
    assert niah.score(str(int(needle.answer) % 9_000_000 + 1_000_000), needle) == 0.0
    assert niah.score(None, needle) == 0.0
    counted: Sample = aggregation.sample(512, 0, 0)
    gold = int(counted.answer)
    assert aggregation.score(counted.answer, counted) == 1.0
    assert aggregation.score(str(gold + 2), counted) == pytest.approx(0.5625)
    assert aggregation.score("several", counted) == 0.0


def test_filler_has_no_digits_and_varies():
    text = filler_text(random.Random(7), 3000)
    assert not re.search(r"\d", text)
    assert "magic number" not in text.lower()
    assert "\n\n" in text
    sentences = re.split(r"(?<=\.)\s+", text)
    assert len(sentences) == 3000
    assert len(set(sentences)) > 2900
    assert len({s.split()[0] for s in sentences}) > 10
    assert filler_text(random.Random(7), 50) == filler_text(random.Random(7), 50)


def test_sentence_is_capitalized_and_ends_with_a_period():
    rng = random.Random(3)
    for _ in range(200):
        text = sentence(rng)
        assert text[0].isupper() and text.endswith(".") and "  " not in text


def test_fit_units_is_generic(tokenizer):
    words = (f" word{n}" for n in count())
    fitted = fit_units(words, 700, tokenizer, reserved=5, assemble=lambda u: join_units(u) + "!")
    assert fitted.tokens == tokenizer.count(fitted.text)
    assert abs(fitted.tokens - 700) <= length_tolerance(700)
    assert fitted.text.startswith("word0 word1 ") and fitted.text.endswith("!")
    with pytest.raises(ValueError):
        fit_units(words, 10, tokenizer, reserved=10)


@pytest.mark.parametrize("name", TASK_NAMES)
def test_a_128k_sample_generates_fast(tokenizer, name):
    task = get_task(name, tokenizer)
    started = time.perf_counter()
    sample = task.sample(131072, 0, 0)
    elapsed = time.perf_counter() - started
    assert abs(sample.actual_length - 131072) <= length_tolerance(131072)
    assert elapsed < 3.0
