"""The CodeAct (+ BM25) baseline of the RLM paper: a code loop that is given the text itself.

The paper (§2.2): "A CodeAct agent that can execute code inside of a ReAct loop. Unlike an RLM,
it does not offload its prompt to the code environment, and instead provides it directly to the
LM. [...] we equip this agent with a BM25 retriever that indexes the input context". Appendix D
gives its prompt: each turn runs Python or `SEARCH(query)`, until `ANSWER: ...`.

Here it is the REPL loop of `repl.py` (same sandbox, turns, limits, history cut to the window,
out-of-turns answer call) with three things changed, as a `ReplRun` of its own:

- The context is in the prompt, not in the sandbox: the first message holds the text, its middle
  cut out when it does not fit beside the instructions and room for one exchange (as `direct`
  cuts it; `dropped_tokens` in the notes, and the sample counts as truncated). There is no
  `context` variable.
- The sandbox's one host function is `search(query, k)`: BM25 over the whole context cut into
  parts of about `chunk_tokens` tokens (`bm25_index.ChunkIndex`), returning the texts of the best
  `k` parts (default `k` the solver's), best first; parts that share no word with the query are
  not hits. It can reach the middle that was cut from the prompt. There is no `llm_query`.
- The prompts are CodeAct's (`repl_prompts/codeact_*.txt`): the text is shown, the model may
  answer at once, and searching is the tool.

Departures from the paper: searching is a function called from code, not a `SEARCH(...)` action
of its own (the REPL machinery runs code; a call and a print do the same), and the final answer
is `FINAL(...)` as in the RLM's loop rather than `ANSWER: ...`, so the two loops read answers
alike. The THINK/ACT format is not asked for. A reply also ends at the next turn's header
(`NEXT_TURN`), which the RLM's loop leaves to `max_tokens`.

Trace: as the REPL's (a `call` node per turn, an `exec` node per block), and under a block a
`retrieve` node per hit of each search it made, with the query, the hit's span, rank and BM25
score (not scored as part answers).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rlm_bench.errors import UserError
from rlm_bench.models.base import Message, Model
from rlm_bench.solvers import SOLVERS
from rlm_bench.solvers.base import Trace, TraceNode
from rlm_bench.solvers.bm25_index import ChunkIndex
from rlm_bench.solvers.direct import truncate_middle
from rlm_bench.solvers.forms import chat_tokens
from rlm_bench.solvers.repl import Repl, ReplRun
from rlm_bench.solvers.repl_conversation import Conversation, prompt_file
from rlm_bench.tasks.base import Sample

MIN_CHUNK_TOKENS = 16
LEAD = "The text ends here."
NEXT_TURN = "\n### Assistant"
"""Also a stop here: with the text in its prompt, a base model often answers in prose, then
writes the next turn's header and answers again until `max_tokens`."""
TURN_SLACK = 128
"""Tokens for what an exchange adds around a reply and an output (headers, the repeated
question, the out-of-turns request)."""


NO_SUBCALL_PARAMETERS = {"max_depth", "sub_max_tokens"}
"""`repl`'s parameters about sub-calls, which CodeAct does not make."""


@SOLVERS.register("codeact")
class CodeAct(Repl):
    """`k`: hits a search returns by default; `chunk_tokens`: about how long a searched part is;
    the rest are the REPL's (`max_iterations`, `max_tokens`, `output_chars`, `timeout_s`,
    `memory_mb`, `cpu_s`, `stop_after_code`, `form`, `guide`). It makes no sub-calls, so a
    run's `--sub-model` goes unused."""

    name = "codeact"
    description = (
        "the paper's CodeAct + BM25 baseline: the REPL loop with the text in the prompt and "
        "search(query, k) as its tool, no sub-calls"
    )
    subcalls = False

    def __init__(self, k: int = 3, chunk_tokens: int = 128, **loop: Any) -> None:
        if k < 1 or chunk_tokens < MIN_CHUNK_TOKENS:
            raise UserError(
                f"codeact solver needs k >= 1 and chunk_tokens >= {MIN_CHUNK_TOKENS} "
                f"(got k={k}, chunk_tokens={chunk_tokens})"
            )
        refused = sorted(set(loop) & NO_SUBCALL_PARAMETERS)
        if refused:
            raise UserError(f"codeact solver makes no sub-calls: drop {', '.join(refused)}")
        super().__init__(**loop)
        self.k = k
        self.chunk_tokens = chunk_tokens
        self.root_stop = (*self.root_stop, NEXT_TURN)

    async def start_run(self, sample: Sample, model: Model) -> ReplRun:
        # Indexing a long context takes seconds: off the event loop other samples share.
        index = await asyncio.to_thread(
            ChunkIndex, sample.context, sample.actual_length, self.chunk_tokens
        )
        return CodeActRun(
            self, model, model, sample.context, Trace(), asyncio.get_running_loop(), index
        )


@dataclass
class CodeActRun(ReplRun):
    solver: CodeAct
    index: ChunkIndex

    def variables(self, context: str) -> dict[str, Any]:
        return {}

    def functions(self, depth: int, block: list[TraceNode]) -> dict[str, Callable[..., Any]]:
        return {"search": lambda query, k=None: self.search(query, k, depth, block[0].id)}

    def search(self, query: Any, k: Any, depth: int, parent: int) -> list[str]:
        """`search(query, k)` as the block calls it: the hits' texts, each hit recorded under
        the block. Bad arguments raise, and the block sees why."""
        k = self.solver.k if k is None else k
        if not isinstance(query, str) or not query.strip():
            raise ValueError(f"search(query) needs the words to look for, not {query!r}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"search(query, k) needs k a whole number >= 1, not {k!r}")
        hits = [hit for hit in self.index.search(query, k) if hit.score > 0]
        for hit in hits:
            self.trace.add(
                parent=parent, depth=depth + 1, kind="retrieve", span=(hit.start, hit.end),
                answer=None, query=query, rank=hit.rank, retrieval_score=hit.score,
            )  # fmt: skip
        return [hit.text for hit in hits]

    def conversation(self, context: str, tokens: int, question: str) -> Conversation:
        """The text in the first message, cut in the middle to leave room for the instructions,
        the next reply and one exchange (the history is cut to the window from the oldest)."""
        solver, count = self.solver, self.model.tokenizer.count
        sizes = {"k": solver.k, "output_chars": solver.output_chars}
        cut_note = prompt_file("codeact_cut").rstrip("\n")
        room = self._budget - solver.max_tokens - solver.output_chars - 2 * count(question)
        room -= TURN_SLACK
        if self.form == "chat":
            example = prompt_file("codeact_chat_example").strip()
            system = prompt_file("codeact_chat_system").format(example=example, **sizes).strip()

            def opening(text: str, cut: str) -> str:
                first = prompt_file("codeact_chat_opening").format(
                    context=text, question=question, cut=cut
                )
                hint = prompt_file("codeact_search_hint").strip()
                return first.strip() + (" " + hint if solver.guide else "")

            frame: list[Message] = [
                {"role": "system", "content": system},
                {"role": "user", "content": opening("", cut_note.format(dropped=tokens))},
            ]
            text, self.dropped_tokens = truncate_middle(
                context, room - chat_tokens(self.model, frame), self.model.tokenizer
            )
            cut = cut_note.format(dropped=self.dropped_tokens) if self.dropped_tokens else ""
            return Conversation(system, opening(text, cut), question, guide=solver.guide)
        example = prompt_file("codeact_example").strip()

        def head(text: str, cut: str) -> str:
            return (
                prompt_file("codeact_system")
                .format(context=text, cut=cut, example=example, **sizes)
                .strip()
            )

        frame_tokens = count(head("", cut_note.format(dropped=tokens)) + LEAD + question)
        text, self.dropped_tokens = truncate_middle(
            context, room - frame_tokens, self.model.tokenizer
        )
        cut = cut_note.format(dropped=self.dropped_tokens) if self.dropped_tokens else ""
        return Conversation(head(text, cut), question, question, guide=solver.guide, lead=LEAD)
