"""Error propagation on traces built by hand, where the right numbers are known."""

from __future__ import annotations

from typing import Any

import pytest

from rlm_bench.evaluation.propagation import FINAL_ERRORS, propagation


def node(id_, parent, depth, kind, span=None, correct=None, *, old=False) -> dict[str, Any]:
    """One trace node as `traces.jsonl` stores it; `old` drops gold/correct like old folders."""
    fields = {
        "id": id_, "parent": parent, "depth": depth, "kind": kind,
        "span": list(span) if span else None, "answer": "x", "output": "", "code": None,
        "error": None, "gold": None if correct is None else "x", "correct": correct,
    }  # fmt: skip
    if old:
        del fields["gold"], fields["correct"]
    return fields


def sample(i, score, *, task="t", solver="recursive_d2", length=512, prediction="1", error=None):
    sid = f"{task}/L{length}/s0/i{i}"
    return {
        "sample_id": sid, "task": task, "solver": solver, "length": length,
        "prediction": prediction, "score": score, "error": error,
    }  # fmt: skip


def trace(i, nodes, *, task="t", solver="recursive_d2", length=512) -> dict[str, Any]:
    return {"sample_id": f"{task}/L{length}/s0/i{i}", "solver": solver, "notes": {}, "nodes": nodes}


def depth2_tree(leaves: list[bool], mids: list[bool], root: bool) -> list[dict[str, Any]]:
    """Root aggregate -> two aggregates -> two leaf calls each (spans of 10 characters)."""
    nodes = [node(0, None, 0, "aggregate", (0, 40), root)]
    for m in range(2):
        nodes.append(node(1 + m, 0, 1, "aggregate", (20 * m, 20 * m + 20), mids[m]))
    for k, right in enumerate(leaves):
        nodes.append(node(3 + k, 1 + k // 2, 2, "call", (10 * k, 10 * k + 10), right))
    return nodes


def depth1_tree(leaves: list[bool], root: bool) -> list[dict[str, Any]]:
    nodes = [node(0, None, 0, "aggregate", (0, 40), root)]
    nodes += [node(1 + k, 0, 1, "call", (10 * k, 10 * k + 10), c) for k, c in enumerate(leaves)]
    return nodes


def repl_trace(subcalls: list[tuple[tuple[int, int] | None, bool | None]]) -> list[dict]:
    """Root call (depth 0, no span) -> one exec block -> sub-calls (depth 1, span or None)."""
    nodes = [node(0, None, 0, "call"), node(1, 0, 0, "exec")]
    nodes += [node(2 + k, 1, 1, "call", span, c) for k, (span, c) in enumerate(subcalls)]
    return nodes


EMPTY = {"levels": [], "cells": [], "pooled": []}


def only_cell(result: dict[str, list[dict]]) -> dict[str, Any]:
    assert len(result["cells"]) == 1
    return result["cells"][0]


def errors(**counts: int) -> dict[str, int]:
    named = {k.replace("_", " "): v for k, v in counts.items()}
    return {k: named.get(k, 0) for k in FINAL_ERRORS}


def test_a_wrong_leaf_carried_up_to_a_wrong_answer():
    nodes = depth2_tree([True, False, True, True], mids=[False, True], root=False)
    result = propagation([sample(0, 0.0)], [trace(0, nodes)])
    cell = only_cell(result)
    assert cell["samples"] == cell["samples_with_leaves"] == 1
    assert cell["leaf_nodes"] == 4
    assert cell["leaf_error_rate"] == 0.25
    assert cell["final_error_rate"] == 1.0
    assert cell["amplification"] == 4.0
    assert (cell["p_wrong_given_leaf_wrong"], cell["n_leaf_wrong"]) == (1.0, 1)
    assert (cell["p_wrong_given_leaves_right"], cell["n_leaves_right"]) == (None, 0)
    assert cell["final_errors"] == errors(leaf_error_carried_up=1)
    levels = [(r["level"], r["nodes"], r["wrong"], r["error_rate"]) for r in result["levels"]]
    assert levels == [(0, 1, 1, 1.0), (1, 2, 1, 0.5), (2, 4, 1, 0.25)]


def test_right_leaves_and_a_wrong_answer_is_an_aggregation_error():
    nodes = depth2_tree([True] * 4, mids=[True, True], root=False)
    cell = only_cell(propagation([sample(0, 0.0)], [trace(0, nodes)]))
    assert cell["leaf_error_rate"] == 0.0
    assert cell["amplification"] is None  # nothing to amplify
    assert (cell["p_wrong_given_leaves_right"], cell["n_leaves_right"]) == (1.0, 1)
    assert (cell["p_wrong_given_leaf_wrong"], cell["n_leaf_wrong"]) == (None, 0)
    assert cell["final_errors"] == errors(aggregation_error=1)


def test_no_prediction_or_a_crash_is_no_answer_before_any_leaf_is_blamed():
    samples = [sample(0, 0.0, prediction=None), sample(1, 0.0, error="RuntimeError: boom")]
    nodes = depth2_tree([False, True, True, True], mids=[False, True], root=False)
    traces = [trace(0, nodes), trace(1, nodes)]
    cell = only_cell(propagation(samples, traces))
    assert cell["final_errors"] == errors(no_answer=2)
    # Still counted in the leaf-conditioned rates: the leaves were wrong and so was the answer.
    assert (cell["p_wrong_given_leaf_wrong"], cell["n_leaf_wrong"]) == (1.0, 2)


def test_conditional_rates_separate_leaf_errors_from_combine_errors():
    samples = [sample(0, 1.0), sample(1, 0.0), sample(2, 0.0), sample(3, 1.0)]
    traces = [
        trace(0, depth1_tree([True] * 4, True)),  # right leaves, right answer
        trace(1, depth1_tree([True] * 4, False)),  # right leaves, combine broke them
        trace(2, depth1_tree([True, False, True, True], False)),  # leaf error carried up
        trace(3, depth1_tree([True, True, False, True], True)),  # leaf error absorbed
    ]
    result = propagation(samples, traces)
    cell = only_cell(result)
    assert cell["leaf_nodes"] == 16
    assert cell["leaf_error_rate"] == 2 / 16
    assert cell["final_error_rate"] == 0.5
    assert cell["amplification"] == 4.0
    assert (cell["p_wrong_given_leaves_right"], cell["n_leaves_right"]) == (0.5, 2)
    assert (cell["p_wrong_given_leaf_wrong"], cell["n_leaf_wrong"]) == (0.5, 2)
    assert cell["final_errors"] == errors(aggregation_error=1, leaf_error_carried_up=1)
    levels = [(r["level"], r["nodes"], r["wrong"], r["error_rate"]) for r in result["levels"]]
    assert levels == [(0, 4, 2, 0.5), (1, 16, 2, 0.125)]


def test_partial_credit_counts_as_a_wrong_answer():
    cell = only_cell(propagation([sample(0, 0.5)], [trace(0, depth1_tree([True] * 4, False))]))
    assert cell["final_error_rate"] == 1.0
    assert cell["final_errors"] == errors(aggregation_error=1)


def test_repl_trace_scores_only_located_sub_calls():
    nodes = repl_trace([((0, 100), True), ((100, 200), False), (None, None)])
    result = propagation([sample(0, 0.0, solver="repl")], [trace(0, nodes, solver="repl")])
    cell = only_cell(result)
    assert cell["solver"] == "repl"
    assert cell["leaf_nodes"] == 2  # the sub-call with no span is not scored
    assert cell["leaf_error_rate"] == 0.5
    assert cell["amplification"] == 2.0
    assert cell["final_errors"] == errors(leaf_error_carried_up=1)
    assert [(r["level"], r["nodes"], r["wrong"]) for r in result["levels"]] == [(1, 2, 1)]


def test_repl_sample_without_scored_sub_calls_has_no_scored_leaves():
    samples = [sample(0, 1.0, solver="repl"), sample(1, 0.0, solver="repl")]
    traces = [
        trace(0, repl_trace([((0, 100), True)]), solver="repl"),
        trace(1, repl_trace([(None, None), (None, None)]), solver="repl"),
    ]
    cell = only_cell(propagation(samples, traces))
    assert (cell["samples"], cell["samples_with_leaves"], cell["leaf_nodes"]) == (2, 1, 1)
    assert cell["final_error_rate"] == 0.0  # over the samples with leaves only
    assert cell["final_errors"] == errors(no_scored_leaves=1)


def test_scored_aggregates_without_scored_calls_give_levels_but_no_leaf_rates():
    nodes = [node(0, None, 0, "aggregate", (0, 10), False), node(1, 0, 1, "call", (0, 10))]
    result = propagation([sample(0, 0.0)], [trace(0, nodes)])
    cell = only_cell(result)
    assert (cell["samples_with_leaves"], cell["leaf_nodes"]) == (0, 0)
    assert cell["leaf_error_rate"] is None and cell["final_error_rate"] is None
    assert cell["amplification"] is None
    assert cell["final_errors"] == errors(no_scored_leaves=1)
    assert [(r["level"], r["nodes"]) for r in result["levels"]] == [(0, 1)]


def test_old_traces_without_gold_or_correct_contribute_nothing():
    old = [node(0, None, 0, "aggregate", (0, 20), old=True)]
    old += [node(1 + k, 0, 1, "call", (10 * k, 10 * k + 10), old=True) for k in range(2)]
    assert propagation([sample(0, 0.0)], [trace(0, old)]) == EMPTY


def test_a_cell_with_no_scored_node_gives_no_rows():
    direct = [node(0, None, 0, "call", (0, 40))]  # a root call answers the whole question
    samples = [sample(0, 0.0, solver="direct"), sample(0, 1.0)]
    traces = [trace(0, direct, solver="direct"), trace(0, depth1_tree([True] * 4, True))]
    result = propagation(samples, traces)
    assert [c["solver"] for c in result["cells"]] == ["recursive_d2"]
    assert {r["solver"] for r in result["levels"]} == {"recursive_d2"}


def test_traces_pair_with_samples_by_id_and_solver():
    samples = [sample(0, 1.0, solver="a"), sample(0, 0.0, solver="b")]
    traces = [
        trace(0, depth1_tree([True] * 4, True), solver="a"),
        trace(0, depth1_tree([False] * 4, False), solver="b"),
        trace(9, depth1_tree([False] * 4, False), solver="a"),  # no sample row: ignored
    ]
    a, b = propagation(samples, traces)["cells"]
    assert (a["solver"], a["leaf_error_rate"], a["final_error_rate"]) == ("a", 0.0, 0.0)
    assert (b["solver"], b["leaf_error_rate"], b["final_error_rate"]) == ("b", 1.0, 1.0)
    assert a["samples"] == 1


def test_a_sample_without_a_trace_counts_as_having_no_scored_leaves():
    samples = [sample(0, 1.0), sample(1, 0.0)]
    cell = only_cell(propagation(samples, [trace(0, depth1_tree([True] * 4, True))]))
    assert (cell["samples"], cell["samples_with_leaves"]) == (2, 1)
    assert cell["final_errors"] == errors(no_scored_leaves=1)


def test_outputs_are_sorted_by_task_solver_length_and_level():
    keys = [(t, s, n) for t in ("b", "a") for s in ("y", "x") for n in (1024, 512)]
    samples = [sample(0, 1.0, task=t, solver=s, length=n) for t, s, n in keys]
    nodes = depth2_tree([True] * 4, mids=[True, True], root=True)[::-1]
    traces = [trace(0, nodes, task=t, solver=s, length=n) for t, s, n in keys]
    result = propagation(samples, traces)
    cell_keys = [(c["task"], c["solver"], c["length"]) for c in result["cells"]]
    assert cell_keys == sorted(keys)
    level_keys = [(r["task"], r["solver"], r["length"], r["level"]) for r in result["levels"]]
    assert level_keys == sorted((*k, level) for k in keys for level in (0, 1, 2))


@pytest.mark.parametrize("traces", [[], [trace(0, depth1_tree([True] * 4, True))]])
def test_no_samples_give_empty_output(traces):
    assert propagation([], traces) == EMPTY


def test_a_wrong_leaf_put_right_above_it_is_not_blamed():
    # leaf 4 is wrong but its parent (node 1) is right: the combine rule absorbed it (a leaf
    # that misreads text next to the leaf that found the needle); the root then went wrong
    nodes = depth2_tree([True, False, True, True], mids=[True, True], root=False)
    cell = only_cell(propagation([sample(0, 0.0)], [trace(0, nodes)]))
    assert cell["final_errors"] == errors(aggregation_error=1)
    assert (cell["p_wrong_given_leaf_wrong"], cell["n_leaf_wrong"]) == (1.0, 1)


def test_a_repl_sub_call_error_is_carried_up_through_unscored_blocks():
    nodes = repl_trace([((0, 300), False), ((300, 600), True)])
    cell = only_cell(propagation([sample(0, 0.0, solver="repl")], [trace(0, nodes, solver="repl")]))
    assert cell["final_errors"] == errors(leaf_error_carried_up=1)


def test_pooled_rows_count_over_lengths_rather_than_average_rates():
    samples = [sample(0, 0.0, length=512), sample(0, 1.0, length=1024), sample(1, 1.0, length=1024)]
    traces = [
        trace(0, depth1_tree([False, True, True, True], False), length=512),  # 1 of 4 wrong
        trace(0, depth1_tree([True] * 4, True), length=1024),
        trace(1, depth1_tree([True] * 4, True), length=1024),
    ]
    result = propagation(samples, traces)
    assert [c["leaf_error_rate"] for c in result["cells"]] == [0.25, 0.0]
    (pooled,) = result["pooled"]
    assert "length" not in pooled
    assert (pooled["samples"], pooled["leaf_nodes"]) == (3, 12)
    assert pooled["leaf_error_rate"] == 1 / 12  # counted: the mean of the cells' rates is 1/8
    assert pooled["final_error_rate"] == 1 / 3
    assert pooled["amplification"] == 4.0
    assert pooled["final_errors"] == errors(leaf_error_carried_up=1)
