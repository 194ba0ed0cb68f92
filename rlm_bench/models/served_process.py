"""`python -m rlm_bench serve` in a child process, for tests and benchmarks that need a real
OpenAI-compatible server: a free port, a wait on `/health`, and a stop by process group (the
server may start workers of its own) however the caller exits."""

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
    *, continuous_batching: bool = False, deadline_s: float = 180.0, log: Path | None = None
) -> Iterator[str]:
    """Yields the server's base URL (`http://127.0.0.1:P/v1`) once it answers `/health`."""
    port = free_port()
    args = [sys.executable, "-m", "rlm_bench", "serve", "--port", str(port)]
    if continuous_batching:
        args.append("--continuous-batching")
    log = log or Path(tempfile.mkstemp(prefix="rlm_bench_serve_", suffix=".log")[1])
    with log.open("wb") as err:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
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
