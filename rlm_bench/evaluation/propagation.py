"""How errors travel up a recursion: from the leaves' partial answers to the final answer.

Every number here is read from the trace nodes the evaluator scored (`node_scoring.annotate`
stores `gold` and `correct` on them): a node counts when its `correct` is not None, so this
module never second-guesses which nodes were scorable, and traces from run folders written
before nodes were scored (no `correct` field) contribute nothing. The *leaves* are the scored
nodes of kind "call": the model calls that read a span of the context and answered the part
question (the leaves of a recursive tree, the sub-calls of a REPL trajectory). Aggregates are
not leaves: they combine answers by a rule and make no model call of their own.

Per (task, solver, length) cell, and only where the cell has at least one scored node:

- `levels`: per node depth, how many scored nodes there are and the share that is wrong. It
  shows where in the tree answers go wrong, e.g. leaves at depth 2 wrong 10% of the time but
  their parents at depth 1 wrong 35%: one wrong leaf spoils every aggregate above it.
- `leaf_error_rate` (wrong leaves / leaves, pooled over the cell's samples): how often the model
  gets a part question wrong, the raw material every final error is made from.
- `final_error_rate` (share of the samples with at least one scored leaf that score below 1;
  partial credit counts as wrong, as in the failure categories): the same population as the
  leaves, so the two rates compare like with like.
- `amplification` = final error rate / leaf error rate: how much the error grows from the leaves
  to the answer. Above 1, a few wrong leaves spoil many answers (with b leaves and an exact
  rule such as a sum, one wrong leaf in b is enough); below 1, the combine step absorbs leaf
  errors (a leaf that misses a needle another leaf found). None when no leaf is wrong, since
  there is then nothing to amplify (the final errors are all the combine step's or missing
  answers, and `p_wrong_given_leaves_right` says how many).
- `p_wrong_given_leaves_right` (over the samples whose scored leaves are all right) and
  `p_wrong_given_leaf_wrong` (over the samples with at least one wrong leaf) separate the two
  ways an answer goes wrong: errors that start at the leaves, and a combine step (a rule, or in
  a REPL the model's own code and root call) that breaks right leaves. Each comes with its
  count (`n_leaves_right`, `n_leaf_wrong`) and is None when its condition never happens.
- `final_errors`: every wrong sample of the cell (score < 1) gets one cause, the first that
  applies: "no answer" (no prediction, or the solver crashed: nothing reached the scorer),
  "no scored leaves" (no leaf to blame or clear, e.g. a REPL trajectory that never sub-called
  on a located span), "leaf error carried up" (a wrong leaf whose scored ancestors are all
  wrong too: its error reached the answer with nothing above it putting it right), else
  "aggregation error" (every leaf was right, or the wrong leaves were put right on the way up
  and a combine step went wrong above them). All four keys are always present, so figures can
  stack them in a fixed order. A leaf that wrongly answers an unparseable reply next to the
  leaf that found the needle is absorbed by the combine rule, and is not blamed.
- `pooled`: the same numbers per (task, solver) over all lengths, counted, not averaged.

Samples without a trace, or with a trace without scored nodes, still count in `samples` and in
`final_errors`; they are left out of every rate that is conditioned on leaves.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

FINAL_ERRORS = ("leaf error carried up", "aggregation error", "no answer", "no scored leaves")

Row = dict[str, Any]
Node = dict[str, Any]
CellKey = tuple[str, str, int]


def propagation(samples: list[Row], traces: list[Row]) -> dict[str, list[Row]]:
    """`{"levels": [LevelRow], "cells": [PropRow], "pooled": [PropRow without length]}`, sorted
    by (task, solver, length[, level]).

    Traces are paired to sample rows by (sample_id, solver); a trace with no sample row is
    ignored, since the row is what says which cell it belongs to and whether it was right."""
    nodes_of = {(t["sample_id"], t["solver"]): t["nodes"] for t in traces}
    cells: dict[CellKey, list[tuple[Row, list[Node]]]] = defaultdict(list)
    for row in samples:
        nodes = nodes_of.get((row["sample_id"], row["solver"]), [])
        cells[(row["task"], row["solver"], row["length"])].append((row, nodes))
    levels: list[Row] = []
    rows: list[Row] = []
    pooled: dict[tuple[str, str], list[tuple[Row, list[Node]]]] = defaultdict(list)
    for key in sorted(cells):
        members = cells[key]
        scored = [n for _, nodes in members for n in nodes if _scored(n)]
        if not scored:
            continue
        levels.extend(_level_rows(key, scored))
        task, solver, length = key
        rows.append({"task": task, "solver": solver, "length": length, **_rates(members)})
        pooled[(task, solver)].extend(members)
    return {
        "levels": levels,
        "cells": rows,
        "pooled": [
            {"task": task, "solver": solver, **_rates(members)}
            for (task, solver), members in sorted(pooled.items())
        ],
    }


def pool_levels(levels: list[Row]) -> list[Row]:
    """`levels` rows summed over lengths: per (task, solver, level) the scored nodes, the wrong
    ones and their ratio (counted, not an average of the rates), sorted."""
    counts: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0])
    for row in levels:
        total = counts[(row["task"], row["solver"], row["level"])]
        total[0] += row["nodes"]
        total[1] += row["wrong"]
    return [
        {"task": task, "solver": solver, "level": level, "nodes": nodes, "wrong": wrong,
         "error_rate": wrong / nodes}
        for (task, solver, level), (nodes, wrong) in sorted(counts.items())
        if nodes
    ]  # fmt: skip


def final_error(row: Row, nodes: list[Node]) -> str:
    """Why a wrong sample is wrong, as far as its scored nodes tell (see the module text)."""
    if row["prediction"] is None or row.get("error"):
        return "no answer"
    leaves = _leaves(nodes)
    if not leaves:
        return "no scored leaves"
    by_id = {n["id"]: n for n in nodes}
    if any(not leaf["correct"] and _carried_up(leaf, by_id) for leaf in leaves):
        return "leaf error carried up"
    return "aggregation error"


def _carried_up(leaf: Node, by_id: dict[int, Node]) -> bool:
    """Whether no scored ancestor of a wrong leaf is right (unscored ones, such as the REPL's
    code blocks and root calls, neither put it right nor show it)."""
    parent = leaf["parent"]
    while parent is not None:
        node = by_id[parent]
        if node.get("correct") is True:
            return False
        parent = node["parent"]
    return True


def _scored(node: Node) -> bool:
    return node.get("correct") is not None


def _leaves(nodes: list[Node]) -> list[Node]:
    return [n for n in nodes if _scored(n) and n["kind"] == "call"]


def _level_rows(key: CellKey, scored: list[Node]) -> list[Row]:
    task, solver, length = key
    by_level: dict[int, list[Node]] = defaultdict(list)
    for node in scored:
        by_level[node["depth"]].append(node)
    rows = []
    for level in sorted(by_level):
        nodes = by_level[level]
        wrong = sum(not n["correct"] for n in nodes)
        rows.append({
            "task": task, "solver": solver, "length": length, "level": level,
            "nodes": len(nodes), "wrong": wrong, "error_rate": wrong / len(nodes),
        })  # fmt: skip
    return rows


def _rates(members: list[tuple[Row, list[Node]]]) -> Row:
    leaves_of = [(row, nodes, _leaves(nodes)) for row, nodes in members]
    with_leaves = [(row, leaves) for row, _, leaves in leaves_of if leaves]
    leaf_nodes = sum(len(leaves) for _, leaves in with_leaves)
    wrong_leaves = sum(not n["correct"] for _, leaves in with_leaves for n in leaves)
    leaves_right = [row for row, leaves in with_leaves if all(n["correct"] for n in leaves)]
    leaf_wrong = [row for row, leaves in with_leaves if not all(n["correct"] for n in leaves)]
    leaf_error_rate = _share(wrong_leaves, leaf_nodes)
    final_error_rate = _share(sum(_wrong(row) for row, _ in with_leaves), len(with_leaves))
    final_errors = dict.fromkeys(FINAL_ERRORS, 0)
    for row, nodes, _ in leaves_of:
        if _wrong(row):
            final_errors[final_error(row, nodes)] += 1
    amplification = None
    if leaf_error_rate and final_error_rate is not None:
        amplification = final_error_rate / leaf_error_rate
    return {
        "samples": len(members),
        "samples_with_leaves": len(with_leaves),
        "leaf_nodes": leaf_nodes,
        "leaf_error_rate": leaf_error_rate,
        "final_error_rate": final_error_rate,
        "p_wrong_given_leaves_right": _share(sum(map(_wrong, leaves_right)), len(leaves_right)),
        "n_leaves_right": len(leaves_right),
        "p_wrong_given_leaf_wrong": _share(sum(map(_wrong, leaf_wrong)), len(leaf_wrong)),
        "n_leaf_wrong": len(leaf_wrong),
        "amplification": amplification,
        "final_errors": final_errors,
    }


def _wrong(row: Row) -> bool:
    return row["score"] < 1.0


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
