"""The `dspy_rlm` adapter: the real `dspy.RLM` run on the run's model, its code in our sandbox,
its calls mapped into our trace.

The fast tests run the real dspy (its prompts, ChatAdapter, loop and HTTP client) against
`ScriptedServer`, a test double for an OpenAI-compatible server that replays a root model's
turns in dspy's field format and a sub-model's answers with usage. (dspy's own `DummyLM` would
skip the HTTP client and reports no usage, so tokens and cost could not be checked with it.)
The interpreter is also tested alone. The slow test runs a whole `rlm_bench run` on the
embedded Qwen through a real `rlm_bench serve` that the adapter starts and stops itself.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import urllib.request

import dspy
import pytest
from dspy.primitives.code_interpreter import CodeExecutionError, CodeInterpreterError, FinalOutput

from rlm_bench import cli
from rlm_bench.errors import UserError
from rlm_bench.models import served_process
from rlm_bench.models.openai_backend import OpenAIModel
from rlm_bench.models.served_process import free_port
from rlm_bench.solvers import make_solver
from rlm_bench.solvers.dspy_interpreter import Block, SandboxInterpreter
from rlm_bench.tasks import get_task
from tests.doubles import ScriptedModel
from tests.scripted_server import ScriptedServer, chat_body, chat_model, solve_niah_cell

QWEN = "embedded:qwen2.5-coder-0.5b"


@pytest.fixture(scope="module")
def sample(tokenizer):
    return get_task("niah_single", tokenizer).sample(1024, 0, 0)


def turn(reasoning: str, code: str) -> dict:
    """A root reply as dspy's ChatAdapter asks for it: the action's two output fields."""
    return chat_body(
        f"[[ ## reasoning ## ]]\n{reasoning}\n\n[[ ## code ## ]]\n```python\n{code}\n```\n\n"
        "[[ ## completed ## ]]"
    )


def fields(**values: str) -> dict:
    """A reply with the given output fields (dspy's `extract` call, a sub-agent's predictor)."""
    text = "".join(f"[[ ## {name} ## ]]\n{value}\n\n" for name, value in values.items())
    return chat_body(text + "[[ ## completed ## ]]")


def solve(solver, sample, model):
    return solve_niah_cell("dspy_rlm", solver, sample, model)


def shape(nodes: list[dict]) -> list[tuple]:
    return [(n["kind"], n["parent"], n["depth"]) for n in nodes]


# --- dspy.RLM through the adapter -------------------------------------------------------------


def test_a_trajectory_becomes_calls_blocks_and_located_sub_calls(sample):
    script = [
        turn(
            "Ask about the start.", "part = context[:600]\nprint(llm_query('Find it in: ' + part))"
        ),
        chat_body("The number is 12."),
        turn("Submit what the text says.", f"print('done')\nSUBMIT('{sample.answer}')"),
    ]
    with ScriptedServer(*script) as server:
        solver = make_solver("dspy_rlm", {"max_iters": 4, "max_tokens": 64})
        row, trace = solve(solver, sample, chat_model(server))
        requests = [body for _, body in server.requests]

    nodes = trace["nodes"]
    assert shape(nodes) == [
        ("call", None, 0),
        ("exec", 0, 0),
        ("call", 1, 1),
        ("call", None, 0),
        ("exec", 3, 0),
    ]
    root, block, sub, last, submit = nodes
    assert root["output"].startswith("[[ ## reasoning ## ]]\nAsk about the start.")
    assert block["code"].startswith("part = context[:600]") and block["error"] is None
    assert block["output"].strip() == "The number is 12." and block["latency_s"] > 0
    assert tuple(sub["span"]) == (0, 600) and sub["answer"] == "The number is 12."
    assert sub["gold"] is not None  # the evaluator scored the sub-call against its span
    assert last["answer"] == sample.answer and root["answer"] is None
    assert submit["code"].endswith(f"SUBMIT('{sample.answer}')")
    assert submit["output"].strip() == "done" and submit["error"] is None
    assert all(n["form"] == "chat" for n in nodes if n["kind"] == "call")
    assert row["prediction"] == sample.answer and row["score"] == 1.0 and row["error"] is None
    # every call's usage (9 prompt, 2 completion tokens each, as the double reports), priced
    assert row["calls"] == 3 and row["prompt_tokens"] == 27 and row["completion_tokens"] == 6
    assert row["cost_usd"] == pytest.approx(3 * (9 * 1.0 + 2 * 2.0) / 1e6)
    assert row["latency_s"] > 0
    notes = trace["notes"]
    assert notes["final"] == "SUBMIT" and notes["iterations"] == 2 and notes["sub_agents"]
    assert json.dumps(notes)  # the notes go to traces.jsonl as they are
    # greedy, capped, the sub-call as one user message, the context never in a root prompt
    assert all(r["temperature"] == 0 and r["max_completion_tokens"] == 64 for r in requests)
    assert requests[1]["messages"] == [
        {"role": "user", "content": "Find it in: " + sample.context[:600]}
    ]
    assert sample.context[1000:1400] not in json.dumps(requests[0])
    assert "cache" not in vars(dspy)  # dspy never opened its disk cache (~/.dspy_cache)


def test_running_out_of_iterations_ends_with_dspys_extract_call(sample):
    script = [turn("Look first.", "print(len(context))"), fields(answer=sample.answer)]
    with ScriptedServer(*script) as server:
        solver = make_solver("dspy_rlm", {"max_iters": 1})
        row, trace = solve(solver, sample, chat_model(server))
    assert shape(trace["nodes"]) == [("call", None, 0), ("exec", 0, 0), ("call", None, 0)]
    assert trace["nodes"][1]["output"].strip() == str(len(sample.context))
    assert trace["nodes"][2]["answer"] == sample.answer and row["score"] == 1.0
    assert trace["notes"]["final"] == "extract" and trace["notes"]["out_of_iterations"]


@pytest.mark.filterwarnings("ignore:Passing OpenAI-style:DeprecationWarning")  # dspy's facade
def test_batched_sub_calls_and_a_sub_agent_are_sub_calls_of_their_block(sample):
    code = (
        "answers = llm_query_batched([context[:600], context[600:1200]])\n"
        "import dspy\n"
        "print(answers, dspy.Predict('question -> answer')(question='What is 2 + 2?').answer)"
    )
    script = [
        turn("Ask in parallel, then a sub-agent.", code),
        chat_body("none"),
        chat_body("none"),
        fields(answer="4"),
        turn("Done.", "SUBMIT('4')"),
    ]
    with ScriptedServer(*script) as server:
        solver = make_solver("dspy_rlm", {"max_iters": 3})
        row, trace = solve(solver, sample, chat_model(server))
    nodes = trace["nodes"]
    assert shape(nodes) == [
        ("call", None, 0),
        ("exec", 0, 0),
        ("call", 1, 1),
        ("call", 1, 1),
        ("call", 1, 1),
        ("call", None, 0),
        ("exec", 5, 0),
    ]
    assert {tuple(n["span"]) for n in nodes[2:4]} == {(0, 600), (600, 1200)}
    assert nodes[4]["span"] is None and "4" in nodes[4]["output"]
    assert nodes[1]["output"].strip() == "['none', 'none'] 4"
    assert nodes[5]["answer"] == "4" and row["calls"] == 5


def test_block_errors_and_timeouts_are_shown_to_the_model_and_the_run_goes_on(sample):
    script = [
        turn("Loop.", "x = 1\nwhile True:\n    pass"),
        turn("Fail.", "print('before')\n1 / 0"),
        turn("Bad syntax.", "print(x"),
        turn("Again.", f"print('x' in globals())\nSUBMIT('{sample.answer}')"),
    ]
    with ScriptedServer(*script) as server:
        solver = make_solver("dspy_rlm", {"max_iters": 5, "timeout_s": 1})
        row, trace = solve(solver, sample, chat_model(server))
        prompts = [body["messages"][-1]["content"] for _, body in server.requests]
    blocks = [n for n in trace["nodes"] if n["kind"] == "exec"]
    assert "timed out after 1 s" in blocks[0]["error"]
    assert blocks[1]["output"].startswith("before\n") and "ZeroDivisionError" in blocks[1]["error"]
    assert "SyntaxError" in blocks[2]["error"]
    assert blocks[3]["output"].strip() == "False"  # the REPL restarted: x is gone, SUBMIT is not
    assert "timed out after 1 s" in prompts[1] and "ZeroDivisionError" in prompts[2]
    assert "before" in prompts[2] and "SyntaxError" in prompts[3]
    assert row["prediction"] == sample.answer and row["error"] is None
    notes = trace["notes"]
    assert notes["block_errors"] == 3 and notes["timeouts"] == 1 and notes["blocks"] == 4


def test_a_failure_inside_dspy_is_a_recorded_error_not_a_crash(sample):
    with ScriptedServer((400, {})) as server:  # a request the server refuses: dspy raises
        row, trace = solve(make_solver("dspy_rlm", {}), sample, chat_model(server))
    assert row["error"].startswith("RuntimeError: dspy.RLM failed: LMInvalidRequestError: ")
    assert row["score"] == 0.0 and row["failure"] == "crash" and trace["nodes"] == []
    unreadable = chat_body("I will not use the fields.")
    with ScriptedServer(unreadable, unreadable) as server:  # ChatAdapter, then JSONAdapter
        row, _ = solve(make_solver("dspy_rlm", {}), sample, chat_model(server))
    assert row["error"].startswith("RuntimeError: dspy.RLM failed: AdapterParseError: ")


def test_sub_calls_go_to_the_sub_model_with_their_own_cap(sample):
    script = [turn("Ask.", "print(llm_query('hi'))"), turn("Done.", "SUBMIT('x')")]
    with ScriptedServer(*script) as root, ScriptedServer(chat_body("hello")) as sub:
        solver = make_solver("dspy_rlm", {"max_tokens": 64, "sub_max_tokens": 16})
        solver.use_sub_model(OpenAIModel("s", base_url=sub.base_url, endpoint="chat"))
        row, trace = solve(solver, sample, chat_model(root))
        assert [b["model"] for _, b in root.requests] == ["m", "m"]
        assert [(b["model"], b["max_completion_tokens"]) for _, b in sub.requests] == [("s", 16)]
    assert trace["nodes"][2]["answer"] == "hello" and trace["nodes"][2]["cost_usd"] == 0.0


def test_parameters_are_checked_before_any_model_loads():
    with pytest.raises(UserError, match="max_iters"):
        make_solver("dspy_rlm", {"max_iters": 0})
    with pytest.raises(UserError, match="timeout_s"):
        make_solver("dspy_rlm", {"timeout_s": 0})
    with pytest.raises(UserError, match="bad parameters"):
        make_solver("dspy_rlm", {"max_iterations": 3})


def test_without_the_extra_one_line_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "dspy", None)
    with pytest.raises(
        UserError, match=r'^solver dspy_rlm needs the dspy package: pip install -e "\.\[dspy\]"$'
    ):
        make_solver("dspy_rlm", {})


def test_the_solver_list_says_where_its_code_runs(capsys):
    assert cli.main(["list", "solvers"]) == 0
    lines = dict(line.partition(" ")[::2] for line in capsys.readouterr().out.splitlines())
    assert "runs in our sandbox" in lines["dspy_rlm"]
    assert "bypass the response cache" in lines["dspy_rlm"]


def test_a_backend_dspy_cannot_reach_is_named(sample, tokenizer):
    solver = make_solver("dspy_rlm", {})
    with pytest.raises(UserError, match="embedded model or an OpenAI-compatible server"):
        asyncio.run(solver.solve(sample, ScriptedModel(tokenizer)))


# --- the interpreter alone -------------------------------------------------------------------


@pytest.fixture
def repl():
    blocks: list[Block] = []
    interpreter = SandboxInterpreter(
        variables={"context": "abc" * 100},
        limits={"timeout_s": 2, "output_chars": 2000},
        on_block=blocks.append,
    )
    interpreter.blocks = blocks
    yield interpreter
    interpreter.shutdown()


def test_submit_takes_dspys_output_fields_by_position_or_name(repl):
    repl.output_fields = [{"name": "answer", "type": "str"}, {"name": "count"}]
    assert repl.execute("SUBMIT('x', 3)") == FinalOutput({"answer": "x", "count": 3})
    assert repl.execute("SUBMIT(count={1}, answer=None)") == FinalOutput(
        {"answer": None, "count": "{1}"}  # a value JSON cannot hold arrives as its repr
    )
    with pytest.raises(CodeExecutionError, match="missing 1 required positional argument"):
        repl.execute("SUBMIT('only one')")
    caught = repl.execute("try:\n    SUBMIT('a', 1)\nexcept BaseException:\n    print('caught')")
    assert caught == FinalOutput({"answer": "a", "count": 1})  # SUBMIT ends the run anyway
    assert repl.blocks[0].submitted == {"answer": "x", "count": 3} and repl.blocks[0].error is None


def test_without_output_fields_submit_takes_one_output(repl):
    assert repl.execute("SUBMIT(len(context))") == FinalOutput({"output": 300})


def test_output_errors_and_variables(repl):
    assert repl.execute("print(context[:3])\nlen(context)") == "abc\n300\n"
    assert repl.execute("y = 1") is None
    with pytest.raises(SyntaxError, match="SyntaxError"):
        repl.execute("def (")
    with pytest.raises(CodeExecutionError, match=r"(?s)^half\n.*NameError: name 'nope'"):
        repl.execute("print('half')\nnope")
    assert repl.execute("print(question, y)", {"question": "why?", "context": "abc" * 100}) == (
        "why? 1\n"
    )
    assert repl.execute("print(question)", {"question": "how?"}) == "how?\n"
    with pytest.raises(CodeInterpreterError, match="variable names"):
        repl.execute("1", {"SUBMIT": 1})


def test_a_timeout_restarts_the_repl_with_its_setup(repl):
    repl.output_fields = [{"name": "answer"}]
    repl.execute("kept = 1")
    start = time.monotonic()
    with pytest.raises(CodeExecutionError, match="timed out after 2 s"):
        repl.execute("while True:\n    pass")
    assert time.monotonic() - start < 10 and repl.blocks[-1].timed_out
    assert repl.execute("print('kept' in globals(), len(context))") == "False 300\n"
    assert repl.execute("SUBMIT('after')") == FinalOutput({"answer": "after"})


def test_tools_are_host_functions_called_by_keyword(repl):
    calls = []

    def invoke(**kwargs):  # how dspy.RLM wraps a tool: keyword arguments only
        calls.append(kwargs)
        if kwargs["prompt"] == "fail":
            raise ValueError("no such thing")
        return kwargs["prompt"].upper()

    invoke.__signature__ = __import__("inspect").signature(lambda prompt: None)
    repl.tools["shout"] = invoke
    assert repl.execute("print(shout('hey'), shout(prompt='you'))") == "HEY YOU\n"
    assert calls == [{"prompt": "hey"}, {"prompt": "you"}]
    with pytest.raises(CodeExecutionError, match="ValueError: no such thing"):
        repl.execute("shout('fail')")
    repl.tools["late"] = invoke
    with pytest.raises(
        CodeInterpreterError, match=r"tools added after the REPL started: \['late'\]"
    ):
        repl.execute("1")


def test_a_shut_down_interpreter_refuses_work(repl):
    repl.execute("1")
    repl.shutdown()
    with pytest.raises(CodeInterpreterError, match="shut down"):
        repl.execute("1")


# --- a real run --------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_run_on_the_embedded_model_serves_it_records_rows_and_stops_the_server(
    tmp_path, capsys, monkeypatch
):
    """One sample, two solver labels: the adapter with small caps, and one whose 1-token replies
    dspy cannot parse, a failure that must be that sample's recorded error. The two labels share
    one server, which must be gone when the run ends."""
    ports: list[int] = []

    def recorded_port() -> int:
        ports.append(free_port())
        return ports[-1]

    monkeypatch.setattr(served_process, "free_port", recorded_port)
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"model: {QWEN}\ntasks: [niah_single]\nlengths: [1k]\nsamples: 1\nseed: 0\n"
        "solvers:\n"
        "  - {label: dspy_rlm, solver: dspy_rlm, max_iters: 1, max_tokens: 128}\n"
        "  - {label: dspy_unparsable, solver: dspy_rlm, max_iters: 1, max_tokens: 1}\n"
    )
    out = tmp_path / "run"
    started = time.monotonic()
    code = cli.main(["run", "--suite", str(suite), "--out", str(out), "--no-progress"])
    elapsed = time.monotonic() - started
    assert code == 0, capsys.readouterr().err
    rows = {r["solver"]: r for r in map(json.loads, (out / "samples.jsonl").open())}
    traces = {t["solver"]: t for t in map(json.loads, (out / "traces.jsonl").open())}
    ok, failed = rows["dspy_rlm"], rows["dspy_unparsable"]
    assert ok["error"] is None and ok["calls"] >= 1
    nodes = traces["dspy_rlm"]["nodes"]
    calls = [n for n in nodes if n["kind"] == "call"]
    assert calls and all(c["prompt_tokens"] > 0 and c["completion_tokens"] > 0 for c in calls)
    assert failed["error"].startswith("RuntimeError: dspy.RLM failed: ")
    assert failed["failure"] == "crash" and traces["dspy_unparsable"]["nodes"] == []
    assert len(ports) == 1
    for port in ports:
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
    with capsys.disabled():
        summary = ", ".join(f"{n['kind']}(parent={n['parent']})" for n in nodes)
        print(f"\n[dspy_rlm real run: {elapsed:.1f} s; {summary}; {traces['dspy_rlm']['notes']}]")
