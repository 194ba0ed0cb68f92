"""A `dspy` code interpreter backed by our sandbox, so the code `dspy.RLM` has a model write runs
where `repl`'s does: in `rlm_bench.sandbox.Sandbox` (a separate process with time, memory and
output limits, no network, its own temporary directory).

It implements dspy's `CodeInterpreter` protocol (`dspy/primitives/code_interpreter.py`):

- `execute(code, variables)` is one `Sandbox.run`. Its printed output (and the value of a last
  bare expression, shown as the interactive interpreter shows it) is the result; an error is
  raised as `SyntaxError` or `CodeExecutionError` with the printed output before the traceback,
  which dspy hands back to the model as the step's output.
- `tools` (`llm_query`, `llm_query_batched`, the dspy facade's `__dspy_construct__` and
  `__dspy_call__`) are the sandbox's host functions: they run in the harness, in the thread that
  runs the block, and their time does not count toward the block's timeout. dspy's tools take
  keyword arguments; a positional call from model code is bound to the tool's parameter names.
- `SUBMIT(...)` is defined in the REPL with the signature of `output_fields`. It hands its
  values (each a JSON value, or its repr) to the harness and ends the block, and `execute`
  returns them as a `FinalOutput` keyed by field name, which dspy then checks and parses.
- The sandbox dspy facade (`import dspy` in the REPL for sub-agents, `dspy/primitives/facade.py`)
  works: its shim is stdlib code run like any block, and its two tools are host functions.

Departures from dspy's own interpreters, each deliberate:

- A block that times out or kills its REPL is a recoverable `CodeExecutionError`, as in `repl`,
  not the end of the run: the REPL restarts with the input variables, `SUBMIT` and the facade,
  and the model is told so. dspy's protocol would end the session (`CodeInterpreterError`).
- Input variables are written once: the sample's context goes to the worker as a file when the
  REPL starts, and a variable is sent again only when `execute` passes a different value. So a
  block that reassigns `context` keeps its value in later blocks, where dspy's interpreters set
  the inputs again before each one.
- The host functions are those in `tools` when the REPL starts (`start`, or the first
  `execute`); a tool added later is refused with a `CodeInterpreterError` naming it. `dspy.RLM`
  adds all of its tools first.
"""

from __future__ import annotations

import asyncio
import inspect
import keyword
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dspy.primitives.code_interpreter import CodeExecutionError, CodeInterpreterError, FinalOutput
from dspy.primitives.facade import CONSTRUCT_TOOL, SHIM_SETUP

from rlm_bench.sandbox import RunResult, Sandbox, SandboxError

SUBMIT_HOST = "_rlm_bench_submit"
VARIABLES_HOST = "_rlm_bench_variables"
RESERVED = frozenset({"SUBMIT", "__builtins__", SUBMIT_HOST, VARIABLES_HOST})
TAKE_VARIABLES = f"globals().update({VARIABLES_HOST}())"
PRELUDE = f"""
import json as _rlm_bench_json

class _RlmBenchSubmitted(BaseException):
    \"\"\"Raised by SUBMIT to end the block; the harness already holds the outputs.\"\"\"

def _rlm_bench_value(value):
    try:
        _rlm_bench_json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value

def _rlm_bench_submit_fields(fields):
    {SUBMIT_HOST}({{name: _rlm_bench_value(value) for name, value in fields.items()}})
    raise _RlmBenchSubmitted("SUBMIT called: the run ends with these outputs")
"""
"""What every fresh REPL runs before the first block (names the facade does not own)."""
REPLAYED = (SHIM_SETUP,)
"""Setup blocks dspy runs once per interpreter, run again in a REPL that had to restart."""
_SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")


@dataclass(frozen=True)
class Block:
    """One `execute`, as the solver's trace records it."""

    code: str
    output: str
    """What the model is shown: the printed output, then the error if there was one."""
    error: str | None
    seconds: float
    timed_out: bool
    submitted: dict[str, Any] | None


def submit_source(output_fields: list[dict[str, Any]] | None) -> str:
    """`SUBMIT` with one parameter per output field (dspy's single `output` without fields).
    Types are left to dspy, which parses each submitted value into its field's type."""
    names = [field.get("name") for field in output_fields] if output_fields else ["output"]
    bad = [
        n for n in names if not isinstance(n, str) or not n.isidentifier() or keyword.iskeyword(n)
    ]
    if bad or len(set(names)) != len(names):
        raise CodeInterpreterError(f"output field names must be distinct identifiers: {names!r}")
    fields = ", ".join(f"{name!r}: {name}" for name in names)
    return f"def SUBMIT({', '.join(names)}):\n    _rlm_bench_submit_fields({{{fields}}})\n"


def keyword_call(function: Callable[..., Any], args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """`args` bound to `function`'s parameter names where it has them, since dspy's tools take
    keyword arguments (`RLM._make_interpreter_tool` wraps a user tool as `invoke(**kwargs)`)."""
    if not args:
        return args, kwargs
    try:
        signature = inspect.signature(function)
        bound = signature.bind(*args, **kwargs)
    except (TypeError, ValueError):
        return args, kwargs  # the call itself then says what is wrong
    kinds = {name: parameter.kind for name, parameter in signature.parameters.items()}
    if inspect.Parameter.VAR_POSITIONAL in kinds.values():
        return args, kwargs  # positions matter to it: pass them on as they are
    positional: list[Any] = []
    named: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        if kinds[name] is inspect.Parameter.VAR_KEYWORD:
            named.update(value)
        elif kinds[name] is inspect.Parameter.POSITIONAL_ONLY:
            positional.append(value)
        else:
            named[name] = value
    return tuple(positional), named


def execution_instructions(timeout_s: float) -> str:
    """The runtime, described for the model in dspy's action prompt (the factory's
    `execution_instructions`, which dspy reads in place of its own interpreter's)."""
    version = ".".join(map(str, sys.version_info[:2]))
    return (
        f"Code runs as Python {version} in a separate, limited process. State, imports and "
        "functions persist between steps. The standard library is available; network access, "
        "subprocesses and writing files outside the working directory are not. A step that "
        f"runs longer than {timeout_s:g} s (time spent in tools not counted) is stopped, and the "
        "REPL starts again with only the input variables. Host tools and SUBMIT are global "
        "functions."
    )


class SandboxInterpreter:
    """dspy's `CodeInterpreter` on a `Sandbox` (see the module docstring).

    `variables` are written into the REPL when it starts (the sample's context and question);
    `limits` are the sandbox's (`timeout_s`, `memory_mb`, `cpu_s`, `output_chars`); `on_block`
    is told of every `execute`, after it ran."""

    def __init__(
        self,
        tools: dict[str, Callable[..., Any]] | None = None,
        output_fields: list[dict[str, Any]] | None = None,
        *,
        variables: dict[str, Any] | None = None,
        limits: dict[str, Any] | None = None,
        on_block: Callable[[Block], None] | None = None,
    ) -> None:
        self.tools: dict[str, Callable[..., Any]] = dict(tools or {})
        self.output_fields = output_fields
        self._initial = dict(variables or {})
        self._limits = dict(limits or {})
        self._on_block = on_block
        self._sandbox: Sandbox | None = None
        self._functions: frozenset[str] = frozenset()
        self._held: dict[str, Any] = {}
        self._pending: dict[str, Any] = {}
        self._submitted: list[dict[str, Any]] = []
        self._replays: list[tuple[str, dict[str, Any]]] = []
        self._ended = False

    # --- the protocol -------------------------------------------------------------------------

    def start(self) -> None:
        if self._ended:
            raise CodeInterpreterError("this interpreter was shut down")
        if self._sandbox is not None:
            return
        bad = [n for n in self.tools if not n.isidentifier() or keyword.iskeyword(n)]
        bad += sorted(set(self.tools) & RESERVED)
        if bad:
            raise CodeInterpreterError(f"tool names must be unreserved identifiers: {bad!r}")
        functions: dict[str, Callable[..., Any]] = {name: self._tool(name) for name in self.tools}
        functions[SUBMIT_HOST] = self._submitted.append
        functions[VARIABLES_HOST] = self._take_pending
        self._sandbox = Sandbox(variables=self._initial, functions=functions, **self._limits)
        self._functions = frozenset(self.tools)
        self._prepare()

    def execute(self, code: str, variables: dict[str, Any] | None = None) -> Any:
        if not isinstance(code, str):
            raise CodeInterpreterError("code must be a string")
        self.start()
        added = sorted(set(self.tools) - self._functions)
        if added:
            raise CodeInterpreterError(f"tools added after the REPL started: {added}")
        variables = dict(variables or {})
        self._set_variables(variables)
        self._submitted.clear()
        result = self._run(code)
        if result.state_lost:
            self._prepare()
        elif code in REPLAYED and result.error is None:
            self._replays.append((code, variables))
        return self._outcome(code, result)

    def shutdown(self) -> None:
        self._ended = True
        if self._sandbox is not None:
            self._sandbox.close()

    # --- inside -------------------------------------------------------------------------------

    def _outcome(self, code: str, result: RunResult) -> Any:
        """What `execute` returns or raises for a block, after telling `on_block`."""
        text = result.stdout + result.stderr
        submitted = self._submitted[0] if self._submitted else None
        error = None if submitted is not None else result.error
        output = f"{text}\n{error}" if text and error else (error or text)
        if self._on_block is not None:
            block = Block(code, output, error, result.seconds, result.timed_out, submitted)
            self._on_block(block)
        if submitted is not None:
            return FinalOutput(submitted)
        if error is None:
            return text or None
        lines = error.strip().splitlines()
        if lines and lines[-1].startswith(_SYNTAX_ERRORS) and not result.state_lost:
            raise SyntaxError(output)
        raise CodeExecutionError(output)

    def _tool(self, name: str) -> Callable[..., Any]:
        """The host function for tool `name`, looked up when it is called."""

        def call(*args: Any, **kwargs: Any) -> Any:
            tool = self.tools.get(name)
            if tool is None:
                raise LookupError(f"the tool {name} is no longer available")
            args, kwargs = keyword_call(tool, args, kwargs)
            value = tool(*args, **kwargs)
            if inspect.isawaitable(value):  # an async user tool; this thread runs no loop
                value = asyncio.run(_awaited(value))
            return value

        return call

    def _take_pending(self) -> dict[str, Any]:
        pending, self._pending = self._pending, {}
        return pending

    def _set_variables(self, variables: dict[str, Any]) -> None:
        """Sends the variables the REPL does not hold yet (or holds with another value)."""
        bad = [
            name
            for name in variables
            if not isinstance(name, str)
            or not name.isidentifier()
            or keyword.iskeyword(name)
            or name in RESERVED
            or name in self.tools
        ]
        if bad:
            raise CodeInterpreterError(
                f"variable names must be identifiers distinct from the tools and SUBMIT: {bad!r}"
            )
        pending = {n: v for n, v in variables.items() if not self._holds(n, v)}
        if not pending:
            return
        self._pending = pending
        result = self._run(TAKE_VARIABLES)
        if result.error is not None:
            if result.state_lost:
                self._prepare()
            raise CodeInterpreterError(
                f"could not set {', '.join(sorted(pending))} in the REPL: {result.error}"
            )
        self._held.update(pending)

    def _holds(self, name: str, value: Any) -> bool:
        if name not in self._held:
            return False
        held = self._held[name]
        try:
            return held is value or bool(held == value)
        except Exception:  # a value whose == does not give a truth value
            return False

    def _prepare(self) -> None:
        """A fresh REPL's setup: `SUBMIT`, then the setup blocks dspy ran (the facade)."""
        self._held = dict(self._initial)
        self._setup(PRELUDE + submit_source(self.output_fields))
        for code, variables in self._replays:
            self._set_variables(variables)
            self._setup(code)

    def _setup(self, code: str) -> None:
        result = self._run(code)
        if result.error is not None:
            raise CodeInterpreterError(f"the REPL's setup failed: {result.error}")

    def _run(self, code: str) -> RunResult:
        assert self._sandbox is not None
        try:
            return self._sandbox.run(code)
        except SandboxError as exc:  # no fresh worker could be started: nothing left to run on
            self._ended = True
            self._sandbox.close()
            raise CodeInterpreterError(str(exc)) from None
        except RuntimeError as exc:  # execute() called from inside a tool
            raise CodeInterpreterError(str(exc)) from None


async def _awaited(value: Any) -> Any:
    return await value


class SandboxInterpreterFactory:
    """What `dspy.RLM(interpreter_factory=...)` takes: a new `SandboxInterpreter` per call, the
    first (the sample's own REPL) with the sample's variables and the trace's `on_block`; later
    ones serve sub-agents that model code builds through the facade (`dspy.RLM(...)` in the
    REPL), which start empty and are not traced block by block (their model calls are)."""

    def __init__(
        self,
        *,
        variables: dict[str, Any],
        limits: dict[str, Any],
        on_block: Callable[[Block], None] | None = None,
    ) -> None:
        self.execution_instructions = execution_instructions(float(limits.get("timeout_s", 30.0)))
        self._variables = variables
        self._limits = limits
        self._on_block = on_block
        self._first: SandboxInterpreter | None = None
        self._lock = threading.Lock()

    def __call__(self) -> SandboxInterpreter:
        with self._lock:
            if self._first is None:
                self._first = SandboxInterpreter(
                    variables=self._variables, limits=self._limits, on_block=self._on_block
                )
                return self._first
        return SandboxInterpreter(limits=self._limits)

    @property
    def sub_agents(self) -> bool:
        """Whether dspy kept its facade in the sample's REPL (it drops it, with a warning we
        silence, when the shim fails to install there)."""
        return self._first is not None and CONSTRUCT_TOOL in self._first.tools
