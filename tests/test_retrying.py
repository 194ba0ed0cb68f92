"""The shared retry loop, driven by a scripted failing call and a sleep that only records."""

from __future__ import annotations

import asyncio

import pytest

from rlm_bench.models.retrying import (
    NO_RETRY,
    AttemptTimeout,
    RetryDecision,
    RetryPolicy,
    call_with_retries,
)


class Transient(Exception):
    """Stands for a 429 or a 5xx: worth another attempt."""

    def __init__(self, after_s: float | None = None) -> None:
        super().__init__("transient")
        self.after_s = after_s


class Fatal(Exception):
    """Stands for a 400 or a 401: the same every time."""


def classify(exc: BaseException) -> RetryDecision:
    if isinstance(exc, Transient):
        return RetryDecision(retry=True, after_s=exc.after_s)
    if isinstance(exc, TimeoutError):
        return RetryDecision(retry=True)
    return NO_RETRY


class ScriptedCall:
    """A test double for a backend call: raises the scripted errors in order, then answers
    (a `"hang"` entry sleeps past any timeout instead)."""

    def __init__(self, *script: BaseException | str, answer: str = "ok") -> None:
        self.script = list(script)
        self.answer = answer
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if not self.script:
            return self.answer
        step = self.script.pop(0)
        if step == "hang":
            await asyncio.sleep(3600)
        raise step


class RecordingSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def run(call, policy=None, sleep=None):
    return asyncio.run(
        call_with_retries(call, policy or RetryPolicy(), classify, sleep or RecordingSleep())
    )


def test_success_first_time_reports_no_retries():
    sleep = RecordingSleep()
    assert run(ScriptedCall(), sleep=sleep) == ("ok", 0)
    assert sleep.delays == []


def test_transient_errors_are_retried_and_counted():
    call, sleep = ScriptedCall(Transient(), Transient(), Transient()), RecordingSleep()
    assert run(call, sleep=sleep) == ("ok", 3)
    assert call.calls == 4 and len(sleep.delays) == 3


def test_backoff_is_full_jitter_under_an_exponential_cap():
    policy = RetryPolicy(max_attempts=8, base_delay_s=1.0, max_delay_s=10.0)
    caps = [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    for _ in range(50):
        sleep = RecordingSleep()
        run(ScriptedCall(*[Transient() for _ in caps]), policy, sleep)
        assert all(0.0 <= d <= cap for d, cap in zip(sleep.delays, caps, strict=True))
    draws = [policy.backoff_s(5) for _ in range(200)]
    assert max(draws) > 5.0 and min(draws) < 5.0  # spread over [0, cap], not the cap itself


def test_retry_after_is_honoured_and_capped():
    sleep = RecordingSleep()
    policy = RetryPolicy(max_delay_s=30.0)
    call = ScriptedCall(Transient(after_s=0), Transient(after_s=7.5), Transient(after_s=3600))
    assert run(call, policy, sleep) == ("ok", 3)
    assert sleep.delays == [0.0, 7.5, 30.0]


def test_a_fatal_error_is_raised_at_once():
    call, sleep = ScriptedCall(Transient(), Fatal("bad request")), RecordingSleep()
    with pytest.raises(Fatal, match="bad request") as info:
        run(call, sleep=sleep)
    assert call.calls == 2 and len(sleep.delays) == 1
    assert "gave up after 2 attempt(s)" in info.value.__notes__


def test_the_last_error_is_raised_when_attempts_run_out():
    errors = [Transient() for _ in range(3)]
    call, sleep = ScriptedCall(*errors), RecordingSleep()
    with pytest.raises(Transient) as info:
        run(call, RetryPolicy(max_attempts=3), sleep)
    assert info.value is errors[-1]
    assert call.calls == 3 and len(sleep.delays) == 2  # no sleep after the last attempt


def test_a_hung_attempt_times_out_and_is_retried():
    call, sleep = ScriptedCall("hang", "hang"), RecordingSleep()
    policy = RetryPolicy(timeout_s=0.05)
    assert run(call, policy, sleep) == ("ok", 2)


def test_hanging_every_time_fails_with_a_timeout_after_max_attempts():
    call, sleep = ScriptedCall("hang", "hang", "hang"), RecordingSleep()
    policy = RetryPolicy(max_attempts=3, timeout_s=0.05)
    with pytest.raises(AttemptTimeout, match=r"no answer in 0.05 s"):
        run(call, policy, sleep)
    assert call.calls == 3 and len(sleep.delays) == 2


def test_cancellation_is_not_retried():
    async def main():
        call = ScriptedCall("hang")
        task = asyncio.create_task(call_with_retries(call, RetryPolicy(), classify))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return call.calls

    assert asyncio.run(main()) == 1


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"timeout_s": 0}, {"base_delay_s": -1}])
def test_a_policy_that_cannot_work_is_refused(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)
