"""The log-record aggregation tasks: gold answers recomputed from the context text alone, span
golds that add up over any line-boundary partition, no ties, few pairs, and their scorers."""

from __future__ import annotations

import random
import re
from collections import Counter
from functools import cache
from itertools import combinations, pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlm_bench.tasks import TASKS, get_task
from rlm_bench.tasks.aggregation_most_frequent import untie
from rlm_bench.tasks.base import NONE_ANSWER, Sample, length_tolerance
from rlm_bench.tasks.combining import combine, finish

NAMES = [
    "aggregation_count",
    "aggregation_most_frequent",
    "aggregation_pairs",
    "aggregation_sum",
]
LINE = re.compile(
    r"id \d{6} \| user: (?P<user>[a-z]+) \| date: \d{4}-\d\d-\d\d"
    r"(?: \| amount: (?P<amount>[1-9]))? \| category: (?P<category>[a-z]+)"
)


@pytest.fixture(scope="module")
def make(tokenizer):
    @cache
    def sample(name: str, length: int, seed: int, index: int) -> Sample:
        return get_task(name, tokenizer).sample(length, seed, index)

    return sample


@pytest.fixture(scope="module")
def tasks(tokenizer):
    return {name: get_task(name, tokenizer) for name in NAMES}


def records(text: str) -> list[tuple[int, int, dict[str, str | None]]]:
    """(start, end, fields) of every line, read with a regex of the record format."""
    found = []
    for match in re.finditer(r"^.*$", text, re.M):
        fields = LINE.fullmatch(match.group(0))
        assert fields, f"not a record: {match.group(0)!r}"
        found.append((match.start(), match.end(), fields.groupdict()))
    return found


def asked_category(sample: Sample) -> str:
    return re.search(r"category (\w+)[?.]$", sample.query.question).group(1)


def expected_answer(name: str, text: str, category: str | None) -> str:
    """The whole answer as a reader of the text would work it out."""
    fields = [f for _, _, f in records(text)]
    if name == "aggregation_count":
        return str(sum(f["category"] == category for f in fields))
    if name == "aggregation_sum":
        return str(sum(int(f["amount"]) for f in fields if f["category"] == category))
    if name == "aggregation_most_frequent":
        ranked = Counter(f["category"] for f in fields).most_common()
        assert len(ranked) == 1 or ranked[0][1] > ranked[1][1], "a tie at the top"
        return ranked[0][0]
    users = sorted({f["user"] for f in fields if f["category"] == category})
    return ", ".join(f"{a} & {b}" for a, b in combinations(users, 2)) or NONE_ANSWER


def expected_part(name: str, text: str, category: str | None) -> str:
    """The answer to the part query for a text; the pairs and most-frequent tasks ask parts a
    different question than the whole."""
    fields = [f for _, _, f in records(text)] if text else []
    if name == "aggregation_most_frequent":
        tally = Counter(f["category"] for f in fields)
        ranked = sorted(tally.items(), key=lambda item: (-item[1], item[0]))
        return ", ".join(f"{c}: {n}" for c, n in ranked) or NONE_ANSWER
    if name == "aggregation_pairs":
        users = [f["user"] for f in fields if f["category"] == category]
        return ", ".join(dict.fromkeys(users)) or NONE_ANSWER
    return expected_answer(name, text, category) if text else "0"


def whole_lines(sample: Sample, start: int, end: int) -> str:
    """The lines wholly inside context[start:end], as a text of their own."""
    return "\n".join(
        sample.context[s:e] for s, e, _ in records(sample.context) if start <= s and e <= end
    )


def category_of(name: str, sample: Sample) -> str | None:
    return None if name == "aggregation_most_frequent" else asked_category(sample)


def test_the_tasks_are_registered_and_describe_themselves(tasks):
    for name, task in tasks.items():
        assert TASKS.get(name) is type(task)
        assert task.name == name and task.description and task.scorer
        assert task.exact_decomposition


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("length", [256, 1024, 4096, 16384])
def test_length_is_hit_and_measured(tokenizer, make, name, length):
    for seed in range(2):
        sample = make(name, length, seed, seed)
        assert sample.actual_length == tokenizer.count(sample.context)
        assert abs(sample.actual_length - length) <= length_tolerance(length)


@pytest.mark.parametrize("name", NAMES)
def test_same_arguments_give_the_same_sample_and_others_differ(tokenizer, make, name):
    first = make(name, 2048, 5, 1)
    assert get_task(name, tokenizer).sample(2048, 5, 1) == first
    assert first.sample_id == f"{name}/L2048/s5/i1"
    assert make(name, 2048, 6, 1).context != first.context
    assert make(name, 2048, 5, 2).context != first.context


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("length", [256, 1024, 8192])
def test_answers_are_what_the_text_says(make, name, length):
    for seed in range(4):
        sample = make(name, length, seed, seed + 1)
        category = category_of(name, sample)
        assert sample.answer == expected_answer(name, sample.context, category)
        assert re.fullmatch(sample.query.answer_pattern, sample.answer)


@pytest.mark.parametrize("name", NAMES)
def test_spans_are_exactly_the_record_lines(make, name):
    sample = make(name, 4096, 2, 0)
    assert sample.metadata["spans"] == [[s, e] for s, e, _ in records(sample.context)]


@pytest.mark.parametrize("name", NAMES)
def test_examples_are_answered_right(make, name):
    for index in range(4):
        sample = make(name, 1024, 1, index)
        category = category_of(name, sample)
        whole, part = sample.query.examples, sample.part_query.examples
        assert len(whole) == 2 and len(part) == 2
        for example in whole:
            assert example.answer == expected_answer(name, example.context, category)
            assert len(records(example.context)) <= 8
        for example in part:
            assert example.answer == expected_part(name, example.context, category)


def test_examples_show_both_empty_and_nonempty_answers(make):
    for name in ["aggregation_count", "aggregation_sum", "aggregation_pairs"]:
        answers = {ex.answer for ex in make(name, 1024, 0, 3).part_query.examples}
        assert answers & {"0", NONE_ANSWER} and answers - {"0", NONE_ANSWER}, name


@pytest.mark.parametrize("name", NAMES)
def test_gold_for_any_span_counts_only_whole_lines(tasks, make, name):
    sample = make(name, 2048, 4, 2)
    category = category_of(name, sample)
    rng = random.Random(name)
    size = len(sample.context)
    for _ in range(40):
        start = rng.randrange(size)
        end = rng.randint(start, size)
        expected = expected_part(name, whole_lines(sample, start, end), category)
        assert tasks[name].gold_for_span(sample, start, end) == expected


@pytest.mark.parametrize("name", NAMES)
def test_a_line_counts_only_when_all_of_it_is_in_the_span(tasks, make, name):
    sample = make(name, 512, 1, 1)
    category = category_of(name, sample)
    empty = expected_part(name, "", category)
    for start, end in sample.metadata["spans"]:
        line = sample.context[start:end]
        alone = expected_part(name, line, category)
        assert tasks[name].gold_for_span(sample, start, end) == alone
        assert tasks[name].gold_for_span(sample, start, end - 1) == empty
        assert tasks[name].gold_for_span(sample, start + 1, end + 1) == empty


def line_partition(sample: Sample, cuts: set[int], newline_first: bool) -> list[tuple[int, int]]:
    """Spans cut at the starts of the chosen lines; the newline goes with the part before the
    cut or, when `newline_first`, with the part after it."""
    starts = sorted(sample.metadata["spans"][i][0] - (1 if newline_first else 0) for i in cuts)
    bounds = [0, *starts, len(sample.context)]
    return list(pairwise(bounds))


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=30, deadline=None)
@given(data=st.data(), seed=st.integers(0, 5), length=st.sampled_from([512, 2048, 4096]))
def test_span_golds_of_any_line_partition_combine_to_the_answer(
    tasks, make, name, data, seed, length
):
    sample = make(name, length, seed, 0)
    lines = len(sample.metadata["spans"])
    cuts = data.draw(st.sets(st.integers(1, lines - 1), max_size=lines - 1))
    spans = line_partition(sample, cuts, data.draw(st.booleans()))
    golds = [tasks[name].gold_for_span(sample, s, e) for s, e in spans]
    group = data.draw(st.integers(1, 4))
    decomposition, part = sample.decomposition, sample.part_query
    combined = combine(golds, decomposition, part)
    assert finish(combined, decomposition, part) == sample.answer
    # A deeper recursion combines combined answers; that must give the same whole.
    nested = [
        combine(golds[i : i + group], decomposition, part) for i in range(0, len(golds), group)
    ]
    assert combine(nested, decomposition, part) == combined


def test_most_frequent_never_ties(make):
    for length in [256, 512, 1024]:
        for seed in range(30):
            sample = make("aggregation_most_frequent", length, seed, 0)
            ranked = Counter(f["category"] for _, _, f in records(sample.context)).most_common(2)
            assert len(ranked) == 1 or ranked[0][1] > ranked[1][1], (length, seed)
            assert ranked[0][0] == sample.answer


def test_untie_gives_the_favorite_the_lead():
    labels = ["food", "travel", "food", "travel", "music", "music", "health"]
    lines = [f"id {i} | category: {label}" for i, label in enumerate(labels)]
    assert untie(lines, labels, "travel")
    assert Counter(labels).most_common(2) == [("travel", 4), ("food", 1)]
    assert [line.rsplit(": ", 1)[1] for line in lines] == labels
    assert lines[5] == "id 5 | category: travel"
    assert not untie(lines, labels, "food")


def test_untie_picks_a_leader_when_the_favorite_is_behind():
    labels = ["music", "food", "music", "food", "travel"]
    lines = [f"x | category: {label}" for label in labels]
    assert untie(lines, labels, "travel")
    assert Counter(labels).most_common(1) == [("food", 3)]


@pytest.mark.parametrize("length", [1024, 65536])
def test_pairs_are_few_and_never_none(make, length):
    for seed in range(3):
        sample = make("aggregation_pairs", length, seed, 0)
        pairs = sample.answer.split(", ")
        assert sample.answer != NONE_ANSWER and 1 <= len(pairs) <= 10
        users = {f["user"] for _, _, f in records(sample.context)}
        category = asked_category(sample)
        holders = {f["user"] for _, _, f in records(sample.context) if f["category"] == category}
        assert 2 <= len(holders) <= 5 and len(users) > len(holders)


def test_pairs_answers_fit_their_token_budget(tokenizer, make):
    sample = make("aggregation_pairs", 1024, 0, 0)
    part_answer = ", ".join(sample.metadata["users"])
    assert tokenizer.count(" " + sample.answer) < sample.query.max_tokens
    assert tokenizer.count(" " + part_answer) < sample.part_query.max_tokens
    assert re.fullmatch(sample.part_query.answer_pattern, part_answer)


def test_tally_answers_fit_their_token_budget(tokenizer, make, tasks):
    sample = make("aggregation_most_frequent", 8192, 0, 0)
    tally = tasks["aggregation_most_frequent"].gold_for_span(sample, 0, len(sample.context))
    assert tokenizer.count(" " + tally) < sample.part_query.max_tokens
    assert re.fullmatch(sample.part_query.answer_pattern, tally)


def test_pairs_f1_ignores_order_and_joiner(tasks, make):
    task = tasks["aggregation_pairs"]
    sample = make("aggregation_pairs", 1024, 0, 0)
    pairs = sample.answer.split(", ")
    flipped = ", ".join(" and ".join(reversed(p.split(" & "))) for p in reversed(pairs))
    assert task.score(flipped, sample) == 1.0
    assert task.score(f"The pairs are {sample.answer}.", sample) == 1.0
    half = pairs[: len(pairs) // 2] or pairs[:1]
    recall = len(half) / len(pairs)
    assert task.score(", ".join(half), sample) == pytest.approx(2 * recall / (1 + recall))
    first = pairs[0].split(" & ")[0]
    assert task.score(f"{first} & {first}", sample) == 0.0
    assert task.score(None, sample) == 0.0 and task.score("none", sample) == 0.0


@pytest.mark.parametrize("name", ["aggregation_count", "aggregation_sum"])
def test_numbers_get_partial_credit(tasks, make, name):
    task = tasks[name]
    sample = make(name, 1024, 2, 0)
    gold = int(sample.answer)
    assert task.score(f"about {gold} records", sample) == 1.0
    assert task.score(str(gold + 2), sample) == pytest.approx(0.5625)
    assert task.score(str(gold - 1), sample) == pytest.approx(0.75)
    assert task.score("several", sample) == 0.0 and task.score(None, sample) == 0.0


def test_most_frequent_is_exact_match(tasks, make):
    task = tasks["aggregation_most_frequent"]
    sample = make("aggregation_most_frequent", 1024, 3, 0)
    other = next(c for c in ("food", "travel") if c != sample.answer)
    assert task.score(f" {sample.answer}.", sample) == 1.0
    assert task.score(other, sample) == 0.0
    assert task.score(f"{sample.answer}s", sample) == 0.0
