"""Run folders for the trajectory page's tests: the checked-in smoke baseline (a real run, whose
REPL never called `llm_query`), plus REPL rows that did, from the real REPL solver and sandbox
on the ScriptedModel test double replaying `benchmarks/doubles.py:repl_reply` (peek, chunk,
`llm_query_batched`, FINAL_VAR) on the same samples."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import re
import shutil
from pathlib import Path

from benchmarks.doubles import repl_reply
from rlm_bench.evaluation.runner import run_suite
from rlm_bench.evaluation.store import RunStore
from rlm_bench.suites import SolverSpec, suite_from_dict
from rlm_bench.tokens import Tokenizer
from tests.doubles import ScriptedModel

SMOKE = Path(__file__).resolve().parent.parent / "baselines" / "smoke"
SUBCALLS = "repl_llm_query"
"""The label of the REPL rows that called `llm_query`."""
CHUNK_CHARS = 700


def smoke_with_subcalls(folder: Path, tokenizer: Tokenizer) -> Path:
    """`baselines/smoke` copied to `folder`, with `SUBCALLS` rows for its 512-token
    niah_single samples appended (run.json unchanged: the page reads rows, not the suite's
    solver list)."""
    shutil.copytree(SMOKE, folder)
    suite = suite_from_dict(RunStore(folder).read_run_info()["suite"], "smoke run.json")
    suite = dataclasses.replace(
        suite,
        tasks=[t for t in suite.tasks if t.label == "niah_single"],
        lengths=[512],
        solvers=[SolverSpec(SUBCALLS, "repl", {"max_iterations": 4})],
    )
    scripted = folder / "scripted"
    model = ScriptedModel(tokenizer, reply=repl_reply(CHUNK_CHARS))
    run_suite(suite, model, scripted, resume=False, progress=False)
    for name in ("traces.jsonl", "samples.jsonl"):
        with (folder / name).open("a") as f:
            f.write((scripted / name).read_text())
    shutil.rmtree(scripted)
    return folder


def read_page(text: str) -> dict:
    """The data a written page holds, read back as the browser reads it."""
    run = re.search(r'<script id="run-data" type="application/json">(.*?)</script>', text, re.S)
    chunks = re.findall(r'<script type="application/gzip\+base64" id="chunk-\d+">(.*?)</script>',
                        text)  # fmt: skip
    unpacked = [json.loads(gzip.decompress(base64.b64decode(c))) for c in chunks]
    return {
        "run": json.loads(run.group(1)),
        "traces": [t for c in unpacked for t in c["traces"]],
        "excerpts": {k: v for c in unpacked for k, v in c["excerpts"].items()},
    }
