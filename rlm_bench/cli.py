"""`python -m rlm_bench`: run suites, list and inspect tasks, draw figures, serve the model.

Every user mistake ends as one line on stderr and exit code 2; finished samples are on disk
before any error can happen, so nothing is lost.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import datetime
from pathlib import Path

from rlm_bench.errors import UserError
from rlm_bench.evaluation.analysis import AnalysisOptions, analyze_folder
from rlm_bench.evaluation.metrics import describe_calls
from rlm_bench.evaluation.store import RunStore
from rlm_bench.evaluation.summary_text import format_summary
from rlm_bench.suites import (
    Suite,
    builtin_suites,
    load_suite,
    parse_depths,
    parse_length,
    parse_task,
    solver_in,
    suite_from_dict,
)

EXIT_USAGE = 2
RESUME_FREE = ("concurrency", "cache", "model_options")
"""Suite fields a resumed run may change: how fast and from where it is served, not what it
measures (`model_options` only for its `base_url`, compared apart)."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line naming it rather than a usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{self.prog}: {message}")


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="rlm_bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

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

    listing = sub.add_parser("list", help="list suites, tasks, solvers and model backends")
    listing.add_argument(
        "kind", nargs="?", choices=("suites", "tasks", "solvers", "models"),
        help="one kind, described one per line (default: every kind, by name)",
    )  # fmt: skip

    tasks = sub.add_parser("tasks", help="inspect task generators")
    tasks_sub = tasks.add_subparsers(
        dest="tasks_command", required=True, parser_class=OneLineParser
    )
    sample = tasks_sub.add_parser("sample", help="print one generated sample")
    sample.add_argument(
        "--task", required=True, help="a task name or spec, e.g. niah_single:value_kind=uuid"
    )
    sample.add_argument("--length", required=True)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--index", type=int, default=0)
    sample.add_argument("--model", default="embedded", help="whose tokenizer measures length")
    sample.add_argument("--full", action="store_true", help="print the whole context")
    sample.add_argument("--json", action="store_true", help="machine-readable output")

    export = tasks_sub.add_parser(
        "export", help="write a suite's samples as a Hugging Face dataset and JSONL"
    )
    export.add_argument("--suite", required=True, help="built-in name or YAML path")
    export.add_argument("--out", required=True, type=Path, help="folder to write")
    export.add_argument("--model", help="whose tokenizer measures length (default: the suite's)")
    export.add_argument("--no-progress", action="store_true", help="no progress bar")

    plot = sub.add_parser("plot", help="redraw a run folder's figures (and summary.json)")
    plot.add_argument("run_dir", type=Path)
    plot.add_argument(
        "--compare", type=Path, nargs="+", default=[], metavar="RUN_DIR",
        help="other run folders to overlay on the accuracy curves",
    )  # fmt: skip
    plot.add_argument("--out", type=Path, help="folder for the figures (default RUN_DIR/figures)")
    add_analysis_options(plot)

    report = sub.add_parser("report", help="write RUN_DIR/report.md: tables, findings, figures")
    report.add_argument("run_dir", type=Path)
    add_analysis_options(report)

    publish = sub.add_parser(
        "publish", help="log RUN_DIR to Weights & Biases (one run; --report adds a W&B Report)"
    )
    publish.add_argument("run_dir", type=Path)
    publish.add_argument("--project", help="W&B project (default $WANDB_PROJECT, else rlm_bench)")
    publish.add_argument("--entity", help="W&B entity (default $WANDB_ENTITY or your default)")
    publish.add_argument(
        "--offline", action="store_true",
        help="write the W&B run under RUN_DIR/wandb for `wandb sync` instead of uploading",
    )  # fmt: skip
    publish.add_argument(
        "--report", action="store_true", help="also save a W&B Report (needs an online run)"
    )
    add_analysis_options(publish)

    compare = sub.add_parser(
        "compare",
        help="is CANDIDATE_RUN worse than BASE_RUN? paired tests per (task, length); "
        "exit 1 when worse",
    )
    compare.add_argument("base_run", type=Path, metavar="BASE_RUN")
    compare.add_argument("candidate_run", type=Path, metavar="CANDIDATE_RUN")
    compare.add_argument(
        "--tolerance", type=float, default=0.0,
        help="an accuracy drop up to this is not a regression even when significant (default 0)",
    )  # fmt: skip
    compare.add_argument(
        "--alpha", type=float, default=0.05, help="significance level after Holm (default 0.05)"
    )
    compare.add_argument(
        "--markdown", type=Path, metavar="FILE", help="also write the comparison as markdown"
    )
    compare.add_argument(
        "--figures", type=Path, metavar="DIR",
        help="also draw DIR/compare_deltas.png (+ .svg): each cell's change with its interval",
    )  # fmt: skip
    compare.add_argument("--base-solver", metavar="LABEL", help="the base run's solver to compare")
    compare.add_argument(
        "--candidate-solver", metavar="LABEL", help="the candidate run's solver to compare"
    )

    serve = sub.add_parser(
        "serve", help="serve an embedded model on an OpenAI-compatible API (transformers serve)"
    )
    serve.add_argument(
        "--model", default="embedded",
        help="embedded (default, Gemma 3 270M), embedded:<name>, gguf:<path> or a .gguf path",
    )  # fmt: skip
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--continuous-batching",
        action="store_true",
        help="batch calls in flight together (faster under load; greedy answers may differ)",
    )
    return parser


def add_analysis_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threshold", type=float, default=0.8, metavar="SHARE",
        help="effective context length: accuracy stays >= SHARE of the shortest length's "
        "(default 0.8)",
    )  # fmt: skip
    parser.add_argument(
        "--absolute-threshold", type=float, metavar="ACCURACY",
        help="effective context length at a fixed accuracy instead (RULER uses 0.85)",
    )  # fmt: skip


def analysis_options(args: argparse.Namespace) -> AnalysisOptions:
    return AnalysisOptions(
        threshold_relative=args.threshold, threshold_absolute=args.absolute_threshold
    )


def apply_overrides(suite: Suite, args: argparse.Namespace) -> Suite:
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


def cmd_run(args: argparse.Namespace) -> int:
    from rlm_bench.evaluation.executors import make_executor
    from rlm_bench.evaluation.executors.solving import make_tasks
    from rlm_bench.evaluation.runner import run_suite
    from rlm_bench.models.setup import open_model, open_sub_model
    from rlm_bench.reporting.figures import draw_figures
    from rlm_bench.solvers import make_solver

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
    print(format_summary(analysis))
    print(f"\n{describe_calls(analysis['calls'])}")
    print(f"run folder: {folder}")
    return 0


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


def cmd_list(args: argparse.Namespace) -> int:
    from rlm_bench.models import BACKENDS
    from rlm_bench.solvers import SOLVERS
    from rlm_bench.tasks import TASKS

    if args.kind == "tasks":
        print("\n".join(describe_tasks()))
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


def cmd_tasks_sample(args: argparse.Namespace) -> int:
    from rlm_bench.models import load_model
    from rlm_bench.tasks import TASKS

    length = parse_length(args.length, "--length")
    spec = parse_task(args.task, "--task")
    task_cls = TASKS.get(spec.task)
    task_cls(None, label=spec.label, **spec.params)  # bad options fail before the model loads
    model = load_model(args.model)
    task = task_cls(model.tokenizer, label=spec.label, **spec.params)
    sample = task.sample(length, args.seed, args.index)
    data = sample.to_dict()
    if args.json:
        print(json.dumps(data))
        return 0
    context = sample.context
    if not args.full and len(context) > 600:
        context = f"{context[:300]}\n[... {len(context) - 600} characters ...]\n{context[-300:]}"
    for key, value in data.items():
        if key in ("context", "metadata", "query", "decomposition"):
            continue
        print(f"{key}: {value}")
    print(f"question: {sample.query.question}")
    print(f"answer_prefix: {sample.query.answer_prefix}")
    if sample.decomposition.part:
        print(f"part question: {sample.decomposition.part.question}")
    small_meta = {k: v for k, v in sample.metadata.items() if not isinstance(v, list)}
    print(f"metadata: {json.dumps(small_meta)}")
    print(f"context:\n{context}")
    return 0


def cmd_tasks_export(args: argparse.Namespace) -> int:
    from rlm_bench.evaluation.executors.solving import make_tasks
    from rlm_bench.evaluation.export import export_suite
    from rlm_bench.models import load_model

    suite = load_suite(args.suite)
    make_tasks(suite, None)
    model = load_model(args.model or suite.model)
    folder = export_suite(suite, model.tokenizer, args.out, progress=not args.no_progress)
    print(f"wrote {folder} (datasets.load_from_disk) and {args.out / 'jsonl'}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from rlm_bench.models.serving import serve

    serve(args.host, args.port, model=args.model, continuous_batching=args.continuous_batching)
    return 0


def run_title(folder: Path) -> str:
    info = RunStore(folder).read_run_info()
    return f"{info['suite']['name']} on {info['model'].get('name', '?')}"


def run_names(folders: list[Path]) -> list[str]:
    """Legend names for compared runs: the folder name, with its parent when names repeat."""
    names = [f.resolve().name for f in folders]
    return [
        f"{f.resolve().parent.name}/{name}" if names.count(name) > 1 else name
        for f, name in zip(folders, names, strict=True)
    ]


def cmd_plot(args: argparse.Namespace) -> int:
    from rlm_bench.reporting.figures import draw_comparison, draw_figures

    options = analysis_options(args)
    folders = [args.run_dir, *args.compare]
    analyses = [analyze_folder(folder, options) for folder in folders]
    RunStore(args.run_dir).write_summary(analyses[0])
    out = args.out or args.run_dir / "figures"
    paths = draw_figures(analyses[0], out, title=run_title(args.run_dir))
    if args.compare:
        paths += draw_comparison(list(zip(run_names(folders), analyses, strict=True)), out)
    for path in paths:
        print(path)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from rlm_bench.reporting.figures import draw_figures
    from rlm_bench.reporting.markdown_report import write_report

    analysis = analyze_folder(args.run_dir, analysis_options(args))
    store = RunStore(args.run_dir)
    store.write_summary(analysis)
    figures = draw_figures(analysis, args.run_dir / "figures", title=run_title(args.run_dir))
    path = write_report(args.run_dir, store.read_run_info(), analysis, figures)
    print(format_summary(analysis))
    print(f"\nreport: {path}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from rlm_bench.publishing import PublishOptions, publish

    options = PublishOptions(
        project=args.project, entity=args.entity, offline=args.offline, report=args.report,
        analysis=analysis_options(args),
    )  # fmt: skip
    published = publish(args.run_dir, options)
    run = published.run
    if run.sync_dir is not None:
        print(
            f"W&B run {run.name} saved offline ({published.offline_reason}) in {run.sync_dir}; "
            f"upload it with: wandb sync {run.sync_dir}"
        )
        return 0
    print(f"W&B run: {run.url}")
    if published.report_url:
        print(f"W&B report: {published.report_url}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Exit 1 when the candidate is worse somewhere, so CI can gate on it (2 stays bad input)."""
    from rlm_bench.evaluation.comparison import CompareOptions, compare_folders
    from rlm_bench.evaluation.comparison_text import comparison_markdown, format_comparison

    options = CompareOptions(
        tolerance=args.tolerance,
        alpha=args.alpha,
        base_solver=args.base_solver,
        candidate_solver=args.candidate_solver,
    )
    comparison = compare_folders(args.base_run, args.candidate_run, options)
    print(format_comparison(comparison))
    if args.markdown:
        try:
            args.markdown.write_text(comparison_markdown(comparison))
        except OSError as exc:
            raise UserError(f"--markdown {args.markdown}: {exc.strerror or exc}") from None
        print(f"markdown: {args.markdown}")
    if args.figures:
        from rlm_bench.reporting.comparison_figure import draw_comparison_deltas

        png, _ = draw_comparison_deltas(comparison, args.figures, "compare_deltas")
        print(f"figure: {png}")
    return 1 if comparison.worse else 0


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "run":
            return cmd_run(args)
        if args.command == "list":
            return cmd_list(args)
        if args.command == "tasks":
            if args.tasks_command == "export":
                return cmd_tasks_export(args)
            return cmd_tasks_sample(args)
        if args.command == "serve":
            return cmd_serve(args)
        if args.command == "report":
            return cmd_report(args)
        if args.command == "publish":
            return cmd_publish(args)
        if args.command == "compare":
            return cmd_compare(args)
        return cmd_plot(args)
    except UserError as exc:
        print(f"rlm_bench: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
