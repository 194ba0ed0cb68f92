"""OOLONG from its own tables: the reference's scoring rules case by case, loading every kind of
local copy (and naming a wrong column in one line), choosing rows by length, and a run through
the real solvers with scripted replies. The hub is never touched: the tables are the fixtures in
tests/fixtures/oolong/ and copies of them made here."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from pathlib import Path

import datasets
import pytest

from rlm_bench.errors import UserError
from rlm_bench.evaluation.node_scoring import annotate
from rlm_bench.solvers import make_solver
from rlm_bench.solvers.prompts import parse_answer
from rlm_bench.tasks import TASKS, get_task, oolong_rows
from rlm_bench.tasks.oolong_rows import nearest_bucket, power_of_two_bucket
from rlm_bench.tasks.oolong_scoring import (
    dnd_parse,
    dnd_score,
    synth_gold,
    synth_parse,
    synth_score,
)
from tests.doubles import ScriptedModel, last_text

FIXTURES = Path(__file__).parent / "fixtures" / "oolong"
SYNTH = FIXTURES / "synth.jsonl"
DND = FIXTURES / "dnd.jsonl"
LABEL = "ANSWER_TYPE.LABEL"
NUMERIC = "ANSWER_TYPE.NUMERIC"
DATE = "ANSWER_TYPE.DATE"
COMPARISON = "ANSWER_TYPE.COMPARISON"
USER = "ANSWER_TYPE.USER"


def rows_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def one_line_error(call) -> str:
    with pytest.raises(UserError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- the synth scorer, rule by rule ------------------------------------------------------------


def test_gold_is_the_first_list_element_or_a_date():
    assert synth_gold("['numeric value', 'abbreviation']") == "numeric value"
    assert synth_gold("[28]") == 28
    assert str(synth_gold("[datetime.date(2023, 1, 5)]")) == "2023-01-05 00:00:00"


@pytest.mark.parametrize(
    ("reply", "parsed"),
    [
        ("Label: human being", "human being"),
        ("human being", "human being"),  # no colon, short: whole, unstripped
        (" human being", " human being"),
        ("The most common label is human being", "being"),  # no colon, long: the last word
        ("Label: **human being**", "human being"),
        ("**Label:** **human being**", " human being"),  # stripped before the stars go
        ("Label: [human being]", "human being"),
        ("Answer: entity is more common than location", "more common"),
        ("Answer: entity is less common than location", "less common"),
        ("Answer: entity is same frequency as location", "same frequency"),
        ("Answer: more common", "more common"),
        ("Answer: description and abstract concept", "description and abstract concept"),
        ("entity is more common than location overall", "overall"),  # collapse needs a colon
        ("Date: 2023-01-05 00:00:00", "00"),  # the last colon, wherever it is
        (" " * 25, ""),
    ],
)
def test_the_reply_is_parsed_as_the_reference_parses_it(reply, parsed):
    assert synth_parse(reply) == parsed


@pytest.mark.parametrize(
    ("reply", "answer", "answer_type", "score"),
    [
        ("Label: human being", "['human being']", LABEL, 1.0),
        ("Label: Human being", "['human being']", LABEL, 0.0),  # case matters
        ("human being", "['human being']", LABEL, 1.0),
        (" human being", "['human being']", LABEL, 0.0),  # the reference compares it whole
        ("The most common label is human being", "['human being']", LABEL, 0.0),
        ("Label: **human being**", "['human being']", LABEL, 1.0),
        ("**Label:** **human being**", "['human being']", LABEL, 0.0),
        ("Label: [human being]", "['human being']", LABEL, 1.0),
        ("Label: numeric value", "['numeric value', 'abbreviation']", LABEL, 1.0),
        ("Label: abbreviation", "['numeric value', 'abbreviation']", LABEL, 0.0),
        ("Answer: more common than", "['more common than']", COMPARISON, 1.0),
        ("Answer: entity is more common than location", "['more common than']", COMPARISON, 1.0),
        ("Answer: entity is more common than location", "['less common than']", COMPARISON, 0.0),
        ("Answer: more common", "['more common than']", COMPARISON, 1.0),
        ("Answer: same frequency", "['the same frequency']", COMPARISON, 1.0),
        ("Answer: more frequent", "['more common than']", COMPARISON, 0.0),
        ("Answer: more common, maybe", "['more common than']", COMPARISON, 0.0),  # short: kept
        ("entity is more common than location overall", "['more common than']", COMPARISON, 0.0),
        ("Answer: 28", "[28]", NUMERIC, 1.0),
        ("Answer: 26", "[28]", NUMERIC, 0.75**2),
        ("Answer: 31", "[28]", NUMERIC, 0.75**3),
        ("28", "[28]", NUMERIC, 1.0),
        (" 28", "[28]", NUMERIC, 1.0),  # int() reads it even where the string test fails
        ("The number of such data points is 27", "[28]", NUMERIC, 0.75),
        ("Answer: twenty-eight", "[28]", NUMERIC, 0.0),
        ("Answer: 28.0", "[28]", NUMERIC, 0.0),
        ("Answer: 1" + "0" * 400, "[28]", NUMERIC, 0.0),  # 0.75^huge overflows: caught
        ("User: 94706", "[94706]", USER, 1.0),
        ("User: 94705", "[94706]", USER, 0.0),  # no partial credit outside NUMERIC
        ("Date: 01/05/2023", "[datetime.date(2023, 1, 5)]", DATE, 1.0),
        ("Date: Jan 5, 2023", "[datetime.date(2023, 1, 5)]", DATE, 1.0),
        ("Date: 2023-01-05", "[datetime.date(2023, 1, 5)]", DATE, 1.0),
        ("Date: January 5th 2023", "[datetime.date(2023, 1, 5)]", DATE, 1.0),
        ("Date: 05/01/2023", "[datetime.date(2023, 1, 5)]", DATE, 0.0),  # month first
        ("Date: not sure", "[datetime.date(2023, 1, 5)]", DATE, 0.0),
        (" " * 25, "['human being']", LABEL, 0.0),
    ],
)
def test_synth_scores_as_the_reference(reply, answer, answer_type, score):
    assert synth_score(reply, answer, answer_type) == pytest.approx(score)


def test_no_prediction_scores_zero():
    assert synth_score(None, "[28]", NUMERIC) == 0.0
    assert dnd_score(None, "84") == 0.0


# --- the D&D scorer ----------------------------------------------------------------------------


def test_dnd_replies_are_read_from_boxed_and_typed():
    assert dnd_parse("So the total is \\boxed{84}.") == 84
    assert dnd_parse("\\boxed{\\text{Fire Bolt}}") == "Fire Bolt"
    assert dnd_parse("\\boxed{Guidance, Fire Bolt,}") == ["Guidance", "Fire Bolt"]
    assert dnd_parse("\\boxed{{84}}") == 84
    assert dnd_parse("84") == "84"  # no box: the raw reply, never a number


@pytest.mark.parametrize(
    ("reply", "answer", "score"),
    [
        ("\\boxed{84}", "84", 1.0),
        ("\\boxed{82}", "84", 0.75**2),
        ("Counting every roll: \\boxed{ 86 }", "84", 0.75**2),
        ("\\boxed{\\text{guidance}}", "Guidance", 1.0),
        ("\\boxed{ Guidance }", "Guidance", 1.0),
        ("\\boxed{Fire Bolt, Healing Word}", "Guidance, Fire Bolt", 0.5),
        ("\\boxed{Fire Bolt, Guidance}", "Guidance, Fire Bolt", 1.0),
        ("\\boxed{guidance, fire bolt}", "Guidance, Fire Bolt", 0.0),  # lists: exact strings
        ("\\boxed{Eldritch Blast, Hex}", "Eldritch Blast, Eldritch Blast, Hex", 2 / 3),
        ("84", "84", 0.0),  # unboxed: a string against a number
        ("guidance ", "Guidance", 1.0),  # unboxed: the whole reply as the name
        ("The first spell is Guidance", "Guidance", 0.0),
        ("\\boxed{Guidance}", "Guidance, Fire Bolt", 0.0),  # type mismatch
        ("\\boxed{eighty-four}", "84", 0.0),
        ("\\boxed{1" + "0" * 400 + "}", "84", 0.0),
    ],
)
def test_dnd_scores_as_the_reference(reply, answer, score):
    assert dnd_score(reply, answer) == pytest.approx(score)


def test_a_number_stored_as_a_number_scores_as_its_string():
    assert dnd_score("\\boxed{84}", 84) == dnd_score("\\boxed{84}", "84") == 1.0


# --- loading -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synth_table() -> datasets.Dataset:
    return datasets.load_dataset("json", data_files=str(SYNTH), split="train")


@pytest.fixture(scope="module")
def copies(synth_table, tmp_path_factory) -> dict[str, Path]:
    """The synth fixture as every kind of local copy, rows shuffled in the binary ones (the
    samples must not depend on the row order)."""
    folder = tmp_path_factory.mktemp("oolong")
    shuffled = synth_table.shuffle(seed=7)
    paths = {
        "jsonl": SYNTH,
        "parquet": folder / "synth.parquet",
        "disk": folder / "disk",
        "disk_dict": folder / "disk_dict",
    }
    shuffled.to_parquet(str(paths["parquet"]))
    shuffled.save_to_disk(str(paths["disk"]))
    datasets.DatasetDict({"validation": synth_table, "test": shuffled}).save_to_disk(
        str(paths["disk_dict"])
    )
    return paths


@pytest.fixture(scope="module")
def synth(tokenizer):
    return get_task("oolong_synth", tokenizer, data=str(SYNTH))


@pytest.fixture(scope="module")
def real(tokenizer):
    return get_task("oolong_real", tokenizer, data=str(DND))


@pytest.mark.parametrize("kind", ["parquet", "disk", "disk_dict"])
def test_every_copy_gives_the_same_samples(tokenizer, synth, copies, kind):
    task = get_task("oolong_synth", tokenizer, data=str(copies[kind]))
    for length, index in [(1024, 0), (1024, 5), (2048, 3)]:
        assert task.sample(length, 1, index) == synth.sample(length, 1, index)


def wrong_copy(kind: str, table: datasets.Dataset, folder: Path) -> Path:
    renamed = table.rename_column("question", "query")
    path = folder / {"jsonl": "bad.jsonl", "parquet": "bad.parquet", "disk": "bad"}[kind]
    if kind == "jsonl":
        renamed.to_json(str(path), lines=True)
    elif kind == "parquet":
        renamed.to_parquet(str(path))
    else:
        renamed.save_to_disk(str(path))
    return path


@pytest.mark.parametrize("kind", ["jsonl", "parquet", "disk"])
def test_a_wrong_column_is_one_line_naming_it(tokenizer, synth_table, tmp_path, kind):
    path = wrong_copy(kind, synth_table, tmp_path)
    message = one_line_error(lambda: get_task("oolong_synth", tokenizer, data=str(path)))
    assert message.startswith("task oolong_synth:") and "no column 'question'" in message


def test_real_checks_its_columns_too(tokenizer, tmp_path):
    rows = [{k: v for k, v in row.items() if k != "answer"} for row in rows_of(DND)]
    path = tmp_path / "dnd.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    message = one_line_error(lambda: get_task("oolong_real", tokenizer, data=str(path)))
    assert "no column 'answer'" in message


def test_the_labelled_column_is_needed_only_with_labels(tokenizer, synth_table, tmp_path):
    path = tmp_path / "plain.jsonl"
    synth_table.remove_columns("context_window_text_with_labels").to_json(str(path), lines=True)
    get_task("oolong_synth", tokenizer, data=str(path))
    message = one_line_error(
        lambda: get_task("oolong_synth", tokenizer, data=str(path), labels=True)
    )
    assert "no column 'context_window_text_with_labels'" in message


def test_bad_paths_and_options_fail_at_construction(tokenizer, tmp_path):
    missing = tmp_path / "nothing.jsonl"
    assert "no such dataset file" in one_line_error(
        lambda: get_task("oolong_synth", tokenizer, data=str(missing))
    )
    message = one_line_error(
        lambda: get_task("oolong_synth", tokenizer, data=str(SYNTH), dataset="yahoo")
    )
    assert "'yahoo'" in message and "spam, trec_coarse" in message
    message = one_line_error(
        lambda: get_task("oolong_synth", tokenizer, data=str(SYNTH), bucket=4096)
    )
    assert "bucket 4096" in message and "1024, 2048" in message
    assert "must be 0 or more" in one_line_error(
        lambda: get_task("oolong_synth", tokenizer, data=str(SYNTH), bucket=-1)
    )
    message = one_line_error(lambda: get_task("oolong_real", tokenizer, data=str(DND), bucket=64))
    assert "bucket 64" in message and "512, 1024" in message
    assert "unknown option 'lables'" in one_line_error(
        lambda: get_task("oolong_synth", tokenizer, data=str(SYNTH), lables=True)
    )


def test_the_hub_defaults_are_what_the_reference_loads(tokenizer, synth_table, monkeypatch):
    asked = []

    def fake_open(source, **kwargs):
        asked.append((source, kwargs["config"], kwargs["split"], kwargs["default_split"]))
        return synth_table if "synth" in source else datasets.Dataset.from_list(rows_of(DND))

    monkeypatch.setattr(oolong_rows, "open_table", fake_open)
    get_task("oolong_synth", tokenizer)
    get_task("oolong_real", tokenizer)
    assert asked == [
        ("oolongbench/oolong-synth", None, None, "test"),
        ("oolongbench/oolong-real", "dnd", None, "test"),
    ]


# --- choosing rows -----------------------------------------------------------------------------


def test_buckets_are_nearest_by_ratio_the_smaller_on_a_tie():
    assert nearest_bucket([1024, 2048, 4096], 1400) == 1024
    assert nearest_bucket([1024, 2048, 4096], 1500) == 2048
    assert nearest_bucket([1000, 4000], 2000) == 1000
    assert nearest_bucket([1024, 2048], 10**7) == 2048
    assert [power_of_two_bucket(n) for n in (610, 724, 725, 853, 0)] == [512, 512, 1024, 1024, 1]


def test_the_length_picks_the_bucket(synth):
    for length, bucket in [(512, 1024), (1024, 1024), (1400, 1024), (1500, 2048), (10**6, 2048)]:
        for index in range(4):
            sample = synth.sample(length, 0, index)
            assert sample.metadata["bucket"] == bucket
            assert sample.length == length


def test_a_seed_orders_the_bucket_and_indices_walk_it(synth):
    rows = {row["id"] for row in rows_of(SYNTH) if row["context_len"] == 1024}
    walk = [synth.sample(1024, 3, index).metadata["row_id"] for index in range(len(rows))]
    assert sorted(walk) == sorted(rows)  # every row once
    assert synth.sample(1024, 3, len(rows)).metadata["row_id"] == walk[0]  # then around again

    def order(seed: int) -> tuple[int, ...]:
        return tuple(synth.sample(1024, seed, i).metadata["row_id"] for i in range(4))

    orders = {order(seed) for seed in range(4)}
    assert len(orders) > 1


def test_samples_are_deterministic_across_task_instances(tokenizer, synth):
    again = get_task("oolong_synth", tokenizer, data=str(SYNTH))
    assert again.sample(2048, 9, 2) == synth.sample(2048, 9, 2)
    assert synth.sample(2048, 9, 2) != synth.sample(2048, 9, 3)


def test_options_narrow_the_rows(tokenizer):
    spam = get_task("oolong_synth", tokenizer, data=str(SYNTH), dataset="spam")
    assert {spam.sample(2048, 0, i).metadata["dataset"] for i in range(4)} == {"spam"}
    fixed = get_task("oolong_synth", tokenizer, data=str(SYNTH), bucket=2048)
    assert {fixed.sample(256, 0, i).metadata["bucket"] for i in range(4)} == {2048}


def test_the_context_is_the_row_s_and_is_measured(tokenizer, synth):
    rows = {row["id"]: row for row in rows_of(SYNTH)}
    labelled = get_task("oolong_synth", tokenizer, data=str(SYNTH), labels=True)
    for index in range(6):
        sample = synth.sample(1024, 0, index)
        row = rows[sample.metadata["row_id"]]
        assert sample.context == row["context_window_text"]
        assert sample.query.question == row["question"]
        assert sample.actual_length == tokenizer.count(sample.context)
        assert len(sample.metadata["spans"]) == len(re.findall(r"^Date: ", sample.context, re.M))
        with_labels = labelled.sample(1024, 0, index)
        assert with_labels.context == row["context_window_text_with_labels"]
        assert with_labels.context.count(" || Label: ") == len(with_labels.metadata["spans"])


def test_real_buckets_are_windows_measured_in_the_model(tokenizer, real):
    rows = rows_of(DND)
    for row in rows:
        assert real.window_tokens[row["context_window_id"]] == tokenizer.count(
            row["context_window_text"]
        )
    single = get_task("oolong_real", tokenizer, data=str(DND), bucket=512)
    samples = [single.sample(100_000, 0, i) for i in range(5)]
    assert {s.metadata["question_type"].split("_")[0] for s in samples} == {"singledoc"}
    assert all(s.actual_length == tokenizer.count(s.context) for s in samples)
    multi = real.sample(1000, 0, 0)
    assert multi.metadata["bucket"] == 1024 and multi.context.count("[START OF EPISODE]\n") == 2
    lines = [multi.context[s:e] for s, e in multi.metadata["spans"]]
    assert len(lines) == 34 and all(re.match(r"[A-Z][a-z]+: ", line) for line in lines)


# --- the fixtures are what the README says ----------------------------------------------------


def labelled_lines(text: str) -> list[dict[str, str]]:
    fields = [line.split(" || ") for line in text.splitlines() if line.startswith("Date: ")]
    return [dict(part.split(": ", 1) for part in line) for line in fields]


def test_the_synth_answers_are_counted_from_the_labelled_lines():
    for row in rows_of(SYNTH):
        lines = labelled_lines(row["context_window_text_with_labels"])
        assert len(lines) == len(re.findall(r"^Date: ", row["context_window_text"], re.M))
        assert all(set(line) == {"Date", "User", "Instance", "Label"} for line in lines)
        counts = Counter(line["Label"] for line in lines)
        gold = synth_gold(row["answer"])
        question = row["question"]
        if row["task"] == "TASK_TYPE.NUMERIC_ONE_CLASS" and row["input_subset"] == "False":
            assert gold == counts[re.search(r"label '(.+?)'\?", question).group(1)]
        if row["task"] == "TASK_TYPE.MOST_FREQ" and row["answer_type"] == LABEL:
            assert gold == counts.most_common(1)[0][0]
        if row["answer_type"] == USER:
            users = Counter(int(line["User"]) for line in lines).most_common()
            rank = 0 if row["task"] == "TASK_TYPE.MOST_FREQ" else 1
            assert gold == users[rank][0]


# --- scoring through the task ------------------------------------------------------------------


def test_the_gold_reply_scores_one_and_no_reply_zero(synth, real):
    for task, count in [(synth, 12), (real, 5)]:
        for index in range(count):
            sample = task.sample(1024, 0, index)
            assert task.score(sample.answer, sample) == 1.0, sample.answer
            assert task.score(None, sample) == 0.0


def test_the_prediction_is_the_whole_reply_from_its_first_character(synth):
    query = synth.sample(1024, 0, 0).query
    assert parse_answer(" Label: human being\n", query) == "Label: human being\n"
    assert parse_answer(" \n ", query) is None
    assert query.answer_prefix == ""


def sample_where(task, length: int, **metadata):
    for index in range(50):
        sample = task.sample(length, 0, index)
        if all(sample.metadata[k] == v for k, v in metadata.items()):
            return sample
    raise AssertionError(f"no sample with {metadata}")


# --- runs through the real solvers -------------------------------------------------------------


def solve(name: str, params: dict, sample, model):
    return asyncio.run(make_solver(name, params).solve(sample, model))


def test_direct_completion_asks_the_row_s_question_and_scores_the_reply(tokenizer, synth):
    sample = sample_where(synth, 1024, oolong_task="TASK_TYPE.MOST_FREQ", dataset="trec_coarse")
    model = ScriptedModel(tokenizer, reply=lambda prompt: " Label: **numeric value**")
    result = solve("direct", {"form": "completion"}, sample, model)
    prompt = model.prompts[0]
    assert f"Text:\n{sample.context}\n\nQuestion: {sample.query.question}" in prompt
    assert prompt.endswith("Answer: ")
    assert result.prediction == "Label: **numeric value**"
    assert synth.score(result.prediction, sample) == 1.0


def test_direct_chat_gets_a_long_comparative_reply_right(tokenizer, synth):
    sample = sample_where(synth, 1024, raw_answer="['same frequency as']")

    def chat(messages):
        assert sample.context in messages[-1]["content"]
        return "**Answer:** entity is **same frequency as** location"

    model = ScriptedModel(tokenizer, has_chat_template=True, chat_reply=chat)
    result = solve("direct", {}, sample, model)
    assert synth.score(result.prediction, sample) == 1.0


def count_reader(prompt: str) -> str:
    """Counts the asked label's lines in the prompt's text, as a perfect reader of labels."""
    label = re.search(r"label '(.+?)'\?", prompt.rsplit("Question: ", 1)[-1]).group(1)
    return f" Answer: {last_text(prompt).count(f' || Label: {label}')}"


def test_recursion_sums_a_count_over_the_parts(tokenizer):
    task = get_task("oolong_synth", tokenizer, data=str(SYNTH), labels=True)
    sample = sample_where(task, 2048, oolong_task="TASK_TYPE.NUMERIC_ONE_CLASS")
    assert sample.decomposition.combine == "sum"
    model = ScriptedModel(tokenizer, reply=count_reader)
    result = solve("recursive", {"depth": 1, "fanout": 3, "min_chunk_tokens": 16}, sample, model)
    assert len(model.prompts) == 3
    assert result.prediction == str(synth_gold(sample.metadata["raw_answer"]))
    assert task.score(result.prediction, sample) == 1.0
    nodes = result.trace.to_list()
    annotate(nodes, task, sample)
    assert all(node["gold"] is None and node["correct"] is None for node in nodes)


def test_recursion_keeps_the_reply_most_parts_give(tokenizer, real):
    sample = sample_where(real, 1024, question_type="multidoc_spells")
    assert sample.decomposition.combine == "vote" and not real.exact_decomposition
    replies = iter(["\\boxed{5}", "I count \\boxed{4}", "\\boxed{5}"])
    model = ScriptedModel(tokenizer, reply=lambda prompt: next(replies))
    result = solve("recursive", {"depth": 1, "fanout": 3, "min_chunk_tokens": 16}, sample, model)
    assert result.prediction == "\\boxed{5}"
    assert real.score(result.prediction, sample) == dnd_score(
        "\\boxed{5}", sample.metadata["raw_answer"]
    )


def test_the_tasks_name_the_reference_scorer():
    for name in ("oolong_synth", "oolong_real"):
        cls = TASKS.get(name)
        assert "eval_helpers.py" in cls.scorer and "2511.02817" in cls.description
        assert cls.from_data and cls.accepts("data")
