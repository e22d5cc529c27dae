"""Retries for the runner: exponential backoff with full jitter, Retry-After honoured up to a cap.

The SDK clients are built with ``max_retries=0``, so this is the only retry loop: it retries
:class:`~charter.providers.errors.RetryableError` only, reports how many retries a call needed,
and stamps ``attempts`` on the error it finally gives up with.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Awaitable, Callable, Generic, TypeVar

from charter.providers.errors import RetryableError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` counts the first call. The n-th retry waits a uniform random time in
    [0, min(max_delay, base_delay * 2**(n-1))] ("full jitter", which keeps many clients hitting the
    same limit from retrying in lockstep), but never less than the server's Retry-After; a
    Retry-After longer than ``max_retry_after`` is cut to it, so one answer cannot stall a run."""

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 30.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def delay(self, retry: int, error: RetryableError, draw: float) -> float:
        """Seconds before the ``retry``-th retry (from 1); ``draw`` is uniform in [0, 1)."""
        backoff = draw * min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        if error.retry_after is not None:
            return max(backoff, min(error.retry_after, self.max_retry_after))
        return backoff


@dataclass(frozen=True)
class Retried(Generic[T]):
    """A call's result, how many retries it took, and how long it slept between them."""

    value: T
    retries: int
    waited: float


async def with_retries(
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy = RetryPolicy(),
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    draw: Callable[[], float] = random.random,
    on_retry: Callable[[RetryableError, int, float], object] | None = None,
) -> Retried[T]:
    """Runs ``call()`` until it succeeds, fails fatally, or ``policy.max_attempts`` calls are used.

    ``on_retry(error, retry_number, delay)`` is told before each wait (for progress and logs);
    ``sleep`` and ``draw`` are injectable so tests run on a fake clock.
    """
    waited = 0.0
    for attempt in range(1, policy.max_attempts + 1):
        try:
            value = await call()
        except RetryableError as error:
            error.attempts = attempt
            if attempt == policy.max_attempts:
                raise
            delay = policy.delay(attempt, error, draw())
            if on_retry is not None:
                on_retry(error, attempt, delay)
            await sleep(delay)
            waited += delay
            continue
        return Retried(value, attempt - 1, waited)
    raise AssertionError("unreachable: the loop returns or raises")
