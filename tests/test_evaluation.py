"""The evaluator: run folder contents, stable ids, resume after SIGKILL, failures as data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlm_bench.errors import UserError
from rlm_bench.evaluation.cells import expand
from rlm_bench.evaluation.metrics import summarize
from rlm_bench.evaluation.runner import run_suite
from rlm_bench.evaluation.store import RunStore, read_jsonl
from tests.doubles import ScriptedModel
from tests.run_scripted import scripted_suite

REPO = Path(__file__).resolve().parent.parent
ROW_FIELDS = {
    "sample_id", "task", "solver", "length", "actual_length", "seed", "prediction", "answer",
    "score", "prompt_tokens", "completion_tokens", "calls", "latency_s", "error",
}  # fmt: skip


def keys(rows):
    return [(r["sample_id"], r["solver"]) for r in rows]


def test_run_writes_a_self_describing_folder(tmp_path, tokenizer):
    suite = scripted_suite()
    analysis = run_suite(suite, ScriptedModel(tokenizer), tmp_path, resume=False, progress=False)
    rows = analysis["rows"]
    samples = read_jsonl(tmp_path / "samples.jsonl")
    assert len(samples) == len(expand(suite)) == 40
    assert ROW_FIELDS <= set(samples[0])
    assert all(r["score"] == 1.0 and r["error"] is None for r in samples)  # the oracle double
    traces = read_jsonl(tmp_path / "traces.jsonl")
    assert sorted(keys(traces)) == sorted(keys(samples))
    deep = [t for t in traces if t["solver"] == "recursive_d2" and "L1024" in t["sample_id"]]
    assert max(n["depth"] for n in deep[0]["nodes"]) == 2
    info = json.loads((tmp_path / "run.json").read_text())
    assert info["schema_version"] == 2 and info["seed"] == 7
    assert info["suite"]["lengths"] == [512, 1024] and info["finished_at"]
    assert {"torch", "transformers", "python"} <= set(info["versions"])
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary == analysis and len(rows) == 2 * 2 * 2
    assert all(r["n"] == 5 and r["accuracy"] == 1.0 for r in rows)


def test_same_suite_and_seed_give_the_same_ids_and_samples(tmp_path, tokenizer):
    for name in ("a", "b"):
        run_suite(scripted_suite(), ScriptedModel(tokenizer), tmp_path / name, resume=False,
                  progress=False)  # fmt: skip

    def by_key(folder):
        rows = read_jsonl(folder / "samples.jsonl")
        return {k: (r["actual_length"], r["answer"]) for k, r in zip(keys(rows), rows, strict=True)}

    assert by_key(tmp_path / "a") == by_key(tmp_path / "b")


def test_a_crashing_solver_is_recorded_not_scored(tmp_path, tokenizer):
    def broken(prompt: str) -> str:
        raise ConnectionError("server went away")

    run_suite(scripted_suite(), ScriptedModel(tokenizer, reply=broken), tmp_path, resume=False,
              progress=False)  # fmt: skip
    rows = read_jsonl(tmp_path / "samples.jsonl")
    assert len(rows) == 40
    assert all(r["score"] == 0.0 and r["prediction"] is None for r in rows)
    assert all(r["error"] == "ConnectionError: server went away" for r in rows)
    assert all(s["errors"] == s["n"] for s in summarize(rows))


def test_resume_after_sigkill_loses_and_repeats_nothing(tmp_path, tokenizer):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.run_scripted", str(out), "0.05"], cwd=REPO,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    samples = out / "samples.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if samples.exists() and samples.read_text().count("\n") >= 8:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = samples.read_text()
    finished_before = before.count("\n")
    assert 8 <= finished_before < 40, "the kill should land mid-run"
    with samples.open("a") as f:  # what a kill during a write leaves behind
        f.write('{"sample_id": "niah_single/L512/s7/i9", "solver": "dir')

    run_suite(scripted_suite(), ScriptedModel(tokenizer), out, resume=True, progress=False)
    rows = read_jsonl(samples)
    assert len(rows) == 40 and len(set(keys(rows))) == 40
    assert sorted(keys(rows)) == sorted(keys(read_jsonl(out / "traces.jsonl")))
    assert samples.read_text().startswith(before.rsplit("\n", 1)[0])  # old lines kept as written


def test_a_new_run_refuses_a_folder_holding_one(tmp_path, tokenizer):
    run_suite(scripted_suite(), ScriptedModel(tokenizer), tmp_path, resume=False, progress=False)
    with pytest.raises(UserError, match="already holds a run; continue it with --resume"):
        run_suite(scripted_suite(), ScriptedModel(tokenizer), tmp_path, resume=False,
                  progress=False)  # fmt: skip


def test_recover_drops_traces_without_a_sample_line(tmp_path):
    store = RunStore(tmp_path)
    store.append({"sample_id": "a", "solver": "direct"}, {"sample_id": "a", "solver": "direct"})
    with store.traces_path.open("a") as f:
        f.write(json.dumps({"sample_id": "b", "solver": "direct"}) + "\n")
    assert store.recover() == {("a", "direct")}
    assert keys(read_jsonl(store.traces_path)) == [("a", "direct")]


def test_figure_draws_points_with_zero_and_full_accuracy(tmp_path):
    from rlm_bench.reporting.figures import accuracy_vs_length

    rows = [
        {"task": "t", "solver": "s", "length": length, "score": score, "calls": 1,
         "prompt_tokens": 10, "completion_tokens": 2, "latency_s": 1.0, "error": None,
         "prediction": None}
        for length, score in ((1024, 0.0), (2048, 1.0), (4096, 0.0))
        for _ in range(3)
    ]  # fmt: skip
    png, svg = accuracy_vs_length(summarize(rows), tmp_path, title="edges")
    assert png.stat().st_size > 10_000 and svg.exists()


class ClosingSolver:
    """A solver that holds something for the run, as the adapters' servers are held: it says
    when it was closed, and `fail_on` makes that sample crash."""

    name = "closing"
    closed: list[int] = []

    def __init__(self, fail_on: int = -1) -> None:
        self.fail_on = fail_on

    async def solve(self, sample, model):
        from rlm_bench.solvers import Result, Trace

        if sample.index == self.fail_on:
            raise KeyboardInterrupt  # what Ctrl+C, or SIGTERM in `run`, raises mid-run
        return Result(prediction=sample.answer, trace=Trace())

    def close(self) -> None:
        ClosingSolver.closed.append(len(ClosingSolver.closed))


def closing_suite(**params):
    data = {"name": "closing", "tasks": ["niah_single"], "lengths": [512], "samples": 3,
            "solvers": [{"label": "closing", "solver": "tests.test_evaluation:ClosingSolver",
                         **params}]}  # fmt: skip
    from rlm_bench.suites import suite_from_dict

    return suite_from_dict(data, "closing")


def test_a_solver_holding_something_is_closed_when_the_run_ends_or_stops(tmp_path, tokenizer):
    ClosingSolver.closed.clear()
    run_suite(closing_suite(), ScriptedModel(tokenizer), tmp_path / "a", resume=False,
              progress=False)  # fmt: skip
    assert ClosingSolver.closed == [0]
    with pytest.raises(KeyboardInterrupt):
        run_suite(closing_suite(fail_on=1), ScriptedModel(tokenizer), tmp_path / "b",
                  resume=False, progress=False)  # fmt: skip
    assert ClosingSolver.closed == [0, 1]


def test_sigterm_stops_a_run_as_ctrl_c_does(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-c", "import tests.doubles, sys; from rlm_bench.cli import main; "
         "sys.exit(main(sys.argv[1:]))", "run", "--suite", "smoke", "--model", "scripted:0.05",
         "--samples", "30", "--solvers", "direct", "--concurrency", "1", "--out", str(out),
         "--no-progress"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    samples = out / "samples.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if samples.exists() and samples.read_text().count("\n") >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr[-2000:]
    assert f"interrupted: finished samples are in {out}" in stderr
    assert "Traceback" not in stderr
    rows = read_jsonl(samples)
    assert 3 <= len(rows) < 120  # stopped mid-run, every finished line kept
