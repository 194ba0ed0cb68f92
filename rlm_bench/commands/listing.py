"""`list`: the suites, tasks, solvers and model backends there are."""

from __future__ import annotations

import argparse
import dataclasses


def add_parser(sub: argparse._SubParsersAction) -> None:
    listing = sub.add_parser("list", help="list suites, tasks, solvers and model backends")
    listing.add_argument(
        "kind", nargs="?", choices=("suites", "tasks", "solvers", "models"),
        help="one kind, described one per line (default: every kind, by name)",
    )  # fmt: skip


def describe_tasks() -> list[str]:
    """One line per task: name, what it asks, how it is scored, the options it takes."""
    from rlm_bench.tasks import TASKS

    lines = []
    for name in TASKS.names():
        cls = TASKS.get(name)
        options = [f.name for f in dataclasses.fields(cls.Options)]
        lines.append(
            f"{name:26} {getattr(cls, 'description', '')}. Scored by {getattr(cls, 'scorer', '?')}."
            + (f" Options: {', '.join(options)}." if options else "")
        )
    return lines


def describe_solvers() -> list[str]:
    """Each solver with what it is; one from a plugin may have no description."""
    from rlm_bench.solvers import SOLVERS

    return [
        f"{name:18} {getattr(SOLVERS.get(name), 'description', '')}".rstrip()
        for name in SOLVERS.names()
    ]


def run(args: argparse.Namespace) -> int:
    from rlm_bench.models import BACKENDS
    from rlm_bench.solvers import SOLVERS
    from rlm_bench.suites import builtin_suites
    from rlm_bench.tasks import TASKS

    if args.kind == "tasks":
        print("\n".join(describe_tasks()))
        return 0
    if args.kind == "solvers":
        print("\n".join(describe_solvers()))
        return 0
    kinds = {
        "suites": builtin_suites,
        "tasks": TASKS.names,
        "solvers": SOLVERS.names,
        "models": BACKENDS.names,
    }
    for title, names in kinds.items():
        if args.kind in (None, title):
            print(f"{title}: {', '.join(names())}")
    return 0
