"""What every built-in task shares: its options, its label, its seeded random stream, and how
a generated sample is filed under its label, length, seed and index.

A task's options (haystack, needle depths, counts of keys...) come from the suite file or from
`--tasks name:key=value`; they are a dataclass per task so a typo is one line naming the field
and the known ones, and a value the field does not allow (`option`) one line saying what it
allows, before any model loads.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import Field, dataclass, field, fields
from typing import Any, ClassVar, get_type_hints

from rlm_bench.errors import UserError
from rlm_bench.tasks.base import Decomposition, Query, Sample, make_sample_id
from rlm_bench.tasks.seeding import sample_rng
from rlm_bench.tokens import Tokenizer

Depths = tuple[float, ...] | None
"""The type of a `depths` option: needle depths as fractions of the haystack, None for spread
evenly over the samples."""


def option(
    default: Any, *, one_of: Collection[str] = (), between: tuple[int, int] | None = None
) -> Any:
    """An option's default and the values it allows, declared in its `Options` field, so that
    every task checks them alike, before any model loads, and a reader sees them at a glance."""
    return field(default=default, metadata={"one_of": tuple(one_of), "between": between})


def _check_allowed(task: str, declared: Field[Any], value: Any) -> None:
    where = f"task {task}: option {declared.name!r}"
    allowed = declared.metadata.get("one_of")
    if allowed and value not in allowed:
        raise UserError(f"{where} must be one of {', '.join(allowed)}, got {value!r}")
    bounds = declared.metadata.get("between")
    if bounds and not bounds[0] <= value <= bounds[1]:
        raise UserError(f"{where} must be between {bounds[0]} and {bounds[1]}, got {value}")


@dataclass(frozen=True)
class Generated:
    """What a generator makes of a sample's random stream: the sample but for its identity
    (label, length, seed, index), which `TaskBase.sample` adds; a generator sees the stream,
    never the seed, so every sample depends on its stream alone. The fields are the rest of
    `make_sample`'s arguments."""

    context: str
    actual_length: int
    query: Query
    answer: str
    decomposition: Decomposition
    metadata: dict[str, Any]


@dataclass(frozen=True)
class NoOptions:
    """For tasks that take no options."""


def _check(task: str, name: str, value: Any, kind: Any) -> Any:
    where = f"task {task}: option {name!r}"
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind == Depths:
        if value is None:
            return None
        items = value if isinstance(value, list | tuple) else [value]
        try:
            depths = tuple(float(v) for v in items)
        except (TypeError, ValueError):
            raise UserError(f"{where}: expected numbers between 0 and 1, got {value!r}") from None
        if not depths or any(not 0.0 <= d <= 1.0 for d in depths):
            raise UserError(f"{where}: expected numbers between 0 and 1, got {value!r}")
        return depths
    if isinstance(kind, type) and (
        not isinstance(value, kind) or (kind is int and isinstance(value, bool))
    ):
        raise UserError(f"{where}: expected {kind.__name__}, got {value!r}")
    return value


class TaskBase:
    """Subclasses set `name`, `description`, `scorer` and, when they take any, `Options`."""

    name: ClassVar[str]
    description: ClassVar[str]
    scorer: ClassVar[str]
    Options: ClassVar[type] = NoOptions
    from_data: ClassVar[bool] = False
    """True for a task that replays a benchmark's rows rather than generating samples: it needs
    its data to be built and its lengths are the data's, so the property tests of generated
    tasks (any length, any seed, default options) leave it out (`tasks.generated_tasks`)."""
    exact_decomposition: ClassVar[bool] = True
    """Whether combining the gold answers of any partition of the context (by the sample's
    `Decomposition`) gives the gold answer of the whole. Multi-hop chains cut apart by a
    partition do not, and that is the point of such tasks."""

    def __init__(self, tokenizer: Tokenizer, label: str | None = None, **options: Any) -> None:
        self.tokenizer = tokenizer
        self.label = label or self.name
        known = {f.name for f in fields(self.Options)}
        hints = get_type_hints(self.Options)
        checked = {}
        for key, value in options.items():
            if key not in known:
                raise UserError(
                    f"task {self.name}: unknown option {key!r} "
                    f"(known: {', '.join(sorted(known)) or 'none'})"
                )
            checked[key] = _check(self.name, key, value, hints[key])
        self.options = self.Options(**checked)
        for declared in fields(self.Options):
            _check_allowed(self.name, declared, getattr(self.options, declared.name))
        self.validate()
        if hasattr(self.options, "haystack"):
            self._check_haystack()

    def _check_haystack(self) -> None:
        """Open the haystack source now (a missing folder, an unknown dataset column), so the
        error comes before a model loads, not in the middle of a run."""
        from rlm_bench.tasks.haystacks import check_haystack

        check_haystack(self.options.haystack, self.options.structure)

    def validate(self) -> None:
        """Raise `UserError` for what `option` cannot declare: values allowed one by one but
        not together, data that cannot be opened."""

    @classmethod
    def accepts(cls, option: str) -> bool:
        return option in {f.name for f in fields(cls.Options)}

    def rng(self, length: int, seed: int, index: int) -> random.Random:
        """Seeded by the task's registered name, not its label, so variants of one task (another
        haystack, say) draw the same keys and values and pair up sample by sample."""
        return sample_rng(self.name, length, seed, index)

    def sample(self, length: int, seed: int, index: int) -> Sample:
        """A generated task writes `generate`; a task that replays a benchmark's rows writes
        `sample` itself, with `make_sample`."""
        made = self.generate(self.rng(length, seed, index), length, index)
        return self.make_sample(length=length, seed=seed, index=index, **vars(made))

    def generate(self, rng: random.Random, length: int, index: int) -> Generated:
        """The sample at `length` tokens and `index` (which some tasks cycle options over),
        drawn from `rng` alone."""
        raise NotImplementedError

    def make_sample(
        self,
        *,
        length: int,
        seed: int,
        index: int,
        context: str,
        actual_length: int,
        query: Query,
        answer: str,
        decomposition: Decomposition,
        metadata: dict[str, Any],
    ) -> Sample:
        return Sample(
            sample_id=make_sample_id(self.label, length, seed, index),
            task=self.label,
            length=length,
            seed=seed,
            index=index,
            context=context,
            query=query,
            answer=answer,
            decomposition=decomposition,
            actual_length=actual_length,
            metadata=metadata,
        )
