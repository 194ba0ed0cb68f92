"""The summary agent (compaction) baseline of the RLM paper: read the context part by part, keep
a running summary, answer from it.

The paper (§2.2 and appendix D.2), following ReSum, MemAgent and context folding: "the agent is
given inputs until its context is full, at which point it is queried to summarize all relevant
information and continue. If the agent is given a context in a single step that is larger than
its model context window, it chunks up this context and performs the summarization process over
these chunks." Here that is:

- The context is cut on boundaries into parts that fill the window beside the prompt, the
  summary and the reply (`chunk_tokens` caps them lower, to see compaction at lengths that fit
  the window). A context that fits in one part is never summarized: the one call is
  `direct`'s.
- Each part but the last is one compaction call: the question, the summary so far and the part,
  asking for the summary rewritten with what the part adds. The reply is the new summary, held
  to `summary_tokens` (its `max_tokens`, and cut there if a backend runs over), so the next
  prompt fits whatever the model writes.
- The last part is read as the context is when it is not full: the answer call (`forms.ask`,
  as `direct` asks) gets the summary followed by that part.

Departures: one model does both jobs (the paper compacts with GPT-5-nano in its GPT-5 runs, and
with the model itself in its Qwen3-Coder runs, as here); parts are equal, each at most what fits,
not each filled to the last token; the compaction prompts are ours (the paper does not give
them). A chat model is asked to rewrite its notes with what the part adds; a base model
reads its notes followed by the part, as the answer call reads them, and continues a cue to copy
out what helps answer the question, on one line.

Trace: the answer call (depth 0, the span of the last part) and under it a `summarize` node per
compaction step with the span it read and the summary it wrote as `answer`. Summaries are not
answers to the part question, so `summarize` nodes are never scored (`node_scoring.py`); they are
model calls, counted in the sample's calls, tokens and cost.
"""

from __future__ import annotations

import asyncio
import math

from rlm_bench.errors import UserError
from rlm_bench.models.base import Completion, Message, Model, PromptForm
from rlm_bench.solvers import SOLVERS
from rlm_bench.solvers.base import Result, Trace
from rlm_bench.solvers.direct import truncate_middle
from rlm_bench.solvers.forms import answer_overhead, ask, chat_tokens, check_form, pick_form
from rlm_bench.solvers.prompts import parse_answer
from rlm_bench.solvers.splitting import split_span
from rlm_bench.tasks.base import Sample
from rlm_bench.tokens import Tokenizer

MIN_TOKENS = 16
WINDOW_SAFETY = 0.9
"""Parts are cut equal in characters and snapped to boundaries; aim at 90% of the room so few
need cutting again."""
MARGIN = 8
NO_NOTES = "nothing yet."
NOTES_LABEL = "Notes on the text before this part: "
COMPLETION_STOP = ("\n",)
"""A base model writes its notes on one line; past it, it repeats them."""
CHAT_SYSTEM = (
    "You read a long text one part at a time, to answer a question about it at the end. You "
    "keep notes of everything the text says that could help answer the question (names, "
    "numbers, counts so far) and nothing else. After each part, write the notes again: the old "
    "notes with what the new part adds. Reply with the notes alone, at most about {words} words."
)
COMPLETION_CUE = 'Copy what the text says that helps answer the question (or write "nothing"):\n'
"""A base model cannot be asked to rewrite its notes (a 270M one drops the old ones), so its
notes lead the text it reads, as in the answer call, and it copies out what matters from both.
A worked example would be copied instead (its answer turns up in the notes)."""


@SOLVERS.register("summary")
class Summary:
    """`summary_tokens`: the running summary's budget; `chunk_tokens`: the most a part may hold
    (default: as much as fits the window); `form`: `auto`, `chat` or `completion`."""

    name = "summary"
    description = (
        "the paper's summary agent: a running summary rewritten part by part, then an answer from"
        " it"
    )

    def __init__(
        self, summary_tokens: int = 256, chunk_tokens: int | None = None, form: str = "auto"
    ) -> None:
        if summary_tokens < MIN_TOKENS or (chunk_tokens is not None and chunk_tokens < MIN_TOKENS):
            raise UserError(
                f"summary solver needs summary_tokens and chunk_tokens >= {MIN_TOKENS} "
                f"(got summary_tokens={summary_tokens}, chunk_tokens={chunk_tokens})"
            )
        self.summary_tokens = summary_tokens
        self.chunk_tokens = chunk_tokens
        self.form = check_form(self.name, form)

    def room(self, form: PromptForm, model: Model, sample: Sample) -> int:
        """Tokens of text one call can read: the window less the larger of the two prompts
        around it (compaction, answer), the summary in it, and the reply."""
        query, budget = sample.query, self.summary_tokens
        compact = _compact_overhead(form, model, query.question, budget) + budget + budget
        answer = answer_overhead(form, model, query) + model.tokenizer.count(NOTES_LABEL)
        answer += budget + query.max_tokens
        room = model.context_window - max(compact, answer) - MARGIN
        if room < MIN_TOKENS:
            raise UserError(
                f"summary solver: summary_tokens={budget} leaves no room for text in "
                f"{model.name}'s window of {model.context_window} tokens"
            )
        return room if self.chunk_tokens is None else min(room, self.chunk_tokens)

    async def solve(self, sample: Sample, model: Model) -> Result:
        form, tok, query = pick_form(self.form, model), model.tokenizer, sample.query
        room = self.room(form, model, sample)
        spans = await asyncio.to_thread(part_spans, sample, room, tok)
        summary, steps, cut = "", [], 0
        for start, end in spans[:-1]:
            text, dropped = truncate_middle(sample.context[start:end], room, tok)
            cut += dropped
            completion = await self._compact(form, model, query.question, summary, text)
            summary = _within(completion.text.strip(), self.summary_tokens, tok)
            steps.append((completion, (start, end), summary))
        start, end = spans[-1]
        text, dropped = truncate_middle(sample.context[start:end], room, tok)
        cut += dropped
        if steps:
            text = _with_notes(summary, text)
        completion = await ask(form, model, query, text)
        answer = parse_answer(completion.text, query)
        trace = Trace()
        root = trace.record_call(completion, parent=None, depth=0, span=(start, end), answer=answer)
        for step, span, notes in steps:
            trace.record_call(
                step, parent=root.id, depth=1, span=span, answer=notes, kind="summarize"
            )
        notes = {"steps": len(steps), "part_tokens": room}
        if cut:
            notes["dropped_tokens"] = cut
        unparsed = completion.text if answer is None and completion.text.strip() else None
        return Result(
            prediction=answer, trace=trace, truncated=bool(cut), notes=notes, unparsed=unparsed
        )

    async def _compact(
        self, form: PromptForm, model: Model, question: str, summary: str, text: str
    ) -> Completion:
        if form == "chat":
            messages = _compact_messages(question, summary, text, self.summary_tokens)
            return await model.chat(messages, max_tokens=self.summary_tokens)
        prompt = _compact_prompt(question, summary, text)
        return await model.complete(prompt, max_tokens=self.summary_tokens, stop=COMPLETION_STOP)


def part_spans(sample: Sample, room: int, tokenizer: Tokenizer) -> list[tuple[int, int]]:
    """The context cut on boundaries into consecutive parts of at most `room` tokens each: one
    part when it fits whole. A part that comes out over (boundaries far apart) is cut in two
    again; one that has no boundary to cut at stays whole and is cut in the middle when read."""
    context = sample.context
    if sample.actual_length <= room:
        return [(0, len(context))]
    parts = math.ceil(sample.actual_length / (room * WINDOW_SAFETY))
    todo = list(reversed(split_span(context, 0, len(context), parts)))
    spans: list[tuple[int, int]] = []
    while todo:
        start, end = todo.pop()
        halves = [] if tokenizer.count(context[start:end]) <= room else split_span(
            context, start, end, 2
        )  # fmt: skip
        if len(halves) == 2:
            todo.extend(reversed(halves))
        else:
            spans.append((start, end))
    return spans


def _within(text: str, budget: int, tokenizer: Tokenizer) -> str:
    """`text` cut to its first `budget` tokens."""
    ids = tokenizer.encode(text)
    return text if len(ids) <= budget else tokenizer.decode(ids[:budget])


def _compact_user(question: str, summary: str, text: str) -> str:
    return (
        f"Question: {question}\n\nNotes so far:\n{summary or NO_NOTES}\n\n"
        f"Next part of the text:\n{text}\n\nWrite the notes again, with what this part adds."
    )


def _compact_messages(question: str, summary: str, text: str, budget: int) -> list[Message]:
    return [
        {"role": "system", "content": CHAT_SYSTEM.format(words=budget * 3 // 4)},
        {"role": "user", "content": _compact_user(question, summary, text)},
    ]


def _compact_prompt(question: str, summary: str, text: str) -> str:
    return f"Text:\n{_with_notes(summary, text)}\n\nQuestion: {question}\n{COMPLETION_CUE}"


def _with_notes(summary: str, text: str) -> str:
    return f"{NOTES_LABEL}{summary or NO_NOTES}\n\n{text}"


def _compact_overhead(form: PromptForm, model: Model, question: str, budget: int) -> int:
    """What one compaction call costs on top of its summary and text, in tokens."""
    if form == "chat":
        return chat_tokens(model, _compact_messages(question, "", "", budget))
    return model.tokenizer.count(_compact_prompt(question, "", ""))
