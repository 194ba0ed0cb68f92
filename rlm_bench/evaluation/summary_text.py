"""What a run found, as plain text for the terminal: the accuracy table, then where each
solver's accuracy breaks, whether recursion pays for itself, and how errors propagate."""

from __future__ import annotations

from typing import Any

from rlm_bench.evaluation.lengths import length_label
from rlm_bench.evaluation.table import format_columns, format_table


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _length(value: float | None) -> str:
    return "none" if value is None else length_label(round(value))


def midpoint_text(logistic: dict[str, Any]) -> str:
    """The fitted 50% length (a real number of tokens, so 3.8K rather than a length label),
    marked when it lies outside the measured lengths."""
    midpoint = logistic["midpoint"]
    if midpoint is None:
        return logistic["note"] or "-"
    text = f"{midpoint / 1024:.1f}K" if midpoint >= 1024 else f"{midpoint:.0f}"
    return f"{text} (extrapolated)" if logistic["extrapolated"] else text


def context_rot_lines(analysis: dict[str, Any]) -> list[str]:
    rows = analysis.get("context_rot", [])
    if not rows:
        return []
    first = rows[0]
    if first["threshold_kind"] == "absolute":
        rule = f"accuracy >= {first['threshold']:.2f}"
    else:
        rule = f"accuracy >= {analysis['options']['threshold_relative']:.0%} of the shortest's"
    table = [["task", "solver", "effective length", "AUC", "50% (logistic fit)"]]
    for r in rows:
        table.append(
            [
                r["task"],
                r["solver"],
                _length(r["effective_length"]),
                f"{r['auc']:.2f}",
                midpoint_text(r["logistic"]),
            ]
        )
    return [
        f"context rot (effective length: the longest length with {rule} at every length "
        "up to it; AUC: mean accuracy over log2 length)",
        format_columns(table),
    ]


def tradeoff_lines(analysis: dict[str, Any]) -> list[str]:
    sentences = analysis.get("crossover", {}).get("sentences", {})
    if not sentences:
        return []
    return ["direct or recursion?", *(f"  {sentences[task]}" for task in sorted(sentences))]


def propagation_lines(analysis: dict[str, Any]) -> list[str]:
    pooled = analysis.get("propagation", {}).get("pooled", [])
    if not pooled:
        return []
    table = [
        ["task", "solver", "leaf err", "final err", "P(wrong|leaves ok)", "P(wrong|leaf wrong)",
         "amplif.", "wrong: leaf carried / aggregation / no answer / no leaves"],
    ]  # fmt: skip
    for r in pooled:
        split = r["final_errors"]
        table.append(
            [
                r["task"],
                r["solver"],
                _share(r["leaf_error_rate"]),
                _share(r["final_error_rate"]),
                _share(r["p_wrong_given_leaves_right"]),
                _share(r["p_wrong_given_leaf_wrong"]),
                "-" if r["amplification"] is None else f"{r['amplification']:.1f}x",
                " / ".join(
                    str(split.get(k, 0))
                    for k in (
                        "leaf error carried up",
                        "aggregation error",
                        "no answer",
                        "no scored leaves",
                    )
                ),
            ]
        )
    return ["error propagation (intermediate answers scored against their span, all lengths)",
            format_columns(table)]  # fmt: skip


def format_summary(analysis: dict[str, Any]) -> str:
    sections = [
        [format_table(analysis["rows"])],
        context_rot_lines(analysis),
        tradeoff_lines(analysis),
        propagation_lines(analysis),
    ]
    return "\n\n".join("\n".join(section) for section in sections if section)
