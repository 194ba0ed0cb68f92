"""The REPL RLM's loop, driven by `TrajectoryModel`, a test double that replays a scripted root
trajectory (peek at the context, chunk it, `llm_query_batched` over the chunks, aggregate,
`FINAL_VAR`) and answers sub-calls as a perfect reader would. The code it writes runs in the
real sandbox."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace

import pytest

from rlm_bench.errors import UserError
from rlm_bench.models.local_generation import cut_at_stop
from rlm_bench.solvers import make_solver
from rlm_bench.solvers.repl import NO_CODE
from rlm_bench.tasks import get_task
from tests.doubles import ScriptedModel, oracle_reply

PEEK = "Let me look at the text first.\n```repl\nprint(len(context))\nprint(context[:120])\n```"
CHUNK_AND_ASK = """The text is long, so I will ask about pieces of it.
```repl
size = 1500
chunks = [context[i:i + size] for i in range(0, len(context), size)]
question = "What is the special magic number for {key} mentioned in the provided text?"
prompts = ["Text:\\n" + c + "\\n\\nQuestion: " + question + "\\nAnswer:" for c in chunks]
replies = llm_query_batched(prompts)
found = [r.strip(" .") for r in replies if r.strip(" .") != "none"]
result = found[0] if found else "none"
print(replies)
```"""


class TrajectoryModel(ScriptedModel):
    """Root prompts (they end with the assistant's turn) get the next scripted reply; any other
    prompt is a sub-call, answered by `sub_reply` (the oracle reader by default). Its stops cut
    the text as a real backend's do."""

    def __init__(self, tokenizer, root_replies, sub_reply=oracle_reply, delay_s=0.0):
        super().__init__(tokenizer, reply=self._reply, delay_s=delay_s)
        self.root_replies = list(root_replies)
        self.sub_reply = sub_reply
        self.root_prompts: list[str] = []

    def _reply(self, prompt: str) -> str:
        if prompt.endswith("### Assistant\n") or prompt.endswith("FINAL("):
            self.root_prompts.append(prompt)
            return self.root_replies.pop(0) if self.root_replies else "I am not sure."
        return self.sub_reply(prompt)

    async def complete(self, prompt, *, max_tokens=16, stop=()):
        completion = await super().complete(prompt, max_tokens=max_tokens, stop=stop)
        return replace(completion, text=cut_at_stop(completion.text, stop))


@pytest.fixture(scope="module")
def needle(tokenizer):
    task = get_task("niah_single", tokenizer)
    return task, task.sample(2048, 0, 1)


def solve(solver_name, model, sample, **params):
    return asyncio.run(make_solver(solver_name, params).solve(sample, model))


def key_of(sample) -> str:
    return re.search(r"magic number for (\S+?) mentioned", sample.query.question).group(1)


def test_a_realistic_trajectory_finds_the_needle_and_traces_every_step(tokenizer, needle):
    task, sample = needle
    model = TrajectoryModel(
        tokenizer,
        [PEEK, CHUNK_AND_ASK.format(key=key_of(sample)), "The REPL found it.\nFINAL_VAR(result)"],
        delay_s=0.01,
    )
    result = solve("repl", model, sample)

    assert result.prediction == sample.answer and task.score(result.prediction, sample) == 1.0
    assert result.notes == {"final": "FINAL_VAR", "iterations": 3, "block_errors": 0,
                            "timeouts": 0, "repeats": 0, "form": "completion"}  # fmt: skip
    nodes = result.trace.nodes
    roots = [n for n in nodes if n.kind == "call" and n.depth == 0]
    blocks = [n for n in nodes if n.kind == "exec"]
    subs = [n for n in nodes if n.kind == "call" and n.depth == 1]
    assert len(roots) == 3 and len(blocks) == 2
    assert roots[-1].answer == sample.answer
    assert blocks[0].output.startswith(f"{len(sample.context)}\n{sample.context[:40]}")
    assert "size = 1500" in blocks[1].code and blocks[1].parent == roots[1].id
    # One sub-call per chunk, under the block that made it, each with the chunk's span, so the
    # task's gold for that span scores it.
    chunks = range(0, len(sample.context), 1500)
    assert len(subs) == len(chunks) and {n.parent for n in subs} == {blocks[1].id}
    for node in subs:
        start, end = node.span
        assert sample.context[start:end] in sample.context
        gold = task.gold_for_span(sample, start, end)
        assert (gold == sample.answer) == (node.answer.strip(" .") == sample.answer)
    # The sub-calls really ran side by side.
    assert model.most_in_flight > 1
    # The context never entered a root prompt; the REPL output did.
    needle_line = next(line for line in sample.context.splitlines() if sample.answer in line)
    assert all(needle_line not in p for p in model.root_prompts)
    assert "### REPL output\n" + str(len(sample.context)) in model.root_prompts[1]


def test_a_reply_without_code_or_answer_is_told_how_to_go_on(tokenizer, needle):
    _, sample = needle
    model = TrajectoryModel(tokenizer, ["The answer is probably in the text.", "FINAL(1234567)"])
    result = solve("repl", model, sample)
    assert f"### User\n{NO_CODE}" in model.root_prompts[1]
    assert result.notes["final"] == "FINAL" and result.prediction == "1234567"


def test_final_written_inside_code_is_the_answer(tokenizer, needle):
    _, sample = needle
    code = "```repl\nvalue = context.count('magic')\nFINAL(value)\n```"
    result = solve("repl", TrajectoryModel(tokenizer, [code]), sample)
    assert result.notes["final"] == "code"
    assert result.trace.calls[0].answer == str(sample.context.count("magic"))


def test_a_reply_ends_with_its_first_block_and_the_transcript_closes_its_fence(tokenizer, needle):
    _, sample = needle
    two_blocks = "```repl\nx = 2\n```\n```repl\nx = 3\n```\nFINAL_VAR(x)"
    model = TrajectoryModel(tokenizer, [two_blocks, "FINAL_VAR(x)"])
    result = solve("repl", model, sample)
    assert [n.code for n in result.trace.nodes if n.kind == "exec"] == ["x = 2"]
    assert "### Assistant\n```repl\nx = 2\n```\n### REPL output\n" in model.root_prompts[1]
    assert result.trace.calls[-1].answer == "2" and result.notes["iterations"] == 2


def test_final_var_of_an_unknown_variable_goes_back_to_the_model(tokenizer, needle):
    _, sample = needle
    replies = ["FINAL_VAR(answer)", "```repl\nanswer = 7654321\n```\nFINAL_VAR(answer)"]
    model = TrajectoryModel(tokenizer, replies)
    result = solve("repl", model, sample, stop_after_code=False)
    assert "FINAL_VAR(answer): there is no variable answer in the REPL." in model.root_prompts[1]
    assert result.prediction == "7654321" and result.notes["iterations"] == 2


def test_an_exception_goes_back_with_its_traceback_and_state_persists(tokenizer, needle):
    _, sample = needle
    replies = [
        "```repl\nn = len(context)\nprint(1 / 0)\n```",
        "```repl\nprint(n // 2)\n```",
        "FINAL(done)",
    ]
    model = TrajectoryModel(tokenizer, replies)
    result = solve("repl", model, sample)
    assert "Traceback" in model.root_prompts[1] and "ZeroDivisionError" in model.root_prompts[1]
    assert f"### REPL output\n{len(sample.context) // 2}" in model.root_prompts[2]
    assert result.notes["block_errors"] == 1
    failed = next(n for n in result.trace.nodes if n.kind == "exec" and n.error)
    assert "ZeroDivisionError" in failed.error


def test_a_model_that_never_answers_still_yields_a_scored_sample(tokenizer, needle):
    task, sample = needle
    model = TrajectoryModel(tokenizer, ["Hmm."] * 3 + ["I cannot tell"])
    result = solve("repl", model, sample, max_iterations=3)
    assert result.prediction is None and task.score(result.prediction, sample) == 0.0
    assert result.notes == {"final": "out_of_turns", "iterations": 3, "block_errors": 0,
                            "timeouts": 0, "repeats": 0, "form": "completion"}  # fmt: skip
    assert len(result.trace.calls) == 4  # three turns, then the call that asks for the answer
    assert model.root_prompts[-1].endswith("FINAL(")


def test_a_block_that_hangs_times_out_and_the_loop_goes_on(tokenizer, needle):
    _, sample = needle
    replies = ["```repl\nx = 1\nwhile True:\n    pass\n```", "```repl\nprint(len(context))\n```",
               "FINAL(ok)"]  # fmt: skip
    model = TrajectoryModel(tokenizer, replies)
    result = solve("repl", model, sample, timeout_s=1.0)
    assert result.notes["timeouts"] == 1 and result.prediction is None  # "ok" is not a number
    assert "timed out" in model.root_prompts[1]
    assert f"### REPL output\n{len(sample.context)}" in model.root_prompts[2]


def test_the_ablation_has_no_llm_query(tokenizer, needle):
    _, sample = needle
    model = TrajectoryModel(tokenizer, ["```repl\nprint(llm_query('hi'))\n```", "FINAL(none)"])
    result = solve("repl_no_subcalls", model, sample)
    assert "NameError" in model.root_prompts[1] and "llm_query" not in model.root_prompts[0]
    assert result.prediction == "none"
    assert all(n.depth == 0 for n in result.trace.nodes)


def test_at_depth_two_a_query_is_a_repl_of_its_own(tokenizer, needle):
    _, sample = needle
    ask = "r = llm_query('Text:\\n' + context[:300] + '\\n\\nQuestion: first word?')"
    outer = f"```repl\n{ask}\n```"
    inner = "```repl\nprint(context.split()[1])\n```"
    replies = [outer, inner, "FINAL(inner answer)", "FINAL_VAR(r)"]
    model = TrajectoryModel(tokenizer, replies)
    result = solve("repl", model, sample, max_depth=2)
    assert result.notes["final"] == "FINAL_VAR"
    nodes = result.trace.nodes
    outer_block = next(n for n in nodes if n.kind == "exec" and n.depth == 0)
    nested_calls = [n for n in nodes if n.kind == "call" and n.depth == 1]
    assert [n.parent for n in nested_calls] == [outer_block.id] * 2
    assert nested_calls[-1].answer == "inner answer"
    inner_block = next(n for n in nodes if n.kind == "exec" and n.depth == 1)
    assert inner_block.output.strip() == sample.context.split()[0]  # "Text:" was word 0
    # The nested REPL is asked to carry out the request in its `context`: the prompt it was
    # given, which stays out of its own root prompt.
    assert "holds a request" in model.root_prompts[1]
    assert "Question: first word?" not in model.root_prompts[1]


def test_sub_model_answers_the_queries(tokenizer, needle):
    _, sample = needle
    root = TrajectoryModel(tokenizer, ["```repl\nr = llm_query('Q?')\n```", "FINAL_VAR(r)"])
    sub = ScriptedModel(tokenizer, reply=lambda prompt: " from the sub-model")
    solver = make_solver("repl", {})
    solver.use_sub_model(sub)
    result = asyncio.run(solver.solve(sample, root))
    assert sub.prompts == ["Q?"] and result.trace.nodes[-1].depth == 0
    assert any(n.answer == "from the sub-model" for n in result.trace.nodes)


@pytest.mark.parametrize(
    "params",
    [
        {"max_depth": 0},
        {"max_iterations": 0},
        {"output_chars": 10},
        {"timeout_s": 0},
        {"memory_mb": 1},
    ],  # fmt: skip
)
def test_bad_parameters_are_one_line_errors(params):
    with pytest.raises(UserError, match="repl solver needs"):
        make_solver("repl", params)


WHOLE_CONTEXT = """I will ask about the whole text at once.
```repl
reply = llm_query("Text:\\n" + context + "\\n\\nQuestion: what is the magic number?\\nAnswer:")
print(reply)
```"""
SMALL_PIECE = """```repl
print(llm_query("Text:\\n" + context[:200] + "\\n\\nQuestion: is there a number?\\nAnswer:"))
```"""


@pytest.mark.parametrize(
    ("window", "measured"),
    [(1600, "tokens"), (1024, "characters")],  # 9.8K characters: counted, or far too long
)
def test_a_sub_call_longer_than_the_window_is_refused_with_a_message(
    tokenizer, needle, window, measured
):
    _, sample = needle
    sub = ScriptedModel(tokenizer, reply=lambda prompt: " none.", context_window=window)
    model = TrajectoryModel(tokenizer, [WHOLE_CONTEXT, SMALL_PIECE, "FINAL(none)"])
    solver = make_solver("repl", {})
    solver.use_sub_model(sub)
    result = asyncio.run(solver.solve(sample, model))

    assert len(sub.prompts) == 1 and len(sub.prompts[0]) < 1024  # only the small piece reached it
    refused = model.root_prompts[1]
    room = window - 128  # less the sub-call's reply (sub_max_tokens)
    assert f"more than the {room} tokens llm_query can read; split the text" in refused
    assert refused.split("Error: this prompt is ", 1)[1].split(",")[0].endswith(measured)
    assert "none" in model.root_prompts[2]
    assert result.prediction == "none"
