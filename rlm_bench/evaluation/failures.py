"""Why a sample was not answered right: one category per sample, recorded in its row.

The categories are checked in this order, so each sample gets the first that applies: a crash
(the solver raised), a truncated input (the context did not fit and its middle was dropped),
no answer (nothing, or "none" where the text holds an answer), a format error (text that holds
no well-formed answer), and otherwise a wrong value (including partial credit below 1).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from rlm_bench.solvers.base import Result
from rlm_bench.tasks.base import NONE_ANSWER, Sample

Failure = Literal["crash", "truncated input", "no answer", "format error", "wrong value"]
FAILURES: tuple[Failure, ...] = (
    "wrong value",
    "no answer",
    "format error",
    "truncated input",
    "crash",
)


def _well_formed(prediction: str, sample: Sample) -> bool:
    query = sample.query
    if re.search(query.answer_pattern, prediction):
        return True
    return query.item_pattern is not None and re.search(query.item_pattern, prediction) is not None


def classify_failure(
    score: float, error: str | None, result: Result | None, sample: Sample
) -> Failure | None:
    """The sample's failure category, or None when it scored full credit."""
    if error is not None or result is None:
        return "crash"
    if score >= 1.0:
        return None
    if result.truncated:
        return "truncated input"
    prediction = (result.prediction or "").strip()
    if not prediction:
        return "format error" if result.unparsed else "no answer"
    if prediction.lower() == NONE_ANSWER:
        return "no answer"
    if not _well_formed(prediction, sample):
        return "format error"
    return "wrong value"


def failure_of(row: dict[str, Any]) -> Failure | None:
    """A sample row's category. Rows written before categories were recorded get the nearest
    one their fields allow (without the raw reply, a format error reads as no answer)."""
    if "failure" in row:
        return row["failure"]
    if row["error"]:
        return "crash"
    if row["score"] >= 1.0:
        return None
    if row.get("truncated"):
        return "truncated input"
    prediction = (row["prediction"] or "").strip().lower()
    return "no answer" if prediction in ("", NONE_ANSWER) else "wrong value"
