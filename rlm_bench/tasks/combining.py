"""The combine and finish rules of `Decomposition`: answers about parts -> answer about the whole.

They live with the tasks because they are part of what a task means (a count over a partition
is the sum of the counts), and a task's property tests check that combining the gold answers of
any partition gives the gold answer of the whole.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import combinations

from rlm_bench.tasks.base import LIST_SEPARATOR, NONE_ANSWER, Decomposition, Query

PAIR_JOINER = " & "
TALLY_ITEM = r"[a-z][a-z-]*: \d+"


def list_items(answer: str | None, item_pattern: str) -> list[str]:
    """The distinct items of a list answer, in order of first appearance ("none" has none)."""
    if answer is None or answer == NONE_ANSWER:
        return []
    return list(dict.fromkeys(re.findall(item_pattern, answer)))


def join_items(items: list[str]) -> str:
    return LIST_SEPARATOR.join(items) if items else NONE_ANSWER


def parse_tally(answer: str | None) -> Counter[str]:
    tally: Counter[str] = Counter()
    for item in re.findall(TALLY_ITEM, answer or ""):
        label, count = item.split(": ")
        tally[label] += int(count)
    return tally


def format_tally(tally: Counter[str]) -> str:
    """Largest first, then by label, so equal tallies are written alike."""
    ranked = sorted((item for item in tally.items() if item[1] > 0), key=lambda x: (-x[1], x[0]))
    return join_items([f"{label}: {count}" for label, count in ranked])


def _find(answers: list[str | None]) -> str:
    found = [a for a in answers if a is not None and a != NONE_ANSWER]
    # Several parts claiming a value means some part hallucinated; the most common claim wins,
    # the earliest on a tie.
    return Counter(found).most_common(1)[0][0] if found else NONE_ANSWER


def _sum(answers: list[str | None]) -> str:
    return str(sum(int(a) for a in answers if a is not None and a.lstrip("-").isdigit()))


def _vote(answers: list[str | None], item_pattern: str, keep: int | None) -> str:
    votes: Counter[str] = Counter()
    for answer in answers:
        votes.update(list_items(answer, item_pattern))
    ranked = [item for item, _ in votes.most_common()]  # stable: first named first on a tie
    return join_items(ranked[:keep] if keep else ranked)


def combine(answers: list[str | None], decomposition: Decomposition, part: Query) -> str:
    """The answer about the union of disjoint parts, from the answers about each part (None is
    a part that gave no parseable answer; it contributes nothing)."""
    rule = decomposition.combine
    if rule == "find":
        return _find(answers)
    if rule == "sum":
        return _sum(answers)
    if rule == "tally":
        total: Counter[str] = Counter()
        for answer in answers:
            total.update(parse_tally(answer))
        return format_tally(total)
    if part.item_pattern is None:
        raise ValueError(f"combine rule {rule!r} needs a list query with an item_pattern")
    if rule == "union":
        merged: list[str] = []
        for answer in answers:
            merged.extend(list_items(answer, part.item_pattern))
        return join_items(list(dict.fromkeys(merged)))
    if rule == "vote":
        return _vote(answers, part.item_pattern, decomposition.keep)
    raise ValueError(f"unknown combine rule {rule!r}")


def finish(combined: str, decomposition: Decomposition, part: Query) -> str:
    """The final answer from the combined answer about the whole context."""
    rule = decomposition.finish
    if rule == "same":
        return combined
    if rule == "argmax":
        ranked = format_tally(parse_tally(combined))
        return ranked.split(":")[0] if ranked != NONE_ANSWER else NONE_ANSWER
    if part.item_pattern is None:
        raise ValueError(f"finish rule {rule!r} needs a list query with an item_pattern")
    items = list_items(combined, part.item_pattern)
    if rule == "pairs":
        return join_items([PAIR_JOINER.join(pair) for pair in combinations(sorted(items), 2)])
    if rule == "top":
        return join_items(items[: decomposition.keep])
    raise ValueError(f"unknown finish rule {rule!r}")
