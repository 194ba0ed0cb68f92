"""A W&B Report on a published run: context rot, error propagation, the comparison with the
direct baseline, and the run's figures.

`build_report` is a pure function of the analysis (no network), so what the report shows is
decided and tested offline; only `save_report` talks to W&B. The panels read the series and
tables `wandb_run.py` logged, under the names `content.py` gives them, from a runset filtered
to the one published run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import wandb_workspaces.reports.v2 as wr
from wandb_workspaces import expr

from rlm_bench.errors import UserError, exception_line
from rlm_bench.publishing import content

TABLE_LAYOUT = {"w": 24, "h": 12}
"""Tables take the grid's whole width."""


def _runset(*, project: str, entity: str, run_name: str, run_id: str | None) -> wr.Runset:
    # The id names one run; the name is the folder's, which a second publish would share.
    where = expr.Metric("ID") == run_id if run_id else expr.Metric("Name") == run_name
    return wr.Runset(entity=entity, project=project, name=run_name, filters=[where])


def _table(name: str) -> wr.WeavePanelSummaryTable:
    return wr.WeavePanelSummaryTable(table_name=name, layout=wr.Layout(**TABLE_LAYOUT))


def _curves(
    keys: dict[str, list[str]], x: str, what: str, *, log_x: bool, unit_range: bool
) -> list[wr.LinePlot]:
    return [
        wr.LinePlot(
            title=f"{task}: {what}",
            x=x,
            y=ys,
            log_x=log_x,
            title_x=x,
            title_y=what,
            range_y=(0.0, 1.0) if unit_range else (None, None),
        )
        for task, ys in keys.items()
    ]


def _context_rot(analysis: dict[str, Any], runset: wr.Runset) -> list[Any]:
    cells = analysis["rows"]
    panels = _curves(
        content.curve_keys(cells, "accuracy"),
        content.LENGTH,
        "accuracy",
        log_x=True,
        unit_range=True,
    )
    # A local model costs no dollars: plot tokens then, the cost it does have.
    cost = "cost_usd" if any(c["mean_cost_usd"] > 0 for c in cells) else "tokens"
    panels += _curves(
        content.curve_keys(cells, cost), content.LENGTH, cost, log_x=True, unit_range=False
    )
    effective = [
        f"{row['task']} / {row['solver']}: {row['effective_length']}"
        for row in analysis.get("context_rot", [])
        if row["effective_length"] is not None
    ]
    blocks = [
        wr.H1(text="Context rot"),
        wr.P(
            text=f"Accuracy (mean score per sample) and {cost} per sample against context "
            "length in tokens, one line per solver."
        ),
        wr.PanelGrid(runsets=[runset], panels=panels),
    ]
    if effective:
        blocks.append(wr.P(text=f"Effective context length: {'; '.join(effective)}."))
    return blocks


def _propagation(analysis: dict[str, Any], runset: wr.Runset) -> list[Any]:
    propagation = analysis.get("propagation") or {}
    keys = content.level_keys(propagation)
    if not keys:
        return []
    panels: list[Any] = _curves(
        keys, content.LEVEL, "level error rate", log_x=False, unit_range=True
    )
    if propagation.get("pooled"):
        panels.append(_table("propagation"))
    return [
        wr.H1(text="Error propagation"),
        wr.P(
            text="Share of wrong scored trace nodes per recursion level (0 is the final "
            "answer), pooled over lengths; and per solver how often leaf errors reach the "
            "final answer."
        ),
        wr.PanelGrid(runsets=[runset], panels=panels),
    ]


def _comparison(analysis: dict[str, Any], runset: wr.Runset) -> list[Any]:
    crossover = analysis["crossover"]
    panels = [_table("comparison")] if analysis["cost_ratios"] else []
    panels.append(_table("summary"))
    sentences = list(crossover.get("sentences", {}).values())
    baseline = crossover["baseline"]
    intro = (
        f"Every solver against {baseline}, cell by cell; then every cell of the run."
        if baseline
        else "Every cell of the run (the suite has no direct baseline to compare with)."
    )
    return [
        wr.H1(text="Comparison"),
        wr.P(text=intro),
        *(wr.P(text=sentence) for sentence in sentences),
        wr.PanelGrid(runsets=[runset], panels=panels),
    ]


def _figures(figure_keys: Sequence[str], runset: wr.Runset) -> list[Any]:
    if not figure_keys:
        return []
    browser = wr.MediaBrowser(
        title="figures", media_keys=list(figure_keys), num_columns=2, layout=wr.Layout(w=24, h=16)
    )
    return [wr.H1(text="Figures"), wr.PanelGrid(runsets=[runset], panels=[browser])]


def build_report(
    analysis: dict[str, Any],
    run_info: dict[str, Any],
    *,
    project: str,
    entity: str,
    run_name: str,
    run_id: str | None = None,
    figure_keys: Sequence[str] = (),
) -> wr.Report:
    """The report, not yet saved. `run_id` filters the runset to exactly the published run
    (else its name); `figure_keys` are the logged images (`figures/<stem>`) to show."""
    suite, model = run_info["suite"], run_info["model"]
    runset = _runset(project=project, entity=entity, run_name=run_name, run_id=run_id)
    description = (
        f"{suite.get('description') or suite['name']}. Model {model.get('name', '?')}, "
        f"seed {run_info.get('seed', suite.get('seed'))}, {suite['samples']} samples per "
        f"(task, length), solvers {', '.join(s['label'] for s in suite['solvers'])}."
    )
    blocks = [
        wr.TableOfContents(),
        *_context_rot(analysis, runset),
        *_propagation(analysis, runset),
        *_comparison(analysis, runset),
        *_figures(figure_keys, runset),
    ]
    title = f"{suite['name']} on {model.get('name', '?')}: {run_name}"
    return wr.Report(
        project=project, entity=entity, title=title[:128], description=description, blocks=blocks
    )


def save_report(report: wr.Report) -> str:
    """Save the report to W&B and return its URL."""
    try:
        report.save()
    # wandb_workspaces raises bare Exceptions (not logged in) besides wandb's and requests'
    # errors; whatever it is, the run is published and the report is what failed.
    except Exception as exc:  # noqa: BLE001
        raise UserError(
            f"the run is published but saving its report failed: {exception_line(exc)}"
        ) from None
    return report.url
