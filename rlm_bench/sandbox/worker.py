"""The REPL process (the *worker*): it holds the model's variables between blocks and runs each
block with its output captured, after limiting and guarding itself, before any model-written code
runs.

`process.py` starts it as `python -s -P -B -m rlm_bench.sandbox.worker CONFIG IN_FD OUT_FD`, in a
session of its own, with its working directory as cwd, stdout on /dev/null and stderr on a log
file. CONFIG is a JSON file naming the initial variables, each text variable in a file of its own
beside it (the context can be megabytes: too much for argv, and held more than once if it were
JSON); IN_FD and OUT_FD are its pipes from and to the harness. It, and the sandbox modules it
uses, import only the standard library, so it starts in well under a tenth of a second.
"""

from __future__ import annotations

import ast
import builtins
import collections
import json
import linecache
import math
import os
import re
import sys
import threading
import traceback
from collections.abc import Callable

from rlm_bench.sandbox import capture, guard, limits, protocol

_SANDBOX_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class HarnessLink:
    """The worker's two pipes to the harness. Between blocks the main loop reads commands from
    them; while a block runs, host-function stubs use them, one call at a time, so a reply can
    never be read by the wrong reader."""

    def __init__(self, in_fd: int, out_fd: int) -> None:
        self._in = in_fd
        self._out = out_fd
        self._calls = threading.Lock()
        self._calls_open = False

    def send(self, frame: protocol.Frame) -> None:
        protocol.write_frame(self._out, frame)

    def receive(self) -> dict | None:
        return protocol.read_frame(self._in)

    def open_calls(self) -> None:
        with self._calls:
            self._calls_open = True

    def close_calls(self) -> None:
        """Waits for a call in flight (from a thread the block started), so its reply is read
        before the main loop reads the pipe again."""
        with self._calls:
            self._calls_open = False

    def call(self, name: str, args: tuple, kwargs: dict) -> object:
        try:
            frame = protocol.encode({"op": "call", "name": name, "args": args, "kwargs": kwargs})
        except TypeError as exc:
            raise TypeError(f"the arguments of {name}() must be JSON values: {exc}") from None
        with self._calls:
            if not self._calls_open:
                raise RuntimeError(f"{name}() can only be called while a block is running")
            self.send(frame)
            reply = self.receive()
        if reply is None:
            os._exit(1)  # the harness is gone: nobody is left to run a block for
        if reply["op"] == "raise":
            raise RuntimeError(f"{name}() failed in the harness: {reply['error']}")
        if reply["op"] != "return":
            raise protocol.ProtocolError(f"a {reply['op']!r} message in reply to {name}()")
        return reply["value"]


def host_function(link: HarnessLink, name: str) -> Callable[..., object]:
    """The stand-in for a harness function in the REPL's namespace."""

    def call(*args: object, **kwargs: object) -> object:
        return link.call(name, args, kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"Runs {name} in the harness that started this REPL; JSON values in and out."
    return call


class Repl:
    def __init__(
        self,
        variables: dict[str, object],
        functions: list[str],
        output_chars: int,
        link: HarnessLink,
    ) -> None:
        self._namespace: dict[str, object] = {
            "__name__": "__main__",
            "__builtins__": builtins,
            "collections": collections,
            "json": json,
            "math": math,
            "re": re,
        }
        self._namespace.update(variables)
        self._namespace.update({name: host_function(link, name) for name in functions})
        self._output_chars = output_chars
        self._link = link
        self._cells = 0

    def run(self, code: str) -> protocol.Frame:
        """A "done" frame: the block's captured output and its error, each cut to the limit."""
        self._cells += 1
        filename = f"<cell {self._cells}>"
        # Kept for the worker's life: a function defined in one block may fail in a later one,
        # and its traceback should still show its source lines.
        linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
        output = capture.Output(self._output_chars)
        sys.stdout, sys.stderr = output.stdout, output.stderr
        self._link.open_calls()
        try:
            error = self._execute(code, filename)
        finally:
            self._link.close_calls()
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        error, error_cut = capture.cut(error, self._output_chars) if error else (None, False)
        return protocol.encode(
            {
                "op": "done",
                "stdout": output.stdout.text(),
                "stderr": output.stderr.text(),
                "error": error,
                "truncated": output.truncated or error_cut,
            }
        )

    def _execute(self, code: str, filename: str) -> str | None:
        """Runs a block like a notebook cell: a final bare expression is shown as the interactive
        interpreter shows it. Returns None, or what went wrong as Python would print it."""
        try:
            tree = ast.parse(code, filename)
        except (SyntaxError, ValueError) as exc:  # ValueError: a NUL byte in the source
            return "".join(traceback.format_exception_only(exc))
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        try:
            exec(compile(tree, filename, "exec"), self._namespace)
            if last is not None:
                expression = compile(ast.Expression(last.value), filename, "eval")
                sys.displayhook(eval(expression, self._namespace))
        except SystemExit as exc:
            return f"SystemExit({exc.code!r}) raised: the REPL keeps running"
        except BaseException as exc:  # the model should see whatever it was
            return describe(exc)
        return None

    def get(self, name: str) -> protocol.Frame:
        """A "value" frame: str() of a variable, or why there is none."""
        if name not in self._namespace:
            return protocol.encode({"op": "value", "found": False, "text": None, "error": None})
        try:
            text = str(self._namespace[name])
        except BaseException as exc:  # model-written __str__ methods may do anything
            return protocol.encode(
                {"op": "value", "found": True, "text": None, "error": describe(exc)}
            )
        try:
            return protocol.encode({"op": "value", "found": True, "text": text, "error": None})
        except protocol.ProtocolError as exc:
            return protocol.encode({"op": "value", "found": True, "text": None, "error": str(exc)})


def describe(exc: BaseException) -> str:
    """The traceback as Python prints it, without the worker's own frames: the model should see
    its code, not the machinery that ran it."""
    if isinstance(exc, SyntaxError) and exc.text is None and exc.filename and exc.lineno:
        # compile() of a parsed tree (`return` outside a function) leaves out the line itself
        exc.text = linecache.getline(exc.filename, exc.lineno) or None
    try:
        report = traceback.TracebackException.from_exception(exc)
        pending = [report]
        while pending:
            part = pending.pop()
            part.stack = traceback.StackSummary.from_list(
                [frame for frame in part.stack if not frame.filename.startswith(_SANDBOX_DIR)]
            )
            pending.extend(p for p in (part.__cause__, part.__context__) if p is not None)
            pending.extend(getattr(part, "exceptions", None) or ())
        return "".join(report.format())
    except MemoryError:
        return f"{type(exc).__name__} (and too little memory left to format its traceback)"


def read_text(path: str) -> str:
    """A text variable the harness wrote (`host._write_text`): its bytes and its text are held
    together only while it is decoded, before any block runs."""
    with open(path, "rb") as file:
        data = file.read()
    return str(data, "utf-8", "surrogatepass")


def main(argv: list[str]) -> None:
    config_path, in_fd, out_fd = argv
    with open(config_path, "rb") as file:
        config = protocol.from_json_bytes(file.read())
    folder = os.path.dirname(config_path)
    for name, filename in config["text_files"].items():
        config["variables"][name] = read_text(os.path.join(folder, filename))
    limits.apply(memory_mb=config["memory_mb"], cpu_s=config["cpu_s"], file_mb=config["file_mb"])
    link = HarnessLink(int(in_fd), int(out_fd))
    repl = Repl(config["variables"], config["functions"], config["output_chars"], link)
    del config  # the initial variables live on in the namespace only
    guard.install(os.getcwd())
    link.send(protocol.encode({"op": "ready"}))
    while (message := link.receive()) is not None:
        if message["op"] == "run":
            link.send(repl.run(message["code"]))
        elif message["op"] == "get":
            link.send(repl.get(message["name"]))
        else:
            raise protocol.ProtocolError(f"an unexpected {message['op']!r} message")


if __name__ == "__main__":
    main(sys.argv[1:])
