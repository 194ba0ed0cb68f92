"""Needle probes after Chroma's 2025 context-rot study: near-miss distractors, and a question
that shares almost no words with its needle.

Both keep the plain needle's haystack and depths, so a drop against `niah_single` at the same
length is the effect of the probe alone. The haystack's `structure` option (coherent or
shuffled sentences) is the study's third probe and applies to every needle task.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import ClassVar

from rlm_bench.tasks import TASKS
from rlm_bench.tasks.base import Query
from rlm_bench.tasks.needles import (
    VALUE_KINDS,
    Needle,
    NeedleOptions,
    NeedlePlan,
    NeedleTask,
    ValueKind,
    draw_keys,
)
from rlm_bench.tasks.niah import NiahSingle
from rlm_bench.tasks.ruler_scoring import scoring_option
from rlm_bench.tasks.task_base import Depths, option

NEAR_MISSES = (
    "The former special magic {kind} for {key} was {value}.",
    "The special magic {kind} for the neighbor of {key} is {value}.",
    "The special lucky {kind} for {key} is {value}.",
    "The special magic {kind} that {key} forgot is {value}.",
    "The fake special magic {kind} for {key} is {value}.",
    "The special magic {kind} for {key} will soon be {value}.",
)
"""Sentences that answer a slightly different question about the same key: an earlier value, a
neighbor's, a lucky rather than magic one."""


@dataclass(frozen=True)
class DistractorOptions(NeedleOptions):
    distractors: int = option(3, between=(1, len(NEAR_MISSES)))


@TASKS.register("niah_distractors")
class NiahDistractors(NiahSingle):
    name = "niah_distractors"
    description = "find the value of a key among near-miss needles about the same key"
    Options: ClassVar[type] = DistractorOptions

    def plan(self, rng: random.Random) -> NeedlePlan:
        (key,) = draw_keys(rng, 1)
        value, *others = self.kind.draw_distinct(rng, 1 + self.options.distractors)
        templates = rng.sample(NEAR_MISSES, self.options.distractors)
        needles = [self.needle(key, value)] + [
            Needle(t.format(kind=self.kind.singular, key=key, value=v), v, False)
            for t, v in zip(templates, others, strict=True)
        ]
        return NeedlePlan(needles, self.single_query(key), "find", {"key": key})


@dataclass(frozen=True)
class Paraphrase:
    """A needle and a question about it that share the key and almost nothing else."""

    needle: str
    question: str
    answer_prefix: str


PARAPHRASES = (
    Paraphrase(
        "The locker of {key} opens with the combination {value}.",
        "Which digits unlock the storage cabinet belonging to {key}?",
        "The digits that unlock the storage cabinet belonging to {key} are",
    ),
    Paraphrase(
        "To reach {key} by phone, dial {value}.",
        "What should someone call to speak with {key}?",
        "To speak with {key}, someone should call",
    ),
    Paraphrase(
        "The bank vault of {key} is secured with the passcode {value}.",
        "Which secret code protects the safe owned by {key}?",
        "The secret code that protects the safe owned by {key} is",
    ),
    Paraphrase(
        "Every parcel sent to {key} must carry the postal reference {value}.",
        "What label goes on deliveries addressed to {key}?",
        "The label that goes on deliveries addressed to {key} is",
    ),
    Paraphrase(
        "The membership card of {key} bears the serial {value}.",
        "What identifier is printed on the club pass held by {key}?",
        "The identifier printed on the club pass held by {key} is",
    ),
)


@dataclass(frozen=True)
class SemanticOptions:
    haystack: str = "essay"
    structure: str = "coherent"
    depths: Depths = None
    scoring: str = scoring_option()


@TASKS.register("niah_semantic")
class NiahSemantic(NeedleTask):
    name = "niah_semantic"
    description = "find a 7-digit value whose question shares only the key with its needle"
    Options: ClassVar[type] = SemanticOptions

    @property
    def kind(self) -> ValueKind:
        """Paraphrases speak of digits and codes, so values are always numbers."""
        return VALUE_KINDS["number"]

    def plan(self, rng: random.Random) -> NeedlePlan:
        (key,) = draw_keys(rng, 1)
        (value,) = self.kind.draw_distinct(rng, 1)
        p = rng.choice(PARAPHRASES)
        query = Query(
            question=p.question.format(key=key),
            answer_prefix=p.answer_prefix.format(key=key),
            answer_pattern=self.kind.pattern,
            max_tokens=self.kind.answer_tokens + 3,
        )
        needle = Needle(p.needle.format(key=key, value=value), value, True)
        return NeedlePlan([needle], query, "find", {"key": key})
