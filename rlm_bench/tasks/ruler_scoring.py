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

from rlm_bench.errors import UserError
from rlm_bench.tasks.base import LIST_SEPARATOR, Decomposition, Query, Sample
from rlm_bench.tasks.scoring import string_match_all

SCORINGS = ("strict", "ruler")
WHOLE_REPLY = r"(?s)\A(?!\s*(?i:none)\W*\Z)\s*\S.*"
"""The whole reply, unless it is empty or says only "none" (then `parse_answer` returns None or
"none", as it does for a strict pattern)."""


def check_scoring(task: str, scoring: str) -> None:
    if scoring not in SCORINGS:
        raise UserError(
            f"task {task}: option 'scoring' must be one of {', '.join(SCORINGS)}, got {scoring!r}"
        )


def scored_query(
    scoring: str, query: Query, decomposition: Decomposition
) -> tuple[Query, Decomposition]:
    """The sample's query and decomposition under `scoring`: unchanged for `strict`; for `ruler`
    the query takes the whole reply and the strict query becomes the part question."""
    if scoring == "strict":
        return query, decomposition
    part = decomposition.part or query
    return replace(query, answer_pattern=WHOLE_REPLY), replace(decomposition, part=part)


def ruler_score(prediction: str | None, sample: Sample) -> float:
    """RULER's `string_match_all` against the sample's gold values."""
    return string_match_all(prediction, sample.answer.split(LIST_SEPARATOR))
