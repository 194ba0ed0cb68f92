"""Solvers from outside the package: by import path, and the regression helper researchers call
in their own CI (`rlm_bench.testing.assert_no_regression`), on the ScriptedModel test double."""

from __future__ import annotations

import json

import pytest

from rlm_bench.cli import main
from rlm_bench.errors import UserError
from rlm_bench.evaluation.runner import run_suite
from rlm_bench.solvers import Result, Trace, make_solver
from rlm_bench.solvers.recursive import Recursive
from rlm_bench.suites import parse_solver, parse_task, suite_from_dict
from rlm_bench.testing import assert_no_regression
from tests.doubles import ScriptedModel


class AnswersNone:
    """A strategy that never finds anything: the regression the helper must catch."""

    name = "answers_none"

    def __init__(self, politeness: int = 0) -> None:
        self.politeness = politeness

    async def solve(self, sample, model) -> Result:
        return Result(prediction="none", trace=Trace())


def test_an_import_path_names_a_solver_and_labels_it_by_its_class():
    spec = parse_solver("tests.test_solver_plugins:AnswersNone:politeness=2", "--solvers")
    assert spec.solver == "tests.test_solver_plugins:AnswersNone"
    assert spec.label == "AnswersNone_politeness2" and spec.params == {"politeness": 2}
    solver = make_solver(spec.solver, spec.params)
    assert isinstance(solver, AnswersNone) and solver.politeness == 2
    mapping = parse_solver({"solver": "rlm_bench.solvers.recursive:Recursive", "depth": 2}, "x")
    assert mapping.label == "Recursive" and make_solver(mapping.solver, mapping.params).depth == 2


def test_values_with_colons_are_still_values():
    spec = parse_task("niah_single:haystack=files:/my/docs", "--tasks")
    assert spec.task == "niah_single" and spec.params == {"haystack": "files:/my/docs"}


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("no_such_module.sub:Thing", "cannot import it (No module named 'no_such_module')"),
        ("tests.test_solver_plugins:Missing", "has no 'Missing'"),
    ],
)
def test_a_bad_import_path_is_one_line(path, says):
    with pytest.raises(UserError) as info:
        make_solver(path, {})
    assert says in str(info.value) and "\n" not in str(info.value)


def test_the_cli_runs_a_solver_named_by_import_path(capsys, tmp_path):
    import tests.doubles  # noqa: F401  (registers the `scripted` backend)

    out = tmp_path / "run"
    code = main(["run", "--suite", "smoke", "--model", "scripted", "--out", str(out),
                 "--no-progress", "--lengths", "512", "--samples", "1", "--solvers",
                 "direct,tests.test_solver_plugins:AnswersNone"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert {r["solver"] for r in rows} == {"direct", "AnswersNone"}
    assert all(r["prediction"] == "none" for r in rows if r["solver"] == "AnswersNone")
    run = json.loads((out / "run.json").read_text())
    assert {"label": "AnswersNone", "solver": "tests.test_solver_plugins:AnswersNone"} in run[
        "suite"
    ]["solvers"]


def test_an_unknown_module_in_solvers_fails_before_the_model_loads(capsys, tmp_path):
    code = main(["run", "--suite", "smoke", "--out", str(tmp_path / "run"), "--solvers",
                 "nowhere.at_all:Mine"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "cannot import" in err
    assert not (tmp_path / "run").exists()


BASELINE_SUITE = {
    "name": "smoke",
    "tasks": ["niah_single", "aggregation_count"],
    "lengths": [512, 1024],
    "samples": 6,
    "seed": 3,
    "solvers": ["direct", {"label": "recursive_d1", "solver": "recursive", "depth": 1}],
}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, tokenizer):
    """A baseline run folder made on the oracle double (every answer right)."""
    folder = tmp_path_factory.mktemp("baseline") / "smoke"
    suite = suite_from_dict(BASELINE_SUITE, "test")
    run_suite(suite, ScriptedModel(tokenizer), folder, resume=False, progress=False)
    return folder


def test_the_same_strategy_passes_against_its_baseline(baseline, tokenizer, tmp_path):
    comparison = assert_no_regression(
        Recursive, baseline=baseline, against="recursive_d1", model=ScriptedModel(tokenizer),
        out=tmp_path / "candidate",
    )  # fmt: skip
    assert not comparison.worse
    assert all(row.verdict == "same" and row.delta == 0 for row in comparison.cells)
    assert sum(row.n for row in comparison.cells) == 24  # 2 tasks x 2 lengths x 6 samples
    rows = [json.loads(line) for line in (tmp_path / "candidate" / "samples.jsonl").open()]
    assert {r["solver"] for r in rows} == {"Recursive"}
    assert {r["seed"] for r in rows} == {3}  # the baseline's recorded suite, not today's file


def test_a_regression_fails_with_the_comparison_table(baseline, tokenizer, tmp_path):
    with pytest.raises(AssertionError) as info:
        assert_no_regression(
            "tests.test_solver_plugins:AnswersNone", baseline=baseline, against="direct",
            model=ScriptedModel(tokenizer), out=tmp_path / "candidate",
        )  # fmt: skip
    message = str(info.value)
    assert "regressed against direct" in message and str(tmp_path / "candidate") in message
    assert "worse" in message


def test_a_label_of_the_baseline_compares_with_itself(baseline, tokenizer, tmp_path):
    comparison = assert_no_regression(
        "recursive_d1", baseline=baseline, model=ScriptedModel(tokenizer), out=tmp_path / "c"
    )
    assert {(r.base_solver, r.candidate_solver) for r in comparison.overall} == {
        ("recursive_d1", "recursive_d1_candidate")
    }


def test_the_helper_says_what_is_wrong(baseline, tokenizer, tmp_path):
    model = ScriptedModel(tokenizer)
    with pytest.raises(UserError, match="against=one of direct, recursive_d1"):
        assert_no_regression("recursive:depth=2", baseline=baseline, model=model)
    with pytest.raises(UserError, match="is a run of suite 'smoke', not 'context_rot'"):
        assert_no_regression("direct", baseline=baseline, suite="context_rot", model=model)
    model.name = "another-model"
    with pytest.raises(UserError, match="was run on 'scripted'"):
        assert_no_regression("direct", baseline=baseline, model=model, out=tmp_path / "x")
    with pytest.raises(UserError, match="not a run folder"):
        assert_no_regression("direct", baseline=tmp_path / "nothing", model=model)
