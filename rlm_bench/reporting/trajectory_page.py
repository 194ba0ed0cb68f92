"""`view.html`: one offline page to browse a run's samples, their traces and two solvers side
by side (`python -m rlm_bench view RUN_DIR`; `run` writes it at the end).

The page is a single file with everything inline (styles, script, figures as data URIs), so it
opens from a disk, an artifact store or an e-mail with no server and no network. The table's
rows go in as JSON in a `<script type="application/json">` block; the traces and context
excerpts, ten times their size, go in as gzipped JSON (base64) in blocks of `CHUNK_ROWS` rows,
unpacked by the browser's own `DecompressionStream` when a row of the block is first opened.
The script builds the DOM with text nodes only: model outputs are untrusted text and never
become markup. Rows are paged and a trace's tree is built when its row is opened, so a run of
6000 samples opens about as fast as a small one (`benchmarks/view_page.py` measures it).
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

from rlm_bench.errors import UserError
from rlm_bench.evaluation.store import RunStore, row_key
from rlm_bench.reporting import context_excerpts
from rlm_bench.tokens import Tokenizer

PAGE_FILE = "view.html"
TEMPLATE = "trajectory_page.html"
COLUMNS = (
    "sample_id", "task", "solver", "length", "index", "score", "failure", "calls", "cost_usd",
    "prediction", "answer", "error", "actual_length", "prompt_tokens", "completion_tokens",
    "latency_s", "truncated",
)  # fmt: skip
"""What the table and a sample's details show of a samples.jsonl row (rows go in as arrays)."""
COUNTERS = ("prompt_tokens", "completion_tokens", "latency_s", "cost_usd", "cached", "retries")
"""Node fields left out when zero, as most are (with the empty ones, a quarter of a trace)."""
CHUNK_ROWS = 250
"""Rows per packed block of traces and excerpts: opening a row unpacks one block (4 MB of
JSON on the full suite, in a fifth of a second), never the whole run."""
FIGURE_BYTES = 6_000_000
"""PNG figures inlined up to this total, smallest first; the rest are linked (figures/...)."""
SLOT = re.compile(r"@@(\w+)@@")


def compact_node(node: dict[str, Any]) -> dict[str, Any]:
    """A trace node without its empty fields; every field a solver added is kept."""
    return {
        k: v for k, v in node.items() if v is not None and v != "" and not (k in COUNTERS and not v)
    }


def script_json(data: Any) -> str:
    """JSON that can sit inside a `<script>` element: no `<` is left to close it (`</script>`
    in a model's output) or open a comment; JSON.parse reads the escape back as `<`."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def read_run(folder: Path) -> tuple[dict[str, Any], list[dict], list[dict | None]]:
    """run.json, the sample rows, and each row's trace (None where none was written)."""
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    store = RunStore(folder)
    info = store.read_run_info()
    if not store.samples_path.is_file():
        raise UserError(f"{folder} has no {store.samples_path.name}: no sample has finished")
    rows = store.samples()
    by_key = {row_key(t): t for t in store.traces()}
    return info, rows, [by_key.get(row_key(r)) for r in rows]


def figure_tags(folder: Path) -> str:
    """The run's PNG figures as `<figure>` elements with data URIs while they fit (smallest
    first, so the most of them do), then links to the rest, which open beside the page."""
    paths = sorted((folder / "figures").glob("*.png"))
    inline, total = set(), 0
    for path in sorted(paths, key=lambda p: p.stat().st_size):
        if total + path.stat().st_size <= FIGURE_BYTES:
            inline.add(path)
            total += path.stat().st_size
    tags = []
    for path in paths:
        name = html.escape(path.stem.replace("_", " "))
        if path in inline:
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            tags.append(
                f'<figure><img alt="{name}" src="data:image/png;base64,{data}">'
                f"<figcaption>{name}</figcaption></figure>"
            )
    left_out = [p for p in paths if p not in inline]
    if left_out:
        links = ", ".join(
            f'<a href="figures/{html.escape(p.name)}">{html.escape(p.name)}</a>' for p in left_out
        )
        limit = f"{FIGURE_BYTES // 10**6} MB"
        tags.append(f'<p class="note">Linked, not inlined (over {limit} in all): {links}</p>')
    return "\n".join(tags)


def pack(data: Any) -> str:
    """gzip, then base64: no `<` can close the script element holding it."""
    raw = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return base64.b64encode(gzip.compress(raw.encode("utf-8", "replace"), mtime=0)).decode()


def page_trace(trace: dict[str, Any] | None) -> dict[str, Any] | None:
    if trace is None:
        return None
    return {"notes": trace.get("notes") or {}, "nodes": [compact_node(n) for n in trace["nodes"]]}


def page_data(
    folder: Path, tokenizer: Tokenizer | None = None, progress: bool = False
) -> dict[str, Any]:
    """What the page embeds: `run` (run.json, the table's columns and rows, why excerpts are
    missing) and `chunks`, each the traces of `CHUNK_ROWS` rows (in row order) and the
    excerpts of their samples."""
    info, rows, traces = read_run(folder)
    excerpts = context_excerpts.collect(info, rows, traces, tokenizer, progress=progress)
    chunks = []
    for first in range(0, len(rows), CHUNK_ROWS):
        ids = sorted({row["sample_id"] for row in rows[first : first + CHUNK_ROWS]})
        chunks.append(
            {
                "traces": [page_trace(t) for t in traces[first : first + CHUNK_ROWS]],
                "excerpts": {i: excerpts.by_sample[i] for i in ids if i in excerpts.by_sample},
            }
        )
    return {
        "run": {
            "info": info,
            "columns": COLUMNS,
            "rows": [[row.get(c) for c in COLUMNS] for row in rows],
            "unavailable": excerpts.unavailable,
            "chunk_rows": CHUNK_ROWS,
        },
        "chunks": chunks,
    }


def render(data: dict[str, Any], figures: str = "") -> str:
    info = data["run"]["info"]
    title = f"{info['suite']['name']} on {info['model'].get('name', '?')}"
    chunks = "\n".join(
        f'<script type="application/gzip+base64" id="chunk-{n}">{pack(chunk)}</script>'
        for n, chunk in enumerate(data["chunks"])
    )
    slots = {
        "TITLE": html.escape(title),
        "FIGURES": figures,
        "RUN": script_json(data["run"]),
        "CHUNKS": chunks,
    }
    template = files("rlm_bench.reporting").joinpath(TEMPLATE).read_text()
    # One pass, so a slot's name inside the data is never itself replaced.
    return SLOT.sub(lambda m: slots[m.group(1)], template)


def write_page(folder: Path, tokenizer: Tokenizer | None = None, progress: bool = False) -> Path:
    """Write `folder/view.html`; `tokenizer` is the run's model's, to regenerate the contexts
    (loaded from run.json's model when not given)."""
    page = render(page_data(folder, tokenizer, progress), figure_tags(folder))
    path = folder / PAGE_FILE
    tmp = path.with_suffix(".tmp")
    # A lone surrogate in a model's output has no UTF-8 form: it becomes "?" rather than fail.
    tmp.write_text(page, encoding="utf-8", errors="replace")
    tmp.replace(path)
    return path
