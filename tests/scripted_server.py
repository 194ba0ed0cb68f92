"""`ScriptedServer`: a test double for an OpenAI-compatible server, a stdlib HTTP server in a
thread that plays back scripted answers (bodies, 429s, 5xx, hangs) over real HTTP. Shared by the
backend's tests and the tests of the adapters that hand a library the run's endpoint."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from rlm_bench.evaluation.cells import Cell
from rlm_bench.evaluation.executors.solving import solve_cell
from rlm_bench.models.openai_backend import OpenAIModel
from rlm_bench.models.pricing import Price, PricedModel
from rlm_bench.tasks import get_task


def completion_body(text: str, usage: bool = True) -> dict:
    body = {
        "id": "cmpl-test",
        "object": "text_completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}],
    }
    if usage:
        body["usage"] = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    return body


def chat_body(text: str, usage: bool = True) -> dict:
    message = {"role": "assistant", "content": text}
    body = {
        "id": "chat-test",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }
    if usage:
        body["usage"] = {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}
    return body


class ScriptedServer:
    """A test double for an OpenAI-compatible server. Each POST takes the next step of the
    script: `(status, headers)` answers with an error, `("hang", s)` says nothing for s seconds,
    `("slow", s)` answers after s seconds, a dict is the JSON body of a success; when the script
    is spent it answers " Paris." with usage. GET /v1/models lists `models` (or fails with
    `models_status`)."""

    def __init__(self, *steps, models=("m",), models_status: int = 200) -> None:
        self.steps = list(steps)
        self.models = list(models)
        self.models_status = models_status
        self.requests: list[tuple[str, dict]] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Handler,), {"sv": self}))
        self.httpd.daemon_threads = True

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/v1"

    def __enter__(self) -> ScriptedServer:
        serve = threading.Thread(  # a short poll: shutdown waits for one poll interval
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        serve.start()
        return self

    def __exit__(self, *exc) -> None:
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def next_step(self, path: str, body: dict):
        with self.lock:
            self.requests.append((path, body))
            return self.steps.pop(0) if self.steps else completion_body(" Paris.")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms ACK wait
    sv: ScriptedServer

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        if self.sv.models_status != 200:
            self._send(self.sv.models_status, {"error": {"message": "nope"}})
            return
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "t"} for m in self.sv.models]
        self._send(200, {"object": "list", "data": data})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        step = self.sv.next_step(self.path, body)
        with self.sv.lock:
            self.sv.in_flight += 1
            self.sv.max_in_flight = max(self.sv.max_in_flight, self.sv.in_flight)
        try:
            self._play(step)
        finally:
            with self.sv.lock:
                self.sv.in_flight -= 1

    def _play(self, step) -> None:
        if isinstance(step, dict):
            self._send(200, step)
        elif step[0] == "hang":
            self.sv.closing.wait(step[1])
            self.close_connection = True
        elif step[0] == "slow":
            time.sleep(step[1])
            self._send(200, completion_body(" Paris."))
        else:
            status, headers = step
            self._send(status, {"error": {"message": f"scripted {status}"}}, headers)

    def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **(headers or {})}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up on this attempt


def chat_model(server: ScriptedServer) -> PricedModel:
    """The run's model as the harness wraps it, on the scripted server: priced, so an adapter's
    trace cost can be checked."""
    return PricedModel(OpenAIModel("m", base_url=server.base_url, endpoint="chat"), Price(1.0, 2.0))


def solve_niah_cell(label: str, solver, sample, model) -> tuple[dict, dict]:
    """One `niah_single` 1K cell solved and scored as the evaluator does: its sample row and
    trace row."""
    cell = Cell(task="niah_single", solver=label, length=1024, index=0)
    task = get_task("niah_single", None)
    return asyncio.run(solve_cell(cell, sample, task, solver, model))
