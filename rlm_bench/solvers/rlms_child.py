"""One `rlms` completion in a process of its own: `python -m rlm_bench.solvers.rlms_child RESULT`
reads the job as JSON on stdin and writes the outcome as JSON to RESULT.

Why a process: `rlms`' `local` environment runs the model's code with `exec` in the process that
calls the library, and while a block runs it swaps `sys.stdout` and the working directory of that
whole process. Two samples at once in threads would read each other's output, and the run's own
writes and progress bar would land in a REPL's temporary folder. Here each sample has its own
process, with limits on memory, CPU and file size, killed with its children by the adapter when
its time is up; a block that crashes Python takes one sample with it, not the run. It is not a
sandbox: the code keeps the network (it must reach the model server) and the user's files.

The job carries the API key, so it comes on stdin and never touches the disk.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from rlm_bench.sandbox import limits


class _RecordedHandler:
    """The root's LM handler, recording each call's usage as the client reports it: `rlms`' usage
    summary is a sum over the completion, and the trace needs it call by call. No block runs
    while the root model is called, so the client's last usage is this call's."""

    def __init__(self, handler: Any, calls: list[dict[str, Any]], kind: str) -> None:
        self._handler, self._calls, self._kind = handler, calls, kind

    def completion(self, prompt: Any, model: str | None = None) -> str:
        start = time.perf_counter()
        text = self._handler.completion(prompt, model)
        usage = self._handler.get_client(model).get_last_usage()
        self._calls.append(
            {
                "kind": self._kind,
                "prompt_tokens": usage.total_input_tokens,
                "completion_tokens": usage.total_output_tokens,
                "cost_usd": usage.total_cost,
                "latency_s": time.perf_counter() - start,
            }
        )
        return text

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._handler, attr)


def recording_rlm(rlm_class: type, calls: list[dict[str, Any]]) -> type:
    """`rlm.RLM` with its root calls recorded. It overrides the three methods through which the
    root model is called in rlms 0.1.3 (the extra pins that version)."""

    class RecordingRLM(rlm_class):
        def _completion_turn(self, prompt, lm_handler, environment):
            return super()._completion_turn(
                prompt, _RecordedHandler(lm_handler, calls, "turn"), environment
            )

        def _default_answer(self, message_history, lm_handler):
            return super()._default_answer(
                message_history, _RecordedHandler(lm_handler, calls, "final")
            )

        def _compact_history(self, lm_handler, environment, message_history, compaction_count=1):
            recorded = _RecordedHandler(lm_handler, calls, "compact")
            return super()._compact_history(
                recorded, environment, message_history, compaction_count
            )

    return RecordingRLM


def _without_prompts(trajectory: dict[str, Any] | None) -> dict[str, Any] | None:
    """Each logged iteration carries the whole message history so far; the trace needs none of
    it, and keeping it would make the result quadratic in the number of turns."""
    if not trajectory:
        return trajectory
    iterations = []
    for step in trajectory.get("iterations", []):
        step = {k: v for k, v in step.items() if k != "prompt"}
        for block in step.get("code_blocks", []):
            block["result"].pop("locals", None)
            for call in block["result"].get("rlm_calls", []):
                call["metadata"] = _without_prompts(call.get("metadata"))
        iterations.append(step)
    return {**trajectory, "iterations": iterations}


def solve(job: dict[str, Any]) -> dict[str, Any]:
    from rlm import RLM
    from rlm.logger import RLMLogger

    calls: list[dict[str, Any]] = []
    rlm = recording_rlm(RLM, calls)(**job["rlm"], logger=RLMLogger())
    try:
        completion = rlm.completion(job["context"], root_prompt=job["question"])
    except Exception as exc:
        partial = getattr(exc, "partial_answer", None)
        return {"error": f"{type(exc).__name__}: {exc}", "partial_answer": partial, "calls": calls}
    finally:
        rlm.close()
    return {
        "response": completion.response,
        "usage": completion.usage_summary.to_dict(),
        "execution_time": completion.execution_time,
        "trajectory": _without_prompts(completion.metadata),
        "calls": calls,
    }


def main() -> None:
    job = json.load(sys.stdin)
    limits.apply(**job["limits"])
    logging.disable(logging.WARNING)  # the library's HTTP logs would fill the adapter's log
    outcome = solve(job)
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        json.dump(outcome, out)


if __name__ == "__main__":
    main()
