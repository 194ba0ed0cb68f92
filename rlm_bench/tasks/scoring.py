"""Turning a model's free-text answer into credit."""

from __future__ import annotations

import re

PARTIAL_CREDIT_BASE = 0.75
"""Each unit a count is off by keeps 75% of the credit: off by one is 0.75, off by ten ~0.06."""


def extract(pattern: str, text: str | None) -> str | None:
    """The first match of `pattern`, because models often wrap the answer in words."""
    if text is None:
        return None
    match = re.search(pattern, text)
    return match.group(0) if match else None


def exact_match(prediction: str | None, gold: str, pattern: str) -> float:
    return 1.0 if extract(pattern, prediction) == gold else 0.0


def partial_credit(prediction: str | None, gold: int, pattern: str) -> float:
    """Credit that decays with the distance from the gold count, so a count that is nearly
    right is told apart from one that is far off."""
    found = extract(pattern, prediction)
    if found is None:
        return 0.0
    try:
        value = int(found)
    except ValueError:
        return 0.0
    return PARTIAL_CREDIT_BASE ** abs(value - gold)
