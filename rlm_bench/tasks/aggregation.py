"""Aggregation tasks over a long log of records (OOLONG style): count the records of a category,
name the most frequent category, list the pairs of users who share a rare category, add up the
amounts of a category.

Unlike a needle search, every line matters, so the answer cannot be found by skimming and the
error of a recursive solver accumulates over its sub-calls. Every gold answer is read back from
the fitted text, never from what the generator meant to write: the fitter drops and trades
records near the end. A span's gold counts only the records whose whole line lies in it, so the
golds of the parts of any partition on line boundaries combine into the gold of the whole.
"""

from __future__ import annotations

import random
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import cached_property
from itertools import combinations
from operator import itemgetter
from typing import Any

from rlm_bench.tasks import TASKS
from rlm_bench.tasks.base import (
    LIST_SEPARATOR,
    NONE_ANSWER,
    Decomposition,
    Example,
    Query,
    Sample,
    length_tolerance,
)
from rlm_bench.tasks.combining import PAIR_JOINER, format_tally, join_items
from rlm_bench.tasks.fitting import fit_units, join_units
from rlm_bench.tasks.records import (
    CATEGORIES,
    USERS,
    RecordMaker,
    draw_weights,
    label_of,
    parse_record,
)
from rlm_bench.tasks.scoring import exact_match, f1, partial_credit
from rlm_bench.tasks.task_base import TaskBase

EXAMPLE_RECORDS = (3, 6)
EXAMPLE_HIT_RATE = 0.4
COUNT_PATTERN = r"-?\d+"
ANSWER_SLACK = 4
"""Tokens allowed beyond the longest well-formed answer: the closing "." and a stray space."""

LEAD = (1.2, 2.0)
"""How much more likely the favored category is than the most likely other one: enough that
it usually wins, not so much that the answer is obvious from the first screen of the log."""

PAIR_USERS = (3, 5)
"""Users who get the rare category: 3 to 10 pairs, a list a small model can still write."""
PLANTS_PER_USER = 3
PLANT_EVERY = 16_384
"""Tokens of log per extra record a pair user may get (up to `PLANTS_PER_USER`), so long logs
hold a user's rare record more than once without short logs being made of nothing else."""


def _alternation(words: Iterable[str]) -> str:
    """Longest first and within word boundaries, so no name is matched inside another."""
    ordered = sorted((re.escape(w) for w in words), key=lambda w: (-len(w), w))
    return r"\b(?:" + "|".join(ordered) + r")\b"


def _list_of(item: str) -> str:
    return rf"{item}(?:, ?{item})*"


CATEGORY = _alternation(CATEGORIES)
USER = _alternation(USERS)
PAIR = rf"{USER} ?(?:&|and) ?{USER}"
"""A pair as written ("a & b") or as a model may write it ("b and a"); `_pair_key` makes both
the same pair."""
CATEGORY_TALLY = rf"{CATEGORY}: \d+"


def line_spans(lines: Sequence[str]) -> list[list[int]]:
    """[start, end] of every line without its newline: where a split may not cut."""
    spans = []
    start = 0
    for line in lines:
        spans.append([start, start + len(line)])
        start += len(line) + 1
    return spans


def records_within(sample: Sample, start: int, end: int) -> range:
    """Indices of the records whose whole line lies in context[start:end]; line spans are
    sorted by both ends, so two bisections find them."""
    spans = sample.metadata["spans"]
    first = bisect_left(spans, start, key=itemgetter(0))
    last = bisect_right(spans, end, key=itemgetter(1))
    return range(first, max(first, last))


def hits_within(sample: Sample, records: range) -> list[Any]:
    """The values of the asked category's records (`[index, value]`, by index) in `records`."""
    hits = sample.metadata["hits"]
    low = bisect_left(hits, records.start, key=itemgetter(0))
    high = bisect_left(hits, records.stop, key=itemgetter(0))
    return [value for _, value in hits[low:high]]


def users_with(lines: Iterable[str], category: str) -> list[str]:
    """Users with a record of `category`, in order of first appearance."""
    return list(dict.fromkeys(parse_record(ln).user for ln in lines if label_of(ln) == category))


def pairs_of(users: Iterable[str]) -> str:
    return join_items([PAIR_JOINER.join(pair) for pair in combinations(sorted(users), 2)])


def _pair_key(item: str) -> str:
    return PAIR_JOINER.join(sorted(re.findall(USER, item)))


def _one_category_examples(
    rng: random.Random,
    records: RecordMaker,
    category: str,
    answer: Callable[[list[str]], str],
) -> tuple[Example, ...]:
    """One example has none of the asked category, one has some, in a random order: a base model
    learns both that zero is an answer and that lines are counted one by one."""
    others = [c for c in CATEGORIES if c != category]
    without = [rng.choice(others) for _ in range(rng.randint(*EXAMPLE_RECORDS))]
    with_some = [
        category if rng.random() < EXAMPLE_HIT_RATE else rng.choice(others)
        for _ in range(rng.randint(*EXAMPLE_RECORDS))
    ]
    if category not in with_some:
        with_some[rng.randrange(len(with_some))] = category
    examples = []
    for labels in (without, with_some):
        lines = [records.record(label) for label in labels]
        examples.append(Example("\n".join(lines), answer(lines)))
    rng.shuffle(examples)
    return tuple(examples)


class _LogTask(TaskBase):
    """Fits a log of records and measures it once; the subclasses ask about it."""

    def _fit_lines(self, records: RecordMaker, length: int) -> tuple[list[str], int]:
        fitted = fit_units(records.units(), length, self.tokenizer)
        return fitted.text.split("\n"), fitted.tokens

    def _max_tokens(self, longest_answer: str) -> int:
        return self.tokenizer.count(" " + longest_answer) + ANSWER_SLACK


@TASKS.register("aggregation_count")
class AggregationCount(_LogTask):
    name = "aggregation_count"
    description = "count the records of one category in a log"
    scorer = "partial credit 0.75^|error|"

    def sample(self, length: int, seed: int, index: int) -> Sample:
        rng = self.rng(length, seed, index)
        records = RecordMaker(rng)
        lines, tokens = self._fit_lines(records, length)
        labels = [label_of(line) for line in lines]
        category = rng.choice([c for c in CATEGORIES if c in labels])

        def count(lines: list[str]) -> str:
            return str(sum(label_of(line) == category for line in lines))

        query = Query(
            question=f"How many records have the category {category}?",
            answer_prefix=f"The number of records with the category {category} is",
            answer_pattern=COUNT_PATTERN,
            examples=_one_category_examples(rng, records, category, count),
        )
        return self.make_sample(
            length=length,
            seed=seed,
            index=index,
            context="\n".join(lines),
            actual_length=tokens,
            query=query,
            answer=count(lines),
            decomposition=Decomposition("sum"),
            metadata={"category": category, "spans": line_spans(lines), "labels": labels},
        )

    def score(self, prediction: str | None, sample: Sample) -> float:
        return partial_credit(prediction, int(sample.answer), sample.query.answer_pattern)

    def gold_for_span(self, sample: Sample, start: int, end: int) -> str:
        records = records_within(sample, start, end)
        labels = sample.metadata["labels"][records.start : records.stop]
        return str(labels.count(sample.metadata["category"]))


@TASKS.register("aggregation_sum")
class AggregationSum(_LogTask):
    name = "aggregation_sum"
    description = "add up the amounts of the records of one category in a log"
    scorer = "partial credit 0.75^|error|"

    def sample(self, length: int, seed: int, index: int) -> Sample:
        rng = self.rng(length, seed, index)
        records = RecordMaker(rng, amounts=True)
        lines, tokens = self._fit_lines(records, length)
        parsed = [parse_record(line) for line in lines]
        present = {record.category for record in parsed}
        category = rng.choice([c for c in CATEGORIES if c in present])
        hits = [[i, r.amount] for i, r in enumerate(parsed) if r.category == category]

        def total(lines: list[str]) -> str:
            found = (parse_record(line) for line in lines)
            return str(sum(r.amount or 0 for r in found if r.category == category))

        query = Query(
            question=f"What is the total amount of the records with the category {category}?",
            answer_prefix=f"The total amount of the records with the category {category} is",
            answer_pattern=COUNT_PATTERN,
            examples=_one_category_examples(rng, records, category, total),
        )
        return self.make_sample(
            length=length,
            seed=seed,
            index=index,
            context="\n".join(lines),
            actual_length=tokens,
            query=query,
            answer=str(sum(amount for _, amount in hits)),
            decomposition=Decomposition("sum"),
            metadata={
                "category": category,
                "spans": line_spans(lines),
                "labels": [r.category for r in parsed],
                "hits": hits,
            },
        )

    def score(self, prediction: str | None, sample: Sample) -> float:
        return partial_credit(prediction, int(sample.answer), sample.query.answer_pattern)

    def gold_for_span(self, sample: Sample, start: int, end: int) -> str:
        return str(sum(hits_within(sample, records_within(sample, start, end))))


def untie(lines: list[str], labels: list[str], favorite: str) -> bool:
    """Give the lead to one category when the fitted log ties at the top: the last record of
    every other leader is relabelled to the favorite (or to the first leader, when the favorite
    is not among them). Category names are single tokens, so the length barely moves; the
    caller measures it again. Returns whether anything changed."""
    tally = Counter(labels)
    top = max(tally.values())
    leaders = [c for c in CATEGORIES if tally[c] == top]
    if len(leaders) == 1:
        return False
    winner = favorite if favorite in leaders else leaders[0]
    for loser in leaders:
        if loser == winner:
            continue
        last = len(labels) - 1 - labels[::-1].index(loser)
        lines[last] = lines[last][: -len(loser)] + winner
        labels[last] = winner
    return True


def _tally_examples(rng: random.Random, records: RecordMaker) -> tuple[Example, ...]:
    """Small logs over a few categories, so counts above one show up."""
    examples = []
    for _ in range(2):
        pool = rng.sample(CATEGORIES, 3)
        lines = [records.record(rng.choice(pool)) for _ in range(rng.randint(*EXAMPLE_RECORDS))]
        labels = [label_of(line) for line in lines]
        examples.append(Example("\n".join(lines), format_tally(Counter(labels))))
    return tuple(examples)


def _most_frequent_examples(rng: random.Random, records: RecordMaker) -> tuple[Example, ...]:
    """The winner appears two or three times, every other category once, so each example has
    exactly one right answer."""
    examples = []
    for winner in rng.sample(CATEGORIES, 2):
        others = rng.sample([c for c in CATEGORIES if c != winner], rng.randint(2, 3))
        labels = [winner] * rng.randint(2, 3) + others
        rng.shuffle(labels)
        lines = [records.record(label) for label in labels]
        top = Counter(label_of(line) for line in lines).most_common(1)[0][0]
        examples.append(Example("\n".join(lines), top))
    return tuple(examples)


@TASKS.register("aggregation_most_frequent")
class AggregationMostFrequent(_LogTask):
    name = "aggregation_most_frequent"
    description = "name the most frequent category in a log"
    scorer = "exact match"

    def sample(self, length: int, seed: int, index: int) -> Sample:
        rng = self.rng(length, seed, index)
        favorite = rng.choice(CATEGORIES)
        weights = draw_weights(rng)
        weights[CATEGORIES.index(favorite)] = max(weights) * rng.uniform(*LEAD)
        records = RecordMaker(rng, weights=weights)
        lines, labels, tokens = self._fit_without_tie(records, length, favorite)
        tally = Counter(labels)
        digits = len(str(len(lines)))
        longest_tally = format_tally(Counter({c: 10**digits - 1 for c in CATEGORIES}))
        part = Query(
            question="How many records are there of each category?",
            answer_prefix="The numbers of records by category are",
            answer_pattern=_list_of(CATEGORY_TALLY),
            item_pattern=CATEGORY_TALLY,
            examples=_tally_examples(rng, records),
            max_tokens=self._max_tokens(longest_tally),
        )
        query = Query(
            question="Which category is the most frequent?",
            answer_prefix="The most frequent category is",
            answer_pattern=CATEGORY,
            examples=_most_frequent_examples(rng, records),
        )
        return self.make_sample(
            length=length,
            seed=seed,
            index=index,
            context="\n".join(lines),
            actual_length=tokens,
            query=query,
            answer=tally.most_common(1)[0][0],
            decomposition=Decomposition("tally", part=part, finish="argmax"),
            metadata={"tally": format_tally(tally), "spans": line_spans(lines), "labels": labels},
        )

    def _fit_without_tie(
        self, records: RecordMaker, length: int, favorite: str
    ) -> tuple[list[str], list[str], int]:
        """A fitted log with one most frequent category; relabelling a record to break a tie
        is measured again, as the length is a promise of the sample."""
        lines, tokens = self._fit_lines(records, length)
        labels = [label_of(line) for line in lines]
        if untie(lines, labels, favorite):
            tokens = self.tokenizer.count("\n".join(lines))
            if abs(tokens - length) > length_tolerance(length):
                raise RuntimeError(f"breaking a tie moved the length to {tokens} tokens")
        return lines, labels, tokens

    def score(self, prediction: str | None, sample: Sample) -> float:
        return exact_match(prediction, sample.answer, sample.query.answer_pattern)

    def gold_for_span(self, sample: Sample, start: int, end: int) -> str:
        records = records_within(sample, start, end)
        return format_tally(Counter(sample.metadata["labels"][records.start : records.stop]))


def plant(units: list[str], planted: Sequence[str], depths: Sequence[float]) -> list[str]:
    """Insert each planted unit at its depth (a sorted fraction of the units), so the fitter,
    which only adds, drops and trades background units, can never lose one."""
    out: list[str] = []
    previous = 0
    for unit, depth in zip(planted, depths, strict=True):
        at = round(depth * len(units))
        out.extend(units[previous:at])
        out.append(unit)
        previous = at
    out.extend(units[previous:])
    return out


def _pairs_examples(
    rng: random.Random, records: RecordMaker, category: str, how_many: Sequence[int]
) -> tuple[list[str], ...]:
    """Small logs in which `how_many[k]` users have a record of `category`, among records of
    other categories."""
    others = [c for c in CATEGORIES if c != category]
    logs = []
    for users in how_many:
        labels = [category] * users + [rng.choice(others) for _ in range(rng.randint(2, 4))]
        rng.shuffle(labels)
        names = iter(rng.sample(USERS, users))
        logs.append([records.record(c, next(names) if c == category else None) for c in labels])
    return tuple(logs)


@TASKS.register("aggregation_pairs")
class AggregationPairs(_LogTask):
    name = "aggregation_pairs"
    description = "list the pairs of users who both have a record of a rare category in a log"
    scorer = "F1 over unordered pairs"

    @cached_property
    def _longest_lists(self) -> tuple[str, str]:
        """The longest user list and pair list a sample can have, in this tokenizer's tokens."""
        counts = self.tokenizer.count_many([" " + user for user in USERS])
        longest = [u for _, u in sorted(zip(counts, USERS, strict=True))[-PAIR_USERS[1] :]]
        return join_items(longest), pairs_of(longest)

    def sample(self, length: int, seed: int, index: int) -> Sample:
        rng = self.rng(length, seed, index)
        category = rng.choice(CATEGORIES)
        chosen = rng.sample(USERS, rng.randint(*PAIR_USERS))
        weights = draw_weights(rng)
        weights[CATEGORIES.index(category)] = 0.0
        records = RecordMaker(rng, weights=weights)
        per_user = min(PLANTS_PER_USER, 1 + length // PLANT_EVERY)
        planted = [
            "\n" + records.record(category, user)
            for user in chosen
            for _ in range(rng.randint(1, per_user))
        ]
        rng.shuffle(planted)
        depths = sorted(rng.random() for _ in planted)
        fitted = fit_units(
            records.units(),
            length,
            self.tokenizer,
            reserved=sum(self.tokenizer.count_many(planted)),
            assemble=lambda units: join_units(plant(units, planted, depths)),
        )
        lines = fitted.text.split("\n")
        hits = [
            [i, parse_record(ln).user] for i, ln in enumerate(lines) if label_of(ln) == category
        ]
        users = list(dict.fromkeys(user for _, user in hits))
        if sorted(users) != sorted(chosen):
            raise RuntimeError(f"planted users {chosen} but the log has {users}")
        query, part = self._queries(rng, records, category)
        return self.make_sample(
            length=length,
            seed=seed,
            index=index,
            context=fitted.text,
            actual_length=fitted.tokens,
            query=query,
            answer=pairs_of(users),
            decomposition=Decomposition("union", part=part, finish="pairs"),
            metadata={
                "category": category,
                "users": users,
                "spans": line_spans(lines),
                "hits": hits,
            },
        )

    def _queries(
        self, rng: random.Random, records: RecordMaker, category: str
    ) -> tuple[Query, Query]:
        """The whole question (pairs) and the part question (users), each with examples."""
        longest_users, longest_pairs = self._longest_lists
        whole_logs = _pairs_examples(rng, records, category, rng.sample([2, 3], 2))
        part_logs = _pairs_examples(rng, records, category, rng.sample([0, 2], 2))
        query = Query(
            question=f"List every pair of users who both have at least one record with the "
            f"category {category}.",
            answer_prefix=f"The pairs of users with the category {category} are",
            answer_pattern=_list_of(PAIR),
            item_pattern=PAIR,
            examples=tuple(
                Example("\n".join(log), pairs_of(users_with(log, category))) for log in whole_logs
            ),
            max_tokens=self._max_tokens(longest_pairs),
        )
        part = Query(
            question=f"Which users have at least one record with the category {category}?",
            answer_prefix=f"The users with at least one record with the category {category} are",
            answer_pattern=_list_of(USER),
            item_pattern=USER,
            examples=tuple(
                Example("\n".join(log), join_items(users_with(log, category))) for log in part_logs
            ),
            max_tokens=self._max_tokens(longest_users),
        )
        return query, part

    def score(self, prediction: str | None, sample: Sample) -> float:
        gold = [] if sample.answer == NONE_ANSWER else sample.answer.split(LIST_SEPARATOR)
        return f1(prediction, gold, PAIR, normalize=_pair_key)

    def gold_for_span(self, sample: Sample, start: int, end: int) -> str:
        users = hits_within(sample, records_within(sample, start, end))
        return join_items(list(dict.fromkeys(users)))
