"""`compare`: is CANDIDATE_RUN worse than BASE_RUN? Exit 1 when it is, so CI can gate on it."""

from __future__ import annotations

import argparse
from pathlib import Path

from rlm_bench.errors import UserError


def add_parser(sub: argparse._SubParsersAction) -> None:
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


def run(args: argparse.Namespace) -> int:
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
