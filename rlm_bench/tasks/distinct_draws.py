"""Drawing values that must not repeat within a sample (needle keys and values, variable names):
two needles or chains with the same key or value could not be told apart."""

from __future__ import annotations

from collections.abc import Callable


def draw_distinct(draw: Callable[[], str], count: int) -> list[str]:
    """`count` different values from `draw`, in the order first drawn; a repeat is drawn again."""
    values: list[str] = []
    while len(values) < count:
        value = draw()
        if value not in values:
            values.append(value)
    return values
