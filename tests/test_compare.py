"""`compare`: pairing two runs sample by sample, per-cell and overall verdicts, the text, the CLI.

The run folders are written by hand (run.json and a few samples.jsonl rows), so every count,
p-value and verdict below is known in advance.
"""

from __future__ import annotations

import dataclasses
import json
import random

import pytest

from rlm_bench.cli import main
from rlm_bench.errors import UserError
from rlm_bench.evaluation.comparison import (
    CompareOptions,
    IncomparableRuns,
    compare_folders,
    compare_rows,
    pair_solvers,
    verdict,
)
from rlm_bench.evaluation.comparison_text import comparison_markdown, format_comparison


def row(task, length, index, solver, score, *, tokens=100, latency=1.0, cost=0.0, seed=0):
    return {
        "sample_id": f"{task}/L{length}/s{seed}/i{index}",
        "task": task,
        "solver": solver,
        "length": length,
        "seed": seed,
        "index": index,
        "score": score,
        "prompt_tokens": tokens - 10,
        "completion_tokens": 10,
        "latency_s": latency,
        "cost_usd": cost,
    }


def cell_rows(task, length, solver, scores, **kw):
    return [row(task, length, i, solver, s, **kw) for i, s in enumerate(scores)]


def write_run(folder, rows, *, suite="smoke", seed=0):
    folder.mkdir(parents=True)
    info = {"suite": {"name": suite, "seed": seed}, "seed": seed, "model": {"name": "m"}}
    (folder / "run.json").write_text(json.dumps(info))
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def compare(base_rows, candidate_rows, **options):
    return compare_rows(
        base_rows, candidate_rows, suite="smoke", seed=0, base="B", candidate="C",
        options=CompareOptions(**options),
    )  # fmt: skip


ONES = [1.0] * 10


def test_pairs_by_sample_id_whatever_the_row_order():
    base = cell_rows("niah", 512, "r", [1, 1, 0, 0, 1, 0, 1, 1]) + cell_rows(
        "agg", 1024, "r", [0.5, 0.25, 1.0, 0.0]
    )
    candidate = cell_rows("niah", 512, "r", [1, 0, 1, 0, 1, 0, 0, 1]) + cell_rows(
        "agg", 1024, "r", [0.75, 0.25, 0.5, 0.5]
    )
    ordered = compare(base, candidate)
    shuffled = candidate[:]
    random.Random(4).shuffle(shuffled)
    assert compare(base, shuffled) == dataclasses.replace(ordered, candidate="C")
    niah = next(c for c in ordered.cells if c.task == "niah")
    # pairs (1,0) at i1 and i6, (0,1) at i2: 1 candidate win, 2 base wins, exact McNemar.
    assert (niah.candidate_wins, niah.base_wins, niah.test) == (1, 2, "mcnemar")
    assert niah.p_value == pytest.approx(1.0)
    agg = next(c for c in ordered.cells if c.task == "agg")
    assert agg.test == "bootstrap"  # partial credit
    assert (agg.candidate_wins, agg.base_wins) == (2, 1)
    assert agg.delta == pytest.approx(0.0625)
    assert [(c.task, c.length) for c in ordered.cells] == [("agg", 1024), ("niah", 512)]


def test_a_clear_drop_in_one_cell_is_worse_and_fails_the_comparison():
    base = cell_rows("niah", 512, "r", ONES) + cell_rows("niah", 1024, "r", ONES)
    candidate = cell_rows("niah", 512, "r", ONES) + cell_rows("niah", 1024, "r", [0.0] * 10)
    c = compare(base, candidate)
    short, long = c.cells
    assert short.verdict == "same" and short.p_value == 1.0
    assert long.p_value == pytest.approx(2 / 1024)
    assert long.p_adjusted == pytest.approx(2 * 2 / 1024)  # Holm: smallest of two p's, times 2
    assert long.verdict == "worse"
    (overall,) = c.overall
    assert (overall.task, overall.length, overall.n) == (None, None, 20)
    assert overall.p_adjusted == overall.p_value == pytest.approx(2 / 1024)
    assert overall.delta == pytest.approx(-0.5)
    assert overall.delta_low < -0.2 and overall.delta_high < 0
    assert c.worse


def test_holm_adjusts_across_the_cells_of_a_solver_pair():
    # Three cells with 6, 7 and 10 candidate-only wins: raw p 2/64, 2/128, 2/1024.
    base, candidate = [], []
    for length, wins in ((512, 6), (1024, 7), (2048, 10)):
        base += cell_rows("niah", length, "r", [0.0] * 10)
        candidate += cell_rows("niah", length, "r", [1.0] * wins + [0.0] * (10 - wins))
    c = compare(base, candidate)
    raw = [cell.p_value for cell in c.cells]
    assert raw == pytest.approx([2 / 64, 2 / 128, 2 / 1024])
    # Holm: 2/1024 * 3, then 2/128 * 2, then 2/64 * 1.
    assert [cell.p_adjusted for cell in c.cells] == pytest.approx([2 / 64, 4 / 128, 6 / 1024])
    assert [cell.verdict for cell in c.cells] == ["better", "better", "better"]
    # At alpha 0.02 the 1K cell's raw p (0.016) would pass; adjusted (0.031) it does not.
    strict = compare(base, candidate, alpha=0.02)
    assert [cell.verdict for cell in strict.cells] == ["same", "same", "better"]
    assert not strict.worse


def test_verdict_at_the_tolerance_boundary():
    options = CompareOptions(tolerance=0.2)
    assert verdict(0.7 - 0.9, 0.001, options) == "same"  # -0.20000000000000007: exactly 0.2
    assert verdict(-0.21, 0.001, options) == "worse"
    assert verdict(0.21, 0.001, options) == "better"
    assert verdict(-0.5, 0.05, options) == "same"  # p must be below alpha, not equal
    assert verdict(-0.01, 0.001, CompareOptions()) == "worse"


def test_tolerance_keeps_a_significant_small_drop_same():
    base = cell_rows("niah", 512, "r", [1.0] * 50)
    candidate = cell_rows("niah", 512, "r", [0.0] * 10 + [1.0] * 40)  # delta -0.2, p 2/1024
    assert compare(base, candidate, tolerance=0.2).cells[0].verdict == "same"
    assert not compare(base, candidate, tolerance=0.2).worse
    assert compare(base, candidate, tolerance=0.19).cells[0].verdict == "worse"


def test_ratios_of_tokens_latency_and_cost():
    base = cell_rows("niah", 512, "r", ONES, tokens=100, latency=2.0, cost=0.0)
    candidate = cell_rows("niah", 512, "r", ONES, tokens=250, latency=1.0, cost=0.5)
    (cell,) = compare(base, candidate).cells
    assert cell.token_ratio == pytest.approx(2.5)
    assert cell.latency_ratio == pytest.approx(0.5)
    assert cell.cost_ratio is None  # the base cost nothing: no ratio
    priced = compare(candidate, base).cells[0]
    assert priced.cost_ratio == pytest.approx(0.0)


def test_rows_in_one_run_only_are_counted_as_unpaired():
    base = cell_rows("niah", 512, "r", ONES) + cell_rows("niah", 1024, "r", ONES)
    candidate = cell_rows("niah", 512, "r", ONES[:8]) + cell_rows("agg", 512, "r", [1.0] * 3)
    c = compare(base, candidate)
    assert [(cell.task, cell.length, cell.n) for cell in c.cells] == [("niah", 512, 8)]
    assert c.unpaired == 2 + 10 + 3
    assert "unpaired: 15 sample rows" in format_comparison(c)


def test_solvers_pair_by_name_then_alone_then_by_shared_labels():
    options = CompareOptions()
    assert pair_solvers(["recursive"], ["mine"], options) == [("recursive", "mine")]
    assert pair_solvers(["direct", "rec"], ["rec", "direct", "new"], options) == [
        ("direct", "direct"),
        ("rec", "rec"),
    ]
    named = CompareOptions(base_solver="rec", candidate_solver="new")
    assert pair_solvers(["direct", "rec"], ["rec", "new"], named) == [("rec", "new")]
    # One side named: the other takes the same label, or its only solver.
    only_base = CompareOptions(base_solver="rec")
    assert pair_solvers(["direct", "rec"], ["direct", "rec"], only_base) == [("rec", "rec")]
    assert pair_solvers(["direct", "rec"], ["mine"], only_base) == [("rec", "mine")]


def test_solver_pairing_errors_name_the_labels():
    with pytest.raises(UserError, match="--base-solver 'nope' is not a solver of B; it has a, b"):
        pair_solvers(["a", "b"], ["a"], CompareOptions(base_solver="nope"), base="B")
    with pytest.raises(IncomparableRuns, match="--base-solver/--candidate-solver"):
        pair_solvers(["a", "b"], ["c", "d"], CompareOptions())
    with pytest.raises(
        UserError, match="name --candidate-solver: the candidate run has solvers c, d"
    ):
        pair_solvers(["a", "b"], ["c", "d"], CompareOptions(base_solver="a"))


def test_multiple_solver_pairs_get_one_overall_row_each():
    base = cell_rows("niah", 512, "direct", ONES) + cell_rows("niah", 512, "rec", ONES)
    candidate = cell_rows("niah", 512, "rec", [0.0] * 10) + cell_rows("niah", 512, "direct", ONES)
    c = compare(base, candidate)
    assert [(o.base_solver, o.verdict) for o in c.overall] == [("direct", "same"), ("rec", "worse")]
    assert "rec niah 512" in format_comparison(c).splitlines()[-1]


def test_no_shared_sample_is_incomparable():
    base = cell_rows("niah", 512, "r", ONES)
    candidate = cell_rows("niah", 1024, "r", ONES)
    with pytest.raises(IncomparableRuns, match="no sample of r in B is in C"):
        compare(base, candidate)
    with pytest.raises(IncomparableRuns, match="C has no sample rows"):
        compare(base, [])


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"suite": "context_rot"}, "different suites: "),
        ({"seed": 1}, "different seeds: "),
    ],
)
def test_runs_of_another_suite_or_seed_are_incomparable(tmp_path, changes, says):
    base = write_run(tmp_path / "base", cell_rows("niah", 512, "r", ONES))
    other = write_run(tmp_path / "other", cell_rows("niah", 512, "r", ONES), **changes)
    with pytest.raises(IncomparableRuns, match=says) as info:
        compare_folders(base, other, CompareOptions())
    assert str(next(iter(changes.values()))) in str(info.value)


def test_text_lists_every_cell_the_overall_row_and_ends_with_the_verdict():
    base = cell_rows("niah", 512, "rec", ONES) + cell_rows("niah", 1024, "rec", ONES)
    candidate = cell_rows("niah", 512, "mine", ONES) + cell_rows("niah", 1024, "mine", [0.0] * 10)
    c = compare(base, candidate)
    lines = format_comparison(c).splitlines()
    assert lines[0] == "C against B: suite smoke, seed 0"
    assert "base rec -> candidate mine" in lines
    table = [line.split() for line in lines if line.startswith(("niah", "overall"))]
    assert [t[:3] for t in table] == [
        ["niah", "512", "10"],
        ["niah", "1K", "10"],
        ["overall", "all", "20"],
    ]
    assert table[1][-1] == "worse" and table[1][5] == "-1.00"
    assert lines[-1].startswith("verdict: WORSE: significantly worse beyond the tolerance 0")
    assert "niah 1K, overall" in lines[-1]
    assert "USD×" not in lines[3]  # nothing cost anything: no cost column


def test_markdown_has_a_headline_and_a_github_table():
    base = cell_rows("niah", 512, "rec", ONES)
    candidate = cell_rows("niah", 512, "mine", ONES, cost=0.1)
    text = comparison_markdown(compare(base, candidate))
    lines = text.splitlines()
    assert lines[0].startswith("**rlm_bench compare: no regression** (mine against rec; suite")
    header = next(line for line in lines if line.startswith("| task |"))
    rule = lines[lines.index(header) + 1]
    assert header.count("|") == rule.count("|") == 14  # 13 columns (no USD×: base cost 0)
    assert set(rule) <= set("|-: ")
    assert any(line.startswith("| **overall** | **all** | **10** |") for line in lines)


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def runs(tmp_path):
    base = write_run(tmp_path / "base", cell_rows("niah", 512, "rec", ONES))
    same = write_run(tmp_path / "same", cell_rows("niah", 512, "mine", ONES))
    worse = write_run(tmp_path / "worse", cell_rows("niah", 512, "mine", [0.0] * 10))
    seed1 = write_run(tmp_path / "seed1", cell_rows("niah", 512, "rec", ONES), seed=1)
    return {"base": base, "same": same, "worse": worse, "seed1": seed1}


def test_cli_exits_0_when_no_worse_and_writes_markdown(capsys, runs, tmp_path):
    md = tmp_path / "comment.md"
    code, out, err = run_cli(capsys, "compare", runs["base"], runs["same"], "--markdown", md)
    assert (code, err) == (0, "")
    assert "verdict: no regression" in out
    assert out.rstrip().endswith(f"markdown: {md}")
    assert md.read_text().startswith("**rlm_bench compare: no regression**")


def test_cli_exits_1_when_worse(capsys, runs):
    code, out, err = run_cli(capsys, "compare", runs["base"], runs["worse"])
    assert (code, err) == (1, "")
    assert "verdict: WORSE" in out.splitlines()[-1]
    # a drop allowed by the tolerance is not a regression
    code, out, _ = run_cli(capsys, "compare", runs["base"], runs["worse"], "--tolerance", "0.99")
    assert code == 1  # delta -1.0 is beyond 0.99
    code, _, _ = run_cli(capsys, "compare", runs["base"], runs["worse"], "--alpha", "0.001")
    assert code == 0  # p = 2/1024 is not below 0.001


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["seed1"], "different seeds: "),
        (["missing"], "is not a run folder (no run.json)"),
        (["same", "--alpha", "1.5"], "--alpha must be in (0, 1)"),
        (["same", "--tolerance", "-0.1"], "--tolerance must be in [0, 1)"),
        (["same", "--candidate-solver", "rec"], "--candidate-solver 'rec' is not a solver of"),
        (["same", "--markdown", "/no/such/dir/x.md"], "--markdown /no/such/dir/x.md: "),
    ],
)
def test_cli_exits_2_with_one_line_on_bad_input(capsys, runs, tmp_path, argv, says):
    other = runs.get(argv[0], tmp_path / argv[0])
    code, _, err = run_cli(capsys, "compare", runs["base"], other, *argv[1:])
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("rlm_bench: error: "), err
    assert says in err


def test_cli_draws_the_deltas_as_a_forest_plot(capsys, runs, tmp_path):
    from matplotlib.image import imread

    code, out, _ = run_cli(capsys, "compare", runs["base"], runs["worse"], "--figures", tmp_path)
    png = tmp_path / "compare_deltas.png"
    assert code == 1 and out.rstrip().endswith(f"figure: {png}")
    assert (tmp_path / "compare_deltas.svg").read_text().count("<svg") == 1
    svg = (tmp_path / "compare_deltas.svg").read_text()
    assert "overall" in svg and "verdict" in svg
    pixels = imread(png)
    red = (pixels[..., 0] > 0.7) & (pixels[..., 1] < 0.3) & (pixels[..., 2] < 0.3)
    assert red.any()  # the worse rows are drawn in the worse colour
