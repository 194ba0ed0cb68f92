"""`publish`: RUN_DIR logged to Weights & Biases as one run (`rlm_bench/publishing/`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rlm_bench.commands.common import add_analysis_options, analysis_options


def add_parser(sub: argparse._SubParsersAction) -> None:
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


def run(args: argparse.Namespace) -> int:
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
