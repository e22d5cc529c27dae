"""Adaptive concurrency: AIMD on calls in flight from 429/529s, pacing from the rate-limit headers,
and a run against the fake server's hidden limit that finishes with few 429s (counts, not time)."""

from __future__ import annotations

import asyncio

import pytest

from charter.providers import Request
from charter.providers.base import RateLimits, parse_rate_limits
from charter.providers.calls import CallOptions, CallService
from charter.providers.ratelimit import DECREASE, AdaptiveConcurrency, Slots
from charter.providers.retry import RetryPolicy
from fakeserver import FakeServer, ModelScript


class Clock:
    """A fake monotonic clock; ``sleep`` advances it."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def flow(ceiling: int = 8, clock: Clock | None = None) -> tuple[AdaptiveConcurrency, Clock]:
    clock = clock or Clock()
    return AdaptiveConcurrency(ceiling, clock=clock, sleep=clock.sleep), clock


def test_a_429_halves_the_limit_once_per_round_trip_and_successes_raise_it_back_to_the_ceiling():
    async def scenario():
        control, _ = flow(8)
        turns = [await control.acquire() for _ in range(8)]
        assert control.in_flight == 8
        # Eight calls in flight all get a 429: only the first lowers the limit, the others started before it.
        for turn in turns:
            control.release(turn, throttled=True)
        assert control.limit == 8 * DECREASE and control.decreases == 1 and control.throttled == 8
        assert control.slots.capacity == 4
        # A call started after the decrease that is throttled again lowers it again.
        control.release(await control.acquire(), throttled=True)
        assert control.limit == 2 and control.decreases == 2
        # Additive increase: about one more slot per limit's worth of successes, never past the ceiling.
        for _ in range(200):
            control.release(await control.acquire(), ok=True)
        assert control.limit == 8.0 and control.slots.capacity == 8

    asyncio.run(scenario())


def test_the_limit_never_goes_below_one_call():
    async def scenario():
        control, _ = flow(2)
        for _ in range(10):
            control.release(await control.acquire(), throttled=True)
        assert control.limit == 1.0 and control.slots.capacity == 1

    asyncio.run(scenario())


def test_a_lowered_limit_holds_back_new_calls_until_calls_in_flight_finish():
    async def scenario():
        control, _ = flow(4)
        turns = [await control.acquire() for _ in range(4)]
        control.release(turns.pop(), throttled=True)  # limit 2, three still in flight
        waiter = asyncio.create_task(control.acquire())
        await asyncio.sleep(0)
        assert not waiter.done()
        control.release(turns.pop(), ok=True)  # two in flight: still at the limit
        await asyncio.sleep(0)
        assert not waiter.done()
        control.release(turns.pop(), ok=True)
        await asyncio.sleep(0)
        assert waiter.done()

    asyncio.run(scenario())


def test_a_believed_429_pauses_new_calls_for_its_retry_after():
    async def scenario():
        control, clock = flow(4)
        control.release(await control.acquire(), throttled=True, retry_after=3.0)
        started = clock.now
        await control.acquire()
        return clock.now - started

    assert asyncio.run(scenario()) == pytest.approx(3.0)


def test_a_429_while_the_headers_say_plenty_remains_is_a_blip_that_changes_nothing():
    plenty = RateLimits(requests_limit=10_000, requests_remaining=9_000, requests_reset=6.0)

    async def scenario():
        control, clock = flow(4)
        control.release(await control.acquire(), ok=True, rate_limits=plenty)
        control.release(await control.acquire(), throttled=True, retry_after=5.0)
        started = clock.now
        await control.acquire()
        return control, clock.now - started

    control, waited = asyncio.run(scenario())
    assert control.throttled == 1 and control.decreases == 0 and waited == 0


def test_headers_saying_the_budget_is_spent_pace_the_calls_at_the_refill_rate():
    # 300 requests a minute, none left, back to full in 6 s: the bucket refills one request per 20 ms.
    spent = RateLimits(requests_limit=300, requests_remaining=0, requests_reset=6.0)

    async def scenario():
        control, clock = flow(8)
        control.release(await control.acquire(), ok=True, rate_limits=spent)
        starts = []
        for _ in range(5):
            turn = await control.acquire()
            starts.append(clock.now)
            control.release(turn, ok=True)
        return control, starts

    control, starts = asyncio.run(scenario())
    assert control.interval == pytest.approx(0.02)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert gaps == pytest.approx([0.02] * 4)


def test_a_spent_token_budget_paces_by_the_tokens_of_a_call():
    spent = RateLimits(tokens_limit=100_000, tokens_remaining=500, tokens_reset=60.0)

    async def scenario():
        control, _ = flow(8)
        control.release(await control.acquire(), ok=True, rate_limits=spent, tokens=1_000)
        return control.interval

    # 99,500 tokens come back in 60 s; a call of 1,000 tokens every 0.603 s.
    assert asyncio.run(scenario()) == pytest.approx(60 * 1_000 / 99_500)


def test_plenty_remaining_stops_the_pacing():
    async def scenario():
        control, _ = flow(8)
        control.release(await control.acquire(), ok=True,
                        rate_limits=RateLimits(requests_limit=300, requests_remaining=0, requests_reset=6.0))
        control.release(await control.acquire(), ok=True,
                        rate_limits=RateLimits(requests_limit=300, requests_remaining=250, requests_reset=1.0))
        return control.interval

    assert asyncio.run(scenario()) == 0


def test_both_apis_headers_are_read_for_pacing():
    openai = parse_rate_limits({"x-ratelimit-limit-requests": "300", "x-ratelimit-remaining-requests": "0",
                                "x-ratelimit-reset-requests": "1m30s"})
    assert (openai.requests_limit, openai.requests_remaining, openai.requests_reset) == (300, 0, 90.0)
    anthropic = parse_rate_limits({"anthropic-ratelimit-requests-limit": "50",
                                   "anthropic-ratelimit-requests-remaining": "3",
                                   "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:30Z"},
                                  now=1767225600.0)  # 2026-01-01T00:00:00Z
    assert (anthropic.requests_limit, anthropic.requests_remaining, anthropic.requests_reset) == (50, 3, 30.0)


def test_slots_grow_and_shrink_while_held():
    async def scenario():
        slots = Slots(1)
        await slots.acquire()
        waiters = [asyncio.create_task(slots.acquire(order)) for order in (2, 1)]
        await asyncio.sleep(0)
        slots.resize(3)  # room for both at once
        await asyncio.sleep(0)
        assert all(w.done() for w in waiters) and slots.in_use == 3
        slots.resize(1)
        slots.release()
        late = asyncio.create_task(slots.acquire())
        await asyncio.sleep(0)
        assert not late.done()  # two still held, capacity one
        slots.release()
        slots.release()
        await asyncio.sleep(0)
        assert late.done()

    asyncio.run(scenario())


# -- against the fake server's hidden limit -------------------------------------------------------

PATIENT = RetryPolicy(max_attempts=20, base_delay=0.05, max_delay=1.0, max_retry_after=10.0)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_run_against_a_hidden_limit_finishes_every_call_with_few_429s(keys, monkeypatch, provider):
    # 40 requests per 0.5 s per model, hidden; 200 calls at up to 32 in flight would send far faster.
    calls_made = 200
    with FakeServer(default=ModelScript(reply="ok", latency=0.01), hidden_limit=(40, 0.5)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_base_url)
        model = f"{provider}:limited"

        async def many() -> CallService:
            async with CallService(CallOptions(concurrency=32, retry=PATIENT)) as calls:
                await calls.open([model])
                requests = [Request(messages=({"role": "user", "content": f"question {i}"},), max_tokens=8)
                            for i in range(calls_made)]
                await asyncio.gather(*(calls.call(model, r) for r in requests))
                return calls

        calls = asyncio.run(many())
        limited = sum(1 for entry in server.requests if entry.status == 429)
    assert server.calls("limited") == calls_made  # every call answered
    assert limited == server.limited == calls.throttled
    assert limited <= 0.1 * calls_made, f"{limited} of {calls_made + limited} requests rate-limited"


def test_without_adaptive_concurrency_the_same_run_meets_many_more_429s(keys, monkeypatch):
    # The contrast that shows the controller at work: fixed concurrency keeps hitting the limit.
    with FakeServer(default=ModelScript(reply="ok", latency=0.01), hidden_limit=(40, 0.5)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)

        async def many() -> None:
            options = CallOptions(concurrency=32, retry=PATIENT, adaptive=False)
            async with CallService(options) as calls:
                await calls.open(["openai:limited"])
                await asyncio.gather(*(calls.call("openai:limited", Request(
                    messages=({"role": "user", "content": f"question {i}"},), max_tokens=8)) for i in range(200)))

        asyncio.run(many())
    assert server.limited > 20
