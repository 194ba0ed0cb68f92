"""Harness time per model call (evaluator + solver + store), against a model that answers at
once, and what it comes to next to the model time of a real run.

    python -m benchmarks.harness_overhead [--real baselines/context_rot] [--samples N]

The suite is the real run's (its tasks, lengths, samples, seed and concurrency) with its solvers
plus `repl`, the REPL replaying the trajectory of `tests/test_repl_solver.py` (peek, chunk the
context into 1,500-character pieces, one `llm_query_batched` over them, FINAL_VAR). Each solver
runs through the real `run_suite` into a fresh run folder (fsynced rows, trace scoring, the
analysis and summary.json at the end), on the `ZeroLatencyModel` test double behind the stack
`open_model` builds: the cap on calls in flight, the response cache (a fresh SQLite file, so
every call is a miss and a write) and pricing.

Harness ms per call = (run_suite wall time - time spent generating samples) / model calls; the
generation time is clocked inside the run (`SampleBank.get`, wrapped here), since it is the
task generators' cost (`benchmarks/task_generation.py`), not the harness's. Per-run costs
(run.json, the git commit, the analysis) are charged to the calls too, so the figure overstates
the cost of one more call a little. The fraction of a real run is
harness x calls / (model seconds + harness x calls), per solver of the real run, with its
calls and model seconds (`latency_s`) from its samples.jsonl. Goal (issue 9): under 5%.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from benchmarks.doubles import ZeroLatencyModel, repl_reply
from benchmarks.record import record
from rlm_bench.evaluation.executors.solving import SampleBank
from rlm_bench.evaluation.runner import run_suite
from rlm_bench.evaluation.store import RunStore
from rlm_bench.models.base import Model
from rlm_bench.models.cache import CachedModel, ResponseCache
from rlm_bench.models.capping import CappedModel
from rlm_bench.models.embedded import EmbeddedModel
from rlm_bench.models.pricing import PricedModel
from rlm_bench.suites import Suite, suite_from_dict
from rlm_bench.tokens import Tokenizer

REPL = {"label": "repl", "solver": "repl", "timeout_s": 60.0}
CHUNK_CHARS = 1500
GOAL = 0.05


def model_stack(tokenizer: Tokenizer, concurrency: int, cache: Path) -> Model:
    """The double behind what `models/setup.py:open_model` puts around every backend."""
    double = ZeroLatencyModel(tokenizer, repl_reply(CHUNK_CHARS))
    capped = CappedModel(double, concurrency)
    cached = CachedModel(capped, ResponseCache(cache), {"backend": "zero-latency", "model": "x"})
    return PricedModel(cached, None)


class GenerationClock:
    """Seconds the evaluator spends in `SampleBank.get` (generating samples): a synchronous
    call on the event loop's thread, so its time is the run's time."""

    def __init__(self) -> None:
        self.seconds = 0.0
        get = SampleBank.get

        def timed_get(bank: SampleBank, cell):
            start = time.perf_counter()
            try:
                return get(bank, cell)
            finally:
                self.seconds += time.perf_counter() - start

        SampleBank.get = timed_get


def timed_run(
    suite: Suite, tokenizer: Tokenizer, work: Path, clock: GenerationClock
) -> tuple[float, float, list[dict]]:
    """Wall seconds of `run_suite`, seconds of it spent generating samples, and its rows."""
    work.mkdir()
    model = model_stack(tokenizer, suite.concurrency, work / "responses.sqlite")
    generated = clock.seconds
    start = time.perf_counter()
    run_suite(suite, model, work / "run", resume=False, progress=False)
    wall = time.perf_counter() - start
    return wall, clock.seconds - generated, RunStore(work / "run").samples()


def real_run(folder: Path) -> tuple[dict, dict[str, tuple[int, float]]]:
    """The real run's suite, and its calls and model seconds by solver."""
    info = json.loads((folder / "run.json").read_text())
    totals: dict[str, tuple[int, float]] = {}
    for row in RunStore(folder).samples():
        calls, seconds = totals.get(row["solver"], (0, 0.0))
        totals[row["solver"]] = (calls + row["calls"], seconds + row["latency_s"])
    return info["suite"], totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=Path("baselines/context_rot"),
                        help="a real run folder (default: baselines/context_rot)")  # fmt: skip
    parser.add_argument("--samples", type=int, help="samples per cell (default: the real run's)")
    args = parser.parse_args()
    real_suite, real = real_run(args.real)
    solvers = [s for s in real_suite["solvers"] if s["label"] != REPL["label"]] + [REPL]
    data = {**real_suite, "solvers": solvers}
    if args.samples:
        data["samples"] = args.samples
    suite = suite_from_dict(data, f"{args.real}/run.json")
    tokenizer = EmbeddedModel().tokenizer
    load_before = os.getloadavg()[0]
    clock = GenerationClock()
    rows = []
    with tempfile.TemporaryDirectory(prefix="harness_overhead_") as tmp:
        warm = suite_from_dict({**data, "samples": 1, "lengths": data["lengths"][:1]}, "warm-up")
        timed_run(warm, tokenizer, Path(tmp) / "warm-up", clock)  # imports, a sandbox, SQLite
        for spec in suite.solvers:
            one = suite_from_dict(
                {**data, "solvers": [s for s in data["solvers"] if s["label"] == spec.label]},
                spec.label,
            )
            wall, generation, samples = timed_run(one, tokenizer, Path(tmp) / spec.label, clock)
            calls = sum(r["calls"] for r in samples)
            solved = sum(r["score"] for r in samples) / len(samples)
            rows.append((spec.label, len(samples), calls, wall, generation, solved))
    load_after = os.getloadavg()[0]

    lines = [
        f"Suite of `{args.real}` ({', '.join(t.label for t in suite.tasks)}; lengths "
        f"{suite.lengths[0]}-{suite.lengths[-1]}; {suite.samples} samples; concurrency "
        f"{suite.concurrency}) plus `repl`, each solver one `run_suite` on the zero-latency "
        f"double behind cap + cache (fresh SQLite) + pricing; the time spent generating "
        f"samples is left out. Load average {load_before:.1f} before, {load_after:.1f} after, "
        "on 2 cores (this benchmark accounts for about 1; more means other jobs were running "
        "and the times are upper bounds)."
        + (
            " `repl_no_subcalls` replays the same script, which fails there (no "
            "`llm_query_batched`) and ends with the out-of-turns answer."
            if "repl_no_subcalls" in real
            else ""
        ),
        "",
        "| solver | samples | model calls | run_suite s | of which generation s | harness "
        "ms/call | solved | real calls | real model s | harness share of real run |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    total_harness = total_model = 0.0
    for label, n, calls, wall, generation, solved in rows:
        per_call = (wall - generation) / calls
        share = "not in the real run"
        real_calls = real_seconds = "-"
        if label in real:
            real_calls, real_seconds = real[label]
            harness = per_call * real_calls
            total_harness += harness
            total_model += real_seconds
            share = f"{harness / (real_seconds + harness):.2%}"
            real_seconds = f"{real_seconds:.0f}"
        lines.append(
            f"| {label} | {n} | {calls} | {wall:.2f} | {generation:.2f} | {per_call * 1000:.2f} "
            f"| {solved:.0%} | {real_calls} | {real_seconds} | {share} |"
        )
    whole = total_harness / (total_model + total_harness)
    lines += [
        "",
        f"Whole real run: harness {total_harness:.1f} s against {total_model:.0f} model seconds "
        f"= {whole:.2%} ({'under' if whole < GOAL else 'OVER'} the {GOAL:.0%} goal).",
    ]
    record("Harness overhead per model call (zero-latency model)", lines)


if __name__ == "__main__":
    main()
