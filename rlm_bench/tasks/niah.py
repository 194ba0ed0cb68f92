"""`niah_single`: find one "special magic number" sentence hidden in filler prose (RULER style).

The needle's depth cycles with the sample index over 0, 1/4, 1/2, 3/4 and 1 of the haystack, so
any five consecutive samples cover every depth and depth-by-length heatmaps fill evenly.

No solved examples are shown: measured on Gemma 3 270M, a base model given an example needle
copies the example's value into texts that hold no needle, while zero-shot it copies the real
value when present and answers something that is not a 7-digit value when absent.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from itertools import accumulate

from rlm_bench.tasks import TASKS
from rlm_bench.tasks.base import NONE_ANSWER, Sample, make_sample_id
from rlm_bench.tasks.filler import filler_units
from rlm_bench.tasks.fitting import fit_units, join_units
from rlm_bench.tasks.scoring import exact_match
from rlm_bench.tasks.seeding import sample_rng
from rlm_bench.tokens import Tokenizer

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
DEPTHS = (0.0, 0.25, 0.5, 0.75, 1.0)
VALUE_PATTERN = r"\d{7}"


def needle_sentence(key: str, value: str) -> str:
    return f"The special magic number for {key} is {value}."


def insert_at_depth(units: Sequence[str], unit: str, depth: float) -> list[str]:
    """Put `unit` at the unit boundary nearest `depth` (a fraction of the characters), so the
    needle never splits a sentence."""
    bounds = [0, *accumulate(len(u) for u in units)]
    wanted = depth * bounds[-1]
    at = min(range(len(bounds)), key=lambda i: abs(bounds[i] - wanted))
    return [*units[:at], unit, *units[at:]]


def _seven_digits(rng: random.Random) -> str:
    return str(rng.randint(1_000_000, 9_999_999))


@TASKS.register("niah_single")
class NiahSingle:
    name = "niah_single"

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer

    def sample(self, length: int, seed: int, index: int) -> Sample:
        rng = sample_rng(self.name, length, seed, index)
        key = f"{rng.choice(KEY_COLORS)}-{rng.choice(KEY_ANIMALS)}"
        value = _seven_digits(rng)
        depth = DEPTHS[index % len(DEPTHS)]
        needle = needle_sentence(key, value)
        fitted = fit_units(
            filler_units(rng),
            length,
            self.tokenizer,
            reserved=self.tokenizer.count(" " + needle),
            assemble=lambda units: join_units(insert_at_depth(units, " " + needle, depth)),
        )
        needle_start = fitted.text.index(needle)
        return Sample(
            sample_id=make_sample_id(self.name, length, seed, index),
            task=self.name,
            length=length,
            seed=seed,
            index=index,
            context=fitted.text,
            question=f"What is the special magic number for {key} mentioned in the provided text?",
            answer_prefix=f"The special magic number for {key} mentioned in the provided text is",
            answer=value,
            answer_pattern=VALUE_PATTERN,
            aggregation="find",
            actual_length=fitted.tokens,
            metadata={
                "key": key,
                "value": value,
                "depth": depth,
                "needle_start": needle_start,
                "needle_end": needle_start + len(needle),
                "haystack": "essay",
            },
        )

    def score(self, prediction: str | None, sample: Sample) -> float:
        return exact_match(prediction, sample.answer, sample.answer_pattern)

    def gold_for_span(self, sample: Sample, start: int, end: int) -> str:
        inside = start <= sample.metadata["needle_start"] and sample.metadata["needle_end"] <= end
        return sample.answer if inside else NONE_ANSWER
