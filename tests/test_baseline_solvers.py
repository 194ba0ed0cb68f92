"""The paper's baselines besides `direct`: BM25 retrieval, the summary (compaction) agent and
CodeAct with a BM25 search. Driven by test doubles (`ScriptedModel` and the REPL tests' scripted
trajectories) on generated tasks with the real tokenizer; the CodeAct blocks run in the real
sandbox. The slow tests at the end run each on the embedded model."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import replace

import pytest

from rlm_bench.errors import UserError
from rlm_bench.evaluation.node_scoring import annotate
from rlm_bench.solvers import make_solver
from rlm_bench.solvers.bm25_index import ChunkIndex
from rlm_bench.solvers.forms import chat_tokens
from rlm_bench.solvers.summary import CHAT_SYSTEM, COMPLETION_CUE, NO_NOTES, NOTES_LABEL
from rlm_bench.tasks import get_task
from tests.doubles import ScriptedModel, oracle_reply
from tests.test_chat_solvers import ChatTrajectory
from tests.test_repl_solver import TrajectoryModel


def solve(name, model, sample, **params):
    return asyncio.run(make_solver(name, params).solve(sample, model))


@pytest.fixture(scope="module")
def needle(tokenizer):
    task = get_task("niah_single", tokenizer)
    return task, task.sample(4096, seed=3, index=2)


def needle_span(sample) -> tuple[int, int]:
    (found,) = sample.metadata["needles"]
    return found["start"], found["end"]


def holds(span, inner) -> bool:
    return span[0] <= inner[0] and inner[1] <= span[1]


def fits(model, prompt: str) -> bool:
    return model.tokenizer.count(prompt) + 1 <= model.context_window  # +1: the <bos>


def ask_instead(sample, question: str):
    return replace(sample, query=replace(sample.query, question=question))


# --- retrieval ------------------------------------------------------------------------------


def test_retrieval_puts_the_needles_part_in_one_prompt_in_context_order(tokenizer, needle):
    task, sample = needle
    model = ScriptedModel(tokenizer)
    result = solve("retrieval", model, sample, k=3, chunk_tokens=256)

    assert task.score(result.prediction, sample) == 1.0
    (prompt,) = model.prompts
    assert fits(model, prompt) and len(prompt) < len(sample.context) / 3
    root, *hits = result.trace.nodes
    assert root.kind == "call" and root.depth == 0 and root.span is None
    assert hits and all(h.kind == "retrieve" and h.parent == root.id for h in hits)
    assert [h.rank for h in hits] == list(range(len(hits)))
    assert [h.retrieval_score for h in hits] == sorted(
        (h.retrieval_score for h in hits), reverse=True
    )
    assert all(h.retrieval_score > 0 and h.query == sample.query.question for h in hits)
    assert holds(hits[0].span, needle_span(sample))  # the best hit holds the needle
    texts = [sample.context[slice(*h.span)] for h in sorted(hits, key=lambda h: h.span)]
    at = [prompt.index(text) for text in texts]
    assert at == sorted(at)  # in the order of the text, whatever their rank
    assert result.trace.calls == [root]
    assert result.notes["kept"] == len(hits) and not result.truncated


def test_a_query_about_other_text_retrieves_no_needle_part(tokenizer, needle):
    _, sample = needle
    index = ChunkIndex(sample.context, sample.actual_length, 256)
    far = next(s for s in index.spans if not holds(s, needle_span(sample)))
    other = " ".join(sample.context[far[0] : far[1]].split()[:12])
    result = solve("retrieval", ScriptedModel(tokenizer), ask_instead(sample, other), k=2,
                   chunk_tokens=256)  # fmt: skip
    spans = [n.span for n in result.trace.nodes if n.kind == "retrieve"]
    assert far in spans and not any(holds(s, needle_span(sample)) for s in spans)
    unknown = ask_instead(sample, "What is the zyxxyq of the plorf?")
    model = ScriptedModel(tokenizer)
    nothing = solve("retrieval", model, unknown)
    assert [n.kind for n in nothing.trace.nodes] == ["call"]  # no word in common: no hit
    assert nothing.notes["hits"] == 0 and nothing.prediction == "none"


def test_retrieval_keeps_only_the_best_parts_that_fit_the_window(tokenizer):
    sample = get_task("aggregation_count", tokenizer).sample(4096, seed=3, index=1)
    model = ScriptedModel(tokenizer, context_window=900)
    result = solve("retrieval", model, sample, k=8, chunk_tokens=256)
    assert fits(model, model.prompts[0])
    assert 1 <= result.notes["kept"] < result.notes["hits"] == 8  # every part has records
    ranks = [n.rank for n in result.trace.nodes if n.kind == "retrieve"]
    assert ranks == list(range(len(ranks)))  # the best ones, not any that fit


def test_retrieval_asks_a_chat_model_in_chat_and_no_part_is_scored(tokenizer, needle):
    task, sample = needle
    model = ScriptedModel(tokenizer, has_chat_template=True)
    result = solve("retrieval", model, sample, k=2, chunk_tokens=256)
    assert model.prompts == [] and len(model.conversations) == 1
    assert chat_tokens(model, model.conversations[0]) <= model.context_window
    assert result.trace.calls[0].form == "chat" and task.score(result.prediction, sample) == 1.0
    nodes = result.trace.to_list()
    annotate(nodes, task, sample)
    assert all(n["correct"] is None for n in nodes)


# --- summary --------------------------------------------------------------------------------


class Summarizer(ScriptedModel):
    """A compaction step (a prompt ending in the copy cue) is answered with the old notes and the
    part's sentences about magic numbers; `extra` words pad every summary, to test the budget.
    Answer calls are read by the oracle. Records each call's `max_tokens`."""

    def __init__(self, tokenizer, extra: str = "", **kwargs):
        super().__init__(tokenizer, reply=self._reply, **kwargs)
        self.extra = extra
        self.max_tokens: list[int] = []

    def _reply(self, prompt: str) -> str:
        if not prompt.endswith(COMPLETION_CUE):
            return oracle_reply(prompt)
        text = prompt.split(NOTES_LABEL, 1)[1].split("\n\nQuestion: ", 1)[0]
        old, part = text.split("\n\n", 1)
        found = re.findall(r"[^.\n]*magic number[^.\n]*\.", part)
        notes = [] if old == NO_NOTES else [old]
        return " " + " ".join([*notes, *found, self.extra]).strip()

    async def complete(self, prompt, *, max_tokens=16, stop=()):
        self.max_tokens.append(max_tokens)
        return await super().complete(prompt, max_tokens=max_tokens, stop=stop)


def test_summary_compacts_part_by_part_and_answers_from_the_notes(tokenizer, needle):
    task, sample = needle
    model = Summarizer(tokenizer)
    result = solve("summary", model, sample, chunk_tokens=600, summary_tokens=64)

    assert task.score(result.prediction, sample) == 1.0
    root, *steps = result.trace.nodes
    assert root.kind == "call" and root.parent is None and root.depth == 0
    assert len(steps) == result.notes["steps"] >= 5  # 4096 tokens in parts of at most 600
    assert all(s.kind == "summarize" and s.parent == root.id and s.depth == 1 for s in steps)
    spans = [s.span for s in steps] + [root.span]
    assert spans[0][0] == 0 and spans[-1][1] == len(sample.context)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:], strict=False))  # they tile it
    assert all(tokenizer.count(sample.context[slice(*s)]) <= 600 for s in spans)
    read = next(i for i, s in enumerate(spans) if holds(s, needle_span(sample)))
    needle_line = f"is {sample.answer}."
    assert all((needle_line in s.answer) == (i >= read) for i, s in enumerate(steps))
    assert model.prompts[-1].startswith(f"Text:\n{NOTES_LABEL}")  # notes, then the last part
    assert all(fits(model, p) for p in model.prompts)
    assert model.max_tokens[:-1] == [64] * len(steps)
    assert len(result.trace.calls) == len(model.prompts)  # compaction steps count as calls
    nodes = result.trace.to_list()
    annotate(nodes, task, sample)
    assert all(n["correct"] is None for n in nodes)  # summaries are not part answers


def test_a_summary_is_held_to_its_budget(tokenizer, needle):
    _, sample = needle
    model = Summarizer(tokenizer, extra="and so on " * 400)
    result = solve("summary", model, sample, chunk_tokens=600, summary_tokens=32)
    for step in (n for n in result.trace.nodes if n.kind == "summarize"):
        assert tokenizer.count(step.output) > 800 and tokenizer.count(step.answer) <= 32
    notes = [p.split(NOTES_LABEL, 1)[1].split("\n\n", 1)[0] for p in model.prompts[1:]]
    assert notes and all(tokenizer.count(n) <= 32 for n in notes)
    assert all(fits(model, p) for p in model.prompts)


def test_summary_fills_the_window_and_a_text_that_fits_is_read_as_direct_reads_it(
    tokenizer, needle
):
    task, sample = needle
    small = Summarizer(tokenizer, context_window=1500)
    result = solve("summary", small, sample, summary_tokens=64)
    assert result.notes["steps"] >= 3 and all(fits(small, p) for p in small.prompts)
    assert task.score(result.prediction, sample) == 1.0
    whole, direct = Summarizer(tokenizer), ScriptedModel(tokenizer)
    assert solve("summary", whole, sample).notes["steps"] == 0
    solve("direct", direct, sample)
    assert whole.prompts == direct.prompts


def test_summary_speaks_chat_to_a_chat_model(tokenizer, needle):
    task, sample = needle

    def notes(messages):
        if messages[0]["content"].startswith("You read a long text"):
            part = messages[-1]["content"].split("Next part of the text:\n", 1)[1]
            old = messages[-1]["content"].split("Notes so far:\n", 1)[1].split("\n\n", 1)[0]
            found = re.findall(r"[^.\n]*magic number[^.\n]*\.", part)
            return " ".join([*([] if old == "nothing yet." else [old]), *found])
        return oracle_reply(messages[-1]["content"])

    model = ScriptedModel(tokenizer, has_chat_template=True, chat_reply=notes)
    result = solve("summary", model, sample, chunk_tokens=1000, summary_tokens=64)
    assert model.prompts == [] and len(model.conversations) == result.notes["steps"] + 1
    assert model.conversations[0][0]["content"] == CHAT_SYSTEM.format(words=48)
    assert {n.form for n in result.trace.calls} == {"chat"}
    assert task.score(result.prediction, sample) == 1.0


# --- codeact --------------------------------------------------------------------------------

SEARCH = """```repl
hits = search("magic number {key}")
print(len(hits))
print(hits[0][-120:])
print('llm_query' in globals(), 'context' in globals())
```"""


def key_of(sample) -> str:
    return re.search(r"magic number for (\S+?) mentioned", sample.query.question).group(1)


def test_codeact_searches_from_code_and_sees_the_text_in_its_prompt(tokenizer, needle):
    task, sample = needle
    replies = [SEARCH.format(key=key_of(sample)), f"FINAL({sample.answer})"]
    model = TrajectoryModel(tokenizer, replies)
    result = solve("codeact", model, sample, k=2)

    assert task.score(result.prediction, sample) == 1.0
    first, second = model.root_prompts
    needle_text = sample.context[slice(*needle_span(sample))]
    assert needle_text in first  # the text is in the prompt, unlike the RLM's
    assert "llm_query" not in first and "search(query, k=2)" in first
    block = next(n for n in result.trace.nodes if n.kind == "exec")
    hits = [n for n in result.trace.nodes if n.kind == "retrieve"]
    assert 1 <= len(hits) <= 2 and [h.rank for h in hits] == list(range(len(hits)))
    assert {h.parent for h in hits} == {block.id}
    output = second.rsplit("### REPL output\n", 1)[1]
    assert output.startswith(f"{len(hits)}\n") and f"is {sample.answer}." in output
    assert "False False" in output  # neither llm_query nor a `context` variable in the REPL
    assert all(h.depth == 1 and h.query == f"magic number {key_of(sample)}" for h in hits)
    assert holds(hits[0].span, needle_span(sample))
    assert result.notes["final"] == "FINAL" and not result.truncated
    nodes = result.trace.to_list()
    annotate(nodes, task, sample)
    assert all(n["correct"] is None for n in nodes)


def test_codeact_cuts_the_middle_of_a_long_text_and_search_still_reaches_it(tokenizer, needle):
    task, sample = needle
    model = TrajectoryModel(tokenizer, [SEARCH.format(key=key_of(sample)), "FINAL(1)"])
    model.context_window = 4500
    result = solve("codeact", model, sample, max_tokens=128, output_chars=500)
    assert result.truncated and 0 < result.notes["dropped_tokens"] < sample.actual_length
    first = model.root_prompts[0]
    assert sample.context[slice(*needle_span(sample))] not in first  # the needle is mid-text
    assert f"middle of the text ({result.notes['dropped_tokens']} tokens)" in first
    assert f"is {sample.answer}." in model.root_prompts[1]
    assert all(fits(model, p) for p in model.prompts)


def test_bad_search_arguments_go_back_to_the_model(tokenizer, needle):
    _, sample = needle
    code = (
        "```repl\nfor q, k in [('', 1), ('magic', 0), ('zyxxyq', 2)]:\n    try:\n"
        "        print(search(q, k))\n    except RuntimeError as e:\n        print(e)\n```"
    )
    model = TrajectoryModel(tokenizer, [code, "FINAL(none)"])
    result = solve("codeact", model, sample)
    output = model.root_prompts[1]
    assert "needs the words to look for" in output and "needs k a whole number" in output
    assert "\n[]\n" in output  # no part has the word: no hits, and none recorded
    assert not [n for n in result.trace.nodes if n.kind == "retrieve"]


def test_codeact_in_chat_shows_the_text_in_the_first_user_turn(tokenizer, needle):
    task, sample = needle
    model = ChatTrajectory(
        tokenizer, [SEARCH.format(key=key_of(sample)), f"FINAL({sample.answer})"]
    )
    result = solve("codeact", model, sample)
    first = model.roots[0]
    assert [m["role"] for m in first] == ["system", "user"]
    assert "search(query, k=3)" in first[0]["content"] and "llm_query" not in first[0]["content"]
    assert sample.context[slice(*needle_span(sample))] in first[1]["content"]
    assert first[1]["content"].endswith("print what it returns.")  # the guide's hint
    assert chat_tokens(model, model.roots[-1]) <= model.context_window
    assert task.score(result.prediction, sample) == 1.0 and result.notes["form"] == "chat"


# --- parameters and the evaluator -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("retrieval", {"k": 0}, "retrieval solver needs k >= 1"),
        ("retrieval", {"chunk_tokens": 4}, "retrieval solver needs k >= 1"),
        ("retrieval", {"form": "prose"}, "form must be one of"),
        ("summary", {"summary_tokens": 0}, "summary solver needs summary_tokens"),
        ("summary", {"chunk_tokens": 1}, "summary solver needs summary_tokens"),
        ("codeact", {"k": 0}, "codeact solver needs k >= 1"),
        ("codeact", {"max_iterations": 0}, "codeact solver needs"),
        ("codeact", {"max_depth": 2}, "codeact solver makes no sub-calls: drop max_depth"),
        ("codeact", {"depth": 2}, "bad parameters"),
    ],
)
def test_bad_parameters_are_one_line_user_errors(name, params, message):
    with pytest.raises(UserError, match=message) as caught:
        make_solver(name, params)
    assert "\n" not in str(caught.value)


def test_a_summary_budget_too_big_for_the_window_is_a_user_error(tokenizer, needle):
    _, sample = needle
    with pytest.raises(UserError, match="leaves no room for text"):
        solve("summary", ScriptedModel(tokenizer, context_window=600), sample, summary_tokens=300)


def test_the_evaluator_runs_the_baselines(tmp_path, capsys):
    import json

    import tests.doubles  # noqa: F401  (registers the `scripted` backend)
    from rlm_bench.cli import main

    out = tmp_path / "run"
    argv = ["run", "--model", "scripted", "--tasks", "niah_single", "--lengths", "1k",
            "--samples", "1", "--solvers", "retrieval:chunk_tokens=128,summary:chunk_tokens=300,"
            "codeact", "--out", str(out), "--no-progress"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    calls = {r["solver"].split("_")[0]: r["calls"] for r in rows}
    assert set(calls) == {"retrieval", "summary", "codeact"}
    assert all(r["error"] is None for r in rows)
    assert calls["retrieval"] == 1 and calls["summary"] > 1
    traces = [json.loads(line) for line in (out / "traces.jsonl").read_text().splitlines()]
    kinds = {n["kind"] for t in traces for n in t["nodes"]}
    assert {"retrieve", "summarize"} <= kinds
    info = json.loads((out / "run.json").read_text())
    assert set(info["prompt_forms"].values()) == {"completion"}
    assert (out / "figures" / "accuracy_vs_length.png").exists()


# --- the embedded model ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("retrieval", {"k": 2, "chunk_tokens": 128}),
        ("summary", {"chunk_tokens": 384, "summary_tokens": 48}),
        ("codeact", {"max_iterations": 1, "max_tokens": 64}),
    ],
)
def test_each_baseline_runs_on_the_real_model(embedded_model, name, params):
    """One short sample: the prompts fit, the trace has the solver's nodes, and it ends (what
    a 270M base model answers is the experiment's business)."""
    task = get_task("niah_single", embedded_model.tokenizer)
    sample = task.sample(1024, seed=0, index=0)
    started = time.monotonic()
    result = asyncio.run(make_solver(name, params).solve(sample, embedded_model))
    assert time.monotonic() - started < 60
    kinds = {n.kind for n in result.trace.nodes}
    expected = {"retrieval": {"call", "retrieve"}, "summary": {"call", "summarize"},
                "codeact": {"call"}}  # fmt: skip
    assert expected[name] <= kinds
    assert all(n.prompt_tokens <= embedded_model.context_window for n in result.trace.calls)
    assert 0.0 <= task.score(result.prediction, sample) <= 1.0
