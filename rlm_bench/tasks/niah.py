"""RULER's needle-in-a-haystack family: one needle, other keys, several values, several queries.

No solved examples are shown: measured on Gemma 3 270M, a base model given an example needle
copies the example's value into texts that hold no needle, while zero-shot it copies the real
value when present and answers something that is not a value when absent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar

from rlm_bench.tasks import TASKS
from rlm_bench.tasks.base import Query
from rlm_bench.tasks.needles import (
    ALL_SCORER,
    Needle,
    NeedleOptions,
    NeedlePlan,
    NeedleTask,
    ValueKind,
    draw_keys,
)
from rlm_bench.tasks.task_base import option

IN_TEXT = "mentioned in the provided text"


def _and_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


@TASKS.register("niah_single")
class NiahSingle(NeedleTask):
    name = "niah_single"
    description = "find the one special magic value for a key hidden in filler text"

    def single_query(self, key: str) -> Query:
        kind = self.kind
        return Query(
            question=f"What is the special magic {kind.singular} for {key} {IN_TEXT}?",
            answer_prefix=f"The special magic {kind.singular} for {key} {IN_TEXT} is",
            answer_pattern=kind.pattern,
            max_tokens=kind.answer_tokens + 3,
        )

    def needle(self, key: str, value: str, answers: bool = True) -> Needle:
        text = f"The special magic {self.kind.singular} for {key} is {value}."
        return Needle(text, value, answers)

    def plan(self, rng: random.Random) -> NeedlePlan:
        (key,) = draw_keys(rng, 1)
        (value,) = self.kind.draw_distinct(rng, 1)
        return NeedlePlan([self.needle(key, value)], self.single_query(key), "find", {"key": key})


@dataclass(frozen=True)
class MultiKeyOptions(NeedleOptions):
    keys: int = option(4, between=(2, 50))


@TASKS.register("niah_multikey")
class NiahMultiKey(NiahSingle):
    name = "niah_multikey"
    description = "find the value of one key among needles for several similar keys"
    Options: ClassVar[type] = MultiKeyOptions

    def plan(self, rng: random.Random) -> NeedlePlan:
        keys = draw_keys(rng, self.options.keys)
        values = self.kind.draw_distinct(rng, self.options.keys)
        needles = [
            self.needle(k, v, answers=k == keys[0]) for k, v in zip(keys, values, strict=True)
        ]
        return NeedlePlan(needles, self.single_query(keys[0]), "find", {"key": keys[0]})


def list_query(kind: ValueKind, question_keys: str, count: int) -> Query:
    return Query(
        question=f"What are all the special magic {kind.plural} for {question_keys} {IN_TEXT}?",
        answer_prefix=f"The special magic {kind.plural} for {question_keys} {IN_TEXT} are",
        answer_pattern=kind.list_pattern(),
        item_pattern=kind.pattern,
        max_tokens=kind.answer_tokens * count + 6,
    )


@dataclass(frozen=True)
class MultiValueOptions(NeedleOptions):
    values: int = option(4, between=(2, 20))


@TASKS.register("niah_multivalue")
class NiahMultiValue(NeedleTask):
    name = "niah_multivalue"
    description = "return every one of several values stored under one key"
    scorer = ALL_SCORER
    Options: ClassVar[type] = MultiValueOptions

    def plan(self, rng: random.Random) -> NeedlePlan:
        (key,) = draw_keys(rng, 1)
        values = self.kind.draw_distinct(rng, self.options.values)
        text = f"One of the special magic {self.kind.plural} for {key} is {{}}."
        needles = [Needle(text.format(v), v, True) for v in values]
        return NeedlePlan(needles, list_query(self.kind, key, len(values)), "union", {"key": key})


@dataclass(frozen=True)
class MultiQueryOptions(NeedleOptions):
    queries: int = option(4, between=(2, 20))


@TASKS.register("niah_multiquery")
class NiahMultiQuery(NiahSingle):
    name = "niah_multiquery"
    description = "return the values of several keys asked at once"
    scorer = ALL_SCORER
    Options: ClassVar[type] = MultiQueryOptions

    def plan(self, rng: random.Random) -> NeedlePlan:
        keys = draw_keys(rng, self.options.queries)
        values = self.kind.draw_distinct(rng, len(keys))
        needles = [self.needle(k, v) for k, v in zip(keys, values, strict=True)]
        query = list_query(self.kind, _and_list(keys), len(keys))
        return NeedlePlan(needles, query, "union", {"keys": ", ".join(keys)})
