"""Peak memory of solving one 1M-token sample with `direct`, `recursive` (depth 2) and `repl`,
as a multiple of the size of the context text (its UTF-8 bytes). Goal (issues 9 and 19): under
3x.

    python -m benchmarks.memory_peak [--length 1048576] [--tasks niah_single aggregation_count]
        [--solvers direct recursive_d2 repl]

Each (task, solver) runs in a process of its own, so one peak cannot hide another. There:

1. The sample is generated, then `gc.collect()` and glibc's `malloc_trim(0)` hand back what
   generating it freed (otherwise the solve could reuse that memory and never raise the peak).
2. The peak is reset (`5` into /proc/self/clear_refs sets VmHWM to VmRSS) and VmRSS read: the
   baseline, which already holds the sample, the tokenizer and the interpreter.
3. The cell is solved as the evaluator solves it (`solve_cell`: solve, score, trace rows) on
   the `ZeroLatencyModel` test double behind the cap on calls in flight (2). Every call yields
   to the event loop first, so all the calls a solver starts are in flight together, holding
   their prompts, as with a real model. Peak = VmHWM after, less the baseline.

`recursive` splits so that leaves fit the model's window (`--window`). `repl` replays the
trajectory of `tests/test_repl_solver.py`: chunks sized to fit the sub-model's window, one
`llm_query_batched` over all of them, FINAL_VAR. The model code of that trajectory keeps two
copies of the context itself (its `chunks` and `prompts` lists), in the sandbox's worker.

The worker is another process, so its peak is read on its own: VmHWM from /proc/<pid>/status
just before the sandbox kills it (wrapping `Sandbox.close`; the worker starts after the
baseline, so its whole life is the solve), less the VmHWM of a worker started with an empty
context (the interpreter). `getrusage(RUSAGE_CHILDREN)` would not do: a child's maxrss
includes the harness's RSS at fork, before the worker's exec, so it reports the harness.

The double keeps the longest prompt it was sent, and its tokens are counted after the peak is
read (counting every prompt with the HF tokenizer costs about 100 bytes per token of Rust
buffers, which would swamp what is measured).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import json
import os
import subprocess
import sys
import time

from benchmarks.doubles import ZeroLatencyModel, repl_reply
from benchmarks.record import record
from rlm_bench.evaluation.cells import Cell
from rlm_bench.evaluation.executors.solving import solve_cell
from rlm_bench.models.capping import CappedModel
from rlm_bench.models.embedded import EmbeddedModel
from rlm_bench.sandbox import Sandbox
from rlm_bench.sandbox import host as sandbox_host
from rlm_bench.solvers import make_solver
from rlm_bench.tasks import get_task

SOLVERS = {
    "direct": ("direct", {}),
    "recursive_d2": ("recursive", {"depth": 2}),
    "repl": ("repl", {"timeout_s": 300.0}),
}
GOAL = 3.0
SUB_PROMPT_TOKENS = 1024
"""Room a REPL sub-call prompt leaves around its chunk (the question, the reply)."""
MIB = 1 << 20


def status_bytes(field: str, pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def watch_workers(peaks: list[int]) -> None:
    """Record each sandbox worker's VmHWM just before its sandbox kills it."""
    close = sandbox_host.Sandbox.close

    def close_and_record(self: Sandbox) -> None:
        if self._worker is not None:
            peaks.append(status_bytes("VmHWM", self._worker.pid))
        close(self)

    sandbox_host.Sandbox.close = close_and_record


def bare_worker_peak() -> int:
    with Sandbox(variables={"context": ""}) as sandbox:
        sandbox.run("pass")
        return status_bytes("VmHWM", sandbox._worker.pid)


def measure(task_name: str, label: str, length: int, window: int) -> dict:
    """One cell in this process: what the parent prints a row of."""
    tokenizer = EmbeddedModel().tokenizer
    task = get_task(task_name, tokenizer)
    start = time.perf_counter()
    sample = task.sample(length, 0, 0)
    generation_s = time.perf_counter() - start
    chars_per_token = len(sample.context) / sample.actual_length
    chunk_chars = int((window - SUB_PROMPT_TOKENS) * 0.9 * chars_per_token)
    double = ZeroLatencyModel(tokenizer, repl_reply(chunk_chars, peek=False), window, True)
    name, params = SOLVERS[label]
    solver = make_solver(name, params)
    workers: list[int] = []
    bare = bare_worker_peak() if name == "repl" else 0
    watch_workers(workers)
    cell = Cell(task_name, length, 0, label)
    size = len(sample.context.encode("utf-8", "surrogatepass"))

    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    baseline = status_bytes("VmRSS")
    start = time.perf_counter()
    row, _ = asyncio.run(solve_cell(cell, sample, task, solver, CappedModel(double, 2)))
    seconds = time.perf_counter() - start
    peak = status_bytes("VmHWM")

    return {
        "task": task_name,
        "solver": label,
        "tokens": sample.actual_length,
        "size": size,
        "generation_s": generation_s,
        "baseline": baseline,
        "peak": peak,
        "seconds": seconds,
        "calls": double.calls,
        "longest_prompt_tokens": tokenizer.count(double.longest),
        "window": window,
        "score": row["score"],
        "error": row["error"],
        "worker_peak": max(workers, default=0),
        "bare_worker": bare,
    }


def run_child(task: str, label: str, length: int, window: int) -> dict:
    command = [sys.executable, "-m", "benchmarks.memory_peak", "--child", task, label,
               "--length", str(length), "--window", str(window)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{task} {label} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(results: list[dict], load: tuple[float, float], note: str | None) -> list[str]:
    lines = [
        "One sample per task, generated first; each solver in a process of its own; peak RSS of "
        "the solve (solve, score, trace rows) above the baseline, as a multiple of the context "
        "text's UTF-8 bytes; zero-latency double, every call in flight at once, cap of 2. "
        "Worker: the repl sandbox process, above a worker with an empty context. Load average "
        f"{load[0]:.1f} before, {load[1]:.1f} after, on 2 cores.",
        "",
        "| task | tokens | context MB | solver | calls | largest prompt / window | harness peak "
        "MB | harness x context | worker peak MB | worker x context | solve s | score |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        extra = (r["peak"] - r["baseline"]) / MIB
        ratio = (r["peak"] - r["baseline"]) / r["size"]
        worker = worker_ratio = "-"
        if r["worker_peak"]:
            worker_extra = r["worker_peak"] - r["bare_worker"]
            worker = f"{worker_extra / MIB:.1f}"
            worker_ratio = f"{worker_extra / r['size']:.2f}x"
        flag = "" if ratio < GOAL else " OVER"
        lines.append(
            f"| {r['task']} | {r['tokens']} | {r['size'] / MIB:.2f} | {r['solver']} | "
            f"{r['calls']} | {r['longest_prompt_tokens']} / {r['window']} | {extra:.1f} | "
            f"{ratio:.2f}x{flag} | {worker} | {worker_ratio} | {r['seconds']:.1f} | "
            f"{r['score']:.0%}{' ' + r['error'] if r['error'] else ''} |"
        )
    if note:
        lines += ["", note]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=1048576, help="context tokens")
    parser.add_argument("--tasks", nargs="+", default=["niah_single", "aggregation_count"])
    parser.add_argument("--solvers", nargs="+", choices=sorted(SOLVERS), default=list(SOLVERS))
    parser.add_argument("--window", type=int, default=32768, help="the model's context window")
    parser.add_argument("--note", help="a line to add under the table")
    parser.add_argument("--child", nargs=2, metavar=("TASK", "SOLVER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child, args.length, args.window)))
        return
    before = os.getloadavg()[0]
    results = [
        run_child(task, label, args.length, args.window)
        for task in args.tasks
        for label in args.solvers
    ]
    lines = table(results, (before, os.getloadavg()[0]), args.note)
    record(f"Peak memory of a {args.length // 1024}K-token sample", lines)


if __name__ == "__main__":
    main()
