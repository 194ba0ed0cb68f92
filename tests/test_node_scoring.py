"""Intermediate answers scored against the task's span gold, and failure categories per sample,
on real generated samples and a ScriptedModel test double."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from rlm_bench.evaluation.failures import classify_failure, failure_of
from rlm_bench.evaluation.node_scoring import annotate, is_scored, node_correct
from rlm_bench.solvers import make_solver
from rlm_bench.solvers.base import Result, Trace
from rlm_bench.tasks import generated_tasks, get_task
from tests.doubles import ScriptedModel, gold_reader, last_text, oracle_reply


def solve(solver_name, params, sample, model):
    return asyncio.run(make_solver(solver_name, params).solve(sample, model))


@pytest.fixture(scope="module")
def multikey(tokenizer):
    task = get_task("niah_multikey", tokenizer)
    return task, task.sample(2048, seed=0, index=1)


@pytest.mark.parametrize("name", generated_tasks())
def test_a_perfect_reader_gets_every_scored_node_right(tokenizer, name):
    task = get_task(name, tokenizer)
    sample = task.sample(2048, seed=2, index=0)
    model = ScriptedModel(tokenizer, reply=gold_reader(task, sample))
    nodes = solve("recursive", {"depth": 2, "fanout": 2}, sample, model).trace.to_list()
    annotate(nodes, task, sample)
    scored = [n for n in nodes if n["correct"] is not None]
    assert {n["kind"] for n in scored} == {"call", "aggregate"}
    assert [n["depth"] for n in scored if n["parent"] is None] == [0]  # the root combine
    if task.exact_decomposition:
        assert all(n["correct"] for n in scored)
    else:  # a vote of the parts' answers need not be the whole's answer: only leaves are exact
        assert all(n["correct"] for n in scored if n["kind"] == "call")


def test_one_misled_leaf_is_the_one_scored_wrong(tokenizer, multikey):
    task, sample = multikey
    needle = next(n for n in sample.metadata["needles"] if n["answers"])
    perfect = gold_reader(task, sample)

    def misled(prompt: str) -> str:  # says "none" where the asked needle is
        text = last_text(prompt)
        return " none." if needle["value"] in text else perfect(prompt)

    nodes = solve("recursive", {"depth": 1, "fanout": 4}, sample, ScriptedModel(tokenizer, misled))
    nodes = nodes.trace.to_list()
    annotate(nodes, task, sample)
    wrong = [n for n in nodes if n["correct"] is False]
    assert {n["kind"] for n in wrong} == {"call", "aggregate"}
    (leaf,) = [n for n in wrong if n["kind"] == "call"]
    assert leaf["answer"] == "none" and leaf["gold"] == needle["value"]
    assert sample.context[slice(*leaf["span"])].count(needle["value"]) == 1


def test_direct_root_call_is_left_to_the_sample_score(tokenizer, multikey):
    task, sample = multikey
    model = ScriptedModel(tokenizer, reply=gold_reader(task, sample))
    nodes = solve("direct", {}, sample, model).trace.to_list()
    annotate(nodes, task, sample)
    assert nodes[0]["gold"] is None and nodes[0]["correct"] is None


@pytest.mark.parametrize(
    ("node", "scored"),
    [
        ({"kind": "call", "span": [0, 9], "depth": 0}, False),  # answers the whole question
        ({"kind": "aggregate", "span": [0, 9], "depth": 0}, True),
        ({"kind": "call", "span": [0, 9], "depth": 1}, True),
        ({"kind": "call", "span": None, "depth": 1}, False),  # a REPL sub-call of no known span
        ({"kind": "exec", "span": [0, 9], "depth": 1}, False),
    ],
)
def test_which_nodes_are_scored(node, scored):
    assert is_scored(node) is scored


def test_answers_are_read_the_way_their_combine_rule_reads_them(tokenizer):
    tally = get_task("aggregation_most_frequent", tokenizer).sample(1024, seed=0, index=0)
    assert node_correct("beta: 2, alpha: 1", "alpha: 1, beta: 2", tally)
    assert not node_correct("beta: 2, alpha: 2", "alpha: 1, beta: 2", tally)
    assert node_correct("none", "none", tally)
    listing = get_task("niah_multivalue", tokenizer).sample(1024, seed=0, index=0)
    assert node_correct("2222222, 1111111", "1111111, 2222222", listing)
    assert not node_correct("1111111", "1111111, 2222222", listing)
    value = get_task("niah_single", tokenizer).sample(1024, seed=0, index=0)
    assert node_correct("The number is 1234567.", "1234567", value)  # a REPL sub-call's reply
    assert not node_correct("1234568", "1234567", value)
    assert not node_correct(None, "none", value)


@pytest.fixture(scope="module")
def needle_sample(tokenizer):
    return get_task("niah_single", tokenizer).sample(1024, seed=0, index=0)


def result(prediction, **fields):
    return Result(prediction=prediction, trace=Trace(), **fields)


@pytest.mark.parametrize(
    ("score", "error", "outcome", "expected"),
    [
        (1.0, None, result("x"), None),
        (0.0, "RuntimeError: boom", None, "crash"),
        (0.0, None, result("1111111", truncated=True), "truncated input"),
        (0.0, None, result(None), "no answer"),
        (0.0, None, result("none"), "no answer"),
        (0.0, None, result(None, unparsed=" I think it is seven"), "format error"),
        (0.0, None, result("it is seven"), "format error"),  # a REPL FINAL of no number
        (0.0, None, result("1111111"), "wrong value"),
        (0.75, None, result("1111111"), "wrong value"),  # partial credit is not full credit
    ],
)
def test_failure_categories(needle_sample, score, error, outcome, expected):
    assert classify_failure(score, error, outcome, needle_sample) == expected


def test_a_needle_sample_answered_none_is_right_when_none_is_the_answer(needle_sample):
    sample = replace(needle_sample, answer="none")
    assert classify_failure(1.0, None, result("none"), sample) is None


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"error": "X: y", "score": 0.0, "prediction": None}, "crash"),
        ({"error": None, "score": 1.0, "prediction": "7"}, None),
        ({"error": None, "score": 0.0, "prediction": "7", "truncated": True}, "truncated input"),
        ({"error": None, "score": 0.0, "prediction": None}, "no answer"),
        ({"error": None, "score": 0.0, "prediction": "none"}, "no answer"),
        ({"error": None, "score": 0.5, "prediction": "7"}, "wrong value"),
        ({"error": None, "score": 0, "prediction": "", "failure": "format error"}, "format error"),
    ],
)
def test_rows_from_older_runs_get_the_nearest_category(row, expected):
    assert failure_of(row) == expected


def test_a_repl_run_scores_its_sub_calls_and_blames_the_one_that_missed(tokenizer):
    from rlm_bench.evaluation.propagation import propagation
    from tests.test_repl_solver import CHUNK_AND_ASK, PEEK, TrajectoryModel, key_of

    task = get_task("niah_single", tokenizer)
    sample = task.sample(2048, 0, 1)
    needle_value = sample.answer

    def misses_the_needle(prompt: str) -> str:
        return " none." if needle_value in prompt else oracle_reply(prompt)

    model = TrajectoryModel(
        tokenizer,
        [PEEK, CHUNK_AND_ASK.format(key=key_of(sample)), "FINAL_VAR(result)"],
        sub_reply=misses_the_needle,
    )
    outcome = asyncio.run(make_solver("repl", {}).solve(sample, model))
    nodes = outcome.trace.to_list()
    annotate(nodes, task, sample)
    subs = [n for n in nodes if n["kind"] == "call" and n["depth"] == 1]
    assert subs and all(n["correct"] is not None for n in subs)
    assert [n["gold"] == needle_value for n in subs].count(True) == 1
    assert [not n["correct"] for n in subs].count(True) == 1  # only the chunk with the needle
    row = {"sample_id": sample.sample_id, "task": "niah_single", "solver": "repl", "length": 2048,
           "prediction": outcome.prediction, "score": task.score(outcome.prediction, sample),
           "error": None}  # fmt: skip
    (cell,) = propagation([row], [{"sample_id": sample.sample_id, "solver": "repl",
                                   "nodes": nodes}])["cells"]  # fmt: skip
    assert cell["leaf_error_rate"] == 1 / len(subs) and cell["final_error_rate"] == 1.0
    assert cell["final_errors"]["leaf error carried up"] == 1
