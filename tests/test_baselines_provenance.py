"""The checked-in baselines must name a commit anyone can check out: a run written from an
uncommitted tree (`-dirty`) cannot be reproduced, so it cannot stand as a reference."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

BASELINES = Path(__file__).resolve().parent.parent / "baselines"
RUNS = sorted(p.parent for p in BASELINES.glob("*/run.json"))


def test_there_are_baselines_to_check():
    assert {run.name for run in RUNS} >= {"smoke", "context_rot"}


@pytest.mark.parametrize("run", RUNS, ids=lambda p: p.name)
def test_baseline_was_written_from_a_clean_commit(run):
    commit = json.loads((run / "run.json").read_text())["git_commit"]
    assert commit is not None, f"{run.name}: run.json records no commit"
    assert not commit.endswith("-dirty"), f"{run.name}: written from an uncommitted tree"
    assert re.fullmatch(r"[0-9a-f]{40}", commit), f"{run.name}: {commit!r} is not a commit id"
