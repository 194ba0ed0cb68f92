"""Everything `summary.json` holds, computed from a run folder's files alone.

The runner writes it at the end of a run; `plot` and `report` compute it again, so a folder
written by an older version, or read with other thresholds, gets the current analysis.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rlm_bench.errors import UserError
from rlm_bench.evaluation.context_rot import context_rot
from rlm_bench.evaluation.metrics import call_totals, summarize
from rlm_bench.evaluation.needle_depth import accuracy_by_depth
from rlm_bench.evaluation.propagation import propagation
from rlm_bench.evaluation.store import SCHEMA_VERSION, RunStore
from rlm_bench.evaluation.tradeoff import (
    baseline_label,
    cost_ratios,
    crossover_sentences,
    crossovers,
)


@dataclass(frozen=True)
class AnalysisOptions:
    """`threshold_relative`: the effective context length keeps accuracy at or above this share
    of the shortest length's; `threshold_absolute`, when set, is a fixed accuracy instead (RULER
    uses 0.85). `resamples` and `seed` drive the bootstrap intervals of partial-credit cells."""

    threshold_relative: float = 0.8
    threshold_absolute: float | None = None
    resamples: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("threshold_relative", "threshold_absolute"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise UserError(f"{name.replace('_', ' ')} must be between 0 and 1, not {value}")
        if self.resamples < 100:
            raise UserError(f"resamples must be at least 100, not {self.resamples}")


def analyze(
    samples: list[dict[str, Any]],
    traces: list[dict[str, Any]],
    run_info: dict[str, Any],
    options: AnalysisOptions | None = None,
) -> dict[str, Any]:
    options = options or AnalysisOptions()
    rows = summarize(samples, resamples=options.resamples, seed=options.seed)
    baseline = baseline_label(run_info)
    crossing = crossovers(rows, baseline) if baseline else []
    return {
        "schema_version": SCHEMA_VERSION,
        "options": asdict(options),
        "calls": call_totals(samples),
        "rows": rows,
        "context_rot": context_rot(
            rows,
            samples,
            relative=options.threshold_relative,
            absolute=options.threshold_absolute,
        ),
        "needle_depth": accuracy_by_depth(samples),
        "crossover": {
            "baseline": baseline,
            "rows": crossing,
            "sentences": crossover_sentences(crossing, rows, baseline) if baseline else {},
        },
        "cost_ratios": cost_ratios(rows, baseline) if baseline else [],
        "propagation": propagation(samples, traces),
    }


def analyze_folder(folder: Path, options: AnalysisOptions | None = None) -> dict[str, Any]:
    """The analysis of a finished (or interrupted) run folder."""
    store = RunStore(folder)
    info = store.read_run_info()
    samples = store.samples()
    if not samples:
        raise UserError(f"{folder} has no finished samples yet")
    return analyze(samples, store.traces(), info, options)
