"""The trajectory page's builder (`reporting/trajectory_page.py`, `context_excerpts.py`), the
`view` command and the links to the page; the page in a real browser is
`test_trajectory_page_browser.py`."""

from __future__ import annotations

import json
import shutil

import pytest

from rlm_bench.cli import main
from rlm_bench.evaluation.analysis import analyze_folder
from rlm_bench.evaluation.store import read_jsonl
from rlm_bench.reporting import context_excerpts
from rlm_bench.reporting.context_excerpts import END_CHARS
from rlm_bench.reporting.markdown_report import write_report
from rlm_bench.reporting.trajectory_page import PAGE_FILE, page_data, render, write_page
from rlm_bench.suites import suite_from_dict
from rlm_bench.tasks import TASKS
from tests.trajectory_runs import SMOKE, SUBCALLS, read_page, smoke_with_subcalls

HOSTILE = '</script><script>window.pwned = 1</script><img src=x onerror="window.pwned = 1">'


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tokenizer):
    folder = smoke_with_subcalls(tmp_path_factory.mktemp("view") / "run", tokenizer)
    write_page(folder, tokenizer)
    return folder


def test_the_page_embeds_every_row_and_its_whole_trace(run_dir):
    page = read_page((run_dir / PAGE_FILE).read_text())
    rows, traces = read_jsonl(run_dir / "samples.jsonl"), read_jsonl(run_dir / "traces.jsonl")
    columns = page["run"]["columns"]
    assert [dict(zip(columns, r, strict=True))["sample_id"] for r in page["run"]["rows"]] == [
        r["sample_id"] for r in rows
    ]
    assert page["run"]["info"]["suite"]["name"] == "smoke" and page["run"]["unavailable"] == {}
    for row, trace, shown in zip(rows, traces, page["traces"], strict=True):
        assert (row["sample_id"], row["solver"]) == (trace["sample_id"], trace["solver"])
        assert [n["id"] for n in shown["nodes"]] == [n["id"] for n in trace["nodes"]]
        for full, kept in zip(trace["nodes"], shown["nodes"], strict=True):
            # Only empty fields are dropped: parents, spans, code, gold and `correct` stay.
            assert {k: v for k, v in full.items() if k in kept} == kept
            assert all(not full[k] for k in full.keys() - kept.keys())
    subcalls = [t for r, t in zip(rows, page["traces"], strict=True) if r["solver"] == SUBCALLS]
    assert subcalls and all(
        any("llm_query_batched" in n.get("code", "") for n in t["nodes"]) for t in subcalls
    )
    assert "data:image/png;base64," in (run_dir / PAGE_FILE).read_text()


def test_excerpts_are_the_two_ends_of_each_span_and_say_what_is_left_out(run_dir, tokenizer):
    page = read_page((run_dir / PAGE_FILE).read_text())
    info = json.loads((run_dir / "run.json").read_text())
    suite = suite_from_dict(info["suite"], "run.json")
    rows = read_jsonl(run_dir / "samples.jsonl")
    spans = context_excerpts.spans_by_sample(rows, page["traces"])
    assert set(page["excerpts"]) == set(spans)
    checked = 0
    for row in rows:
        task = TASKS.get(row["task"])(tokenizer, label=row["task"])
        context = task.sample(row["length"], row["seed"], row["index"]).context
        found = page["excerpts"][row["sample_id"]]
        assert found["question"].endswith("?")
        assert set(found["spans"]) == {f"{a},{b}" for a, b in spans[row["sample_id"]]}
        for key, part in found["spans"].items():
            start, end = map(int, key.split(","))
            if len(part) == 1:
                assert part == [context[start:end]] and end - start <= 2 * END_CHARS
            else:
                head, elided, tail = part
                assert head == context[start : start + END_CHARS]
                assert tail == context[end - END_CHARS : end]
                assert elided == end - start - 2 * END_CHARS > 0
            checked += 1
    assert checked > 40 and suite.name == "smoke"
    # A whole 1K-token context is far longer than the page keeps of it.
    longest = max(len("".join(map(str, p))) for e in page["excerpts"].values()
                  for p in e["spans"].values())  # fmt: skip
    assert longest < 2 * END_CHARS + 10


def test_model_outputs_cannot_close_the_script_or_become_markup(run_dir, tmp_path, tokenizer):
    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    rows = read_jsonl(folder / "samples.jsonl")
    traces = read_jsonl(folder / "traces.jsonl")
    rows[0]["prediction"] = rows[0]["error"] = HOSTILE + " @@RUN@@"
    traces[0]["nodes"][0]["output"] = "<!-- " + HOSTILE + " @@RUN@@"
    for name, lines in (("samples.jsonl", rows), ("traces.jsonl", traces)):
        (folder / name).write_text("".join(json.dumps(line) + "\n" for line in lines))
    text = render(page_data(folder, tokenizer))
    scripts = text.count("<script")
    assert text.count("</script>") == scripts  # none closed early, none opened by the data
    assert "<img src=x" not in text and "<!-- " not in text
    page = read_page(text)
    assert page["run"]["rows"][0][page["run"]["columns"].index("prediction")] == (
        HOSTILE + " @@RUN@@"
    )
    assert page["traces"][0]["nodes"][0]["output"] == "<!-- " + HOSTILE + " @@RUN@@"
    # The script never parses data into markup.
    script = text[text.rindex("<script>") :]
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script


def test_a_task_that_cannot_open_its_data_leaves_one_line_and_the_rest(
    run_dir, tmp_path, tokenizer, monkeypatch
):
    def offline(self, length, seed, index):
        raise ConnectionError("Couldn't reach 'some/dataset' on the Hub (LocalEntryNotFoundError)\n"
                              "Traceback (most recent call last): ...")  # fmt: skip

    monkeypatch.setattr(TASKS.get("aggregation_count"), "sample", offline)
    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    page = read_page(write_page(folder, tokenizer).read_text())
    why = page["run"]["unavailable"]
    assert list(why) == ["aggregation_count"]
    assert why["aggregation_count"] == (
        "cannot open aggregation_count: Couldn't reach 'some/dataset' on the Hub "
        "(LocalEntryNotFoundError)"
    )
    assert {k.split("/")[0] for k in page["excerpts"]} == {"niah_single"}
    assert len(page["traces"]) == len(read_jsonl(folder / "samples.jsonl"))


def test_a_model_that_cannot_load_leaves_every_excerpt_out_in_one_line(run_dir, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    info = json.loads((folder / "run.json").read_text())
    info["suite"]["model"] = "warp:drive"
    (folder / "run.json").write_text(json.dumps(info))
    page = read_page(write_page(folder).read_text())
    why = page["run"]["unavailable"]
    assert list(why) == ["*"] and "\n" not in why["*"] and page["excerpts"] == {}
    assert why["*"].startswith("cannot regenerate the samples: unknown model backend 'warp'")


def test_a_sample_that_comes_out_differently_is_not_shown_as_the_run_s(
    run_dir, tmp_path, tokenizer
):
    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    rows = read_jsonl(folder / "samples.jsonl")
    changed = rows[0]["sample_id"]
    for row in rows:
        if row["sample_id"] == changed:
            row["answer"] = "something else"
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    page = page_data(folder, tokenizer)
    excerpts = {k: v for c in page["chunks"] for k, v in c["excerpts"].items()}
    assert excerpts[changed] == {"unavailable": context_excerpts.MISMATCH}
    other = next(r["sample_id"] for r in rows if r["sample_id"] != changed)
    assert "spans" in excerpts[other]


def test_view_writes_the_page_and_prints_where(capsys, tmp_path):
    folder = tmp_path / "smoke"
    shutil.copytree(SMOKE, folder)
    assert main(["view", str(folder), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == str(folder / PAGE_FILE)
    assert read_page((folder / PAGE_FILE).read_text())["excerpts"]


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda tmp: tmp / "nope", "is not a folder"),
        (lambda tmp: tmp, "is not a run folder (no run.json)"),
        (lambda tmp: (tmp / "run.json").write_text("{}") and tmp, "has no samples.jsonl"),
    ],
)
def test_view_of_a_bad_folder_is_one_line_and_exit_2(capsys, tmp_path, make, says):
    assert main(["view", str(make(tmp_path)), "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and says in captured.err and captured.err.count("\n") == 1


def test_report_md_links_the_page(tmp_path):
    folder = tmp_path / "smoke"
    shutil.copytree(SMOKE, folder)
    info, analysis = json.loads((folder / "run.json").read_text()), analyze_folder(folder)
    report = write_report(folder, info, analysis, []).read_text()
    assert f"[{PAGE_FILE}]({PAGE_FILE})" in report
    assert f"python -m rlm_bench view {folder.as_posix()}" in report  # not written yet
    (folder / PAGE_FILE).write_text("")
    report = write_report(folder, info, analysis, []).read_text()
    assert f"[{PAGE_FILE}]({PAGE_FILE})" in report and "python -m rlm_bench view" not in report


def test_run_writes_the_page_and_prints_its_path(capsys, tmp_path):
    import tests.doubles  # noqa: F401  (registers the `scripted` backend)

    out = tmp_path / "run"
    code = main(["run", "--suite", "smoke", "--model", "scripted", "--lengths", "512",
                 "--samples", "1", "--solvers", "direct", "--out", str(out),
                 "--no-progress"])  # fmt: skip
    assert code == 0
    assert f"samples and traces: {out / PAGE_FILE}" in capsys.readouterr().out
    page = read_page((out / PAGE_FILE).read_text())
    assert len(page["run"]["rows"]) == 2 and len(page["excerpts"]) == 2
