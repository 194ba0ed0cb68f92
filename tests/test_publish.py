"""`publish`: a run folder as one W&B run, checked by reading what the real wandb library wrote
offline (its `.wandb` transaction log and media files), and the report built without network."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from statistics import fmean

import pytest
from wandb.proto import wandb_internal_pb2
from wandb_workspaces import expr
from wandb_workspaces.reports import v2 as wr

from rlm_bench.cli import main
from rlm_bench.errors import UserError
from rlm_bench.evaluation.runner import run_suite
from rlm_bench.evaluation.store import read_jsonl
from rlm_bench.publishing import content
from rlm_bench.publishing.wandb_report import build_report, save_report
from rlm_bench.publishing.wandb_run import choose_mode
from rlm_bench.suites import suite_from_dict
from tests.doubles import ScriptedModel

SUITE = {
    "name": "publish_test",
    "tasks": ["niah_single", "aggregation_count"],
    "lengths": [512, 1024],
    "samples": 2,
    "seed": 3,
    "solvers": ["direct", {"label": "recursive_d1", "solver": "recursive", "depth": 1}],
}
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scripted_run(tmp_path_factory, tokenizer) -> Path:
    """A finished run folder (no figures yet) from the scripted double."""
    folder = tmp_path_factory.mktemp("scripted") / "publish_run"
    suite = suite_from_dict(SUITE, "tests/test_publish.py")
    run_suite(suite, ScriptedModel(tokenizer), folder, resume=False, progress=False)
    return folder


@pytest.fixture
def run_dir(scripted_run, tmp_path) -> Path:
    folder = tmp_path / scripted_run.name
    shutil.copytree(scripted_run, folder)
    return folder


def isolated_env(home: Path) -> dict[str, str]:
    """No credentials, nothing from the user's W&B setup: every W&B path under `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env |= {
        "HOME": str(home),
        "NETRC": str(home / "netrc"),
        "WANDB_DATA_DIR": str(home / "data"),
        "WANDB_CACHE_DIR": str(home / "cache"),
        "WANDB_CONFIG_DIR": str(home / "config"),
    }
    return env


@pytest.fixture(autouse=True)
def no_credentials(tmp_path, monkeypatch):
    for name in [k for k in os.environ if k.startswith("WANDB_")]:
        monkeypatch.delenv(name)
    for name, value in isolated_env(tmp_path / "home").items():
        monkeypatch.setenv(name, value)


def wandb_records(run_file: Path) -> list[wandb_internal_pb2.Record]:
    """The records of a `.wandb` transaction log: a 7-byte header (":W&B", magic, version),
    then LevelDB-log chunks (crc32, length, type) in 32 KiB blocks, a record split over blocks
    as FIRST/MIDDLE/LAST chunks."""
    data = run_file.read_bytes()
    ident, magic, _ = struct.unpack("<4sHB", data[:7])
    assert (ident, magic) == (b":W&B", 0xBEE1)
    records, pending, pos, block = [], b"", 7, 32768
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0:
            break
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def _key(item) -> str:
    return "/".join(item.nested_key) if item.nested_key else item.key


def history_rows(records) -> list[dict]:
    return [
        {_key(item): json.loads(item.value_json) for item in r.history.item}
        for r in records
        if r.WhichOneof("record_type") == "history"
    ]


def offline_run_dir(folder: Path) -> Path:
    (found,) = (folder / "wandb").glob("offline-run-*")
    return found


def table(run_dir: Path, name: str) -> dict:
    (path,) = (run_dir / "files" / "media" / "table").glob(f"{name}_*.table.json")
    return json.loads(path.read_text())


def test_offline_run_holds_history_tables_figures_and_the_folder(run_dir, capsys):
    code = main(["publish", str(run_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    run = offline_run_dir(run_dir)
    assert out.count("\n") == 1 and "no WANDB_API_KEY" in out
    assert out.strip().endswith(f"wandb sync {run}")
    records = wandb_records(next(run.glob("*.wandb")))
    by_type = defaultdict(list)
    for record in records:
        by_type[record.WhichOneof("record_type")].append(record)

    (run_record,) = [r.run for r in by_type["run"]]
    assert run_record.display_name == "publish_run"
    assert set(run_record.tags) == {"publish_test", "scripted"}
    config = {u.key: json.loads(u.value_json) for u in run_record.config.update}
    assert config["suite"]["name"] == "publish_test" and config["seed"] == 3

    steps = {(m.metric.glob_name, m.metric.step_metric) for m in by_type["metric"]}
    assert {("accuracy/*", "length"), ("cost_usd/*", "length"), ("level_error/*", "level")} <= steps

    # every analysis cell is one point of its series, at its length
    analysis = json.loads((run_dir / "summary.json").read_text())
    history = history_rows(records)
    points = {
        (key, row["length"]): value
        for row in history
        if "length" in row
        for key, value in row.items()
        if key.startswith("accuracy/")
    }
    expected = {
        (f"accuracy/{c['task']}/{c['solver']}", c["length"]): c["accuracy"]
        for c in analysis["rows"]
    }
    assert points == pytest.approx(expected) and len(points) == 8
    levels = sorted(
        (key, row["level"]) for row in history for key in row if key.startswith("level_error/")
    )
    assert levels == [
        (f"level_error/{task}/recursive_d1", level)
        for task in ("aggregation_count", "niah_single")
        for level in (0, 1)
    ]

    # tables: concrete columns and row counts
    media = run / "files" / "media"
    samples = read_jsonl(run_dir / "samples.jsonl")
    assert table(run, "summary")["columns"] == content.SUMMARY_COLUMNS
    assert len(table(run, "summary")["data"]) == 8
    samples_table = table(run, "samples")
    assert samples_table["columns"][:3] == ["sample_id", "task", "solver"]
    assert len(samples_table["data"]) == len(samples) == 16
    assert len(table(run, "propagation")["data"]) == 2  # (task, recursive_d1)
    comparison = table(run, "comparison")
    assert len(comparison["data"]) == 4  # recursive_d1 vs direct per (task, length)
    assert set(comparison["columns"]) >= {"accuracy_delta", "tokens_ratio", "crossover_length"}

    # figures: drawn (the folder had none), every PNG logged once
    drawn = sorted(p.stem for p in (run_dir / "figures").glob("*.png"))
    assert len(drawn) >= 4
    logged = sorted(p.name.rsplit("_", 2)[0] for p in (media / "images" / "figures").glob("*.png"))
    assert logged == drawn

    # summary scalars
    summary = {
        _key(u): json.loads(u.value_json) for r in by_type["summary"] for u in r.summary.update
    }
    direct = fmean(r["score"] for r in samples if r["solver"] == "direct")
    assert summary["overall_accuracy/direct"] == pytest.approx(direct)
    assert summary["total/samples"] == 16

    # the run folder as an artifact, without the wandb/ directory
    (artifact,) = [r.artifact for r in by_type["artifact"] if r.artifact.type == "rlm_bench-run"]
    paths = {c.path for c in artifact.manifest.contents}
    assert {"run.json", "samples.jsonl", "traces.jsonl", "summary.json"} <= paths
    assert {f"figures/{stem}.png" for stem in drawn} <= paths
    assert not any(path.startswith("wandb") for path in paths)


def test_the_trajectory_page_goes_into_the_artifact(run_dir):
    assert main(["view", str(run_dir)]) == 0
    assert main(["publish", str(run_dir), "--offline", "--project", "p"]) == 0
    records = wandb_records(next(offline_run_dir(run_dir).glob("*.wandb")))
    artifacts = [r.artifact for r in records if r.WhichOneof("record_type") == "artifact"]
    (artifact,) = [a for a in artifacts if a.type == "rlm_bench-run"]
    assert "view.html" in {c.path for c in artifact.manifest.contents}


def test_existing_figures_are_logged_not_redrawn(run_dir):
    figures = run_dir / "figures"
    figures.mkdir()
    shutil.copy(ROOT / "baselines/context_rot/figures/accuracy_vs_length.png", figures / "mine.png")
    assert main(["publish", str(run_dir), "--offline", "--project", "p"]) == 0
    assert [p.name for p in figures.iterdir()] == ["mine.png"]
    images = list((offline_run_dir(run_dir) / "files/media/images/figures").glob("*.png"))
    assert [p.name.startswith("mine_") for p in images] == [True]
    records = wandb_records(next(offline_run_dir(run_dir).glob("*.wandb")))
    assert [r.run.project for r in records if r.WhichOneof("record_type") == "run"] == ["p"]


def test_offline_run_goes_where_wandb_dir_says(run_dir, tmp_path, monkeypatch, capsys):
    chosen = tmp_path / "my_wandb_runs"
    chosen.mkdir()
    monkeypatch.setenv("WANDB_DIR", str(chosen))
    assert main(["publish", str(run_dir), "--offline", "--project", "p"]) == 0
    (run,) = (chosen / "wandb").glob("offline-run-*")
    assert capsys.readouterr().out.strip().endswith(f"wandb sync {run}")
    assert not (run_dir / "wandb").exists()


def expect_one_line_error(capsys, argv, says):
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("rlm_bench: error: "), err
    assert says in err
    return err


@pytest.mark.parametrize("offline", [True, False])
def test_report_without_an_online_run_fails_before_writing(run_dir, capsys, offline):
    before = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*"))
    summary_mtime = (run_dir / "summary.json").stat().st_mtime_ns
    argv = ["publish", str(run_dir), "--report", *(["--offline"] if offline else [])]
    expect_one_line_error(capsys, argv, says="--report needs an online run: set WANDB_API_KEY")
    assert sorted(p.relative_to(run_dir) for p in run_dir.rglob("*")) == before
    assert (run_dir / "summary.json").stat().st_mtime_ns == summary_mtime


def test_bad_folders_are_one_line(tmp_path, capsys):
    expect_one_line_error(capsys, ["publish", "/no/such/run"], says="is not a run folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "run.json").write_text(json.dumps({"suite": {"name": "x"}, "model": {}}))
    expect_one_line_error(capsys, ["publish", str(empty)], says="has no finished samples yet")
    assert not (empty / "wandb").exists()


def test_unreachable_server_is_one_line_in_bounded_time(run_dir, tmp_path):
    (run_dir / "figures").mkdir()  # nothing to draw: the time is wandb's
    shutil.copy(ROOT / "baselines/context_rot/figures/accuracy_vs_length.png", run_dir / "figures")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    env = isolated_env(tmp_path / "home") | {
        "WANDB_API_KEY": "x" * 40,
        "WANDB_BASE_URL": f"http://127.0.0.1:{port}",
        "WANDB_INIT_TIMEOUT": "3",
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "rlm_bench", "publish", str(run_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.monotonic() - started < 30
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(
        f"rlm_bench: error: could not start W&B at http://127.0.0.1:{port}"
    )
    assert "Traceback" not in done.stderr


def test_mode_online_only_with_credentials_and_not_asked_offline(tmp_path):
    netrc = tmp_path / "netrc"
    key = {"WANDB_API_KEY": "k" * 40}
    assert choose_mode(False, key).online
    assert not choose_mode(True, key).online
    assert choose_mode(False, key | {"WANDB_MODE": "offline"}).reason == "WANDB_MODE=offline"
    assert not choose_mode(False, {"NETRC": str(netrc)}).online  # no file
    netrc.write_text(f"machine api.wandb.ai\n  login user\n  password {'p' * 40}\n")
    assert choose_mode(False, {"NETRC": str(netrc)}).online
    other = {"NETRC": str(netrc), "WANDB_BASE_URL": "https://wandb.example.com"}
    assert choose_mode(False, other).reason == "no WANDB_API_KEY or `wandb login` credentials"


def test_levels_are_pooled_by_counting_not_averaging():
    levels = [
        {"task": "t", "solver": "r", "length": 512, "level": 1, "nodes": 2, "wrong": 1},
        {"task": "t", "solver": "r", "length": 1024, "level": 1, "nodes": 8, "wrong": 1},
        {"task": "t", "solver": "r", "length": 512, "level": 0, "nodes": 2, "wrong": 2},
    ]
    assert content.level_steps({"levels": levels}) == [
        {"level": 0, "level_error/t/r": 1.0},
        {"level": 1, "level_error/t/r": 0.2},  # 2 wrong of 10, not the mean of 0.5 and 0.125
    ]


def _cell(task, solver, length, accuracy, cost=0.0):
    return {
        "task": task,
        "solver": solver,
        "length": length,
        "accuracy": accuracy,
        "mean_cost_usd": cost,
        "mean_prompt_tokens": 100.0,
        "mean_completion_tokens": 4.0,
        "mean_latency_s": 1.0,
    }


@pytest.fixture(scope="module")
def analysis(scripted_run) -> dict:
    return json.loads((scripted_run / "summary.json").read_text())


@pytest.fixture(scope="module")
def run_info(scripted_run) -> dict:
    return json.loads((scripted_run / "run.json").read_text())


def grids(report: wr.Report) -> dict[str, wr.PanelGrid]:
    """Each section's panel grid, by the H1 above it."""
    found, heading = {}, None
    for block in report.blocks:
        if isinstance(block, wr.H1):
            heading = block.text
        elif isinstance(block, wr.PanelGrid):
            found[heading] = block
    return found


def test_report_plots_the_logged_series_of_the_one_run(analysis, run_info):
    report = build_report(
        analysis,
        run_info,
        project="proj",
        entity="ent",
        run_name="publish_run",
        run_id="abc123",
        figure_keys=["figures/accuracy_vs_length", "figures/cost_vs_length"],
    )
    assert (report.project, report.entity) == ("proj", "ent")
    assert "publish_test" in report.title and "publish_run" in report.title
    sections = grids(report)
    assert list(sections) == ["Context rot", "Error propagation", "Comparison", "Figures"]
    for grid in sections.values():
        (runset,) = grid.runsets
        (where,) = expr.string_to_filterexpr_list(runset.filters)
        assert (where.key.name, where.value, runset.project, runset.entity) == (
            "ID",
            "abc123",
            "proj",
            "ent",
        )

    plots = sections["Context rot"].panels
    assert all(isinstance(p, wr.LinePlot) and p.x == "length" and p.log_x for p in plots)
    assert [p.y for p in plots] == [
        [f"{metric}/{task}/direct", f"{metric}/{task}/recursive_d1"]
        for metric in ("accuracy", "tokens")  # a scripted model costs no dollars: tokens
        for task in ("aggregation_count", "niah_single")
    ]
    propagation = sections["Error propagation"].panels
    assert [(type(p).__name__, getattr(p, "x", None)) for p in propagation] == [
        ("LinePlot", "level"),
        ("LinePlot", "level"),
        ("WeavePanelSummaryTable", None),
    ]
    assert propagation[0].y == ["level_error/aggregation_count/recursive_d1"]
    assert propagation[2].table_name == "propagation"
    tables = [p.table_name for p in sections["Comparison"].panels]
    assert tables == ["comparison", "summary"]
    (browser,) = sections["Figures"].panels
    assert isinstance(browser, wr.MediaBrowser)
    assert browser.media_keys == ["figures/accuracy_vs_length", "figures/cost_vs_length"]


def test_report_leaves_out_what_the_run_lacks(analysis, run_info):
    """Only direct, with a dollar cost: no propagation section, no comparison table, no
    figures; cost in dollars; the runset filtered by name when there is no id."""
    rows = [_cell("t", "direct", 512, 0.9, cost=0.01), _cell("t", "direct", 1024, 0.5, 0.02)]
    lean = {
        "rows": rows,
        "crossover": {"baseline": "direct", "rows": [], "sentences": {}},
        "cost_ratios": [],
        "propagation": {"levels": [], "cells": [], "pooled": []},
    }
    report = build_report(lean, run_info, project="p", entity="e", run_name="folder")
    sections = grids(report)
    assert list(sections) == ["Context rot", "Comparison"]
    assert [p.y for p in sections["Context rot"].panels] == [
        ["accuracy/t/direct"],
        ["cost_usd/t/direct"],
    ]
    assert [p.table_name for p in sections["Comparison"].panels] == ["summary"]
    (where,) = expr.string_to_filterexpr_list(sections["Comparison"].runsets[0].filters)
    assert (where.key.name, where.value) == ("Name", "folder")


def test_a_failed_report_save_is_one_line():
    class Unsaved:
        def save(self):
            raise Exception("not logged in to W&B, try `wandb login --relogin`\nmore")

    with pytest.raises(UserError, match="saving its report failed: not logged in") as caught:
        save_report(Unsaved())
    assert "\n" not in str(caught.value)
