"""`aggregation_most_frequent`: name the most common category of a log (OOLONG style).

The most frequent label of a whole is not the most frequent of its parts' answers, so a runtime
that splits the log asks each part for its tally of every category, adds the tallies and takes
the largest (`Decomposition("tally", finish="argmax")`).
"""

from __future__ import annotations

import random
from collections import Counter

from rlm_bench.tasks import TASKS
from rlm_bench.tasks.aggregation import (
    CATEGORY,
    EXAMPLE_RECORDS,
    LogTask,
    line_spans,
    records_within,
)
from rlm_bench.tasks.base import (
    Decomposition,
    Example,
    Query,
    Sample,
    length_tolerance,
)
from rlm_bench.tasks.combining import format_tally
from rlm_bench.tasks.records import (
    CATEGORIES,
    RecordMaker,
    draw_weights,
    label_of,
    relabel,
)
from rlm_bench.tasks.scoring import exact_match
from rlm_bench.tasks.task_base import Generated

LEAD = (1.2, 2.0)
"""How much more likely the favored category is than the most likely other one: enough that
it usually wins, not so much that the answer is obvious from the first screen of the log."""

CATEGORY_TALLY = rf"{CATEGORY}: \d+"


def untie(lines: list[str], labels: list[str], favorite: str) -> bool:
    """Give the lead to one category when the fitted log ties at the top: the last record of
    every other leader is relabelled to the favorite (or to the first leader, when the favorite
    is not among them). Category names are single tokens and a relabelled note is one of about
    the same length, so the length barely moves; the caller measures it again. Returns whether
    anything changed."""
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
        lines[last] = relabel(lines[last], winner)
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
class AggregationMostFrequent(LogTask):
    name = "aggregation_most_frequent"
    description = "name the most frequent category in a log"
    scorer = "exact match"

    def generate(self, rng: random.Random, length: int, index: int) -> Generated:
        favorite = rng.choice(CATEGORIES)
        weights = draw_weights(rng)
        weights[CATEGORIES.index(favorite)] = max(weights) * rng.uniform(*LEAD)
        records = self.records(rng, weights=weights)
        lines, labels, tokens = self._fit_without_tie(records, length, favorite)
        tally = Counter(labels)
        digits = len(str(len(lines)))
        longest_tally = format_tally(Counter({c: 10**digits - 1 for c in CATEGORIES}))
        part = self.list_query(
            "How many records are there of each category?",
            "The numbers of records by category are",
            CATEGORY_TALLY,
            _tally_examples(rng, records),
            longest_tally,
        )
        query = Query(
            question=self.ask("Which category is the most frequent?"),
            answer_prefix="The most frequent category is",
            answer_pattern=CATEGORY,
            examples=_most_frequent_examples(rng, records),
        )
        return Generated(
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
