"""Client-side limits: requests and tokens per minute (``--rpm`` / ``--tpm``), and adaptive concurrency.

:class:`RateLimiter` is the fixed limit a user sets; :class:`AdaptiveConcurrency` finds the
server's limit from its answers (429s, 529s and the rate-limit headers), under ``--concurrency``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
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

    @property
    def counts_tokens(self) -> bool:
        """Whether calls are charged tokens (a ``tokens_per_minute`` limit): then ``acquire`` needs them."""
        return self._tokens is not None

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


# -- adaptive concurrency -----------------------------------------------------------------------

# Multiplicative decrease on a believed 429/529: the limit on calls in flight is multiplied by
# DECREASE, and the spacing of paced calls (already at the server's own rate) by SLOWDOWN, up to
# MAX_SLOWDOWN; each success takes SPACING_RECOVERY off that extra spacing again.
DECREASE = 0.5
SLOWDOWN = 1.25
MAX_SLOWDOWN = 4.0
SPACING_RECOVERY = 0.05
# Paced calls are spaced this much wider than the server's refill rate: a window that refills in
# clumps (a sliding window after a burst) is not overrun by calls sent at exactly its average rate.
PACING_MARGIN = 1.05
# A 429 within this many seconds of an answer saying over half of every budget remains is a blip.
FRESH_HEADERS = 2.0


class Slots:
    """Call slots that go to the oldest unit of work first (smallest ``order``), not to whichever
    call asked first, with a capacity that can change while calls hold slots.

    A case returning from a retry backoff would otherwise queue behind every fresh case's call,
    and the run's last cases would wait out the whole queue again for each retry: the run's
    tail. Finishing what was started first keeps the tail short and the cases in flight few.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = max(1, int(capacity))
        self._in_use = 0
        self._waiting: list[tuple[int, int, asyncio.Future]] = []
        self._tickets = itertools.count()

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def in_use(self) -> int:
        return self._in_use

    def resize(self, capacity: int) -> None:
        """A new capacity (at least 1); calls holding slots keep them, waiting calls get the room."""
        self._capacity = max(1, int(capacity))
        self._wake()

    async def acquire(self, order: int = 0) -> None:
        if self._in_use < self._capacity and not self._waiting:
            self._in_use += 1
            return
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (order, next(self._tickets), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # the slot was handed over just as we were cancelled: pass it on
            raise

    def release(self) -> None:
        self._in_use -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiting and self._in_use < self._capacity:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                self._in_use += 1  # the slot passes straight to the oldest waiting call
                future.set_result(None)


class AdaptiveConcurrency:
    """How many calls to one model may be in flight, and when the next may start.

    ``ceiling`` (``--concurrency``) is the most; a believed 429 or 529 multiplies the limit by
    DECREASE (once per round trip: answers to calls started before the last decrease do not lower
    it again) and pauses new calls for the answer's Retry-After; every success raises it by
    1/limit, so by one per limit's worth of successes, back up to the ceiling (additive increase,
    multiplicative decrease, as TCP does).

    The rate-limit headers pace the calls. Each answer says how many requests remain; the calls
    in flight beside it may not have been counted yet, so they are taken off, and every call
    started takes one more. While that budget lasts, calls start at once; once it is spent, they
    start ``reset / (limit - remaining)`` apart (times PACING_MARGIN): the rate at which a budget
    that is full again after ``reset`` seconds refills, which is as fast as a binding limit lets a
    run go anyway. A token budget too small for one more call paces the same way, per call's tokens.

    A 429 while the server's latest completion (from the last FRESH_HEADERS seconds) said over half
    of its requests and tokens remain is a blip, not the limit: that call waits out its own Retry-After
    and the others go on. Without headers every 429 is believed.

    Use: ``turn = await flow.acquire(order)``, the call, then ``flow.release(turn, ...)``.
    """

    def __init__(self, ceiling: int, *, max_pause: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        if ceiling < 1:
            raise ValueError("the ceiling must be at least 1")
        self.ceiling = ceiling
        self.limit = float(ceiling)
        self.max_pause = max_pause
        self.slots = Slots(ceiling)
        self._clock = clock
        self._sleep = sleep
        self._epoch = 0  # bumped by every decrease
        self.paused_until = 0.0  # no call starts before this (a believed Retry-After)
        self.budget: float | None = None  # requests the server will still take now, as far as known
        self.spacing = 0.0  # the server's refill time per call, from its headers; 0: not known
        self.tokens_short = False  # the latest answer's token budget would not cover one more call
        self.slowdown = 1.0  # spacing multiplier: up on a believed 429, back down to 1 as calls succeed
        self._next_start = 0.0
        self._pauses = 0  # pauses begun so far
        self._plenty_at: float | None = None  # when the latest headers said over half of every budget remains
        self.throttled = 0  # 429/529 answers
        self.decreases = 0

    @property
    def in_flight(self) -> int:
        return self.slots.in_use

    @property
    def interval(self) -> float:
        """Seconds between the starts of paced calls."""
        return self.spacing * PACING_MARGIN * self.slowdown

    @property
    def pacing(self) -> bool:
        """Whether calls wait for their start time now (the server's budget is spent)."""
        return self.spacing > 0 and (self.tokens_short or (self.budget is not None and self.budget < 1))

    async def acquire(self, order: int = 0) -> int:
        """Waits for a slot under the limit and for this call's start time; returns the turn to release."""
        await self.slots.acquire(order)
        try:
            pauses = -1
            while True:
                if pauses != self._pauses:  # first time, or a pause began while waiting: take a start time
                    pauses = self._pauses
                    start = max(self._clock(), self.paused_until)
                    if self.pacing:
                        start = max(start, self._next_start)
                        self._next_start = start + self.interval
                wait = start - self._clock()
                if wait <= 0:
                    break
                await self._sleep(wait)
                if pauses == self._pauses:
                    break
            if self.budget is not None:
                self.budget -= 1
        except BaseException:
            self.slots.release()
            raise
        return self._epoch

    def release(self, turn: int, *, ok: bool = False, throttled: bool = False, retry_after: float | None = None,
                rate_limits=None, tokens: "int | TokenCount" = 0) -> None:
        """After the call: ``ok`` for an answer, ``throttled`` for a 429/529 (with its Retry-After),
        and the answer's rate-limit headers (a :class:`~charter.providers.base.RateLimits` or None)
        with the call's tokens (a number, or a :class:`TokenCount` worked out only if needed)."""
        try:
            now = self._clock()
            plenty_before = self._plenty_at is not None and now - self._plenty_at <= FRESH_HEADERS
            if rate_limits is not None:
                self._read(rate_limits, now, tokens, answered=ok)
            if throttled:
                self.throttled += 1
                if not plenty_before:
                    self._decrease(turn, retry_after, now)
            elif ok:
                self.limit = min(float(self.ceiling), self.limit + 1.0 / self.limit)
                self.slots.resize(int(self.limit))
                self.slowdown = max(1.0, self.slowdown - SPACING_RECOVERY)
        finally:
            self.slots.release()

    def _decrease(self, turn: int, retry_after: float | None, now: float) -> None:
        if retry_after and now + min(retry_after, self.max_pause) > self.paused_until:
            self.paused_until = now + min(retry_after, self.max_pause)
            self._next_start = self.paused_until  # start times taken before the pause are void
            self._pauses += 1  # calls waiting for their start time take a new one after the pause
        if self.budget is not None:
            self.budget = min(self.budget, 0.0)
        if turn != self._epoch:
            return  # started before the last decrease: its 429 was already answered
        self._epoch += 1
        self.decreases += 1
        self.limit = max(1.0, self.limit * DECREASE)
        self.slots.resize(int(self.limit))
        if self.spacing > 0:
            self.slowdown = min(MAX_SLOWDOWN, self.slowdown * SLOWDOWN)

    def _read(self, limits, now: float, tokens: "int | TokenCount", answered: bool) -> None:
        """Takes the budget and its refill rate from an answer's rate-limit headers (``answered``:
        a completion, not an error, whose headers alone say whether plenty remains)."""
        others = max(0, self.in_flight - 1)  # in flight beside this call, perhaps not yet counted
        budgets = []
        for limit, remaining, reset, cost in (
                (limits.requests_limit, limits.requests_remaining, limits.requests_reset, 1),
                (limits.tokens_limit, limits.tokens_remaining, limits.tokens_reset,
                 max(1, tokens) if isinstance(tokens, int) else tokens)):
            if limit is None or remaining is None or limit <= 0:
                continue
            budgets.append(remaining > limit / 2)
            if isinstance(cost, TokenCount):
                # The call's tokens, counted only when the answer depends on them: ``short`` grows
                # with the cost, so a budget that covers the upper bound covers the cost too.
                at_most = max(1, cost.at_most())
                cost = max(1, cost.exact()) if remaining - others * at_most < at_most or (
                    reset is not None and self.spacing == 0) else at_most
                short = remaining - others * cost < cost
                self.tokens_short = short
            else:
                short = remaining - others * cost < cost
                if cost == 1:
                    self.budget = float(remaining - others)
                else:
                    self.tokens_short = short
            if reset is not None and (short or self.spacing == 0):
                # Exact for a token bucket; a sliding window that has just emptied reports little used
                # and a full window's reset, so there the limit's average rate stands in.
                used = limit - remaining if remaining <= limit / 2 else limit
                self.spacing = reset * cost / max(1, used)
        if budgets and answered:
            self._plenty_at = now if all(budgets) else None


class TokenCount:
    """A call's estimated tokens, worked out only when asked (cutting a request's messages into
    pieces is most of a call's own CPU), with a cheap upper bound that often answers instead."""

    def __init__(self, exact: Callable[[], int], at_most: Callable[[], int]) -> None:
        self.exact = exact
        self.at_most = at_most
