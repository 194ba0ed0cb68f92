"""One retry loop for every HTTP backend, so they all back off, time out and give up alike.

Hosted APIs answer bursts of parallel sub-calls with 429s and the odd 5xx; a recursion of depth 3
makes dozens of calls per sample, so one transient error must not lose the sample. Each backend
only says which of its errors are worth another attempt (`classify`); the loop owns the timing.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    timeout_s: float = 120.0
    """Per attempt: a hung connection is abandoned and retried like any other timeout."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1 (got {self.max_attempts})")
        if self.timeout_s <= 0 or self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError("timeout_s must be positive and delays not negative")

    def backoff_s(self, failures: int) -> float:
        """Full jitter (a uniform draw up to the exponential cap): clients that failed together
        spread out instead of retrying in lockstep and failing together again."""
        cap = min(self.max_delay_s, self.base_delay_s * 2 ** (failures - 1))
        return random.uniform(0.0, cap)


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    after_s: float | None = None
    """The server's `Retry-After`, in seconds, when it said one: it knows better than our guess."""


NO_RETRY = RetryDecision(retry=False)


class AttemptTimeout(TimeoutError):
    """An attempt got no answer within the policy's `timeout_s` (the message says how long)."""


async def call_with_retries(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    classify: Callable[[BaseException], RetryDecision],
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> tuple[T, int]:
    """Run `attempt` until it succeeds: (its result, how many attempts failed before). The last
    error is re-raised, with a note of the attempts made, once retrying is pointless or spent."""
    failures = 0
    while True:
        try:
            return await _timed(attempt, policy.timeout_s), failures
        except Exception as exc:
            decision = classify(exc)
            failures += 1
            if not decision.retry or failures >= policy.max_attempts:
                exc.add_note(f"gave up after {failures} attempt(s)")
                raise
            await sleep(_delay(policy, failures, decision))


async def _timed(attempt: Callable[[], Awaitable[T]], timeout_s: float) -> T:
    try:
        return await asyncio.wait_for(attempt(), timeout_s)
    except TimeoutError as exc:
        # wait_for's own TimeoutError has no message; a recorded failure should say what happened.
        if str(exc):
            raise
        raise AttemptTimeout(f"no answer in {timeout_s:g} s") from None


def _delay(policy: RetryPolicy, failures: int, decision: RetryDecision) -> float:
    if decision.after_s is not None:
        return min(max(decision.after_s, 0.0), policy.max_delay_s)
    return policy.backoff_s(failures)


class AttemptLog:
    """`classify` that also notes what each failed attempt met ("429", "no answer in 15 s"), so
    an error after retries can say what happened rather than guess from the last failure: a
    server that answered 429 then 500 then hung was reached, though the last attempt timed out."""

    def __init__(
        self,
        classify: Callable[[BaseException], RetryDecision],
        describe: Callable[[BaseException], str],
    ) -> None:
        self._classify = classify
        self._describe = describe
        self.outcomes: list[str] = []

    def classify(self, exc: BaseException) -> RetryDecision:
        self.outcomes.append(self._describe(exc))
        return self._classify(exc)


def timeout_classify(exc: BaseException) -> RetryDecision:
    """The part of every backend's `classify` that is not about its SDK."""
    return RetryDecision(retry=isinstance(exc, TimeoutError))
