"""The trajectory page in a real headless Chromium (`tests/chromium.py`): typing a filter, a
click on a REPL row, what shows on screen, the context excerpt, two solvers side by side, and
a hostile model output that stays text.

Skipped where there is no Chromium, except in CI (`CI` set), where a missing browser fails.
"""

from __future__ import annotations

import json
import os

import pytest

from rlm_bench.evaluation.store import read_jsonl
from rlm_bench.reporting.trajectory_page import write_page
from tests.chromium import Chromium, find_chromium
from tests.trajectory_runs import SUBCALLS, read_page, smoke_with_subcalls

HOSTILE = '<img src=x onerror="window.pwned = 1"><b id="injected">bold</b></script>'


@pytest.fixture(scope="module", autouse=True)
def chromium_present():
    if find_chromium() is None:
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail("CI needs chromium for the trajectory page (apt-get install chromium)")
        pytest.skip("no chromium on PATH (the CI installs it)")


@pytest.fixture(scope="module")
def page(tmp_path_factory, tokenizer):
    folder = smoke_with_subcalls(tmp_path_factory.mktemp("view") / "run", tokenizer)
    rows = read_jsonl(folder / "samples.jsonl")
    traces = read_jsonl(folder / "traces.jsonl")
    rows[0]["prediction"] = HOSTILE
    traces[0]["nodes"][0]["output"] = HOSTILE
    for name, lines in (("samples.jsonl", rows), ("traces.jsonl", traces)):
        (folder / name).write_text("".join(json.dumps(line) + "\n" for line in lines))
    return write_page(folder, tokenizer), rows, traces


@pytest.fixture(scope="module")
def browser():
    with Chromium(width=1400, height=1000) as chromium:
        yield chromium


def visible_text(selector: str) -> str:
    """The rendered text of what matches `selector` (innerText leaves out closed details)."""
    return (
        f"[...document.querySelectorAll({json.dumps(selector)})]"
        ".filter((el) => el.getClientRects().length).map((el) => el.innerText).join('\\n')"
    )


def test_filter_open_a_repl_trajectory_and_read_its_code_and_sub_calls(browser, page):
    path, rows, traces = page
    browser.open(path.as_uri())
    assert browser.evaluate("document.querySelectorAll('tr.row').length") == len(rows) < 50
    browser.type_into("#q", SUBCALLS + " i1")
    browser.wait_for("document.querySelectorAll('tr.row').length === 1")
    assert browser.evaluate("document.getElementById('count').textContent") == (
        f"1 sample of {len(rows)}"
    )
    row = next(r for r in rows if r["solver"] == SUBCALLS and r["sample_id"].endswith("i1"))
    trace = next(t for t in traces if (t["sample_id"], t["solver"]) == (row["sample_id"], SUBCALLS))
    browser.click("tr.row")
    browser.wait_for("document.querySelectorAll('.column details.node').length > 0")

    shown = browser.evaluate(visible_text("tr.detail"))
    block = next(n for n in trace["nodes"] if "llm_query_batched" in (n["code"] or ""))
    assert block["code"] in shown  # the model's code, as the block ran it
    subcalls = [n for n in trace["nodes"] if n["parent"] == block["id"]]
    assert len(subcalls) > 1 and any(row["answer"] in n["answer"] for n in subcalls)
    answers = browser.evaluate(visible_text(".k-exec .k-call > summary .answer"))
    assert answers.split("\n") == [f"→ {n['answer']}" for n in subcalls]
    verdicts = browser.evaluate(visible_text(".k-exec .k-call > summary .verdict"))
    assert verdicts.count("✓ gold") == sum(n["correct"] for n in subcalls) > 0
    assert "Question: What is the special magic number" in shown

    # The context a sub-call read, on demand: the two ends of its span (the builder's tests
    # check them against the regenerated context).
    assert browser.evaluate(visible_text(".k-exec .k-call pre.excerpt")) == ""
    browser.click(".k-exec .k-call > summary")
    browser.wait_for("!!document.querySelector('.k-exec .k-call .linkish')")
    browser.click(".k-exec .k-call .linkish")
    excerpt = browser.wait_for(visible_text(".k-exec .k-call pre.excerpt"))
    start, end = subcalls[0]["span"]
    head, elided, tail = read_page(path.read_text())["excerpts"][row["sample_id"]]["spans"][
        f"{start},{end}"
    ]
    assert excerpt == f"{head}\n[… {elided:,} characters elided …]\n{tail}"


def test_two_solvers_side_by_side_on_one_sample(browser, page):
    path, rows, _ = page
    browser.open(path.as_uri())
    sample = next(r for r in rows if r["solver"] == SUBCALLS)["sample_id"]
    index = next(
        i for i, r in enumerate(rows) if r["sample_id"] == sample and r["solver"] == "direct"
    )
    browser.evaluate(
        "document.getElementById('f-task').value = 'niah_single';"
        "document.getElementById('f-task').dispatchEvent(new Event('change'))"
    )
    browser.evaluate(
        "document.getElementById('f-length').value = '512';"
        "document.getElementById('f-length').dispatchEvent(new Event('change'))"
    )
    browser.click(f"tr.row[data-row='{index}']")
    browser.wait_for("!!document.querySelector('.sidebar select')")
    browser.evaluate(f"(() => {{ const s = document.querySelector('.sidebar select');"
                     f" s.value = {json.dumps(SUBCALLS)};"
                     " s.dispatchEvent(new Event('change')); })()")  # fmt: skip
    browser.wait_for("document.querySelectorAll('.columns.two .column').length === 2")
    heads = browser.evaluate(visible_text(".columns.two .column > h3"))
    assert heads.split("\n") == ["direct", SUBCALLS]
    both = browser.evaluate(visible_text(".columns.two"))
    assert "root call" in both and "llm_query" in both
    assert "#" in browser.evaluate("location.hash") and "vs=" + SUBCALLS in browser.evaluate(
        "location.hash"
    )


def test_a_hostile_model_output_is_shown_as_text(browser, page):
    path, rows, _ = page
    browser.open("about:blank")
    browser.open(path.as_uri() + "#open=0")  # the address reopens a row
    browser.wait_for("document.querySelectorAll('.column details.node').length > 0")
    shown = browser.evaluate(visible_text("#table"))
    assert shown.count(HOSTILE) >= 3  # the cell, the prediction and the model's reply
    assert browser.evaluate("document.getElementById('injected') === null")
    assert browser.evaluate("window.pwned === undefined")
    assert browser.evaluate("document.querySelectorAll('#table img').length") == 0
