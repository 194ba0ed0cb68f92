"""`dspy_rlm`: DSPy's RLM (`dspy.RLM`, DSPy 3.4.1) as a solver, so its numbers come out of the
same samples, scorers, statistics and figures as ours.

It runs `dspy.RLM("context, question -> answer")` with dspy's own prompts, adapter and loop on
the run's model (`solvers/endpoints.py`: the run's OpenAI-compatible server, or `rlm_bench
serve` started once per run for an embedded model), with greedy decoding (temperature 0) and
`max_tokens` per call. Its parameters pass through under dspy's names (`max_iters`,
`max_llm_calls`, `max_output_chars`). The model's code runs in our sandbox
(`dspy_interpreter.py`), with `timeout_s`, `memory_mb` and `cpu_s` as in `repl`.

How it differs from `repl`: every root call is dspy's structured prompt (the task, the REPL's
variables with a preview of each, which for `context` is its first and last 500 characters, and
the history of steps so far) asking for `reasoning` and `code` fields in dspy's chat format,
where `repl` keeps a conversation of code and output turns; the answer is `SUBMIT(answer)` from
code; when `max_iters` run out, dspy's `extract` call reads the history and answers; and a reply
dspy cannot parse (with its ChatAdapter, then its JSON fallback) ends the sample as an error.
Its calls bypass our response cache, retries and cap on calls in flight (they go straight to
the server), so a re-run costs them again.

The trace follows `repl`'s layout: a `call` node per root call (dspy's replies, the last one
holding the answer), an `exec` node per block under the call that wrote it, and under each block
a `call` node per sub-call (`llm_query`, `llm_query_batched`, or a model call of a sub-agent
built through dspy's facade) with the span of the context its prompt quotes. Tokens are dspy's
usage per call; latency is timed per call; cost is dspy's where it knows a price, else the run's
price table. A failure inside dspy or its clients is the sample's recorded error, never the
run's end.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rlm_bench.errors import UserError
from rlm_bench.models.base import Model
from rlm_bench.models.pricing import Price, reported_or_priced
from rlm_bench.solvers import SOLVERS
from rlm_bench.solvers.base import Result, Trace, TraceNode
from rlm_bench.solvers.endpoints import Endpoint, Endpoints
from rlm_bench.solvers.prompts import parse_answer
from rlm_bench.solvers.spans import locate_span
from rlm_bench.tasks.base import Sample

if TYPE_CHECKING:
    from rlm_bench.solvers.dspy_calls import LMCall
    from rlm_bench.solvers.dspy_interpreter import Block

INSTALL = 'pip install -e ".[dspy]"'
SIGNATURE = "context, question -> answer"
EXTRACTED = "Extract forced final output"
"""The `final_reasoning` dspy gives a prediction its `extract` call made after `max_iters`."""
MAX_ERROR_CHARS = 2000


@SOLVERS.register("dspy_rlm")
class DspyRlm:
    """DSPy's `dspy.RLM` on the run's model (extra `dspy`); its code runs in our sandbox, and its
    calls bypass the response cache."""

    name = "dspy_rlm"
    form = "chat"
    description = (
        "DSPy's dspy.RLM (extra dspy) on the run's model, with dspy's prompts and loop; its code "
        "runs in our sandbox; its calls bypass the response cache"
    )

    def __init__(
        self,
        *,
        max_iters: int = 20,
        max_llm_calls: int = 50,
        max_output_chars: int = 10_000,
        max_tokens: int = 1024,
        sub_max_tokens: int | None = None,
        timeout_s: float = 30.0,
        memory_mb: int = 1024,
        cpu_s: int = 300,
        call_timeout_s: float = 600.0,
    ) -> None:
        try:
            import dspy  # noqa: F401
        except ImportError:
            raise UserError(f"solver dspy_rlm needs the dspy package: {INSTALL}") from None
        from rlm_bench.solvers.dspy_calls import quiet

        quiet()
        sub_max_tokens = max_tokens if sub_max_tokens is None else sub_max_tokens
        if min(max_iters, max_llm_calls, max_tokens, sub_max_tokens) < 1:
            raise UserError(
                "solver dspy_rlm: max_iters, max_llm_calls, max_tokens and sub_max_tokens must "
                "be at least 1"
            )
        if max_output_chars < 100 or timeout_s <= 0 or memory_mb < 64 or cpu_s < 1:
            raise UserError(
                "solver dspy_rlm needs max_output_chars >= 100, timeout_s > 0, memory_mb >= 64 "
                "and cpu_s >= 1"
            )
        if call_timeout_s <= 0:
            raise UserError("solver dspy_rlm: call_timeout_s must be > 0")
        self.rlm_options = {
            "max_iters": max_iters,
            "max_llm_calls": max_llm_calls,
            "max_output_chars": max_output_chars,
        }
        self.max_tokens = max_tokens
        self.sub_max_tokens = sub_max_tokens
        self.call_timeout_s = call_timeout_s
        # The capture limit only bounds memory: dspy cuts what the model sees to
        # max_output_chars itself (head and tail, with the true length).
        self.limits = {
            "timeout_s": timeout_s,
            "memory_mb": memory_mb,
            "cpu_s": cpu_s,
            "output_chars": 2 * max_output_chars,
        }
        self.sub_model: Model | None = None
        self._endpoints = Endpoints(self.name)

    def use_sub_model(self, model: Model) -> None:
        """The model `llm_query` (and sub-agents) ask (`--sub-model`); the root model by
        default."""
        self.sub_model = model

    def close(self) -> None:
        self._endpoints.close()

    async def solve(self, sample: Sample, model: Model) -> Result:
        root = await asyncio.to_thread(self._endpoints.get, model)
        sub_model = self.sub_model or model
        sub = root if self.sub_model is None else await asyncio.to_thread(
            self._endpoints.get, self.sub_model
        )  # fmt: skip
        run = DspyRun(self, sample, root, sub)
        try:
            prediction = await asyncio.to_thread(run.forward)
        except Exception as exc:  # dspy's, its clients', or the interpreter's: this sample's
            message = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
            raise RuntimeError(f"dspy.RLM failed: {message}") from exc
        finally:
            await asyncio.to_thread(run.close)
        prices = (getattr(model, "price", None), getattr(sub_model, "price", None))
        answer = prediction.get("answer")
        answer = None if answer is None else str(answer)
        trace = TrajectoryTrace(sample.context, run.root_lm.calls, run.sub_lm.calls, prices)
        trace.add_blocks(run.blocks)
        trace.finish(answer)
        parsed = parse_answer(answer, sample.query) if answer else None
        return Result(
            prediction=parsed,
            trace=trace.trace,
            notes=run.notes(prediction, trace.blocks),
            unparsed=answer if parsed is None and answer else None,
        )


class DspyRun:
    """One sample's `dspy.RLM` call: its own LMs (root and sub-calls, so each call is told
    apart by the LM that answered it), its REPL, and the blocks it ran, in order, each with the
    number of root and sub-calls made by the time it ended."""

    def __init__(self, solver: DspyRlm, sample: Sample, root: Endpoint, sub: Endpoint) -> None:
        import dspy

        from rlm_bench.solvers.dspy_calls import RecordingLM
        from rlm_bench.solvers.dspy_interpreter import SandboxInterpreterFactory

        self.sample = sample
        timeout = solver.call_timeout_s
        self.root_lm = RecordingLM.at(root, max_tokens=solver.max_tokens, timeout_s=timeout)
        self.sub_lm = RecordingLM.at(sub, max_tokens=solver.sub_max_tokens, timeout_s=timeout)
        self.blocks: list[tuple[Block, int, int]] = []
        self.factory = SandboxInterpreterFactory(
            variables={"context": sample.context, "question": sample.query.question},
            limits=solver.limits,
            on_block=self._ran,
        )
        self.rlm = dspy.RLM(
            SIGNATURE, **solver.rlm_options, sub_lm=self.sub_lm, interpreter_factory=self.factory
        )

    def _ran(self, block: Block) -> None:
        """In dspy's thread, after each block (a list append: nothing here can fail inside
        dspy)."""
        self.blocks.append((block, len(self.root_lm.calls), len(self.sub_lm.calls)))

    def forward(self) -> Any:
        """The whole `dspy.RLM` call, in a worker thread; dspy's settings are this thread's."""
        import dspy

        with dspy.context(lm=self.root_lm, disable_history=False):
            return self.rlm(context=self.sample.context, question=self.sample.query.question)

    def close(self) -> None:
        """The LMs' connection pools, which would otherwise wait for the garbage collector."""
        self.root_lm.close()
        self.sub_lm.close()

    def notes(self, prediction: Any, blocks: list[Block]) -> dict[str, Any]:
        import dspy

        trajectory = prediction.get("trajectory") or []
        extracted = prediction.get("final_reasoning") == EXTRACTED
        return {
            "final": "extract" if extracted else "SUBMIT",
            "iterations": len(trajectory),
            "out_of_iterations": extracted,
            "blocks": len(blocks),
            "block_errors": sum(b.error is not None for b in blocks),
            "timeouts": sum(b.timed_out for b in blocks),
            "failed_lm_calls": len(self.root_lm.failures) + len(self.sub_lm.failures),
            "sub_agents": self.factory.sub_agents,
            "dspy": dspy.__version__,
        }


@dataclass
class TrajectoryTrace:
    """A run's recorded calls and blocks as a `Trace` in `repl`'s layout."""

    context: str
    root_calls: list[LMCall]
    sub_calls: list[LMCall]
    prices: tuple[Price | None, Price | None]
    trace: Trace = field(default_factory=Trace)
    blocks: list[Block] = field(default_factory=list)
    """The blocks the model wrote (dspy's own setup, run before the first root call, left
    out)."""
    _roots: list[TraceNode] = field(default_factory=list)
    _subs_seen: int = 0

    def add_blocks(self, blocks: list[tuple[Block, int, int]]) -> None:
        for block, roots_by_then, subs_by_then in blocks:
            self._add_roots(roots_by_then)
            if not self._roots:
                self._subs_seen = subs_by_then
                continue
            self.blocks.append(block)
            node = self.trace.add(
                parent=self._roots[-1].id, depth=0, kind="exec", span=None, answer=None,
                code=block.code, output=block.output, error=block.error,
                latency_s=block.seconds,
            )  # fmt: skip
            self._add_subs(subs_by_then, node.id)

    def finish(self, answer: str | None) -> None:
        """The root calls after the last block (dspy's `extract`), any sub-call made outside a
        block under the last root call, and the answer on the last root call."""
        self._add_roots(len(self.root_calls))
        if self._roots:
            self._add_subs(len(self.sub_calls), self._roots[-1].id)
            self._roots[-1].answer = answer

    def _add_roots(self, count: int) -> None:
        while len(self._roots) < count:
            call = self.root_calls[len(self._roots)]
            self._roots.append(self._node(call, parent=None, depth=0, span=None, answer=None))

    def _add_subs(self, count: int, parent: int) -> None:
        for call in self.sub_calls[self._subs_seen : count]:
            span = locate_span(self.context, call.prompt)
            self._node(call, parent=parent, depth=1, span=span, answer=call.reply.strip())
        self._subs_seen = max(self._subs_seen, count)

    def _node(
        self,
        call: LMCall,
        *,
        parent: int | None,
        depth: int,
        span: tuple[int, int] | None,
        answer: str | None,
    ) -> TraceNode:
        price = self.prices[0] if depth == 0 else self.prices[1]
        cost = reported_or_priced(call.cost_usd, price, call.prompt_tokens, call.completion_tokens)
        return self.trace.add(
            parent=parent, depth=depth, kind="call", span=span, answer=answer, output=call.reply,
            prompt_tokens=call.prompt_tokens, completion_tokens=call.completion_tokens,
            latency_s=call.latency_s, cost_usd=cost, form="chat",
        )  # fmt: skip
