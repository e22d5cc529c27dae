"""The runner's per-call token estimate is worked out only when it matters: the upper bound it
leans on holds, and the adaptive flow ends in the same state with the lazy count as with the number."""

from __future__ import annotations

import asyncio
import random
import string

from charter.providers import Request
from charter.providers.base import RateLimits
from charter.providers.ratelimit import AdaptiveConcurrency, TokenCount
from charter.tokens import estimate_tokens

_ALPHABET = string.ascii_letters + string.digits + string.punctuation + " \n\t" + "éßжחあ漢😀²’—"


def _text(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(size))


def test_the_token_estimate_never_exceeds_two_tokens_a_character():
    rng = random.Random(14)
    texts = [_text(rng, rng.randint(0, 400)) for _ in range(400)]
    texts += ["é" * 50, "a" * 3000, "!" * 10, "1" * 7, " \n" * 20, "I'm here", "x" * 4096]
    for text in texts:
        assert estimate_tokens(text) <= 2 * len(text), text


def test_a_requests_upper_bound_is_at_least_its_estimate():
    rng = random.Random(15)
    for _ in range(200):
        messages = tuple({"role": "user" if n % 2 == 0 else "assistant", "content": _text(rng, rng.randint(0, 300))}
                         for n in range(rng.randint(1, 5)))
        system = rng.choice([None, _text(rng, 200), ({"type": "text", "text": _text(rng, 100)},)])
        request = Request(messages=messages, system=system, max_tokens=rng.randint(1, 4000))
        bound = request.estimated_tokens_at_most()
        assert bound >= request.estimated_tokens()
        assert request.estimated_tokens_at_most() == request.estimated_tokens()  # known now: the bound is exact


def _flows_after(steps: list[tuple[RateLimits, int, int]], lazy: bool) -> tuple[dict, int]:
    """A flow's state after answers with these headers (and calls in flight beside them), given each
    call's tokens as a number or lazily; and how often the lazy count was worked out."""
    counted = 0

    def exact_of(tokens: int):
        def exact() -> int:
            nonlocal counted
            counted += 1
            return tokens
        return exact

    now = [100.0]

    async def sleep(seconds: float) -> None:  # a fake clock: pacing waits cost no time
        now[0] += seconds

    async def scenario() -> dict:
        control = AdaptiveConcurrency(64, clock=lambda: now[0], sleep=sleep)
        for limits, tokens, beside in steps:
            held = [await control.acquire() for _ in range(beside)]
            turn = await control.acquire()
            count = TokenCount(exact_of(tokens), lambda t=tokens: 2 * t + 10) if lazy else tokens
            control.release(turn, ok=True, rate_limits=limits, tokens=count)
            for other in held:
                control.release(other)
        return {key: value for key, value in vars(control).items() if key not in ("slots", "_clock", "_sleep")}

    return asyncio.run(scenario()), counted


def test_the_flow_reads_the_same_budgets_from_a_lazy_token_count_as_from_the_number():
    rng = random.Random(16)
    for _ in range(60):
        steps = []
        for _ in range(rng.randint(1, 8)):
            limit = rng.choice([1_000, 40_000, 2_000_000])
            limits = RateLimits(
                requests_limit=rng.choice([None, 500]), requests_remaining=rng.randint(0, 500),
                requests_reset=rng.choice([None, 0.006, 6.0]),
                tokens_limit=limit, tokens_remaining=rng.randint(0, limit), tokens_reset=rng.choice([None, 1.0]))
            steps.append((limits, rng.randint(5, 20_000), rng.randint(0, 10)))
        assert _flows_after(steps, lazy=True)[0] == _flows_after(steps, lazy=False)[0]


def test_plenty_of_token_budget_is_read_without_counting_the_calls_tokens():
    plenty = RateLimits(requests_limit=10_000, requests_remaining=9_999, requests_reset=0.006,
                        tokens_limit=2_000_000, tokens_remaining=1_999_000, tokens_reset=1.0)
    state, counted = _flows_after([(plenty, 5_000, 10)] * 5, lazy=True)
    assert counted == 0 and state["tokens_short"] is False
    tight = RateLimits(requests_limit=10_000, requests_remaining=9_999, requests_reset=0.006,
                       tokens_limit=40_000, tokens_remaining=20_000, tokens_reset=1.0)
    state, counted = _flows_after([(tight, 5_000, 10)], lazy=True)
    assert counted == 1 and state["tokens_short"] is True
