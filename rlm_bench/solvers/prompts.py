"""Completion-style prompts for base models: solved examples first, then the real text.

A base model does not follow instructions; it continues text. Showing the exact answer format
(including "none" when a text does not hold the answer) is what makes its continuation parseable.
"""

from __future__ import annotations

import re

from rlm_bench.tasks.base import NONE_ANSWER, Query

ANSWER_STOP = ("\n",)
MULTILINE_STOP = ("\n\nText:", "\n\nQuestion:")
"""Where a base model's multi-line answer ends: at the next block it would make up."""


def answer_stop(query: Query, form: str) -> tuple[str, ...]:
    """The stop strings of an answer call: the first newline, unless the query's answer runs
    over lines (then a chat reply ends with its turn, a completion at the next block)."""
    if not query.multiline:
        return ANSWER_STOP
    return () if form == "chat" else MULTILINE_STOP


def _block(context: str, query: Query, answer: str | None) -> str:
    tail = f" {answer}." if answer is not None else ""
    return f"Text:\n{context}\n\nQuestion: {query.question}\nAnswer: {query.answer_prefix}{tail}"


def build_prompt(query: Query, context: str) -> str:
    shots = [_block(ex.context, query, ex.answer) for ex in query.examples]
    return "\n\n".join([*shots, _block(context, query, None)])


def parse_answer(text: str, query: Query) -> str | None:
    """The answer the model gave: a value of the query's shape, "none", or None (no answer)."""
    match = re.search(query.answer_pattern, text)
    if match:
        return match.group(0)
    if NONE_ANSWER in text.lower():
        return NONE_ANSWER
    return None
