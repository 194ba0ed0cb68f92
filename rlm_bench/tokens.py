"""The tokenizer seam: tasks measure lengths with it, solvers split by it, models provide it."""

from __future__ import annotations

from typing import Protocol


class Tokenizer(Protocol):
    name: str

    def count(self, text: str) -> int:
        """Tokens in `text` as it would appear inside a prompt (no special tokens)."""

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...

    def count_many(self, texts: list[str]) -> list[int]:
        """Batch `count`; tokenizers with a fast batch path make long haystacks cheap to measure."""
