"""Compare a candidate run with a base run, sample by sample: is the candidate worse anywhere?

Two runs of one suite and seed hold the same `sample_id`s (`task/L<length>/s<seed>/i<index>`), so
each sample the base answered is paired with the candidate's answer to the very same context and
question. Each (task, length) cell of a solver pair gets a paired test (exact McNemar when every
score is 0 or 1, a paired bootstrap for partial credit), Holm-adjusted across the cells of that
pair, and an overall row pools every pair. A row is "worse" only when the drop exceeds the
tolerance *and* the adjusted test says so: one flipped answer on a small suite is not a
regression, a consistent drop is.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean
from typing import Any

from rlm_bench.errors import UserError
from rlm_bench.evaluation.paired_tests import (
    holm,
    mcnemar_exact,
    newcombe_interval,
    paired_bootstrap,
)
from rlm_bench.evaluation.store import RunStore

Row = dict[str, Any]
Pair = tuple[Row, Row]  # (base row, candidate row) of one sample_id
EPSILON = 1e-9
"""Deltas are float means: 0.7 - 0.9 is -0.20000000000000007, which must still count as a drop
of exactly 0.2 when the tolerance is 0.2."""


class IncomparableRuns(UserError):
    """The two runs do not answer the same samples: another suite, another seed, or no solver
    pair with a shared sample."""


@dataclass(frozen=True)
class CompareOptions:
    tolerance: float = 0.0  # an accuracy drop up to this is "same" even when significant
    alpha: float = 0.05
    base_solver: str | None = None
    candidate_solver: str | None = None
    resamples: int = 10000  # paired bootstrap
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.tolerance < 1.0:
            raise UserError(f"--tolerance must be in [0, 1), not {self.tolerance}")
        if not 0.0 < self.alpha < 1.0:
            raise UserError(f"--alpha must be in (0, 1), not {self.alpha}")
        if self.resamples < 1:
            raise UserError(f"resamples must be at least 1, not {self.resamples}")


@dataclass(frozen=True)
class CellComparison:
    task: str | None  # None on an overall row
    length: int | None  # None on an overall row
    base_solver: str
    candidate_solver: str
    n: int  # paired samples
    base_accuracy: float
    candidate_accuracy: float
    delta: float  # candidate - base
    delta_low: float  # interval of delta at level 1 - alpha
    delta_high: float
    test: str  # "mcnemar" | "bootstrap"
    p_value: float
    p_adjusted: float  # Holm over the cells of one solver pair (= p_value on overall rows)
    candidate_wins: int  # pairs where the candidate scored higher
    base_wins: int
    token_ratio: float | None  # candidate tokens / base tokens (None when base is 0)
    cost_ratio: float | None  # USD, None when the base cost is 0
    latency_ratio: float | None  # sum of latency_s, candidate / base
    verdict: str  # "better" | "same" | "worse"


@dataclass(frozen=True)
class Comparison:
    base: str  # folder paths as given
    candidate: str
    suite: str
    seed: int
    cells: list[CellComparison]
    overall: list[CellComparison]  # one per solver pair
    unpaired: int  # rows of the compared solvers, in either run, with no partner
    options: CompareOptions

    @property
    def worse(self) -> bool:
        """Any cell or overall row significantly worse beyond the tolerance."""
        return any(row.verdict == "worse" for row in (*self.cells, *self.overall))


def verdict(delta: float, p_adjusted: float, options: CompareOptions) -> str:
    """ "worse"/"better" when the change exceeds the tolerance and the test holds at alpha;
    a change of exactly the tolerance is "same"."""
    if p_adjusted < options.alpha:
        if delta < -options.tolerance - EPSILON:
            return "worse"
        if delta > options.tolerance + EPSILON:
            return "better"
    return "same"


def _labels(rows: Iterable[Row]) -> list[str]:
    return list(dict.fromkeys(row["solver"] for row in rows))


def _only_or_same(label: str, labels: list[str], flag: str, where: str) -> str:
    """The solver a run is compared with when only the other run's solver was named: the same
    label when this run has it, else this run's only solver."""
    if label in labels:
        return label
    if len(labels) == 1:
        return labels[0]
    raise UserError(f"name {flag}: {where} has solvers {', '.join(labels)}")


def pair_solvers(
    base_labels: list[str],
    candidate_labels: list[str],
    options: CompareOptions,
    *,
    base: str = "the base run",
    candidate: str = "the candidate run",
) -> list[tuple[str, str]]:
    """Which base solver is compared with which candidate solver.

    Named labels win (each must exist in its run). Otherwise two single-solver runs pair their
    solvers whatever the labels ("recursive" against "my new strategy"), and runs with several
    solvers pair the labels they share."""
    for label, labels, flag, where in (
        (options.base_solver, base_labels, "--base-solver", base),
        (options.candidate_solver, candidate_labels, "--candidate-solver", candidate),
    ):
        if label is not None and label not in labels:
            raise UserError(
                f"{flag} {label!r} is not a solver of {where}; it has {', '.join(labels)}"
            )
    if options.base_solver or options.candidate_solver:
        b = options.base_solver or _only_or_same(
            options.candidate_solver or "", base_labels, "--base-solver", base
        )
        c = options.candidate_solver or _only_or_same(
            b, candidate_labels, "--candidate-solver", candidate
        )
        return [(b, c)]
    if len(base_labels) == 1 and len(candidate_labels) == 1:
        return [(base_labels[0], candidate_labels[0])]
    shared = [label for label in base_labels if label in candidate_labels]
    if not shared:
        raise IncomparableRuns(
            f"no solver label is in both runs ({base}: {', '.join(base_labels)}; {candidate}: "
            f"{', '.join(candidate_labels)}); pick a pair with --base-solver/--candidate-solver"
        )
    return [(label, label) for label in shared]


def _by_sample(rows: list[Row], label: str, where: str) -> dict[str, Row]:
    found: dict[str, Row] = {}
    for row in rows:
        if row["solver"] == label:
            if row["sample_id"] in found:
                raise UserError(f"{where}: sample {row['sample_id']} of {label} appears twice")
            found[row["sample_id"]] = row
    return found


def _ratio(pairs: list[Pair], measure: Callable[[Row], float]) -> float | None:
    base = sum(measure(b) for b, _ in pairs)
    candidate = sum(measure(c) for _, c in pairs)
    return candidate / base if base else None


def _tokens(row: Row) -> float:
    return row.get("prompt_tokens", 0) + row.get("completion_tokens", 0)


def _compare_pairs(
    pairs: list[Pair], task: str | None, length: int | None, options: CompareOptions
) -> CellComparison:
    """One row, with p_adjusted = p_value and its verdict; cells are adjusted afterwards."""
    base = [b["score"] for b, _ in pairs]
    candidate = [c["score"] for _, c in pairs]
    candidate_wins = sum(c > b for b, c in zip(base, candidate, strict=True))
    base_wins = sum(b > c for b, c in zip(base, candidate, strict=True))
    delta = fmean(candidate) - fmean(base)
    if all(score in (0.0, 1.0) for score in (*base, *candidate)):
        test, p_value = "mcnemar", mcnemar_exact(base_wins, candidate_wins)
        both = sum(b == c == 1.0 for b, c in zip(base, candidate, strict=True))
        neither = len(pairs) - both - candidate_wins - base_wins
        low, high = newcombe_interval(both, candidate_wins, base_wins, neither, options.alpha)
    else:
        test = "bootstrap"
        boot = paired_bootstrap(
            base, candidate, resamples=options.resamples, seed=options.seed, alpha=options.alpha
        )
        p_value, low, high = boot.p_value, boot.low, boot.high
    return CellComparison(
        task=task,
        length=length,
        base_solver=pairs[0][0]["solver"],
        candidate_solver=pairs[0][1]["solver"],
        n=len(pairs),
        base_accuracy=fmean(base),
        candidate_accuracy=fmean(candidate),
        delta=delta,
        delta_low=low,
        delta_high=high,
        test=test,
        p_value=p_value,
        p_adjusted=p_value,
        candidate_wins=candidate_wins,
        base_wins=base_wins,
        token_ratio=_ratio(pairs, _tokens),
        cost_ratio=_ratio(pairs, lambda row: row.get("cost_usd", 0.0)),
        latency_ratio=_ratio(pairs, lambda row: row.get("latency_s", 0.0)),
        verdict=verdict(delta, p_value, options),
    )


def compare_rows(
    base_rows: list[Row],
    candidate_rows: list[Row],
    *,
    suite: str,
    seed: int,
    base: str | Path,
    candidate: str | Path,
    options: CompareOptions,
) -> Comparison:
    """Compare two runs' `samples.jsonl` rows (the caller has checked suite and seed). Samples
    only one run holds (other tasks, lengths or sample counts) are counted in `unpaired`."""
    base, candidate = str(base), str(candidate)
    for rows, where in ((base_rows, base), (candidate_rows, candidate)):
        if not rows:
            raise IncomparableRuns(f"{where} has no sample rows")
    pairs = pair_solvers(
        _labels(base_rows), _labels(candidate_rows), options, base=base, candidate=candidate
    )
    cells: list[CellComparison] = []
    overall: list[CellComparison] = []
    unpaired = 0
    for base_label, candidate_label in pairs:
        base_by_id = _by_sample(base_rows, base_label, base)
        candidate_by_id = _by_sample(candidate_rows, candidate_label, candidate)
        shared = [sample_id for sample_id in base_by_id if sample_id in candidate_by_id]
        unpaired += len(base_by_id) + len(candidate_by_id) - 2 * len(shared)
        if not shared:
            raise IncomparableRuns(
                f"no sample of {base_label} in {base} is in {candidate} for {candidate_label} "
                "(no shared task, length and index)"
            )
        matched = [(base_by_id[i], candidate_by_id[i]) for i in shared]
        groups: dict[tuple[str, int], list[Pair]] = defaultdict(list)
        for pair in matched:
            groups[(pair[0]["task"], pair[0]["length"])].append(pair)
        rows = [_compare_pairs(groups[key], *key, options) for key in sorted(groups)]
        for row, p in zip(rows, holm([r.p_value for r in rows]), strict=True):
            cells.append(
                dataclasses.replace(row, p_adjusted=p, verdict=verdict(row.delta, p, options))
            )
        overall.append(_compare_pairs(matched, None, None, options))
    return Comparison(
        base=base,
        candidate=candidate,
        suite=suite,
        seed=seed,
        cells=cells,
        overall=overall,
        unpaired=unpaired,
        options=options,
    )


def _suite_and_seed(info: dict[str, Any]) -> tuple[str, int]:
    suite = info.get("suite", {})
    return suite.get("name", "?"), info.get("seed", suite.get("seed"))


def compare_folders(base: Path, candidate: Path, options: CompareOptions) -> Comparison:
    """Compare two run folders; runs of another suite or seed are `IncomparableRuns`."""
    base_store, candidate_store = RunStore(Path(base)), RunStore(Path(candidate))
    base_suite, base_seed = _suite_and_seed(base_store.read_run_info())
    candidate_suite, candidate_seed = _suite_and_seed(candidate_store.read_run_info())
    if base_suite != candidate_suite:
        raise IncomparableRuns(
            f"different suites: {base} ran {base_suite!r}, {candidate} ran {candidate_suite!r}"
        )
    if base_seed != candidate_seed:
        raise IncomparableRuns(
            f"different seeds: {base} ran seed {base_seed}, {candidate} ran seed "
            f"{candidate_seed} (their samples differ)"
        )
    return compare_rows(
        base_store.samples(),
        candidate_store.samples(),
        suite=base_suite,
        seed=base_seed,
        base=base,
        candidate=candidate,
        options=options,
    )
