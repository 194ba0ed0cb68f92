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
    ("USD", "mean_cost_usd", "{:.4f}"),
    ("errors", "errors", "{}"),
)
PRICED_ONLY = "mean_cost_usd"
"""Shown only when some row cost something: a local model's column of zeros says nothing."""


def format_table(summary_rows: list[dict[str, Any]]) -> str:
    priced = any(row.get(PRICED_ONLY, 0.0) for row in summary_rows)
    columns = [c for c in COLUMNS if priced or c[1] != PRICED_ONLY]
    lines = [[title for title, _, _ in columns]]
    for row in summary_rows:
        cells = []
        for _, key, fmt in columns:
            if key is None:
                cells.append(f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}]")
            else:
                cells.append(fmt.format(row[key]))
        lines.append(cells)
    return format_columns(lines)


def format_columns(lines: list[list[str]]) -> str:
    """Left-aligned columns under a rule; the first line is the header."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in lines
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(s.rstrip() for s in text)
