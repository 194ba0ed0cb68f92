"""The task seam: what a generated sample carries, and what every task can do with it.

Solvers see only `Sample`, so everything a solver needs to prompt a base model and to combine
partial answers (the answer cue, solved examples, the answer's shape, how parts combine) lives here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from rlm_bench.tokens import Tokenizer

Aggregation = Literal["find", "sum"]
"""How answers about disjoint parts of a context combine: `find` keeps the one value found
(the rest say "none"); `sum` adds the partial counts."""

NONE_ANSWER = "none"


@dataclass(frozen=True)
class Example:
    """A small solved instance, shown before the real one so a base model sees the answer format."""

    context: str
    answer: str


@dataclass(frozen=True)
class Sample:
    sample_id: str
    task: str
    length: int
    seed: int
    index: int
    context: str
    question: str
    answer_prefix: str
    answer: str
    answer_pattern: str
    aggregation: Aggregation
    actual_length: int
    examples: tuple[Example, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Task(Protocol):
    name: str

    def sample(self, length: int, seed: int, index: int) -> Sample:
        """A deterministic sample whose context is `length` model tokens (within tolerance)."""

    def score(self, prediction: str | None, sample: Sample) -> float:
        """0..1 credit for a final prediction; None (no answer) scores 0."""

    def gold_for_span(self, sample: Sample, start: int, end: int) -> str:
        """The right answer to the sample's question asked of `context[start:end]` alone."""


def length_tolerance(length: int) -> int:
    """Allowed |actual - target| tokens: 1% or 16 tokens, whichever is larger."""
    return max(16, length // 100)


def make_sample_id(task: str, length: int, seed: int, index: int) -> str:
    return f"{task}/L{length}/s{seed}/i{index}"


__all__ = [
    "NONE_ANSWER",
    "Aggregation",
    "Example",
    "Sample",
    "Task",
    "Tokenizer",
    "length_tolerance",
    "make_sample_id",
]
