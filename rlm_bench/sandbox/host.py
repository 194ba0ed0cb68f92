"""`Sandbox`, the harness side: it keeps one worker alive across blocks, times each block, answers
the worker's calls to host functions, and replaces a worker that had to be killed."""

from __future__ import annotations

import math
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rlm_bench.sandbox import protocol
from rlm_bench.sandbox.process import SandboxError, WorkerLost, WorkerProcess

FILE_MB = 64
"""The largest file model code may write (RLIMIT_FSIZE)."""

_STARTUP_TIMEOUT_S = 30.0
"""Generous: the worker starts in well under a second, but a loaded machine can stall it."""

_AFTER_RESTART = "the next block runs in a fresh REPL with only the initial variables"
_TEXT_SLICE = 1 << 16


@dataclass(frozen=True)
class RunResult:
    """What one block did: what to show the model, and what a solver records."""

    stdout: str
    stderr: str
    error: str | None
    """None if the block ran to its end; else the traceback, the timeout, or how the REPL died."""
    timed_out: bool
    truncated: bool
    """Output (or the error) was longer than `output_chars` and was cut, with a note saying so."""
    seconds: float
    """Wall time, including time spent in host functions (which does not count toward
    `timeout_s`)."""
    state_lost: bool
    """The REPL process was killed or died: variables defined by earlier blocks are gone."""


class _Clock:
    """A block's use of its time budget: wall time, less time the worker spends waiting for host
    functions (a slow model call is not the block's fault)."""

    def __init__(self, budget_s: float) -> None:
        self._budget_s = budget_s
        self._start = time.monotonic()
        self._paused_s = 0.0

    def elapsed(self) -> float:
        return time.monotonic() - self._start

    def left(self) -> float:
        return self._budget_s - (self.elapsed() - self._paused_s)

    @contextmanager
    def paused(self) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            self._paused_s += time.monotonic() - start


def _write_text(path: Path, text: str) -> None:
    """A text variable in a file of its own, written a slice at a time: the context is the one
    big variable, and JSON in the config would hold it twice more in the harness (as JSON text
    and as its bytes) and three times in the worker. Lone surrogates (a context cut inside a
    pair) pass through as they do in the protocol."""
    with path.open("w", encoding="utf-8", errors="surrogatepass", newline="") as file:
        for start in range(0, len(text), _TEXT_SLICE):
            file.write(text[start : start + _TEXT_SLICE])


class Sandbox:
    """A Python REPL in a separate, limited process (see the package docstring for what it
    guarantees and what it does not). Variables persist between `run` calls until the process
    has to be killed; then the next `run` starts a fresh one with the initial `variables`.

    One request at a time: `run` and `get` from two threads at once, or from inside a host
    function, raise RuntimeError.
    """

    def __init__(
        self,
        *,
        timeout_s: float = 30.0,
        memory_mb: int = 1024,
        cpu_s: int = 300,
        output_chars: int = 20_000,
        variables: dict[str, object] | None = None,
        functions: dict[str, Callable[..., object]] | None = None,
    ) -> None:
        for name, value in [
            ("timeout_s", timeout_s),
            ("memory_mb", memory_mb),
            ("cpu_s", cpu_s),
            ("output_chars", output_chars),
        ]:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name} must be a number, not {value!r}")
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, not {value!r}")
        self._timeout_s = float(timeout_s)
        self._functions = dict(functions or {})
        variables = dict(variables or {})
        texts = {name: value for name, value in variables.items() if isinstance(value, str)}
        config = protocol.to_json_bytes(
            {
                "variables": {k: v for k, v in variables.items() if k not in texts},
                "text_files": {name: f"text_{i}.txt" for i, name in enumerate(texts)},
                "functions": sorted(self._functions),
                "output_chars": int(output_chars),
                "memory_mb": int(memory_mb),
                "cpu_s": math.ceil(cpu_s),
                "file_mb": FILE_MB,
            }
        )
        self._root = Path(tempfile.mkdtemp(prefix="rlm_sandbox_"))
        self._remove_root = weakref.finalize(self, shutil.rmtree, self._root, ignore_errors=True)
        # The worker may write only under `workdir`; the config, the text variables and its
        # stderr log sit beside it, where model code cannot change what a restart reads.
        self.workdir = self._root / "work"
        self.workdir.mkdir()
        self._config = self._root / "config.json"
        self._config.write_bytes(config)
        for i, text in enumerate(texts.values()):
            _write_text(self._root / f"text_{i}.txt", text)
        self._worker: WorkerProcess | None = None
        self._busy = threading.Lock()

    def __enter__(self) -> Sandbox:
        try:
            with self._exclusive():
                self._live_worker()  # so a worker that cannot start fails here, not mid-solve
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Kills the worker's process group and removes the temporary directory; safe to call
        again."""
        self._discard_worker()
        self._remove_root()

    def run(self, code: str) -> RunResult:
        """Runs one block. Errors of the block are in the result, never raised; SandboxError
        means a fresh worker could not be started."""
        with self._exclusive():
            worker = self._live_worker()
            clock = _Clock(self._timeout_s)
            try:
                return self._run(worker, code, clock)
            except WorkerLost as lost:
                self._worker = None
                return RunResult(
                    stdout="",
                    stderr="",
                    error=f"{lost}; {_AFTER_RESTART}",
                    timed_out=False,
                    truncated=False,
                    seconds=clock.elapsed(),
                    state_lost=True,
                )
            except BaseException:  # e.g. KeyboardInterrupt in a host function: state unknown
                self._discard_worker()
                raise

    def get(self, name: str) -> str:
        """str() of a variable in the REPL. Raises KeyError if it is not defined, SandboxError if
        str() fails or does not return within `timeout_s`."""
        with self._exclusive():
            worker = self._live_worker()
            frame = protocol.encode({"op": "get", "name": name})
            try:
                reply = None
                if worker.send(frame, self._timeout_s):
                    reply = worker.receive(self._timeout_s)
                if reply is not None and reply["op"] != "value":
                    worker.kill()
                    raise WorkerLost(f"the REPL process answered get with {reply['op']!r}")
            except WorkerLost as lost:
                self._worker = None
                raise SandboxError(f"get({name!r}) failed: {lost}; {_AFTER_RESTART}") from None
            if reply is None:
                self._discard_worker()
                raise SandboxError(
                    f"get({name!r}) timed out after {self._timeout_s:g} s; the REPL process was "
                    f"killed: {_AFTER_RESTART}"
                )
        if not reply["found"]:
            raise KeyError(f"{name!r} is not defined in the REPL")
        if reply["error"] is not None:
            raise SandboxError(f"str() of {name!r} failed in the REPL:\n{reply['error']}")
        return str(reply["text"])

    def _run(self, worker: WorkerProcess, code: str, clock: _Clock) -> RunResult:
        if not worker.send(protocol.encode({"op": "run", "code": code}), clock.left()):
            return self._timed_out(clock)
        while True:
            message = worker.receive(clock.left())
            if message is None:
                return self._timed_out(clock)
            if message["op"] == "done":
                return RunResult(
                    stdout=str(message["stdout"]),
                    stderr=str(message["stderr"]),
                    error=None if message["error"] is None else str(message["error"]),
                    timed_out=False,
                    truncated=bool(message["truncated"]),
                    seconds=clock.elapsed(),
                    state_lost=False,
                )
            if message["op"] != "call":
                worker.kill()
                raise WorkerLost(f"the REPL process sent an unexpected {message['op']!r} message")
            with clock.paused():
                reply = self._call_host(message)
            if not worker.send(reply, clock.left()):
                return self._timed_out(clock)

    def _call_host(self, message: dict) -> protocol.Frame:
        """Runs a host function for the worker. Whatever it raises goes back to the model's code
        (as a RuntimeError there), where the model can see it and try something else."""
        name = message["name"]
        function = self._functions.get(name) if isinstance(name, str) else None
        if function is None:
            return protocol.encode({"op": "raise", "error": f"no function {name!r}"})
        try:
            value = function(*message["args"], **message["kwargs"])
            return protocol.encode({"op": "return", "value": value})
        except Exception as exc:
            return protocol.encode({"op": "raise", "error": f"{type(exc).__name__}: {exc}"})

    def _timed_out(self, clock: _Clock) -> RunResult:
        self._discard_worker()
        return RunResult(
            stdout="",
            stderr="",
            error=(
                f"timed out after {self._timeout_s:g} s (time waiting for host functions not "
                f"counted); the REPL process was killed: {_AFTER_RESTART}"
            ),
            timed_out=True,
            truncated=False,
            seconds=clock.elapsed(),
            state_lost=True,
        )

    def _live_worker(self) -> WorkerProcess:
        if not self._remove_root.alive:
            raise SandboxError("the sandbox is closed")
        if self._worker is None:
            self._worker = self._start_worker()
        return self._worker

    def _start_worker(self) -> WorkerProcess:
        worker = WorkerProcess(
            config=self._config, workdir=self.workdir, log=self._root / "worker.log"
        )
        try:
            ready = worker.receive(_STARTUP_TIMEOUT_S)
        except WorkerLost as lost:
            raise SandboxError(
                f"the REPL process did not start: {lost}: {worker.log_tail()}"
            ) from None
        if ready is None or ready["op"] != "ready":
            worker.kill()
            raise SandboxError(
                f"the REPL process did not start within {_STARTUP_TIMEOUT_S:g} s"
                if ready is None
                else f"the REPL process began with {ready['op']!r} instead of 'ready'"
            )
        return worker

    def _discard_worker(self) -> None:
        if self._worker is not None:
            self._worker.kill()
            self._worker = None

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        if not self._busy.acquire(blocking=False):
            raise RuntimeError(
                "a Sandbox serves one request at a time: run() or get() was called from a "
                "second thread or from inside a host function"
            )
        try:
            yield
        finally:
            self._busy.release()
