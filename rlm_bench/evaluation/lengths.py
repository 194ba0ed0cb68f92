"""Compact labels for context lengths in tokens, shared by sentences, tables and figures."""

from __future__ import annotations


def length_label(tokens: int) -> str:
    """512, 1K, 8K, 1M: powers of two read at a glance; anything else is printed in full."""
    if tokens >= 1024 * 1024 and tokens % (1024 * 1024) == 0:
        return f"{tokens // (1024 * 1024)}M"
    if tokens >= 1024 and tokens % 1024 == 0:
        return f"{tokens // 1024}K"
    return str(tokens)
