"""The machinery every task shares: exact-length fitting, task options, scorers, combine rules."""

from __future__ import annotations

from collections import Counter
from itertools import count

import pytest

from rlm_bench.errors import UserError
from rlm_bench.tasks import get_task
from rlm_bench.tasks.base import NONE_ANSWER, Decomposition, Query, length_tolerance
from rlm_bench.tasks.combining import combine, finish, format_tally, parse_tally
from rlm_bench.tasks.fitting import fit_units, join_units
from rlm_bench.tasks.scoring import all_of, exact_match, extract, f1, partial_credit, recall

WORDS = Query("q", "a", r"[a-z]+(?:, [a-z]+)*", item_pattern=r"\b(?!and\b)[a-z]+")


def test_fit_units_is_generic(tokenizer):
    words = (f" word{n}" for n in count())
    fitted = fit_units(words, 700, tokenizer, reserved=5, assemble=lambda u: join_units(u) + "!")
    assert fitted.tokens == tokenizer.count(fitted.text)
    assert abs(fitted.tokens - 700) <= length_tolerance(700)
    assert fitted.text.startswith("word0 word1 ") and fitted.text.endswith("!")
    with pytest.raises(ValueError):
        fit_units(words, 10, tokenizer, reserved=10)


def test_task_options_are_checked_with_one_line_errors(tokenizer):
    with pytest.raises(UserError, match="unknown option 'colour'.*known: depths, haystack"):
        get_task("niah_single", tokenizer, colour="red")
    with pytest.raises(UserError, match="option 'keys': expected int"):
        get_task("niah_multikey", tokenizer, keys="many")
    with pytest.raises(UserError, match="'value_kind' must be one of number, word, uuid"):
        get_task("niah_single", tokenizer, value_kind="emoji")
    with pytest.raises(UserError, match="option 'depths'"):
        get_task("niah_single", tokenizer, depths=[0.5, 1.5])
    with pytest.raises(UserError, match="unknown haystack 'moss'"):
        get_task("niah_single", tokenizer, haystack="moss").sample(512, 0, 0)
    task = get_task("niah_single", tokenizer, label="niah_deep", depths=[1])
    assert task.options.depths == (1.0,)
    assert task.sample(512, 0, 0).sample_id == "niah_deep/L512/s0/i0"


def test_scoring_helpers():
    assert extract(r"\d{7}", "It is 1234567, I think") == "1234567"
    assert extract(r"\d{7}", None) is None
    assert exact_match(" 1234567.", "1234567", r"\d{7}") == 1.0
    assert exact_match("7654321", "1234567", r"\d{7}") == 0.0
    assert partial_credit("7", 7, r"-?\d+") == 1.0
    assert partial_credit(" 5 records", 7, r"-?\d+") == pytest.approx(0.5625)
    assert partial_credit("none", 7, r"-?\d+") == 0.0
    assert all_of("b, a and c", ["a", "b"], r"[a-z]+") == 1.0
    assert all_of("a", ["a", "b"], r"[a-z]+") == 0.0
    assert recall("a, c", ["a", "b", "c", "d"], r"[a-z]+") == 0.5
    assert f1("a, b", ["a", "b"], r"[a-z]+") == 1.0
    assert f1("a, x", ["a", "b"], r"[a-z]+") == pytest.approx(0.5)
    assert f1(None, [], r"[a-z]+") == 1.0
    assert f1("x", [], r"[a-z]+") == 0.0


@pytest.mark.parametrize(
    ("rule", "answers", "expected"),
    [
        ("find", ["none", "1234567", None, "none"], "1234567"),
        ("find", ["none", None], NONE_ANSWER),
        ("find", ["7654321", "1234567", "1234567"], "1234567"),
        ("sum", ["3", None, "0", "4", "many"], "7"),
        ("union", ["b, a", "none", None, "a and c"], "b, a, c"),
        ("union", ["none", None], NONE_ANSWER),
        ("tally", ["food: 2, travel: 1", None, "travel: 3"], "travel: 4, food: 2"),
    ],
)
def test_combine_rules(rule, answers, expected):
    assert combine(answers, Decomposition(combine=rule), WORDS) == expected


def test_vote_ranks_items_by_how_many_parts_name_them():
    decomposition = Decomposition(combine="vote", finish="top", keep=2)
    combined = combine(["a, b, c", "c, b", "b, d", None], decomposition, WORDS)
    assert combined == "b, c"
    assert finish("b, c, a", decomposition, WORDS) == "b, c"


def test_finish_rules():
    assert finish("food: 2, travel: 5", Decomposition("tally", finish="argmax"), WORDS) == "travel"
    assert finish(NONE_ANSWER, Decomposition("tally", finish="argmax"), WORDS) == NONE_ANSWER
    pairs = finish("wei, ana, bo", Decomposition("union", finish="pairs"), WORDS)
    assert pairs == "ana & bo, ana & wei, bo & wei"
    assert finish("wei", Decomposition("union", finish="pairs"), WORDS) == NONE_ANSWER


def test_tally_round_trips_and_orders_ties_by_label():
    tally = Counter({"travel": 2, "food": 2, "music": 5, "sports": 0})
    assert format_tally(tally) == "music: 5, food: 2, travel: 2"
    assert parse_tally(format_tally(tally)) == +tally
