"""Test doubles for the benchmarks, named as such: a model that answers at once, and the REPL
trajectory it replays. They measure the harness, so they do as little as a model can: no
tokenizing (a real backend's server does that), no sleeping, no copies of the prompts kept.

Sub-calls and recursive leaves are answered by `tests/doubles.py:oracle_reply` (a perfect
reader of the needle and count tasks), so a benchmark also shows that the path it timed got
the right answers.
"""

from __future__ import annotations

import asyncio
import re

from rlm_bench.models.base import Completion
from rlm_bench.tokens import Tokenizer
from tests.doubles import oracle_reply

PEEK = "Let me look at the text first.\n```repl\nprint(len(context))\nprint(context[:120])\n```"
CHUNK_AND_ASK = """The text is long, so I will ask about pieces of it.
```repl
size = {size}
chunks = [context[i:i + size] for i in range(0, len(context), size)]
question = {question!r}
prompts = ["Text:\\n" + c + "\\n\\nQuestion: " + question + "\\nAnswer:" for c in chunks]
replies = llm_query_batched(prompts)
found = [r.strip(" .") for r in replies if r.strip(" .") != "none"]
if question.startswith("How many"):
    result = str(sum(int(f) for f in found if f.isdigit()))
else:
    result = found[0] if found else "none"
print(len(chunks), found[:3])
```"""
"""The trajectory of `tests/test_repl_solver.py`: chunk the context, ask a sub-call about each
chunk in one `llm_query_batched`, combine in code (add counts, keep the value found)."""
FINISH = "The REPL has the answer.\nFINAL_VAR(result)"


def repl_reply(chunk_chars: int, peek: bool = True):
    """Replies of a REPL root model that peeks at the context (if `peek`), asks about chunks of
    `chunk_chars` characters, and answers with `FINAL_VAR(result)`; the step is read off the
    prompt (how many REPL outputs it holds), so concurrent samples do not share a script.
    Any other prompt is a sub-call, answered by the oracle reader."""

    def reply(prompt: str) -> str:
        if not prompt.endswith("### Assistant\n"):
            return oracle_reply(prompt)
        turns = prompt.rsplit("Now your text.", 1)[-1]
        question = re.search(r"Question: (.*)\n", turns).group(1)
        steps = [PEEK] if peek else []
        steps += [CHUNK_AND_ASK.format(size=chunk_chars, question=question), FINISH]
        return steps[min(turns.count("### REPL output"), len(steps) - 1)]

    return reply


class ZeroLatencyModel:
    """Answers every call at once with `reply(prompt)`. With `yield_each_call`, each call gives
    the event loop one turn first, so every call a solver starts is in flight together, as with
    a real model (the worst case for memory). Keeps the longest prompt, whose tokens a
    benchmark counts after it has measured."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        reply=oracle_reply,
        context_window: int = 32768,
        yield_each_call: bool = False,
    ) -> None:
        self.name = "zero-latency"
        self.tokenizer = tokenizer
        self.context_window = context_window
        self.reply = reply
        self.yield_each_call = yield_each_call
        self.calls = 0
        self.longest = ""

    async def complete(
        self, prompt: str, *, max_tokens: int = 16, stop: tuple[str, ...] = ()
    ) -> Completion:
        if self.yield_each_call:
            await asyncio.sleep(0)
        self.calls += 1
        if len(prompt) > len(self.longest):
            self.longest = prompt
        return Completion(text=self.reply(prompt), prompt_tokens=0, completion_tokens=1,
                          latency_s=0.0)  # fmt: skip

    async def check(self) -> None:
        """Always reachable."""

    def describe(self) -> dict[str, object]:
        return {"backend": "zero-latency test double", "name": self.name}
