"""`report.md`: a run's findings, tables and figures, readable on GitHub or in any editor
without the tool. Figures are linked by relative path, so the folder can be moved or shared."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from rlm_bench.evaluation.failures import FAILURES
from rlm_bench.evaluation.lengths import length_label
from rlm_bench.evaluation.summary_text import midpoint_text
from rlm_bench.reporting.trajectory_page import PAGE_FILE

REPORT_FILE = "report.md"
FINAL_ERRORS = ("leaf error carried up", "aggregation error", "no answer", "no scored leaves")


def md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _num(value: float | None, fmt: str = "{:.2f}") -> str:
    return "–" if value is None else fmt.format(value)


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}x"


def _figure(name: str, figures: dict[str, Path], folder: Path, alt: str) -> list[str]:
    path = figures.get(name)
    return [f"![{alt}]({path.relative_to(folder).as_posix()})", ""] if path else []


def header(run_info: dict[str, Any], analysis: dict[str, Any]) -> list[str]:
    suite, model = run_info["suite"], run_info["model"]
    versions = run_info.get("versions", {})
    facts = [
        f"- **suite** `{suite['name']}`: {suite.get('description', '')}",
        f"- **model** `{model.get('name', '?')}` ({model.get('backend', '?')})",
        f"- **lengths** {', '.join(length_label(n) for n in suite['lengths'])} tokens; "
        f"**{suite['samples']} samples** per task and length; **seed** {suite['seed']}",
        f"- **solvers** {', '.join(s['label'] for s in suite['solvers'])}",
        f"- **run** {run_info.get('started_at', '?')} to {run_info.get('finished_at') or '?'}; "
        f"rlm_bench {versions.get('rlm_bench', '?')}, commit `{run_info.get('git_commit') or '?'}`",
        f"- **model calls** {analysis['calls']['calls']} "
        f"({analysis['calls']['cached_calls']} from the response cache)",
    ]
    return [f"# {suite['name']} on {model.get('name', '?')}", "", *facts, ""]


def page_link(folder: Path) -> list[str]:
    """A link to the run's trajectory page (`view.html`, beside report.md), and how to write it
    when it is not there yet."""
    line = (
        f"Every sample, its trace and two solvers side by side: [{PAGE_FILE}]({PAGE_FILE}) "
        "(opens offline in a browser)"
    )
    if not (folder / PAGE_FILE).exists():
        line += f"; write it with `python -m rlm_bench view {folder.as_posix()}`"
    return [line + ".", ""]


def findings(analysis: dict[str, Any]) -> list[str]:
    sentences = analysis["crossover"]["sentences"]
    lines = ["## Findings", ""]
    lines += [f"- {sentences[task]}" for task in sorted(sentences)]
    for r in analysis["context_rot"]:
        effective = r["effective_length"]
        where = f"up to {length_label(effective)}" if effective else "not even at the shortest"
        lines.append(
            f"- `{r['task']}` · `{r['solver']}`: holds its accuracy {where} "
            f"(threshold {r['threshold']:.2f}); AUC {r['auc']:.2f}; "
            + (
                f"fitted 50% length {midpoint_text(r['logistic'])}."
                if r["logistic"]["midpoint"] is not None
                else f"no fitted 50% length ({midpoint_text(r['logistic'])})."
            )
        )
    return [*lines, ""]


def accuracy_section(analysis: dict[str, Any], figures, folder) -> list[str]:
    lengths = sorted({r["length"] for r in analysis["rows"]})
    cells: dict[tuple[str, str], dict[int, str]] = defaultdict(dict)
    for r in analysis["rows"]:
        interval = "W" if r["ci_method"] == "wilson" else "B"
        cells[(r["task"], r["solver"])][r["length"]] = (
            f"{r['accuracy']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]{interval}"
        )
    rows = [[task, solver, *(by.get(n, "–") for n in lengths)] for (task, solver), by in
            sorted(cells.items())]  # fmt: skip
    return [
        "## Accuracy against context length",
        "",
        *_figure("accuracy_vs_length", figures, folder, "accuracy against context length"),
        "Mean score with its 95% interval: W = Wilson (every score 0 or 1), B = bootstrap of "
        "the mean (partial credit).",
        "",
        md_table(["task", "solver", *(length_label(n) for n in lengths)], rows),
        "",
        "### Context rot",
        "",
        md_table(
            [
                "task",
                "solver",
                "accuracy at shortest",
                "threshold",
                "effective length",
                "AUC",
                "50% length (logistic fit)",
            ],
            [
                [
                    r["task"],
                    r["solver"],
                    _num(r["reference_accuracy"]),
                    _num(r["threshold"]),
                    length_label(r["effective_length"]) if r["effective_length"] else "none",
                    _num(r["auc"]),
                    midpoint_text(r["logistic"]),
                ]
                for r in analysis["context_rot"]
            ],
        ),  # fmt: skip
        "",
        *_needle_section(analysis, figures, folder),
    ]


def _needle_section(analysis, figures, folder) -> list[str]:
    if not analysis["needle_depth"]:
        return []
    return [
        "### Accuracy by needle depth",
        "",
        *_figure("needle_depth_heatmap", figures, folder, "accuracy by needle depth and length"),
    ]


def cost_section(analysis: dict[str, Any], figures, folder) -> list[str]:
    ratios = {(r["task"], r["solver"], r["length"]): r for r in analysis["cost_ratios"]}
    rows = []
    for r in analysis["rows"]:
        ratio = ratios.get((r["task"], r["solver"], r["length"]))
        per_correct = r["per_correct"]
        rows.append(
            [
                r["task"],
                r["solver"],
                length_label(r["length"]),
                f"{r['mean_calls']:.1f}",
                f"{r['mean_prompt_tokens'] + r['mean_completion_tokens']:.0f}",
                f"{r['mean_latency_s']:.2f}",
                f"{r['mean_cost_usd']:.4f}",
                _num(per_correct and per_correct["latency_s"]),
                _ratio(ratio and ratio["calls_ratio"]),
                _ratio(ratio and ratio["tokens_ratio"]),
                _ratio(ratio and ratio["latency_ratio"]),
            ]  # fmt: skip
        )
    baseline = analysis["crossover"]["baseline"] or "a direct baseline"
    return [
        "## Cost",
        "",
        *_figure("cost_vs_length", figures, folder, "cost against context length"),
        *_figure("accuracy_vs_cost", figures, folder, "accuracy against cost"),
        f"Means per sample; model seconds are the sum of the sample's model-call latencies. "
        f"Ratios are to `{baseline}` at the same length.",
        "",
        md_table(
            [
                "task",
                "solver",
                "length",
                "calls",
                "tokens",
                "model s",
                "USD",
                "model s per correct",
                "calls ratio",
                "tokens ratio",
                "seconds ratio",
            ],
            rows,
        ),  # fmt: skip
        "",
    ]


def propagation_section(analysis: dict[str, Any], figures, folder) -> list[str]:
    pooled = analysis["propagation"].get("pooled", [])
    if not pooled:
        return []
    rows = [
        [r["task"], r["solver"], str(r["samples_with_leaves"]), _num(r["leaf_error_rate"]),
         _num(r["final_error_rate"]), _num(r["p_wrong_given_leaves_right"]),
         _num(r["p_wrong_given_leaf_wrong"]), _ratio(r["amplification"]),
         *(str(r["final_errors"].get(k, 0)) for k in FINAL_ERRORS)]
        for r in pooled
    ]  # fmt: skip
    return [
        "## Error propagation",
        "",
        *_figure("error_propagation", figures, folder, "error rates by recursion level"),
        "Every intermediate answer that covers a known span of the context is scored against "
        "the task's answer for that span. Leaves are the model calls that read text; "
        "amplification is the final error rate over the leaf error rate. Wrong final answers "
        "are split by their first cause: no answer, no scored leaves (a REPL that made no "
        "sub-call over a known span), a wrong leaf carried up, or right leaves combined wrong.",
        "",
        md_table(
            [
                "task",
                "solver",
                "samples",
                "leaf error",
                "final error",
                "P(wrong | leaves right)",
                "P(wrong | a leaf wrong)",
                "amplification",
                *FINAL_ERRORS,
            ],
            rows,
        ),  # fmt: skip
        "",
    ]


def failure_section(analysis: dict[str, Any], figures, folder) -> list[str]:
    rows = [
        [r["task"], r["solver"], length_label(r["length"]), str(r["n"]), str(r["correct"]),
         *(str(r["failures"].get(k, 0)) for k in FAILURES)]
        for r in analysis["rows"]
    ]  # fmt: skip
    return [
        "## Failure categories",
        "",
        *_figure("failure_categories", figures, folder, "failure categories"),
        md_table(["task", "solver", "length", "n", "correct", *FAILURES], rows),
        "",
    ]


def write_report(
    folder: Path, run_info: dict[str, Any], analysis: dict[str, Any], figures: list[Path]
) -> Path:
    """Write `folder/report.md`; `figures` are the files `draw_figures` wrote (PNG linked)."""
    pngs = {p.stem: p for p in figures if p.suffix == ".png"}
    lines = [
        *header(run_info, analysis),
        *page_link(folder),
        *findings(analysis),
        *accuracy_section(analysis, pngs, folder),
        *cost_section(analysis, pngs, folder),
        *propagation_section(analysis, pngs, folder),
        *failure_section(analysis, pngs, folder),
    ]
    path = folder / REPORT_FILE
    path.write_text("\n".join(lines).rstrip() + "\n")
    return path
