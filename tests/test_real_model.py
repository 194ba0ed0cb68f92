"""The real embedded model (Gemma 3 270M on the CPU). Slow: about six minutes in all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rlm_bench.evaluation.store import read_jsonl
from rlm_bench.models.checkpoint import default_gguf, ensure_checkpoint

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent


def test_smoke_suite_on_the_real_model(tmp_path):
    out = tmp_path / "smoke"
    proc = subprocess.run(
        [sys.executable, "-m", "rlm_bench", "run", "--suite", "smoke", "--out", str(out),
         "--no-progress", "--no-cache"],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "accuracy" in proc.stdout and f"run folder: {out}" in proc.stdout
    rows = read_jsonl(out / "samples.jsonl")
    assert len(rows) == 2 * 2 * 2 * 5  # tasks x lengths x samples x solvers
    assert all(r["error"] is None and 0.0 <= r["score"] <= 1.0 for r in rows)
    assert all(r["calls"] >= 1 and r["prompt_tokens"] > r["length"] for r in rows)
    found = [r for r in rows if r["task"] == "niah_single" and r["solver"] == "direct"]
    assert sum(r["score"] for r in found) >= 3  # a single needle at 512-1K tokens is easy
    deep = [r for r in rows if r["solver"] == "recursive_d2" and r["length"] == 1024]
    # 1K / 4 / 4 is right at min_chunk_tokens (64): parts cut a little short stay leaves
    assert all(4 < r["calls"] <= 16 for r in deep)
    info = json.loads((out / "run.json").read_text())
    assert info["model"]["backend"] == "embedded" and info["model"]["context_window"] == 32768
    summary = json.loads((out / "summary.json").read_text())["rows"]
    assert len(summary) == 2 * 5 * 2
    # Whatever the base model writes in the REPL, every trajectory ends scored: an answer, or
    # the out-of-turns call's (wrong) one; its blocks ran in the sandbox.
    traces = {(t["sample_id"], t["solver"]): t for t in read_jsonl(out / "traces.jsonl")}
    repl = [t for (_, solver), t in traces.items() if solver.startswith("repl")]
    assert len(repl) == 2 * 2 * 2 * 2
    assert all(t["notes"]["final"] != "none" or t["notes"]["iterations"] == 3 for t in repl)
    assert any(n["kind"] == "exec" for t in repl for n in t["nodes"])
    # Every figure the analysis allows is drawn from the real run, as PNG and SVG.
    for stem in ("accuracy_vs_length", "needle_depth_heatmap", "cost_vs_length",
                 "accuracy_vs_cost", "error_propagation", "failure_categories"):  # fmt: skip
        png = out / "figures" / f"{stem}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
        assert (out / "figures" / f"{stem}.svg").stat().st_size > 10_000
    scored = [n for t in traces.values() for n in t["nodes"] if n.get("correct") is not None]
    assert scored and all(n["gold"] is not None for n in scored)  # recursive nodes were scored
    assert all(r["failure"] is None for r in rows if r["score"] >= 1.0)


def test_blockwise_local_attention_matches_sdpa_in_float32():
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rlm_bench.models import local_attention

    folder = ensure_checkpoint(default_gguf())
    tok = AutoTokenizer.from_pretrained(str(folder))
    text = " ".join(
        f"Line {i}: the keeper counted {i * 7} boats at the harbour." for i in range(200)
    )
    ids = tok(text, return_tensors="pt").input_ids[:, :1300]  # > 2 windows: blockwise path runs
    logits = {}
    for attn in ("sdpa", local_attention.NAME):
        model = AutoModelForCausalLM.from_pretrained(
            str(folder), dtype=torch.float32, attn_implementation=attn
        ).eval()
        with torch.inference_mode():
            logits[attn] = model(ids).logits[0, -64:]
    diff = (logits["sdpa"] - logits[local_attention.NAME]).abs().max().item()
    assert diff < 1e-2


def test_every_task_family_runs_on_the_real_model(tmp_path):
    """One short sample of every task through `direct` and `recursive`: each family's prompts
    fit the model, parse, and score without error (what they score is the experiment's
    business, not this test's)."""
    from rlm_bench.tasks import generated_tasks

    names = generated_tasks()
    out = tmp_path / "families"
    proc = subprocess.run(
        [sys.executable, "-m", "rlm_bench", "run", "--suite", "smoke", "--out", str(out),
         "--no-progress", "--no-cache", "--tasks", ",".join(names), "--lengths", "1k",
         "--samples", "1", "--solvers", "direct,recursive:depth=1:fanout=2"],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = read_jsonl(out / "samples.jsonl")
    assert {r["task"] for r in rows} == set(names) and len(rows) == 2 * len(names)
    assert all(r["error"] is None and 0.0 <= r["score"] <= 1.0 for r in rows)
    assert all(r["prompt_tokens"] > r["length"] for r in rows)
    answered = [r for r in rows if r["prediction"] is not None]
    assert len(answered) >= 0.75 * len(rows)  # prompts lead the base model to parseable answers


def test_a_stop_string_of_several_tokens_ends_generation_early(embedded_model):
    """A REPL reply stops where its block closes ("\n```\n", several tokens), instead of running
    on to max_tokens and being cut afterwards."""
    import asyncio

    block = "```repl\nprint(len(context))\n```\n"
    completion = asyncio.run(
        embedded_model.complete(block * 6 + "```repl\n", max_tokens=64, stop=("\n```\n",))
    )
    assert completion.completion_tokens < 20 and "```" not in completion.text
    assert completion.text.startswith("print(")
