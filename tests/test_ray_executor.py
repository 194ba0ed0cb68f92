"""`run --executor ray`: the smoke suite's samples fanned out as Ray tasks on a local Ray
instance started here, streamed back to the one writer of the run folder.

The driver is given a scripted model of its own; the workers open the suite's model by name,
`scripted_dying:<marker>` from tests/ray_doubles.py (the oracle double while the marker file
exists), so a run whose driver model made no call at all was solved in the workers.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys

import pytest

import tests.ray_doubles  # noqa: F401  (registers the `scripted_dying` and `scripted` backends)
from rlm_bench.cli import main
from rlm_bench.errors import UserError
from rlm_bench.evaluation.executors import make_executor
from rlm_bench.evaluation.executors.ray_executor import RayExecutor, worker_modules
from rlm_bench.evaluation.runner import run_suite
from rlm_bench.evaluation.store import RunStore, row_key
from rlm_bench.models import BACKENDS
from rlm_bench.suites import Suite, load_suite
from tests.doubles import ScriptedModel

SMOKE = load_suite("smoke")
SMALL = dict(solvers=[SMOKE.solvers[0], SMOKE.solvers[2]], samples=1)
"""direct and recursive_d2 on one sample per (task, length): 4 samples, 8 cells."""


def smoke(model: str, **changes) -> Suite:
    """The smoke suite (tasks, lengths, seed, solvers) on a model the workers open by name,
    never cached (workers would share the user's response cache)."""
    return dataclasses.replace(SMOKE, model=model, cache=False, **changes)


@pytest.fixture(scope="module")
def marker(tmp_path_factory):
    """The marker of the one model every Ray test here uses, so a worker opens it once for the
    whole file (about 5 s each time); a test that kills a worker removes the marker."""
    path = tmp_path_factory.mktemp("dying") / "killed"
    path.touch()
    return path


@pytest.fixture(scope="module")
def model(marker) -> str:
    return f"scripted_dying:{marker}"


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 2**20,
             logging_level=logging.WARNING)  # fmt: skip
    yield ray
    ray.shutdown()


def rows(folder) -> list[dict]:
    return RunStore(folder).samples()


def without(row: dict, *keys: str) -> dict:
    return {k: v for k, v in row.items() if k not in keys}


def comparable(folder) -> dict:
    """A run's samples and traces by (sample_id, solver), without the timings."""
    store = RunStore(folder)
    traces = {row_key(t): t for t in store.traces()}
    for trace in traces.values():
        trace["nodes"] = [without(n, "latency_s") for n in trace["nodes"]]
    return {
        row_key(r): (without(r, "wall_s", "latency_s"), traces[row_key(r)]) for r in rows(folder)
    }


def assert_written_once_in_order(folder, cells: int) -> None:
    """Every cell once, and each trace line written before its sample line, in one order."""
    store = RunStore(folder)
    keys = [row_key(r) for r in store.samples()]
    assert len(keys) == len(set(keys)) == cells
    assert [row_key(t) for t in store.traces()] == keys


def test_an_unreachable_cluster_is_one_line(monkeypatch, tmp_path, tokenizer):
    """First in the file: no Ray session is open in this process yet."""
    ray = pytest.importorskip("ray")
    assert not ray.is_initialized()
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(UserError, match="^cannot connect to Ray at auto: Could not find any ") as e:
        run_suite(smoke("scripted", **SMALL), ScriptedModel(tokenizer), tmp_path / "run",
                  resume=False, progress=False, executor=RayExecutor("auto"))  # fmt: skip
    assert "\n" not in str(e.value)


def test_a_ray_run_gives_the_local_run_samples(ray_session, model, monkeypatch, tmp_path,
                                                tokenizer):  # fmt: skip
    suite = smoke(model)
    run_suite(suite, ScriptedModel(tokenizer), tmp_path / "local", resume=False, progress=False)
    waited: list[int] = []
    wait = ray_session.wait

    def counting_wait(refs, **kwargs):
        waited.append(len(refs))
        return wait(refs, **kwargs)

    monkeypatch.setattr(ray_session, "wait", counting_wait)
    driver = ScriptedModel(tokenizer)
    run_suite(suite, driver, tmp_path / "ray", resume=False, progress=False,
                         executor=RayExecutor())  # fmt: skip

    cells = len(SMOKE.tasks) * len(SMOKE.lengths) * SMOKE.samples * len(SMOKE.solvers)
    assert_written_once_in_order(tmp_path / "ray", cells)
    local, remote = comparable(tmp_path / "local"), comparable(tmp_path / "ray")
    assert remote == local  # same sample ids, predictions, scores, calls, tokens, trace nodes
    assert {r["solver"] for r, _ in remote.values()} == {s.label for s in SMOKE.solvers}
    assert all(r["error"] is None and r["calls"] > 0 for r, _ in remote.values())
    assert driver.prompts == []  # every call was made in a worker
    samples = len(SMOKE.tasks) * len(SMOKE.lengths) * SMOKE.samples
    assert len(waited) == samples  # one Ray task per sample, all its solvers in it
    assert max(waited) == suite.concurrency  # in flight: bounded by concurrency, and filled
    assert json.loads((tmp_path / "ray" / "run.json").read_text())["finished_at"]


def test_an_interrupted_ray_run_resumes_without_repeats(ray_session, model, monkeypatch, tmp_path,
                                                        tokenizer):  # fmt: skip
    suite = smoke(model, **SMALL)
    folder = tmp_path / "run"
    append = RunStore.append
    written: list[int] = []

    def interrupted_append(store, row, trace):
        if len(written) == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the run
        written.append(1)
        append(store, row, trace)

    monkeypatch.setattr(RunStore, "append", interrupted_append)
    with pytest.raises(KeyboardInterrupt):
        run_suite(suite, ScriptedModel(tokenizer), folder, resume=False, progress=False,
                  executor=RayExecutor())  # fmt: skip
    monkeypatch.setattr(RunStore, "append", append)
    assert len(rows(folder)) == 3
    with (folder / "samples.jsonl").open("a") as f:
        f.write('{"sample_id": "niah_single/L1024/s0/i0", "sol')  # a line cut by a kill

    driver = ScriptedModel(tokenizer)
    run_suite(suite, driver, folder, resume=True, progress=False, executor=RayExecutor())
    assert_written_once_in_order(folder, 8)
    run_suite(suite, ScriptedModel(tokenizer), tmp_path / "local", resume=False, progress=False)
    assert comparable(folder) == comparable(tmp_path / "local")


def test_a_run_through_the_cli(ray_session, model, capsys, tmp_path):
    out = tmp_path / "run"
    argv = ["run", "--suite", "smoke", "--model", model, "--solvers", "direct",
            "--lengths", "512", "--samples", "1", "--no-cache", "--out", str(out),
            "--no-progress", "--executor", "ray"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    assert f"run folder: {out}" in capsys.readouterr().out
    assert_written_once_in_order(out, 2)


def test_a_worker_killed_mid_sample_is_retried(ray_session, model, marker, tmp_path, tokenizer):
    marker.unlink()
    suite = smoke(model, **SMALL)
    run_suite(suite, ScriptedModel(tokenizer), tmp_path / "run", resume=False, progress=False,
              executor=RayExecutor())  # fmt: skip

    dead = int(marker.read_text())  # a worker claimed the marker and killed itself mid-call
    with pytest.raises(ProcessLookupError):
        os.kill(dead, 0)
    assert_written_once_in_order(tmp_path / "run", 8)
    assert all(r["error"] is None and r["score"] == 1.0 for r in rows(tmp_path / "run"))


def test_a_sample_whose_worker_dies_past_its_retries_is_recorded(ray_session, model, marker,
                                                                  tmp_path, tokenizer):  # fmt: skip
    marker.unlink()
    suite = smoke(model, **SMALL)
    run_suite(suite, ScriptedModel(tokenizer), tmp_path / "run", resume=False, progress=False,
              executor=RayExecutor(retries=0))  # fmt: skip

    assert_written_once_in_order(tmp_path / "run", 8)
    lost = [r for r in rows(tmp_path / "run") if r["error"]]
    assert len(lost) == 2 and len({r["sample_id"] for r in lost}) == 1  # one sample, 2 solvers
    assert all(r["error"].startswith("WorkerCrashedError: ") for r in lost)
    assert all(r["score"] == 0.0 and r["prediction"] is None for r in lost)
    assert all(r["answer"] and r["actual_length"] for r in lost)  # the sample, made again
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["finished_at"]  # the run went on to the end


def test_a_user_error_in_a_worker_is_one_line(ray_session, tmp_path, tokenizer):
    suite = smoke("scripted_dying", **SMALL)  # no marker: the backend refuses to open
    with pytest.raises(UserError) as e:
        run_suite(suite, ScriptedModel(tokenizer), tmp_path / "run", resume=False,
                  progress=False, executor=RayExecutor())  # fmt: skip
    assert str(e.value) == (
        "on a Ray worker: scripted_dying needs a marker file: scripted_dying:<path>"
    )
    assert rows(tmp_path / "run") == []


def test_the_workers_import_what_registered_the_suites_names(monkeypatch):
    modules = worker_modules(smoke("scripted_dying:x", sub_model="scripted"))
    assert {"tests.ray_doubles", "tests.doubles", "rlm_bench.solvers.direct"} <= set(modules)

    def in_a_script(arg, options):
        raise AssertionError("never opened")

    in_a_script.__module__ = "__main__"
    monkeypatch.setitem(BACKENDS._items, "notebook_backend", in_a_script)
    with pytest.raises(UserError, match="model backend 'notebook_backend' is defined in __main__"):
        worker_modules(smoke("notebook_backend"))


def expect_one_line(capsys, argv, says):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err, err


def test_ray_missing_is_one_line_before_any_model_loads(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(UserError, match=r'pip install -e "\.\[ray\]"'):
        make_executor("ray")
    out = tmp_path / "run"
    expect_one_line(capsys, ["run", "--suite", "smoke", "--model", "scripted", "--out", str(out),
                             "--executor", "ray"], says='--executor ray needs Ray')  # fmt: skip
    assert not out.exists()


def test_a_ray_address_needs_the_ray_executor(capsys):
    expect_one_line(capsys, ["run", "--suite", "smoke", "--ray-address", "auto"],
                    says="--ray-address needs --executor ray")  # fmt: skip
    expect_one_line(capsys, ["run", "--executor", "spark"], says="invalid choice: 'spark'")
