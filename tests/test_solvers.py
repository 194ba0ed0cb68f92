"""Solvers against a ScriptedModel test double: tree shape, spans, aggregation, truncation."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from rlm_bench.errors import UserError
from rlm_bench.solvers import make_solver
from rlm_bench.solvers.direct import ELISION, truncate_middle
from rlm_bench.solvers.splitting import split_span
from rlm_bench.tasks import generated_tasks, get_task
from tests.doubles import ScriptedModel, gold_reader


def solve(solver, sample, model):
    return asyncio.run(solver.solve(sample, model))


@pytest.fixture(scope="module")
def niah_sample(tokenizer):
    return get_task("niah_single", tokenizer).sample(4096, seed=3, index=2)


@pytest.fixture(scope="module")
def count_sample(tokenizer):
    return get_task("aggregation_count", tokenizer).sample(4096, seed=3, index=1)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_recursive_tree_has_fanout_to_the_depth_leaves(depth, niah_sample, tokenizer):
    model = ScriptedModel(tokenizer)
    result = solve(
        make_solver("recursive", {"depth": depth, "fanout": 3, "min_chunk_tokens": 16}),
        niah_sample,
        model,
    )
    nodes = result.trace.nodes
    leaves = [n for n in nodes if n.kind == "call"]
    assert len(leaves) == 3**depth == len(model.prompts)
    assert {n.depth for n in leaves} == {depth}
    for node in nodes:
        if node.kind == "aggregate":
            children = [c for c in nodes if c.parent == node.id]
            assert len(children) == 3
            # children tile their parent's span exactly, in order
            assert children[0].span[0] == node.span[0] and children[-1].span[1] == node.span[1]
            for a, b in zip(children, children[1:], strict=False):
                assert a.span[1] == b.span[0]
    root = nodes[0]
    assert root.parent is None and root.span == (0, len(niah_sample.context))
    assert result.prediction == niah_sample.answer


def test_recursive_leaves_see_only_their_span(niah_sample, tokenizer):
    model = ScriptedModel(tokenizer)
    result = solve(make_solver("recursive", {"depth": 2, "fanout": 2}), niah_sample, model)
    leaves = [n for n in result.trace.nodes if n.kind == "call"]
    for leaf, prompt in zip(leaves, model.prompts, strict=True):
        assert niah_sample.context[leaf.span[0] : leaf.span[1]] in prompt
        assert len(prompt) < len(niah_sample.context)
    found = [n for n in leaves if n.answer == niah_sample.answer]
    assert len(found) == 1  # the needle lives in exactly one leaf
    start, end = found[0].span
    (needle,) = niah_sample.metadata["needles"]
    assert start <= needle["start"] < needle["end"] <= end


def test_recursive_sums_counts_up_the_tree(count_sample, tokenizer):
    model = ScriptedModel(tokenizer)
    result = solve(make_solver("recursive", {"depth": 2, "fanout": 4}), count_sample, model)
    assert result.prediction == count_sample.answer
    for node in result.trace.nodes:
        if node.kind == "aggregate":
            kids = [c for c in result.trace.nodes if c.parent == node.id]
            assert int(node.answer) == sum(int(c.answer) for c in kids)


def test_leaf_errors_carry_up_through_a_sum(count_sample, tokenizer):
    wrong = ScriptedModel(tokenizer, reply=lambda prompt: " 1.")
    result = solve(make_solver("recursive", {"depth": 2, "fanout": 2}), count_sample, wrong)
    assert result.prediction == "4"  # four leaves, each claiming one record


def test_min_chunk_tokens_stops_splitting(niah_sample, tokenizer):
    model = ScriptedModel(tokenizer)
    solver = make_solver("recursive", {"depth": 3, "fanout": 4, "min_chunk_tokens": 300})
    result = solve(solver, niah_sample, model)
    assert max(n.depth for n in result.trace.nodes) < 3
    assert len(result.trace.calls) == 4  # 4096 / 4 = 1024 >= 300, but 1024 / 4 = 256 < 300


def test_chunk_tokens_sets_the_fanout(niah_sample):
    solver = make_solver("recursive", {"depth": 2, "chunk_tokens": 256})
    assert solver.fanout_for(niah_sample) == 4  # 16 leaves of ~256 tokens at depth 2


@pytest.mark.parametrize("depth", [1, 2])
def test_recursive_cuts_finer_when_a_leaf_would_overflow_the_window(depth, niah_sample, tokenizer):
    model = ScriptedModel(tokenizer, context_window=700)
    result = solve(make_solver("recursive", {"depth": depth, "fanout": 2}), niah_sample, model)
    assert result.notes["fanout"] > 2  # 4096 tokens in parts of at most ~700
    assert max(tokenizer.count(p) + 1 for p in model.prompts) <= model.context_window
    assert result.prediction == niah_sample.answer


def test_bad_solver_parameters_are_user_errors():
    with pytest.raises(UserError, match="depth"):
        make_solver("recursive", {"depth": 0})
    with pytest.raises(UserError, match="bad parameters"):
        make_solver("recursive", {"dpeth": 2})
    with pytest.raises(UserError, match="unknown solver 'nope'"):
        make_solver("nope", {})


def test_split_span_cuts_on_line_boundaries(count_sample):
    text = count_sample.context
    spans = split_span(text, 0, len(text), 5)
    assert len(spans) == 5 and spans[0][0] == 0 and spans[-1][1] == len(text)
    for _, end in spans[:-1]:
        assert text[end - 1] == "\n"


def test_direct_answers_from_the_whole_context(niah_sample, tokenizer):
    model = ScriptedModel(tokenizer)
    result = solve(make_solver("direct", {}), niah_sample, model)
    assert result.prediction == niah_sample.answer and not result.truncated
    assert len(result.trace.calls) == 1
    assert result.trace.calls[0].span == (0, len(niah_sample.context))


def test_direct_truncates_the_middle_to_fit_the_window(niah_sample, tokenizer):
    model = ScriptedModel(tokenizer, context_window=1024)
    result = solve(make_solver("direct", {}), niah_sample, model)
    assert result.truncated and result.notes["dropped_tokens"] > 2500
    prompt = model.prompts[0]
    assert model.tokenizer.count(prompt) + 12 <= 1024
    context = niah_sample.context
    assert context[:200] in prompt and context[-200:] in prompt
    assert context[len(context) // 2 : len(context) // 2 + 200] not in prompt


def test_truncate_middle_keeps_short_text(tokenizer):
    assert truncate_middle("a short text", 100, tokenizer) == ("a short text", 0)


def whole_text_cut(context: str, budget: int, tokenizer) -> tuple[str, int]:
    """The cut made from the whole text's tokens: what `truncate_middle` must equal."""
    ids = tokenizer.encode(context)
    keep = budget - tokenizer.count(ELISION)
    head, tail = keep - keep // 2, keep // 2
    return tokenizer.decode(ids[:head]) + ELISION + tokenizer.decode(ids[-tail:]), len(ids) - keep


@pytest.mark.parametrize("name", ["niah_single", "aggregation_count", "variable_tracking"])
@pytest.mark.parametrize("budget", [700, 12_000])  # one piece an end; several pieces an end
def test_truncate_middle_from_the_ends_equals_the_cut_of_the_whole_text(tokenizer, name, budget):
    sample = get_task(name, tokenizer).sample(16384, seed=2, index=1)
    expected = whole_text_cut(sample.context, budget, tokenizer)
    assert truncate_middle(sample.context, budget, tokenizer, sample.actual_length) == expected
    assert truncate_middle(sample.context, budget, tokenizer) == expected


def test_truncate_middle_widens_its_cut_for_long_tokens(tokenizer):
    context = " ".join(["a" * 64] * 2000)  # many pieces of tokens far longer than most
    assert truncate_middle(context, 100, tokenizer) == whole_text_cut(context, 100, tokenizer)


@pytest.mark.parametrize("name", generated_tasks())
def test_recursion_with_a_perfect_reader_recovers_every_exact_answer(tokenizer, name):
    task = get_task(name, tokenizer)
    sample = task.sample(4096, seed=1, index=3)
    model = ScriptedModel(tokenizer, reply=gold_reader(task, sample))
    result = solve(make_solver("recursive", {"depth": 2, "fanout": 3}), sample, model)
    leaves = [n for n in result.trace.nodes if n.kind == "call"]
    assert len(leaves) == 9
    part_question = f"Question: {sample.part_query.question}"
    assert all(part_question in prompt for prompt in model.prompts)
    if task.exact_decomposition:
        assert result.prediction == sample.answer
        assert task.score(result.prediction, sample) == 1.0


@pytest.mark.parametrize("name", generated_tasks())
def test_direct_with_a_perfect_reader_is_right(tokenizer, name):
    task = get_task(name, tokenizer)
    sample = task.sample(2048, seed=1, index=0)
    model = ScriptedModel(tokenizer, reply=gold_reader(task, sample))
    result = solve(make_solver("direct", {}), sample, model)
    assert f"Question: {sample.query.question}" in model.prompts[0]
    assert task.score(result.prediction, sample) == 1.0


def test_split_span_never_cuts_inside_a_line_it_cannot_avoid():
    text = "id 1 | user: ana | category: food\nid 2 | user: bo | category: travel"
    assert split_span(text, 0, 20, 4) == [(0, 20)]  # no boundary inside: no cut
    assert split_span(text, 0, len(text), 4) == [(0, 34), (34, len(text))]


def test_split_span_cuts_a_long_text_without_boundaries_between_words():
    text = " ".join(["word"] * 5000)
    spans = split_span(text, 0, len(text), 4)
    assert len(spans) == 4
    assert all(text[s - 1] == " " for s, _ in spans[1:])


class StopRecorder(ScriptedModel):
    """The scripted double, noting the stop strings each call was given."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stops: list[tuple[str, ...]] = []

    async def complete(self, prompt, *, max_tokens=16, stop=()):
        self.stops.append(stop)
        return await super().complete(prompt, max_tokens=max_tokens, stop=stop)

    async def chat(self, messages, *, max_tokens=16, stop=()):
        self.stops.append(stop)
        return await super().chat(messages, max_tokens=max_tokens, stop=stop)


@pytest.mark.parametrize(
    ("multiline", "chat", "stop"),
    [
        (False, False, ("\n",)),
        (False, True, ("\n",)),
        (True, False, ("\n\nText:", "\n\nQuestion:")),  # a base model stops at a made-up block
        (True, True, ()),  # a chat reply runs to its end of turn
    ],
)
def test_a_multiline_answer_is_not_cut_at_its_first_newline(
    tokenizer, niah_sample, multiline, chat, stop
):
    sample = dataclasses.replace(
        niah_sample, query=dataclasses.replace(niah_sample.query, multiline=multiline)
    )
    model = StopRecorder(tokenizer, reply=lambda _: " 1", has_chat_template=chat)
    solve(make_solver("direct", {}), sample, model)
    assert model.stops == [stop]
