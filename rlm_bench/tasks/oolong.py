"""OOLONG (Bertsch et al., arXiv 2511.02817) as the benchmark ships it: `oolong_synth` asks the
aggregation questions of OOLONG-synth (label counts, most and least common labels, comparisons,
users, dates over thousands of lines whose labels must be inferred from their meaning), and
`oolong_real` the D&D questions of OOLONG-real (rolls and spells over Critical Role
transcripts). Rows are read from the hub with `datasets` (or from a local copy, `data`) and
scored by the reference's own rules (`oolong_scoring.py`).

Which row a sample is: `oolong_rows.py` (the context-length bucket nearest the requested length,
or `bucket`; a seeded order of its rows; the index-th). A sample's `length` is the requested
length and its `actual_length` the context's tokens in the model under test: benchmark rows are
not fitted to a length.

How the prompt differs from the reference's. The reference sends a system turn of "You are a
helpful assistant." followed by the context, then the question as the user turn, and lets the
model write as much as it likes. Our solvers ask in their own one-shot form (`solvers/forms.py`
and `prompts.py`): "Text:" and the context, then "Question:" and the row's question. The query
is `multiline`, so the reply runs, as the reference's does, to the end of the model's turn (or
`max_tokens`), and may reason before it answers. The question already says how to answer
("Give your final answer in the form 'Label: answer'", "Return the final answer in \\boxed{}"),
so the answer cue a base model continues is empty (`Answer: ` alone), and the prediction is the
whole reply from its first non-space character (`answer_pattern`), because the reference parses
the raw reply itself. The one place the dropped leading whitespace can change a score is a
synth reply shorter than 20 characters without a colon, which the reference compares whole.

Recursion cannot combine OOLONG's answers exactly (the least common label of a whole is not a
vote of its parts'), so `Decomposition` is a heuristic: a count of one label (the
`TASK_TYPE.NUMERIC_ONE_CLASS` rows) is asked of each part and summed, since line counts add up
over a partition; every other question is asked of each part as it is, and the reply most parts
give wins. No per-part gold exists, so trace nodes are left unscored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar

from rlm_bench.errors import UserError
from rlm_bench.tasks import TASKS
from rlm_bench.tasks.base import Decomposition, Query, Sample
from rlm_bench.tasks.oolong_rows import RowBuckets, open_rows, power_of_two_bucket
from rlm_bench.tasks.oolong_scoring import dnd_score, synth_gold, synth_score
from rlm_bench.tasks.task_base import TaskBase

WHOLE_REPLY = r"(?s)\S.*"
ONE_LINE = r"\S.*"
"""A part's reply as one vote: the reply most parts give becomes the answer."""
COUNT = r"-?\d+"
ADDITIVE_TASK = "TASK_TYPE.NUMERIC_ONE_CLASS"
"""How many lines have a label: the one synth question whose part answers add up."""
SYNTH_ANSWER_TOKENS = 64
REAL_ANSWER_TOKENS = 256
"""D&D answers can be lists of spell names across two dozen episodes."""
RECORD_LINE = re.compile(r"^Date: .*$", re.M)
EPISODE = re.compile(r"\[START OF EPISODE\]\n(.*?)\n\[END OF EPISODE\]", re.S)
LINE = re.compile(r"^.+$", re.M)
COMMON_COLUMNS = ("id", "context_window_id", "context_window_text", "question", "answer")
SYNTH_COLUMNS = (*COMMON_COLUMNS, "dataset", "context_len", "task_group", "task", "answer_type")
LABELLED_TEXT = "context_window_text_with_labels"


@dataclass(frozen=True)
class SynthOptions:
    data: str = "oolongbench/oolong-synth"
    """A hub id, a `save_to_disk` folder, or a `.parquet`/`.jsonl` file."""
    split: str = ""
    """Empty: `test` (a local file has one split of its own)."""
    dataset: str = ""
    """Only the rows of this source dataset (`trec_coarse`, `spam`, ...); empty: all."""
    labels: bool = False
    """Give the context with each line's label (`context_window_text_with_labels`), as the
    reference's `--labels`."""
    bucket: int = 0
    """The `context_len` to draw rows from; 0: the one nearest the requested length."""


@dataclass(frozen=True)
class RealOptions:
    data: str = "oolongbench/oolong-real"
    config: str = "dnd"
    """The hub configuration (`toy_dnd` is the small one); ignored for a local copy."""
    split: str = ""
    bucket: int = 0
    """The power of two of context tokens to draw rows from; 0: the one nearest the requested
    length."""


def line_spans(context: str, pattern: re.Pattern[str]) -> list[list[int]]:
    return [[m.start(), m.end()] for m in pattern.finditer(context)]


def utterance_spans(context: str) -> list[list[int]]:
    """The transcript lines of every episode block: where the rolls and spells are told."""
    spans = []
    for episode in EPISODE.finditer(context):
        offset = episode.start(1)
        spans.extend([[offset + s, offset + e] for s, e in line_spans(episode.group(1), LINE)])
    return spans


def vote_of_parts(query: Query) -> Decomposition:
    return Decomposition("vote", part=replace(query, item_pattern=ONE_LINE), keep=1)


class OolongTask(TaskBase):
    """What both splits share: the table, opened at construction so a bad path or column fails
    before a model loads, and the row chosen by bucket."""

    exact_decomposition = False
    from_data = True
    rows: RowBuckets
    """The candidate rows by bucket (a cached property of each split)."""

    def columns(self) -> tuple[str, ...]:
        return COMMON_COLUMNS

    def validate(self) -> None:
        self.table = open_rows(
            self.name,
            self.options,
            columns=self.columns(),
            default_split="test",
            config=self.table_config(),
        )
        self.ids = list(self.table["id"])

    def table_config(self) -> str | None:
        return None

    def check_bucket(self) -> None:
        bucket, rows = self.options.bucket, self.rows
        if bucket and bucket not in rows.groups:
            known = ", ".join(map(str, rows.buckets))
            raise UserError(f"task {self.name}: no rows in bucket {bucket} (buckets: {known})")

    def pick_row(self, length: int, seed: int, index: int) -> tuple[dict[str, Any], int]:
        bucket = self.rows.choose(length, self.options.bucket)
        return self.table[self.rows.pick(self.name, bucket, seed, index)], bucket

    def gold_for_span(self, sample: Sample, start: int, end: int) -> None:
        """OOLONG's rows carry no per-part answers (the labels of a synth window would give
        counts, but not the ties and thresholds its questions were built with)."""
        return None


@TASKS.register("oolong_synth")
class OolongSynth(OolongTask):
    name = "oolong_synth"
    description = (
        "OOLONG-synth (arXiv 2511.02817) from the hub: aggregate questions about lines whose "
        "labels must be inferred (counts, most/least common, comparisons, users, dates); the "
        "row drawn from the context_len bucket nearest the length"
    )
    scorer = (
        "OOLONG's reference scorer (src/eval/eval_helpers.py, synth_process_response): the "
        "text after the reply's last colon, exact match, 0.75^|error| for counts, dateutil "
        "dates"
    )
    Options: ClassVar[type] = SynthOptions

    @property
    def context_column(self) -> str:
        return LABELLED_TEXT if self.options.labels else "context_window_text"

    def columns(self) -> tuple[str, ...]:
        return (*SYNTH_COLUMNS, self.context_column)

    def validate(self) -> None:
        super().validate()
        self.window_tokens: dict[Any, int] = {}
        self.check_bucket()  # also checks the `dataset` filter, which grouping the rows applies

    @cached_property
    def rows(self) -> RowBuckets:
        lengths = list(self.table["context_len"])
        sources = list(self.table["dataset"])
        wanted = self.options.dataset
        if wanted and wanted not in sources:
            known = ", ".join(sorted(set(sources)))
            raise UserError(f"task {self.name}: no rows of dataset {wanted!r} (datasets: {known})")
        chosen = [i for i, source in enumerate(sources) if not wanted or source == wanted]
        return RowBuckets(chosen, [lengths[i] for i in chosen], self.ids)

    def sample(self, length: int, seed: int, index: int) -> Sample:
        row, bucket = self.pick_row(length, seed, index)
        context = row[self.context_column]
        window = row["context_window_id"]
        if window not in self.window_tokens:
            self.window_tokens[window] = self.tokenizer.count(context)
        query = Query(
            question=row["question"],
            answer_prefix="",
            answer_pattern=WHOLE_REPLY,
            max_tokens=SYNTH_ANSWER_TOKENS,
        )
        if row["task"] == ADDITIVE_TASK:
            decomposition = Decomposition("sum", part=replace(query, answer_pattern=COUNT))
        else:
            decomposition = vote_of_parts(query)
        gold = synth_gold(row["answer"])
        return self.make_sample(
            length=length,
            seed=seed,
            index=index,
            context=context,
            actual_length=self.window_tokens[window],
            query=query,
            answer=reference_reply(gold),
            decomposition=decomposition,
            metadata={
                "row_id": row["id"],
                "context_window_id": window,
                "dataset": row["dataset"],
                "bucket": bucket,
                "task_group": row["task_group"],
                "oolong_task": row["task"],
                "answer_type": row["answer_type"],
                "raw_answer": row["answer"],
                "gold": str(gold),
                "labels": self.options.labels,
                "spans": line_spans(context, RECORD_LINE),
            },
        )

    def score(self, prediction: str | None, sample: Sample) -> float:
        return synth_score(
            prediction, sample.metadata["raw_answer"], sample.metadata["answer_type"]
        )


def reference_reply(gold: Any) -> str:
    """A reply in the form the questions ask for, which the reference scores 1: the gold
    after "Answer: ", a date as "Date: MM/DD/YYYY"."""
    if isinstance(gold, datetime):
        return f"Date: {gold:%m/%d/%Y}"
    return f"Answer: {gold}"


@TASKS.register("oolong_real")
class OolongReal(OolongTask):
    name = "oolong_real"
    description = (
        "OOLONG-real (arXiv 2511.02817) D&D split from the hub: roll and spell statistics "
        "over Critical Role transcripts; the row drawn from the power-of-two token bucket "
        "nearest the length, measured in the model's tokens"
    )
    scorer = (
        "OOLONG's reference scorer (src/eval/eval_helpers.py, dnd_process_response): the "
        "\\boxed{} answer typed as a number, a name or a list; 0.75^|error|, case-insensitive "
        "match, list recall; a type mismatch or no \\boxed{} scores 0 unless the whole reply "
        "is the gold name"
    )
    Options: ClassVar[type] = RealOptions

    def table_config(self) -> str | None:
        return self.options.config or None

    def validate(self) -> None:
        super().validate()
        if self.options.bucket:  # measuring every window is slow: only when a bucket is named
            self.check_bucket()

    @cached_property
    def window_tokens(self) -> dict[Any, int]:
        """Each context window's tokens in the model under test, counted once: windows are
        shared by dozens of questions and run to a million tokens."""
        first: dict[Any, int] = {}
        for row, window in enumerate(self.table["context_window_id"]):
            first.setdefault(window, row)
        texts = self.table.select_columns(["context_window_text"])
        return {
            w: self.tokenizer.count(texts[row]["context_window_text"]) for w, row in first.items()
        }

    @cached_property
    def rows(self) -> RowBuckets:
        windows = list(self.table["context_window_id"])
        buckets = [power_of_two_bucket(self.window_tokens[w]) for w in windows]
        return RowBuckets(range(len(windows)), buckets, self.ids)

    def sample(self, length: int, seed: int, index: int) -> Sample:
        row, bucket = self.pick_row(length, seed, index)
        context = row["context_window_text"]
        query = Query(
            question=row["question"],
            answer_prefix="",
            answer_pattern=WHOLE_REPLY,
            max_tokens=REAL_ANSWER_TOKENS,
        )
        return self.make_sample(
            length=length,
            seed=seed,
            index=index,
            context=context,
            actual_length=self.window_tokens[row["context_window_id"]],
            query=query,
            answer=f"\\boxed{{{row['answer']}}}",
            decomposition=vote_of_parts(query),
            metadata={
                "row_id": row["id"],
                "context_window_id": row["context_window_id"],
                "question_type": row.get("question_type"),
                "bucket": bucket,
                "raw_answer": str(row["answer"]),
                "spans": utterance_spans(context),
            },
        )

    def score(self, prediction: str | None, sample: Sample) -> float:
        return dnd_score(prediction, sample.metadata["raw_answer"])
