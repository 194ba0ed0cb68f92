"""Solvers speak chat to chat models: `direct` and `recursive` send the text and question as
messages, and the REPL runs the paper's conversation. Driven by `ScriptedModel` (a test double
that replays replies), with the REPL's code run in the real sandbox."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace

import pytest

from rlm_bench.errors import UserError
from rlm_bench.models.local_generation import cut_at_stop
from rlm_bench.solvers import make_solver
from rlm_bench.solvers.forms import answer_messages, pick_form
from rlm_bench.tasks import get_task
from tests.doubles import ScriptedModel


def solve(name, model, sample, **params):
    return asyncio.run(make_solver(name, params).solve(sample, model))


@pytest.fixture(scope="module")
def count_sample(tokenizer):
    task = get_task("aggregation_count", tokenizer)
    return task, task.sample(1024, 0, 0)


@pytest.fixture(scope="module")
def needle(tokenizer):
    task = get_task("niah_single", tokenizer)
    return task, task.sample(2048, 0, 1)


def test_auto_picks_chat_only_for_a_model_with_a_template(tokenizer):
    assert pick_form("auto", ScriptedModel(tokenizer, has_chat_template=True)) == "chat"
    assert pick_form("auto", ScriptedModel(tokenizer)) == "completion"
    assert pick_form("completion", ScriptedModel(tokenizer, has_chat_template=True)) == "completion"
    with pytest.raises(UserError, match="has no chat template"):
        pick_form("chat", ScriptedModel(tokenizer))
    with pytest.raises(UserError, match="form must be one of"):
        make_solver("direct", {"form": "prose"})


def test_solved_examples_become_earlier_turns(count_sample):
    _, sample = count_sample
    messages = answer_messages(sample.query, sample.context)
    roles = [m["role"] for m in messages]
    n = len(sample.query.examples)
    assert n >= 1 and roles == ["system", *["user", "assistant"] * n, "user"]
    assert messages[2]["content"].startswith(sample.query.answer_prefix)
    assert (
        messages[-1]["content"] == f"Text:\n{sample.context}\n\nQuestion: {sample.query.question}"
    )


def test_direct_sends_messages_to_a_chat_model_and_traces_the_form(tokenizer, count_sample):
    task, sample = count_sample
    model = ScriptedModel(tokenizer, has_chat_template=True)
    result = solve("direct", model, sample)
    assert model.prompts == [] and len(model.conversations) == 1
    assert sample.context in model.conversations[0][-1]["content"]
    assert task.score(result.prediction, sample) == 1.0  # the oracle double reads the chat
    assert [n.form for n in result.trace.calls] == ["chat"]
    base = ScriptedModel(tokenizer)
    assert solve("direct", base, sample).trace.calls[0].form == "completion"
    assert base.conversations == [] and len(base.prompts) == 1


def test_recursive_asks_every_leaf_in_chat(tokenizer, count_sample):
    task, sample = count_sample
    model = ScriptedModel(tokenizer, has_chat_template=True)
    result = solve("recursive", model, sample, depth=1, fanout=4)
    assert len(model.conversations) == 4 and model.prompts == []
    assert {n.form for n in result.trace.calls} == {"chat"}
    assert task.score(result.prediction, sample) == 1.0


class ChatTrajectory(ScriptedModel):
    """A chat model whose root turns replay `replies` (cut at the stops, as a backend cuts
    them); a conversation without the REPL's system prompt is a sub-call, answered by the
    oracle reader."""

    def __init__(self, tokenizer, replies, **kwargs):
        super().__init__(tokenizer, has_chat_template=True, chat_reply=self._turn, **kwargs)
        self.replies = list(replies)
        self.roots: list[list[dict]] = []

    def _turn(self, messages):
        if messages[0]["role"] == "system" and "REPL" in messages[0]["content"]:
            self.roots.append(messages)
            return self.replies.pop(0) if self.replies else "I am not sure."
        return self._reply_to_last_user(messages)

    async def chat(self, messages, *, max_tokens=16, stop=()):
        completion = await super().chat(messages, max_tokens=max_tokens, stop=stop)
        return replace(completion, text=cut_at_stop(completion.text, stop))


def key_of(sample) -> str:
    return re.search(r"magic number for (\S+?) mentioned", sample.query.question).group(1)


def test_the_repl_is_a_conversation_of_code_and_output_turns(tokenizer, needle):
    task, sample = needle
    key = key_of(sample)
    grep = f"```repl\nhits = [l for l in context.splitlines() if '{key}' in l]\nprint(hits)\n```"
    model = ChatTrajectory(tokenizer, [grep + "\nI will wait.", "FINAL_VAR(hits)"])
    result = solve("repl", model, sample)
    first, second = model.roots
    assert [m["role"] for m in first] == ["system", "user"]
    assert "context" in first[0]["content"] and str(len(sample.context)) not in first[0]["content"]
    assert str(len(sample.context)) in first[1]["content"]  # sizes go in the user turn
    assert sample.query.question in first[1]["content"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert second[2]["content"] == grep  # the reply ends where its block closes
    assert second[3]["content"].startswith("Output:\n[") and sample.answer in second[3]["content"]
    assert sample.query.question in second[3]["content"]  # the guide repeats the question
    assert task.score(result.prediction, sample) == 1.0
    assert result.notes["final"] == "FINAL_VAR" and result.notes["form"] == "chat"
    assert [n.form for n in result.trace.calls] == ["chat", "chat"]


def test_a_repeated_block_ends_the_loop_with_a_final_answer_call(tokenizer, needle):
    task, sample = needle
    key = key_of(sample)
    grep = f"```repl\nprint([l for l in context.splitlines() if '{key}' in l])\n```"
    model = ChatTrajectory(tokenizer, [grep, grep, f"FINAL({sample.answer})"])
    result = solve("repl", model, sample, max_iterations=6)
    assert result.notes["repeats"] == 1 and result.notes["final"] == "out_of_turns"
    assert result.notes["iterations"] == 2 and len(result.trace.calls) == 3
    closing = model.roots[-1][-1]
    assert closing["role"] == "user" and "no turns left" in closing["content"]
    assert task.score(result.prediction, sample) == 1.0
    unguided = ChatTrajectory(tokenizer, [grep, grep, grep])
    plain = solve("repl", unguided, sample, max_iterations=3, guide=False)
    assert plain.notes["iterations"] == 3 and plain.notes["repeats"] == 0
    assert sample.query.question not in unguided.roots[1][-1]["content"]
    assert "Search `context`" in model.roots[0][1]["content"]
    assert "Search `context`" not in unguided.roots[0][1]["content"]


def test_sub_calls_go_to_the_sub_model_as_chat(tokenizer, needle):
    task, sample = needle
    ask = (
        "```repl\nparts = [context[i:i + 2000] for i in range(0, len(context), 2000)]\n"
        f"replies = llm_query_batched(['Text:\\n' + p + '\\n\\nQuestion: {sample.query.question}'"
        " for p in parts])\nprint(replies)\n```"
    )
    model = ChatTrajectory(tokenizer, [ask, f"FINAL({sample.answer})"])
    result = solve("repl", model, sample)
    subs = [n for n in result.trace.calls if n.depth == 1]
    assert subs and {n.form for n in subs} == {"chat"} and all(n.span for n in subs)
    assert task.score(result.prediction, sample) == 1.0


def test_a_long_history_is_cut_and_the_cut_is_said(tokenizer, needle):
    _, sample = needle
    noisy = "```repl\nprint('x' * 1500)\n```"
    model = ChatTrajectory(tokenizer, [noisy] * 3 + [noisy.replace("x", "y")] * 3,
                           context_window=1400)  # fmt: skip
    solve("repl", model, sample, max_iterations=6, max_tokens=64, guide=False)
    last = model.roots[-1]
    assert "messages after this one are left out" in last[1]["content"]
    assert [m["role"] for m in last[:2]] == ["system", "user"]
    assert len(last) < 2 + 2 * 5


def test_run_json_records_each_solvers_form(tmp_path, capsys):
    import tests.doubles  # noqa: F401  (registers the `scripted` backend)
    from rlm_bench.cli import main

    out = tmp_path / "run"
    argv = [
        "run",
        "--model",
        "scripted",
        "--tasks",
        "niah_single",
        "--lengths",
        "512",
        "--samples",
        "1",
        "--solvers",
        "direct,repl",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(argv) == 0, capsys.readouterr().err
    info = json.loads((out / "run.json").read_text())
    assert info["prompt_forms"] == {"direct": "completion", "repl": "completion"}
    traces = [json.loads(line) for line in (out / "traces.jsonl").read_text().splitlines()]
    forms = {n["form"] for t in traces for n in t["nodes"] if n["kind"] == "call"}
    assert forms == {"completion"}
