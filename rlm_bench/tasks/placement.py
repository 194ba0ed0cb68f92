"""Placing sentences (needles, variable assignments) in a haystack at depths.

Each goes on a boundary between haystack units, never inside one, so a split of the context on
sentence boundaries never cuts a sentence of the haystack or a placed one. Depths are fractions
of the haystack's characters, which track its tokens closely.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate


def _nearest_bound(bounds: Sequence[int], wanted: float) -> int:
    """The index of the bound nearest `wanted`; the lower one of two as near."""
    i = bisect_left(bounds, wanted)
    if i == len(bounds) or (i > 0 and wanted - bounds[i - 1] <= bounds[i] - wanted):
        return i - 1
    return i


def place(units: Sequence[str], placed: Sequence[tuple[float, str]]) -> list[str]:
    """The units with each (depth, sentence), after a space, at the unit boundary nearest its
    depth; sentences at one boundary keep the order they are given in."""
    bounds = list(accumulate((len(u) for u in units), initial=0))
    slots = [_nearest_bound(bounds, depth * bounds[-1]) for depth, _ in placed]
    out: list[str] = []
    previous = 0
    for slot, (_, sentence) in sorted(zip(slots, placed, strict=True), key=lambda s: s[0]):
        out.extend(units[previous:slot])
        out.append(" " + sentence)
        previous = slot
    out.extend(units[previous:])
    return out
