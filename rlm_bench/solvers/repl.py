"""The REPL Recursive Language Model (Zhang, Kraska and Khattab, 2025): the model decides.

The context never enters the root prompt. It is the variable `context` in a sandboxed Python
REPL (`rlm_bench.sandbox`); the root model writes ```repl blocks to inspect, slice and grep it
and calls `llm_query` / `llm_query_batched` to hand pieces to a sub-model. Each block's output
is the next message, until the model writes `FINAL(...)` / `FINAL_VAR(name)` or runs out of
iterations (then one last call asks for the answer). With `max_depth` 2 or more, an `llm_query`
is itself a REPL RLM over its prompt.

The trace has a `call` node per root reply, an `exec` node per block (code, output, error,
seconds) under it, and a node per sub-call under the block that made it, with the span of the
context its prompt quotes (`spans.py`), so sub-answers can be scored like recursive leaves.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rlm_bench.errors import UserError
from rlm_bench.models.base import Completion, Message, Model
from rlm_bench.sandbox import RunResult, Sandbox, SandboxError
from rlm_bench.solvers import SOLVERS
from rlm_bench.solvers.base import Result, Trace, TraceNode
from rlm_bench.solvers.forms import check_form, pick_form
from rlm_bench.solvers.prompts import parse_answer
from rlm_bench.solvers.repl_conversation import Conversation, prompt_file
from rlm_bench.solvers.repl_parsing import code_blocks, final_answer
from rlm_bench.solvers.spans import locate_span
from rlm_bench.tasks.base import Sample

ROOT_STOP = ("\n### REPL output", "\n### User")
CODE_END = "\n```\n"
"""With `stop_after_code` (the default), a reply ends where its first block closes: a base
model has no end of turn, and after its code it writes on (usually the output it imagines) to
`max_tokens`. Turn it off to let one reply hold several blocks and a FINAL after them."""
SUB_STOP = ("\n\n",)
FINAL_STOP = ("\n",)
FINAL_TOKENS = 48
MAX_CHARS_PER_TOKEN = 8
"""More characters per token than any tokenizer gives on text: past this, a prompt is too long
for the window without counting."""
PRELUDE = """
def FINAL(answer):
    _final(str(answer))
    return answer

def FINAL_VAR(name):
    value = globals().get(name, name) if isinstance(name, str) else name
    _final(str(value))
    return value
"""
"""Makes `FINAL(...)` written inside a block an answer too, not a NameError the model has to
puzzle over: weaker models often put it there."""
NO_CODE = "Write Python in a ```repl block, or give your answer with FINAL(...) on its own line."


@dataclass
class Outcome:
    """What one trajectory ended with, and how."""

    answer: str | None = None
    how: str = "none"  # FINAL, FINAL_VAR, code (FINAL called in a block), out_of_turns, none
    iterations: int = 0
    block_errors: int = 0
    timeouts: int = 0
    repeats: int = 0
    """Replies that only ran code already run (with `guide`, the loop then asks for the answer)."""


@SOLVERS.register("repl")
class Repl:
    name = "repl"
    description = (
        "the paper's REPL RLM: the context a variable in our sandboxed REPL, the model's code "
        "calling llm_query on pieces"
    )
    subcalls = True

    def __init__(
        self,
        max_depth: int = 1,
        max_iterations: int = 6,
        max_tokens: int = 384,
        sub_max_tokens: int = 128,
        output_chars: int = 2000,
        timeout_s: float = 30.0,
        memory_mb: int = 1024,
        cpu_s: int = 300,
        stop_after_code: bool = True,
        form: str = "auto",
        guide: bool = True,
    ) -> None:
        if max_depth < 1 or max_iterations < 1 or max_tokens < 1 or sub_max_tokens < 1:
            raise UserError(
                f"{self.name} solver needs max_depth, max_iterations, max_tokens and "
                "sub_max_tokens of at least 1"
            )
        if output_chars < 100 or timeout_s <= 0 or memory_mb < 64 or cpu_s < 1:
            raise UserError(
                f"{self.name} solver needs output_chars >= 100, timeout_s > 0, "
                "memory_mb >= 64 and cpu_s >= 1"
            )
        self.max_depth = max_depth
        self.max_iterations = max_iterations
        self.max_tokens = max_tokens
        self.sub_max_tokens = sub_max_tokens
        self.output_chars = output_chars
        self.limits = {"timeout_s": timeout_s, "memory_mb": memory_mb, "cpu_s": cpu_s}
        self.root_stop = (*ROOT_STOP, CODE_END) if stop_after_code else ROOT_STOP
        self.form = check_form(self.name, form)
        self.guide = guide
        self.sub_model: Model | None = None

    def use_sub_model(self, model: Model) -> None:
        """The model `llm_query` asks (`--sub-model`); the root model by default."""
        self.sub_model = model

    async def start_run(self, sample: Sample, model: Model) -> ReplRun:
        """The run of one sample: where a variant of the loop (`codeact.py`) puts a run of its
        own, with its sandbox variables, host functions and prompts."""
        return ReplRun(
            self, model, self.sub_model or model, sample.context, Trace(),
            asyncio.get_running_loop(),
        )  # fmt: skip

    async def solve(self, sample: Sample, model: Model) -> Result:
        run = await self.start_run(sample, model)
        outcome = await run.trajectory(
            sample.context, sample.actual_length, sample.query.question, 0, None
        )
        prediction = None if outcome.answer is None else parse_answer(outcome.answer, sample.query)
        notes = {
            "final": outcome.how,
            "iterations": outcome.iterations,
            "block_errors": outcome.block_errors,
            "timeouts": outcome.timeouts,
            "repeats": outcome.repeats,
            "form": run.form,
        }
        if run.dropped_tokens:
            notes["dropped_tokens"] = run.dropped_tokens
        unparsed = outcome.answer if prediction is None else None
        return Result(
            prediction=prediction, trace=run.trace, truncated=bool(run.dropped_tokens),
            notes=notes, unparsed=unparsed,
        )  # fmt: skip


@SOLVERS.register("repl_no_subcalls")
class ReplNoSubcalls(Repl):
    """The ablation: the same REPL, with no `llm_query`; code alone has to find the answer."""

    name = "repl_no_subcalls"
    description = "the REPL RLM without llm_query: code alone has to find the answer"
    subcalls = False


@dataclass
class ReplRun:
    """One sample's run: the root trajectory and every nested one share the trace.

    A variant of the loop subclasses it and changes what the loop leaves open: the sandbox's
    `variables`, its host `functions`, and the `conversation` (prompt files) the model reads.
    """

    solver: Repl
    model: Model
    sub_model: Model
    root_context: str
    trace: Trace
    loop: asyncio.AbstractEventLoop

    def __post_init__(self) -> None:
        self.form = pick_form(self.solver.form, self.model)
        self.sub_form = pick_form("auto", self.sub_model)
        self.dropped_tokens = 0
        """Context tokens left out of a prompt; never any here, where no prompt holds it."""

    def variables(self, context: str) -> dict[str, Any]:
        return {"context": context}

    def functions(self, depth: int, block: list[TraceNode]) -> dict[str, Callable[..., Any]]:
        """The host functions a block may call; `block` holds the `exec` node of the block
        running when one is called, the parent of the nodes it records."""
        if not self.solver.subcalls:
            return {}
        return {
            "llm_query": lambda prompt: self._blocking(
                self._query(str(prompt), depth, block[0].id)
            ),
            "llm_query_batched": lambda prompts: self._blocking(
                self._batch([str(p) for p in prompts], depth, block[0].id)
            ),
        }

    async def trajectory(
        self, context: str, tokens: int, question: str, depth: int, parent: int | None
    ) -> Outcome:
        outcome = Outcome()
        finals: list[str] = []
        current_block: list[TraceNode] = []
        functions = {"_final": finals.append, **self.functions(depth, current_block)}
        sandbox = await _in_thread(
            Sandbox,
            output_chars=self.solver.output_chars,
            variables=self.variables(context),
            functions=functions,
            **self.solver.limits,
        )
        conversation = self.conversation(context, tokens, question)
        ran: set[str] = set()
        try:
            await _in_thread(sandbox.run, PRELUDE)
            for _ in range(self.solver.max_iterations):
                outcome.iterations += 1
                completion = await self._call(conversation)
                reply = completion.text
                call = self.trace.record_call(
                    completion, parent=parent, depth=depth, span=None, answer=None
                )
                outputs, blocks = [], code_blocks(reply)
                repeated = bool(blocks) and all(code in ran for code in blocks)
                ran.update(blocks)
                for code in blocks:
                    current_block[:] = [
                        self.trace.add(
                            parent=call.id,
                            depth=depth,
                            kind="exec",
                            span=None,
                            answer=None,
                            code=code,
                        )  # fmt: skip
                    ]
                    result = await _in_thread(sandbox.run, code)
                    if result.state_lost:
                        await _in_thread(sandbox.run, PRELUDE)
                    outputs.append(self._record_block(current_block[0], result, outcome))
                if finals:
                    call.answer = outcome.answer = finals[0]
                    outcome.how = "code"
                    return outcome
                final = final_answer(reply)
                if final is not None and final.variable is not None:
                    try:
                        value = await _in_thread(sandbox.get, final.variable)
                    except KeyError:
                        outputs.append(f"FINAL_VAR({final.variable}): there is no variable "
                                       f"{final.variable} in the REPL.")  # fmt: skip
                    except SandboxError as exc:
                        outputs.append(f"FINAL_VAR({final.variable}) failed: {exc}")
                    else:
                        call.answer = outcome.answer = value
                        outcome.how = "FINAL_VAR"
                        return outcome
                elif final is not None:
                    call.answer = outcome.answer = final.text
                    outcome.how = "FINAL"
                    return outcome
                conversation.add("reply", _fenced(reply.strip()))
                if outputs:
                    conversation.add("output", "\n".join(outputs))
                else:
                    conversation.add("note", NO_CODE)
                if repeated and outputs and conversation.guide:
                    # A small model that has its answer tends to run the same block again
                    # rather than say it: ask for the answer now, from what it has seen.
                    outcome.repeats += 1
                    break
            return await self._out_of_turns(conversation, depth, parent, outcome)
        finally:
            await _in_thread(sandbox.close)

    # --- prompts ----------------------------------------------------------------------------

    def conversation(self, context: str, tokens: int, question: str) -> Conversation:
        subcalls = self.solver.subcalls
        sizes = {
            "context_type": type(context).__name__,
            "context_chars": len(context),
            "context_tokens": tokens,
            "output_chars": self.solver.output_chars,
        }
        tools = ""
        if subcalls:
            tools = prompt_file("subcalls").format(sub_window=self.sub_model.context_window)
        if self.form == "chat":
            example = prompt_file("chat_example_subcalls" if subcalls else "chat_example_code_only")
            system = prompt_file("chat_system").format(
                output_chars=self.solver.output_chars, subcalls=tools, example=example.strip()
            )
            opening = prompt_file("chat_opening").format(question=question, **sizes).strip()
            if self.solver.guide:
                opening += " " + prompt_file("chat_search_hint").strip()
        else:
            example = prompt_file("example_subcalls" if subcalls else "example_code_only")
            system = prompt_file("system").format(subcalls=tools, example=example.strip(), **sizes)
            opening = question
        return Conversation(system, opening, question, guide=self.solver.guide)

    @property
    def _budget(self) -> int:
        return self.model.context_window - self.solver.max_tokens - 16

    async def _call(self, conversation: Conversation) -> Completion:
        stop, max_tokens = self.solver.root_stop, self.solver.max_tokens
        if self.form == "chat":
            messages = conversation.messages(self.model, self._budget)
            return await self.model.chat(messages, max_tokens=max_tokens, stop=stop)
        prompt = conversation.transcript(self.model, self._budget)
        return await self.model.complete(prompt, max_tokens=max_tokens, stop=stop)

    async def _out_of_turns(
        self, conversation: Conversation, depth: int, parent: int | None, outcome: Outcome
    ) -> Outcome:
        """The paper's last step when the turns run out: one more call asks for the answer
        from what the model has seen. It is part of the RLM, so it is in the trace and cost."""
        if self.form == "chat":
            closing = prompt_file("chat_out_of_turns").format(question=conversation.question)
            messages = conversation.messages(self.model, self._budget, closing=closing.strip())
            completion = await self.model.chat(messages, max_tokens=FINAL_TOKENS)
            text = completion.text.strip()
            final = final_answer(text)
            answer = final.text if final is not None and final.text is not None else text
        else:
            prompt = conversation.transcript(self.model, self._budget)
            prompt = prompt.removesuffix("### Assistant\n") + prompt_file("out_of_turns").strip()
            completion = await self.model.complete(prompt, max_tokens=FINAL_TOKENS, stop=FINAL_STOP)
            text = completion.text.strip()
            answer = text[: text.rfind(")")].strip() if ")" in text else text
        self.trace.record_call(
            completion, parent=parent, depth=depth, span=None, answer=answer or None
        )
        if answer:
            outcome.answer, outcome.how = answer, "out_of_turns"
        return outcome

    # --- blocks and sub-calls ---------------------------------------------------------------

    def _record_block(self, node: TraceNode, result: RunResult, outcome: Outcome) -> str:
        text = result.stdout + result.stderr
        if result.error:
            outcome.block_errors += 1
            outcome.timeouts += result.timed_out
            text = f"{text}\n{result.error}" if text else result.error
        node.output, node.error, node.latency_s = text, result.error, result.seconds
        return text if text.strip() else "(no output)"

    def _blocking(self, coroutine) -> Any:
        """Called from the sandbox's thread: run a sub-call on the solver's event loop and wait
        for it there, so sub-calls share the run's model and its cap on calls in flight."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    async def _batch(self, prompts: list[str], depth: int, parent: int) -> list[str]:
        return list(await asyncio.gather(*(self._query(p, depth, parent) for p in prompts)))

    def _over_window(self, prompt: str) -> str | None:
        """What `llm_query` returns instead of sending a prompt the sub-model cannot read whole:
        the model is told to cut it smaller, as a real API's error would. A prompt far longer
        in characters than the window could hold in tokens is refused without tokenizing it,
        so a whole 1M-token context passed by mistake costs no token list of that size."""
        room = self.sub_model.context_window - self.solver.sub_max_tokens
        if len(prompt) + 8 <= room:
            return None  # a token is at least one character (8 spare for special tokens)
        tokens = (
            self.sub_model.tokenizer.count(prompt)
            if len(prompt) <= room * MAX_CHARS_PER_TOKEN
            else None
        )
        if tokens is not None and tokens <= room:
            return None
        size = f"{tokens} tokens" if tokens is not None else f"{len(prompt)} characters"
        return (
            f"Error: this prompt is {size}, more than the {room} tokens llm_query can read; "
            "split the text into smaller pieces."
        )

    async def _query(self, prompt: str, depth: int, parent: int) -> str:
        if depth + 1 < self.solver.max_depth:
            nested = prompt_file("nested_question").strip()
            tokens = self.sub_model.tokenizer.count(prompt)
            outcome = await self.trajectory(prompt, tokens, nested, depth + 1, parent)
            return outcome.answer or ""
        if too_long := self._over_window(prompt):
            return too_long
        limits = {"max_tokens": self.solver.sub_max_tokens, "stop": SUB_STOP}
        if self.sub_form == "chat":
            messages: list[Message] = [{"role": "user", "content": prompt}]
            completion = await self.sub_model.chat(messages, **limits)
        else:
            completion = await self.sub_model.complete(prompt, **limits)
        self.trace.record_call(
            completion, parent=parent, depth=depth + 1,
            span=locate_span(self.root_context, prompt), answer=completion.text.strip(),
        )  # fmt: skip
        return completion.text


def _fenced(reply: str) -> str:
    """A reply cut at its block's end (or by the token limit) with the fence closed again, so
    the transcript the model reads next shows well-formed blocks."""
    return reply + "\n```" if reply.count("```") % 2 else reply


async def _in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`fn` in a thread of its own, not asyncio's shared pool: a block blocks its thread while
    its sub-calls run, and nested REPLs (depth 2+) would otherwise exhaust the pool and wait on
    each other forever."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future = loop.create_future()

    def work() -> None:
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the awaiting coroutine, raised there
            loop.call_soon_threadsafe(_settle, done, None, exc)
        else:
            loop.call_soon_threadsafe(_settle, done, result, None)

    threading.Thread(target=work, daemon=True).start()
    return await done


def _settle(future: asyncio.Future, result: Any, exc: BaseException | None) -> None:
    if future.cancelled():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
