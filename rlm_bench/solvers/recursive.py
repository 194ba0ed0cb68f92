"""The runtime-driven recursive solver: split, ask each part, combine the partial answers upward.

Depth d means d levels of splitting: depth 1 asks the model about `fanout` parts and combines
their answers once; depth 2 splits each part again, and so on. A part smaller than
`min_chunk_tokens` is not split further. Parts are asked the sample's part question and their
answers combined by the sample's rule (`tasks/combining.py`: keep the value found, add counts,
merge lists...), then finished into the whole question's answer at the root. For tasks whose
rule is exact, every error in the final answer comes from a model call at a leaf, and the
trace shows which.
"""

from __future__ import annotations

import asyncio
import math

from rlm_bench.errors import UserError
from rlm_bench.models.base import Model
from rlm_bench.solvers import SOLVERS
from rlm_bench.solvers.base import Result, Trace
from rlm_bench.solvers.forms import answer_overhead, ask, check_form, pick_form
from rlm_bench.solvers.prompts import parse_answer
from rlm_bench.solvers.splitting import split_span
from rlm_bench.tasks.base import Sample
from rlm_bench.tasks.combining import combine, finish

WINDOW_SAFETY = 0.9
"""Parts are cut equal in characters and snapped to boundaries, so a leaf can run a little over
its share of tokens; aim at 90% of the room."""


@SOLVERS.register("recursive")
class Recursive:
    name = "recursive"
    description = (
        "runtime recursion: the context split `depth` levels deep, each leaf asked, answers "
        "combined by the task's rule"
    )

    def __init__(
        self,
        depth: int = 1,
        fanout: int = 4,
        chunk_tokens: int | None = None,
        min_chunk_tokens: int = 64,
        form: str = "auto",
    ) -> None:
        if depth < 1 or fanout < 2 or min_chunk_tokens < 1:
            raise UserError("recursive solver needs depth >= 1, fanout >= 2, min_chunk_tokens >= 1")
        if chunk_tokens is not None and chunk_tokens < 1:
            raise UserError("recursive solver needs chunk_tokens >= 1")
        self.depth = depth
        self.fanout = fanout
        self.chunk_tokens = chunk_tokens
        self.min_chunk_tokens = min_chunk_tokens
        self.form = check_form(self.name, form)

    def fanout_for(self, sample: Sample, window_tokens: int | None = None) -> int:
        """With `chunk_tokens`, the fan-out that makes leaves about that size at full depth.
        Never less than what keeps a leaf inside `window_tokens` (what the model's window leaves
        for the text), so a 1M-token context at depth 2 is cut finer rather than overflowing."""
        fanout = self.fanout
        if self.chunk_tokens is not None:
            leaves = max(sample.actual_length / self.chunk_tokens, 1.0)
            fanout = max(2, math.ceil(leaves ** (1 / self.depth) - 1e-9))
        if window_tokens is not None and window_tokens > 0:
            needed = sample.actual_length / (window_tokens * WINDOW_SAFETY)
            fanout = max(fanout, math.ceil(needed ** (1 / self.depth) - 1e-9))
        return fanout

    def window_tokens(self, sample: Sample, model: Model) -> int:
        """Tokens of context one call can hold: the window less the prompt around the text and
        the reply."""
        query = sample.part_query
        form = pick_form(self.form, model)
        overhead = answer_overhead(form, model, query) + query.max_tokens + 8
        return model.context_window - overhead

    async def solve(self, sample: Sample, model: Model) -> Result:
        trace = Trace()
        form = pick_form(self.form, model)
        fanout = self.fanout_for(sample, self.window_tokens(sample, model))
        tokens_per_char = sample.actual_length / max(len(sample.context), 1)

        async def node(start: int, end: int, level: int, parent: int | None) -> str | None:
            part_tokens = (end - start) * tokens_per_char / fanout
            if level == self.depth or part_tokens < self.min_chunk_tokens:
                query = sample.query if level == 0 else sample.part_query
                completion = await ask(form, model, query, sample.context[start:end])
                answer = parse_answer(completion.text, query)
                trace.record_call(
                    completion, parent=parent, depth=level, span=(start, end), answer=answer
                )
                return answer
            me = trace.add(
                parent=parent, depth=level, kind="aggregate", span=(start, end), answer=None
            )
            spans = split_span(sample.context, start, end, fanout)
            answers = await asyncio.gather(*(node(s, e, level + 1, me.id) for s, e in spans))
            me.answer = combine(list(answers), sample.decomposition, sample.part_query)
            if level == 0:
                return finish(me.answer, sample.decomposition, sample.part_query)
            return me.answer

        prediction = await node(0, len(sample.context), 0, None)
        root = trace.nodes[0]
        unparsed = root.output if prediction is None and root.output.strip() else None
        return Result(
            prediction=prediction, trace=trace, notes={"fanout": fanout}, unparsed=unparsed
        )
