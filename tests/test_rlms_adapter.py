"""The `rlms` adapter: the official RLM library run on the run's model, its trajectory mapped into
our trace.

The fast tests run the real `rlms` library in its child process against `ScriptedServer`, a test
double for an OpenAI-compatible server that replays a root model's turns and a sub-model's
answer. The slow test runs it on the embedded Qwen through a real `rlm_bench serve` that the
adapter starts and stops itself.
"""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.request

import pytest

from rlm_bench.errors import UserError
from rlm_bench.models import load_model
from rlm_bench.solvers import make_solver
from rlm_bench.tasks import get_task
from tests.doubles import ScriptedModel
from tests.scripted_server import ScriptedServer, chat_body, chat_model, solve_niah_cell


@pytest.fixture(scope="module")
def sample(tokenizer):
    return get_task("niah_single", tokenizer).sample(1024, 0, 0)


def repl_turn(code: str) -> dict:
    return chat_body(f"Let me look.\n```repl\n{code}\n```")


def solve(solver, sample, model):
    return solve_niah_cell("rlms", solver, sample, model)


def test_a_trajectory_becomes_calls_blocks_and_located_sub_calls(sample):
    script = [
        repl_turn("part = context[:600]\nprint(llm_query('Find the number in: ' + part))"),
        chat_body("The number is 12."),
        repl_turn(f"answer['content'] = '{sample.answer}'\nanswer['ready'] = True"),
    ]
    with ScriptedServer(*script) as server:
        solver = make_solver("rlms", {"max_iterations": 4, "call_max_tokens": 64})
        row, trace = solve(solver, sample, chat_model(server))
        requests = [body for _, body in server.requests]

    nodes = trace["nodes"]
    assert [(n["kind"], n["parent"], n["depth"]) for n in nodes] == [
        ("call", None, 0),
        ("exec", 0, 0),
        ("call", 1, 1),
        ("call", None, 0),
        ("exec", 3, 0),
    ]
    root, block, sub, last, _ = nodes
    assert block["code"].startswith("part = context[:600]")
    assert "The number is 12." in block["output"]
    assert tuple(sub["span"]) == (0, 600) and sub["answer"] == "The number is 12."
    assert sub["gold"] is not None  # the evaluator scored the sub-call against its span
    assert last["answer"] == sample.answer and root["answer"] is None
    assert row["prediction"] == sample.answer and row["score"] == 1.0
    # every call's usage (9 prompt, 2 completion tokens each, as the double reports), priced
    assert row["calls"] == 3 and row["prompt_tokens"] == 27 and row["completion_tokens"] == 6
    assert row["cost_usd"] == pytest.approx(3 * (9 * 1.0 + 2 * 2.0) / 1e6)
    # greedy, capped, at the run's model; the sub-call is the prompt the code built
    assert all(b["temperature"] == 0 and b["model"] == "m" for b in requests)
    assert all(b["max_completion_tokens"] == 64 for b in requests)
    assert requests[1]["messages"][-1]["content"] == "Find the number in: " + sample.context[:600]


def test_running_out_of_iterations_takes_the_librarys_default_answer(sample):
    with ScriptedServer(chat_body("I think."), chat_body(sample.answer)) as server:
        solver = make_solver("rlms", {"max_iterations": 1})
        row, trace = solve(solver, sample, chat_model(server))
    kinds = [(n["kind"], n["answer"]) for n in trace["nodes"]]
    assert kinds == [("call", None), ("call", sample.answer)]
    assert row["prediction"] == sample.answer and trace["notes"]["iterations"] == 2


def test_a_library_limit_is_a_recorded_error_not_a_crash(sample):
    failing = repl_turn("1 / 0")
    with ScriptedServer(failing, failing) as server:
        solver = make_solver("rlms", {"max_iterations": 4, "max_errors": 1})
        row, trace = solve(solver, sample, chat_model(server))
    assert row["error"].startswith("RuntimeError: rlms failed: ErrorThresholdExceededError")
    assert row["score"] == 0.0 and row["failure"] is not None and trace["nodes"] == []


def test_a_child_that_hangs_is_killed_at_its_timeout(sample):
    with ScriptedServer(("hang", 30)) as server:
        solver = make_solver("rlms", {"timeout_s": 2})
        row, _ = solve(solver, sample, chat_model(server))
    assert row["error"] == "RuntimeError: rlms failed: no answer within timeout_s=2 s; killed"


def test_parameters_are_checked_before_any_model_loads():
    with pytest.raises(UserError, match="unknown parameter 'max_iters'.*max_iterations"):
        make_solver("rlms", {"max_iters": 3})
    with pytest.raises(UserError, match="call_max_tokens"):
        make_solver("rlms", {"call_max_tokens": 0})


def test_without_the_extra_one_line_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "rlm", None)
    with pytest.raises(UserError, match=r"solver rlms needs the rlms package: pip install -e "):
        make_solver("rlms", {})


def test_a_backend_the_library_cannot_reach_is_named(sample, tokenizer):
    solver = make_solver("rlms", {})
    with pytest.raises(UserError, match="embedded model or an OpenAI-compatible server"):
        asyncio.run(solver.solve(sample, ScriptedModel(tokenizer)))


@pytest.mark.slow
def test_on_the_embedded_model_it_serves_the_model_and_stops_the_server(tokenizer):
    model = load_model("embedded")  # Gemma 270M: the path is under test, not the answers
    sample = get_task("niah_single", model.tokenizer).sample(512, 0, 0)
    solver = make_solver("rlms", {"max_iterations": 1, "call_max_tokens": 32})
    try:
        endpoint = solver._endpoints.get(model)
        result = asyncio.run(solver.solve(sample, model))
    finally:
        solver.close()
    calls = result.trace.calls
    assert len(calls) == 2  # one turn, then the library's default answer
    assert all(c.prompt_tokens > 0 and c.completion_tokens > 0 for c in calls)
    assert json.dumps(result.notes)  # the notes go to traces.jsonl as they are
    with pytest.raises(OSError):
        urllib.request.urlopen(endpoint.base_url.removesuffix("/v1") + "/health", timeout=2)


def test_the_solver_list_says_where_its_code_runs(capsys):
    from rlm_bench.cli import main

    assert main(["list", "solvers"]) == 0
    lines = dict(line.partition(" ")[::2] for line in capsys.readouterr().out.splitlines())
    assert "not our sandbox" in lines["rlms"] and "bypass the response cache" in lines["rlms"]
    assert "sandboxed REPL" in lines["repl"]
