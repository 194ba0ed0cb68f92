"""Scoring the intermediate answers of a trace against the task's answer for their span.

A node is scored when it covers a known span and answers the *part* question (every node below
the root, and a root that combined its parts' answers). A root model call answers the whole
question instead, and the sample's own score says whether it was right. A REPL sub-call asks a
question of the model's own wording; it is scored as if it had asked the part question, which
is what a sub-call over that span would need to get right for the answer to come out right.
Other kinds are never scored: code blocks (`exec`), BM25 hits (`retrieve`) and the summary
agent's compaction steps (`summarize`, which answer "what matters so far", not the part
question).
"""

from __future__ import annotations

from typing import Any

from rlm_bench.solvers.prompts import parse_answer
from rlm_bench.tasks.base import Sample, Task
from rlm_bench.tasks.combining import list_items, parse_tally

SCORED_KINDS = ("call", "aggregate")


def is_scored(node: dict[str, Any]) -> bool:
    if node["kind"] not in SCORED_KINDS or node["span"] is None:
        return False
    return node["depth"] > 0 or node["kind"] == "aggregate"


def node_correct(answer: str | None, gold: str, sample: Sample) -> bool:
    """Whether a partial answer says what the gold answer says, read the way the combine rule
    reads it: tallies label by label, lists as sets, single values exactly."""
    if answer is None:
        return False
    query = sample.part_query
    if sample.decomposition.combine == "tally":
        return +parse_tally(answer) == +parse_tally(gold)
    if query.item_pattern is not None:
        return set(list_items(answer, query.item_pattern)) == set(
            list_items(gold, query.item_pattern)
        )
    return parse_answer(answer, query) == gold


def annotate(nodes: list[dict[str, Any]], task: Task, sample: Sample) -> None:
    """Fill `gold` and `correct` of every scored node, in place."""
    for node in nodes:
        if is_scored(node):
            start, end = node["span"]
            gold = task.gold_for_span(sample, start, end)
            if gold is None:  # the task cannot say (a benchmark's rows without item labels)
                continue
            node["gold"] = gold
            node["correct"] = node_correct(node["answer"], gold, sample)
