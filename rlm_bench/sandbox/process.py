"""The worker process seen from the harness: started with a clean environment and pipes of its
own, spoken to with a deadline on every read and write, and killed with its whole process group.

Nothing the worker does can block the harness past a deadline or make it allocate more than one
bounded frame: reads and writes are non-blocking behind `poll`, and a garbled frame is a lost
worker, not an exception in the harness.
"""

from __future__ import annotations

import math
import os
import select
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path

from rlm_bench.sandbox import protocol

# The directory that holds the `rlm_bench` the harness runs, so the worker runs the same code
# even from a checkout that is not installed.
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])

_EXIT_GRACE_S = 1.0
"""After its pipe closes, how long a worker has to finish dying before it is killed: long enough
to tell "it crashed" from "it closed the pipe and lives on"."""


class SandboxError(RuntimeError):
    """The sandbox could not do what was asked (its worker would not start, a `get` failed);
    unlike an error in a block, this is not the model's code going wrong."""


class WorkerLost(Exception):
    """The worker died or broke the protocol. It has been killed and reaped; the message says
    what happened, in words for the model."""


class WorkerProcess:
    def __init__(self, *, config: Path, workdir: Path, log: Path) -> None:
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        try:
            with log.open("ab") as stderr:
                self._proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-s",  # no user site-packages
                        "-P",  # nothing from cwd (model-written files) shadows a module
                        "-B",  # no .pyc writes, which the guard would refuse anyway
                        "-m",
                        "rlm_bench.sandbox.worker",
                        str(config),
                        str(to_worker_r),
                        str(from_worker_w),
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    cwd=workdir,
                    env=_environment(workdir),
                    pass_fds=(to_worker_r, from_worker_w),
                    start_new_session=True,
                )
        except BaseException:
            os.close(to_worker_w)
            os.close(from_worker_r)
            raise
        finally:
            os.close(to_worker_r)
            os.close(from_worker_w)
        self._to_worker = to_worker_w
        self._from_worker = from_worker_r
        os.set_blocking(self._to_worker, False)
        os.set_blocking(self._from_worker, False)
        self._reader = protocol.FrameReader()
        self._log = log
        self._stop = weakref.finalize(self, _stop, self._proc, (self._to_worker, self._from_worker))

    @property
    def pid(self) -> int:
        return self._proc.pid

    def send(self, frame: protocol.Frame, timeout_s: float) -> bool:
        """Writes a frame; False if the deadline passed first. Raises WorkerLost."""
        deadline = time.monotonic() + timeout_s
        for piece in frame:
            view = memoryview(piece)
            while view:
                if not _ready(self._to_worker, select.POLLOUT, deadline):
                    return False
                try:
                    view = view[os.write(self._to_worker, view) :]
                except BlockingIOError:
                    continue
                except BrokenPipeError:
                    raise self._lost("closed its pipe from the harness") from None
        return True

    def receive(self, timeout_s: float) -> dict | None:
        """The next message; None if the deadline passed first. Raises WorkerLost."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                message = self._reader.next()
            except protocol.ProtocolError as exc:
                self.kill()
                raise WorkerLost(
                    f"the REPL process sent the harness a malformed message ({exc}) and was killed"
                ) from None
            if message is not None:
                return message
            if not _ready(self._from_worker, select.POLLIN, deadline):
                return None
            try:
                read = self._reader.read_from(self._from_worker)
            except BlockingIOError:
                continue
            if not read:
                raise self._lost("closed its pipe to the harness")

    def kill(self) -> None:
        """Kills the process group and reaps the worker; safe to call again."""
        self._stop()

    def log_tail(self) -> str:
        """The last line the worker wrote to stderr: the error, when Python itself failed."""
        try:
            lines = self._log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1] if lines else ""

    def _lost(self, what: str) -> WorkerLost:
        exited = self._has_exited(_EXIT_GRACE_S)
        self.kill()
        if exited:
            return WorkerLost(_describe_exit(self._proc.returncode))
        return WorkerLost(f"the REPL process {what} and was killed")

    def _has_exited(self, within_s: float) -> bool:
        """Whether the worker exited by itself, asked without reaping it: until it is reaped,
        its process group id cannot be reused, so killing the group cannot hit a stranger."""
        deadline = time.monotonic() + within_s
        while True:
            try:
                status = os.waitid(os.P_PID, self._proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return True
            if status is not None or time.monotonic() >= deadline:
                return status is not None
            time.sleep(0.01)


def _environment(workdir: Path) -> dict[str, str]:
    """Built from nothing, so no variable of the harness (API keys live there) reaches
    model-written code."""
    return {
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "PATH": os.defpath,
        "PYTHONPATH": _PACKAGE_ROOT,
        "TMPDIR": str(workdir),
    }


def _ready(fd: int, event: int, deadline: float) -> bool:
    """Whether `fd` is ready for `event` (or hung up, which the read or write then reports)
    before the deadline."""
    poller = select.poll()
    poller.register(fd, event)
    while True:
        left_ms = math.ceil(max(0.0, deadline - time.monotonic()) * 1000)
        if poller.poll(left_ms):
            return True
        if left_ms == 0:
            return False


def _describe_exit(returncode: int) -> str:
    if returncode >= 0:
        return f"the REPL process exited with code {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    if name == "SIGXCPU":
        return "the REPL process used up its CPU time limit and was killed by SIGXCPU"
    if name == "SIGKILL":
        return "the REPL process was killed by SIGKILL (memory or CPU limit, or its own code?)"
    return f"the REPL process was killed by {name}"


def _stop(proc: subprocess.Popen, fds: tuple[int, ...]) -> None:
    """A finalizer, so that a Sandbox dropped without `close()` still leaves no process behind."""
    if proc.returncode is None:  # not reaped yet, so the group id is still the worker's
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass  # stuck in the kernel; nothing more a harness can do
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
