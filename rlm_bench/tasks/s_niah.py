"""`s_niah`: the RLM paper's S-NIAH (Zhang, Kraska and Khattab, arXiv 2512.24601, §2.1): "a set
of 50 single needle-in-the-haystack tasks that require finding a specific phrase or number in a
large set of unrelated text", following RULER's single NIAH.

RULER's single NIAH comes in three variants (its `niah_single_1/2/3`): a 7-digit number hidden
in repeated noise sentences, a number in essays, and a uuid in essays. `s_niah` is `niah_single`
cycling through those three over the sample index, and through the needle depths, so 50 samples
per length hold every variant at each of the default depths: the paper's task set in kind.
Sample `i` is exactly `niah_single` with that variant's options at index `i`, apart from its
label, so the two pair up sample by sample.

Where it departs: the paper publishes neither its 50 needles nor its haystacks, so these are
drawn, not the paper's; the essays are the local filler prose (`filler.py`), not RULER's Paul
Graham essays; keys are colour-animal pairs ("amber-falcon") and the needle reads "The special
magic number for amber-falcon is 1234567." rather than RULER's random-word keys and "One of the
special magic numbers for ... is: ...".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rlm_bench.tasks import TASKS
from rlm_bench.tasks.base import Sample
from rlm_bench.tasks.needles import FIND_SCORER
from rlm_bench.tasks.niah import NiahSingle
from rlm_bench.tasks.task_base import Depths, TaskBase
from rlm_bench.tokens import Tokenizer

VARIANTS = (("noise", "number"), ("essay", "number"), ("essay", "uuid"))
"""(haystack, value kind) of RULER's niah_single_1, niah_single_2 and niah_single_3."""


@dataclass(frozen=True)
class SNiahOptions:
    structure: str = "coherent"
    depths: Depths = None
    scoring: str = "strict"
    """`strict` or `ruler`, as for `niah_single` (`tasks/ruler_scoring.py`)."""


@TASKS.register("s_niah")
class SNiah(TaskBase):
    name = "s_niah"
    description = (
        "the RLM paper's S-NIAH: one needle in unrelated text, cycling RULER's three single-needle "
        "variants (noise+number, essay+number, essay+uuid) over the index; departs in drawing its "
        "own needles (the paper's 50 are unpublished), local filler essays, colour-animal keys"
    )
    scorer = FIND_SCORER
    Options: ClassVar[type] = SNiahOptions

    def __init__(self, tokenizer: Tokenizer, label: str | None = None, **options: Any) -> None:
        super().__init__(tokenizer, label=label, **options)
        self._variants = [
            NiahSingle(
                tokenizer,
                label=self.label,
                haystack=haystack,
                value_kind=kind,
                structure=self.options.structure,
                depths=self.options.depths,
                scoring=self.options.scoring,
            )
            for haystack, kind in VARIANTS
        ]

    def variant(self, index: int) -> NiahSingle:
        return self._variants[index % len(self._variants)]

    def sample(self, length: int, seed: int, index: int) -> Sample:
        return self.variant(index).sample(length, seed, index)

    def score(self, prediction: str | None, sample: Sample) -> float:
        return self.variant(sample.index).score(prediction, sample)

    def gold_for_span(self, sample: Sample, start: int, end: int) -> str:
        return self.variant(sample.index).gold_for_span(sample, start, end)
