"""Cutting a context into parts on natural boundaries (lines first, then sentences).

Parts are equal in characters, which tracks tokens closely for generated haystacks, and each cut
moves to the nearest boundary so no record or sentence (and so no needle) is split in two.
"""

from __future__ import annotations

BOUNDARIES = ("\n", ". ")
SEARCH_WINDOW = 2000


def _snap(text: str, pos: int, lo: int, hi: int) -> int:
    """The boundary nearest `pos` strictly inside (lo, hi), preferring line breaks."""
    for sep in BOUNDARIES:
        window_lo, window_hi = max(lo + 1, pos - SEARCH_WINDOW), min(hi - 1, pos + SEARCH_WINDOW)
        before = text.rfind(sep, window_lo, pos + 1)
        after = text.find(sep, pos, window_hi)
        candidates = [i + len(sep) for i in (before, after) if i >= 0]
        candidates = [c for c in candidates if lo < c < hi]
        if candidates:
            return min(candidates, key=lambda c: abs(c - pos))
    return pos


def split_span(text: str, start: int, end: int, parts: int) -> list[tuple[int, int]]:
    """`parts` consecutive spans covering [start, end) exactly, cut at natural boundaries."""
    cuts = [start]
    for k in range(1, parts):
        target = start + (end - start) * k // parts
        cut = _snap(text, target, cuts[-1], end)
        if cuts[-1] < cut < end:
            cuts.append(cut)
    cuts.append(end)
    return list(zip(cuts, cuts[1:], strict=False))
