"""The end-of-run table, plain text so it reads the same in a terminal, a log or a CI page."""

from __future__ import annotations

from typing import Any

COLUMNS = (
    ("task", "task", "{}"),
    ("solver", "solver", "{}"),
    ("length", "length", "{}"),
    ("n", "n", "{}"),
    ("accuracy", "accuracy", "{:.2f}"),
    ("95% CI", None, None),
    ("calls", "mean_calls", "{:.1f}"),
    ("tokens", "mean_prompt_tokens", "{:.0f}"),
    ("seconds", "mean_latency_s", "{:.2f}"),
    ("errors", "errors", "{}"),
)


def format_table(summary_rows: list[dict[str, Any]]) -> str:
    lines = [[title for title, _, _ in COLUMNS]]
    for row in summary_rows:
        cells = []
        for _, key, fmt in COLUMNS:
            if key is None:
                cells.append(f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}]")
            else:
                cells.append(fmt.format(row[key]))
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    text = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in lines
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(s.rstrip() for s in text)
