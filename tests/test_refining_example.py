"""The worked example strategy in examples/refining, on the ScriptedModel test double: it refines
conflicting and malformed parts (and only those), keeps to its bounds, and plugs into rlm_bench by
import path and, once installed, by its entry point name."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rlm_bench.cli import main
from rlm_bench.errors import UserError
from rlm_bench.solvers import make_solver
from rlm_bench.solvers.recursive import Recursive
from rlm_bench.tasks import get_task
from rlm_bench.tasks.base import Decomposition, Query, Sample
from tests.doubles import ScriptedModel, gold_reader, last_text

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "refining"
PATH = "rlm_refining.strategy:Refining"


@pytest.fixture
def refining(monkeypatch):
    """The example's module, importable from its source folder as a researcher's script is."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    from rlm_refining import strategy

    return strategy


def solve(solver, sample, model):
    return asyncio.run(solver.solve(sample, model))


NEEDLE = "The special magic number for alpha is 4242424."
DECOY = "A DECOY line lists numbers for beta, gamma and delta."
SMUDGE = "A SMUDGE covers this line."
NUMBER_QUERY = Query(
    question="What is the special magic number for alpha mentioned in the text?",
    answer_prefix="The special magic number for alpha mentioned in the text is",
    answer_pattern=r"\d{7}",
)
COUNT_QUERY = Query(
    question="How many records have the category red?",
    answer_prefix="The number of records with the category red is",
    answer_pattern=r"-?\d+",
)
CODES_QUERY = Query(
    question="Which codes does the text mention?",
    answer_prefix="The codes are",
    answer_pattern=r"[A-Z]{5}(?:, ?[A-Z]{5})*",
    item_pattern=r"[A-Z]{5}",
)


def make_sample(lines: dict[int, str], query: Query, combine: str, answer: str) -> Sample:
    """64 lines of filler with `lines` put in place. It claims 4096 tokens, so at fanout 4 a
    part is 1024 tokens (16 lines) and each refinement halves that."""
    context = "\n".join(
        lines.get(i, f"Line {i:02d} of filler says nothing at all.") for i in range(64)
    )
    return Sample(
        sample_id="hand/L4096/s0/i0", task="hand", length=4096, seed=0, index=0,
        context=context, query=query, answer=answer,
        decomposition=Decomposition(combine),  # type: ignore[arg-type]
        actual_length=4096,
    )  # fmt: skip


def long_text(text: str) -> bool:
    """The readers below misread a first-level part (16 lines) but read its halves right."""
    return len(text.splitlines()) > 12


def decoy_reader(prompt: str) -> str:
    """Finds the needle wherever it is, but in a long text holding the decoy line it invents a
    value: a hallucination that goes away with a closer look."""
    text = last_text(prompt)
    if found := re.search(r"magic number for alpha is (\d{7})", text):
        return f" {found[1]}."
    return " 1111111." if "DECOY" in text and long_text(text) else " none."


def smudged_counter(prompt: str) -> str:
    """Counts red records, but gives no answer at all for a long text with a smudge."""
    text = last_text(prompt)
    if "SMUDGE" in text and long_text(text):
        return " hard to say, the page is dirty."
    return f" {len(re.findall(r'category: red$', text, re.M))}."


def code_lister(prompt: str) -> str:
    """Lists the codes, but in a long text with a smudge writes a garbled item midway."""
    text = last_text(prompt)
    codes = re.findall(r"code ([A-Z]{5})", text)
    if "SMUDGE" in text and long_text(text):
        codes.insert(1, "12345")
    return f" {', '.join(codes) or 'none'}."


def test_a_conflict_is_refined_and_the_hallucination_loses(refining, tokenizer):
    sample = make_sample({3: DECOY, 40: NEEDLE}, NUMBER_QUERY, "find", "4242424")
    plain = solve(Recursive(), sample, ScriptedModel(tokenizer, decoy_reader))
    assert plain.prediction == "1111111"  # a tie of claims goes to the earlier part

    model = ScriptedModel(tokenizer, decoy_reader)
    result = solve(refining.Refining(), sample, model)
    assert result.prediction == "4242424"
    assert len(model.prompts) == 4 + 2 * 2  # four parts, then both claimants in two halves
    assert result.notes == {"fanout": 4, "refined": 2, "refine_calls": 4}

    nodes = result.trace.nodes
    claimants = [n for n in nodes if n.depth == 1 and n.answer not in (None, "none")]
    assert sorted(n.answer for n in claimants) == ["1111111", "4242424"]  # kept as the model said
    for parent in claimants:
        pieces = sorted((n for n in nodes if n.parent == parent.id), key=lambda n: n.span)
        assert [n.kind for n in pieces] == ["call", "call"] and {n.depth for n in pieces} == {2}
        assert pieces[0].span[0] == parent.span[0] and pieces[-1].span[1] == parent.span[1]
        assert pieces[0].span[1] == pieces[1].span[0]
    assert nodes[0].kind == "aggregate" and nodes[0].answer == "4242424"


def test_a_part_with_no_answer_is_refined(refining, tokenizer):
    lines = {i: f"record {i:02d} | category: {'red' if i % 3 == 0 else 'blue'}" for i in range(64)}
    lines[20] = SMUDGE
    sample = make_sample(lines, COUNT_QUERY, "sum", "22")
    assert sample.context.count("category: red") == 22
    plain = solve(Recursive(), sample, ScriptedModel(tokenizer, smudged_counter))
    assert int(plain.prediction) < 22  # the smudged part's red records are lost

    model = ScriptedModel(tokenizer, smudged_counter)
    result = solve(refining.Refining(), sample, model)
    assert result.prediction == "22"
    assert result.notes["refined"] == 1 and len(model.prompts) == 4 + 2
    smudged = next(n for n in result.trace.nodes if n.depth == 1 and n.answer is None)
    assert "hard to say" in smudged.output
    pieces = [n for n in result.trace.nodes if n.parent == smudged.id]
    start, end = smudged.span
    assert sum(int(n.answer) for n in pieces) == sample.context[start:end].count("category: red")
    assert int(plain.prediction) + sum(int(n.answer) for n in pieces) == 22


def test_an_unsplit_root_call_is_refined_into_the_part_question(refining, tokenizer):
    lines = {i: f"record {i:02d} | category: {'red' if i % 3 == 0 else 'blue'}" for i in range(64)}
    sample = make_sample(lines, COUNT_QUERY, "sum", "22")

    def overwhelmed(prompt: str) -> str:  # no answer for the whole text, right about halves
        return " hmm." if len(last_text(prompt).splitlines()) > 40 else smudged_counter(prompt)

    model = ScriptedModel(tokenizer, overwhelmed)
    # parts of 1024 tokens are under the floor, so the whole text is one call; halves are not
    result = solve(refining.Refining(min_chunk_tokens=1500), sample, model)
    assert result.prediction == "22" and result.notes["refined"] == 1
    root, *pieces = result.trace.nodes
    assert root.kind == "call" and root.answer is None and root.parent is None
    assert [(n.parent, n.depth) for n in pieces] == [(root.id, 1), (root.id, 1)]


def test_a_list_answer_that_parses_only_in_part_is_refined(refining, tokenizer):
    lines = {2: "code ABCDE", 5: SMUDGE, 9: "code FGHIJ", 30: "code KLMNO"}
    sample = make_sample(lines, CODES_QUERY, "union", "ABCDE, FGHIJ, KLMNO")
    plain = solve(Recursive(), sample, ScriptedModel(tokenizer, code_lister))
    assert plain.prediction == "ABCDE, KLMNO"  # " ABCDE, 12345, FGHIJ." parses as "ABCDE"

    result = solve(refining.Refining(), sample, ScriptedModel(tokenizer, code_lister))
    assert result.prediction == "ABCDE, FGHIJ, KLMNO" and result.notes["refined"] == 1


@pytest.mark.parametrize(
    ("reply", "answer", "rule", "malformed"),
    [
        (" 4242424.", "4242424", "find", False),
        (" hard to say.", None, "sum", True),
        (" 3 or 4.", "3", "sum", False),  # only list and tally rules check the whole answer
        (" ABCDE, FGHIJ. Then the text goes on", "ABCDE, FGHIJ", "union", False),
        (" ABCDE, 12345, FGHIJ.", "ABCDE", "union", True),
        (" ABCDE, FGH", "ABCDE", "vote", True),  # cut off mid-item
        (" none.", "none", "tally", False),
    ],
)
def test_what_looks_malformed(refining, reply, answer, rule, malformed):
    assert refining.looks_malformed(reply, answer, CODES_QUERY, rule) is malformed


@pytest.mark.parametrize(
    "name",
    ["niah_multikey", "aggregation_count", "aggregation_most_frequent", "aggregation_pairs",
     "variable_tracking", "common_words"],
)  # fmt: skip
@pytest.mark.parametrize("depth", [1, 2])
def test_no_refinement_when_every_part_reads_right(refining, tokenizer, name, depth):
    task = get_task(name, tokenizer)
    sample = task.sample(2048, seed=1, index=0)
    plain_model = ScriptedModel(tokenizer, reply=gold_reader(task, sample))
    plain = solve(Recursive(depth=depth), sample, plain_model)
    model = ScriptedModel(tokenizer, reply=gold_reader(task, sample))
    result = solve(refining.Refining(depth=depth), sample, model)
    assert model.prompts == plain_model.prompts
    assert result.prediction == plain.prediction
    assert result.notes["refined"] == 0 and result.notes["refine_calls"] == 0


def liar(prompt: str) -> str:
    """Claims a value for every text: the needle's where it is, else one made up from the text."""
    text = last_text(prompt)
    if found := re.search(r"magic number for alpha is (\d{7})", text):
        return f" {found[1]}."
    return f" {1_000_000 + len(text)}."


@pytest.mark.parametrize(
    ("params", "calls", "refined"),
    [
        ({"rounds": 0}, 4, 0),
        ({"rounds": 1}, 4 + 8, 4),
        ({"rounds": 2}, 4 + 8 + 16, 4 + 8),
        ({"rounds": 2, "refine_fanout": 3}, 4 + 12 + 36, 4 + 12),
        # pieces of 512 tokens pass the floor, of 256 do not: the second round splits nothing
        ({"rounds": 3, "min_chunk_tokens": 300}, 4 + 8, 4),
    ],
)
def test_rounds_and_the_size_floor_bound_the_refinement(
    refining, tokenizer, params, calls, refined
):
    sample = make_sample({40: NEEDLE}, NUMBER_QUERY, "find", "4242424")
    model = ScriptedModel(tokenizer, liar)
    result = solve(refining.Refining(**params), sample, model)
    assert len(model.prompts) == len(result.trace.calls) == calls
    assert result.notes["refined"] == refined
    assert result.notes["refine_calls"] == calls - 4


@pytest.mark.parametrize("params", [{"refine_fanout": 1}, {"rounds": -1}, {"depth": 0}])
def test_bad_parameters_are_one_line(refining, params):
    with pytest.raises(UserError) as info:
        make_solver(PATH, params)
    assert "\n" not in str(info.value)


def rows_of(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]


def test_the_cli_runs_it_by_import_path(refining, capsys, tmp_path):
    import tests.doubles  # noqa: F401  (registers the `scripted` backend)

    out = tmp_path / "run"
    code = main(["run", "--suite", "smoke", "--model", "scripted", "--out", str(out),
                 "--no-progress", "--lengths", "512", "--samples", "1", "--solvers",
                 f"recursive,{PATH}:depth=2"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    rows = rows_of(out)
    assert {r["solver"] for r in rows} == {"recursive", "Refining_depth2"}
    assert all(r["score"] == 1.0 and r["error"] is None for r in rows)  # the oracle double
    traces = [json.loads(line) for line in (out / "traces.jsonl").read_text().splitlines()]
    mine = [t for t in traces if t["solver"] == "Refining_depth2"]
    assert [t["notes"]["refined"] for t in mine] == [0, 0]  # the oracle never conflicts
    assert all(n["correct"] is True for t in mine for n in t["nodes"] if n["depth"] > 0)


RUN_BY_NAME = """
import sys
import tests.doubles  # registers the `scripted` backend (the oracle test double)
from rlm_bench.cli import main
sys.exit(main(["run", "--suite", "smoke", "--model", "scripted", "--out", sys.argv[1],
               "--no-progress", "--lengths", "512", "--samples", "1", "--solvers", "refining"]))
"""


def test_installed_it_is_a_solver_by_entry_point_name(tmp_path):
    source = tmp_path / "source"  # a copy: building writes build/ and *.egg-info next to it
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(REPO)])}

    def python(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip

    listing = python("-m", "rlm_bench", "list", "solvers")
    assert listing.returncode == 0, listing.stderr
    assert "refining" in [line.split()[0] for line in listing.stdout.splitlines()]

    out = tmp_path / "run"
    run = python("-c", RUN_BY_NAME, str(out))
    assert run.returncode == 0, run.stderr
    rows = rows_of(out)
    assert len(rows) == 2 and {r["solver"] for r in rows} == {"refining"}  # 2 tasks x 1 sample
    assert all(r["score"] == 1.0 and r["error"] is None for r in rows)
