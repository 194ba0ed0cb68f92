"""Bounded capture of what a block prints: a `print` loop of gigabytes costs the worker CPU time
but no memory past the limit, and the harness receives at most the limit plus a note."""

from __future__ import annotations

import io
import threading


def truncation_note(dropped: int) -> str:
    return f"\n... [output truncated: {dropped} more characters]"


def cut(text: str, limit: int) -> tuple[str, bool]:
    """`text` cut to `limit` characters with a note saying how much went; and whether it was cut."""
    if len(text) <= limit:
        return text, False
    return text[:limit] + truncation_note(len(text) - limit), True


class Output:
    """stdout and stderr of one block. They share one budget of characters, kept in the order
    they were written; past it, characters are counted and dropped."""

    def __init__(self, limit: int) -> None:
        self._left = limit
        self.lock = threading.Lock()  # threads started by a block may print at the same time
        self.stdout = CapturedStream(self, "<stdout>")
        self.stderr = CapturedStream(self, "<stderr>")

    @property
    def truncated(self) -> bool:
        return bool(self.stdout.dropped or self.stderr.dropped)

    def take(self, text: str) -> str:
        """The part of `text` that still fits the budget; the caller holds `lock`."""
        kept = text[: self._left]
        self._left -= len(kept)
        return kept


class CapturedStream(io.TextIOBase):
    """A text stream that stores what fits its `Output`'s budget and counts the rest."""

    def __init__(self, output: Output, name: str) -> None:
        super().__init__()
        self._output = output
        self._name = name
        self._parts: list[str] = []
        self.dropped = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def encoding(self) -> str:
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._output.lock:
            kept = self._output.take(text)
            if kept:
                self._parts.append(kept)
            self.dropped += len(text) - len(kept)
        return len(text)

    def text(self) -> str:
        """What was kept, with a note of how much was dropped."""
        kept = "".join(self._parts)
        return kept + truncation_note(self.dropped) if self.dropped else kept
