"""`python -m rlm_bench`: run suites, inspect tasks, draw figures, view runs, serve a model.

Every user mistake ends as one line on stderr and exit code 2; finished samples are on disk
before any error can happen, so nothing is lost. Each command is a module of
`rlm_bench/commands/`: its flags and help in `add_parser`, what it does in `run`.
"""

from __future__ import annotations

import argparse
import sys

from rlm_bench.commands import (
    compare,
    listing,
    plot,
    publish,
    report,
    run,
    serve,
    tasks,
    view,
)
from rlm_bench.commands.common import (
    OneLineParser,
    add_analysis_options,
    analysis_options,
    run_title,
)
from rlm_bench.commands.listing import describe_tasks
from rlm_bench.commands.plot import run_names
from rlm_bench.commands.run import RESUME_FREE, apply_overrides, resumed_suite
from rlm_bench.errors import UserError

__all__ = [
    "EXIT_USAGE",
    "RESUME_FREE",
    "OneLineParser",
    "add_analysis_options",
    "analysis_options",
    "apply_overrides",
    "build_parser",
    "describe_tasks",
    "main",
    "resumed_suite",
    "run_names",
    "run_title",
]

EXIT_USAGE = 2
COMMANDS = {
    "run": run, "list": listing, "tasks": tasks, "plot": plot, "report": report,
    "view": view, "publish": publish, "compare": compare, "serve": serve,
}  # fmt: skip
"""Each command's module, in the order `--help` lists them."""


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="rlm_bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for command in COMMANDS.values():
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command].run(args)
    except UserError as exc:
        print(f"rlm_bench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
