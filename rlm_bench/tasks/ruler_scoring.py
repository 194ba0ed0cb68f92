"""The `scoring` option of the RULER-style generated tasks (needles, variable tracking, common
words): `strict` (the default) or `ruler`.

RULER scores the raw generated text by containment (`scoring.string_match_all`), while the
solvers hand a task `parse_answer(reply, sample.query)`, the first match of the query's
`answer_pattern`. Under `ruler` the sample's query takes the whole reply as its answer
(`WHOLE_REPLY`), so the scorer sees what RULER would see, and the decomposition's part question
keeps the strict pattern, so a recursion still parses its parts' answers into values it can
combine. What each solver's prediction then is:

- `direct`: its whole reply (up to the first newline, where it stops).
- `repl`: the whole `FINAL(...)` text (a FINAL that dumps many values gets credit for each).
- `recursive`: the combination of its parts' parsed answers; no model writes the whole answer,
  so that combination is what RULER's metric scores.

A reply that says only "none" still parses as "none", so it stays "no answer" among the failure
categories; any other non-empty reply is well formed under `ruler` (RULER has no format
errors), so format errors read as wrong values.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rlm_bench.tasks.base import LIST_SEPARATOR, Decomposition, Query, Sample
from rlm_bench.tasks.scoring import string_match_all
from rlm_bench.tasks.task_base import TaskBase, option

SCORINGS = ("strict", "ruler")
WHOLE_REPLY = r"(?s)\A(?!\s*(?i:none)\W*\Z)\s*\S.*"
"""The whole reply, unless it is empty or says only "none" (then `parse_answer` returns None or
"none", as it does for a strict pattern)."""


def scoring_option() -> Any:
    """The `scoring` field of a task's `Options`."""
    return option("strict", one_of=SCORINGS)


def scorer_text(strict: str, ruler: str) -> str:
    """A `RulerScoredTask`'s `scorer`: what each scoring gives credit for."""
    return (
        f"{strict} (scoring=strict, the default), or RULER's string_match_all: {ruler} "
        "(scoring=ruler)"
    )


class RulerScoredTask(TaskBase):
    """A task with a `scoring` option: subclasses write `strict_score` and build their query and
    decomposition through `scored`."""

    def scored(self, query: Query, decomposition: Decomposition) -> tuple[Query, Decomposition]:
        """The sample's query and decomposition under the task's scoring: unchanged for
        `strict`; for `ruler` the query takes the whole reply and the strict query becomes the
        part question."""
        if self.options.scoring == "strict":
            return query, decomposition
        part = decomposition.part or query
        return replace(query, answer_pattern=WHOLE_REPLY), replace(decomposition, part=part)

    def score(self, prediction: str | None, sample: Sample) -> float:
        """Under `ruler`, RULER's `string_match_all` against the sample's gold values."""
        if self.options.scoring == "ruler":
            return string_match_all(prediction, sample.answer.split(LIST_SEPARATOR))
        return self.strict_score(prediction, sample)

    def strict_score(self, prediction: str | None, sample: Sample) -> float:
        raise NotImplementedError
