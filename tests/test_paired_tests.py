"""The paired tests behind `compare`, on cases whose answers are known by hand."""

from __future__ import annotations

import math

import pytest

from rlm_bench.evaluation import paired_tests
from rlm_bench.evaluation.paired_tests import (
    holm,
    mcnemar_exact,
    newcombe_interval,
    paired_bootstrap,
)


@pytest.mark.parametrize(
    ("base_wins", "candidate_wins", "expected"),
    [
        (0, 10, 2 / 1024),  # both tails of Binomial(10, 1/2) at 0
        (10, 0, 2 / 1024),  # two-sided: symmetric
        (1, 9, 2 * (1 + 10) / 1024),
        (2, 8, 2 * (1 + 10 + 45) / 1024),
        (0, 5, 2 / 32),
        (5, 5, 1.0),  # the doubled tail passes 1 and is capped
        (0, 1, 1.0),  # one discordant pair proves nothing
        (0, 0, 1.0),  # no discordant pair: no evidence
    ],
)
def test_mcnemar_exact_matches_hand_computed_binomials(base_wins, candidate_wins, expected):
    assert mcnemar_exact(base_wins, candidate_wins) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_exact_stays_exact_for_many_pairs():
    # 1000 discordant pairs split 500/500: p is 1; split 440/560: far below 0.05.
    assert mcnemar_exact(500, 500) == 1.0
    assert 0 < mcnemar_exact(440, 560) < 0.001


def test_newcombe_matches_the_reference_values():
    # Fagerland, Lydersen and Laake, "Statistical Analysis of Contingency Tables", chapter 8
    # (Cavo et al. 2012): table [[59, 6], [16, 80]]: -0.0621 (95% CI -0.1186 to -0.0046).
    low, high = newcombe_interval(59, 6, 16, 80, 0.05)
    assert (round(low, 4), round(high, 4)) == (-0.1186, -0.0046)


def test_newcombe_is_not_a_point_when_every_pair_agrees():
    low, high = newcombe_interval(7, 0, 0, 3, 0.05)
    assert low < 0 < high
    assert -1 <= low and high <= 1


def test_newcombe_widens_with_a_smaller_alpha_and_holds_the_estimate():
    narrow = newcombe_interval(10, 8, 2, 10, 0.10)
    wide = newcombe_interval(10, 8, 2, 10, 0.01)
    delta = (8 - 2) / 30
    assert wide[0] < narrow[0] < delta < narrow[1] < wide[1]


def test_bootstrap_of_identical_runs_has_p_one():
    scores = [0.2, 0.5, 0.75, 1.0, 0.0, 0.33]
    result = paired_bootstrap(scores, scores, resamples=500, seed=3)
    assert result.delta == 0.0
    assert result.p_value == 1.0
    assert (result.low, result.high) == (0.0, 0.0)


def test_bootstrap_is_reproducible_with_its_seed():
    base = [0.1, 0.4, 0.5, 0.9, 0.3, 0.6, 0.2, 0.8]
    candidate = [0.3, 0.4, 0.7, 0.6, 0.5, 0.9, 0.2, 0.7]
    first = paired_bootstrap(base, candidate, resamples=2000, seed=7)
    assert paired_bootstrap(base, candidate, resamples=2000, seed=7) == first
    other = paired_bootstrap(base, candidate, resamples=2000, seed=8)
    assert (other.low, other.high) != (first.low, first.high)
    assert other.delta == first.delta == pytest.approx(0.5 / 8)


def test_bootstrap_of_a_constant_shift_is_floored_at_the_exact_paired_minimum():
    # Every resample of ten +0.25 differences is +0.25, so no resampled mean is at or below 0:
    # the raw p is 2 / 10001, floored at 2 / 2**10, which is what McNemar gives ten wins.
    result = paired_bootstrap([0.5] * 10, [0.75] * 10, resamples=10000, seed=0)
    assert result.p_value == pytest.approx(2 / 1024)
    assert (result.low, result.high) == pytest.approx((0.25, 0.25))


def test_bootstrap_of_one_differing_pair_is_not_significant():
    result = paired_bootstrap([0.5, 0.5, 0.5], [0.5, 0.9, 0.5], resamples=1000, seed=0)
    assert result.p_value == 1.0  # floor 2 / 2**1


def test_bootstrap_p_of_a_clear_shift_is_the_resampling_minimum():
    base = [0.1 * (i % 5) for i in range(60)]
    candidate = [b + 0.3 + 0.05 * (i % 3) for i, b in enumerate(base)]
    result = paired_bootstrap(base, candidate, resamples=999, seed=0)
    assert result.p_value == pytest.approx(2 / 1000)  # (0 + 1) / (999 + 1), doubled
    assert 0.3 < result.low < result.delta < result.high < 0.4


def test_bootstrap_of_balanced_differences_is_far_from_significant():
    base = [0.5] * 40
    candidate = [1.0, 0.0] * 20  # +0.5 and -0.5 in equal numbers: mean difference 0
    result = paired_bootstrap(base, candidate, resamples=2000, seed=1)
    assert result.delta == 0.0
    assert result.p_value > 0.8
    assert result.low < 0 < result.high


def test_bootstrap_side_follows_the_sign_of_the_difference():
    base = [0.9, 0.8, 0.7, 1.0, 0.6, 0.9, 0.8, 0.9, 1.0, 0.7, 0.8, 0.9]
    candidate = [s - 0.4 for s in base]
    result = paired_bootstrap(base, candidate, resamples=1000, seed=0)
    assert result.delta == pytest.approx(-0.4)
    assert result.high < 0
    assert result.p_value < 0.01


def test_bootstrap_in_chunks_gives_the_same_numbers(monkeypatch):
    base = [0.1, 0.4, 0.5, 0.9, 0.3, 0.6, 0.2, 0.8, 0.0]
    candidate = [0.3, 0.4, 0.7, 0.6, 0.5, 0.9, 0.2, 0.7, 0.4]
    whole = paired_bootstrap(base, candidate, resamples=1000, seed=2)
    monkeypatch.setattr(paired_tests, "DRAWS_PER_CHUNK", 9 * 7)  # 7 resamples at a time
    assert paired_bootstrap(base, candidate, resamples=1000, seed=2) == whole


def test_holm_multiplies_by_rank_and_keeps_the_order_monotone():
    raw = [0.01, 0.04, 0.03, 0.005]
    # Sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> raised to 0.06.
    assert holm(raw) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_leaves_a_single_p_alone():
    assert holm([0.5, 0.6, 0.02]) == pytest.approx([1.0, 1.0, 0.06])
    assert holm([0.02]) == [0.02]
    assert holm([]) == []


def test_holm_never_reorders_the_evidence():
    raw = [0.2, 0.001, 0.04, 0.04, 0.3, 0.01]
    adjusted = holm(raw)
    for i, j in ((i, j) for i in range(len(raw)) for j in range(len(raw))):
        if raw[i] < raw[j]:
            assert adjusted[i] <= adjusted[j]
    assert all(a >= r for a, r in zip(adjusted, raw, strict=True))
    assert math.isclose(adjusted[1], 0.006)
