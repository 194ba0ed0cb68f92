"""`oolong_pairs`: the RLM paper's OOLONG-Pairs (arXiv 2512.24601, §2.1 and Appendix E.1 of
v1, D.1 of v2): 20 questions about pairs of users, asked of OOLONG-synth's trec_coarse windows
(thousands of "Date: ... || User: ... || Instance: <question>" lines whose labels must be
inferred), answered with a list of pairs and scored by F1. The answer grows with the square of
the qualifying users, which is what makes it the paper's quadratic task.

Rows come from the hub (`data`, `oolongbench/oolong-synth`, split `validation`, filtered to
dataset trec_coarse) or a local copy (`dataset_loading.open_table`). A window is drawn as
OOLONG's own tasks draw rows (`oolong_rows.py`): the `context_len` bucket nearest the requested
length, a seeded order of its distinct windows; sample `index` asks question `index % 20` of a
seeded order of the 20 (so 20 samples per length are the whole question set, as in the paper) of
window `index // 20`. The model sees `context_window_text`; the gold pairs are computed from
`context_window_text_with_labels` by each question's rule (`oolong_pairs_queries.py`).

The questions are the paper's word for word, pairs "separated by newlines": the query is
`multiline`, so an answer call runs to the end of its turn (or `max_tokens`), and the whole
reply is read for pairs. The gold is written as `combining.finish` writes pairs ("12345 &
67890, ..."); the scorer reads "(12345, 67890)" and "12345 & 67890" alike. The whole
question's `max_tokens` is the longest gold of the window's 20 questions, written in the asked
format, plus a quarter (and never less than about ten pairs): room for every pair and some
wrong ones, the same for every question of a window, so the cap does not tell a solver how
long this question's answer is.

A part of a window cannot know the pairs of a question whose rule counts or dates a user's
instances, so a part is asked the question about its own lines and the parts' pairs are merged:
a heuristic that loses the pairs whose users sit in different parts and keeps some whose counts
hold in a part but not in the whole. A part's gold is exact for the question it is asked. The
undated both-users questions (1-3, 6, 8) decompose exactly: a part is asked which users
qualify, and the pairs are formed once, at the root.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any, ClassVar

from rlm_bench.errors import UserError
from rlm_bench.tasks import TASKS
from rlm_bench.tasks.aggregation import ANSWER_SLACK, list_of, records_within
from rlm_bench.tasks.base import LIST_SEPARATOR, NONE_ANSWER, Decomposition, Query, Sample
from rlm_bench.tasks.combining import PAIR_JOINER, join_items
from rlm_bench.tasks.oolong_lines import labelled_lines
from rlm_bench.tasks.oolong_pairs_queries import (
    QUERIES,
    Entry,
    PairQuery,
    gold_pairs,
    qualifying_users,
)
from rlm_bench.tasks.oolong_rows import RowBuckets, open_rows
from rlm_bench.tasks.scoring import f1
from rlm_bench.tasks.task_base import TaskBase

PAIR = r"\(\s*\d+\s*,\s*\d+\s*\)|\b\d+ ?(?:&|and) ?\d+\b"
"""A pair as asked for, "(12345, 67890)", or as `finish` and some models write it, "12345 &
67890"."""
USER_ID = r"\b\d+\b"
WHOLE_REPLY = r"(?s)\S.*\S|\S"
"""The answer is the whole reply: pairs one a line, read by `item_pattern` wherever they are."""
USERS_FORMAT = "In your answer, list the user IDs separated by commas."
SOURCE = "trec_coarse"
PLAIN, LABELLED = "context_window_text", "context_window_text_with_labels"
COLUMNS = ("context_window_id", "context_len", PLAIN, LABELLED)
ROOM_FOR_WRONG_PAIRS = 1.25
FEWEST_ANSWER_TOKENS = 128
"""About ten pairs: a window whose questions all have short answers still lets a model list
some wrong ones."""


@dataclass(frozen=True)
class PairsOptions:
    data: str = "oolongbench/oolong-synth"
    """A hub id, a `save_to_disk` folder, or a `.parquet`/`.jsonl` file."""
    split: str = ""
    """Empty: `validation`, where the hub keeps the trec_coarse windows (its `test` split holds
    the other source datasets); a local file has one split of its own."""
    bucket: int = 0
    """The `context_len` to draw windows from; 0: the one nearest the requested length."""


def pair_key(item: str) -> str:
    """One pair however it is written: its two ids in numeric order."""
    low, high = sorted(re.findall(r"\d+", item), key=int)
    return f"{low}{PAIR_JOINER}{high}"


def format_pairs(pairs: set[tuple[str, str]]) -> str:
    return join_items([PAIR_JOINER.join(pair) for pair in sorted(pairs)])


def asked_format(pairs: set[tuple[str, str]]) -> str:
    """The pairs as the question asks for them, lower id first, one a line."""
    ordered = sorted(tuple(sorted(pair, key=int)) for pair in pairs)
    return "\n".join(f"({a}, {b})" for a, b in ordered) or NONE_ANSWER


def span_entries(sample: Sample, start: int, end: int) -> list[Entry]:
    meta = sample.metadata
    lines = records_within(sample, start, end)
    return [
        Entry(meta["users"][i], meta["labels"][i], date.fromisoformat(meta["days"][i]))
        for i in lines
    ]


@TASKS.register("oolong_pairs")
class OolongPairs(TaskBase):
    name = "oolong_pairs"
    description = (
        "the RLM paper's OOLONG-Pairs: its 20 questions (Appendix E.1 of v1) about pairs of "
        "users of OOLONG-synth trec_coarse windows from the hub, golds from the labelled "
        "windows, asked word for word"
    )
    scorer = "F1 over unordered pairs of user ids"
    Options: ClassVar[type] = PairsOptions
    exact_decomposition = False
    from_data = True

    def validate(self) -> None:
        self.table = open_rows(self.name, self.options, columns=COLUMNS, default_split="validation")
        self.window_tokens: dict[Any, tuple[int, int]] = {}
        """Per window: its tokens, and the answer tokens its questions are allowed."""
        bucket, windows = self.options.bucket, self.windows  # no trec_coarse rows fails here
        if bucket and bucket not in windows.groups:
            known = ", ".join(map(str, windows.buckets))
            raise UserError(f"task {self.name}: no windows of context_len {bucket} ({known})")

    @cached_property
    def windows(self) -> RowBuckets:
        """The first row of each distinct trec_coarse window, by `context_len`."""
        ids = list(self.table["context_window_id"])
        lengths = list(self.table["context_len"])
        names = self.table.column_names
        sources = list(self.table["dataset"]) if "dataset" in names else [SOURCE] * len(ids)
        first: dict[tuple[int, Any], int] = {}
        for row, (source, length, window) in enumerate(zip(sources, lengths, ids, strict=True)):
            if source == SOURCE:
                first.setdefault((length, window), row)
        if not first:
            raise UserError(f"task {self.name}: {self.options.data} has no {SOURCE} rows")
        rows = list(first.values())
        return RowBuckets(rows, [lengths[row] for row in rows], ids)

    def query_order(self, seed: int, bucket: int) -> list[PairQuery]:
        order = list(QUERIES)
        random.Random(f"{self.name}:queries:{seed}:{bucket}").shuffle(order)
        return order

    def sample(self, length: int, seed: int, index: int) -> Sample:
        bucket = self.windows.choose(length, self.options.bucket)
        row = self.table[self.windows.pick(self.name, bucket, seed, index // len(QUERIES))]
        query = self.query_order(seed, bucket)[index % len(QUERIES)]
        window, context = row["context_window_id"], row[PLAIN]
        lines = labelled_lines(context, row[LABELLED], f"task {self.name}: window {window}")
        entries = [line.entry for line in lines]
        pairs = gold_pairs(query, entries)
        if window not in self.window_tokens:
            self.window_tokens[window] = (
                self.tokenizer.count(context),
                self._answer_tokens(entries),
            )
        tokens, answer_tokens = self.window_tokens[window]
        return self.make_sample(
            length=length,
            seed=seed,
            index=index,
            context=context,
            actual_length=tokens,
            query=Query(
                question=query.text(),
                answer_prefix="The pairs of user IDs are:\n",
                answer_pattern=WHOLE_REPLY,
                item_pattern=PAIR,
                max_tokens=answer_tokens,
                multiline=True,
            ),
            answer=format_pairs(pairs),
            decomposition=self._decomposition(query, entries),
            metadata={
                "oolong_query": query.number,
                "context_window_id": window,
                "bucket": bucket,
                "spans": [[line.start, line.end] for line in lines],
                "users": [e.user for e in entries],
                "labels": [e.label for e in entries],
                "days": [e.day.isoformat() for e in entries],
            },
        )

    def _answer_tokens(self, entries: list[Entry]) -> int:
        longest = max((gold_pairs(q, entries) for q in QUERIES), key=len)
        written = self.tokenizer.count(" " + asked_format(longest))
        return max(FEWEST_ANSWER_TOKENS, int(written * ROOM_FOR_WRONG_PAIRS) + ANSWER_SLACK)

    def _decomposition(self, query: PairQuery, entries: list[Entry]) -> Decomposition:
        if not query.per_user:
            return Decomposition("union")
        everyone = join_items(list(dict.fromkeys(e.user for e in entries)))
        part = Query(
            question=query.users_text(USERS_FORMAT),
            answer_prefix="The user IDs are",
            answer_pattern=list_of(USER_ID),
            item_pattern=USER_ID,
            max_tokens=self.tokenizer.count(" " + everyone) + ANSWER_SLACK,
        )
        return Decomposition("union", part=part, finish="pairs")

    def score(self, prediction: str | None, sample: Sample) -> float:
        if prediction is None:
            return 0.0
        gold = [] if sample.answer == NONE_ANSWER else sample.answer.split(LIST_SEPARATOR)
        return f1(prediction, gold, PAIR, normalize=pair_key)

    def gold_for_span(self, sample: Sample, start: int, end: int) -> str:
        query = QUERIES[sample.metadata["oolong_query"] - 1]
        entries = span_entries(sample, start, end)
        if query.per_user:
            return join_items(qualifying_users(query, entries))
        return format_pairs(gold_pairs(query, entries))
