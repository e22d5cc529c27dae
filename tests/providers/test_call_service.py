"""The one call service: cache first, one retry policy, counted usage, one error mapping, a deadline."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from charter.interop.prose import import_prose
from charter.lint.deep import deep_lint
from charter.providers import Request, RetryPolicy
from charter.providers.cache import ResponseCache
from charter.providers.calls import (
    DEFAULT_RETRY,
    CallFailed,
    CallOptions,
    CallService,
    RunAborted,
    empty_tally,
)
from charter.run.runner import RunOptions
from charter.synth.calls import CallerOptions
from fakeserver import FakeServer, ModelScript

HELLO = Request(messages=({"role": "user", "content": "Hello"},), max_tokens=16)
FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002)


def run(coroutine):
    return asyncio.run(coroutine)


def test_every_caller_and_the_demo_models_share_the_one_default_retry_policy():
    assert CallOptions().retry is DEFAULT_RETRY
    assert RunOptions(models=("demo:tutor",), judge="demo:judge").call_options.retry is DEFAULT_RETRY
    assert CallerOptions(("demo:teacher",), "demo:judge").call_options.retry is DEFAULT_RETRY
    assert inspect.signature(deep_lint).parameters["policy"].default is None  # None: the service's default

    async def demo_call() -> CallService:
        async with CallService() as calls:
            await calls.open(["demo:tutor"])
            await calls.call("demo:tutor", HELLO)
            return calls

    calls = run(demo_call())
    assert calls.options.retry is DEFAULT_RETRY and calls.counts.calls == 1


def test_a_repeated_request_is_answered_from_the_cache_and_counted(env, tmp_path):
    cache = ResponseCache(tmp_path / "responses.sqlite3")
    first, second = empty_tally(), empty_tally()

    async def twice(server) -> CallService:
        async with CallService(CallOptions(base_url=server.openai_base_url), cache=cache) as calls:
            await calls.open(["openai-compatible:m"])
            await calls.call("openai-compatible:m", HELLO, tally=first)
            await calls.call("openai-compatible:m", HELLO, tally=second)
            return calls

    with FakeServer() as server:
        calls = run(twice(server))
        assert server.calls("m") == 1
    assert first["calls"] == 1 and first["cached_calls"] == 0 and first["input_tokens"] > 0
    assert second["calls"] == 0 and second["cached_calls"] == 1 and second["input_tokens"] == 0
    assert (calls.counts.calls, calls.counts.cached, calls.counts.retries, calls.counts.failed) == (1, 1, 0, 0)
    cache.close()


def test_retries_are_counted_and_a_call_that_keeps_failing_keeps_its_cause(env):
    tally = empty_tally()

    async def attempt(server) -> CallFailed:
        async with CallService(CallOptions(base_url=server.openai_base_url, retry=FAST)) as calls:
            await calls.open(["openai-compatible:m"])
            with pytest.raises(CallFailed) as failed:
                await calls.call("openai-compatible:m", HELLO, tally=tally)
            assert calls.counts.failed == 1 and calls.counts.retries == 2
            return failed.value

    with FakeServer({"m": ModelScript(sequence=["server_error"] * 3)}) as server:
        failure = run(attempt(server))
        assert server.calls("m") == 3
    assert "(after 3 attempts)" in str(failure) and failure.cause.attempts == 3
    assert "server error (HTTP 500" in failure.cause.message
    assert tally["calls"] == 3 and tally["retries"] == 2 and tally["input_tokens"] == 0


def test_what_no_retry_can_fix_aborts_with_its_cause(env, monkeypatch):
    async def rejected(server):
        async with CallService(CallOptions(base_url=server.openai_base_url, retry=FAST)) as calls:
            await calls.open(["openai-compatible:m"])
            await calls.call("openai-compatible:m", HELLO)

    with FakeServer({"m": ModelScript(sequence=["auth"])}) as server:
        with pytest.raises(RunAborted) as aborted:
            run(rejected(server))
        assert server.calls("m") == 1
    assert "HTTP 401" in str(aborted.value) and aborted.value.cause.status == 401

    monkeypatch.delenv("OPENAI_API_KEY")

    async def opened() -> CallService:
        calls = CallService()
        await calls.open(["demo:tutor", "openai:gpt-4.1-mini"])
        return calls

    with pytest.raises(RunAborted, match="no API key: set OPENAI_API_KEY"):
        run(opened())


def test_a_deadline_bounds_the_whole_request(env):
    # The server takes far longer than the deadline to answer; the read timeout alone would wait.
    options = CallOptions(retry=RetryPolicy(max_attempts=2, base_delay=0.001), deadline=0.2, timeout=60)

    async def slow(server) -> CallFailed:
        async with CallService(CallOptions(**{**options.__dict__, "base_url": server.openai_base_url})) as calls:
            await calls.open(["openai-compatible:slow"])
            with pytest.raises(CallFailed) as failed:
                await calls.call("openai-compatible:slow", HELLO)
            return failed.value

    with FakeServer({"slow": ModelScript(latency=30)}) as server:
        failure = run(slow(server))
    assert "no complete answer within the 0.2s deadline" in str(failure) and failure.cause.attempts == 2
    with pytest.raises(ValueError):
        CallOptions(deadline=0)


def test_building_the_sdk_client_does_not_count_against_the_first_calls_deadline(env):
    # The client is built on first use (importing the SDK takes seconds on a loaded machine); the
    # service builds it before the deadline starts, so a slow build cannot time the call out.
    import time

    options = CallOptions(retry=RetryPolicy(max_attempts=1), deadline=0.3, timeout=60)

    async def first_call(server):
        async with CallService(CallOptions(**{**options.__dict__, "base_url": server.openai_base_url})) as calls:
            await calls.open(["openai-compatible:m"])
            provider = calls.provider("openai-compatible:m")
            build = provider._client_factory
            assert provider._sdk_client is None  # not built yet

            def slow_build():
                time.sleep(0.5)  # longer than the deadline
                return build()

            provider._client_factory = slow_build
            return await calls.call("openai-compatible:m", HELLO)

    with FakeServer() as server:
        assert run(first_call(server)).text


def test_a_second_identical_prose_import_makes_no_calls(env, tmp_path):
    cache = ResponseCache(tmp_path / "responses.sqlite3")
    document = "# Doc\n\nBe kind to people.\n"
    draft = ('{"values": [{"id": "kindness", "description": "I am kind.", "lines": [3, 3], '
             '"quote": "Be kind", "confidence": 0.8}], "rules": []}')
    with FakeServer({"drafter": ModelScript(reply=draft)}) as server:
        first = import_prose(document, "doc.md", "openai:drafter", base_url=server.openai_base_url, cache=cache)
        assert server.calls("drafter") == 1
        again = import_prose(document, "doc.md", "openai:drafter", base_url=server.openai_base_url, cache=cache)
        assert server.calls("drafter") == 1
    assert again.spec == first.spec and first.spec["values"][0]["id"] == "kindness"
    cache.close()
