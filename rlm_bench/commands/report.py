"""`report`: RUN_DIR/report.md, with its tables, findings and figures."""

from __future__ import annotations

import argparse
from pathlib import Path

from rlm_bench.commands.common import add_analysis_options, analysis_options, run_title


def add_parser(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser("report", help="write RUN_DIR/report.md: tables, findings, figures")
    report.add_argument("run_dir", type=Path)
    add_analysis_options(report)


def run(args: argparse.Namespace) -> int:
    from rlm_bench.evaluation.analysis import analyze_folder
    from rlm_bench.evaluation.store import RunStore
    from rlm_bench.evaluation.summary_text import format_summary
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
