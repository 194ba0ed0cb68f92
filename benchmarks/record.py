"""Print a benchmark's table and append it, with the machine, versions and date, to RESULTS.md."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from rlm_bench.evaluation.provenance import versions

RESULTS = Path(__file__).with_name("RESULTS.md")


def record(title: str, table_lines: list[str]) -> None:
    found = versions()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    ) if Path("/proc/cpuinfo").exists() else platform.processor()  # fmt: skip
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = (
        f"## {title}\n\n{stamp}; {cpu}, {os.cpu_count()} cores; python {found['python']}, "
        f"torch {found['torch']}, transformers {found['transformers']}, "
        f"rlm_bench {found['rlm_bench']}\n"
    )
    text = header + "\n" + "\n".join(table_lines) + "\n"
    print(text)
    with RESULTS.open("a") as f:
        f.write("\n" + text)
