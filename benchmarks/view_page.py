"""How big `view.html` gets, how long it takes to write, and how fast it opens in a browser, on a
run the size of the `full` suite (15 tasks x 8 lengths to 128K x 10 samples x 5 solvers = 6000
samples) and on the checked-in `baselines/context_rot`.

    python -m benchmarks.view_page [--samples N] [--keep DIR]

No model runs. The full-size run folder is written by the harness's own code (`cell_rows`:
samples.jsonl and traces.jsonl rows with trace nodes scored by `node_scoring.annotate`, then the
analysis, summary.json and figures) from the suite's real samples and synthetic traces shaped
like each solver's: `direct` one call (no span when its 32K window cut the context),
`recursive_d1`/`d2` the solver's own fan-out and `split_span` parts with leaf answers from
`gold_for_span` (one in eight wrong), `repl` the trajectory of `benchmarks/doubles.py` (peek,
chunk, one `llm_query_batched`, FINAL_VAR) with a sub-call per chunk, `repl_no_subcalls` a
grep and a FINAL. Model outputs are short, as a small model's are.

Build time is `python -m rlm_bench view DIR` in a fresh process (loading the tokenizer and
regenerating every sample's context included). Opening is headless Chromium through
`tests/chromium.py`, median of 3 loads: the load event as the driver sees it,
DOMContentLoaded and the page's own `table-rendered` mark (ms after navigation start), then a
real click on the first row until its trace tree is in the DOM (parsing the traces included).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.doubles import CHUNK_AND_ASK, FINISH, PEEK
from benchmarks.record import record
from rlm_bench.evaluation.analysis import analyze
from rlm_bench.evaluation.cells import expand
from rlm_bench.evaluation.executors.solving import SampleBank, cell_rows, make_tasks
from rlm_bench.evaluation.provenance import git_commit, now, versions
from rlm_bench.evaluation.store import RunStore
from rlm_bench.models.embedded import EmbeddedModel
from rlm_bench.reporting.figures import draw_figures
from rlm_bench.reporting.trajectory_page import PAGE_FILE
from rlm_bench.solvers.base import Result, Trace
from rlm_bench.solvers.recursive import Recursive
from rlm_bench.solvers.splitting import split_span
from rlm_bench.suites import load_suite
from rlm_bench.tasks import Sample, Task
from rlm_bench.tasks.combining import combine, finish
from tests.chromium import Chromium

WINDOW = 32768
CHARS_PER_TOKEN = 4
GREP = "```repl\nhits = [l for l in context.splitlines() if {word!r} in l]\nprint(hits[:5])\n```"


def tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN + 1


def call(trace: Trace, rng: random.Random, parent, depth, span, answer, output, prompt_chars):
    return trace.add(
        parent=parent, depth=depth, kind="call", span=span, answer=answer, output=output,
        prompt_tokens=prompt_chars // CHARS_PER_TOKEN, completion_tokens=tokens(output),
        latency_s=round(rng.uniform(0.3, 4.0), 3), form="completion",
    )  # fmt: skip


def leaf_answer(task: Task, sample: Sample, span, rng: random.Random) -> str | None:
    gold = task.gold_for_span(sample, *span)
    if rng.random() < 0.125:
        return "none" if gold != "none" else str(rng.randint(1000000, 9999999))
    return gold


def direct(task, sample, rng) -> Result:
    trace = Trace()
    cut = sample.actual_length > WINDOW - 200
    answer = leaf_answer(task, sample, (0, len(sample.context)), rng)
    answer = finish(answer or "none", sample.decomposition, sample.part_query)
    span = None if cut else (0, len(sample.context))
    call(trace, rng, None, 0, span, answer, f" {answer}.", min(len(sample.context), WINDOW * 4))
    notes = {"dropped_tokens": sample.actual_length - WINDOW} if cut else {}
    return Result(prediction=answer, trace=trace, truncated=cut, notes=notes)


def recursive(depth: int, chunk_tokens: int):
    solver = Recursive(depth=depth, chunk_tokens=chunk_tokens)

    def solve(task, sample, rng) -> Result:
        trace = Trace()
        fanout = solver.fanout_for(sample, WINDOW - 300)

        def node(start, end, level, parent):
            if level == depth:
                answer = leaf_answer(task, sample, (start, end), rng)
                call(trace, rng, parent, level, (start, end), answer, f" {answer}.", end - start)
                return answer
            me = trace.add(parent=parent, depth=level, kind="aggregate", span=(start, end),
                           answer=None)  # fmt: skip
            spans = split_span(sample.context, start, end, fanout)
            me.answer = combine([node(s, e, level + 1, me.id) for s, e in spans],
                                sample.decomposition, sample.part_query)  # fmt: skip
            return me.answer

        combined = node(0, len(sample.context), 0, None)
        prediction = finish(combined, sample.decomposition, sample.part_query)
        return Result(prediction=prediction, trace=trace, notes={"fanout": fanout})

    return solve


def repl(task, sample, rng) -> Result:
    trace, context = Trace(), sample.context
    size = max(2000, len(context) // 32)
    peek = call(trace, rng, None, 0, None, None, PEEK, 3000)
    trace.add(parent=peek.id, depth=0, kind="exec", span=None, answer=None,
              code="print(len(context))\nprint(context[:120])",
              output=f"{len(context)}\n{context[:120]}\n", latency_s=0.004)  # fmt: skip
    reply = CHUNK_AND_ASK.format(size=size, question=sample.part_query.question)
    ask = call(trace, rng, None, 0, None, None, reply, 3400)
    block = trace.add(
        parent=ask.id,
        depth=0,
        kind="exec",
        span=None,
        answer=None,
        code=reply.split("```repl\n")[1].rsplit("\n```", 1)[0],
        latency_s=0.0,
    )
    answers = []
    for start in range(0, len(context), size):
        span = (start, min(start + size, len(context)))
        answer = leaf_answer(task, sample, span, rng)
        answers.append(answer)
        call(trace, rng, block.id, 1, span, answer, f" {answer}.", span[1] - span[0] + 200)
    result = finish(combine(answers, sample.decomposition, sample.part_query),
                    sample.decomposition, sample.part_query)  # fmt: skip
    block.output = f"{len(answers)} {[a for a in answers if a != 'none'][:3]}\n"
    block.latency_s = round(sum(n.latency_s for n in trace.nodes[block.id + 1 :]) / 4, 3)
    last = call(trace, rng, None, 0, None, result, FINISH, 3800)
    notes = {"final": "FINAL_VAR", "iterations": 3, "block_errors": 0, "timeouts": 0,
             "repeats": 0, "form": "completion"}  # fmt: skip
    last.answer = result
    return Result(prediction=result, trace=trace, notes=notes)


def repl_no_subcalls(task, sample, rng) -> Result:
    trace = Trace()
    word = sample.query.question.split()[-4]
    reply = GREP.format(word=word)
    grep = call(trace, rng, None, 0, None, None, reply, 2800)
    hits = [line for line in sample.context.splitlines() if word in line][:5]
    trace.add(parent=grep.id, depth=0, kind="exec", span=None, answer=None,
              code=reply.split("```repl\n")[1].rsplit("\n```", 1)[0], output=f"{hits}\n",
              latency_s=0.01)  # fmt: skip
    guess = str(rng.randint(1, 9)) if rng.random() < 0.5 else sample.answer
    call(trace, rng, None, 0, None, guess, f"FINAL({guess})", 3300)
    return Result(prediction=guess, trace=trace, notes={"final": "FINAL", "iterations": 2})


SOLVERS = {
    "direct": direct,
    "recursive_d1": recursive(1, 2048),
    "recursive_d2": recursive(2, 1024),
    "repl": repl,
    "repl_no_subcalls": repl_no_subcalls,
}


def synthetic_run(folder: Path, samples: int) -> int:
    """Write a run folder of the `full` suite with `samples` per task and length; rows written."""
    import dataclasses

    suite = dataclasses.replace(load_suite("full"), samples=samples)
    model = EmbeddedModel()
    tasks = make_tasks(suite, model.tokenizer)
    bank, store = SampleBank(tasks, suite.seed), RunStore(folder)
    info = {
        "suite": suite.to_dict(), "model": {**model.describe(), "context_window": WINDOW},
        "sub_model": None, "prompt_forms": dict.fromkeys(SOLVERS, "completion"),
        "seed": suite.seed, "versions": versions(), "git_commit": git_commit(),
        "started_at": now(), "finished_at": None,
    }  # fmt: skip
    store.create(info)
    cells = expand(suite)
    for n, cell in enumerate(cells):
        sample, task = bank.get(cell), tasks[cell.task]
        rng = random.Random(f"{cell.sample_id(suite.seed)}/{cell.solver}")
        result = SOLVERS[cell.solver](task, sample, rng)
        score = task.score(result.prediction, sample)
        wall = sum(node.latency_s for node in result.trace.nodes)
        store.append(*cell_rows(cell, sample, task, result, score, None, wall))
        if n % 500 == 0:
            print(f"{n}/{len(cells)} rows", file=sys.stderr)
    info["finished_at"] = now()
    store.write_run_info(info)
    analysis = analyze(store.samples(), store.traces(), info)
    store.write_summary(analysis)
    draw_figures(analysis, folder / "figures", title=f"{suite.name} (synthetic traces)")
    return len(cells)


def build_seconds(folder: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rlm_bench", "view", str(folder), "--no-progress"],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - start


OPEN_TIMES = """(() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const mark = performance.getEntriesByName("table-rendered")[0];
  return [nav.domContentLoadedEventEnd, mark ? mark.startTime : null];
})()"""


def open_times(page: Path, loads: int = 3) -> dict[str, float]:
    """Median over `loads` fresh loads of the page, each followed by opening its first row."""
    seen: dict[str, list[float]] = {"load_s": [], "dcl_ms": [], "table_ms": [], "trace_ms": []}
    with Chromium() as browser:
        for _ in range(loads):
            seen["load_s"].append(browser.open(page.resolve().as_uri()))
            dcl, table = browser.evaluate(OPEN_TIMES)
            seen["dcl_ms"].append(dcl)
            seen["table_ms"].append(table)
            start = time.perf_counter()
            browser.click("tr.row")
            browser.wait_for("document.querySelectorAll('tr.detail details.node').length > 0")
            seen["trace_ms"].append((time.perf_counter() - start) * 1000)
    return {key: statistics.median(values) for key, values in seen.items()}


def measure(name: str, folder: Path) -> str:
    built = build_seconds(folder)
    page = folder / PAGE_FILE
    rows = sum(1 for _ in (folder / "samples.jsonl").open())
    size = page.stat().st_size / 1e6
    traces = (folder / "traces.jsonl").stat().st_size / 1e6
    times = open_times(page)
    return (
        f"| {name} | {rows} | {traces:.1f} | {size:.1f} | {built:.1f} | {times['load_s']:.2f} | "
        f"{times['dcl_ms']:.0f} | {times['table_ms']:.0f} | {times['trace_ms']:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10, help="per task and length (full: 10)")
    parser.add_argument(
        "--keep", type=Path, help="write the synthetic run here and keep it (reused if there)"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rlm_bench_view_"))
    try:
        small = work / "context_rot"
        shutil.copytree("baselines/context_rot", small)
        big = args.keep or work / "full"
        if not (big / "samples.jsonl").exists():
            start = time.perf_counter()
            cells = synthetic_run(big, args.samples)
            took = time.perf_counter() - start
            print(f"synthetic run: {cells} rows in {took:.0f} s", file=sys.stderr)
        lines = [
            measure("baselines/context_rot", small),
            measure(f"full suite, synthetic traces ({args.samples} per cell)", big),
        ]
    finally:
        shutil.rmtree(work)
    record(
        "view.html: size, build and open time",
        [
            "`python -m benchmarks.view_page`; build = `python -m rlm_bench view` in a fresh "
            "process (tokenizer load and context regeneration included); open = headless "
            "Chromium, median of 3 loads; trace = a click on the first row until its tree shows",
            "",
            "| run | samples | traces.jsonl MB | view.html MB | build s | load event s | "
            "DOMContentLoaded ms | table rendered ms | trace opened ms |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
            *lines,
        ],
    )


if __name__ == "__main__":
    main()
