"""The `paper` suite: the RLM paper's matrix, and a small copy of it that runs offline on the
OOLONG fixture. The copy keeps the suite's tasks and solvers and changes only what a CPU with
no network needs: the fixture as data, the embedded chat model, one length and one sample, and
short REPL trajectories."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rlm_bench.evaluation.store import read_jsonl
from rlm_bench.suites import load_suite

REPO = Path(__file__).resolve().parent.parent
SYNTH = REPO / "tests" / "fixtures" / "oolong" / "synth.jsonl"
SHORT_LOOP = {"max_iterations": 2, "max_tokens": 96}
"""A 0.5B model's trajectory, bounded so the copy runs in minutes."""


def test_the_paper_suite_is_the_papers_matrix():
    suite = load_suite("paper")
    assert [t.task for t in suite.tasks] == ["s_niah", "oolong_synth", "oolong_pairs"]
    oolong = suite.tasks[1].params
    assert oolong == {"dataset": "trec_coarse", "split": "validation"}
    assert [s.solver for s in suite.solvers] == [
        "direct", "summary", "codeact", "repl", "repl_no_subcalls"
    ]  # fmt: skip
    assert suite.lengths == [2**k for k in range(13, 19)]  # Figure 1's 2^13 to 2^18
    assert (suite.model, suite.sub_model) == ("openai:gpt-5", "openai:gpt-5-mini")
    assert all(s.params.get("guide") is False for s in suite.solvers[2:])  # the paper's loop


def offline_copy(model: str, length: str, tasks: tuple[str, ...] | None = None) -> dict:
    """The paper suite on the fixture and a local model: same tasks (or those of `tasks`), same
    solvers."""
    data = load_suite("paper").to_dict()
    data["tasks"] = [{"label": t, "task": t} if isinstance(t, str) else t for t in data["tasks"]]
    data["tasks"] = [t for t in data["tasks"] if tasks is None or t["task"] in tasks]
    for task in data["tasks"]:
        if task["task"] != "s_niah":
            task["data"] = str(SYNTH)
    data |= {"name": "paper_offline", "model": model, "sub_model": None, "lengths": [length],
             "samples": 1, "concurrency": 1}  # fmt: skip
    for solver in data["solvers"]:
        if solver["solver"] in ("codeact", "repl", "repl_no_subcalls"):
            solver.update(SHORT_LOOP)
    return data


def run_copy(
    tmp_path: Path, model: str, length: str, tasks: tuple[str, ...] | None = None
) -> list[dict]:
    suite = tmp_path / "paper_offline.yaml"
    suite.write_text(yaml.safe_dump(offline_copy(model, length, tasks)))
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-c", "import tests.doubles, sys; from rlm_bench.cli import main; "
         "sys.exit(main(sys.argv[1:]))", "run", "--suite", str(suite), "--out", str(out),
         "--no-progress", "--no-cache"],
        cwd=REPO, capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return read_jsonl(out / "samples.jsonl")


def test_a_small_copy_runs_every_cell_on_a_scripted_model(tmp_path):
    rows = run_copy(tmp_path, "scripted", "1k")
    assert len(rows) == 3 * 5  # tasks x solvers, one length, one sample
    assert {r["task"] for r in rows} == {"s_niah", "oolong_trec_coarse", "oolong_pairs"}
    assert all(r["error"] is None for r in rows), [r["error"] for r in rows if r["error"]]


@pytest.mark.slow
def test_a_small_copy_runs_offline_on_the_embedded_model(tmp_path):
    """OOLONG-Pairs alone (every solver on the real model): the scripted copy above runs every
    task, and one task keeps this test to a minute and a half of CI."""
    rows = run_copy(tmp_path, "embedded:qwen2.5-coder-0.5b", "1k", tasks=("oolong_pairs",))
    assert len(rows) == 5
    assert all(r["error"] is None and 0.0 <= r["score"] <= 1.0 for r in rows)
    assert all(r["calls"] >= 1 for r in rows)
    by_solver = {r["solver"] for r in rows if r["task"] == "oolong_pairs"}
    assert by_solver == {"direct", "summary", "codeact", "repl", "repl_no_subcalls"}
