"""The project's own regression check, as a researcher would write theirs: the built-in recursive
solver on the real embedded model, against the checked-in `baselines/smoke` run. Slow: it calls
the model (no response cache: tests get a private, empty one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlm_bench.testing import assert_no_regression

pytestmark = pytest.mark.slow
BASELINE = Path(__file__).resolve().parent.parent / "baselines" / "smoke"


@pytest.mark.parametrize("label", ["recursive_d1", "recursive_d2"])
def test_builtin_recursive_does_not_regress_on_smoke(label, tmp_path):
    comparison = assert_no_regression(label, baseline=BASELINE, out=tmp_path / label)
    (overall,) = comparison.overall
    assert overall.n == 2 * 2 * 2  # tasks x lengths x samples: every sample paired
    assert comparison.unpaired == 0
