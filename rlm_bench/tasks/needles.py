"""What the needle tasks share: keys, values of three kinds, and needles placed in a haystack.

A needle task plans its needle sentences (the ones that answer, other keys, near misses), and
`NeedleTask.generate` gives the first the sample's depth and the others random ones, fits a
haystack around them to the exact length, places each at its depth on a sentence boundary (so
no split ever cuts one) and works out the answer from where the answering needles landed: one
value for `find`, every value in context order for `union`.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from rlm_bench.tasks.base import LIST_SEPARATOR, NONE_ANSWER, Decomposition, Query, Sample
from rlm_bench.tasks.distinct_draws import draw_distinct
from rlm_bench.tasks.fitting import fit_units, join_units
from rlm_bench.tasks.haystacks import haystack_units
from rlm_bench.tasks.placement import place
from rlm_bench.tasks.ruler_scoring import RulerScoredTask, scorer_text, scoring_option
from rlm_bench.tasks.scoring import all_of, exact_match
from rlm_bench.tasks.task_base import Depths, Generated, option
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
FIND_SCORER = scorer_text(
    "exact match of the first value in the reply", "the value contained anywhere in the reply"
)
ALL_SCORER = scorer_text(
    "every value named in the parsed answer, all or nothing",
    "the fraction of the values contained anywhere in the reply",
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
        return draw_distinct(lambda: self.draw(rng), count)

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
    return draw_distinct(lambda: f"{rng.choice(KEY_COLORS)}-{rng.choice(KEY_ANIMALS)}", count)


@dataclass(frozen=True)
class Needle:
    text: str
    value: str
    answers: bool
    """True for the needles whose values make up the answer; False for other keys and near
    misses."""


@dataclass(frozen=True)
class NeedlePlan:
    needles: list[Needle]
    """The first goes at the sample's depth (what the depth metrics are about); the others at
    random depths."""
    query: Query
    combine: str
    """`find` (one answering needle) or `union` (every answering needle's value)."""
    metadata: dict[str, Any]


@dataclass(frozen=True)
class NeedleOptions:
    haystack: str = "essay"
    structure: str = "coherent"
    value_kind: str = option("number", one_of=VALUE_KINDS)
    depths: Depths = None
    scoring: str = scoring_option()


class NeedleTask(RulerScoredTask):
    """Subclasses implement `plan`; the haystack, placement, answer and scoring are shared."""

    Options: ClassVar[type] = NeedleOptions
    scorer = FIND_SCORER

    @property
    def kind(self) -> ValueKind:
        return VALUE_KINDS[self.options.value_kind]

    def depth_for(self, index: int) -> float:
        depths = self.options.depths or DEFAULT_DEPTHS
        return depths[index % len(depths)]

    def plan(self, rng: random.Random) -> NeedlePlan:
        raise NotImplementedError

    def generate(self, rng: random.Random, length: int, index: int) -> Generated:
        depth = self.depth_for(index)
        plan = self.plan(rng)
        depths = [depth] + [rng.random() for _ in plan.needles[1:]]
        placed = [(d, n.text) for d, n in zip(depths, plan.needles, strict=True)]
        units = haystack_units(self.options.haystack, self.options.structure, rng)
        reserved = sum(self.tokenizer.count_many([" " + n.text for n in plan.needles]))
        fitted = fit_units(
            units,
            length,
            self.tokenizer,
            reserved=reserved,
            assemble=lambda chosen: join_units(place(chosen, placed)),
        )
        located = []
        for needle in plan.needles:
            start = fitted.text.index(needle.text)
            located.append((start, start + len(needle.text), needle))
        located.sort(key=lambda item: item[0])
        answer_values = [n.value for _, _, n in located if n.answers]
        answer = answer_values[0] if plan.combine == "find" else LIST_SEPARATOR.join(answer_values)
        query, decomposition = self.scored(
            plan.query,
            Decomposition(combine=plan.combine),  # type: ignore[arg-type]
        )
        return Generated(
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

    def strict_score(self, prediction: str | None, sample: Sample) -> float:
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
