"""The long-context baseline: the whole context in one prompt.

Truncation policy when the prompt would not fit the model's window (RULER/LongBench): keep the
head and the tail of the context, drop the middle, and record that it happened and how much.
"""

from __future__ import annotations

from rlm_bench.models.base import Model
from rlm_bench.solvers import SOLVERS
from rlm_bench.solvers.base import Result, Trace
from rlm_bench.solvers.forms import answer_overhead, ask, check_form, pick_form
from rlm_bench.solvers.prompts import parse_answer
from rlm_bench.tasks.base import Sample
from rlm_bench.tokens import Tokenizer

ELISION = "\n...\n"


PIECE_CHARS = 16_000
"""Characters tokenized at once. A tokenizer holds hundreds of bytes per token while it works
(offsets, token strings), so the two ends are tokenized a piece at a time, never whole."""
SEAM_TOKENS = 16
"""Tokens next to a piece's cut that are never kept: the cut may split a word, and those
tokens would differ from the whole text's. The next piece starts where the kept ones end."""


def truncate_middle(
    context: str, budget: int, tokenizer: Tokenizer, total_tokens: int | None = None
) -> tuple[str, int]:
    """`context` cut to at most `budget` tokens by dropping its middle; returns (text, dropped).

    Only the two ends are tokenized, a piece at a time, so a 1M-token context costs a few small
    tokenizations and not the ids, offsets and strings of its whole tokenization (92x the
    text's size at 1M tokens when it tokenized all of it). `total_tokens` is the context's
    measured length (a sample's `actual_length`); without it the whole text is counted once."""
    total = tokenizer.count(context) if total_tokens is None else total_tokens
    if total <= budget:
        return context, 0
    keep = max(budget - tokenizer.count(ELISION), 0)
    head, tail = keep - keep // 2, keep // 2
    text = _head(context, head, tokenizer) + ELISION + _tail(context, tail, tokenizer)
    return text, total - keep


def _head(text: str, count: int, tokenizer: Tokenizer) -> str:
    """The text of the first `count` tokens of `text`."""
    kept: list[str] = []
    start = 0
    while count > 0 and start < len(text):
        ids = tokenizer.encode(text[start : start + PIECE_CHARS])
        last = start + PIECE_CHARS >= len(text)
        usable = ids if last else ids[: max(len(ids) - SEAM_TOKENS, 1)]
        piece = tokenizer.decode(usable[:count])
        kept.append(piece)
        count -= min(len(usable), count)
        start += len(piece)
    return "".join(kept)


def _tail(text: str, count: int, tokenizer: Tokenizer) -> str:
    """The text of the last `count` tokens of `text`."""
    kept: list[str] = []
    end = len(text)
    while count > 0 and end > 0:
        first = end <= PIECE_CHARS
        ids = tokenizer.encode(text[max(end - PIECE_CHARS, 0) : end])
        usable = ids if first else ids[min(SEAM_TOKENS, len(ids) - 1) :]
        piece = tokenizer.decode(usable[len(usable) - min(count, len(usable)) :])
        kept.append(piece)
        count -= min(len(usable), count)
        end -= len(piece)
    return "".join(reversed(kept))


@SOLVERS.register("direct")
class Direct:
    """`form`: `auto` (a conversation for a model with a chat template, else a completion
    prompt), `chat` or `completion` (`solvers/forms.py`)."""

    name = "direct"
    description = (
        "the long-context baseline: the whole context in one prompt, the middle cut if it would "
        "not fit"
    )

    def __init__(self, form: str = "auto") -> None:
        self.form = check_form(self.name, form)

    async def solve(self, sample: Sample, model: Model) -> Result:
        tok, query = model.tokenizer, sample.query
        form = pick_form(self.form, model)
        # +1 for the <bos> a local model adds; a small margin for tokens merging at the seams.
        budget = model.context_window - answer_overhead(form, model, query) - query.max_tokens - 8
        context, dropped = sample.context, 0
        if sample.actual_length > budget:
            context, dropped = truncate_middle(sample.context, budget, tok, sample.actual_length)
        completion = await ask(form, model, query, context)
        answer = parse_answer(completion.text, query)
        trace = Trace()
        span = (0, len(sample.context)) if not dropped else None
        trace.record_call(completion, parent=None, depth=0, span=span, answer=answer)
        notes = {"dropped_tokens": dropped} if dropped else {}
        unparsed = completion.text if answer is None and completion.text.strip() else None
        return Result(
            prediction=answer, trace=trace, truncated=bool(dropped), notes=notes, unparsed=unparsed
        )
