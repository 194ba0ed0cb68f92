"""Aggregation tasks over a long log of records (OOLONG style): count the records of a category
(`aggregation_count`), add up their amounts (`aggregation_sum`), one `CategoryTotal` in which a
record is worth one or its amount, and what the other aggregations
(`aggregation_most_frequent`, `aggregation_pairs`, in their own modules) share.

Unlike a needle search, every line matters, so the answer cannot be found by skimming and the
error of a recursive solver accumulates over its sub-calls. Every gold answer is read back from
the fitted text, never from what the generator meant to write: the fitter drops and trades
records near the end. A span's gold counts only the records whose whole line lies in it, so the
golds of the parts of any partition on line boundaries combine into the gold of the whole.

Every aggregation takes `labels`: `explicit` (a category field, the default) or `implicit` (a
note the category must be inferred from), so one `str.count` no longer answers it and a
runtime has to judge records, as in OOLONG.
"""

from __future__ import annotations

import random
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, ClassVar

from rlm_bench.tasks import TASKS
from rlm_bench.tasks.base import (
    Decomposition,
    Example,
    Query,
    Sample,
)
from rlm_bench.tasks.fitting import fit_units
from rlm_bench.tasks.records import (
    CATEGORIES,
    LABEL_STYLES,
    Record,
    RecordMaker,
    ask,
    parse_record,
)
from rlm_bench.tasks.scoring import partial_credit
from rlm_bench.tasks.task_base import Generated, TaskBase, option

EXAMPLE_RECORDS = (3, 6)
EXAMPLE_HIT_RATE = 0.4
COUNT_PATTERN = r"-?\d+"
ANSWER_SLACK = 4
"""Tokens allowed beyond the longest well-formed answer: the closing "." and a stray space."""


def alternation(words: Iterable[str]) -> str:
    """Longest first and within word boundaries, so no name is matched inside another."""
    ordered = sorted((re.escape(w) for w in words), key=lambda w: (-len(w), w))
    return r"\b(?:" + "|".join(ordered) + r")\b"


def list_of(item: str) -> str:
    return rf"{item}(?:, ?{item})*"


CATEGORY = alternation(CATEGORIES)


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


@dataclass(frozen=True)
class LogOptions:
    labels: str = option("explicit", one_of=LABEL_STYLES)


class LogTask(TaskBase):
    """Fits a log of records and measures it once; the subclasses ask about it."""

    Options: ClassVar[type] = LogOptions

    def records(self, rng: random.Random, **kwargs: Any) -> RecordMaker:
        return RecordMaker(rng, labels=self.options.labels, **kwargs)

    def ask(self, question: str) -> str:
        return ask(question, self.options.labels)

    def list_query(
        self,
        question: str,
        answer_prefix: str,
        item: str,
        examples: tuple[Example, ...],
        longest: str,
    ) -> Query:
        """A question answered by a list of `item`s, with room for the `longest` such list."""
        return Query(
            question=self.ask(question),
            answer_prefix=answer_prefix,
            answer_pattern=list_of(item),
            item_pattern=item,
            examples=examples,
            max_tokens=self.tokenizer.count(" " + longest) + ANSWER_SLACK,
        )

    def _fit_lines(self, records: RecordMaker, length: int) -> tuple[list[str], int]:
        fitted = fit_units(records.units(), length, self.tokenizer)
        return fitted.text.split("\n"), fitted.tokens


class CategoryTotal(LogTask):
    """A total over the records of one category of the log, each record `worth` something (one
    for a count, its amount for a sum); parts' totals add up to the whole's."""

    scorer = "partial credit 0.75^|error|"
    amounts: ClassVar[bool] = False
    """Whether records carry an amount."""
    question: ClassVar[str]
    answer_prefix: ClassVar[str]
    """Both formatted with the asked `category`."""

    def worth(self, record: Record) -> int:
        raise NotImplementedError

    def generate(self, rng: random.Random, length: int, index: int) -> Generated:
        records = self.records(rng, amounts=self.amounts)
        lines, tokens = self._fit_lines(records, length)
        parsed = [parse_record(line) for line in lines]
        present = {record.category for record in parsed}
        category = rng.choice([c for c in CATEGORIES if c in present])

        def total(lines: list[str]) -> str:
            found = (parse_record(line) for line in lines)
            return str(sum(self.worth(r) for r in found if r.category == category))

        query = Query(
            question=self.ask(self.question.format(category=category)),
            answer_prefix=self.answer_prefix.format(category=category),
            answer_pattern=COUNT_PATTERN,
            examples=_one_category_examples(rng, records, category, total),
        )
        return Generated(
            context="\n".join(lines),
            actual_length=tokens,
            query=query,
            answer=total(lines),
            decomposition=Decomposition("sum"),
            metadata=self.metadata(category, lines, parsed),
        )

    def metadata(self, category: str, lines: list[str], parsed: list[Record]) -> dict[str, Any]:
        labels = [record.category for record in parsed]
        return {"category": category, "spans": line_spans(lines), "labels": labels}

    def score(self, prediction: str | None, sample: Sample) -> float:
        return partial_credit(prediction, int(sample.answer), sample.query.answer_pattern)


@TASKS.register("aggregation_count")
class AggregationCount(CategoryTotal):
    name = "aggregation_count"
    description = "count the records of one category in a log"
    question = "How many records have the category {category}?"
    answer_prefix = "The number of records with the category {category} is"

    def worth(self, record: Record) -> int:
        return 1

    def gold_for_span(self, sample: Sample, start: int, end: int) -> str:
        records = records_within(sample, start, end)
        labels = sample.metadata["labels"][records.start : records.stop]
        return str(labels.count(sample.metadata["category"]))


@TASKS.register("aggregation_sum")
class AggregationSum(CategoryTotal):
    name = "aggregation_sum"
    description = "add up the amounts of the records of one category in a log"
    amounts = True
    question = "What is the total amount of the records with the category {category}?"
    answer_prefix = "The total amount of the records with the category {category} is"

    def worth(self, record: Record) -> int:
        return record.amount or 0

    def metadata(self, category: str, lines: list[str], parsed: list[Record]) -> dict[str, Any]:
        hits = [[i, r.amount] for i, r in enumerate(parsed) if r.category == category]
        return {**super().metadata(category, lines, parsed), "hits": hits}

    def gold_for_span(self, sample: Sample, start: int, end: int) -> str:
        return str(sum(hits_within(sample, records_within(sample, start, end))))
