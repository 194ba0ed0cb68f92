"""`python -m tests.run_scripted OUT [DELAY]`: run a small suite on the ScriptedModel test double,
in its own process, so a test can kill it with SIGKILL mid-run."""

from __future__ import annotations

import sys
from pathlib import Path

from rlm_bench.evaluation.runner import run_suite
from rlm_bench.models.embedded import EmbeddedModel
from rlm_bench.suites import suite_from_dict
from tests.doubles import ScriptedModel

SUITE = {
    "name": "scripted",
    "tasks": ["niah_single", "aggregation_count"],
    "lengths": [512, 1024],
    "samples": 5,
    "seed": 7,
    "concurrency": 3,
    "solvers": ["direct", {"label": "recursive_d2", "solver": "recursive", "depth": 2}],
}


def scripted_suite():
    return suite_from_dict(SUITE, "tests/run_scripted.py")


def main(out: Path, delay_s: float, resume: bool) -> None:
    model = ScriptedModel(EmbeddedModel().tokenizer, delay_s=delay_s)
    run_suite(scripted_suite(), model, out, resume=resume, progress=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]), float(sys.argv[2]), resume=len(sys.argv) > 3)
