"""`ruler_jsonl`: the rows of a `validation.jsonl` that RULER's `prepare.py` wrote, replayed as
samples and scored with RULER's own metric on the whole reply.

A RULER file holds one task at one length (`<save_dir>/<task>/validation.jsonl`, one file per
`max_seq_length`), so `data` may name the length as `{length}` and each suite length opens its
own file. Sample `index` is row `index`; an index past the last row is an error rather than a
repeat, since a repeated row would count twice in a cell's interval. The rows are fixed, so the
seed changes nothing: samples of one index under several seeds are the same row.

Each row's `input` is cut into context and question by `ruler_templates.split_input`; its
`answer_prefix` becomes the query's answer cue (stripped, and without RULER's leading
"Answer:", which the prompts write themselves). `actual_length` counts the context in the
model's tokens; RULER's `length` field (the whole input plus the tokens to generate, in
RULER's tokenizer) is kept in the metadata. Solved examples RULER put before the template
(`vt`, `cwe`) stay in the metadata too: the prompts ask each example the real question, and
`vt`'s example is about another value.

A recursion asks its parts a strict version of the question (values of the needle's kind, the
five-letter variable names, words) and combines them as the matching generated task does; for
needle rows the needles are found in the context, so intermediate answers are scored, for the
others `gold_for_span` is None and nodes are left unscored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

from rlm_bench.errors import UserError
from rlm_bench.tasks import TASKS
from rlm_bench.tasks.base import LIST_SEPARATOR, NONE_ANSWER, Decomposition, Query, Sample
from rlm_bench.tasks.dataset_loading import open_table
from rlm_bench.tasks.needles import UUID_PATTERN, ValueKind
from rlm_bench.tasks.ruler_scoring import WHOLE_REPLY
from rlm_bench.tasks.ruler_templates import FAMILIES, Split, family_of, split_input
from rlm_bench.tasks.scoring import string_match_all, string_match_part
from rlm_bench.tasks.task_base import TaskBase

COLUMNS = ("input", "outputs", "answer_prefix")
METRICS = {"all": string_match_all, "part": string_match_part}
LENGTH_SLOT = "{length}"
DEFAULT_TOKENS = 128
"""Tokens to generate for a row of no known task type (RULER's most, the needle tasks')."""
NEEDLE_VALUES = {
    "number": r"\d{7}",
    "uuid": UUID_PATTERN,
    "word": r"\b[a-z]+(?:-[a-z]+)+\b",
}
"""RULER's needle values by the kind its question names: 7 digits, a UUID, an adjective-noun."""
NEEDLE_LEAD = "One of the special magic"
"""How every RULER needle sentence begins (`niah.py`)."""
LIST_ITEMS = {
    "variable_tracking": r"\b[A-Z]{5}\b",
    "common_words_extraction": r"\b[A-Za-z]+(?:-[A-Za-z]+)*\b",
    "freq_words_extraction": r"\b[a-z]+\b",
}


@dataclass(frozen=True)
class RulerJsonlOptions:
    data: str = ""
    """A RULER `validation.jsonl` (or a parquet of its rows); `{length}` is the sample length."""
    ruler_task: str = ""
    """The RULER task the file holds (`niah_single_1`, `vt`, `cwe`, `fwe`, `qa_1`...); empty:
    the name of the folder holding `data`, as `prepare.py` lays files out."""
    metric: str = ""
    """`all` (string_match_all) or `part` (string_match_part); empty: the RULER task's own."""


def answer_cue(answer_prefix: str) -> str:
    cue = answer_prefix.strip()
    return cue[len("Answer:") :].strip() if cue.startswith("Answer:") else cue


def list_query(query: Query, item: str) -> Query:
    return Query(
        question=query.question,
        answer_prefix=query.answer_prefix,
        answer_pattern=ValueKind("item", "items", item, 0).list_pattern(),
        item_pattern=item,
        max_tokens=query.max_tokens,
    )


def decomposition_for(split: Split, outputs: list[str], query: Query) -> Decomposition:
    """How a recursion asks the parts and combines their answers, by the row's task type."""
    family = split.family
    if family == "niah":
        value = NEEDLE_VALUES.get((split.kind or "number").rstrip("s"), NEEDLE_VALUES["number"])
        if len(outputs) == 1:
            part = Query(query.question, query.answer_prefix, value, max_tokens=query.max_tokens)
            return Decomposition(combine="find", part=part)
        return Decomposition(combine="union", part=list_query(query, value))
    if family == "variable_tracking":
        return Decomposition(combine="union", part=list_query(query, LIST_ITEMS[family]))
    if family in LIST_ITEMS:
        part = list_query(query, LIST_ITEMS[family])
        return Decomposition(combine="vote", part=part, finish="top", keep=len(outputs))
    return Decomposition(combine="find", part=query)


def locate_needles(context: str, outputs: list[str]) -> list[dict[str, Any]]:
    """Each value's needle sentence (from its "One of the special magic" to the value's full
    stop), in the order of `outputs`; empty when some value has no such sentence."""
    needles = []
    for value in outputs:
        found = re.search(rf"is: {re.escape(value)}\.", context)
        start = context.rfind(NEEDLE_LEAD, 0, found.start()) if found else -1
        if start < 0:
            return []
        needles.append({"start": start, "end": found.end(), "value": value})
    return needles


@TASKS.register("ruler_jsonl")
class RulerJsonl(TaskBase):
    name = "ruler_jsonl"
    description = "replay the rows of a RULER validation.jsonl that prepare.py wrote"
    scorer = (
        "RULER's metric on the whole reply: string_match_all (metric=all, for niah*, vt, cwe, "
        "fwe) or string_match_part (metric=part, for qa*), by default the RULER task's own"
    )
    Options: ClassVar[type] = RulerJsonlOptions
    exact_decomposition = False
    from_data = True

    def validate(self) -> None:
        """Also opens the file (unless it depends on the length) and splits its first row, so a
        wrong path, column or template fails before a model loads."""
        options = self.options
        where = f"task {self.name}"
        if not options.data:
            raise UserError(f"{where}: option 'data' is required (a RULER validation.jsonl)")
        if options.metric not in ("", *METRICS):
            raise UserError(f"{where}: option 'metric' must be all or part, got {options.metric!r}")
        named = options.ruler_task or Path(options.data).parent.name
        self.family = family_of(named)
        self.metric = options.metric or (FAMILIES[self.family].metric if self.family else "")
        if not self.metric:
            raise UserError(
                f"{where}: cannot tell which RULER task {options.data} holds ({named!r}); set "
                "ruler_task (niah_single_1, vt, cwe, fwe, qa_1...) or metric (all or part)"
            )
        self._tables: dict[str, Any] = {}
        if LENGTH_SLOT not in options.data:
            self.row(length=0, index=0)

    def path(self, length: int) -> str:
        return self.options.data.replace(LENGTH_SLOT, str(length))

    def row(self, length: int, index: int) -> tuple[dict[str, Any], Split, str]:
        """Row `index` of the file for `length`, checked, with its input split."""
        path = self.path(length)
        if path not in self._tables:
            label = f"task {self.label}"
            self._tables[path] = open_table(path, label=label, columns=COLUMNS)
        table = self._tables[path]
        if index >= len(table):
            raise UserError(
                f"task {self.label}: {path} has {len(table)} rows, so there is no sample "
                f"{index}; ask for at most {len(table)} samples"
            )
        row = table[index]
        where = f"task {self.label}: {path} row {index}"
        for column in ("input", "answer_prefix"):
            if not isinstance(row[column], str):
                raise UserError(f"{where}: {column!r} is not a string")
        outputs = row["outputs"]
        if not outputs or not all(isinstance(o, str) for o in outputs):
            raise UserError(f"{where}: 'outputs' is not a non-empty list of strings")
        return row, split_input(row["input"], self.family, where), path

    def sample(self, length: int, seed: int, index: int) -> Sample:
        row, split, path = self.row(length, index)
        outputs = list(row["outputs"])
        family = split.family or self.family
        tokens = FAMILIES[family].tokens_to_generate if family else DEFAULT_TOKENS
        query = Query(
            question=split.question,
            answer_prefix=answer_cue(row["answer_prefix"]),
            answer_pattern=WHOLE_REPLY,
            max_tokens=tokens,
        )
        decomposition = decomposition_for(split, outputs, query)
        if decomposition.part and decomposition.part.item_pattern:
            query = replace(query, item_pattern=decomposition.part.item_pattern)
        needles = locate_needles(split.context, outputs) if split.family == "niah" else []
        return self.make_sample(
            length=length,
            seed=seed,
            index=index,
            context=split.context,
            actual_length=self.tokenizer.count(split.context),
            query=query,
            answer=outputs[0] if self.metric == "part" else LIST_SEPARATOR.join(outputs),
            decomposition=decomposition,
            metadata={
                "data": path,
                "ruler_task": self.options.ruler_task or Path(path).parent.name,
                "template": split.family or "last line",
                "metric": self.metric,
                "outputs": outputs,
                "ruler_index": row.get("index"),
                "ruler_length": row.get("length"),
                "answer_prefix": row["answer_prefix"],
                "instructions": split.instructions,
                "before_template": split.before,
                "needles": needles,
                "spans": [[n["start"], n["end"]] for n in needles],
            },
        )

    def score(self, prediction: str | None, sample: Sample) -> float:
        return METRICS[self.metric](prediction, sample.metadata["outputs"])

    def gold_for_span(self, sample: Sample, start: int, end: int) -> str | None:
        """The values whose needle lies inside the span, for needle rows; None for the others,
        whose rows do not say where their answers' evidence lies."""
        needles = sample.metadata["needles"]
        if not needles:
            return None
        values = [n["value"] for n in needles if start <= n["start"] and n["end"] <= end]
        if not values:
            return NONE_ANSWER
        return values[0] if sample.decomposition.combine == "find" else LIST_SEPARATOR.join(values)
