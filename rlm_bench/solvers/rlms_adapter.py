"""`rlms`: the official RLM library (PyPI `rlms` 0.1.3, github.com/alexzhang13/rlm) as a
solver, so its numbers come out of the same samples, scorers, statistics and figures as ours.

It calls `RLM(...).completion(context, root_prompt=question)` with the library's own prompts,
loop and `local` REPL, on the run's model (`solvers/endpoints.py`): the library's defaults are
kept (`max_depth=1`, `max_iterations=30`) and its parameters pass through. Decoding is greedy
(temperature 0), as in our solvers; `call_max_tokens` caps each call, since the library sets no
cap and a small model on a CPU can otherwise write until the server's limit on every turn.

Each sample runs in a child process (`rlms_child.py`, which says why). A failure inside the
library, including its own limits (`max_timeout`, `max_budget`, ...), is a recorded error for
that sample, as is a child that crashes or overruns `timeout_s`.

Its trajectory becomes our trace as `repl`'s does: a `call` node per root call (the last one
holds the final answer), an `exec` node per ```repl``` block under the call that wrote it, and
under each block a `call` node per `llm_query` with the span of the context its prompt quotes
(so node scoring and error propagation work on it), or, for `rlm_query` at `max_depth` > 1, the
child RLM's own turns one level down. Tokens come from the library's usage summaries; the root's
call by call from its client (`rlms_child._RecordedHandler`); cost from the run's price table.
A child RLM's usage is a sum over its turns, so it is carried by its first turn.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from rlm_bench.errors import UserError
from rlm_bench.models.base import Model
from rlm_bench.models.pricing import Price, reported_or_priced
from rlm_bench.solvers import SOLVERS
from rlm_bench.solvers.base import Result, Trace, TraceNode
from rlm_bench.solvers.endpoints import Endpoint, Endpoints
from rlm_bench.solvers.prompts import parse_answer
from rlm_bench.solvers.spans import locate_span
from rlm_bench.tasks.base import Sample

INSTALL = 'pip install -e ".[rlms]"'
PASSED_THROUGH = (
    "max_depth",
    "max_iterations",
    "max_budget",
    "max_timeout",
    "max_tokens",
    "max_errors",
    "compaction",
    "compaction_threshold_pct",
    "max_concurrent_subcalls",
    "custom_system_prompt",
    "orchestrator",
)
"""`RLM`'s own keyword arguments, under its own names (`max_tokens` is its cap on a
completion's total tokens, not a per-call cap: that is `call_max_tokens`)."""


@SOLVERS.register("rlms")
class RlmsSolver:
    """The official `rlms` RLM on the run's model (extra `rlms`); its REPL runs model code in a
    local process, not our sandbox, and its calls bypass the response cache."""

    name = "rlms"
    description = (
        "the official rlms library's RLM (extra rlms) on the run's model; its REPL runs model "
        "code in a local child process, not our sandbox; its calls bypass the response cache"
    )
    form = "chat"

    def __init__(
        self,
        *,
        call_max_tokens: int = 1024,
        sub_call_max_tokens: int | None = None,
        timeout_s: float = 3600.0,
        memory_mb: int = 4096,
        **rlm_options: Any,
    ) -> None:
        try:
            import rlm  # noqa: F401
        except ImportError:
            raise UserError(f"solver rlms needs the rlms package: {INSTALL}") from None
        unknown = sorted(set(rlm_options) - set(PASSED_THROUGH))
        if unknown:
            raise UserError(
                f"solver rlms: unknown parameter {unknown[0]!r}; it takes call_max_tokens, "
                f"sub_call_max_tokens, timeout_s, memory_mb and rlms' {', '.join(PASSED_THROUGH)}"
            )
        if call_max_tokens < 1 or (sub_call_max_tokens is not None and sub_call_max_tokens < 1):
            raise UserError("solver rlms: call_max_tokens and sub_call_max_tokens must be >= 1")
        if timeout_s <= 0 or memory_mb < 256:
            raise UserError("solver rlms: timeout_s must be > 0 and memory_mb at least 256")
        self.rlm_options = {"max_depth": 1, "max_iterations": 30, **rlm_options}
        self.call_max_tokens = call_max_tokens
        self.sub_call_max_tokens = sub_call_max_tokens or call_max_tokens
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.sub_model: Model | None = None
        self._endpoints = Endpoints(self.name)

    def use_sub_model(self, model: Model) -> None:
        self.sub_model = model

    def close(self) -> None:
        self._endpoints.close()

    async def solve(self, sample: Sample, model: Model) -> Result:
        root = await asyncio.to_thread(self._endpoints.get, model)
        sub = None
        if self.sub_model is not None:
            sub = await asyncio.to_thread(self._endpoints.get, self.sub_model)
        outcome = await asyncio.to_thread(self._run_child, self._job(sample, root, sub))
        if "error" in outcome:
            raise RuntimeError(f"rlms failed: {outcome['error']}")
        trace = Trace()
        sub_model = self.sub_model or model
        prices = (getattr(model, "price", None), getattr(sub_model, "price", None))
        iterations = (outcome.get("trajectory") or {}).get("iterations", [])
        TrajectoryMapping(trace, sample.context, prices).add(
            iterations, parent=None, depth=0, root_calls=outcome["calls"]
        )
        answer = outcome["response"]
        prediction = parse_answer(answer, sample.query) if answer else None
        notes = {"iterations": len(iterations), "execution_s": round(outcome["execution_time"], 3)}
        unparsed = answer if prediction is None else None
        return Result(prediction=prediction, trace=trace, notes=notes, unparsed=unparsed)

    def _job(self, sample: Sample, root: Endpoint, sub: Endpoint | None) -> dict[str, Any]:
        rlm = {
            **self.rlm_options,
            "backend": "openai",
            "backend_kwargs": _backend_kwargs(root, self.call_max_tokens),
        }
        if sub is not None:
            rlm["other_backends"] = ["openai"]
            rlm["other_backend_kwargs"] = [_backend_kwargs(sub, self.sub_call_max_tokens)]
        elif self.sub_call_max_tokens != self.call_max_tokens:
            rlm["sub_sampling_args"] = {"max_tokens": self.sub_call_max_tokens}
        cpu_s = int(self.timeout_s) + 60
        return {
            "rlm": rlm,
            "context": sample.context,
            "question": sample.query.question,
            "limits": {"memory_mb": self.memory_mb, "cpu_s": cpu_s, "file_mb": 64},
        }

    def _run_child(self, job: dict[str, Any]) -> dict[str, Any]:
        """The child's outcome, or an `error` saying how it ended: its own last log line when it
        died, the timeout when it was killed."""
        with tempfile.TemporaryDirectory(prefix="rlm_bench_rlms_") as folder:
            result, log = Path(folder) / "result.json", Path(folder) / "child.log"
            with log.open("wb") as err:
                child = subprocess.Popen(
                    [sys.executable, "-m", "rlm_bench.solvers.rlms_child", str(result)],
                    stdin=subprocess.PIPE,
                    stdout=err,
                    stderr=err,
                    cwd=folder,
                    start_new_session=True,
                )
                try:
                    child.communicate(json.dumps(job).encode(), timeout=self.timeout_s)
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait()
                    return {"error": f"no answer within timeout_s={self.timeout_s:g} s; killed"}
                finally:
                    if child.poll() is None:
                        os.killpg(child.pid, signal.SIGKILL)
                        child.wait()
            if child.returncode != 0 or not result.exists():
                lines = log.read_text(errors="replace").strip().splitlines()
                last = lines[-1] if lines else "no output"
                return {"error": f"the rlms process exited with {child.returncode}: {last}"}
            return json.loads(result.read_text(encoding="utf-8"))


def _backend_kwargs(endpoint: Endpoint, max_tokens: int) -> dict[str, Any]:
    return {
        "model_name": endpoint.model,
        "base_url": endpoint.base_url,
        "api_key": endpoint.api_key,
        "sampling_args": {"temperature": 0, "max_tokens": max_tokens},
    }


class TrajectoryMapping:
    """`rlms`' logged iterations, added to a `Trace` in `repl`'s layout."""

    def __init__(
        self, trace: Trace, context: str, prices: tuple[Price | None, Price | None]
    ) -> None:
        """`prices`: the root model's and the sub-model's, for calls the library did not
        cost itself (it costs only OpenRouter's)."""
        self.trace, self.context, self.prices = trace, context, prices

    def add(
        self,
        iterations: list[dict[str, Any]],
        *,
        parent: int | None,
        depth: int,
        root_calls: list[dict[str, Any]],
    ) -> list[TraceNode]:
        """`root_calls` are the level's calls as recorded, one a logged iteration, plus any
        compaction (a `summarize` node); a child RLM has none. Returns the level's turns."""
        recorded = iter([c for c in root_calls if c["kind"] != "compact"])
        turns = []
        for step in iterations:
            call = self._call(parent, depth, step.get("response") or "", next(recorded, None))
            if not call.latency_s:
                call.latency_s = float(step.get("iteration_time") or 0.0)
            turns.append(call)
            for block in step.get("code_blocks", []):
                self._block(call, block, depth)
            if step.get("final_answer") is not None:
                call.answer = str(step["final_answer"])
        for compaction in (c for c in root_calls if c["kind"] == "compact"):
            self._call(parent, depth, "", compaction).kind = "summarize"
        return turns

    def _child(self, call: dict[str, Any], parent: int, depth: int) -> None:
        """A child RLM's turns, its usage (a sum over its turns and their sub-calls) less what
        its sub-calls carry put on its first turn."""
        start = len(self.trace.nodes)
        turns = self.add(call["metadata"]["iterations"], parent=parent, depth=depth, root_calls=[])
        below = [n for n in self.trace.nodes[start:] if n.kind == "call" and n is not turns[0]]
        total = _summed(call.get("usage_summary"))
        first = turns[0]
        first.prompt_tokens = max(0, total["prompt_tokens"] - sum(n.prompt_tokens for n in below))
        first.completion_tokens = max(
            0, total["completion_tokens"] - sum(n.completion_tokens for n in below)
        )
        first.cost_usd = reported_or_priced(
            None, self.prices[0], first.prompt_tokens, first.completion_tokens
        )

    def _block(self, call: TraceNode, block: dict[str, Any], depth: int) -> None:
        result = block.get("result") or {}
        stderr = result.get("stderr") or ""
        node = self.trace.add(
            parent=call.id,
            depth=depth,
            kind="exec",
            span=None,
            answer=None,
            code=block.get("code"),
            output=(result.get("stdout") or "") + stderr,
            error=stderr.strip() or None,
            latency_s=float(result.get("execution_time") or 0.0),
        )
        for sub in result.get("rlm_calls", []):
            if (sub.get("metadata") or {}).get("iterations"):
                self._child(sub, node.id, depth + 1)
                continue
            recorded = {**_summed(sub.get("usage_summary")), "latency_s": sub.get("execution_time")}
            prompt = sub.get("prompt")
            sub_node = self._call(node.id, depth + 1, sub.get("response") or "", recorded, sub=True)
            sub_node.answer = (sub.get("response") or "").strip() or None
            sub_node.span = locate_span(self.context, prompt) if isinstance(prompt, str) else None
            sub_node.error = sub.get("error")

    def _call(
        self,
        parent: int | None,
        depth: int,
        output: str,
        recorded: dict[str, Any] | None,
        *,
        sub: bool = False,
    ) -> TraceNode:
        recorded = recorded or {}
        prompt = int(recorded.get("prompt_tokens") or 0)
        completion = int(recorded.get("completion_tokens") or 0)
        price = self.prices[1] if sub else self.prices[0]
        return self.trace.add(
            parent=parent,
            depth=depth,
            kind="call",
            span=None,
            answer=None,
            output=output,
            prompt_tokens=prompt,
            completion_tokens=completion,
            latency_s=float(recorded.get("latency_s") or 0.0),
            cost_usd=reported_or_priced(recorded.get("cost_usd"), price, prompt, completion),
            form="chat",
        )


def _summed(usage: dict[str, Any] | None) -> dict[str, Any]:
    """A usage summary's totals over its models."""
    models = (usage or {}).get("model_usage_summaries", {}).values()
    return {
        "prompt_tokens": sum(m.get("total_input_tokens") or 0 for m in models),
        "completion_tokens": sum(m.get("total_output_tokens") or 0 for m in models),
        "cost_usd": (usage or {}).get("total_cost"),
    }
