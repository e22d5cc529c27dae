"""Adaptive concurrency: AIMD on calls in flight from 429/529s, pacing from the rate-limit headers,
and a run against the fake server's hidden limit that finishes with few 429s (counts, not time)."""

from __future__ import annotations

import asyncio

import pytest

from charter.providers import Request
from charter.providers.base import RateLimits, parse_rate_limits
from charter.providers.calls import CallOptions, CallService
from charter.providers.ratelimit import DECREASE, PACING_MARGIN, SLOWDOWN, AdaptiveConcurrency, Slots
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
    # 300 requests, none left, back to full in 6 s: the budget refills one request per 20 ms.
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
    assert control.spacing == pytest.approx(0.02) and control.interval == pytest.approx(0.02 * PACING_MARGIN)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert gaps == pytest.approx([0.02 * PACING_MARGIN] * 4)


def test_a_believed_429_while_paced_widens_the_spacing_and_successes_narrow_it_again():
    spent = RateLimits(requests_limit=300, requests_remaining=0, requests_reset=6.0)

    async def scenario():
        control, _ = flow(8)
        control.release(await control.acquire(), ok=True, rate_limits=spent)
        control.release(await control.acquire(), throttled=True, retry_after=0.5, rate_limits=spent)
        widened = control.slowdown
        for _ in range(100):
            control.release(await control.acquire(), ok=True)
        return widened, control.slowdown

    widened, recovered = asyncio.run(scenario())
    assert widened == SLOWDOWN and recovered == 1.0


def test_a_spent_token_budget_paces_by_the_tokens_of_a_call():
    spent = RateLimits(tokens_limit=100_000, tokens_remaining=500, tokens_reset=60.0)

    async def scenario():
        control, _ = flow(8)
        control.release(await control.acquire(), ok=True, rate_limits=spent, tokens=1_000)
        return control.spacing

    # 99,500 tokens come back in 60 s: a call of 1,000 tokens every 0.603 s.
    assert asyncio.run(scenario()) == pytest.approx(60 * 1_000 / 99_500)


def test_calls_start_at_once_while_the_budget_lasts_and_are_paced_once_it_is_spent():
    async def scenario():
        control, clock = flow(8)
        # 3 requests left, with one other call in flight that the server may not have counted yet.
        other = await control.acquire()
        control.release(await control.acquire(), ok=True,
                        rate_limits=RateLimits(requests_limit=300, requests_remaining=3, requests_reset=5.0))
        assert control.budget == 2 and not control.pacing
        starts = []
        for _ in range(4):
            turn = await control.acquire()
            starts.append(clock.now)
            control.release(turn)
        control.release(other)
        return control, starts

    control, starts = asyncio.run(scenario())
    # Two start at once; then the budget is spent and calls go at 5 s / 297 used, with the margin.
    assert starts[1] == starts[0] and control.pacing
    assert starts[3] - starts[2] == pytest.approx(5.0 / 297 * PACING_MARGIN)


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
    # 10 requests per 0.5 s per model, hidden; 80 calls at up to 8 in flight would go several times faster.
    calls_made = 80
    with FakeServer(default=ModelScript(reply="ok", latency=0.01), hidden_limit=(10, 0.5)) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_base_url)
        model = f"{provider}:limited"

        async def many() -> tuple[int, float]:
            async with CallService(CallOptions(concurrency=8, retry=PATIENT)) as calls:
                await calls.open([model])
                requests = [Request(messages=({"role": "user", "content": f"question {i}"},), max_tokens=8)
                            for i in range(calls_made)]
                await asyncio.gather(*(calls.call(model, r) for r in requests))
                return calls.throttled, calls.flow(model).spacing

        throttled, spacing = asyncio.run(many())
        limited = sum(1 for entry in server.requests if entry.status == 429)
    assert server.calls("limited") == calls_made  # every call answered
    assert limited == server.limited == throttled
    assert limited <= 0.1 * calls_made, f"{limited} of {calls_made + limited} requests rate-limited"
    assert spacing > 0  # the headers set the pace


def test_the_hidden_limit_answers_429_with_both_apis_headers(keys):
    import httpx

    with FakeServer(hidden_limit=(1, 60.0)) as server:
        body = {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
        first = httpx.post(f"{server.openai_base_url}/chat/completions", json=body, headers={"authorization": "Bearer k"})
        second = httpx.post(f"{server.openai_base_url}/chat/completions", json=body,
                            headers={"authorization": "Bearer k"})
        anthropic = httpx.post(f"{server.anthropic_base_url}/v1/messages", json=body,
                               headers={"x-api-key": "k", "anthropic-version": "2023-06-01"})
    assert first.status_code == 200 and first.headers["x-ratelimit-remaining-requests"] == "0"
    assert first.headers["x-ratelimit-limit-requests"] == "1"
    assert second.status_code == 429 and int(second.headers["retry-after"]) >= 59
    assert 59_000 <= int(second.headers["retry-after-ms"]) <= 60_000
    assert parse_rate_limits(second.headers).requests_reset > 59
    # The limit is per model and per window: the Anthropic route shares the model's window.
    assert anthropic.status_code == 429 and anthropic.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert parse_rate_limits(anthropic.headers).requests_reset > 58
    assert server.limited == 2
