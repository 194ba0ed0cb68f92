"""The RLM paper's tasks and the implicit-label aggregations: `s_niah` is `niah_single` over
RULER's three single-needle variants; `oolong_pairs` computes its golds from labelled OOLONG
windows (hand-made ones here, the shared fixture too) and scores by F1; `labels=implicit`
records hide their category in a note, with golds that are what the generator decided and that
still combine over any partition."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections import Counter
from functools import cache
from itertools import combinations
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlm_bench.errors import UserError
from rlm_bench.tasks import aggregation_most_frequent, generated_tasks, get_task, records
from rlm_bench.tasks.base import NONE_ANSWER, length_tolerance
from rlm_bench.tasks.combining import combine, finish
from rlm_bench.tasks.needles import UUID_PATTERN
from rlm_bench.tasks.oolong_pairs_queries import QUERIES
from rlm_bench.tasks.record_notes import NOTES
from rlm_bench.tasks.records import CATEGORIES
from rlm_bench.tasks.s_niah import VARIANTS
from tests.test_task_properties import partition

FIXTURE = Path(__file__).parent / "fixtures" / "oolong" / "synth.jsonl"
AGGREGATIONS = [
    "aggregation_count",
    "aggregation_most_frequent",
    "aggregation_pairs",
    "aggregation_sum",
]


# --- s_niah ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s_niah(tokenizer):
    return get_task("s_niah", tokenizer)


def test_s_niah_is_niah_single_over_rulers_three_variants(tokenizer, s_niah):
    for index in range(6):
        haystack, kind = VARIANTS[index % 3]
        sample = s_niah.sample(2048, 4, index)
        twin = get_task("niah_single", tokenizer, haystack=haystack, value_kind=kind)
        expected = twin.sample(2048, 4, index)
        assert sample.sample_id == f"s_niah/L2048/s4/i{index}" and sample.task == "s_niah"
        assert (sample.context, sample.answer, sample.query) == (
            expected.context,
            expected.answer,
            expected.query,
        )
        assert sample.metadata["haystack"] == haystack
        assert sample.metadata["value_kind"] == kind


def test_fifty_s_niah_samples_hold_every_variant_at_every_depth(s_niah):
    seen = Counter()
    for index in range(50):
        sample = s_niah.sample(1024, 0, index)
        meta = sample.metadata
        seen[(meta["haystack"], meta["value_kind"], meta["depth"])] += 1
        pattern = UUID_PATTERN if meta["value_kind"] == "uuid" else r"[1-9]\d{6}"
        assert re.fullmatch(pattern, sample.answer)
        if meta["haystack"] == "noise":
            assert "The grass is green." in sample.context
    assert len(seen) == 15 and min(seen.values()) == 3


@pytest.mark.parametrize("length", [1024, 8192, 32768])
def test_s_niah_hits_the_length(tokenizer, s_niah, length):
    for index in range(3):
        sample = s_niah.sample(length, 1, index)
        assert sample.actual_length == tokenizer.count(sample.context)
        assert abs(sample.actual_length - length) <= length_tolerance(length)


def test_s_niah_scores_and_span_golds_follow_the_variant(s_niah):
    sample = s_niah.sample(2048, 2, 2)  # a uuid
    (needle,) = sample.metadata["needles"]
    assert s_niah.score(f"It is {sample.answer}.", sample) == 1.0
    assert s_niah.score(sample.answer[:-1] + "0", sample) == 0.0
    assert s_niah.gold_for_span(sample, needle["start"], needle["end"]) == sample.answer
    assert s_niah.gold_for_span(sample, needle["start"] + 1, len(sample.context)) == NONE_ANSWER


def test_s_niah_options_are_checked():
    with pytest.raises(UserError, match="structure"):
        get_task("s_niah", None, structure="upside-down")
    with pytest.raises(UserError, match="unknown option 'haystack'"):
        get_task("s_niah", None, haystack="noise")


# --- oolong_pairs: hand-made windows in OOLONG's format ----------------------------------------

HEADER = (
    "The following lines contain {n} general-knowledge questions, one per line. Each question "
    "has an answer that can be described as one of 6 categories: 'entity', 'human being', "
    "'abbreviation', 'description and abstract concept', 'location', 'numeric value'.\n\n"
    "You will be asked to answer questions about the aggregate label statistics across all {n} "
    "examples in this dataset. Do not try to guess, estimate, or approximate the result. "
    "Calculate the exact answer given these datapoints.\n\n"
)
FOOTER = "\nRecall: the preceding lines contain {n} general-knowledge questions, one per line."
WINDOW = [  # (date, user, question, label)
    ("Feb 02, 2023", "101", "How many moons does Mars have ?", "numeric value"),
    ("Jan 01, 2023", "99", "Where is the Eiffel Tower ?", "location"),
    ("Jan 05, 2023", "303", "Who wrote Hamlet ?", "human being"),
    ("Mar 01, 2023", "303", "What city hosts the Prado ?", "location"),
    ("Feb 10, 2023", "404", "Who painted Guernica ?", "human being"),
    ("Apr 04, 2022", "505", "What instrument did Miles Davis play ?", "entity"),
    ("May 05, 2023", "505", "What does NATO stand for ?", "abbreviation"),
    ("Jun 06, 2023", "606", "What is the largest bird ?", "entity"),
    ("Jul 07, 2023", "707", "Why is the sky blue ?", "description and abstract concept"),
    ("Aug 08, 2023", "101", "What breed is Lassie ?", "entity"),
]
HAND_GOLDS = {
    # both have a numeric value or location: 101, 99 and 303, in string order
    1: "101 & 303, 101 & 99, 303 & 99",
    # human being or location, every human being after Jan 6, 2023: 99 (no human being) and
    # 404; 303's human being is on Jan 5
    4: "404 & 99",
    # one has an entity and an abbreviation (505), the other exactly one entity (101, 505, 606)
    11: "101 & 505, 505 & 606",
    # one has a human being and a numeric value: nobody
    14: NONE_ANSWER,
}


def window_texts(lines: list[tuple[str, str, str, str]]) -> tuple[str, str]:
    head, foot = HEADER.format(n=len(lines)), FOOTER.format(n=len(lines))
    plain = [f"Date: {d} || User: {u} || Instance: {q}" for d, u, q, _ in lines]
    labelled = [f"{p} || Label: {label}" for p, (*_, label) in zip(plain, lines, strict=True)]
    return head + "\n".join(plain) + foot, head + "\n".join(labelled) + foot


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def window_row(window: int, lines=WINDOW, context_len: int = 1024, **changes) -> dict:
    plain, labelled = window_texts(lines)
    row = {
        "id": window * 10,
        "context_window_id": window,
        "context_len": context_len,
        "dataset": "trec_coarse",
        "context_window_text": plain,
        "context_window_text_with_labels": labelled,
    }
    return {**row, **changes}


@pytest.fixture
def hand_task(tokenizer, tmp_path):
    data = write_rows(tmp_path / "pairs.jsonl", [window_row(7), window_row(7)])
    return get_task("oolong_pairs", tokenizer, data=str(data))


def sample_of_query(task, number: int, length: int = 1024, seed: int = 0):
    for index in range(len(QUERIES)):
        sample = task.sample(length, seed, index)
        if sample.metadata["oolong_query"] == number:
            return sample
    raise AssertionError(f"no sample asks question {number}")


@pytest.mark.parametrize("number", sorted(HAND_GOLDS))
def test_pair_golds_are_the_hand_computed_ones(hand_task, number):
    sample = sample_of_query(hand_task, number)
    assert sample.answer == HAND_GOLDS[number]
    assert sample.query.question.startswith(QUERIES[number - 1].text().split(". Each")[0])
    assert sample.query.question.endswith("separated by newlines.") and sample.query.multiline
    assert "Label:" not in sample.context and "User: 505" in sample.context


def test_twenty_samples_ask_each_question_once_of_one_window(hand_task):
    samples = [hand_task.sample(1024, 3, index) for index in range(20)]
    assert sorted(s.metadata["oolong_query"] for s in samples) == list(range(1, 21))
    assert {s.metadata["context_window_id"] for s in samples} == {7}
    assert hand_task.sample(1024, 3, 5) == samples[5]
    other_seed = [hand_task.sample(1024, 4, i).metadata["oolong_query"] for i in range(20)]
    assert other_seed != [s.metadata["oolong_query"] for s in samples]


def test_pair_f1(hand_task):
    sample = sample_of_query(hand_task, 1)  # three pairs: 101-303, 101-99, 303-99
    score = hand_task.score
    assert score("(99, 101)\n(101, 303), (99, 303)", sample) == 1.0
    assert score("(303, 101), (101, 99), (99, 303)", sample) == 1.0
    assert score(sample.answer, sample) == 1.0
    assert score("(99, 101)", sample) == pytest.approx(0.5)  # precision 1, recall 1/3
    extra = "(99, 101), (101, 303), (99, 303), (404, 505)"
    assert score(extra, sample) == pytest.approx(6 / 7)  # precision 3/4, recall 1
    assert score("(404, 505)", sample) == 0.0
    assert score(None, sample) == 0.0 and score("none", sample) == 0.0
    empty = sample_of_query(hand_task, 14)
    assert score("none", empty) == 1.0
    assert score("(99, 101)", empty) == 0.0 and score(None, empty) == 0.0


def test_the_both_users_questions_decompose_exactly(hand_task):
    sample = sample_of_query(hand_task, 1)
    part = sample.part_query
    assert sample.decomposition.finish == "pairs" and "list all user IDs" in part.question
    spans = sample.metadata["spans"]
    assert [sample.context[s:e] for s, e in spans] == re.findall(
        r"^Date: .*$", sample.context, re.M
    )
    golds = [hand_task.gold_for_span(sample, s, e) for s, e in spans]
    assert golds == ["101", "99", "none", "303", "none", "none", "none", "none", "none", "none"]
    assert finish(combine(golds, sample.decomposition, part), sample.decomposition, part) == (
        sample.answer
    )


def test_other_questions_ask_each_part_for_its_own_pairs(hand_task):
    sample = sample_of_query(hand_task, 11)
    assert sample.decomposition.part is None and sample.decomposition.finish == "same"
    spans = sample.metadata["spans"]
    # lines 6-8 alone: 505 has an entity and an abbreviation; 505 and 606 one entity each
    assert hand_task.gold_for_span(sample, spans[5][0], spans[7][1]) == "505 & 606"
    assert hand_task.gold_for_span(sample, spans[5][0], spans[7][1] - 1) == NONE_ANSWER
    assert hand_task.gold_for_span(sample, 0, len(sample.context)) == sample.answer


def test_oolong_pairs_reads_data_and_s_niah_does_not():
    assert "oolong_pairs" not in generated_tasks() and "s_niah" in generated_tasks()


def test_the_answer_cap_is_the_same_for_every_question_of_a_window(hand_task):
    caps = {hand_task.sample(1024, 0, index).query.max_tokens for index in range(20)}
    assert len(caps) == 1 and caps.pop() >= 128


@pytest.mark.parametrize(
    ("rows", "options", "message"),
    [
        (None, {"data": "/no/such/file.jsonl"}, "no such dataset file"),
        ([{k: v for k, v in window_row(1).items() if k != "context_window_text_with_labels"}],
         {}, "no column 'context_window_text_with_labels'"),
        ([window_row(1, dataset="spam")], {}, "has no trec_coarse rows"),
        ([window_row(1)], {"bucket": 4096}, "no windows of context_len 4096 \\(1024\\)"),
    ],
)  # fmt: skip
def test_loading_errors_are_one_line(tokenizer, tmp_path, rows, options, message):
    if rows is not None:
        options = {"data": str(write_rows(tmp_path / "rows.jsonl", rows)), **options}
    with pytest.raises(UserError, match=message) as error:
        get_task("oolong_pairs", tokenizer, **options)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("changed", "old", "new", "message"),
    [
        ("labelled", "\nDate: Aug 08", "\nNot a line: Aug 08",
         "has 10 question lines but its labelled copy 9"),
        ("plain", "Who wrote Hamlet", "Who wrote Macbeth", "question line 3 differs"),
        ("labelled", "|| Label: entity", "|| Label: thing",
         "question line 6 has no trec_coarse label \\('thing'\\)"),
        ("both", "Feb 10, 2023", "Feb 30, 2023", "no such date Feb 30, 2023"),
    ],
)  # fmt: skip
def test_a_labelled_copy_that_does_not_fit_its_window_is_one_line(tokenizer, tmp_path, changed,
                                                                  old, new, message):  # fmt: skip
    row = window_row(1)
    for column, which in [("context_window_text", "plain"),
                          ("context_window_text_with_labels", "labelled")]:  # fmt: skip
        if changed in (which, "both"):
            row[column] = row[column].replace(old, new, 1)
    task = get_task("oolong_pairs", tokenizer, data=str(write_rows(tmp_path / "r.jsonl", [row])))
    with pytest.raises(UserError, match=message) as error:
        task.sample(1024, 0, 0)
    assert "\n" not in str(error.value)


# --- oolong_pairs on the shared OOLONG fixture -------------------------------------------------


def fixture_entries(labelled: str) -> list[dict[str, str]]:
    """The labelled lines as the fixture's README describes them: four `key: value` fields."""
    lines = [ln for ln in labelled.splitlines() if ln.startswith("Date: ")]
    return [dict(field.split(": ", 1) for field in line.split(" || ")) for line in lines]


@pytest.fixture(scope="module")
def fixture_task(tokenizer):
    return get_task("oolong_pairs", tokenizer, data=str(FIXTURE))


def test_fixture_windows_are_the_trec_coarse_ones_by_length(fixture_task):
    rows = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
    trec = {r["context_window_id"]: r for r in rows if r["dataset"] == "trec_coarse"}
    drawn = {1024: set(), 2048: set()}
    for length in drawn:
        for index in range(0, 60, 20):
            sample = fixture_task.sample(length, 0, index)
            drawn[length].add(sample.metadata["context_window_id"])
            assert (
                sample.context == trec[sample.metadata["context_window_id"]]["context_window_text"]
            )
    assert drawn == {1024: {1001, 1002}, 2048: {2001}}


@pytest.mark.parametrize("length", [1024, 2048])
def test_fixture_golds_for_the_both_users_questions(fixture_task, length):
    rows = {json.loads(ln)["context_window_id"]: json.loads(ln) for ln in FIXTURE.open()}
    for index in range(40):
        sample = fixture_task.sample(length, 1, index)
        query = QUERIES[sample.metadata["oolong_query"] - 1]
        row = rows[sample.metadata["context_window_id"]]
        entries = fixture_entries(row["context_window_text_with_labels"])
        assert len(entries) == len(sample.metadata["spans"])
        assert fixture_task.score(sample.answer, sample) == 1.0
        if query.per_user:
            users = {e["User"] for e in entries if e["Label"] in query.either}
            expected = [f"{a} & {b}" for a, b in combinations(sorted(users), 2)]
            assert sample.answer == (", ".join(expected) or NONE_ANSWER)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(index=st.integers(0, 39), fanout=st.integers(2, 6), depth=st.integers(1, 3))
def test_fixture_partitions_never_cut_a_line_and_exact_golds_combine(fixture_task, index, fanout,
                                                                    depth):  # fmt: skip
    sample = fixture_task.sample(1024, 0, index)
    spans = partition(sample.context, fanout, depth)
    bounds = {s for s, _ in spans[1:]}
    for start, end in sample.metadata["spans"]:
        assert not any(start < b < end for b in bounds)
    decomposition, part = sample.decomposition, sample.part_query
    whole = fixture_task.gold_for_span(sample, 0, len(sample.context))
    assert finish(whole, decomposition, part) == sample.answer
    if QUERIES[sample.metadata["oolong_query"] - 1].per_user:
        golds = [fixture_task.gold_for_span(sample, s, e) for s, e in spans]
        assert finish(combine(golds, decomposition, part), decomposition, part) == sample.answer


# --- implicit labels ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def implicit(tokenizer):
    @cache
    def sample(name: str, length: int, seed: int, index: int):
        return get_task(name, tokenizer, labels="implicit").sample(length, seed, index)

    return sample


def category_words(text: str) -> list[str]:
    return [c for c in CATEGORIES if c in text.lower()]


@pytest.mark.parametrize("name", AGGREGATIONS)
def test_no_category_word_appears_in_an_implicit_context(implicit, name):
    for length, seed in [(512, 0), (4096, 1), (16384, 2)]:
        sample = implicit(name, length, seed, seed)
        assert category_words(sample.context) == []
        assert "category:" not in sample.context and "| note: " in sample.context
        for example in (*sample.query.examples, *sample.part_query.examples):
            assert category_words(example.context) == []
        assert "Records have no category field" in sample.query.question


def test_no_note_names_a_category_and_none_belongs_to_two():
    notes = [note for category in NOTES.values() for note in category]
    assert len(notes) == len(set(notes)) > 2000
    assert [n for n in notes if category_words(n)] == []


def test_no_single_word_picks_out_a_category():
    """The best one-word keyword classifier of each category, over all notes, misses or
    mistakes enough notes that counting it is no shortcut."""
    labelled = [(set(re.findall(r"[a-z-]+", n.lower())), c) for c, ns in NOTES.items() for n in ns]
    for category, notes in NOTES.items():
        vocabulary = set().union(*(w for w, c in labelled if c == category))
        best = 0.0
        for word in vocabulary:
            hits = [c for words, c in labelled if word in words]
            precision = hits.count(category) / len(hits)
            recall = hits.count(category) / len(notes)
            best = max(best, 2 * precision * recall / (precision + recall))
        assert best < 0.85, category


@pytest.fixture
def generated(monkeypatch):
    """What the generator meant each record line to be, as it wrote it (and relabelled it)."""
    meant: dict[str, str] = {}
    make, relabel = records.RecordMaker.record, aggregation_most_frequent.relabel

    def record(self, category, user=None):
        line = make(self, category, user)
        meant[line] = category
        return line

    def tracked_relabel(line, category):
        new = relabel(line, category)
        meant[new] = category
        return new

    monkeypatch.setattr(records.RecordMaker, "record", record)
    monkeypatch.setattr(aggregation_most_frequent, "relabel", tracked_relabel)
    return meant


@pytest.mark.parametrize("name", AGGREGATIONS)
def test_implicit_golds_are_the_generation_time_labels(tokenizer, generated, name):
    task = get_task(name, tokenizer, labels="implicit")
    for length, seed in [(256, 0), (2048, 3), (8192, 1)]:
        generated.clear()
        sample = task.sample(length, seed, 2)
        meant = [generated[line] for line in sample.context.split("\n")]
        if name == "aggregation_pairs":
            category = sample.metadata["category"]
            users = [re.search(r"user: (\w+)", ln)[1] for ln in sample.context.split("\n")]
            holders = sorted({u for u, c in zip(users, meant, strict=True) if c == category})
            pairs = [f"{a} & {b}" for a, b in combinations(holders, 2)]
            assert sample.answer == ", ".join(pairs)
            continue
        assert sample.metadata["labels"] == meant
        if name == "aggregation_count":
            assert sample.answer == str(meant.count(sample.metadata["category"]))
        if name == "aggregation_most_frequent":
            (top, first), (_, second) = Counter(meant).most_common(2)
            assert sample.answer == top and first > second
        for example in sample.query.examples:
            if name == "aggregation_count":
                labels = [generated[line] for line in example.context.split("\n")]
                assert example.answer == str(labels.count(sample.metadata["category"]))


def test_implicit_samples_differ_from_explicit_ones_only_in_the_label_field(tokenizer):
    explicit = get_task("aggregation_count", tokenizer).sample(2048, 0, 0)
    hidden = get_task("aggregation_count", tokenizer, labels="implicit").sample(2048, 0, 0)
    first, second = explicit.context.split("\n")[0], hidden.context.split("\n")[0]
    assert first.split(" | category: ")[0] == second.split(" | note: ")[0]


@pytest.mark.parametrize("name", AGGREGATIONS)
def test_implicit_lengths_are_hit(tokenizer, implicit, name):
    for length in [1024, 8192]:
        sample = implicit(name, length, 5, 0)
        assert sample.actual_length == tokenizer.count(sample.context)
        assert abs(sample.actual_length - length) <= length_tolerance(length)


def _implicit_fingerprints() -> dict[str, str]:
    from rlm_bench.models.embedded import EmbeddedModel

    tokenizer = EmbeddedModel().tokenizer
    return {
        name: hashlib.sha256(
            json.dumps(
                get_task(name, tokenizer, labels="implicit").sample(2048, 11, 3).to_dict()
            ).encode()
        ).hexdigest()
        for name in AGGREGATIONS
    }


def test_implicit_samples_are_byte_identical_across_processes(implicit):
    code = (
        "import json; from tests.test_paper_tasks import _implicit_fingerprints; "
        "print(json.dumps(_implicit_fingerprints()))"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(other.stdout) == _implicit_fingerprints()
    assert implicit("aggregation_sum", 2048, 11, 3) != implicit("aggregation_sum", 2048, 12, 3)


@pytest.mark.parametrize("name", AGGREGATIONS)
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    length=st.sampled_from([1024, 3000]),
    seed=st.integers(0, 3),
    fanout=st.integers(2, 9),
    depth=st.integers(1, 3),
)
def test_implicit_partitions_never_cut_a_record_and_golds_add_up(tokenizer, implicit, name, length,
                                                                 seed, fanout, depth):  # fmt: skip
    task = get_task(name, tokenizer, labels="implicit")
    sample = implicit(name, length, seed, 0)
    spans = partition(sample.context, fanout, depth)
    bounds = {s for s, _ in spans[1:]}
    for start, end in sample.metadata["spans"]:
        assert not any(start < b < end for b in bounds)
    decomposition, part = sample.decomposition, sample.part_query
    whole = task.gold_for_span(sample, 0, len(sample.context))
    golds = [task.gold_for_span(sample, s, e) for s, e in spans]
    assert combine(golds, decomposition, part) == whole
    assert finish(whole, decomposition, part) == sample.answer


def test_the_labels_option_is_checked():
    with pytest.raises(UserError, match="option 'labels' must be one of explicit, implicit"):
        get_task("aggregation_sum", None, labels="hidden")


def test_relabelling_keeps_the_line_and_about_its_length():
    line = "id 1 | user: wei | date: 2020-01-01 | note: tuned the cello before the pub gig"
    moved = records.relabel(line, "finance")
    assert moved.startswith("id 1 | user: wei | date: 2020-01-01 | note: ")
    assert records.label_of(moved) == "finance"
    assert abs(len(moved) - len(line)) <= 3
    assert records.relabel("id 2 | category: food", "travel") == "id 2 | category: travel"


def test_oolong_pairs_reads_the_hub_split_that_holds_trec_coarse(tokenizer, monkeypatch):
    from rlm_bench.tasks import oolong_rows

    asked = []

    def refuse(source, **kwargs):
        asked.append((source, kwargs["split"], kwargs["default_split"]))
        raise UserError("stop here: no hub in tests")

    monkeypatch.setattr(oolong_rows, "open_table", refuse)
    with pytest.raises(UserError, match="stop here"):
        get_task("oolong_pairs", tokenizer)
    assert asked == [("oolongbench/oolong-synth", None, "validation")]


def test_s_niah_scores_by_rulers_metric_when_asked(tokenizer):
    strict = get_task("s_niah", tokenizer).sample(1024, seed=0, index=1)
    ruler_task = get_task("s_niah", tokenizer, scoring="ruler")
    ruler = ruler_task.sample(1024, seed=0, index=1)
    assert ruler.context == strict.context and ruler.answer == strict.answer
    reply = f"maybe 1234567, or rather {ruler.answer}"
    assert ruler_task.score(reply, ruler) == 1.0
    assert get_task("s_niah", tokenizer).score(reply, strict) == 0.0
