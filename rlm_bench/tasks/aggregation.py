"""`aggregation_count`: count the records of one category in a long log (OOLONG style).

Unlike a needle search, every line matters, so the answer cannot be found by skimming and the
error of a recursive solver accumulates over its sub-calls.
"""

from __future__ import annotations

import random
from bisect import bisect_left
from itertools import accumulate

from rlm_bench.tasks import TASKS
from rlm_bench.tasks.base import Example, Sample, make_sample_id
from rlm_bench.tasks.fitting import fit_units
from rlm_bench.tasks.records import CATEGORIES, RecordMaker, label_of
from rlm_bench.tasks.scoring import partial_credit
from rlm_bench.tasks.seeding import sample_rng
from rlm_bench.tokens import Tokenizer

EXAMPLE_RECORDS = (3, 6)
EXAMPLE_HIT_RATE = 0.4
COUNT_PATTERN = r"-?\d+"


@TASKS.register("aggregation_count")
class AggregationCount:
    name = "aggregation_count"

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer

    def sample(self, length: int, seed: int, index: int) -> Sample:
        rng = sample_rng(self.name, length, seed, index)
        records = RecordMaker(rng)
        fitted = fit_units(records.units(), length, self.tokenizer)
        lines = fitted.text.split("\n")
        labels = [label_of(line) for line in lines]
        category = rng.choice([c for c in CATEGORIES if c in labels])
        count = labels.count(category)
        return Sample(
            sample_id=make_sample_id(self.name, length, seed, index),
            task=self.name,
            length=length,
            seed=seed,
            index=index,
            context=fitted.text,
            question=f"How many records have the category {category}?",
            answer_prefix=f"The number of records with the category {category} is",
            answer=str(count),
            answer_pattern=COUNT_PATTERN,
            aggregation="sum",
            actual_length=fitted.tokens,
            examples=_examples(rng, records, category),
            metadata={
                "category": category,
                "record_starts": list(
                    accumulate((len(line) + 1 for line in lines[:-1]), initial=0)
                ),
                "labels": labels,
            },
        )

    def score(self, prediction: str | None, sample: Sample) -> float:
        return partial_credit(prediction, int(sample.answer), sample.answer_pattern)

    def gold_for_span(self, sample: Sample, start: int, end: int) -> str:
        """Only records whose whole line (without its newline) lies in the span count."""
        starts: list[int] = sample.metadata["record_starts"]
        labels: list[str] = sample.metadata["labels"]
        category = sample.metadata["category"]
        count = 0
        for i in range(bisect_left(starts, start), len(starts)):
            line_end = starts[i + 1] - 1 if i + 1 < len(starts) else len(sample.context)
            if line_end > end:
                break
            count += labels[i] == category
        return str(count)


def _examples(rng: random.Random, records: RecordMaker, category: str) -> tuple[Example, ...]:
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
    examples = [
        Example("\n".join(records.record(label) for label in labels), str(labels.count(category)))
        for labels in (without, with_some)
    ]
    rng.shuffle(examples)
    return tuple(examples)
