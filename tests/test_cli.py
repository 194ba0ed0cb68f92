"""The command line: bad input is one line on stderr and exit 2; good input does what it says."""

from __future__ import annotations

import json

import pytest

from rlm_bench.cli import main
from rlm_bench.errors import UserError
from rlm_bench.suites import load_suite, parse_length, parse_solver


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def expect_usage_error(capsys, *argv, says):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("rlm_bench: error: "), err
    assert says in err
    return err


def write(tmp_path, text, name="suite.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


GOOD = "tasks: [niah_single]\nlengths: [512]\nsolvers: [direct]\n"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["run", "--suite", "nope"], "unknown suite 'nope'"),
        (["run", "--suite", "smoke", "--tasks", "niah_single,haystack"], "unknown task 'haystack'"),
        (["run", "--suite", "smoke", "--solvers", "direct,magic"], "unknown solver 'magic'"),
        (["run", "--suite", "smoke", "--solvers", "recursive:depth=0"], "depth >= 1"),
        (["run", "--suite", "smoke", "--lengths", "512,big"], "'big' is not a length"),
        (["run", "--suite", "smoke", "--samples", "0"], "--samples must be at least 1"),
        (["run", "--suite", "smoke", "--model", "/no/such/model.gguf"], "model file not found"),
        (["run", "--suite", "smoke", "--model", "warp:drive"], "unknown model backend 'warp'"),
        (["run", "--samples", "many"], "invalid int value: 'many'"),
        (["run", "--resume", "/no/such/run"], "is not a run folder"),
        (["run", "--resume", "/tmp", "--lengths", "512"], "drop --lengths"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["tasks", "sample", "--task", "nope", "--length", "512"], "unknown task 'nope'"),
        (["plot", "/no/such/run"], "is not a run folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, says):
    expect_usage_error(capsys, *argv, says=says)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (GOOD + "lenghts: [1]\n", "unknown field 'lenghts'"),
        ("tasks: [niah_single]\nsolvers: [direct]\n", "missing field 'lengths'"),
        (GOOD + "samples: two\n", "field 'samples': expected int, got 'two'"),
        (GOOD.replace("[512]", "[512, tiny]"), "field 'lengths': 'tiny' is not a length"),
        ("tasks: [niah_single\n", "not valid YAML at line"),
        ("- just\n- a list\n", "expected a mapping"),
        (GOOD + "solvers: [direct, direct]\n", "two solvers share a label"),
        (GOOD.replace("[direct]", "[{depth: 2}]"), "needs a 'solver' name"),
    ],
)
def test_bad_suite_file_names_the_field(capsys, tmp_path, text, says):
    err = expect_usage_error(capsys, "run", "--suite", write(tmp_path, text), says=says)
    assert "suite " in err


def test_list_names_everything(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    assert "suites: context_rot, smoke" in out
    assert "niah_single" in out and "aggregation_count" in out
    assert "solvers: direct, recursive" in out and "embedded" in out


def test_tasks_sample_json_has_the_real_length(capsys):
    code, out, _ = run_cli(capsys, "tasks", "sample", "--task", "niah_single", "--length",
                           "2k", "--seed", "3", "--json")  # fmt: skip
    data = json.loads(out)
    assert code == 0 and data["length"] == 2048
    assert abs(data["actual_length"] - 2048) <= 20 and data["answer"] in data["context"]


def test_tasks_sample_abbreviates_unless_full(capsys):
    _, short, _ = run_cli(capsys, "tasks", "sample", "--task", "aggregation_count", "--length",
                          "4096")  # fmt: skip
    _, full, _ = run_cli(capsys, "tasks", "sample", "--task", "aggregation_count", "--length",
                         "4096", "--full")  # fmt: skip
    assert "characters ...]" in short and len(short) < 2000 < len(full)
    assert "question: How many records have the category" in short


def test_builtin_suites_load_and_context_rot_doubles_to_8k():
    rot = load_suite("context_rot")
    assert rot.lengths[0] == 512 and rot.lengths[-1] >= 8192
    assert all(b == 2 * a for a, b in zip(rot.lengths, rot.lengths[1:], strict=False))
    assert {s.label for s in rot.solvers} == {"direct", "recursive_d1", "recursive_d2"}
    assert load_suite("smoke").lengths == [512, 1024]


def test_length_and_solver_parsing():
    assert [parse_length(v) for v in ("512", "2k", "1K", "1m")] == [512, 2048, 1024, 1048576]
    spec = parse_solver("recursive:depth=3:fanout=2", "--solvers")
    assert spec.solver == "recursive" and spec.params == {"depth": 3, "fanout": 2}
    assert spec.label == "recursive_depth3_fanout2"
    with pytest.raises(UserError, match="not key=value"):
        parse_solver("recursive:depth", "--solvers")


def test_run_plot_and_resume_through_the_cli(capsys, tmp_path):
    import tests.doubles  # noqa: F401  (registers the `scripted` backend)

    out = tmp_path / "run"
    argv = ["run", "--suite", "smoke", "--model", "scripted", "--out", str(out), "--no-progress"]
    code, stdout, err = run_cli(capsys, *argv)
    assert code == 0, err
    assert "accuracy" in stdout and "recursive_d2" in stdout and f"run folder: {out}" in stdout
    png = out / "figures" / "accuracy_vs_length.png"
    assert png.stat().st_size > 20_000
    png.unlink()
    code, stdout, _ = run_cli(capsys, "plot", str(out))
    assert code == 0 and png.exists() and str(png) in stdout
    lines = (out / "samples.jsonl").read_text()
    code, _, _ = run_cli(capsys, "run", "--resume", str(out), "--no-progress")
    assert code == 0 and (out / "samples.jsonl").read_text() == lines  # nothing left to repeat
    expect_usage_error(capsys, *argv, says="already holds a run")


def test_a_suite_survives_the_round_trip_through_run_json():
    from rlm_bench.suites import suite_from_dict

    suite = load_suite("context_rot")
    assert suite_from_dict(suite.to_dict(), "run.json") == suite
