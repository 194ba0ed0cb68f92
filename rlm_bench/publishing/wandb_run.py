"""One W&B run per run folder: history curves, tables, figures, summary scalars, the folder as
an artifact.

The run is named after the folder, its config is run.json (suite, model, seed, versions, git
commit) and its tags are the suite's and the model's names. What is logged is decided in
`content.py`; this module only talks to wandb.

Online or offline: online when there are credentials (`WANDB_API_KEY`, or the `~/.netrc`
entry `wandb login` writes for the W&B host) and neither `--offline` nor `WANDB_MODE=offline`
asks otherwise. An offline run is written under `$WANDB_DIR/wandb/` (as W&B users choose),
else `RUN_DIR/wandb/`, for `wandb sync` to upload later. Starting an online run waits at most
`WANDB_INIT_TIMEOUT` seconds (30 by default), so an unreachable server is one error line, not a
hang.
"""

from __future__ import annotations

import netrc
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import wandb

from rlm_bench.errors import UserError, exception_line
from rlm_bench.publishing import content

DEFAULT_BASE_URL = "https://api.wandb.ai"
INIT_TIMEOUT_S = 30.0
ARTIFACT_TYPE = "rlm_bench-run"
ARTIFACT_FILES = (
    "run.json",
    "samples.jsonl",
    "traces.jsonl",
    "summary.json",
    "report.md",
    "view.html",
)
"""The run folder's own files; its `wandb/` directory (offline runs) is never part of it."""


@dataclass(frozen=True)
class Mode:
    online: bool
    reason: str
    """Why offline (for the line the CLI prints); empty when online."""


@dataclass(frozen=True)
class PublishedRun:
    name: str
    id: str
    project: str
    entity: str | None
    online: bool
    url: str | None
    """The run's page (online runs)."""
    sync_dir: Path | None
    """What `wandb sync` uploads (offline runs)."""


def base_url(environ: Mapping[str, str]) -> str:
    return environ.get("WANDB_BASE_URL") or DEFAULT_BASE_URL


def _netrc_has(host: str, environ: Mapping[str, str]) -> bool:
    path = environ.get("NETRC") or os.path.expanduser("~/.netrc")
    try:
        return netrc.netrc(path).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def choose_mode(offline: bool, environ: Mapping[str, str]) -> Mode:
    """Online only when asked for by nothing else and there are credentials to go online with."""
    if offline:
        return Mode(False, "--offline")
    if environ.get("WANDB_MODE") in ("offline", "dryrun"):
        return Mode(False, f"WANDB_MODE={environ['WANDB_MODE']}")
    host = urlparse(base_url(environ)).hostname or ""
    if environ.get("WANDB_API_KEY") or _netrc_has(host, environ):
        return Mode(True, "")
    return Mode(False, "no WANDB_API_KEY or `wandb login` credentials")


def artifact_name(folder: Path) -> str:
    """The folder's name in the characters W&B allows in an artifact name."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", folder.resolve().name)


def _tags(run_info: dict[str, Any]) -> list[str]:
    names = [run_info["suite"]["name"], run_info["model"].get("name")]
    return [name[:64] for name in names if name]  # W&B caps a tag at 64 characters


def _init(
    folder: Path,
    run_info: dict[str, Any],
    *,
    project: str,
    entity: str | None,
    mode: Mode,
    environ: Mapping[str, str],
) -> Any:
    settings = wandb.Settings(
        base_url=base_url(environ),  # the host the error names is the host that was tried
        init_timeout=float(environ.get("WANDB_INIT_TIMEOUT", INIT_TIMEOUT_S)),
        console="off",  # the publishing process's own output is not part of the run
        silent=True,  # the CLI prints its own one-line outcome
        x_disable_stats=True,  # the machine that uploads is not the one that ran the suite
        save_code=False,
    )
    wandb.setup(settings)  # silences wandb's credential messages, printed before init's settings
    # where W&B users send their runs; beside the results when they have not said
    run_dir = environ.get("WANDB_DIR") or str(folder)
    try:
        return wandb.init(
            project=project,
            entity=entity,
            name=folder.resolve().name,
            dir=run_dir,
            config=run_info,
            tags=_tags(run_info),
            job_type="publish",
            mode="online" if mode.online else "offline",
            settings=settings,
        )
    except wandb.Error as exc:
        where = f"W&B at {base_url(environ)}" if mode.online else f"an offline run in {run_dir}"
        raise UserError(f"could not start {where}: {exception_line(exc)}") from None


def _artifact(folder: Path) -> wandb.Artifact:
    artifact = wandb.Artifact(artifact_name(folder), type=ARTIFACT_TYPE)
    for name in ARTIFACT_FILES:
        if (folder / name).is_file():
            artifact.add_file(str(folder / name), name=name)
    if (folder / "figures").is_dir():
        artifact.add_dir(str(folder / "figures"), name="figures")
    return artifact


def _accuracy_charts(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """A line_series chart of accuracy against length per task, one line per solver: the
    context-rot curve as a self-contained chart, next to the native line plots."""
    charts = {}
    for task in sorted({c["task"] for c in cells}):
        solvers = sorted({c["solver"] for c in cells if c["task"] == task})
        series = [
            sorted(
                (c["length"], c["accuracy"])
                for c in cells
                if c["task"] == task and c["solver"] == solver
            )
            for solver in solvers
        ]
        charts[f"charts/accuracy_vs_length/{task}"] = wandb.plot.line_series(
            xs=[[length for length, _ in points] for points in series],
            ys=[[accuracy for _, accuracy in points] for points in series],
            keys=solvers,
            title=f"{task}: accuracy vs length",
            xname=content.LENGTH,
        )
    return charts


def publish_run(
    folder: Path,
    run_info: dict[str, Any],
    analysis: dict[str, Any],
    samples: list[dict[str, Any]],
    figures: list[Path],
    *,
    project: str,
    entity: str | None,
    mode: Mode,
    environ: Mapping[str, str],
) -> PublishedRun:
    """Log the run folder as one W&B run and finish it (an offline run is complete on disk)."""
    run = _init(folder, run_info, project=project, entity=entity, mode=mode, environ=environ)
    with run:
        for metric in content.CURVES:
            run.define_metric(f"{metric}/*", step_metric=content.LENGTH)
        run.define_metric(f"{content.LEVEL_ERROR}/*", step_metric=content.LEVEL)
        for step in content.length_steps(analysis["rows"]):
            run.log(step)
        for step in content.level_steps(analysis.get("propagation") or {}):
            run.log(step)
        tables = content.tables(analysis, samples)
        run.log(
            {name: wandb.Table(columns=t.columns, data=t.rows) for name, t in tables.items()}
            | _accuracy_charts(analysis["rows"])
            | {f"figures/{path.stem}": wandb.Image(str(path)) for path in figures}
        )
        run.summary.update(content.summary_scalars(analysis, samples))
        run.log_artifact(_artifact(folder))
        published = PublishedRun(
            name=run.name,
            id=run.id,
            project=run.project,
            entity=run.entity or entity,
            online=mode.online,
            url=run.url if mode.online else None,
            sync_dir=None if mode.online else Path(run.settings.sync_dir),
        )
    # finish() can return before wandb's service has written the whole transaction log of an
    # offline run; shutting the service down waits for it, so the run `wandb sync` is pointed
    # at is complete.
    wandb.teardown()
    return published
