"""The parts of each sample's context its trace nodes read, for the trajectory page.

A run folder stores no contexts (a 128K-token context per sample would dwarf the run), but
samples are deterministic in (suite, seed), so they are generated again from `run.json`'s suite
the way the run made them (`make_tasks`, `Task.sample`). Only the two ends of each span are
kept: enough to see where a node was looking, with the count of what lies between.

Excerpts are a convenience: a task whose data cannot be opened (a hub dataset offline), a
tokenizer that will not load, or a sample that no longer comes out as the run recorded it
leaves its excerpts out with a one-line reason, and the page renders all the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from rlm_bench.errors import exception_line
from rlm_bench.tokens import Tokenizer

END_CHARS = 240
"""Characters kept from each end of a span; a span up to twice this is kept whole."""
MISMATCH = "the task no longer generates this sample as the run recorded it"
ALL_TASKS = "*"
"""The key of `Excerpts.unavailable` that stands for every task."""


@dataclass
class Excerpts:
    """`by_sample[sample_id]` holds the sample's question and, per span `"start,end"`, either
    `[text]` (the whole span) or `[head, elided_chars, tail]` (or `{"unavailable": why}` for
    a sample that came out differently); `unavailable[task]` (or `[ALL_TASKS]`) says in one
    line why a task's samples have none."""

    by_sample: dict[str, dict[str, Any]] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)


def span_key(span: list[int] | tuple[int, int]) -> str:
    return f"{span[0]},{span[1]}"


def cut(context: str, start: int, end: int, keep: int = END_CHARS) -> list[Any]:
    if end - start <= 2 * keep:
        return [context[start:end]]
    return [context[start : start + keep], end - start - 2 * keep, context[end - keep : end]]


def spans_by_sample(rows: list[dict[str, Any]], traces: list[dict[str, Any] | None]) -> dict:
    """Every distinct span the traces of a sample's solvers read, by sample id."""
    spans: dict[str, set[tuple[int, int]]] = {}
    for row, trace in zip(rows, traces, strict=True):
        found = spans.setdefault(row["sample_id"], set())  # no spans: still its question
        found.update(tuple(n["span"]) for n in (trace or {}).get("nodes", []) if n.get("span"))
    return spans


def load_tokenizer(suite: Any) -> Tokenizer:
    from rlm_bench.models import load_model

    return load_model(suite.model, suite.model_options).tokenizer


def collect(
    run_info: dict[str, Any],
    rows: list[dict[str, Any]],
    traces: list[dict[str, Any] | None],
    tokenizer: Tokenizer | None = None,
    progress: bool = False,
) -> Excerpts:
    """The excerpts of every span in `traces` (aligned with `rows`), regenerating each sample
    once; `tokenizer` is the run's model's (loaded from the suite when not given)."""
    from rlm_bench.evaluation.executors.solving import make_tasks
    from rlm_bench.suites import suite_from_dict

    found = Excerpts()
    try:
        suite = suite_from_dict(run_info["suite"], "run.json")
        tasks = make_tasks(suite, load_tokenizer(suite) if tokenizer is None else tokenizer)
    except Exception as exc:  # excerpts are optional: say why there are none, go on
        found.unavailable[ALL_TASKS] = f"cannot regenerate the samples: {exception_line(exc)}"
        return found
    wanted = spans_by_sample(rows, traces)
    first = {}
    for row in rows:
        first.setdefault(row["sample_id"], row)
    for sample_id in tqdm(wanted, desc="contexts", unit="sample", disable=not progress):
        row = first[sample_id]
        label = row["task"]
        if label in found.unavailable:
            continue  # a task that failed once (data offline) would fail, slowly, every time
        if label not in tasks:
            found.unavailable[label] = f"task {label} is not in the run's suite"
            continue
        try:
            sample = tasks[label].sample(row["length"], row["seed"], row["index"])
        except Exception as exc:
            found.unavailable[label] = f"cannot open {label}: {exception_line(exc)}"
            continue
        if (sample.sample_id, sample.answer, sample.actual_length) != (
            sample_id, row["answer"], row["actual_length"]
        ):  # fmt: skip
            found.by_sample[sample_id] = {"unavailable": MISMATCH}
            continue
        found.by_sample[sample_id] = {
            "question": sample.query.question,
            "spans": {span_key(s): cut(sample.context, *s) for s in sorted(wanted[sample_id])},
        }
    return found
