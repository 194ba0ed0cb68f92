"""`run`: a suite (tasks x lengths x samples x solvers), or `--resume` of an unfinished one."""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rlm_bench.errors import UserError

if TYPE_CHECKING:
    from rlm_bench.suites import Suite

RESUME_FREE = ("concurrency", "cache", "model_options")
"""Suite fields a resumed run may change: how fast and from where it is served, not what it
measures (`model_options` only for its `base_url`, compared apart)."""


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run a suite (tasks x lengths x samples x solvers)")
    run.add_argument("--suite", help="built-in name or YAML path (default context_rot)")
    run.add_argument(
        "--model",
        help="embedded (default), gguf:<path>, hf:<folder|.gguf|hub id>, openai:<model>, "
        "anthropic:<model>",
    )
    run.add_argument(
        "--base-url",
        help="an OpenAI-compatible server for openai:<model> (vLLM, SGLang, Ollama, llama.cpp, "
        "transformers serve), e.g. http://127.0.0.1:8000/v1; default $OPENAI_BASE_URL",
    )
    run.add_argument(
        "--sub-model",
        help="the model REPL solvers hand llm_query to (a model spec; default: --model)",
    )
    run.add_argument(
        "--no-cache", action="store_true", help="call the model even for prompts it has answered"
    )
    run.add_argument(
        "--tasks",
        type=_csv,
        help="comma-separated task names or specs, e.g. niah_single:haystack=noise,common_words",
    )
    run.add_argument(
        "--depths",
        type=_csv,
        help="needle depths cycled over the samples, e.g. 0,0.25,0.5,0.75,1",
    )
    run.add_argument("--lengths", type=_csv, help="comma-separated lengths, e.g. 512,1k,2k")
    run.add_argument("--samples", type=int, help="samples per (task, length)")
    run.add_argument(
        "--solvers",
        type=_csv,
        help="comma-separated suite labels or specs, e.g. direct,recursive:depth=3",
    )
    run.add_argument("--seed", type=int)
    run.add_argument(
        "--concurrency",
        type=int,
        help="model calls (and samples) in flight at once; 1 keeps server queueing out of latency",
    )
    run.add_argument("--out", type=Path, help="run folder (default results/<suite>-<time>)")
    run.add_argument("--resume", type=Path, metavar="DIR", help="finish the run in DIR")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument(
        "--executor", choices=("local", "ray"), default="local",
        help="where samples are solved: local (this process) or ray (one Ray task per sample, "
        "at most --concurrency in flight; needs the ray extra)",
    )  # fmt: skip
    run.add_argument(
        "--ray-address", metavar="ADDRESS",
        help="the Ray cluster for --executor ray: auto (started by `ray start` on this machine) "
        "or ray://host:10001; default: a local instance for this run",
    )  # fmt: skip


def apply_overrides(suite: Suite, args: argparse.Namespace) -> Suite:
    from rlm_bench.suites import parse_depths, parse_length, parse_task, solver_in

    changes: dict[str, object] = {}
    if args.tasks:
        changes["tasks"] = [parse_task(t, "--tasks") for t in args.tasks]
    if args.depths:
        changes["depths"] = parse_depths(args.depths, "--depths")
    if args.lengths:
        changes["lengths"] = sorted({parse_length(v, "--lengths") for v in args.lengths})
    if args.solvers:
        changes["solvers"] = [solver_in(suite, s, "--solvers") for s in args.solvers]
    for name in ("samples", "seed", "concurrency"):
        value = getattr(args, name)
        if value is not None:
            if name != "seed" and value < 1:
                raise UserError(f"--{name} must be at least 1")
            changes[name] = value
    if args.model:
        changes["model"] = args.model
    if args.base_url:
        changes["model_options"] = {**suite.model_options, "base_url": args.base_url}
    if args.sub_model:
        changes["sub_model"] = args.sub_model
    return dataclasses.replace(suite, **changes)


def resumed_suite(args: argparse.Namespace) -> Suite:
    """The suite recorded in the run folder, served at the new `--concurrency`/`--base-url`.

    The natural way to resume is the first command again with `--resume` added, so flags that
    say what the run.json says are accepted; a flag that says otherwise is one line naming
    both values."""
    from rlm_bench.evaluation.store import RunStore
    from rlm_bench.suites import load_suite, suite_from_dict

    where = args.resume / "run.json"
    recorded = suite_from_dict(RunStore(args.resume).read_run_info()["suite"], str(where))
    if args.out is not None and args.out.resolve() != args.resume.resolve():
        raise UserError(f"--out {args.out} conflicts with --resume {args.resume}: a resumed run "
                        "stays in its folder")  # fmt: skip
    asked = apply_overrides(load_suite(args.suite) if args.suite else recorded, args)
    before, after = recorded.to_dict(), asked.to_dict()
    for name in before:
        if name not in RESUME_FREE and before[name] != after[name]:
            raise UserError(
                f"--resume: {where} has {name} {_shown(before[name])}, the flags say "
                f"{_shown(after[name])}; drop the flag or start a new run"
            )
    options = {k: v for k, v in recorded.model_options.items() if k != "base_url"}
    if options != {k: v for k, v in asked.model_options.items() if k != "base_url"}:
        raise UserError(f"--resume: {where} has model_options {_shown(recorded.model_options)}, "
                        f"suite {args.suite} says {_shown(asked.model_options)}")  # fmt: skip
    # where the server is now is not part of what the run measures
    served: dict[str, object] = {"model_options": {**recorded.model_options}}
    if args.base_url:
        served["model_options"] = {**recorded.model_options, "base_url": args.base_url}
    if args.concurrency:
        served["concurrency"] = asked.concurrency
    return dataclasses.replace(recorded, **served)


def _shown(value: object) -> str:
    return json.dumps(value, default=str)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a `timeout`, a job scheduler, `kill`) ends a run as Ctrl+C does: the solvers are
    closed, so a server an adapter started stops with the run, and the resume hint is printed.
    Python's default for SIGTERM is to die at once, past every `finally`."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can be set only there
        return
    # As SIGINT itself, so that asyncio's handling of Ctrl+C (cancel the run, then raise
    # KeyboardInterrupt out of asyncio.run) applies unchanged. A shell starts a background job
    # (`run ... &`) with SIGINT ignored; it is Python's default again for the run, or the
    # SIGTERM would be ignored with it.
    previous_int = signal.getsignal(signal.SIGINT)
    if previous_int == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    previous = signal.signal(signal.SIGTERM, lambda *_: signal.raise_signal(signal.SIGINT))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def run(args: argparse.Namespace) -> int:
    from rlm_bench.evaluation.executors import make_executor
    from rlm_bench.evaluation.executors.solving import make_tasks
    from rlm_bench.evaluation.metrics import describe_calls
    from rlm_bench.evaluation.runner import run_suite
    from rlm_bench.evaluation.summary_text import format_summary
    from rlm_bench.models.setup import open_model, open_sub_model
    from rlm_bench.reporting.figures import draw_figures
    from rlm_bench.reporting.trajectory_page import write_page
    from rlm_bench.solvers import make_solver
    from rlm_bench.suites import load_suite

    if args.resume:
        suite = resumed_suite(args)
        folder = args.resume
    else:
        suite = apply_overrides(load_suite(args.suite or "context_rot"), args)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = args.out or Path("results") / f"{suite.name}-{stamp}"
    make_tasks(suite, None)
    for spec in suite.solvers:
        make_solver(spec.solver, spec.params)
    executor = make_executor(args.executor, args.ray_address)
    if args.no_cache:
        suite = dataclasses.replace(suite, cache=False)
    model = open_model(suite)
    sub_model = open_sub_model(suite)
    try:
        with sigterm_as_interrupt():
            analysis = run_suite(
                suite, model, folder, resume=bool(args.resume), progress=not args.no_progress,
                sub_model=sub_model, executor=executor,
            )  # fmt: skip
    except KeyboardInterrupt:
        print(
            f"interrupted: finished samples are in {folder}; continue with "
            f"`python -m rlm_bench run --resume {folder}`",
            file=sys.stderr,
        )
        return 130
    draw_figures(analysis, folder / "figures", title=f"{suite.name} on {model.name}")
    page = write_page(folder, tokenizer=model.tokenizer, progress=not args.no_progress)
    print(format_summary(analysis))
    print(f"\n{describe_calls(analysis['calls'])}")
    print(f"run folder: {folder}")
    print(f"samples and traces: {page}")
    return 0
