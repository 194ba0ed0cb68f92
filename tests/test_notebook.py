"""The analysis notebook runs top to bottom (nbclient, a real kernel) on a run folder this test
writes with a ScriptedModel test double, so the notebook cannot rot as the code changes."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

from rlm_bench.evaluation.runner import run_suite
from tests.doubles import ScriptedModel, oracle_reply
from tests.run_scripted import scripted_suite

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "context_rot.ipynb"


def outputs_of(notebook) -> tuple[str, int]:
    """All text the cells printed or displayed, and how many PNG images they showed."""
    text, images = [], 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            text.append(output.get("text", "") + data.get("text/plain", ""))
            images += "image/png" in data
    return "\n".join(text), images


def test_notebook_runs_on_a_fresh_run_folder(tmp_path, tokenizer, monkeypatch):
    def misreads_the_opening(prompt: str) -> str:  # the first leaf of every tree answers "none"
        reply = oracle_reply(prompt)
        return " none." if "Text:\nOne of the" in prompt else reply

    run = tmp_path / "run"
    model = ScriptedModel(tokenizer, reply=misreads_the_opening)
    run_suite(scripted_suite(), model, run, resume=False, progress=False)
    monkeypatch.setenv("RLM_BENCH_RUN_DIR", str(run))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    text, images = outputs_of(notebook)
    assert "niah_single" in text and "recursive_d2" in text  # the summary table
    assert images >= 3  # accuracy, cost and error-propagation figures at least
    assert "Q1" in text and "Q4" in text  # the leaf-position cut
    assert (tmp_path / "figures" / "run" / "accuracy_vs_length.png").stat().st_size > 10_000
