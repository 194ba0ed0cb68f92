"""The run folder: `run.json`, then append-only `samples.jsonl` and `traces.jsonl`.

Each finished sample is one line, flushed and fsynced as soon as it is scored, trace first and
sample last: a sample line is the commit record. On resume, a last line cut by a kill is dropped,
and trace lines whose sample line never landed are removed, so nothing is lost or repeated.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rlm_bench.errors import UserError

SCHEMA_VERSION = 2
RUN_FILE = "run.json"
SAMPLES_FILE = "samples.jsonl"
TRACES_FILE = "traces.jsonl"
SUMMARY_FILE = "summary.json"

RowKey = tuple[str, str]


def row_key(row: dict[str, Any]) -> RowKey:
    return (row["sample_id"], row["solver"])


def _drop_torn_tail(path: Path) -> None:
    """Cut a file back to its last complete line (a kill can leave half a line)."""
    if not path.exists():
        return
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end != len(data):
        with path.open("r+b") as f:
            f.truncate(end)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                raise UserError(f"{path}: line {n} is not JSON") from None
    return rows


class RunStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def samples_path(self) -> Path:
        return self.folder / SAMPLES_FILE

    @property
    def traces_path(self) -> Path:
        return self.folder / TRACES_FILE

    def create(self, run_info: dict[str, Any]) -> None:
        if (self.folder / SAMPLES_FILE).exists():
            raise UserError(
                f"{self.folder} already holds a run; continue it with --resume {self.folder}"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        self.write_run_info(run_info)

    def read_run_info(self) -> dict[str, Any]:
        path = self.folder / RUN_FILE
        if not path.is_file():
            raise UserError(f"{self.folder} is not a run folder (no {RUN_FILE})")
        return json.loads(path.read_text())

    def write_run_info(self, info: dict[str, Any]) -> None:
        info = {"schema_version": SCHEMA_VERSION, **info}
        tmp = self.folder / (RUN_FILE + ".tmp")
        tmp.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.folder / RUN_FILE)

    def recover(self) -> set[RowKey]:
        """Repair the files after a kill and return the keys of the finished samples."""
        _drop_torn_tail(self.samples_path)
        _drop_torn_tail(self.traces_path)
        done = {row_key(r) for r in read_jsonl(self.samples_path)}
        traces = read_jsonl(self.traces_path)
        kept = [t for t in traces if row_key(t) in done]
        if len(kept) != len(traces):
            tmp = self.traces_path.with_suffix(".tmp")
            tmp.write_text("".join(json.dumps(t) + "\n" for t in kept))
            os.replace(tmp, self.traces_path)
        return done

    def append(self, sample_row: dict[str, Any], trace_row: dict[str, Any]) -> None:
        for path, row in ((self.traces_path, trace_row), (self.samples_path, sample_row)):
            with path.open("a") as f:
                f.write(json.dumps(row) + "\n")
                f.flush()
                os.fsync(f.fileno())

    def samples(self) -> list[dict[str, Any]]:
        return read_jsonl(self.samples_path)

    def traces(self) -> list[dict[str, Any]]:
        return read_jsonl(self.traces_path)

    def write_summary(self, analysis: dict[str, Any]) -> None:
        (self.folder / SUMMARY_FILE).write_text(json.dumps(analysis, indent=2) + "\n")
