"""Build a text of a target token length from a stream of small units (sentences, records).

Re-tokenizing a 100K-token text at every probe is far too slow, so each unit is counted once,
in batches, and the counts are summed; whole units rarely add up to the target, so a few chosen
units are then traded for pending ones of a better size. One full count of the assembled text
measures the tokens that merge or split across unit boundaries, and a short loop adds, drops or
trades units to undo that drift.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from rlm_bench.tasks.base import length_tolerance
from rlm_bench.tokens import Tokenizer

Assemble = Callable[[Sequence[str]], str]

FIRST_BATCH = 32
"""Units drawn before their average size is known; later batches are sized from that average."""

LOOKAHEAD = 32
"""Pending units searched for one of a better size when closing the last gap."""

MAX_SWAPS = 64
"""Chosen units, counted from the end, that may be traded for pending ones."""

MAX_CORRECTIONS = 4


def join_units(units: Sequence[str]) -> str:
    """Units carry their leading separator (a space, a newline), so each is counted the way it
    appears in the text, where a tokenizer may glue a space onto the next word. The first unit's
    separator has nothing to separate and is dropped."""
    return "".join(units).lstrip()


@dataclass(frozen=True)
class Fitted:
    text: str
    tokens: int


class _CountedStream:
    """Units drawn from the source but not yet used, with their token counts."""

    def __init__(self, source: Iterator[str], tokenizer: Tokenizer) -> None:
        self._source = source
        self._tokenizer = tokenizer
        self._known: dict[str, int] = {}
        """Token counts by unit: word lists and noise sentences repeat a unit thousands of
        times, and a lookup costs nothing next to counting it again."""
        self._pending: deque[tuple[str, int]] = deque()
        self._drawn_units = 0
        self._drawn_tokens = 0

    def pop(self, tokens_wanted: int) -> tuple[str, int]:
        if not self._pending:
            self._draw(self._units_for(tokens_wanted))
        return self._pending.popleft()

    def push_back(self, unit: str, count: int) -> None:
        self._pending.appendleft((unit, count))

    def peek(self, size: int) -> deque[tuple[str, int]]:
        """The next `size` pending units, as the live queue, so a caller can swap one out."""
        if len(self._pending) < size:
            self._draw(size - len(self._pending))
        return self._pending

    def _units_for(self, tokens_wanted: int) -> int:
        if not self._drawn_units:
            return FIRST_BATCH
        per_unit = self._drawn_tokens / self._drawn_units
        return int(tokens_wanted / per_unit * 1.02) + 8

    def _draw(self, size: int) -> None:
        units = [next(self._source) for _ in range(size)]
        new = list(dict.fromkeys(u for u in units if u not in self._known))
        self._known.update(zip(new, self._tokenizer.count_many(new), strict=True))
        counts = [self._known[u] for u in units]
        self._drawn_units += size
        self._drawn_tokens += sum(counts)
        self._pending.extend(zip(units, counts, strict=True))


def _add_or_drop(units: list[str], counts: list[int], stream: _CountedStream, goal: int) -> bool:
    """Drop units from the end, or add units from the stream, while that brings the summed count
    closer to `goal`. Returns whether anything changed."""
    total = sum(counts)
    changed = False
    while counts and total > goal and abs(total - counts[-1] - goal) < total - goal:
        count = counts.pop()
        stream.push_back(units.pop(), count)
        total -= count
        changed = True
    while total < goal:
        unit, count = stream.pop(goal - total)
        if abs(total + count - goal) >= goal - total:
            stream.push_back(unit, count)
            break
        units.append(unit)
        counts.append(count)
        total += count
        changed = True
    return changed


def _swap(units: list[str], counts: list[int], stream: _CountedStream, goal: int) -> bool:
    """Whole units leave a gap of up to half a unit; trade chosen units, from the end backwards,
    for pending ones whose size closes it. Returns whether anything changed."""
    gap = goal - sum(counts)
    pending = stream.peek(LOOKAHEAD)
    changed = False
    for position in range(len(units) - 1, max(len(units) - MAX_SWAPS, 0) - 1, -1):
        if gap == 0:
            break
        old = counts[position]
        best = min(range(LOOKAHEAD), key=lambda i: abs(gap - pending[i][1] + old))
        delta = pending[best][1] - old
        if abs(gap - delta) < abs(gap):
            swapped_in = pending[best]
            pending[best] = (units[position], old)
            units[position], counts[position] = swapped_in
            gap -= delta
            changed = True
    return changed


def _approach(units: list[str], counts: list[int], stream: _CountedStream, goal: int) -> bool:
    """Bring the summed count of `units` to `goal`, or as near as the stream allows."""
    resized = _add_or_drop(units, counts, stream, goal)
    return _swap(units, counts, stream, goal) or resized


def fit_units(
    source: Iterator[str],
    target: int,
    tokenizer: Tokenizer,
    *,
    reserved: int = 0,
    assemble: Assemble = join_units,
) -> Fitted:
    """Take units from `source` (an endless iterator) until `assemble(units)` is `target` tokens,
    within `length_tolerance(target)`.

    `reserved` is the token count of whatever `assemble` adds besides the units (a needle, say),
    so the units alone aim at `target - reserved`.
    """
    tolerance = length_tolerance(target)
    if target - reserved <= 0:
        raise ValueError(f"target {target} leaves no room beside {reserved} reserved tokens")
    stream = _CountedStream(source, tokenizer)
    units: list[str] = []
    counts: list[int] = []
    _approach(units, counts, stream, target - reserved)
    text = assemble(units)
    tokens = tokenizer.count(text)
    for _ in range(MAX_CORRECTIONS):
        drift = tokens - target
        if abs(drift) <= tolerance // 2:
            break
        if not _approach(units, counts, stream, sum(counts) - drift):
            break
        text = assemble(units)
        tokens = tokenizer.count(text)
    if abs(tokens - target) > tolerance:
        raise RuntimeError(f"could not fit {target} tokens: got {tokens} after corrections")
    return Fitted(text, tokens)
