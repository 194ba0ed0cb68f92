"""RULER's metrics, the `scoring` option of the generated RULER-style tasks, and `ruler_jsonl`
replaying RULER's prepared files (the fixtures in tests/fixtures/ruler, see its README)."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path

import datasets
import pytest

from rlm_bench.errors import UserError
from rlm_bench.evaluation.failures import classify_failure
from rlm_bench.evaluation.runner import run_suite
from rlm_bench.evaluation.store import read_jsonl
from rlm_bench.solvers import make_solver
from rlm_bench.solvers.prompts import parse_answer
from rlm_bench.suites import suite_from_dict
from rlm_bench.tasks import TASKS, generated_tasks, get_task
from rlm_bench.tasks.base import LIST_SEPARATOR, NONE_ANSWER, Query
from rlm_bench.tasks.ruler_scoring import WHOLE_REPLY
from rlm_bench.tasks.ruler_templates import split_input
from rlm_bench.tasks.scoring import ruler_postprocess, string_match_all, string_match_part
from tests.doubles import ScriptedModel, gold_reader, last_text

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ruler"
RULER_TASKS = ("niah_single_1", "vt", "cwe", "qa_1")


@pytest.fixture(autouse=True)
def private_datasets_cache(tmp_path, monkeypatch):
    """`datasets` caches what it reads of a jsonl; tests keep theirs out of the user's cache."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_cache")


def rows_of(task: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / task / "validation.jsonl").open()]


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def solve(solver: str, sample, model, **params):
    return asyncio.run(make_solver(solver, params).solve(sample, model))


def replying(text: str):
    return lambda prompt: text


# RULER's metrics, per sample


def test_string_match_all_gives_credit_for_each_reference_contained():
    refs = ["1234567", "7654321", "1111111"]
    assert string_match_all("The values are 1234567 and 7654321.", refs) == pytest.approx(2 / 3)
    assert string_match_all("1234567, 7654321, 1111111", refs) == 1.0
    assert string_match_all("none", refs) == 0.0
    assert string_match_all("cats and dogs", ["cat", "dog", "bird"]) == pytest.approx(2 / 3)
    assert string_match_all("CaTeGoRy", ["cat"]) == 1.0  # containment inside a word, any case


def test_string_match_part_needs_any_one_reference():
    refs = ["Marta Kolar", "engineer Marta Kolar"]
    assert string_match_part("It was marta KOLAR.", refs) == 1.0
    assert string_match_part("Kolar", refs) == 0.0
    assert string_match_part("in 1902", ["1902", "in 1902"]) == 1.0
    assert string_match_part("1903", ["1902", "in 1902"]) == 0.0


def test_empty_or_missing_predictions_score_zero_and_references_are_required():
    for metric in (string_match_all, string_match_part):
        assert metric(None, ["a"]) == 0.0
        assert metric("", ["a"]) == 0.0
        assert metric(" \n\t ", ["a"]) == 0.0
        with pytest.raises(ValueError):
            metric("a", [])


def test_control_characters_become_newlines_as_in_rulers_postprocess():
    assert ruler_postprocess("  \x00a\tb\x1fc\n ") == "a\nb\nc"
    assert string_match_all("\x07 1234567 \x1b", ["1234567"]) == 1.0
    # A reference holding a tab is never found: RULER turns the reply's tab into a newline.
    assert string_match_all("a\tb", ["a\tb"]) == 0.0
    assert string_match_all("a\tb", ["a\nb"]) == 1.0


def test_the_mean_times_100_is_rulers_reported_score():
    preds = ["1234567 and 7654321", "nothing", "7654321"]
    refs = [["1234567", "7654321", "1111111"], ["1234567"], ["7654321"]]
    per_sample = [string_match_all(p, r) for p, r in zip(preds, refs, strict=True)]
    assert round(sum(per_sample) / len(per_sample) * 100, 2) == 55.56


# The `scoring` option of the generated tasks


@pytest.mark.parametrize(
    "name", ["niah_single", "niah_multivalue", "niah_semantic", "variable_tracking", "common_words"]
)
def test_scoring_is_checked_and_the_default_is_strict(tokenizer, name):
    assert get_task(name, tokenizer).options.scoring == "strict"
    with pytest.raises(
        UserError, match=r"^task \S+: option 'scoring' must be one of strict, ruler"
    ):
        get_task(name, tokenizer, scoring="lenient")


@pytest.mark.parametrize(
    "name",
    ["niah_single", "niah_multiquery", "niah_distractors", "variable_tracking", "common_words"],
)
def test_ruler_scoring_keeps_the_sample_and_moves_the_strict_query_to_the_parts(tokenizer, name):
    strict = get_task(name, tokenizer).sample(1024, 2, 1)
    ruler = get_task(name, tokenizer, scoring="ruler").sample(1024, 2, 1)
    assert (ruler.context, ruler.answer, ruler.query.question) == (
        strict.context, strict.answer, strict.query.question,
    )  # fmt: skip
    assert ruler.query.answer_pattern == WHOLE_REPLY
    assert ruler.part_query == strict.part_query
    assert ruler.decomposition.combine == strict.decomposition.combine


def test_the_whole_reply_pattern_keeps_none_and_no_answer_apart():
    query = Query("What is it?", "It is", WHOLE_REPLY)
    assert parse_answer(" maybe 1234567, or 7654321.\n", query) == " maybe 1234567, or 7654321.\n"
    assert parse_answer(" None.", query) == NONE_ANSWER
    assert parse_answer("  ", query) is None


def test_direct_find_credit_strict_vs_ruler(tokenizer):
    strict = get_task("niah_single", tokenizer)
    ruler = get_task("niah_single", tokenizer, scoring="ruler")
    sample_s, sample_r = strict.sample(1024, 0, 2), ruler.sample(1024, 0, 2)
    reply = f" either 1234567 or {sample_s.answer}, I think."
    model = ScriptedModel(tokenizer, reply=replying(reply))
    result_s = solve("direct", sample_s, model)
    result_r = solve("direct", sample_r, model)
    assert result_s.prediction == "1234567" and strict.score(result_s.prediction, sample_s) == 0.0
    assert result_r.prediction == reply and ruler.score(result_r.prediction, sample_r) == 1.0


@pytest.mark.parametrize(
    ("name", "options"),
    [("niah_multivalue", {}), ("niah_multiquery", {}), ("variable_tracking", {"hops": 3})],
)
def test_direct_partial_credit_strict_vs_ruler(tokenizer, name, options):
    strict = get_task(name, tokenizer, **options)
    ruler = get_task(name, tokenizer, scoring="ruler", **options)
    sample_s, sample_r = strict.sample(2048, 0, 0), ruler.sample(2048, 0, 0)
    gold = sample_s.answer.split(LIST_SEPARATOR)
    named = gold[: len(gold) // 2]
    model = ScriptedModel(tokenizer, reply=replying(" " + ", ".join(named) + "."))
    assert strict.score(solve("direct", sample_s, model).prediction, sample_s) == 0.0
    credit = ruler.score(solve("direct", sample_r, model).prediction, sample_r)
    assert credit == pytest.approx(len(named) / len(gold))


def test_common_words_ruler_counts_words_inside_longer_words(tokenizer):
    strict = get_task("common_words", tokenizer, k=4)
    ruler = get_task("common_words", tokenizer, k=4, scoring="ruler")
    sample_s, sample_r = strict.sample(2048, 0, 0), ruler.sample(2048, 0, 0)
    a, b, *_ = sample_s.answer.split(LIST_SEPARATOR)
    reply = f" {a}, x{b}x"
    model = ScriptedModel(tokenizer, reply=replying(reply))
    assert strict.score(solve("direct", sample_s, model).prediction, sample_s) == 0.25
    assert ruler.score(solve("direct", sample_r, model).prediction, sample_r) == 0.5


def test_a_none_reply_is_still_no_answer_under_ruler(tokenizer):
    task = get_task("niah_single", tokenizer, scoring="ruler")
    sample = task.sample(1024, 0, 0)
    result = solve("direct", sample, ScriptedModel(tokenizer, reply=replying(" none.")))
    assert result.prediction == NONE_ANSWER
    score = task.score(result.prediction, sample)
    assert score == 0.0 and classify_failure(score, None, result, sample) == "no answer"


def test_recursive_combines_strictly_parsed_parts_under_ruler(tokenizer):
    """The parts' replies carry extra words; their values still combine, and the combined list
    is what RULER's metric scores."""
    for scoring in ("strict", "ruler"):
        task = get_task("niah_multivalue", tokenizer, scoring=scoring)
        sample = task.sample(4096, 1, 0)
        reader = gold_reader(task, sample)
        model = ScriptedModel(tokenizer, reply=lambda p, r=reader: " I read:" + r(p) + " Bye 12.")
        result = solve("recursive", sample, model, depth=2, fanout=3)
        assert result.prediction.split(LIST_SEPARATOR) == sample.answer.split(LIST_SEPARATOR)
        assert task.score(result.prediction, sample) == 1.0
        leaves = [n for n in result.trace.nodes if n.kind == "call"]
        assert len(leaves) == 9 and not any("read" in n.answer for n in leaves)


def test_repl_final_text_is_scored_whole_under_ruler(tokenizer):
    strict = get_task("niah_single", tokenizer)
    ruler = get_task("niah_single", tokenizer, scoring="ruler")
    sample_s, sample_r = strict.sample(1024, 0, 1), ruler.sample(1024, 0, 1)
    final = f"FINAL(maybe 1234567, or rather {sample_s.answer})"
    model = ScriptedModel(
        tokenizer, reply=lambda p: final if p.endswith("### Assistant\n") else " none."
    )
    result_s = solve("repl", sample_s, model)
    result_r = solve("repl", sample_r, model)
    assert result_s.prediction == "1234567" and strict.score(result_s.prediction, sample_s) == 0.0
    assert result_r.prediction == f"maybe 1234567, or rather {sample_s.answer}"
    assert ruler.score(result_r.prediction, sample_r) == 1.0


# ruler_jsonl: splitting RULER's inputs


def test_niah_input_splits_into_the_haystack_and_the_singular_question():
    for row in rows_of("niah_single_1"):
        split = split_input(row["input"], "niah", "row")
        assert split.family == "niah" and split.kind == "number"
        assert split.instructions.startswith("A special magic number is hidden")
        key = re.search(r"number for (\S+) mentioned", row["answer_prefix"]).group(1)
        assert (
            split.question
            == f"What is the special magic number for {key} mentioned in the provided text?"
        )
        assert split.context.startswith(("The grass is green.", "One of the special magic"))
        assert split.context.endswith("There and back again.")
        assert f"is: {row['outputs'][0]}." in split.context
        assert "special magic number is hidden" not in split.context and "?" not in split.context


def test_vt_input_leaves_its_solved_example_before_the_context():
    for row in rows_of("vt"):
        split = split_input(row["input"], "variable_tracking", "row")
        assert f"VAR {row['outputs'][0]} = " in split.context
        assert split.context.count("VAR ") == 1 + 2 * 4  # one statement per hop, two VARs each
        value = re.search(r"VAR \w+ = (\d+)", split.context).group(1)
        assert (
            split.question
            == f"Find all variables that are assigned the value {value} in the text above."
        )
        assert "they are:" in split.before and "Memorize and track" in split.before
        assert split.instructions.startswith("Memorize and track")


def test_cwe_input_in_a_chat_template_splits_after_its_solved_example():
    for row in rows_of("cwe"):
        split = split_input(row["input"], "common_words_extraction", "row")
        assert split.question == "What are the 10 most common words in the above list?"
        assert split.context.startswith("1. ") and "[INST]" not in split.context
        assert split.before.startswith("[INST] Below is a numbered list")
        words = re.findall(r"\d+\. (\w+)", split.context)
        assert set(row["outputs"]) <= set(words) and len(words) == 10 * 6 + 10


def test_qa_question_ends_where_the_chat_template_resumes():
    for row in rows_of("qa_1"):
        split = split_input(row["input"], "qa", "row")
        assert split.question.endswith("?") and "<|end|>" not in split.question
        assert split.question in ("Who built the Ostrava lighthouse?",
                                  "When did the public library of Velden open?")  # fmt: skip
        assert split.context.startswith("Document 1:\n") and split.context.endswith("pier.")
        assert split.before == "<|user|>\n"


@pytest.mark.parametrize("task", RULER_TASKS)
def test_inputs_without_newlines_or_tabs_split_the_same(task):
    """prepare.py's --remove_newline_tab collapses all whitespace to single spaces."""
    for row in rows_of(task):
        plain = split_input(row["input"], None, "row")
        flat = split_input(" ".join(row["input"].split()), None, "row")
        assert flat.family == plain.family
        assert flat.context == " ".join(plain.context.split())
        assert flat.question == " ".join(plain.question.split())


def test_unknown_templates_split_at_the_last_line_or_refuse():
    split = split_input("Some notes.\nMore notes.\nWhich note?\n", None, "row 3")
    assert (split.family, split.context, split.question) == (
        None,
        "Some notes.\nMore notes.",
        "Which note?",
    )
    assert split_input("Docs\nQuestion: why?", None, "r").question == "why?"
    with pytest.raises(UserError, match=r"^row 3: input matches neither any RULER template"):
        split_input("One line only, no question apart.", None, "row 3")


# ruler_jsonl: the task


def ruler_task(tokenizer, task: str, **options):
    return get_task("ruler_jsonl", tokenizer, data=str(FIXTURES / task / "validation.jsonl"),
                    **options)  # fmt: skip


@pytest.mark.parametrize("task", RULER_TASKS)
def test_every_row_becomes_a_sample_scored_by_its_metric(tokenizer, task):
    loaded = ruler_task(tokenizer, task)
    for index, row in enumerate(rows_of(task)):
        sample = loaded.sample(4096, 0, index)
        assert sample.metadata["outputs"] == row["outputs"]
        assert sample.actual_length == tokenizer.count(sample.context)
        assert sample.context in row["input"] and sample.query.question in row["input"]
        assert row["answer_prefix"].strip().endswith(sample.query.answer_prefix)
        assert not sample.query.answer_prefix.startswith("Answer:")
        assert sample.metadata["ruler_length"] == row["length"]
        assert loaded.score(sample.answer, sample) == 1.0 and loaded.score(None, sample) == 0.0
    assert loaded.metric == ("part" if task == "qa_1" else "all")


def test_the_metric_follows_the_task_name_and_can_be_set(tokenizer, tmp_path):
    vt = ruler_task(tokenizer, "vt").sample(4096, 0, 0)
    outputs = vt.metadata["outputs"]
    assert ruler_task(tokenizer, "vt").score(" ".join(outputs[:2]), vt) == pytest.approx(2 / 5)
    anywhere = write_rows(tmp_path / "my_run" / "rows.jsonl", rows_of("qa_1"))
    with pytest.raises(
        UserError, match=r"^task ruler_jsonl: cannot tell which RULER task .*'my_run'"
    ):
        get_task("ruler_jsonl", tokenizer, data=str(anywhere))
    qa = get_task("ruler_jsonl", tokenizer, data=str(anywhere), ruler_task="qa_2")
    assert qa.metric == "part"
    as_all = get_task("ruler_jsonl", tokenizer, data=str(anywhere), metric="all")
    sample = as_all.sample(4096, 0, 1)  # answers "1902" and "in 1902"
    assert sample.metadata["template"] == "qa"
    assert as_all.score("It opened in 1902.", sample) == 1.0
    assert as_all.score("1902", sample) == 0.5
    assert qa.score("1902", sample) == 1.0
    with pytest.raises(UserError, match="option 'metric' must be all or part"):
        ruler_task(tokenizer, "vt", metric="some")


def test_a_parquet_of_the_rows_loads_the_same_samples(tokenizer, tmp_path):
    path = tmp_path / "cwe" / "validation.parquet"
    path.parent.mkdir()
    datasets.Dataset.from_list(rows_of("cwe")).to_parquet(str(path))
    from_parquet = get_task("ruler_jsonl", tokenizer, data=str(path)).sample(4096, 0, 1)
    from_jsonl = ruler_task(tokenizer, "cwe").sample(4096, 0, 1)
    assert from_parquet.context == from_jsonl.context
    assert from_parquet.query == from_jsonl.query and from_parquet.answer == from_jsonl.answer


def test_bad_data_is_one_line_naming_what_is_wrong(tokenizer, tmp_path):
    rows = [
        {("output" if key == "outputs" else key): value for key, value in row.items()}
        for row in rows_of("niah_single_1")
    ]
    wrong = write_rows(tmp_path / "niah_single_1" / "validation.jsonl", rows)
    with pytest.raises(UserError) as error:
        get_task("ruler_jsonl", tokenizer, data=str(wrong))
    assert "no column 'outputs'" in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(UserError, match="option 'data' is required"):
        get_task("ruler_jsonl", tokenizer)
    with pytest.raises(UserError, match="no such dataset file"):
        get_task("ruler_jsonl", tokenizer, data=str(tmp_path / "vt" / "missing.jsonl"))
    empty = write_rows(tmp_path / "vt" / "validation.jsonl", [{**rows_of("vt")[0], "outputs": []}])
    with pytest.raises(UserError, match=r"row 0: 'outputs' is not a non-empty list of strings"):
        get_task("ruler_jsonl", tokenizer, data=str(empty))


def test_an_index_past_the_last_row_is_an_error_not_a_repeat(tokenizer):
    task = ruler_task(tokenizer, "qa_1")
    assert task.sample(4096, 0, 1).sample_id == "ruler_jsonl/L4096/s0/i1"
    with pytest.raises(UserError, match="has 2 rows, so there is no sample 2"):
        task.sample(4096, 0, 2)


def test_the_length_picks_the_file(tokenizer, tmp_path):
    for length, task in ((4096, "niah_single_1"), (8192, "niah_single_1")):
        folder = tmp_path / str(length) / task
        folder.mkdir(parents=True)
        rows = rows_of(task) if length == 4096 else rows_of(task)[::-1]
        write_rows(folder / "validation.jsonl", rows)
    data = str(tmp_path / "{length}" / "niah_single_1" / "validation.jsonl")
    task = get_task("ruler_jsonl", tokenizer, data=data)
    assert task.metric == "all"
    first, last = task.sample(4096, 0, 0), task.sample(8192, 0, 0)
    assert first.metadata["outputs"] == rows_of("niah_single_1")[0]["outputs"]
    assert last.metadata["outputs"] == rows_of("niah_single_1")[-1]["outputs"]
    with pytest.raises(UserError, match="no such dataset file"):
        task.sample(2048, 0, 0)


def test_needle_rows_know_where_their_needles_are(tokenizer):
    task = ruler_task(tokenizer, "niah_single_1")
    sample = task.sample(4096, 0, 0)
    ((start, end),) = sample.metadata["spans"]
    assert sample.context[start:end].startswith("One of the special magic numbers for ")
    assert task.gold_for_span(sample, 0, len(sample.context)) == sample.answer
    assert task.gold_for_span(sample, start, end) == sample.answer
    assert task.gold_for_span(sample, start + 1, len(sample.context)) == NONE_ANSWER
    assert sample.decomposition.combine == "find"
    assert re.fullmatch(sample.part_query.answer_pattern, sample.answer)
    for other in ("vt", "cwe", "qa_1"):
        loaded = ruler_task(tokenizer, other)
        assert loaded.gold_for_span(loaded.sample(4096, 0, 0), 0, 10) is None


def ruler_reader(prompt: str) -> str:
    """A perfect reader of the niah fixture and a half-right one of the QA fixture."""
    text, question = last_text(prompt), prompt.rsplit("Question: ", 1)[-1]
    if key := re.search(r"magic number for (\S+) mentioned", question):
        found = re.search(rf"numbers for {re.escape(key.group(1))} is: (\d+)", text)
        return f" {found.group(1)}." if found else " none."
    if "Ostrava" in question:
        return " The engineer MARTA KOLAR." if "Ostrava" in text else " none."
    return " It opened in 1903." if "Velden" in text else " none."


def test_a_scripted_run_replays_and_scores_the_files(tokenizer, tmp_path):
    data = tmp_path / "data"
    for task in ("niah_single_1", "qa_1"):
        shutil.copytree(FIXTURES / task, data / task)
    suite = suite_from_dict(
        {
            "name": "ruler_files",
            "tasks": [
                {"label": "ruler_niah", "task": "ruler_jsonl",
                 "data": str(data / "niah_single_1" / "validation.jsonl")},
                {"label": "ruler_qa", "task": "ruler_jsonl",
                 "data": str(data / "qa_1" / "validation.jsonl")},
            ],
            "lengths": [4096],
            "samples": 2,
            "seed": 0,
            "solvers": ["direct", {"label": "recursive_d1", "solver": "recursive",
                                   "min_chunk_tokens": 8}],
        },
        "test",
    )  # fmt: skip
    run_suite(suite, ScriptedModel(tokenizer, reply=ruler_reader), tmp_path / "run",
              resume=False, progress=False)  # fmt: skip
    rows = {
        (r["task"], r["solver"], r["index"]): r
        for r in read_jsonl(tmp_path / "run" / "samples.jsonl")
    }
    assert len(rows) == 2 * 2 * 2
    for solver in ("direct", "recursive_d1"):
        assert (
            rows["ruler_niah", solver, 0]["score"] == rows["ruler_niah", solver, 1]["score"] == 1.0
        )
        assert rows["ruler_qa", solver, 0]["score"] == 1.0  # "MARTA KOLAR" contains an answer
        assert rows["ruler_qa", solver, 1]["score"] == 0.0
    assert rows["ruler_qa", "direct", 0]["prediction"] == " The engineer MARTA KOLAR."
    traces = read_jsonl(tmp_path / "run" / "traces.jsonl")
    nodes = {t["sample_id"].split("/")[0]: t["nodes"] for t in traces
             if t["solver"] == "recursive_d1" and t["sample_id"].endswith("/i0")}  # fmt: skip
    niah_leaves = [n for n in nodes["ruler_niah"] if n["depth"] == 1]
    assert len(niah_leaves) > 1 and all(n["correct"] for n in niah_leaves)
    qa_leaves = [n for n in nodes["ruler_qa"] if n["depth"] == 1]
    assert qa_leaves and all(n.get("gold") is None for n in qa_leaves)


def test_a_multivalue_needle_row_is_a_union_of_needle_values(tokenizer, tmp_path):
    needles = [
        f"One of the special magic numbers for tidy-otter is: {v}." for v in ("1234567", "7654321")
    ]
    text = (
        "Some special magic numbers are hidden within the following text. Make sure to memorize "
        "it. I will quiz you about the numbers afterwards.\nThe grass is green.\n"
        f"{needles[0]}\nThe sky is blue.\n{needles[1]}\nThe sun is yellow.\n"
        "What are all the special magic numbers for tidy-otter mentioned in the provided text?"
    )
    row = {"index": text.find("1234567"), "input": text, "outputs": ["7654321", "1234567"],
           "length": 200, "answer_prefix": " The special magic numbers for tidy-otter mentioned "
           "in the provided text are"}  # fmt: skip
    data = write_rows(tmp_path / "niah_multivalue" / "validation.jsonl", [row])
    task = get_task("ruler_jsonl", tokenizer, data=str(data))
    sample = task.sample(1024, 0, 0)
    assert sample.decomposition.combine == "union" and sample.query.item_pattern == r"\d{7}"
    assert sample.query.question.startswith("What are all the special magic numbers")
    middle = sample.context.index("The sky")
    assert task.gold_for_span(sample, 0, middle) == "1234567"
    assert task.gold_for_span(sample, middle, len(sample.context)) == "7654321"
    assert task.gold_for_span(sample, 0, len(sample.context)) == sample.answer == "7654321, 1234567"
    reply = replying(" 1234567 and maybe 1111111.")
    prediction = solve("direct", sample, ScriptedModel(tokenizer, reply=reply)).prediction
    assert task.score(prediction, sample) == 0.5


def test_ruler_jsonl_is_left_out_of_the_generated_tasks():
    assert TASKS.get("ruler_jsonl").from_data and "ruler_jsonl" not in generated_tasks()
