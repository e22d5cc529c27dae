"""The fake server's batch endpoints through the real SDKs: OpenAI files + batches, Anthropic message batches."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest
from fakeserver import FakeServer, ModelScript
from provider_helpers import run



def answer(model, messages):
    return f"{model} answers {messages[-1]['content']}"


def openai_line(custom_id, content, model="m"):
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": 50}}


def jsonl(lines):
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


@pytest.fixture
def server_options():
    return {"models": {"m": ModelScript(reply=answer)}, "default": None, "batch_polls": 2}


def openai_client(server):
    return openai.AsyncOpenAI(api_key="k", base_url=server.openai_base_url, max_retries=0, timeout=5)


def anthropic_client(server):
    return anthropic.AsyncAnthropic(api_key="k", base_url=server.anthropic_base_url, max_retries=0, timeout=5)


def test_openai_batch_runs_after_polling_and_answers_like_the_synchronous_endpoint(server):
    async def go():
        client = openai_client(server)
        upload = await client.files.create(file=("in.jsonl", jsonl([openai_line(f"c{i}", f"q{i}") for i in range(20)])),
                                           purpose="batch")
        batch = await client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                            completion_window="24h", metadata={"stage": "chosen"})
        statuses = [batch.status]
        while batch.status not in ("completed", "failed", "expired", "cancelled"):
            batch = await client.batches.retrieve(batch.id)
            statuses.append(batch.status)
        output = (await client.files.content(batch.output_file_id)).text
        synchronous = await client.chat.completions.create(**openai_line("x", "q3")["body"])
        return upload, batch, statuses, output, synchronous

    upload, batch, statuses, output, synchronous = run(go())
    assert upload.purpose == "batch" and upload.bytes > 0
    assert statuses == ["validating", "in_progress", "completed"]
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (20, 20, 0)
    assert batch.error_file_id is None and batch.metadata == {"stage": "chosen"}
    lines = [json.loads(line) for line in output.splitlines()]
    by_id = {line["custom_id"]: line for line in lines}
    assert sorted(by_id) == sorted(f"c{i}" for i in range(20))
    assert [line["custom_id"] for line in lines] != [f"c{i}" for i in range(20)], "results should not keep input order"
    third = by_id["c3"]["response"]
    assert third["status_code"] == 200 and third["body"]["choices"][0]["message"]["content"] == "m answers q3"
    assert synchronous.choices[0].message.content == "m answers q3"


def test_openai_requests_that_fail_go_to_the_error_file(server):
    async def go():
        client = openai_client(server)
        upload = await client.files.create(file=("in.jsonl", jsonl([openai_line("a", "x", model="gone")])),
                                           purpose="batch")
        batch = await client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                            completion_window="24h")
        for _ in range(2):
            batch = await client.batches.retrieve(batch.id)
        return batch, (await client.files.content(batch.error_file_id)).text

    batch, errors = run(go())
    assert batch.status == "completed" and batch.output_file_id is None and batch.request_counts.failed == 1
    (line,) = [json.loads(text) for text in errors.splitlines()]
    assert line["custom_id"] == "a" and line["response"]["status_code"] == 404
    assert line["response"]["body"]["error"]["code"] == "model_not_found"


def test_openai_batch_validation_rejects_mixed_models_and_duplicate_ids(server):
    async def go():
        client = openai_client(server)
        lines = [openai_line("a", "x"), openai_line("a", "y", model="other")]
        upload = await client.files.create(file=("in.jsonl", jsonl(lines)), purpose="batch")
        return await client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                           completion_window="24h")

    batch = run(go())
    assert batch.status == "failed"
    assert {e.code for e in batch.errors.data} == {"mismatched_model", "duplicate_custom_id"}


def test_openai_batch_cancel_and_expiry(server):
    async def go():
        client = openai_client(server)
        upload = await client.files.create(file=("in.jsonl", jsonl([openai_line("a", "x")])), purpose="batch")
        first = await client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                            completion_window="24h")
        second = await client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                             completion_window="24h")
        cancelled = await client.batches.cancel(first.id)
        server.batches.expire(second.id)
        expired = await client.batches.retrieve(second.id)
        listed = [b.id async for b in client.batches.list()]
        with pytest.raises(openai.NotFoundError):
            await client.batches.retrieve("batch_missing")
        return cancelled, expired, listed, first, second

    cancelled, expired, listed, first, second = run(go())
    assert cancelled.status == "cancelled" and cancelled.output_file_id is None
    assert expired.status == "expired"
    assert listed == [second.id, first.id]
    assert server.calls() == 0


def test_anthropic_message_batch_succeeds_and_errors_per_request(server):
    requests = [{"custom_id": f"r{i}", "params": {"model": "m" if i else "gone", "max_tokens": 50,
                                                  "messages": [{"role": "user", "content": f"q{i}"}]}}
                for i in range(6)]

    async def go():
        client = anthropic_client(server)
        batch = await client.messages.batches.create(requests=requests)
        statuses = [batch.processing_status]
        while batch.processing_status != "ended":
            batch = await client.messages.batches.retrieve(batch.id)
            statuses.append(batch.processing_status)
        results = [r async for r in await client.messages.batches.results(batch.id)]
        return batch, statuses, results

    batch, statuses, results = run(go())
    assert statuses == ["in_progress", "in_progress", "ended"]
    assert (batch.request_counts.succeeded, batch.request_counts.errored) == (5, 1)
    by_id = {r.custom_id: r.result for r in results}
    assert sorted(by_id) == [f"r{i}" for i in range(6)]
    assert by_id["r4"].type == "succeeded" and by_id["r4"].message.content[0].text == "m answers q4"
    assert by_id["r0"].type == "errored" and by_id["r0"].error.error.type == "not_found_error"


def test_anthropic_message_batch_cancel_marks_every_request_canceled(server):
    async def go():
        client = anthropic_client(server)
        batch = await client.messages.batches.create(requests=[
            {"custom_id": "only", "params": {"model": "m", "max_tokens": 5,
                                             "messages": [{"role": "user", "content": "x"}]}}])
        batch = await client.messages.batches.cancel(batch.id)
        results = [r async for r in await client.messages.batches.results(batch.id)]
        return batch, results

    batch, results = run(go())
    assert batch.processing_status == "ended" and batch.request_counts.canceled == 1
    assert [(r.custom_id, r.result.type) for r in results] == [("only", "canceled")]
    assert server.calls() == 0


def test_batch_endpoints_check_the_key_when_keys_are_set():
    with FakeServer(api_keys={"right"}) as server:
        async def go():
            client = anthropic.AsyncAnthropic(api_key="wrong", base_url=server.anthropic_base_url, max_retries=0)
            await client.messages.batches.retrieve("msgbatch_x")

        with pytest.raises(anthropic.AuthenticationError):
            run(go())
