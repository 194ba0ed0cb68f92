"""Turning a model's free-text answer into credit. Each task picks one scorer; `list tasks`
names it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

PARTIAL_CREDIT_BASE = 0.75
"""Each unit a number is off by keeps 75% of the credit: off by one is 0.75, off by ten ~0.06."""


def extract(pattern: str, text: str | None) -> str | None:
    """The first match of `pattern`, because models often wrap the answer in words."""
    if text is None:
        return None
    match = re.search(pattern, text)
    return match.group(0) if match else None


def exact_match(prediction: str | None, gold: str, pattern: str) -> float:
    return 1.0 if extract(pattern, prediction) == gold else 0.0


def partial_credit(prediction: str | None, gold: int, pattern: str) -> float:
    """Credit that decays with the distance from the gold number, so a count that is nearly
    right is told apart from one that is far off."""
    found = extract(pattern, prediction)
    if found is None:
        return 0.0
    try:
        value = int(found)
    except ValueError:
        return 0.0
    return PARTIAL_CREDIT_BASE ** abs(value - gold)


def found_items(
    prediction: str | None, item_pattern: str, normalize: Callable[[str], str] = str
) -> set[str]:
    return {normalize(item) for item in re.findall(item_pattern, prediction or "")}


def all_of(prediction: str | None, gold: Iterable[str], item_pattern: str) -> float:
    """1 when every gold item is named as a whole item of the parsed answer, else 0. Stricter
    than RULER's `string_match_all`, which gives credit for each item contained anywhere in the
    reply; like it, naming extra items is not penalized."""
    return 1.0 if set(gold) <= found_items(prediction, item_pattern) else 0.0


def recall(prediction: str | None, gold: Iterable[str], item_pattern: str) -> float:
    """The fraction of gold items named as whole items of the parsed answer: RULER's
    `string_match_all` counts an item contained anywhere in the reply, even inside a longer
    word."""
    wanted = set(gold)
    return len(wanted & found_items(prediction, item_pattern)) / len(wanted) if wanted else 1.0


def f1(
    prediction: str | None,
    gold: Iterable[str],
    item_pattern: str,
    normalize: Callable[[str], str] = str,
) -> float:
    """F1 of the named set against the gold set; both empty is a perfect answer."""
    wanted = {normalize(item) for item in gold}
    named = found_items(prediction, item_pattern, normalize)
    if not wanted and not named:
        return 1.0
    hits = len(wanted & named)
    if not hits:
        return 0.0
    precision, recall_ = hits / len(named), hits / len(wanted)
    return 2 * precision * recall_ / (precision + recall_)


RULER_CONTROL = re.compile(r"[\x00-\x1f]")


def ruler_postprocess(prediction: str | None) -> str:
    """The reply as RULER's `evaluate.py` scores it: stripped, control characters (newlines
    and tabs among them) turned into newlines, stripped again."""
    return RULER_CONTROL.sub("\n", (prediction or "").strip()).strip()


def string_match_all(prediction: str | None, references: Sequence[str]) -> float:
    """RULER's metric for its needle, variable-tracking and word tasks, for one sample: the
    fraction of references contained in the reply, ignoring case. RULER reports the mean over
    a task's samples times 100, rounded to 2 places; this is the per-sample value in 0..1."""
    if not references:
        raise ValueError("string_match_all needs at least one reference")
    reply = ruler_postprocess(prediction).lower()
    return sum(r.lower() in reply for r in references) / len(references)


def string_match_part(prediction: str | None, references: Sequence[str]) -> float:
    """RULER's metric for its QA tasks, for one sample: 1 when any reference (any of the
    annotators' answers) is contained in the reply, ignoring case, else 0."""
    if not references:
        raise ValueError("string_match_part needs at least one reference")
    reply = ruler_postprocess(prediction).lower()
    return 1.0 if any(r.lower() in reply for r in references) else 0.0
