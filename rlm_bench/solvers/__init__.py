"""Solvers, by name. Importing a solver module registers it."""

from __future__ import annotations

from typing import Any

from rlm_bench.errors import UserError
from rlm_bench.registry import Registry
from rlm_bench.solvers.base import (
    ClosesAfterRun,
    Result,
    Solver,
    Trace,
    TraceNode,
    UsesSubModel,
)

SOLVERS: Registry[type] = Registry("solver", "rlm_bench.solvers")


def make_solver(name: str, params: dict[str, Any]) -> Solver:
    cls = SOLVERS.get(name)
    try:
        return cls(**params)
    except TypeError as exc:
        raise UserError(f"solver {name!r}: bad parameters {params}: {exc}") from None


from rlm_bench.solvers import (  # noqa: E402,F401  (registers the built-ins)
    codeact,
    direct,
    dspy_rlm,
    recursive,
    repl,
    retrieval,
    rlms_adapter,
    summary,
)

__all__ = [
    "SOLVERS",
    "ClosesAfterRun",
    "Result",
    "Solver",
    "Trace",
    "TraceNode",
    "UsesSubModel",
    "make_solver",
]
