"""The command line: bad input is one line on stderr and exit 2; good input does what it says."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from rlm_bench.cli import main
from rlm_bench.errors import UserError
from rlm_bench.suites import load_suite, parse_length, parse_solver, parse_task
from rlm_bench.tasks import TASKS


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
        (["run", "--resume", "/tmp", "--lengths", "512"], "is not a run folder"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["tasks", "sample", "--task", "nope", "--length", "512"], "unknown task 'nope'"),
        (
            ["tasks", "sample", "--task", "niah_single:colour=red", "--length", "512"],
            "task niah_single: unknown option 'colour'",
        ),
        (
            ["run", "--suite", "smoke", "--tasks", "niah_multikey:keys=1"],
            "'keys' must be between 2 and 50",
        ),
        (["run", "--suite", "smoke", "--depths", "0,2"], "--depths: expected fractions"),
        (
            ["run", "--suite", "smoke", "--tasks", "niah_single:haystack=files:/no/such/dir"],
            "/no/such/dir",
        ),
        (["tasks", "export", "--suite", "nope", "--out", "/tmp/x"], "unknown suite 'nope'"),
        (
            ["run", "--suite", "smoke", "--base-url", "http://127.0.0.1:9/v1"],
            "the embedded backend takes no model options (got base_url)",
        ),
        (["plot", "/no/such/run"], "is not a run folder"),
        (["report", "/no/such/run"], "is not a run folder"),
        (["plot", "/no/such/run", "--threshold", "1.5"], "between 0 and 1, not 1.5"),
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
        (GOOD + "depths: [0.5, 7]\n", "field 'depths': expected fractions from 0 to 1"),
        (GOOD.replace("[niah_single]", "[{haystack: noise}]"), "needs a 'task' name"),
        (GOOD.replace("[niah_single]", "[niah_single, niah_single]"), "two tasks share a label"),
    ],
)
def test_bad_suite_file_names_the_field(capsys, tmp_path, text, says):
    err = expect_usage_error(capsys, "run", "--suite", write(tmp_path, text), says=says)
    assert "suite " in err


def test_list_names_everything(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    assert "suites: context_rot, full, paper, smoke" in out
    assert "niah_single" in out and "aggregation_count" in out
    solvers = (
        "codeact, direct, dspy_rlm, recursive, repl, repl_no_subcalls, retrieval, rlms, summary"
    )
    assert f"solvers: {solvers}" in out
    assert "embedded" in out


def test_list_tasks_describes_each_with_its_scorer(capsys):
    from rlm_bench.tasks import TASKS

    code, out, _ = run_cli(capsys, "list", "tasks")
    lines = out.strip().split("\n")
    assert code == 0 and len(lines) == len(TASKS.names())
    for name, line in zip(TASKS.names(), lines, strict=True):
        assert line.startswith(name) and "Scored by" in line
    assert any("Options: haystack, structure, value_kind, depths" in line for line in lines)


FIXTURES = Path(__file__).parent / "fixtures"
ON_FIXTURES = {
    "oolong_synth": f"oolong_synth:data={FIXTURES / 'oolong/synth.jsonl'}",
    "oolong_real": f"oolong_real:data={FIXTURES / 'oolong/dnd.jsonl'}",
    "oolong_pairs": f"oolong_pairs:data={FIXTURES / 'oolong/synth.jsonl'}",
    "ruler_jsonl": f"ruler_jsonl:data={FIXTURES / 'ruler/niah_single_1/validation.jsonl'}",
}
"""The tasks that read a benchmark's rows, each on its small fixture (tests never reach the hub)."""


def test_every_task_that_reads_data_has_a_fixture():
    assert {n for n in TASKS.names() if TASKS.get(n).from_data} == set(ON_FIXTURES)


@pytest.mark.parametrize("name", TASKS.names())
def test_tasks_sample_works_for_every_family(capsys, name):
    spec = ON_FIXTURES.get(name, name)
    code, out, err = run_cli(capsys, "tasks", "sample", "--task", spec, "--length", "1k")
    assert code == 0, err
    assert f"task: {name}" in out and "question: " in out and "answer: " in out


def test_tasks_sample_takes_a_spec_with_options(capsys):
    code, out, _ = run_cli(capsys, "tasks", "sample", "--task",
                           "niah_single:value_kind=uuid:haystack=noise", "--length", "1k",
                           "--json")  # fmt: skip
    data = json.loads(out)
    assert code == 0 and data["task"] == "niah_single_value_kinduuid_haystacknoise"
    assert len(data["answer"]) == 36 and "The grass is green." in data["context"]


def test_tasks_export_writes_a_dataset_and_jsonl(capsys, tmp_path):
    from datasets import load_from_disk

    suite = write(tmp_path, "tasks: [niah_multivalue, {label: count, task: aggregation_count}]\n"
                  "lengths: [512, 1k]\nsamples: 2\nsolvers: [direct]\n")  # fmt: skip
    code, out, err = run_cli(capsys, "tasks", "export", "--suite", suite, "--out",
                             str(tmp_path / "export"), "--no-progress")  # fmt: skip
    assert code == 0, err
    dataset = load_from_disk(str(tmp_path / "export" / "dataset"))
    assert sorted(dataset) == ["count", "niah_multivalue"]
    assert len(dataset["count"]) == 4 and dataset["count"][0]["sample_id"] == "count/L512/s0/i0"
    jsonl = (tmp_path / "export" / "jsonl" / "niah_multivalue.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in jsonl] == list(dataset["niah_multivalue"])
    from rlm_bench.models.embedded import EmbeddedModel
    from rlm_bench.tasks import get_task

    again = get_task("aggregation_count", EmbeddedModel().tokenizer, label="count").sample(
        1024, 0, 1
    )
    assert dataset["count"][3]["context"] == again.context
    assert dataset["count"][3]["answer"] == again.answer


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


def test_builtin_suites_load_and_context_rot_compares_the_rlm_on_one_chat_model():
    rot = load_suite("context_rot")
    assert rot.lengths[0] == 1024 and rot.lengths[-1] >= 4096
    assert all(b == 2 * a for a, b in zip(rot.lengths, rot.lengths[1:], strict=False))
    assert {s.label for s in rot.solvers} == {"direct", "recursive_d1", "repl", "repl_no_subcalls"}
    assert rot.model == "embedded:qwen2.5-coder-0.5b" and rot.sub_model is None
    assert rot.samples * len(rot.lengths) >= 12  # pooled pairs enough for a 0.5 difference
    assert load_suite("smoke").lengths == [512, 1024]


def test_task_specs_and_depths_reach_the_samples(capsys, tmp_path):
    import tests.doubles  # noqa: F401  (registers the `scripted` backend)

    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "run", "--suite", "smoke", "--model", "scripted", "--out",
                           str(out), "--no-progress", "--tasks",
                           "niah_single:haystack=noise,aggregation_count", "--depths", "1",
                           "--solvers", "direct", "--lengths", "512", "--samples", "2")  # fmt: skip
    assert code == 0, err
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    needle_rows = [r for r in rows if r["task"] == "niah_single_haystacknoise"]
    assert len(needle_rows) == 2 and {r["metadata"]["depth"] for r in needle_rows} == {1.0}
    assert {r["metadata"]["haystack"] for r in needle_rows} == {"noise"}
    assert all(r["score"] == 1.0 for r in rows)
    info = json.loads((out / "run.json").read_text())
    assert info["suite"]["depths"] == [1.0]
    assert info["suite"]["tasks"][0] == {"label": "niah_single_haystacknoise",
                                         "task": "niah_single", "haystack": "noise"}  # fmt: skip


def test_length_and_solver_parsing():
    assert [parse_length(v) for v in ("512", "2k", "1K", "1m")] == [512, 2048, 1024, 1048576]
    spec = parse_solver("recursive:depth=3:fanout=2", "--solvers")
    assert spec.solver == "recursive" and spec.params == {"depth": 3, "fanout": 2}
    assert spec.label == "recursive_depth3_fanout2"
    with pytest.raises(UserError, match="not key=value"):
        parse_solver("recursive:depth", "--solvers")
    task = parse_task("niah_single:haystack=files:/data/docs:depths=[0, 1]", "--tasks")
    assert task.task == "niah_single"
    assert task.params == {"haystack": "files:/data/docs", "depths": [0, 1]}


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


def test_a_rerun_is_served_from_the_response_cache(capsys, tmp_path):
    import tests.doubles  # noqa: F401  (registers the `scripted` backend)

    argv = ["run", "--suite", "smoke", "--model", "scripted", "--no-progress", "--lengths", "512",
            "--samples", "1"]  # fmt: skip
    code, first, err = run_cli(capsys, *argv, "--out", str(tmp_path / "first"))
    assert code == 0, err
    calls = sum(json.loads(line)["calls"] for line in (tmp_path / "first" / "samples.jsonl").open())
    # solvers that ask the very same prompt (a depth-2 tree too short to split again is the
    # depth-1 tree) share one call even in a fresh run
    first_hits = sum(
        json.loads(r)["cached_calls"] for r in (tmp_path / "first" / "samples.jsonl").open()
    )
    assert 0 < first_hits < calls
    assert f"model calls: {calls}, {first_hits} served from the response cache" in first
    code, second, _ = run_cli(capsys, *argv, "--out", str(tmp_path / "second"))
    assert f"model calls: {calls}, {calls} served from the response cache (100%)" in second
    rows = [json.loads(line) for line in (tmp_path / "second" / "samples.jsonl").open()]
    assert sum(r["cached_calls"] for r in rows) == calls
    summary = json.loads((tmp_path / "second" / "summary.json").read_text())
    assert summary["calls"]["cached_calls"] == calls
    code, third, _ = run_cli(capsys, *argv, "--no-cache", "--out", str(tmp_path / "third"))
    assert "0 served from the response cache" in third


def test_a_suite_survives_the_round_trip_through_run_json():
    from rlm_bench.suites import suite_from_dict

    for name in ("context_rot", "full", "smoke"):
        suite = load_suite(name)
        assert suite_from_dict(suite.to_dict(), "run.json") == suite


def test_serve_on_a_taken_port_is_one_line_before_any_model_loads(capsys):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err == f"rlm_bench: error: cannot serve on 127.0.0.1:{port}: Address already in use\n"


def test_repl_solvers_run_through_the_cli_with_a_sub_model(capsys, tmp_path):
    """The oracle double never writes code, so every REPL trajectory runs out of turns and is
    answered by the last call; the run records the sub-model it was given."""
    import tests.doubles  # noqa: F401  (registers the `scripted` backend)

    out = tmp_path / "run"
    code, stdout, err = run_cli(capsys, "run", "--suite", "smoke", "--model", "scripted",
                                "--sub-model", "scripted", "--solvers",
                                "repl:max_iterations=2,repl_no_subcalls:max_iterations=2",
                                "--lengths", "512", "--samples", "1", "--out", str(out),
                                "--no-progress")  # fmt: skip
    assert code == 0, err
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(r["error"] is None for r in rows)
    assert all(r["calls"] == 3 for r in rows)  # two turns, then the call that asks for it
    traces = [json.loads(line) for line in (out / "traces.jsonl").read_text().splitlines()]
    assert {t["notes"]["final"] for t in traces} == {"out_of_turns"}
    info = json.loads((out / "run.json").read_text())
    assert info["suite"]["sub_model"] == "scripted" and info["sub_model"]["backend"] == "scripted"
    assert "repl_max_iterations2" in stdout


@pytest.fixture
def small_run(capsys, tmp_path):
    """A finished scripted run and the command that made it."""
    import tests.doubles  # noqa: F401  (registers the `scripted` backend)

    out = tmp_path / "run"
    argv = ["run", "--suite", "smoke", "--model", "scripted", "--lengths", "512", "--samples",
            "1", "--out", str(out), "--no-progress"]  # fmt: skip
    code, _, err = run_cli(capsys, *argv)
    assert code == 0, err
    return out, argv


def test_resume_accepts_the_first_command_again(capsys, small_run):
    out, argv = small_run
    lines = (out / "samples.jsonl").read_text()
    code, _, err = run_cli(capsys, *argv, "--resume", str(out), "--concurrency", "1")
    assert code == 0, err
    assert (out / "samples.jsonl").read_text() == lines


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--lengths", "1024"], "has lengths [512], the flags say [1024]"),
        (["--sub-model", "embedded"], 'has sub_model null, the flags say "embedded"'),
        (["--suite", "context_rot"], 'has name "smoke", the flags say "context_rot"'),
        (["--seed", "7"], "has seed 0, the flags say 7"),
    ],
)
def test_resume_refuses_a_real_conflict_naming_both_values(capsys, small_run, extra, says):
    out, argv = small_run
    expect_usage_error(capsys, *argv, "--resume", str(out), *extra, says=says)


def test_resume_refuses_another_folder(capsys, small_run, tmp_path):
    out, _ = small_run
    expect_usage_error(capsys, "run", "--resume", str(out), "--out", str(tmp_path / "elsewhere"),
                       says="conflicts with --resume")  # fmt: skip


def test_report_and_compare_from_run_folders(capsys, tmp_path):
    import tests.doubles  # noqa: F401  (registers the `scripted` backend)

    argv = ["run", "--suite", "context_rot", "--model", "scripted", "--no-progress",
            "--lengths", "512,1k", "--samples", "2"]  # fmt: skip
    for name in ("base", "candidate"):
        code, _, err = run_cli(capsys, *argv, "--out", str(tmp_path / name))
        assert code == 0, err
    base = tmp_path / "base"
    code, stdout, err = run_cli(capsys, "report", str(base))
    assert code == 0, err
    assert "context rot (effective length" in stdout and "direct or recursion?" in stdout
    report = (base / "report.md").read_text()
    for heading in ("## Findings", "## Accuracy against context length", "## Cost",
                    "## Error propagation", "## Failure categories"):  # fmt: skip
        assert heading in report
    links = re.findall(r"!\[[^]]*\]\(([^)]+)\)", report)
    assert "figures/accuracy_vs_length.png" in links
    assert all((base / link).stat().st_size > 10_000 for link in links)
    code, stdout, err = run_cli(capsys, "plot", str(base), "--compare", str(tmp_path / "candidate"))
    assert code == 0, err
    overlay = base / "figures" / "compare_accuracy_vs_length.png"
    assert str(overlay) in stdout and overlay.stat().st_size > 10_000
    expect_usage_error(capsys, "plot", str(base), "--compare", str(tmp_path / "nope"),
                       says="is not a run folder")  # fmt: skip
