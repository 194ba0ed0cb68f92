"""`tasks sample` prints one generated sample; `tasks export` writes a suite's samples as a
Hugging Face dataset and JSONL."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rlm_bench.commands.common import OneLineParser


def add_parser(sub: argparse._SubParsersAction) -> None:
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


def run(args: argparse.Namespace) -> int:
    if args.tasks_command == "export":
        return export(args)
    return print_sample(args)


def print_sample(args: argparse.Namespace) -> int:
    from rlm_bench.models import load_model
    from rlm_bench.suites import parse_length, parse_task
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


def export(args: argparse.Namespace) -> int:
    from rlm_bench.evaluation.executors.solving import make_tasks
    from rlm_bench.evaluation.export import export_suite
    from rlm_bench.models import load_model
    from rlm_bench.suites import load_suite

    suite = load_suite(args.suite)
    make_tasks(suite, None)
    model = load_model(args.model or suite.model)
    folder = export_suite(suite, model.tokenizer, args.out, progress=not args.no_progress)
    print(f"wrote {folder} (datasets.load_from_disk) and {args.out / 'jsonl'}")
    return 0
