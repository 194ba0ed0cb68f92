"""The refining recursion: split and combine like `recursive`, then look closer where it went wrong.

The built-in `recursive` solver trusts every leaf. Two kinds of wrong leaf can be seen without
knowing the right answer:

- **malformed**: no answer could be read from the reply at all, or (for list and tally questions,
  combined by `union`, `tally` or `vote`) the reply's answer does not fully match the query's
  `answer_pattern`: `cat: 3, dog: x` parses as `cat: 3`, and the rest is lost without a trace;
- **conflicting**: for a `find` question (one value hidden somewhere in the context) more than one
  part claims a different value. At most one of them is right, and the plain rule keeps the most
  common claim, the earliest on a tie, so a hallucination early in the context beats the real
  value later on. Which claim is the hallucination cannot be told, so every part claiming a value
  is suspect.

Refining re-asks each suspect part, but not unchanged: decoding is greedy, so the same prompt
gets the same reply. It splits the part into `refine_fanout` smaller parts and asks each the
part question: a closer look, with less text each, which is where a small model reads best. The
smaller parts' answers, combined by the task's rule, take the place of the suspect's answer, and
the tree is aggregated again. A part that is still suspect afterwards (a refining part that
hallucinates too) is looked at again in the next round, up to `rounds` rounds. A part is not
re-split when its pieces would be smaller than `min_chunk_tokens`, the same floor the recursion
itself stops at.

Every model call is a trace node with its span, so the evaluator scores each against the task's
answer for that span. A refined call keeps the answer the model gave (node scoring still counts
the miss) and its refinement calls hang under it, one level deeper; the aggregates above combine
the refinement's answer in its place. `Result.notes` says how many parts were refined and how
many calls that took.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from rlm_bench.errors import UserError
from rlm_bench.models.base import Model
from rlm_bench.solvers.base import Result, Trace, TraceNode
from rlm_bench.solvers.prompts import ANSWER_STOP, build_prompt, parse_answer
from rlm_bench.solvers.recursive import Recursive
from rlm_bench.solvers.splitting import split_span
from rlm_bench.tasks.base import NONE_ANSWER, Query, Sample
from rlm_bench.tasks.combining import combine, finish

LIST_RULES = ("union", "tally", "vote")
"""Combine rules whose answers are lists: a reply can parse and still have lost items."""

SENTENCE_END = re.compile(r"\.(?:\s|$)")
"""The solved examples end every answer with a full stop; what a base model writes after it is
a continuation of the text, not part of the answer."""


@dataclass
class Part:
    """A span of the context in the solver's tree, with the trace node that answered it.

    A part with `children` answers with their combined answers: an aggregate of the recursion,
    or a model call that was refined. A part without children is a leaf: its call's answer."""

    node: TraceNode
    query: Query
    start: int
    end: int
    children: list[Part] = field(default_factory=list)

    def leaves(self) -> list[Part]:
        if not self.children:
            return [self]
        return [leaf for child in self.children for leaf in child.leaves()]


def claims_value(answer: str | None) -> bool:
    return answer is not None and answer != NONE_ANSWER


def looks_malformed(reply: str, answer: str | None, query: Query, rule: str) -> bool:
    """No answer read from the reply, or a list/tally answer that is not one well-formed answer
    (the text before the reply's first full stop must match `answer_pattern` entirely)."""
    if answer is None:
        return True
    if rule not in LIST_RULES or answer == NONE_ANSWER:
        return False
    written = SENTENCE_END.split(reply.strip(), maxsplit=1)[0].strip()
    return re.fullmatch(query.answer_pattern, written) is None


def suspects(leaves: list[Part], rule: str) -> list[Part]:
    """The leaves whose answers look malformed, and for `find` every leaf claiming a value when
    the leaves claim more than one."""
    claims = {p.node.answer for p in leaves if claims_value(p.node.answer)}
    conflict = rule == "find" and len(claims) > 1
    return [
        p
        for p in leaves
        if looks_malformed(p.node.output, p.node.answer, p.query, rule)
        or (conflict and claims_value(p.node.answer))
    ]


def settle(part: Part, sample: Sample) -> str | None:
    """The part's answer as the aggregation above it sees it. Writes the aggregates' answers into
    the trace; a refined call keeps its own. The root finishes the combined answer into the whole
    question's answer."""
    if not part.children:
        return part.node.answer
    answers = [settle(child, sample) for child in part.children]
    combined = combine(answers, sample.decomposition, sample.part_query)
    if part.node.kind == "aggregate":
        part.node.answer = combined
    if part.node.parent is None:
        return finish(combined, sample.decomposition, sample.part_query)
    return combined


class Refining(Recursive):
    """`recursive`, then up to `rounds` rounds of re-reading suspect parts in `refine_fanout`
    smaller pieces. It shares `recursive`'s parameters (depth, fanout, chunk_tokens,
    min_chunk_tokens) and its fan-out rule, so `refining:rounds=0` is `recursive` exactly: the
    control for measuring what refinement buys."""

    name = "refining"

    def __init__(
        self,
        depth: int = 1,
        fanout: int = 4,
        refine_fanout: int = 2,
        rounds: int = 1,
        min_chunk_tokens: int = 64,
        chunk_tokens: int | None = None,
    ) -> None:
        super().__init__(
            depth=depth, fanout=fanout, chunk_tokens=chunk_tokens, min_chunk_tokens=min_chunk_tokens
        )
        if refine_fanout < 2 or rounds < 0:
            raise UserError("refining solver needs refine_fanout >= 2 and rounds >= 0")
        self.refine_fanout = refine_fanout
        self.rounds = rounds

    async def solve(self, sample: Sample, model: Model) -> Result:
        trace = Trace()
        fanout = self.fanout_for(sample, self.window_tokens(sample, model))
        tokens_per_char = sample.actual_length / max(len(sample.context), 1)

        def piece_tokens(start: int, end: int, pieces: int) -> float:
            return (end - start) * tokens_per_char / pieces

        async def ask(start: int, end: int, depth: int, parent: int | None, query: Query) -> Part:
            prompt = build_prompt(query, sample.context[start:end])
            completion = await model.complete(prompt, max_tokens=query.max_tokens, stop=ANSWER_STOP)
            answer = parse_answer(completion.text, query)
            node = trace.record_call(
                completion, parent=parent, depth=depth, span=(start, end), answer=answer
            )
            return Part(node, query, start, end)

        async def grow(start: int, end: int, level: int, parent: int | None) -> Part:
            """The recursion of `recursive`: split down to `depth`, ask the leaves."""
            if level == self.depth or piece_tokens(start, end, fanout) < self.min_chunk_tokens:
                query = sample.query if level == 0 else sample.part_query
                return await ask(start, end, level, parent, query)
            node = trace.add(
                parent=parent, depth=level, kind="aggregate", span=(start, end), answer=None
            )
            spans = split_span(sample.context, start, end, fanout)
            children = await asyncio.gather(*(grow(s, e, level + 1, node.id) for s, e in spans))
            return Part(node, sample.part_query, start, end, list(children))

        async def refine(part: Part) -> bool:
            """Re-ask a suspect leaf in smaller pieces; False when it is too small to split."""
            if piece_tokens(part.start, part.end, self.refine_fanout) < self.min_chunk_tokens:
                return False
            spans = split_span(sample.context, part.start, part.end, self.refine_fanout)
            if len(spans) < 2:
                return False  # no boundary to cut at: the same prompt again would be pointless
            depth = part.node.depth + 1
            pieces = (ask(s, e, depth, part.node.id, sample.part_query) for s, e in spans)
            part.children = list(await asyncio.gather(*pieces))
            return True

        root = await grow(0, len(sample.context), 0, None)
        first_calls = len(trace.calls)
        refined = 0
        for _ in range(self.rounds):
            suspect = suspects(root.leaves(), sample.decomposition.combine)
            done = await asyncio.gather(*(refine(part) for part in suspect))
            if not any(done):
                break
            refined += sum(done)
        prediction = settle(root, sample)
        output = root.node.output
        return Result(
            prediction=prediction,
            trace=trace,
            notes={
                "fanout": fanout,
                "refined": refined,
                "refine_calls": len(trace.calls) - first_calls,
            },
            unparsed=output if prediction is None and output.strip() else None,
        )
