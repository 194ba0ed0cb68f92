"""What several commands share: the one-line parser and the analysis flags."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from rlm_bench.errors import UserError

if TYPE_CHECKING:
    from rlm_bench.evaluation.analysis import AnalysisOptions


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line naming it rather than a usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{self.prog}: {message}")


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
    from rlm_bench.evaluation.analysis import AnalysisOptions

    return AnalysisOptions(
        threshold_relative=args.threshold, threshold_absolute=args.absolute_threshold
    )


def run_title(folder: Path) -> str:
    from rlm_bench.evaluation.store import RunStore

    info = RunStore(folder).read_run_info()
    return f"{info['suite']['name']} on {info['model'].get('name', '?')}"
