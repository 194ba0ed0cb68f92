"""`aggregation_pairs`: list the pairs of users who both have a record of a rare category
(OOLONG-pairs). The answer grows with the square of the qualifying users, and a part of the log
cannot name a pair whose users sit in different parts, so parts are asked which users qualify
and the pairs are formed once, at the root (`Decomposition("union", finish="pairs")`).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from functools import cached_property
from itertools import combinations

from rlm_bench.tasks import TASKS
from rlm_bench.tasks.aggregation import (
    LogTask,
    alternation,
    hits_within,
    line_spans,
    records_within,
)
from rlm_bench.tasks.base import (
    LIST_SEPARATOR,
    NONE_ANSWER,
    Decomposition,
    Example,
    Query,
    Sample,
)
from rlm_bench.tasks.combining import PAIR_JOINER, join_items
from rlm_bench.tasks.fitting import fit_units, join_units
from rlm_bench.tasks.records import (
    CATEGORIES,
    USERS,
    RecordMaker,
    draw_weights,
    label_of,
    parse_record,
)
from rlm_bench.tasks.scoring import f1
from rlm_bench.tasks.task_base import Generated

PAIR_USERS = (3, 5)
"""Users who get the rare category: 3 to 10 pairs, a list a small model can still write."""
PLANTS_PER_USER = 3
PLANT_EVERY = 16_384
"""Tokens of log per extra record a pair user may get (up to `PLANTS_PER_USER`), so long logs
hold a user's rare record more than once without short logs being made of nothing else."""

USER = alternation(USERS)
PAIR = rf"{USER} ?(?:&|and) ?{USER}"
"""A pair as written ("a & b") or as a model may write it ("b and a"); `_pair_key` makes both
the same pair."""


def users_with(lines: Iterable[str], category: str) -> list[str]:
    """Users with a record of `category`, in order of first appearance."""
    return list(dict.fromkeys(parse_record(ln).user for ln in lines if label_of(ln) == category))


def pairs_of(users: Iterable[str]) -> str:
    return join_items([PAIR_JOINER.join(pair) for pair in combinations(sorted(users), 2)])


def _pair_key(item: str) -> str:
    return PAIR_JOINER.join(sorted(re.findall(USER, item)))


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
class AggregationPairs(LogTask):
    name = "aggregation_pairs"
    description = "list the pairs of users who both have a record of a rare category in a log"
    scorer = "F1 over unordered pairs"

    @cached_property
    def _longest_lists(self) -> tuple[str, str]:
        """The longest user list and pair list a sample can have, in this tokenizer's tokens."""
        counts = self.tokenizer.count_many([" " + user for user in USERS])
        longest = [u for _, u in sorted(zip(counts, USERS, strict=True))[-PAIR_USERS[1] :]]
        return join_items(longest), pairs_of(longest)

    def generate(self, rng: random.Random, length: int, index: int) -> Generated:
        category = rng.choice(CATEGORIES)
        chosen = rng.sample(USERS, rng.randint(*PAIR_USERS))
        weights = draw_weights(rng)
        weights[CATEGORIES.index(category)] = 0.0
        records = self.records(rng, weights=weights)
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
        return Generated(
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
        query = self.list_query(
            f"List every pair of users who both have at least one record with the "
            f"category {category}.",
            f"The pairs of users with the category {category} are",
            PAIR,
            tuple(
                Example("\n".join(log), pairs_of(users_with(log, category))) for log in whole_logs
            ),
            longest_pairs,
        )
        part = self.list_query(
            f"Which users have at least one record with the category {category}?",
            f"The users with at least one record with the category {category} are",
            USER,
            tuple(
                Example("\n".join(log), join_items(users_with(log, category))) for log in part_logs
            ),
            longest_users,
        )
        return query, part

    def score(self, prediction: str | None, sample: Sample) -> float:
        gold = [] if sample.answer == NONE_ANSWER else sample.answer.split(LIST_SEPARATOR)
        return f1(prediction, gold, PAIR, normalize=_pair_key)

    def gold_for_span(self, sample: Sample, start: int, end: int) -> str:
        users = hits_within(sample, records_within(sample, start, end))
        return join_items(list(dict.fromkeys(users)))
