"""The solver seam: a solver answers a `Sample` with a model and leaves a trace of every call.

The trace is a flat list of nodes with parent links (a tree). Nodes that cover a known span of the
context record it, so the evaluator can score intermediate answers with the task's `gold_for_span`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from rlm_bench.models.base import Completion, Model
from rlm_bench.tasks.base import Sample

NodeKind = Literal["call", "aggregate", "exec", "summarize", "retrieve"]
"""`call`: one model call; `aggregate`: partial answers combined by a rule (no model);
`exec`: one code block run in a REPL (`code`, its `output`, `error`, `latency_s` its time);
`summarize`: one model call that rewrote a running summary after reading `span` (its `answer`
is the summary, not an answer to the part question, so `evaluation/node_scoring.py` never
scores it); `retrieve`: one part of the context a BM25 search returned (`query`, `rank`,
`retrieval_score`, `span`; no model call, not scored)."""
MODEL_CALL_KINDS: tuple[NodeKind, ...] = ("call", "summarize")
"""The kinds that are model calls: what a sample's calls, tokens, latency and cost count."""


@dataclass
class TraceNode:
    id: int
    parent: int | None
    depth: int
    kind: NodeKind
    span: tuple[int, int] | None
    answer: str | None
    output: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    cached: bool = False
    retries: int = 0
    code: str | None = None
    error: str | None = None
    form: str | None = None
    """How a `call` node reached the model: "completion" (one text to continue) or "chat"."""
    query: str | None = None
    rank: int | None = None
    retrieval_score: float | None = None
    """A `retrieve` node's search: the query, the part's rank (0 is best) and its BM25 score."""
    gold: str | None = None
    correct: bool | None = None
    """`gold` and `correct` are the evaluator's, not the solver's: the task's answer for `span`
    and whether `answer` matches it (`evaluation/node_scoring.py`)."""


@dataclass
class Trace:
    nodes: list[TraceNode] = field(default_factory=list)

    def add(self, **fields: Any) -> TraceNode:
        node = TraceNode(id=len(self.nodes), **fields)
        self.nodes.append(node)
        return node

    def record_call(
        self,
        completion: Completion,
        *,
        parent: int | None,
        depth: int,
        span: tuple[int, int] | None,
        answer: str | None,
        kind: NodeKind = "call",
    ) -> TraceNode:
        return self.add(
            parent=parent,
            depth=depth,
            kind=kind,
            span=span,
            answer=answer,
            output=completion.text,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            latency_s=completion.latency_s,
            cost_usd=completion.cost_usd,
            cached=completion.cached,
            retries=completion.retries,
            form=completion.form,
        )

    @property
    def calls(self) -> list[TraceNode]:
        return [n for n in self.nodes if n.kind in MODEL_CALL_KINDS]

    def to_list(self) -> list[dict[str, Any]]:
        return [asdict(n) for n in self.nodes]


@dataclass
class Result:
    prediction: str | None
    trace: Trace
    truncated: bool = False
    notes: dict[str, Any] = field(default_factory=dict)
    unparsed: str | None = None
    """The model's reply when no answer could be read from it: a format error, told apart from
    a model that gave no answer at all."""


class Solver(Protocol):
    """What the evaluator needs of a solver, and all a new recursion strategy has to write.

    - The constructor's keyword arguments are the solver's parameters: a suite's
      `{label: mine_d2, solver: mine, depth: 2}` or `--solvers mine:depth=2` calls `Mine(depth=2)`.
      Reject bad values with `rlm_bench.errors.UserError`, so a typo fails before the model loads.
    - `solve` is called once per sample, concurrently with other samples, on the run's model
      (already capped, cached and priced). Use only `sample` (never the task module) and
      `model.complete`, or `model.chat` where `model.has_chat_template` (`solvers/forms.py`
      picks); split with `solvers/splitting.py`, prompt and parse with
      `solvers/prompts.py`, combine with the sample's `decomposition` (`tasks/combining.py`).
    - Record every model call in the `Trace` (`trace.record_call`) with the span of the context
      it read: calls and tokens are counted from the trace, and the evaluator scores every node
      with a span against the task's answer for it, which is how errors are traced to a level.
    - Raise on a bug; the evaluator records the sample as crashed (score 0) and goes on.

    Register it with `@SOLVERS.register("mine")`, an entry point in the group
    `rlm_bench.solvers`, or name it by import path (`--solvers mypkg.module:Mine:depth=2`).
    """

    name: str

    async def solve(self, sample: Sample, model: Model) -> Result: ...


@runtime_checkable
class UsesSubModel(Protocol):
    """A solver that hands sub-calls to a second model (`--sub-model`) when the run has one."""

    def use_sub_model(self, model: Model) -> None: ...


@runtime_checkable
class ClosesAfterRun(Protocol):
    """A solver that holds something for the whole run (a server it started for a library that
    cannot be handed our `Model`): the executor calls `close` once its cells are done."""

    def close(self) -> None: ...
