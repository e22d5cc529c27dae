"""A client-side limiter for requests per minute and tokens per minute (``--rpm`` / ``--tpm``)."""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable


class _Bucket:
    """A token bucket refilled at ``per_minute / 60`` per second, holding at most one second's worth
    (at least 1), so the limit is spread over the minute instead of spent in an opening burst."""

    def __init__(self, per_minute: float, now: float) -> None:
        if per_minute <= 0:
            raise ValueError("a rate limit must be positive")
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self.level = self.capacity
        self.updated = now

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def wait_for(self, amount: float) -> float:
        # A request larger than the bucket waits for a full bucket and then overdraws it: the debt
        # delays the requests after it, so the average rate still holds.
        needed = min(amount, self.capacity)
        return 0.0 if self.level >= needed else (needed - self.level) / self.rate


class RateLimiter:
    """``await limiter.acquire(tokens)`` before each call; waiters are served in arrival order.

    Token counts are estimates made before the call (see ``Request.estimated_tokens``);
    ``correct(actual - estimated)`` settles the difference once the usage is known.
    """

    def __init__(self, requests_per_minute: float | None = None, tokens_per_minute: float | None = None, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        now = clock()
        self._requests = _Bucket(requests_per_minute, now) if requests_per_minute else None
        self._tokens = _Bucket(tokens_per_minute, now) if tokens_per_minute else None
        self._lock = asyncio.Lock()

    @property
    def unlimited(self) -> bool:
        return self._requests is None and self._tokens is None

    async def acquire(self, tokens: int = 0) -> float:
        """Waits until one request of ``tokens`` tokens fits both limits; returns the seconds waited."""
        if self.unlimited:
            return 0.0
        waited = 0.0
        async with self._lock:
            while True:
                now = self._clock()
                wait = 0.0
                if self._requests is not None:
                    self._requests.refill(now)
                    wait = self._requests.wait_for(1)
                if self._tokens is not None and tokens:
                    self._tokens.refill(now)
                    wait = max(wait, self._tokens.wait_for(tokens))
                if wait <= 0:
                    break
                await self._sleep(wait)
                waited += wait
            if self._requests is not None:
                self._requests.level -= 1
            if self._tokens is not None:
                self._tokens.level -= tokens
        return waited

    def correct(self, tokens: int) -> None:
        """Charges (positive) or refunds (negative) tokens after the fact."""
        if self._tokens is not None:
            self._tokens.refill(self._clock())
            self._tokens.level = min(self._tokens.capacity, self._tokens.level - tokens)
