"""The task seam: what a generated sample carries, and what every task can do with it.

Solvers see only `Sample`, so everything a solver needs to prompt a base model (`Query`) and to
combine answers about parts of the context (`Decomposition`) lives here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from rlm_bench.tokens import Tokenizer

NONE_ANSWER = "none"
LIST_SEPARATOR = ", "

Combine = Literal["find", "sum", "union", "tally", "vote"]
"""How answers about disjoint parts combine into the answer about their union:
`find` keeps the one value found (the other parts say "none"); `sum` adds counts; `union` merges
lists; `tally` adds "label: count" lists label by label; `vote` ranks list items by how many
parts name them (a heuristic: the parts' top items need not be the whole's)."""

Finish = Literal["same", "argmax", "pairs", "top"]
"""How the combined answer about the whole context becomes the final answer: `same` as it is;
`argmax` the label with the largest tally; `pairs` every pair of the listed items; `top` the
first `keep` items."""


@dataclass(frozen=True)
class Example:
    """A small solved instance, shown before the real one so a base model sees the answer format."""

    context: str
    answer: str


@dataclass(frozen=True)
class Query:
    """A question as a base model is asked it: continued after `answer_prefix`, parsed with
    `answer_pattern` (the regex of a whole well-formed answer). List answers also give
    `item_pattern`, the regex of one item, and are written joined by `LIST_SEPARATOR`."""

    question: str
    answer_prefix: str
    answer_pattern: str
    item_pattern: str | None = None
    examples: tuple[Example, ...] = ()
    max_tokens: int = 12
    multiline: bool = False
    """Whether the answer may run over lines (a list one per line, reasoning before a boxed
    answer), as a benchmark's reference lets the model write. Answer calls then stop at the end
    of the turn or `max_tokens` instead of the first newline."""


@dataclass(frozen=True)
class Decomposition:
    """How a runtime that splits the context asks about the parts and combines their answers.

    `part` is the question asked of a part when it differs from the sample's own (the most
    frequent label of a whole is not the most frequent of the parts' answers, but the whole's
    tally is the sum of the parts' tallies)."""

    combine: Combine
    part: Query | None = None
    finish: Finish = "same"
    keep: int | None = None


@dataclass(frozen=True)
class Sample:
    sample_id: str
    task: str
    length: int
    seed: int
    index: int
    context: str
    query: Query
    answer: str
    decomposition: Decomposition
    actual_length: int
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def part_query(self) -> Query:
        """The question a part of the context is asked."""
        return self.decomposition.part or self.query

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Task(Protocol):
    name: str
    label: str

    def sample(self, length: int, seed: int, index: int) -> Sample:
        """A deterministic sample whose context is `length` model tokens (within tolerance)."""

    def score(self, prediction: str | None, sample: Sample) -> float:
        """0..1 credit for a final prediction; None (no answer) scores 0."""

    def gold_for_span(self, sample: Sample, start: int, end: int) -> str | None:
        """The right answer to `sample.part_query` asked of `context[start:end]` alone, or None
        where the task cannot know it (a benchmark's rows that carry no per-item labels); such
        nodes are left unscored."""


def length_tolerance(length: int) -> int:
    """Allowed |actual - target| tokens: 1% or 16 tokens, whichever is larger."""
    return max(16, length // 100)


def make_sample_id(task: str, length: int, seed: int, index: int) -> str:
    return f"{task}/L{length}/s{seed}/i{index}"


__all__ = [
    "LIST_SEPARATOR",
    "NONE_ANSWER",
    "Combine",
    "Decomposition",
    "Example",
    "Finish",
    "Query",
    "Sample",
    "Task",
    "Tokenizer",
    "length_tolerance",
    "make_sample_id",
]
