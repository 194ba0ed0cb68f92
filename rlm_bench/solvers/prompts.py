"""Completion-style prompts for base models: solved examples first, then the real text.

A base model does not follow instructions; it continues text. Showing the exact answer format
(including "none" when a text does not hold the answer) is what makes its continuation parseable.
"""

from __future__ import annotations

import re

from rlm_bench.tasks.base import NONE_ANSWER, Sample

ANSWER_STOP = ("\n",)
ANSWER_MAX_TOKENS = 12


def _block(context: str, sample: Sample, answer: str | None) -> str:
    tail = f" {answer}." if answer is not None else ""
    return f"Text:\n{context}\n\nQuestion: {sample.question}\nAnswer: {sample.answer_prefix}{tail}"


def build_prompt(sample: Sample, context: str) -> str:
    shots = [_block(ex.context, sample, ex.answer) for ex in sample.examples]
    return "\n\n".join([*shots, _block(context, sample, None)])


def prompt_overhead(sample: Sample) -> str:
    """The prompt with an empty context: what every call costs on top of its text."""
    return build_prompt(sample, "")


def parse_answer(text: str, sample: Sample) -> str | None:
    """The answer the model gave: a value of the task's shape, "none", or None (no answer)."""
    match = re.search(sample.answer_pattern, text)
    if match:
        return match.group(0)
    if NONE_ANSWER in text.lower():
        return NONE_ANSWER
    return None
