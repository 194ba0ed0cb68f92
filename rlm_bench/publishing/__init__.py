"""`python -m rlm_bench publish RUN_DIR`: a finished run folder as a W&B run (and a W&B Report).

The run folder stays the source of truth: the analysis is computed again from its files (as
`plot` and `report` do), written to summary.json, the figures drawn when the folder has none,
and only then is anything sent, so a bad folder fails before W&B is involved. `content.py`
decides what is logged, `wandb_run.py` logs it, `wandb_report.py` builds the report.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rlm_bench.errors import UserError
from rlm_bench.evaluation.analysis import AnalysisOptions, analyze_folder
from rlm_bench.evaluation.store import RunStore
from rlm_bench.publishing.wandb_run import PublishedRun, choose_mode, publish_run

DEFAULT_PROJECT = "rlm_bench"


@dataclass(frozen=True)
class PublishOptions:
    project: str | None = None
    """Default: $WANDB_PROJECT, else "rlm_bench"."""
    entity: str | None = None
    """Default: $WANDB_ENTITY, else the account's default entity."""
    offline: bool = False
    report: bool = False
    analysis: AnalysisOptions = field(default_factory=AnalysisOptions)


@dataclass(frozen=True)
class Published:
    run: PublishedRun
    offline_reason: str
    """Why the run was written offline; empty when it went online."""
    report_url: str | None


def figure_paths(folder: Path, title: str, analysis: dict) -> list[Path]:
    """The folder's PNG figures, drawn first when it has none."""
    from rlm_bench.reporting.figures import draw_figures

    out = folder / "figures"
    if not any(out.glob("*.png")):
        draw_figures(analysis, out, title=title)
    return sorted(out.glob("*.png"))


def publish(
    folder: Path, options: PublishOptions, environ: Mapping[str, str] | None = None
) -> Published:
    """Publish `folder` as one W&B run (online or offline, see `wandb_run.choose_mode`), and
    with `options.report` save a report on it. `environ` stands in for os.environ in tests."""
    environ = os.environ if environ is None else environ
    store = RunStore(folder)
    run_info = store.read_run_info()
    mode = choose_mode(options.offline, environ)
    if options.report and not mode.online:
        raise UserError("--report needs an online run: set WANDB_API_KEY and drop --offline")
    analysis = analyze_folder(folder, options.analysis)
    store.write_summary(analysis)
    title = f"{run_info['suite']['name']} on {run_info['model'].get('name', '?')}"
    figures = figure_paths(folder, title, analysis)
    project = options.project or environ.get("WANDB_PROJECT") or DEFAULT_PROJECT
    run = publish_run(
        folder,
        run_info,
        analysis,
        store.samples(),
        figures,
        project=project,
        entity=options.entity,
        mode=mode,
        environ=environ,
    )
    report_url = None
    if options.report:
        from rlm_bench.publishing.wandb_report import build_report, save_report

        report = build_report(
            analysis,
            run_info,
            project=run.project,
            entity=run.entity or "",
            run_name=run.name,
            run_id=run.id,
            figure_keys=[f"figures/{path.stem}" for path in figures],
        )
        report_url = save_report(report)
    return Published(run=run, offline_reason=mode.reason, report_url=report_url)
