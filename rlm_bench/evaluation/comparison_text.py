"""A comparison as text: a plain table for the terminal or a CI log, and GitHub-flavoured
markdown for a pull-request comment. Both say the same things in the same order: one table per
solver pair (its cells, then the pooled overall row), how the numbers were made, the samples
left out, and a closing verdict."""

from __future__ import annotations

from rlm_bench.evaluation.comparison import CellComparison, Comparison
from rlm_bench.evaluation.lengths import length_label
from rlm_bench.evaluation.table import format_columns


def level_text(alpha: float) -> str:
    """The interval level: 95%, 99%, 97.5%."""
    return f"{round((1 - alpha) * 100, 6):g}%"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _p(value: float) -> str:
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _times(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.2f}x"


def _where(row: CellComparison) -> str:
    return f"{row.task} {length_label(row.length)}" if row.task is not None else "overall"


def pair_title(row: CellComparison) -> str:
    """The solver pair: its label when both runs use it, else "base_label -> candidate_label"."""
    if row.base_solver == row.candidate_solver:
        return row.base_solver
    return f"{row.base_solver} -> {row.candidate_solver}"


def _by_pair(c: Comparison) -> list[tuple[list[CellComparison], CellComparison]]:
    """Each solver pair's cells with its overall row, in the order the pairs were made."""
    return [
        (
            [
                cell
                for cell in c.cells
                if (cell.base_solver, cell.candidate_solver)
                == (total.base_solver, total.candidate_solver)
            ],
            total,
        )
        for total in c.overall
    ]


def _header(c: Comparison) -> list[str]:
    priced = any(row.cost_ratio is not None for row in (*c.cells, *c.overall))
    interval = f"{level_text(c.options.alpha)} interval"
    return [
        "task", "length", "n", "base acc", "cand acc", "Δ", interval, "test", "p", "p adj",
        "tokens×", *(["USD×"] if priced else []), "latency×", "verdict",
    ]  # fmt: skip


def _cells(row: CellComparison, priced: bool) -> list[str]:
    return [
        row.task if row.task is not None else "overall",
        length_label(row.length) if row.length is not None else "all",
        str(row.n),
        f"{row.base_accuracy:.2f}",
        f"{row.candidate_accuracy:.2f}",
        f"{row.delta:+.2f}",
        f"[{row.delta_low:+.2f}, {row.delta_high:+.2f}]",
        row.test,
        _p(row.p_value),
        _p(row.p_adjusted),
        _times(row.token_ratio),
        *([_times(row.cost_ratio)] if priced else []),
        _times(row.latency_ratio),
        row.verdict,
    ]


def method_line(c: Comparison) -> str:
    return (
        f"tests: exact McNemar where every score is 0 or 1 (interval: Newcombe), else a paired "
        f"bootstrap of the mean difference ({c.options.resamples} resamples, seed "
        f"{c.options.seed}; percentile interval); p adj: Holm over each solver pair's cells; "
        f"{level_text(c.options.alpha)} intervals; worse/better needs p adj < "
        f"{c.options.alpha:g} and |Δ| > {c.options.tolerance:g}; ×: candidate total / base total"
    )


def unpaired_line(c: Comparison) -> str:
    paired = sum(row.n for row in c.overall)
    if not c.unpaired:
        return f"paired: all {paired} samples of the compared solvers are in both runs"
    return (
        f"unpaired: {c.unpaired} sample rows are in one run only (other tasks, lengths or "
        f"samples) and are left out; {paired} pairs compared"
    )


def _verdict_detail(c: Comparison) -> str:
    """Where the candidate is worse (or better): cells as "task length", pooled rows as
    "overall", each prefixed with its solver pair when several were compared."""

    def named(verdict: str) -> list[str]:
        rows = [r for r in (*c.cells, *c.overall) if r.verdict == verdict]
        if len(c.overall) == 1:
            return [_where(r) for r in rows]
        return [f"{pair_title(r)} {_where(r)}" for r in rows]

    worse, better = named("worse"), named("better")
    beyond = f"beyond the tolerance {c.options.tolerance:g} at alpha {c.options.alpha:g}"
    if worse:
        return f"significantly worse {beyond} in {', '.join(worse)}"
    detail = f"nothing significantly worse {beyond}"
    return detail + (f"; better in {', '.join(better)}" if better else "")


def verdict_line(c: Comparison) -> str:
    """The closing line: a regression or not, and where."""
    return f"verdict: {'WORSE' if c.worse else 'no regression'}: {_verdict_detail(c)}"


def _pairs_text(c: Comparison) -> str:
    return ", ".join(
        f"{total.candidate_solver} against {total.base_solver}"
        if total.base_solver != total.candidate_solver
        else total.base_solver
        for total in c.overall
    )


def format_comparison(c: Comparison) -> str:
    """The terminal text: a title, one table per solver pair, the notes, and the verdict last."""
    header = _header(c)
    priced = "USD×" in header
    lines = [f"{c.candidate} against {c.base}: suite {c.suite}, seed {c.seed}"]
    for cells, total in _by_pair(c):
        table = [header, *(_cells(cell, priced) for cell in cells), _cells(total, priced)]
        title = f"base {total.base_solver} -> candidate {total.candidate_solver}"
        lines += ["", title, format_columns(table)]
    lines += ["", method_line(c), unpaired_line(c), verdict_line(c)]
    return "\n".join(lines)


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def comparison_markdown(c: Comparison) -> str:
    """GitHub-flavoured markdown for a pull-request comment: a one-line headline with the
    verdict, then the same tables (overall rows in bold) and notes as the terminal text."""
    header = _header(c)
    priced = "USD×" in header
    numeric = {"length", "n", "base acc", "cand acc", "Δ", "p", "p adj", "tokens×", "USD×",
               "latency×"}  # fmt: skip
    rule = ["---:" if title in numeric else "---" for title in header]
    word = "worse" if c.worse else "no regression"
    lines = [
        f"**rlm_bench compare: {word}** ({_pairs_text(c)}; suite `{c.suite}`, seed {c.seed}): "
        f"{_verdict_detail(c)}.",
    ]
    for cells, total in _by_pair(c):
        overall = [f"**{cell}**" for cell in _cells(total, priced)]
        lines += [
            "",
            f"base `{total.base_solver}` → candidate `{total.candidate_solver}`",
            "",
            _md_row(header),
            _md_row(rule),
            *(_md_row(_cells(cell, priced)) for cell in cells),
            _md_row(overall),
        ]
    lines += [
        "",
        f"Base `{c.base}`, candidate `{c.candidate}`. {_sentence(method_line(c))}.",
        "",
        _sentence(unpaired_line(c)) + ".",
    ]
    return "\n".join(lines) + "\n"
