"""The retry helper and the rate limiter, on a fake clock, and the retry helper against the fake server."""

from __future__ import annotations

import asyncio

import pytest
from fakeserver import FakeServer, ModelScript
from provider_helpers import run

from charter.providers import (
    BadRequest,
    RateLimited,
    RateLimiter,
    Request,
    RetryPolicy,
    ServerError,
    get_provider,
    with_retries,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def failing(errors, value="done"):
    """A call that raises each error in turn, then returns value; counts its calls."""
    pending = list(errors)
    calls = []

    async def call():
        calls.append(1)
        if pending:
            raise pending.pop(0)
        return value

    return call, calls


def test_backoff_is_exponential_with_full_jitter_and_reports_retries():
    clock = FakeClock()
    call, calls = failing([ServerError("boom")] * 4)
    policy = RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=5.0)
    result = run(with_retries(call, policy, sleep=clock.sleep, draw=lambda: 0.5))
    assert (result.value, result.retries, len(calls)) == ("done", 4, 5)
    # draw 0.5 of min(5, 1 * 2**(n-1)): 0.5, 1, 2, then the cap 5 -> 2.5
    assert clock.sleeps == [0.5, 1.0, 2.0, 2.5]
    assert result.waited == pytest.approx(6.0)


def test_full_jitter_spans_zero_to_the_ceiling():
    policy = RetryPolicy(base_delay=2.0, max_delay=100.0)
    error = ServerError("x")
    assert policy.delay(3, error, 0.0) == 0.0
    assert policy.delay(3, error, 0.999) == pytest.approx(8 * 0.999)


def test_retry_after_is_a_floor_and_is_capped():
    policy = RetryPolicy(base_delay=1.0, max_delay=4.0, max_retry_after=30.0)
    assert policy.delay(1, RateLimited("x", retry_after=7.0), 0.1) == 7.0
    assert policy.delay(3, RateLimited("x", retry_after=0.2), 0.9) == pytest.approx(3.6)
    assert policy.delay(1, RateLimited("x", retry_after=3600.0), 0.5) == 30.0


def test_giving_up_raises_the_last_error_with_the_attempt_count():
    clock = FakeClock()
    call, calls = failing([ServerError("one"), RateLimited("two", retry_after=1), ServerError("three")])
    with pytest.raises(ServerError, match="three") as caught:
        run(with_retries(call, RetryPolicy(max_attempts=3), sleep=clock.sleep, draw=lambda: 0.0))
    assert caught.value.attempts == 3 and len(calls) == 3 and clock.sleeps == [0.0, 1.0]


def test_fatal_errors_are_not_retried():
    clock = FakeClock()
    call, calls = failing([BadRequest("no")])
    with pytest.raises(BadRequest):
        run(with_retries(call, sleep=clock.sleep))
    assert len(calls) == 1 and clock.sleeps == []


def test_on_retry_is_told_each_retry():
    clock = FakeClock()
    seen = []
    call, _ = failing([ServerError("a"), ServerError("b")])
    run(with_retries(call, sleep=clock.sleep, draw=lambda: 1.0,
                     on_retry=lambda error, number, delay: seen.append((str(error), number, delay))))
    assert seen == [("a", 1, 1.0), ("b", 2, 2.0)]


@pytest.mark.parametrize("model", ["openai:flaky", "anthropic:flaky"])
def test_retries_ride_out_real_faults_from_the_server(keys, model):
    script = ModelScript(sequence=["rate_limit", "server_error", "overloaded", "drop", "malformed", "ok"],
                         retry_after=0.01)
    slept = []

    async def no_wait(seconds):
        slept.append(seconds)

    async def go(server):
        base = server.anthropic_base_url if model.startswith("anthropic") else server.openai_base_url
        async with get_provider(model, base_url=base, timeout=5) as provider:
            request = Request(messages=[{"role": "user", "content": "hi"}])
            return await with_retries(lambda: provider.complete(request), sleep=no_wait, draw=lambda: 0.0)

    with FakeServer({"flaky": script}) as server:
        result = run(go(server))
        assert result.retries == 5 and result.value.text.startswith("Fake reply")
        assert server.calls("flaky") == 6
    assert slept == [0.01, 0.0, 0.0, 0.0, 0.0]


def test_rate_limiter_spaces_requests_per_minute():
    clock = FakeClock()
    limiter = RateLimiter(requests_per_minute=120, clock=clock, sleep=clock.sleep)

    async def go():
        return [await limiter.acquire() for _ in range(5)]

    waits = run(go())
    # 2 per second, bucket of 2: two at once, then one every half second.
    assert waits == [0.0, 0.0, 0.5, 0.5, 0.5]
    assert clock.now == pytest.approx(1.5)


def test_rate_limiter_holds_tokens_per_minute_including_oversized_requests():
    clock = FakeClock()
    limiter = RateLimiter(tokens_per_minute=6000, clock=clock, sleep=clock.sleep)  # 100 tokens a second

    async def go():
        await limiter.acquire(100)
        await limiter.acquire(300)  # larger than the bucket: waits for a full bucket, then overdraws it
        await limiter.acquire(50)

    run(go())
    assert clock.sleeps == [pytest.approx(1.0), pytest.approx(2.5)]
    # 450 tokens in 3.5 s of waiting after an initial 100-token bucket: the average holds.
    assert clock.now == pytest.approx(3.5)


def test_rate_limiter_corrections_charge_and_refund():
    clock = FakeClock()
    limiter = RateLimiter(tokens_per_minute=6000, clock=clock, sleep=clock.sleep)

    async def go():
        await limiter.acquire(100)
        limiter.correct(-100)  # the call used nothing after all
        return await limiter.acquire(100)

    assert run(go()) == 0.0
    limiter.correct(200)
    assert run(limiter.acquire(100)) == pytest.approx(3.0)


def test_rate_limiter_serves_concurrent_waiters_in_order():
    clock = FakeClock()
    limiter = RateLimiter(requests_per_minute=60, clock=clock, sleep=clock.sleep)
    order = []

    async def worker(name):
        await limiter.acquire()
        order.append((name, clock.now))

    async def go():
        await asyncio.gather(*(worker(i) for i in range(4)))

    run(go())
    assert order == [(0, 0.0), (1, 1.0), (2, 2.0), (3, 3.0)]


def test_an_unlimited_limiter_never_waits():
    limiter = RateLimiter()
    assert limiter.unlimited and run(limiter.acquire(10**9)) == 0.0
    with pytest.raises(ValueError):
        RateLimiter(requests_per_minute=-1)
