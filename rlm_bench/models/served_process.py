"""`python -m rlm_bench serve` (or plain `transformers serve` on a given folder) in a child
process, for tests and benchmarks that need a real OpenAI-compatible server: a free port, a wait
on `/health`, and a stop by process group (the server may start workers of its own) however the
caller exits."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rlm_bench.errors import UserError


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served_embedded_model(
    model: str = "embedded",
    *,
    continuous_batching: bool = False,
    deadline_s: float = 180.0,
    log: Path | None = None,
) -> Iterator[str]:
    """`python -m rlm_bench serve --model MODEL`; yields the server's base URL
    (`http://127.0.0.1:P/v1`) once it answers `/health`. The model id to send is
    `serving.served_folder(model)`."""
    port = free_port()
    args = ["-m", "rlm_bench", "serve", "--model", model, "--port", str(port)]
    if continuous_batching:
        args.append("--continuous-batching")
    with _served(args, port, deadline_s, log) as base_url:
        yield base_url


@contextmanager
def served_checkpoint_folder(
    folder: Path, *, deadline_s: float = 180.0, log: Path | None = None
) -> Iterator[str]:
    """Plain `transformers serve` pinned to `folder` as it is (its own files and chat template,
    the server's own attention), for a checkpoint `rlm_bench serve` would not make, such as a
    test's copy with a template of its own. The model id to send is `str(folder)`."""
    port = free_port()
    args = ["-m", "transformers.cli.transformers", "serve", str(folder), "--host", "127.0.0.1"]
    args += ["--port", str(port), "--dtype", "bfloat16"]
    with _served(args, port, deadline_s, log, env={"HF_HUB_OFFLINE": "1"}) as base_url:
        yield base_url


@contextmanager
def _served(
    args: list[str],
    port: int,
    deadline_s: float,
    log: Path | None,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """The server's stderr goes to `log` (a temporary file unless given), which is where a
    failed start is explained."""
    log = log or Path(tempfile.mkstemp(prefix="rlm_bench_serve_", suffix=".log")[1])
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, *args],
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    try:
        _wait_healthy(proc, f"http://127.0.0.1:{port}", log, deadline_s)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        _stop_group(proc)


def _wait_healthy(proc: subprocess.Popen, url: str, log: Path, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise UserError(f"the server exited ({proc.returncode}): {_last_line(log)}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise UserError(f"the server was not healthy after {deadline_s:.0f} s (log: {log})")


def _last_line(log: Path) -> str:
    lines = log.read_text(errors="replace").strip().splitlines()
    return f"{lines[-1]} (log: {log})" if lines else f"no output (log: {log})"


def _stop_group(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)
