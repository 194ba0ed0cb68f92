"""`plot`: redraw a run folder's figures (and summary.json), other runs overlaid."""

from __future__ import annotations

import argparse
from pathlib import Path

from rlm_bench.commands.common import add_analysis_options, analysis_options, run_title


def add_parser(sub: argparse._SubParsersAction) -> None:
    plot = sub.add_parser("plot", help="redraw a run folder's figures (and summary.json)")
    plot.add_argument("run_dir", type=Path)
    plot.add_argument(
        "--compare", type=Path, nargs="+", default=[], metavar="RUN_DIR",
        help="other run folders to overlay on the accuracy curves",
    )  # fmt: skip
    plot.add_argument("--out", type=Path, help="folder for the figures (default RUN_DIR/figures)")
    add_analysis_options(plot)


def run_names(folders: list[Path]) -> list[str]:
    """Legend names for compared runs: the folder name, with its parent when names repeat."""
    names = [f.resolve().name for f in folders]
    return [
        f"{f.resolve().parent.name}/{name}" if names.count(name) > 1 else name
        for f, name in zip(folders, names, strict=True)
    ]


def run(args: argparse.Namespace) -> int:
    from rlm_bench.evaluation.analysis import analyze_folder
    from rlm_bench.evaluation.store import RunStore
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
