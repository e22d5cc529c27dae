"""The fake model server itself: wire formats through the real SDKs, scripting, concurrency, process mode."""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import threading

import anthropic
import fakeserver
import openai
import pytest
from fakeserver import FakeServer, ModelScript
from provider_helpers import run



def openai_client(server, timeout=5.0):
    return openai.AsyncOpenAI(api_key="k", base_url=server.openai_base_url, max_retries=0, timeout=timeout)


def anthropic_client(server, timeout=5.0):
    return anthropic.AsyncAnthropic(api_key="k", base_url=server.anthropic_base_url, max_retries=0, timeout=timeout)


def test_streaming_in_both_formats_yields_the_same_text():
    with FakeServer(default=ModelScript(reply="one two three")) as server:
        async def go():
            client = openai_client(server)
            stream = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "x"}], stream=True,
                stream_options={"include_usage": True})
            chunks = [chunk async for chunk in stream]
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            usage = chunks[-1].usage
            async with anthropic_client(server).messages.stream(
                    model="m", max_tokens=50, messages=[{"role": "user", "content": "x"}]) as events:
                message = await events.get_final_message()
            return text, usage, message

        text, usage, message = run(go())
    assert text == "one two three" and usage.completion_tokens == 3  # a token a word, as real tokenizers count
    assert message.content[0].text == "one two three" and message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 3


def test_models_are_listed_in_each_format():
    with FakeServer({"b-model": ModelScript(), "a-model": ModelScript()}) as server:
        async def go():
            listed = await openai_client(server).models.list()
            listed_anthropic = await anthropic_client(server).models.list()
            return [m.id for m in listed.data], [m.id for m in listed_anthropic.data]

        assert run(go()) == (["a-model", "b-model"], ["a-model", "b-model"])


def test_error_bodies_have_each_apis_shape():
    with FakeServer({"m": ModelScript(sequence=["rate_limit", "rate_limit"], retry_after=2)}) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port)
        connection.request("POST", "/v1/chat/completions", json.dumps({"model": "m", "messages": [
            {"role": "user", "content": "x"}]}), {"content-type": "application/json"})
        reply = connection.getresponse()
        openai_body = json.loads(reply.read())
        assert reply.status == 429 and reply.getheader("retry-after") == "2"
        connection.request("POST", "/v1/messages", json.dumps({"model": "m", "max_tokens": 5, "messages": [
            {"role": "user", "content": "x"}]}), {"content-type": "application/json", "anthropic-version": "2023-06-01"})
        reply = connection.getresponse()
        anthropic_body = json.loads(reply.read())
        connection.close()
    assert openai_body["error"]["code"] == "rate_limit_exceeded" and set(openai_body["error"]) == {
        "message", "type", "param", "code"}
    assert anthropic_body["type"] == "error" and anthropic_body["error"]["type"] == "rate_limit_error"


def test_anthropic_rejects_a_system_role_message_like_the_real_api():
    with FakeServer() as server:
        with pytest.raises(anthropic.BadRequestError, match="messages.0.role"):
            run(anthropic_client(server).messages.create(model="m", max_tokens=5,
                                                         messages=[{"role": "system", "content": "x"}]))


def test_fault_fractions_are_seeded_and_reproducible():
    script = ModelScript(faults={"server_error": 0.2, "rate_limit": 0.1}, seed=42)
    draws = [script.fault_for("m", n) for n in range(1, 2001)]
    assert draws == [script.fault_for("m", n) for n in range(1, 2001)]
    assert 0.17 < draws.count("server_error") / 2000 < 0.23
    assert 0.07 < draws.count("rate_limit") / 2000 < 0.13
    other_seed = ModelScript(faults={"server_error": 0.2, "rate_limit": 0.1}, seed=43)
    assert draws != [other_seed.fault_for("m", n) for n in range(1, 2001)]


def test_scripts_validate_their_faults():
    with pytest.raises(ValueError, match="unknown fault 'explode'"):
        ModelScript(sequence=["explode"])
    with pytest.raises(ValueError, match="more than 1"):
        ModelScript(faults={"drop": 0.6, "auth": 0.6})


def test_replies_cycle_through_a_canned_list_and_calls_are_counted_per_model():
    with FakeServer({"m": ModelScript(reply=["first", "second"])}) as server:
        async def go():
            client = openai_client(server)
            texts = []
            for _ in range(3):
                completion = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
                texts.append(completion.choices[0].message.content)
            await client.chat.completions.create(model="other", messages=[{"role": "user", "content": "x"}])
            return texts

        assert run(go()) == ["first", "second", "first"]
        assert (server.calls("m"), server.calls("other"), server.calls()) == (3, 1, 4)
        assert [r.call for r in server.requests] == [1, 2, 3, 1]
        server.reset()
        assert server.calls() == 0 and server.requests == []


def test_sixty_four_concurrent_calls_at_200ms_overlap_on_kept_alive_connections():
    with FakeServer(default=ModelScript(latency=0.2)) as server:
        async def go():
            client = openai_client(server)

            async def one():
                return await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])

            await asyncio.gather(*(one() for _ in range(64)))
            await asyncio.gather(*(one() for _ in range(64)))

        run(go())
        # Answers overlap (a serial server never has two in flight), and the second wave reuses the
        # first wave's kept-alive connections (128 calls, at most 64 connections). How fast this is
        # belongs to benchmarks/bench_providers.py, not to a test on a shared machine.
        assert server.calls() == 128
        assert 1 < server.peak_in_flight <= 64
        assert server.connections_opened <= 64


def test_the_server_runs_as_a_process():
    process = subprocess.Popen(fakeserver.command("--port", "0", "--reply", "pong"), stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("fake model server listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1].strip()

        async def go():
            client = openai.AsyncOpenAI(api_key="k", base_url=url + "/v1", max_retries=0, timeout=5)
            completion = await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
            return completion.choices[0].message.content

        assert run(go()) == "pong"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_server_runs_on_the_callers_event_loop():
    async def go():
        async with FakeServer(default=ModelScript(reply="here")) as server:
            completion = await openai_client(server).chat.completions.create(
                model="m", messages=[{"role": "user", "content": "x"}])
            return completion.choices[0].message.content

    assert run(go()) == "here"


def test_stopping_ends_a_hanging_timeout_fault_promptly():
    server = FakeServer(default=ModelScript(sequence=["timeout"], hang=600)).start()

    async def go():
        with pytest.raises(openai.APITimeoutError):
            await openai_client(server, timeout=0.3).chat.completions.create(
                model="m", messages=[{"role": "user", "content": "x"}])

    run(go())
    # stop() must cancel the hanging answer, not wait out its 600 s. The join is a guard against
    # a hang, not a stopwatch: a stop that waits for the fault would block for ten minutes.
    stopping = threading.Thread(target=server.stop, daemon=True)
    stopping.start()
    stopping.join(timeout=120)
    assert not stopping.is_alive() and server.in_flight == 0
