"""Cutting a context into parts on natural boundaries (lines first, then sentences).

Parts are equal in characters, which tracks tokens closely for generated haystacks, and each cut
moves to the nearest boundary so no record or sentence (and so no needle) is split in two. A
part too small to hold a boundary is not cut at all: fewer parts beat a record cut in half.
Only a long stretch with no boundary (a text without line breaks or full stops) is cut between
words, so that no part outgrows the model's window.
"""

from __future__ import annotations

BOUNDARIES = ("\n", ". ")
SEARCH_WINDOW = 2000


def _nearest(text: str, sep: str, pos: int, lo: int, hi: int) -> int | None:
    """The end of the `sep` nearest `pos` within the search window, strictly inside (lo, hi)."""
    window_lo, window_hi = max(lo + 1, pos - SEARCH_WINDOW), min(hi - 1, pos + SEARCH_WINDOW)
    before = text.rfind(sep, window_lo, pos + 1)
    after = text.find(sep, pos, window_hi)
    candidates = [i + len(sep) for i in (before, after) if i >= 0]
    candidates = [c for c in candidates if lo < c < hi]
    return min(candidates, key=lambda c: abs(c - pos)) if candidates else None


def _snap(text: str, pos: int, lo: int, hi: int) -> int | None:
    """Where to cut near `pos` inside (lo, hi), or None for no cut."""
    for sep in BOUNDARIES:
        cut = _nearest(text, sep, pos, lo, hi)
        if cut is not None:
            return cut
    if hi - lo <= 2 * SEARCH_WINDOW:
        return None
    between_words = _nearest(text, " ", pos, lo, hi)
    return pos if between_words is None else between_words


def split_span(text: str, start: int, end: int, parts: int) -> list[tuple[int, int]]:
    """Up to `parts` consecutive spans covering [start, end) exactly, cut at natural boundaries
    (fewer when the span holds fewer boundaries)."""
    cuts = [start]
    for k in range(1, parts):
        target = start + (end - start) * k // parts
        cut = _snap(text, target, cuts[-1], end)
        if cut is not None and cuts[-1] < cut < end:
            cuts.append(cut)
    cuts.append(end)
    return list(zip(cuts, cuts[1:], strict=False))
