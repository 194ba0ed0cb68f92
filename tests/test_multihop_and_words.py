"""`variable_tracking` and `common_words`: answers recomputed from the text alone, span golds,
partitions, option errors and scorers."""

from __future__ import annotations

import re
from collections import Counter
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlm_bench.errors import UserError
from rlm_bench.solvers.prompts import build_prompt, parse_answer
from rlm_bench.solvers.splitting import split_span
from rlm_bench.tasks import filler, get_task
from rlm_bench.tasks.base import LIST_SEPARATOR, NONE_ANSWER, length_tolerance
from rlm_bench.tasks.combining import combine, finish, list_items
from rlm_bench.tasks.common_words import MIN_BLOCKS, whole_lines
from rlm_bench.tasks.vocabulary import NEEDLE_WORDS, VOCABULARY

STATEMENT = re.compile(r"VAR ([A-Z]{5}) = (\d{5}|VAR [A-Z]{5})\.")


@pytest.fixture(scope="module")
def make(tokenizer):
    @cache
    def sample(name: str, length: int, seed: int = 0, index: int = 0, **options):
        return get_task(name, tokenizer, **options).sample(length, seed, index)

    return sample


# --- variable tracking: an independent reader of the text ----------------------------------


def holders(text: str, value: str) -> list[str]:
    """Every variable the VAR statements of `text` bind to `value`, in the order they are bound,
    resolved from the text alone (a statement may only use names bound before it)."""
    bound: dict[str, str] = {}
    for name, source in STATEMENT.findall(text):
        if source.startswith("VAR "):
            if source[4:] in bound:
                bound[name] = bound[source[4:]]
        else:
            bound[name] = source
    return [name for name, held in bound.items() if held == value]


def asked_value(sample) -> str:
    return re.search(r"\d{5}", sample.query.question).group(0)


VT_CASES = [
    (1024, {}),
    (4096, {"hops": 1, "chains": 1}),
    (8192, {"hops": 7, "chains": 3}),
    (4096, {"haystack": "essay"}),
    (4096, {"haystack": "essay", "structure": "shuffled"}),
]


@pytest.mark.parametrize(("length", "options"), VT_CASES)
def test_vt_answer_is_what_the_text_says(tokenizer, make, length, options):
    for index in range(3):
        sample = make("variable_tracking", length, 1, index, **options)
        items = sample.answer.split(LIST_SEPARATOR)
        assert items == holders(sample.context, asked_value(sample))
        assert len(items) == options.get("hops", 4) + 1
        assert abs(sample.actual_length - length) <= length_tolerance(length)
        assert sample.actual_length == tokenizer.count(sample.context)


@pytest.mark.parametrize(("length", "options"), VT_CASES)
def test_vt_every_statement_appears_once_in_chain_order_and_spread(make, length, options):
    sample = make("variable_tracking", length, 2, 0, **options)
    chains = sample.metadata["chains"]
    assert len(chains) == options.get("chains", 2)
    assert len(STATEMENT.findall(sample.context)) == sum(len(c["variables"]) for c in chains)
    values = [c["value"] for c in chains]
    assert len(set(values)) == len(values)
    for chain in chains:
        starts = [s for s, _ in chain["spans"]]
        assert starts == sorted(starts)
        for (start, end), name in zip(chain["spans"], chain["variables"], strict=True):
            statement = sample.context[start:end]
            assert sample.context.count(statement) == 1
            assert STATEMENT.fullmatch(statement)[1] == name
        # The first statement comes in the first half, the last in the second half.
        if len(starts) > 1:
            assert starts[0] < len(sample.context) / 2 < starts[-1]
    assert sorted(s for c in chains for s in c["spans"]) == sample.metadata["spans"]


def test_vt_is_deterministic_and_varies_with_the_index(tokenizer):
    one = get_task("variable_tracking", tokenizer).sample(2048, 5, 1)
    two = get_task("variable_tracking", tokenizer).sample(2048, 5, 1)
    other = get_task("variable_tracking", tokenizer).sample(2048, 5, 2)
    assert one.to_dict() == two.to_dict()
    assert other.answer != one.answer


def test_vt_other_haystacks_ask_about_the_same_chains(make):
    noise = make("variable_tracking", 4096, 3, 1)
    essay = make("variable_tracking", 4096, 3, 1, haystack="essay")
    assert noise.answer == essay.answer and noise.query == essay.query


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_vt_gold_for_span_reads_only_the_span(tokenizer, make, data):
    sample = make("variable_tracking", 2048, data.draw(st.integers(0, 2)), 0)
    task_gold = get_task("variable_tracking", tokenizer).gold_for_span
    size = len(sample.context)
    start = data.draw(st.integers(0, size))
    end = data.draw(st.integers(start, size))
    expected = holders(sample.context[start:end], asked_value(sample))
    assert task_gold(sample, start, end) == (LIST_SEPARATOR.join(expected) or NONE_ANSWER)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_vt_union_is_the_answer_only_if_one_part_holds_the_chain(tokenizer, make, data):
    sample = make("variable_tracking", 2048, data.draw(st.integers(0, 2)), 1)
    task = get_task("variable_tracking", tokenizer)
    size = len(sample.context)
    cuts = sorted(data.draw(st.lists(st.integers(1, size - 1), max_size=8, unique=True)))
    parts = list(zip([0, *cuts], [*cuts, size], strict=True))
    golds = [task.gold_for_span(sample, s, e) for s, e in parts]
    union = combine(golds, sample.decomposition, sample.part_query)
    answer = sample.answer.split(LIST_SEPARATOR)
    named = list_items(union, sample.part_query.item_pattern)
    assert named == answer[: len(named)]
    chain = sample.metadata["chains"][0]["spans"]
    intact = any(s <= chain[0][0] and chain[-1][1] <= e for s, e in parts)
    assert (union == sample.answer) == intact


def test_vt_a_cut_between_the_first_two_links_loses_every_later_variable(tokenizer, make):
    task = get_task("variable_tracking", tokenizer)
    sample = make("variable_tracking", 4096, 0, 0)
    (first_start, first_end), (second_start, _), *_ = sample.metadata["chains"][0]["spans"]
    cut = (first_end + second_start) // 2
    parts = [(0, cut), (cut, len(sample.context))]
    golds = [task.gold_for_span(sample, s, e) for s, e in parts]
    assert golds == [sample.metadata["variables"][0], NONE_ANSWER]
    assert task.gold_for_span(sample, 0, len(sample.context)) == sample.answer
    assert task.gold_for_span(sample, first_start + 1, len(sample.context)) == NONE_ANSWER
    assert not task.exact_decomposition


def test_vt_examples_are_solved_correctly_and_parse(make):
    sample = make("variable_tracking", 2048, 0, 4)
    value = asked_value(sample)
    answers = sorted(example.answer for example in sample.query.examples)
    assert answers[-1] == NONE_ANSWER and len(answers) == 2
    for example in sample.query.examples:
        assert example.answer == (LIST_SEPARATOR.join(holders(example.context, value)) or "none")
        assert "The grass is green." in example.context or "The sky is blue." in example.context
        for name in re.findall(r"[A-Z]{5}", example.context):
            assert name not in sample.context
    prompt = build_prompt(sample.query, sample.context)
    assert prompt.count(sample.query.question) == 3
    listed = "QWERT, ASDFG and VAR ZXCVB"
    assert parse_answer(f" {listed}.", sample.query) == listed
    assert parse_answer(" none.", sample.query) == NONE_ANSWER


def test_vt_scorer_wants_every_variable(tokenizer, make):
    task = get_task("variable_tracking", tokenizer)
    sample = make("variable_tracking", 1024, 0, 0)
    names = sample.answer.split(LIST_SEPARATOR)
    assert task.score(sample.answer, sample) == 1.0
    assert task.score(" and ".join(reversed(names)) + ", QQQQQ", sample) == 1.0
    assert task.score(", ".join(f"VAR {name}" for name in names), sample) == 1.0
    assert task.score(LIST_SEPARATOR.join(names[:-1]), sample) == 0.0
    assert task.score(sample.answer.lower(), sample) == 0.0
    assert task.score(None, sample) == 0.0


@pytest.mark.parametrize(
    "options",
    [
        {"hops": 0},
        {"hops": 51},
        {"chains": 0},
        {"hops": "3"},
        {"chains": True},
        {"haystack": "nowhere"},
        {"structure": "sideways"},
        {"depth": 0.5},
    ],
)
def test_vt_bad_options_are_user_errors(tokenizer, options):
    with pytest.raises(UserError):
        get_task("variable_tracking", tokenizer, **options)


def test_vt_too_short_for_its_statements_is_a_user_error(tokenizer):
    task = get_task("variable_tracking", tokenizer, hops=20, chains=5)
    with pytest.raises(UserError, match="too few"):
        task.sample(256, 0, 0)


# --- common words: an independent counter of the list ---------------------------------------


def ranked(lines: list[str], k: int) -> list[str]:
    first = {}
    for position, word in enumerate(lines):
        first.setdefault(word, position)
    counts = Counter(lines)
    return sorted(counts, key=lambda word: (-counts[word], first[word]))[:k]


CW_CASES = [(1024, 10), (1500, 10), (4096, 1), (4096, 25), (16384, 10), (32768, 50)]


@pytest.mark.parametrize(("length", "k"), CW_CASES)
def test_cw_answer_is_the_most_frequent_words_far_ahead_of_the_rest(tokenizer, make, length, k):
    for index in range(2):
        sample = make("common_words", length, 0, index, k=k)
        lines = sample.context.split("\n")
        assert set(lines) <= set(VOCABULARY)
        answer = sample.answer.split(LIST_SEPARATOR)
        assert answer == ranked(lines, k) and len(answer) == k
        counts = Counter(lines)
        rest = [n for word, n in counts.items() if word not in answer]
        assert min(counts[w] for w in answer) > max(rest)
        assert min(counts[w] for w in answer) >= MIN_BLOCKS - 1
        assert abs(sample.actual_length - length) <= length_tolerance(length)
        assert sample.actual_length == tokenizer.count(sample.context)
        assert sample.query.question.startswith("What is" if k == 1 else f"What are the {k} ")


def test_cw_is_deterministic_and_varies_with_the_index(tokenizer):
    one = get_task("common_words", tokenizer).sample(2048, 5, 1)
    two = get_task("common_words", tokenizer).sample(2048, 5, 1)
    other = get_task("common_words", tokenizer).sample(2048, 5, 2)
    assert one.to_dict() == two.to_dict()
    assert other.context != one.context


def test_cw_spans_are_the_lines(make):
    sample = make("common_words", 4096, 1, 0)
    spans = sample.metadata["spans"]
    lines = sample.context.split("\n")
    assert [sample.context[s:e] for s, e in spans] == lines
    assert spans[0][0] == 0 and spans[-1][1] == len(sample.context)


def test_cw_uncommon_words_stay_rare_at_every_length(tokenizer):
    """The block arithmetic up to 1M tokens, without generating a million tokens: each common
    word is in every whole block, an uncommon word in at most one block per round through the
    vocabulary, plus one for the round in progress and two for lines fitting traded at the end."""
    task = get_task("common_words", tokenizer)
    mean = sum(tokenizer.count_many(["\n" + w for w in VOCABULARY])) / len(VOCABULARY)
    k = task.options.k
    for length in [1024, 1100, 1500, 2048, 3000, 5000, 2**14, 10**5, 2**17, 5 * 10**5, 2**20]:
        per_block = task.uncommon_per_block(length)
        blocks = int(length / mean) // (k + per_block)
        least_common = blocks - 2
        most_uncommon = (blocks + 1) * per_block // (len(VOCABULARY) - k) + 1 + 2
        assert least_common > most_uncommon, length


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_cw_gold_for_span_counts_the_whole_lines_inside(tokenizer, make, data):
    sample = make("common_words", 1024, data.draw(st.integers(0, 2)), 0)
    task = get_task("common_words", tokenizer)
    context = sample.context
    start = data.draw(st.integers(0, len(context)))
    end = data.draw(st.integers(start, len(context)))
    inside = [context[s:e] for s, e in sample.metadata["spans"] if start <= s and e <= end]
    assert whole_lines(context, start, end) == inside
    gold = task.gold_for_span(sample, start, end)
    assert gold == (LIST_SEPARATOR.join(ranked(inside, 10)) or NONE_ANSWER)


def test_cw_whole_context_gold_finishes_to_the_answer(tokenizer, make):
    task = get_task("common_words", tokenizer)
    sample = make("common_words", 2048, 0, 0)
    whole = task.gold_for_span(sample, 0, len(sample.context))
    assert finish(whole, sample.decomposition, sample.part_query) == sample.answer
    assert task.gold_for_span(sample, 3, 3) == NONE_ANSWER
    assert not task.exact_decomposition


@pytest.mark.parametrize("length", [4096, 16384])
def test_cw_voting_over_up_to_eight_parts_recovers_the_words(tokenizer, make, length):
    task = get_task("common_words", tokenizer)
    for index in range(3):
        sample = make("common_words", length, 0, index)
        for parts in range(1, 9):
            spans = split_span(sample.context, 0, len(sample.context), parts)
            golds = [task.gold_for_span(sample, s, e) for s, e in spans]
            voted = combine(golds, sample.decomposition, sample.part_query)
            final = finish(voted, sample.decomposition, sample.part_query)
            assert set(final.split(LIST_SEPARATOR)) == set(sample.answer.split(LIST_SEPARATOR))
            assert task.score(final, sample) == 1.0


def test_cw_scorer_is_recall(tokenizer, make):
    task = get_task("common_words", tokenizer)
    sample = make("common_words", 1024, 0, 0)
    words = sample.answer.split(LIST_SEPARATOR)
    assert task.score(sample.answer, sample) == 1.0
    assert task.score(" and ".join(reversed(words)), sample) == 1.0
    assert task.score(LIST_SEPARATOR.join(words[:3] + ["zzz"]), sample) == pytest.approx(0.3)
    assert task.score(LIST_SEPARATOR.join(w.upper() for w in words), sample) == 0.0
    assert task.score(None, sample) == 0.0
    assert parse_answer(" apple, pear and plum.", sample.query) == "apple, pear and plum"
    assert sample.query.max_tokens >= 3 * len(words)


@pytest.mark.parametrize("options", [{"k": 0}, {"k": 51}, {"k": "10"}, {"k": True}, {"n": 3}])
def test_cw_bad_options_are_user_errors(tokenizer, options):
    with pytest.raises(UserError):
        get_task("common_words", tokenizer, **options)


def test_cw_too_short_for_k_words_is_a_user_error(tokenizer):
    with pytest.raises(UserError, match="too few"):
        get_task("common_words", tokenizer, k=50).sample(512, 0, 0)


# --- the shipped vocabulary ------------------------------------------------------------------


def _filler_words() -> set[str]:
    words: set[str] = set()

    def collect(value: object) -> None:
        if isinstance(value, str):
            words.update(re.findall(r"[a-z]+", value.lower()))
        elif isinstance(value, tuple | list | frozenset | set):
            for item in value:
                collect(item)

    for value in vars(filler).values():
        collect(value)
    return words


def test_vocabularies_are_distinct_lowercase_words_and_needles_avoid_the_filler():
    for words in (VOCABULARY, NEEDLE_WORDS):
        assert len(set(words)) == len(words)
        assert all(re.fullmatch(r"[a-z]+", word) for word in words)
    assert len(VOCABULARY) >= 600 and len(NEEDLE_WORDS) >= 140
    filler_words = _filler_words()
    assert {"lantern", "gardener", "river"} & filler_words  # the collector does see the filler
    assert not set(NEEDLE_WORDS) & filler_words
    assert not set(NEEDLE_WORDS) & set(VOCABULARY)


def test_common_words_example_is_solved_and_shares_no_answer_word(tokenizer):
    task = get_task("common_words", tokenizer)
    for index in range(3):
        sample = task.sample(2048, 0, index)
        (example,) = sample.query.examples
        lines = example.context.split("\n")
        counts = Counter(lines)
        named = example.answer.split(", ")
        assert len(named) == 10 and all(counts[word] == 3 for word in named)
        assert all(counts[word] == 1 for word in counts if word not in named)
        assert not set(named) & set(sample.answer.split(", "))
        assert task.score(example.answer, sample) == 0.0
