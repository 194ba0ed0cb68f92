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


def truncate_middle(context: str, budget: int, tokenizer: Tokenizer) -> tuple[str, int]:
    """`context` cut to at most `budget` tokens by dropping its middle; returns (text, dropped)."""
    ids = tokenizer.encode(context)
    if len(ids) <= budget:
        return context, 0
    keep = max(budget - tokenizer.count(ELISION), 0)
    head, tail = keep - keep // 2, keep // 2
    text = tokenizer.decode(ids[:head]) + ELISION + (tokenizer.decode(ids[-tail:]) if tail else "")
    return text, len(ids) - keep


@SOLVERS.register("direct")
class Direct:
    """`form`: `auto` (a conversation for a model with a chat template, else a completion
    prompt), `chat` or `completion` (`solvers/forms.py`)."""

    name = "direct"

    def __init__(self, form: str = "auto") -> None:
        self.form = check_form(self.name, form)

    async def solve(self, sample: Sample, model: Model) -> Result:
        tok, query = model.tokenizer, sample.query
        form = pick_form(self.form, model)
        # +1 for the <bos> a local model adds; a small margin for tokens merging at the seams.
        budget = model.context_window - answer_overhead(form, model, query) - query.max_tokens - 8
        context, dropped = sample.context, 0
        if sample.actual_length > budget:
            context, dropped = truncate_middle(sample.context, budget, tok)
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
