"""`view`: RUN_DIR/view.html, one offline page to browse every sample, its trace, side by side."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    view = sub.add_parser(
        "view", help="write RUN_DIR/view.html: every sample and its trace, offline in a browser"
    )
    view.add_argument("run_dir", type=Path)
    view.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from rlm_bench.reporting.trajectory_page import write_page

    print(write_page(args.run_dir, progress=not args.no_progress))
    return 0
