"""What the needle tasks share: keys, values of three kinds, and needles placed in a haystack.

A needle task plans its needle sentences (the ones that answer, other keys, near misses), and
`NeedleTask.sample` fits a haystack around them to the exact length, places each at its depth
on a sentence boundary (so no split ever cuts one) and works out the answer from where the
answering needles landed: one value for `find`, every value in context order for `union`.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, ClassVar

from rlm_bench.errors import UserError
from rlm_bench.tasks.base import LIST_SEPARATOR, NONE_ANSWER, Decomposition, Query, Sample
from rlm_bench.tasks.fitting import fit_units, join_units
from rlm_bench.tasks.haystacks import haystack_units
from rlm_bench.tasks.ruler_scoring import check_scoring, ruler_score, scored_query
from rlm_bench.tasks.scoring import all_of, exact_match
from rlm_bench.tasks.task_base import Depths, TaskBase
from rlm_bench.tasks.vocabulary import NEEDLE_WORDS

KEY_COLORS = (
    "amber", "azure", "crimson", "copper", "silver", "golden", "ivory", "jade", "scarlet",
    "violet", "cobalt", "coral", "olive", "ochre", "indigo", "teal", "russet", "slate",
    "saffron", "pearl",
)  # fmt: skip
KEY_ANIMALS = (
    "falcon", "otter", "badger", "heron", "lynx", "marten", "osprey", "panther", "raven",
    "salmon", "tortoise", "walrus", "weasel", "bison", "gecko", "ibis", "jackal", "koala",
    "lemur", "pelican",
)  # fmt: skip
DEFAULT_DEPTHS = (0.0, 0.25, 0.5, 0.75, 1.0)
"""Cycled over the sample index, so any five consecutive samples cover every depth."""

UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
FIND_SCORER = (
    "exact match of the first value in the reply (scoring=strict, the default), or RULER's "
    "string_match_all: the value contained anywhere in the reply (scoring=ruler)"
)
ALL_SCORER = (
    "every value named in the parsed answer, all or nothing (scoring=strict, the default), or "
    "RULER's string_match_all: the fraction of the values contained anywhere in the reply "
    "(scoring=ruler)"
)


@dataclass(frozen=True)
class ValueKind:
    """A kind of needle value: how it is named in a sentence, drawn, matched, and how many
    tokens an answer of one value may take."""

    singular: str
    plural: str
    pattern: str
    answer_tokens: int

    def draw(self, rng: random.Random) -> str:
        if self.singular == "number":
            return str(rng.randint(1_000_000, 9_999_999))
        if self.singular == "word":
            return rng.choice(NEEDLE_WORDS)
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def draw_distinct(self, rng: random.Random, count: int) -> list[str]:
        values: list[str] = []
        while len(values) < count:
            value = self.draw(rng)
            if value not in values:
                values.append(value)
        return values

    def list_pattern(self) -> str:
        """One or more values separated by commas, "and" or spaces."""
        one = f"(?:{self.pattern})"
        return rf"{one}(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s+){one})*"


VALUE_KINDS = {
    "number": ValueKind("number", "numbers", r"\d{7}", 9),
    "word": ValueKind("word", "words", rf"\b(?:{'|'.join(NEEDLE_WORDS)})\b", 4),
    "uuid": ValueKind("uuid", "uuids", UUID_PATTERN, 30),
}


def draw_keys(rng: random.Random, count: int) -> list[str]:
    keys: list[str] = []
    while len(keys) < count:
        key = f"{rng.choice(KEY_COLORS)}-{rng.choice(KEY_ANIMALS)}"
        if key not in keys:
            keys.append(key)
    return keys


@dataclass(frozen=True)
class Needle:
    text: str
    value: str
    depth: float
    answers: bool
    """True for the needles whose values make up the answer; False for other keys and near
    misses."""


@dataclass(frozen=True)
class NeedlePlan:
    needles: list[Needle]
    query: Query
    combine: str
    """`find` (one answering needle) or `union` (every answering needle's value)."""
    metadata: dict[str, Any]


def place(units: Sequence[str], needles: Sequence[Needle]) -> list[str]:
    """Each needle (as a unit with its leading space) at the unit boundary nearest its depth (a
    fraction of the haystack's characters); needles at the same boundary keep their order."""
    bounds = list(accumulate((len(u) for u in units), initial=0))
    slots: dict[int, list[str]] = {}
    for needle in needles:
        wanted = needle.depth * bounds[-1]
        at = min(range(len(bounds)), key=lambda i: abs(bounds[i] - wanted))
        slots.setdefault(at, []).append(" " + needle.text)
    placed: list[str] = []
    for i, unit in enumerate([*units, ""]):
        placed.extend(slots.get(i, []))
        placed.append(unit)
    return placed[:-1]


@dataclass(frozen=True)
class NeedleOptions:
    haystack: str = "essay"
    structure: str = "coherent"
    value_kind: str = "number"
    depths: Depths = None
    scoring: str = "strict"
    """`strict` or `ruler` (`tasks/ruler_scoring.py`)."""


class NeedleTask(TaskBase):
    """Subclasses implement `plan`; the haystack, placement, answer and scoring are shared."""

    Options: ClassVar[type] = NeedleOptions
    scorer = FIND_SCORER

    def validate(self) -> None:
        check_scoring(self.name, self.options.scoring)
        if self.options.value_kind not in VALUE_KINDS:
            raise UserError(
                f"task {self.name}: option 'value_kind' must be one of "
                f"{', '.join(VALUE_KINDS)}, got {self.options.value_kind!r}"
            )

    @property
    def kind(self) -> ValueKind:
        return VALUE_KINDS[self.options.value_kind]

    def depth_for(self, index: int) -> float:
        depths = self.options.depths or DEFAULT_DEPTHS
        return depths[index % len(depths)]

    def plan(self, rng: random.Random, depth: float) -> NeedlePlan:
        raise NotImplementedError

    def sample(self, length: int, seed: int, index: int) -> Sample:
        rng = self.rng(length, seed, index)
        depth = self.depth_for(index)
        plan = self.plan(rng, depth)
        units = haystack_units(self.options.haystack, self.options.structure, rng)
        reserved = sum(self.tokenizer.count_many([" " + n.text for n in plan.needles]))
        fitted = fit_units(
            units,
            length,
            self.tokenizer,
            reserved=reserved,
            assemble=lambda chosen: join_units(place(chosen, plan.needles)),
        )
        located = []
        for needle in plan.needles:
            start = fitted.text.index(needle.text)
            located.append((start, start + len(needle.text), needle))
        located.sort(key=lambda item: item[0])
        answer_values = [n.value for _, _, n in located if n.answers]
        answer = answer_values[0] if plan.combine == "find" else LIST_SEPARATOR.join(answer_values)
        query, decomposition = scored_query(
            self.options.scoring,
            plan.query,
            Decomposition(combine=plan.combine),  # type: ignore[arg-type]
        )
        return self.make_sample(
            length=length,
            seed=seed,
            index=index,
            context=fitted.text,
            actual_length=fitted.tokens,
            query=query,
            answer=answer,
            decomposition=decomposition,
            metadata={
                **plan.metadata,
                "depth": depth,
                "value_kind": self.kind.singular,
                "haystack": self.options.haystack,
                "structure": self.options.structure,
                "needles": [
                    {"start": s, "end": e, "value": n.value, "answers": n.answers}
                    for s, e, n in located
                ],
                "spans": [[s, e] for s, e, _ in located],
            },
        )

    def score(self, prediction: str | None, sample: Sample) -> float:
        if self.options.scoring == "ruler":
            return ruler_score(prediction, sample)
        if sample.decomposition.combine == "find":
            return exact_match(prediction, sample.answer, self.kind.pattern)
        return all_of(prediction, sample.answer.split(LIST_SEPARATOR), self.kind.pattern)

    def gold_for_span(self, sample: Sample, start: int, end: int) -> str:
        values = [
            n["value"]
            for n in sample.metadata["needles"]
            if n["answers"] and start <= n["start"] and n["end"] <= end
        ]
        if not values:
            return NONE_ANSWER
        return values[0] if sample.decomposition.combine == "find" else LIST_SEPARATOR.join(values)
