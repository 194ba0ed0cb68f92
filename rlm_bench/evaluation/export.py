"""Write a suite's exact samples where another harness can read them: a Hugging Face dataset
(one split per task) and JSONL, so a model server's own eval runs the very same samples.

Nested fields (the query, the decomposition, the metadata) are JSON strings in the dataset:
their shape differs from task to task, and a column must have one type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rlm_bench.evaluation.executors.solving import make_tasks
from rlm_bench.suites import Suite
from rlm_bench.tasks import Sample
from rlm_bench.tokens import Tokenizer

EXPORT_SCHEMA_VERSION = 1


def sample_record(sample: Sample) -> dict[str, Any]:
    return {
        "sample_id": sample.sample_id,
        "task": sample.task,
        "length": sample.length,
        "actual_length": sample.actual_length,
        "seed": sample.seed,
        "index": sample.index,
        "context": sample.context,
        "question": sample.query.question,
        "answer_prefix": sample.query.answer_prefix,
        "answer": sample.answer,
        "query": json.dumps(sample.to_dict()["query"]),
        "decomposition": json.dumps(sample.to_dict()["decomposition"]),
        "metadata": json.dumps(sample.metadata),
    }


def split_name(label: str) -> str:
    """Dataset split names allow letters, digits, `_` and `.` only."""
    return re.sub(r"[^\w.]+", "_", label)


def _samples(suite: Suite, tokenizer: Tokenizer, label: str) -> Iterator[Sample]:
    task = make_tasks(suite, tokenizer)[label]
    for index in range(suite.samples):
        for length in suite.lengths:
            yield task.sample(length, suite.seed, index)


def export_suite(suite: Suite, tokenizer: Tokenizer, out: Path, progress: bool = True) -> Path:
    """Writes `out/jsonl/<task>.jsonl`, `out/dataset/` (`datasets.load_from_disk`) and
    `out/export.json`; returns the dataset folder."""
    from datasets import Dataset, DatasetDict

    (out / "jsonl").mkdir(parents=True, exist_ok=True)
    total = len(suite.tasks) * len(suite.lengths) * suite.samples
    bar = tqdm(total=total, desc="samples", unit="sample", disable=not progress)
    splits = {}
    for spec in suite.tasks:
        records = []
        with (out / "jsonl" / f"{split_name(spec.label)}.jsonl").open("w") as jsonl:
            for sample in _samples(suite, tokenizer, spec.label):
                record = sample_record(sample)
                jsonl.write(json.dumps(record) + "\n")
                records.append(record)
                bar.update(1)
        splits[split_name(spec.label)] = Dataset.from_list(records)
    bar.close()
    DatasetDict(splits).save_to_disk(str(out / "dataset"))
    (out / "export.json").write_text(
        json.dumps(
            {
                "schema_version": EXPORT_SCHEMA_VERSION,
                "suite": suite.to_dict(),
                "tokenizer": tokenizer.name,
                "splits": sorted(splits),
            },
            indent=2,
        )
    )
    return out / "dataset"
