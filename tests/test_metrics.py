"""Cell rows, intervals, context-rot summaries, needle depth and the baseline trade-off, checked
against numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlm_bench.evaluation.context_rot import (
    auc_log2,
    context_rot,
    effective_length,
    logistic_midpoint,
)
from rlm_bench.evaluation.intervals import bootstrap_interval, wilson_interval
from rlm_bench.evaluation.lengths import length_label
from rlm_bench.evaluation.metrics import summarize
from rlm_bench.evaluation.needle_depth import accuracy_by_depth
from rlm_bench.evaluation.tradeoff import (
    baseline_label,
    cost_ratios,
    crossover_sentences,
    crossovers,
)


def sample(score=1.0, *, task="t", solver="s", length=1024, **fields):
    row = {
        "task": task, "solver": solver, "length": length, "score": score, "prediction": "x",
        "calls": 1, "prompt_tokens": 100, "completion_tokens": 10, "latency_s": 1.0,
        "wall_s": 2.0, "cost_usd": 0.0, "truncated": False, "error": None,
        "failure": None if score >= 1.0 else "wrong value", "metadata": {},
    }  # fmt: skip
    return row | fields


def samples_at(scores_by_length, **fields):
    return [sample(s, length=length, **fields) for length, scores in scores_by_length
            for s in scores]  # fmt: skip


# intervals


@pytest.mark.parametrize(
    ("p", "n", "low", "high"),
    [(0.5, 10, 0.2366, 0.7634), (1.0, 5, 0.5655, 1.0), (0.0, 20, 0.0, 0.1611),
     (1.0, 1, 0.2065, 1.0), (0.0, 0, 0.0, 1.0)],
)  # fmt: skip
def test_wilson_interval_matches_reference_values(p, n, low, high):
    assert wilson_interval(p, n) == pytest.approx((low, high), abs=1e-4)


@pytest.mark.parametrize("n", range(1, 40))
@pytest.mark.parametrize("p", [0.0, 1.0, 1 / 3, 0.05])
def test_wilson_interval_always_holds_its_estimate(p, n):
    low, high = wilson_interval(p, n)
    assert 0.0 <= low <= p <= high <= 1.0


def test_bootstrap_is_seeded_and_holds_the_mean_within_the_data():
    values = [1.0, 0.5, 0.0, 0.25, 1.0, 0.75]
    first = bootstrap_interval(values, resamples=500, seed=3)
    assert first == bootstrap_interval(values, resamples=500, seed=3)
    assert first != bootstrap_interval(values, resamples=500, seed=4)
    low, high = first
    assert 0.0 <= low < sum(values) / len(values) < high <= 1.0


def test_bootstrap_of_two_values_spans_both():
    # Means of two draws from {0, 1} are 0, 0.5, 1 with chances 1/4, 1/2, 1/4: the 2.5% and
    # 97.5% quantiles are 0 and 1.
    assert bootstrap_interval([0.0, 1.0], resamples=4000) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("values", "expected"), [([0.4], (0.4, 0.4)), ([0.5] * 7, (0.5, 0.5)), ([], (0.0, 1.0))]
)
def test_bootstrap_of_one_sample_is_a_point_and_of_none_is_everything(values, expected):
    assert bootstrap_interval(values) == pytest.approx(expected)


def test_length_labels_are_compact():
    assert [length_label(n) for n in (512, 1024, 8192, 1536, 1 << 20, 3000)] == [
        "512", "1K", "8K", "1536", "1M", "3000"]  # fmt: skip


# cell rows


def test_no_samples_give_no_rows():
    assert summarize([]) == []


def test_an_all_correct_cell():
    (row,) = summarize([sample(1.0, calls=c, latency_s=c / 2) for c in (1, 2, 3, 2)])
    assert (row["n"], row["accuracy"], row["exact"], row["correct"]) == (4, 1.0, 1.0, 4)
    assert row["ci_method"] == "wilson"
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.5101, 1.0), abs=1e-4)
    assert (row["exact_ci_low"], row["exact_ci_high"]) == (row["ci_low"], row["ci_high"])
    assert row["mean_calls"] == 2.0 and row["mean_latency_s"] == 1.0 and row["mean_wall_s"] == 2
    assert row["per_correct"] == {
        "calls": 2.0,
        "prompt_tokens": 100.0,
        "completion_tokens": 10.0,
        "latency_s": 1.0,
        "cost_usd": 0.0,
    }
    assert row["failures"] == {} and row["errors"] == 0


def test_an_all_wrong_cell_has_no_cost_per_correct_answer():
    rows = [sample(0.0), sample(0.0, error="Boom: x", prediction=None, failure="crash"),
            sample(0.0, prediction=None, failure="no answer", truncated=True)]  # fmt: skip
    (row,) = summarize(rows)
    assert (row["accuracy"], row["correct"], row["per_correct"]) == (0.0, 0, None)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((0.0, 0.5615), abs=1e-4)
    assert row["failures"] == {"crash": 1, "no answer": 1, "wrong value": 1}
    assert (row["errors"], row["truncated"]) == (1, 1)


def test_one_sample_cell():
    (row,) = summarize([sample(1.0)])
    assert row["n"] == 1 and row["ci_method"] == "wilson"
    assert row["ci_low"] == pytest.approx(0.2065, abs=1e-4) and row["ci_high"] == 1.0


def test_partial_credit_takes_a_bootstrap_and_exact_counts_only_full_credit():
    rows = [sample(1.0, calls=3, cost_usd=0.03), sample(0.5, calls=1), sample(0.0, calls=2)]
    (row,) = summarize(rows, resamples=500, seed=1)
    assert row["ci_method"] == "bootstrap" and row["accuracy"] == 0.5
    expected = bootstrap_interval([1.0, 0.5, 0.0], resamples=500, seed=1)
    assert (row["ci_low"], row["ci_high"]) == expected
    assert (row["exact"], row["correct"]) == (pytest.approx(1 / 3), 1)
    assert (row["exact_ci_low"], row["exact_ci_high"]) == wilson_interval(1 / 3, 3)
    assert row["per_correct"]["calls"] == 6.0 and row["mean_calls"] == 2.0
    assert row["per_correct"]["cost_usd"] == pytest.approx(0.03)
    assert row["mean_cost_usd"] == pytest.approx(0.01)


def test_rows_are_sorted_by_task_solver_length_and_keep_gaps():
    rows = summarize(
        samples_at([(8192, [1.0]), (512, [0.0, 1.0])], solver="b")
        + samples_at([(2048, [1.0])], solver="a")
        + samples_at([(512, [1.0])], task="a")
    )
    keys = [(r["task"], r["solver"], r["length"], r["n"]) for r in rows]
    assert keys == [
        ("a", "s", 512, 1),
        ("t", "a", 2048, 1),
        ("t", "b", 512, 2),
        ("t", "b", 8192, 1),
    ]


def test_old_rows_without_failure_cost_or_wall_time():
    old = [{k: v for k, v in sample(0.0, prediction=None).items()
            if k not in ("failure", "cost_usd", "wall_s")}]  # fmt: skip
    (row,) = summarize(old)
    assert row["failures"] == {"no answer": 1}
    assert row["mean_cost_usd"] == 0.0 and row["mean_wall_s"] == 0.0


# context rot


def test_effective_length_stops_at_the_first_drop():
    lengths = [1024, 2048, 4096, 8192]
    assert effective_length(lengths, [1.0, 0.9, 0.7, 0.9], 0.8) == 2048
    assert effective_length(lengths, [1.0, 0.9, 0.8, 0.9], 0.8) == 8192
    assert effective_length(lengths, [0.7, 0.9, 0.9, 0.9], 0.8) is None
    # 0.8 x 3/4 is 0.6000000000000001: 3 right of 5 holds it all the same.
    assert effective_length([512, 1024], [0.75, 0.6], 0.8 * 0.75) == 1024


def test_auc_is_the_mean_accuracy_over_log2_length():
    # x = 10, 11, 13: (1 + 0.5) / 2 * 1 + (0.5 + 0.5) / 2 * 2 = 1.75 over a width of 3.
    assert auc_log2([1024, 2048, 8192], [1.0, 0.5, 0.5]) == pytest.approx(1.75 / 3)
    assert auc_log2([4096], [0.4]) == 0.4
    assert auc_log2([1024, 4096], [1.0, 1.0]) == 1.0


def rot_rows(scores_by_length, **options):
    samples = samples_at(scores_by_length)
    return context_rot(summarize(samples), samples, **options)


def test_context_rot_relative_and_absolute_thresholds():
    scores = [(1024, [1.0] * 10), (2048, [1.0] * 9 + [0.0]), (4096, [1.0] * 8 + [0.0] * 2),
              (8192, [0.0] * 10)]  # fmt: skip
    (relative,) = rot_rows(scores)
    assert relative["lengths"] == [1024, 2048, 4096, 8192]
    assert (relative["reference_length"], relative["reference_accuracy"]) == (1024, 1.0)
    assert (relative["threshold"], relative["threshold_kind"]) == (0.8, "relative")
    assert relative["effective_length"] == 4096
    assert relative["auc"] == pytest.approx((0.95 + 0.85 + 0.4) / 3)
    (absolute,) = rot_rows(scores, relative=0.8, absolute=0.85)
    assert (absolute["threshold"], absolute["threshold_kind"]) == (0.85, "absolute")
    assert absolute["effective_length"] == 2048


def test_relative_threshold_of_a_solver_failing_at_the_shortest_length_is_undefined():
    (row,) = rot_rows([(1024, [0.0, 0.0]), (2048, [0.0, 0.0])])
    assert row["threshold"] == 0.0 and row["effective_length"] is None and row["auc"] == 0.0
    (row,) = rot_rows([(1024, [0.0, 0.0]), (2048, [0.0, 0.0])], absolute=0.0)
    assert row["effective_length"] == 2048


def test_one_length_has_no_logistic_midpoint():
    (row,) = rot_rows([(1024, [1.0, 0.0, 1.0])])
    assert row["effective_length"] == 1024 and row["auc"] == pytest.approx(2 / 3)
    assert row["logistic"] == {"midpoint": None, "slope": None, "extrapolated": False,
                               "note": "one length"}  # fmt: skip


def test_logistic_midpoint_recovers_a_known_curve():
    # p = sigmoid(-1.5 (log2 L - 11)): 50% at 2048 tokens, 1.5 log-odds lost per doubling.
    rng = np.random.default_rng(0)
    lengths = [2**x for x in range(8, 15) for _ in range(200)]
    truth = [1 / (1 + math.exp(1.5 * (math.log2(n) - 11))) for n in lengths]
    drawn = [float(rng.random() < p) for p in truth]
    fit = logistic_midpoint(lengths, drawn)
    assert fit["midpoint"] == pytest.approx(2048, rel=0.1)
    assert fit["slope"] == pytest.approx(-1.5, abs=0.3)
    assert fit["extrapolated"] is False and fit["note"] is None
    exact = logistic_midpoint(lengths, truth)  # fractional targets on the curve itself
    assert exact["midpoint"] == pytest.approx(2048, rel=1e-3)
    assert exact["slope"] == pytest.approx(-1.5, rel=1e-3)


def test_logistic_fit_of_separated_data_stays_finite():
    fit = logistic_midpoint([1024, 1024, 4096, 4096], [1.0, 1.0, 0.0, 0.0])
    assert fit["midpoint"] == pytest.approx(2048) and -100 < fit["slope"] < -1


@pytest.mark.parametrize(
    ("scores", "note"),
    [([(1024, [1.0, 1.0]), (4096, [1.0, 1.0])], "above 50% at every length"),
     ([(1024, [0.0, 0.0]), (4096, [0.0, 1.0, 0.0])], "below 50% at every length"),
     ([(1024, [1.0, 0.0, 0.0, 0.0, 0.0]), (4096, [1.0, 1.0, 1.0, 1.0, 0.0])], "no decay")],
)  # fmt: skip
def test_logistic_notes_why_there_is_no_midpoint(scores, note):
    (row,) = rot_rows(scores)
    assert row["logistic"]["midpoint"] is None and row["logistic"]["note"] == note


def test_a_midpoint_outside_the_measured_lengths_is_marked_extrapolated():
    # 50% at the shortest length, 25% beyond: the fitted curve is below 50% from 1K on.
    (row,) = rot_rows([(1024, [1.0, 0.0]), (2048, [1.0, 0.0, 0.0, 0.0]),
                       (4096, [1.0, 0.0, 0.0, 0.0])])  # fmt: skip
    fit = row["logistic"]
    assert fit["extrapolated"] is True and fit["midpoint"] < 1024 and fit["note"] is None


# needle depth


def test_accuracy_by_depth_groups_needle_samples_only():
    rows = [
        sample(1.0, metadata={"depth": 0.0}), sample(0.0, metadata={"depth": 0.5}),
        sample(1.0, metadata={"depth": 0.5}), sample(1.0, metadata={"depth": 0.5}, length=512),
        sample(0.0, metadata={}), sample(0.0, metadata={"depth": True}),
    ]  # fmt: skip
    assert accuracy_by_depth(rows) == [
        {"task": "t", "solver": "s", "length": 512, "depth": 0.5, "n": 1, "accuracy": 1.0},
        {"task": "t", "solver": "s", "length": 1024, "depth": 0.0, "n": 1, "accuracy": 1.0},
        {"task": "t", "solver": "s", "length": 1024, "depth": 0.5, "n": 2, "accuracy": 0.5},
    ]
    assert accuracy_by_depth([]) == []


# the trade-off against the baseline


def test_baseline_is_the_direct_solver_preferring_the_label_direct():
    def info(*pairs):
        return {"suite": {"solvers": [{"label": lab, "solver": sol} for lab, sol in pairs]}}

    assert baseline_label(info(("plain", "direct"), ("direct", "direct"))) == "direct"
    assert baseline_label(info(("rec", "recursive"), ("plain", "direct"))) == "plain"
    assert baseline_label(info(("rec", "recursive"))) is None


def cell(solver, length, accuracy, ci, *, calls=1.0, tokens=(100.0, 10.0), latency=1.0,
         cost=0.0, task="t"):  # fmt: skip
    return {"task": task, "solver": solver, "length": length, "accuracy": accuracy,
            "ci_low": ci[0], "ci_high": ci[1], "mean_calls": calls,
            "mean_prompt_tokens": tokens[0], "mean_completion_tokens": tokens[1],
            "mean_latency_s": latency, "mean_cost_usd": cost}  # fmt: skip


ROWS = [
    cell("direct", 1024, 0.9, (0.6, 1.0)), cell("rec", 1024, 1.0, (0.7, 1.0), calls=5),
    cell("direct", 2048, 0.5, (0.2, 0.8)), cell("rec", 2048, 0.9, (0.6, 1.0), calls=5),
    cell("direct", 4096, 0.2, (0.05, 0.5), calls=1.0, tokens=(1000.0, 10.0), latency=2.0,
         cost=0.01),
    cell("rec", 4096, 0.8, (0.55, 0.95), calls=5.0, tokens=(1300.0, 13.0), latency=4.2,
         cost=0.0),
    cell("direct", 8192, 0.0, (0.0, 0.3)), cell("rec", 8192, 0.8, (0.55, 0.95)),  # clear too
    cell("rec", 16384, 0.8, (0.55, 0.95)),  # direct did not run here
]  # fmt: skip


def test_crossover_is_the_first_length_clear_of_the_baseline():
    (row,) = crossovers(ROWS, "direct")
    assert row["crossover_length"] == 4096 and row["baseline"] == "direct"
    assert (row["accuracy"], row["baseline_accuracy"]) == (0.8, 0.2)
    assert row["extra_calls"] == 4.0 and row["extra_tokens"] == 303.0
    assert row["extra_seconds"] == pytest.approx(2.2)
    assert row["calls_ratio"] == 5.0 and row["tokens_ratio"] == pytest.approx(1.3)
    assert row["latency_ratio"] == pytest.approx(2.1)
    assert crossover_sentences([row], ROWS, "direct") == {
        "t": "t: rec beats direct from 4K tokens (0.80 vs 0.20) at 5.0x the calls, 1.3x the "
             "tokens and 2.1x the model seconds; below 4K direct is the cheaper right choice."
    }  # fmt: skip


def test_crossover_at_the_shortest_length():
    rows = [cell("direct", 512, 0.0, (0.0, 0.3)), cell("rec", 512, 1.0, (0.7, 1.0), calls=2)]
    (row,) = crossovers(rows, "direct")
    assert row["crossover_length"] == 512
    assert crossover_sentences([row], rows, "direct")["t"].endswith(
        "at 2.0x the calls, 1.0x the tokens and 1.0x the model seconds, at every length measured."
    )


def test_no_crossover_when_intervals_overlap():
    rows = ROWS[:4]
    (row,) = crossovers(rows, "direct")
    assert row["crossover_length"] is None and row["accuracy"] is None
    assert row["calls_ratio"] is None and row["extra_tokens"] is None
    assert crossover_sentences([row], rows, "direct") == {
        "t": "t: no solver beats direct with its interval clear of direct's at any length up "
             "to 2K; direct is the cheaper right choice throughout."
    }  # fmt: skip


def test_no_baseline_in_the_rows_gives_no_crossovers():
    rows = [cell("rec", 1024, 1.0, (0.7, 1.0))]
    assert crossovers(rows, "direct") == []
    assert crossover_sentences([], rows, "direct") == {}
    assert cost_ratios(rows, "direct") == []


def test_cost_ratios_are_none_over_a_zero_baseline_cost():
    ratios = cost_ratios(ROWS, "direct")
    assert [(r["solver"], r["length"]) for r in ratios] == [
        ("rec", 1024), ("rec", 2048), ("rec", 4096), ("rec", 8192)]  # fmt: skip
    at_1k, _, at_4k, _ = ratios
    assert at_1k["calls_ratio"] == 5.0 and at_1k["cost_ratio"] is None
    assert at_4k["cost_ratio"] == 0.0 and at_4k["prompt_tokens_ratio"] == 1.3
    assert at_4k["completion_tokens_ratio"] == 1.3 and at_4k["latency_ratio"] == 2.1
