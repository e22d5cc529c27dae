"""The batch clients drive the real SDKs over HTTP against the fake server's batch endpoints."""

from __future__ import annotations

import json

import pytest
from fakeserver import FakeServer, ModelScript
from helpers import ANTHROPIC_KEY, OPENAI_KEY
from provider_helpers import run

from charter.providers import (
    AuthenticationFailed,
    ConfigError,
    ConnectionFailed,
    ModelNotFound,
    RateLimited,
    Request,
    RetryableError,
    RetryPolicy,
    ServerError,
    get_provider,
)
from charter.providers.batch import (
    BatchHandle,
    BatchItem,
    BatchItemCancelled,
    BatchItemExpired,
    BatchNotFinished,
    BatchNotFound,
    PollPolicy,
    get_batch_client,
    load_handles,
    save_handles,
    wait,
)

MODELS = ["openai:m", "anthropic:m"]
FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002, max_retry_after=0.01)
NO_WAIT = PollPolicy(initial=0.001, max_interval=0.001)


def answer(model, messages):
    return f"{model} answers {messages[-1]['content']}"


def ask(text, **options):
    return Request(messages=[{"role": "user", "content": text}], **options)


def items(count, prefix="c", **options):
    return [BatchItem(f"{prefix}{i}", ask(f"q{i}", **options)) for i in range(count)]


@pytest.fixture
def server_options():
    return {"models": {"m": ModelScript(reply=answer)}, "default": None, "batch_polls": 2}


def base_url(server, model):
    return server.anthropic_base_url if model.startswith("anthropic:") else server.openai_base_url


def client_for(server, model, **options):
    return get_batch_client(model, base_url=base_url(server, model), timeout=5, retry=FAST, **options)


async def collect(client, handles):
    return {r.custom_id: r for h in handles async for r in client.results(h)}


async def submit_wait_collect(server, model, batch, **options):
    async with client_for(server, model, **options) as client:
        handles = await client.submit(batch)
        statuses = await wait(client, handles, poll=NO_WAIT)
        return handles, statuses, await collect(client, handles)


def comparable(response):
    return (response.text, response.finish_reason, response.raw_finish_reason, response.usage, response.model)


def batch_inputs(server, handle):
    """What the server received for a batch, as request bodies by custom id."""
    if handle.provider == "openai":
        lines = [json.loads(line) for line in server.batches.contents[handle.input_file_id].decode().splitlines()]
        return {line["custom_id"]: line for line in lines}
    # The fake server keeps Anthropic batch requests only in its private input table.
    return {entry["custom_id"]: entry for entry in server.batches._inputs[handle.batch_id]}


# -- the happy path ----------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_results_match_the_synchronous_path_keyed_by_custom_id(server, model):
    batch = items(12, temperature=0.5)
    handles, statuses, results = run(submit_wait_collect(server, model, batch))

    async def synchronous():
        async with get_provider(model, base_url=base_url(server, model), timeout=5) as provider:
            return {item.custom_id: await provider.complete(item.request) for item in batch}

    expected = run(synchronous())
    (handle,) = handles
    assert handle.count == 12 and handle.custom_ids == tuple(f"c{i}" for i in range(12))
    assert statuses[handle.batch_id].state == "ended" and statuses[handle.batch_id].succeeded == 12
    assert sorted(results) == sorted(expected)
    for custom_id, result in results.items():
        assert result.ok and result.error is None
        assert comparable(result.response) == comparable(expected[custom_id])
        assert result.response.text == f"m answers q{custom_id[1:]}"
        assert result.response.latency == 0.0
    streamed = list(results)
    assert streamed != [item.custom_id for item in batch], "the fake server shuffles; order must not matter"


@pytest.mark.parametrize("model", MODELS)
def test_batch_body_is_the_synchronous_body_and_shares_its_cache_key(server, model):
    system = [{"type": "text", "text": "You are Ada.", "cache_control": {"type": "ephemeral"}}]
    request = Request(messages=[{"role": "user", "content": "hi"}], system=system, temperature=0.2, max_tokens=50,
                      seed=3, stop=("END",))

    async def go():
        async with client_for(server, model) as client, \
                get_provider(model, base_url=base_url(server, model), timeout=5) as provider:
            (handle,) = await client.submit([BatchItem("only", request)])
            await provider.complete(request)
            return handle, client.cache_key(BatchItem("only", request)), provider.cache_key(request)

    handle, batch_key, sync_key = run(go())
    sent = batch_inputs(server, handle)["only"]
    synchronous_body = server.requests[-1].body
    if model.startswith("openai:"):
        assert sent["method"] == "POST" and sent["url"] == "/v1/chat/completions"
        assert sent["body"] == synchronous_body
        assert sent["body"]["prompt_cache_key"].startswith("charter-")
    else:
        assert sent["params"] == synchronous_body
        assert sent["params"]["system"] == system, "cache_control must survive into the batch"
        assert sent["params"]["temperature"] == 0.2
    assert batch_key == sync_key


def test_anthropic_prompt_cache_tokens_come_through_like_the_synchronous_path(keys):  # noqa: F811
    long_system = [{"type": "text", "text": "rule. " * 2000, "cache_control": {"type": "ephemeral"}}]
    with FakeServer({"m": ModelScript(reply=answer)}, default=None) as server:
        _, _, results = run(submit_wait_collect(server, "anthropic:m", items(3, system=long_system)))
    usages = sorted((r.response.usage for r in results.values()), key=lambda u: u.cache_write_tokens)
    assert [u.cache_write_tokens > 0 for u in usages] == [False, False, True]
    assert all(u.cache_read_tokens > 0 for u in usages[:2])
    assert all(u.input_tokens >= u.cache_read_tokens + u.cache_write_tokens for u in usages)


# -- splitting over the limits -----------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_submit_splits_over_the_request_limit_in_order(server, model):
    batch = items(10)
    submitted = []

    async def go():
        async with client_for(server, model, max_requests=4) as client:
            handles = await client.submit(batch, on_submitted=lambda h: submitted.append(
                (h.batch_id, len(server.batches.openai) + len(server.batches.anthropic))))
            await wait(client, handles, poll=NO_WAIT)
            return handles, await collect(client, handles)

    handles, results = run(go())
    assert [h.count for h in handles] == [4, 4, 2]
    assert [c for h in handles for c in h.custom_ids] == [item.custom_id for item in batch]
    assert len({h.batch_id for h in handles}) == 3
    # Each handle is reported as soon as its batch exists, before the next one is created.
    assert [count for _, count in submitted] == [1, 2, 3]
    assert sorted(results) == sorted(item.custom_id for item in batch)
    assert all(r.ok for r in results.values())


@pytest.mark.parametrize("model", MODELS)
def test_submit_splits_over_the_byte_limit_and_refuses_an_item_over_it(server, model):
    async def go(batch, max_bytes):
        async with client_for(server, model, max_bytes=max_bytes) as client:
            return await client.submit(batch)

    sizer = client_for(server, model)
    one = sizer.encoded_size(items(1)[0])
    run(sizer.aclose())
    handles = run(go(items(6), max_bytes=one * 2 + one // 2))
    assert [h.count for h in handles] == [2, 2, 2]

    huge = [BatchItem("big", ask("x" * 5000))]
    created_before = len(server.batches.openai) + len(server.batches.anthropic)
    with pytest.raises(ValueError, match="'big' is .* bytes, over the batch limit of 1000"):
        run(go(huge, max_bytes=1000))
    assert len(server.batches.openai) + len(server.batches.anthropic) == created_before


# -- per-item outcomes -------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["openai:gone", "anthropic:gone"])
def test_per_item_errors_map_to_the_synchronous_error_classes(server, model):
    _, statuses, results = run(submit_wait_collect(server, model, items(3)))
    (status,) = statuses.values()
    assert status.state == "ended" and status.errored == 3 and status.succeeded == 0
    assert sorted(results) == ["c0", "c1", "c2"]
    for result in results.values():
        assert result.response is None and not result.ok
        assert isinstance(result.error, ModelNotFound) and result.error.status == 404
        assert "\n" not in str(result.error) and str(result.error).startswith(model)


@pytest.mark.parametrize("model", MODELS)
def test_an_expired_batch_yields_every_item_as_expired_and_retryable(server, model):
    async def go():
        async with client_for(server, model) as client:
            handles = await client.submit(items(4))
            server.batches.expire(handles[0].batch_id)
            statuses = await wait(client, handles, poll=NO_WAIT)
            return statuses, await collect(client, handles)

    statuses, results = run(go())
    (status,) = statuses.values()
    assert status.state == "expired" and status.done and status.expired == 4 and status.processing == 0
    assert sorted(results) == ["c0", "c1", "c2", "c3"]
    assert all(isinstance(r.error, BatchItemExpired) and isinstance(r.error, RetryableError)
               for r in results.values())
    assert server.calls() == 0


@pytest.mark.parametrize("model", MODELS)
def test_cancel_ends_the_batch_with_every_item_cancelled(server, model):
    async def go():
        async with client_for(server, model) as client:
            (handle,) = await client.submit(items(3))
            await client.cancel(handle)
            status = await client.status(handle)
            return status, await collect(client, [handle])

    status, results = run(go())
    assert status.state == "cancelled" and status.done and status.cancelled == 3
    assert sorted(results) == ["c0", "c1", "c2"]
    assert all(isinstance(r.error, BatchItemCancelled) for r in results.values())
    assert server.calls() == 0


@pytest.mark.parametrize("model", MODELS)
def test_results_before_the_batch_ends_are_refused(keys, model):  # noqa: F811
    with FakeServer({"m": ModelScript(reply=answer)}, default=None, batch_polls=50) as server:
        async def go():
            async with client_for(server, model) as client:
                (handle,) = await client.submit(items(2))
                status = await client.status(handle)
                with pytest.raises(BatchNotFinished, match="has not (finished|ended)"):
                    async for _ in client.results(handle):
                        pass
                return status

        status = run(go())
    assert status.state == "in_progress" and not status.done and status.processing == 2


# -- resuming after a restart ------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_a_new_client_resumes_from_saved_handles(server, model, tmp_path):
    path = tmp_path / "run" / "batches.json"
    saved = []

    async def first_process():
        async with client_for(server, model, max_requests=3) as client:
            def persist(handle):
                saved.append(handle)
                save_handles(path, saved)
            return await client.submit(items(7), on_submitted=persist)

    async def second_process():
        handles = load_handles(path)
        async with client_for(server, model) as client:
            await wait(client, handles, poll=NO_WAIT)
            return handles, await collect(client, handles)

    submitted = run(first_process())
    handles, results = run(second_process())
    assert handles == submitted
    assert sorted(results) == [f"c{i}" for i in range(7)]
    assert all(r.response.text == f"m answers q{cid[1:]}" for cid, r in results.items())
    text = path.read_text()
    assert OPENAI_KEY not in text and ANTHROPIC_KEY not in text and "api_key" not in text


def test_a_handle_of_another_model_is_refused(server):
    async def go():
        async with client_for(server, "openai:m") as client:
            (handle,) = await client.submit(items(1))
        async with client_for(server, "openai:other") as other:
            await other.status(handle)

    with pytest.raises(ConfigError, match="belongs to openai:m, not openai:other"):
        run(go())


def test_a_handle_from_another_endpoint_is_refused(server):
    moved = BatchHandle("openai", "openai:m", "batch_1", "http://elsewhere.example/v1", "file-1",
                        "2026-01-01T00:00:00Z", ("c0",))

    async def go():
        async with client_for(server, "openai:m") as client:
            await client.status(moved)

    with pytest.raises(ConfigError, match="submitted to http://elsewhere.example/v1, not http://127.0.0.1"):
        run(go())


# -- failures of the batch endpoints -----------------------------------------------------------


def inject(server, statuses):
    """Answers the next batch-endpoint calls with the given HTTP statuses, then serves normally."""
    original = server.batches.dispatch
    pending = list(statuses)
    hits = []

    async def dispatch(api, method, path, headers, body):
        if pending:
            status = pending.pop(0)
            hits.append((method, path, status))
            message = {"error": {"message": "slow down", "type": "requests", "code": None},
                       "type": "error"}
            return status, {"retry-after": "0"}, "application/json", json.dumps(message).encode()
        return await original(api, method, path, headers, body)

    server.batches.dispatch = dispatch
    return hits


@pytest.mark.parametrize("model", MODELS)
def test_rate_limits_and_server_errors_on_batch_endpoints_are_retried(server, model):
    hits = inject(server, [429, 503])
    _, _, results = run(submit_wait_collect(server, model, items(2)))
    assert [status for *_, status in hits] == [429, 503]
    assert sorted(results) == ["c0", "c1"] and all(r.ok for r in results.values())


@pytest.mark.parametrize("model", MODELS)
def test_errors_that_outlast_the_retry_policy_surface_with_their_class(server, model):
    inject(server, [429, 429, 429])
    with pytest.raises(RateLimited) as caught:
        run(submit_wait_collect(server, model, items(1)))
    assert caught.value.attempts == FAST.max_attempts
    assert "\n" not in str(caught.value) and OPENAI_KEY not in str(caught.value)
    inject(server, [500, 500, 500])
    with pytest.raises(ServerError):
        run(submit_wait_collect(server, model, items(1)))


@pytest.mark.parametrize("model", MODELS)
def test_a_download_cut_short_is_read_again_without_repeats(server, model):
    async def go():
        async with client_for(server, model) as client:
            handles = await client.submit(items(5))
            await wait(client, handles, poll=NO_WAIT)
            # The results download (OpenAI's output file, Anthropic's results stream) is cut off once,
            # inside its second line.
            original = server.batches.dispatch

            async def cut_once(api, method, path, headers, body):
                answer = await original(api, method, path, headers, body)
                if path.endswith(("/content", "/results")) and not cut_once.done:
                    cut_once.done = True
                    code, extra, content_type, payload = answer
                    return code, extra, content_type, payload[: payload.index(b"\n") + 20]
                return answer

            cut_once.done = False
            server.batches.dispatch = cut_once
            return [r.custom_id async for r in client.results(handles[0])]

    streamed = run(go())
    assert sorted(streamed) == [f"c{i}" for i in range(5)]


def test_an_openai_batch_created_but_not_acknowledged_is_not_created_twice(server):
    original = server.batches.dispatch
    lost = []

    async def lose_first_answer(api, method, path, headers, body):
        answer = await original(api, method, path, headers, body)
        if method == "POST" and path == "/v1/batches" and not lost:
            lost.append(json.loads(answer[3])["id"])
            return 502, {}, "application/json", b'{"error": {"message": "bad gateway", "type": "server_error"}}'
        return answer

    server.batches.dispatch = lose_first_answer
    (handle,), _, results = run(submit_wait_collect(server, "openai:m", items(2)))
    assert list(server.batches.openai) == lost == [handle.batch_id]
    assert sorted(results) == ["c0", "c1"] and all(r.ok for r in results.values())


def test_a_wrong_key_is_a_one_line_authentication_error_without_the_key(keys, monkeypatch):  # noqa: F811
    with FakeServer({"m": ModelScript(reply=answer)}, default=None, api_keys={"the-right-key"}) as server:
        for model in MODELS:
            with pytest.raises(AuthenticationFailed) as caught:
                run(submit_wait_collect(server, model, items(1)))
            message = str(caught.value)
            assert "\n" not in message and OPENAI_KEY not in message and ANTHROPIC_KEY not in message
            assert caught.value.attempts == 1


@pytest.mark.parametrize("model", MODELS)
def test_an_unknown_batch_id_is_batch_not_found(server, model):
    handle = BatchHandle(model.split(":")[0], model, "batch_missing", base_url(server, model), None,
                         "2026-01-01T00:00:00Z", ("c0",))

    async def go():
        async with client_for(server, model) as client:
            await client.status(handle)

    with pytest.raises(BatchNotFound, match="batch_missing.*not found .*HTTP 404"):
        run(go())


def test_an_unreachable_server_is_a_connection_failure_after_the_retries(keys):  # noqa: F811
    with FakeServer() as server:
        url = server.openai_base_url
    # The server is stopped: nothing listens on its port now.
    client = get_batch_client("openai:m", base_url=url, timeout=2, retry=FAST)

    async def go():
        async with client:
            await client.submit(items(1))

    with pytest.raises(ConnectionFailed) as caught:
        run(go())
    assert caught.value.attempts == FAST.max_attempts and "uploading the batch input" in str(caught.value)


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["openai-compatible:llama3", "ollama:x", "openai"])
def test_models_without_a_batch_api_are_a_config_error(keys, model):  # noqa: F811
    with pytest.raises(ConfigError) as caught:
        get_batch_client(model, base_url="http://127.0.0.1:9/v1")
    assert "\n" not in str(caught.value)


def test_a_missing_key_is_a_config_error(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="no API key: set ANTHROPIC_API_KEY"):
        get_batch_client("anthropic:m")


@pytest.mark.parametrize("batch, message", [
    ([], "at least one item"),
    ([BatchItem("a", ask("x")), BatchItem("a", ask("y"))], "'a' is used twice"),
    ([BatchItem("has space", ask("x"))], "invalid custom_id 'has space'"),
    ([BatchItem("x" * 65, ask("x"))], "invalid custom_id"),
])
def test_bad_items_are_refused_before_any_call(server, batch, message):
    async def go():
        async with client_for(server, "openai:m") as client:
            await client.submit(batch)

    with pytest.raises(ValueError, match=message):
        run(go())
    assert not server.batches.files and not server.batches.openai


def test_limits_default_to_the_providers_and_must_be_positive(server):
    openai_client = client_for(server, "openai:m")
    anthropic_client = client_for(server, "anthropic:m")
    assert (openai_client.max_requests, openai_client.max_bytes) == (50_000, 200 * 1024 * 1024)
    assert (anthropic_client.max_requests, anthropic_client.max_bytes) == (100_000, 256 * 1024 * 1024)
    run(openai_client.aclose())
    run(anthropic_client.aclose())
    with pytest.raises(ValueError, match="must be positive"):
        client_for(server, "openai:m", max_requests=-1)


# -- the handles file --------------------------------------------------------------------------


def handle(number=1):
    return BatchHandle("openai", "openai:m", f"batch_{number}", "http://127.0.0.1:1/v1", f"file-{number}",
                       "2026-11-28T00:00:00Z", ("a", "b"))


def test_handles_round_trip_and_are_written_atomically(tmp_path):
    path = tmp_path / "batches.json"
    save_handles(path, [handle(1), handle(2)])
    assert load_handles(path) == [handle(1), handle(2)]
    save_handles(path, [handle(3)])
    assert load_handles(path) == [handle(3)]
    assert [p.name for p in tmp_path.iterdir()] == ["batches.json"], "no temporary file is left behind"
    assert json.loads(path.read_text())["batches"][0]["custom_ids"] == ["a", "b"]


@pytest.mark.parametrize("content, message", [
    (None, "no such batch handles file"),
    ("{not json", "not a batch handles file"),
    ('{"version": 9, "batches": []}', "expected version 1"),
    ('{"version": 1, "batches": [{"provider": "openai"}]}', "batch 1: batch handle field 'model'"),
    ('{"version": 1, "batches": [7]}', "batch 1: a batch handle must be an object"),
])
def test_a_bad_handles_file_is_a_one_line_config_error_with_its_path(tmp_path, content, message):
    path = tmp_path / "batches.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=message) as caught:
        load_handles(path)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_unknown_handle_fields_are_refused(tmp_path):
    path = tmp_path / "batches.json"
    entry = {**handle().to_dict(), "api_key": "sk-secret-0123456789"}
    path.write_text(json.dumps({"version": 1, "batches": [entry]}))
    with pytest.raises(ConfigError, match="unknown batch handle field 'api_key'"):
        load_handles(path)


# -- polling -----------------------------------------------------------------------------------


def test_wait_backs_off_up_to_the_cap_and_reports_every_status(keys):  # noqa: F811
    with FakeServer({"m": ModelScript(reply=answer)}, default=None, batch_polls=6) as server:
        slept, seen = [], []

        async def sleep(seconds):
            slept.append(seconds)

        async def go():
            async with client_for(server, "openai:m", max_requests=2) as client:
                handles = await client.submit(items(3))
                return await wait(client, handles, poll=PollPolicy(initial=1, factor=2, max_interval=3),
                                  on_status=lambda s: seen.append((s.batch_id, s.state)), sleep=sleep)

        final = run(go())
    assert slept == [1, 2, 3, 3, 3]
    assert len(final) == 2 and all(s.state == "ended" for s in final.values())
    assert len(seen) == 12 and seen[-1][1] == "ended"
    assert {state for _, state in seen} == {"in_progress", "ended"}


def test_wait_gives_up_after_its_timeout_naming_the_pending_batches(keys):  # noqa: F811
    with FakeServer({"m": ModelScript(reply=answer)}, default=None, batch_polls=100) as server:
        now = [0.0]

        async def sleep(seconds):
            now[0] += seconds

        async def go():
            async with client_for(server, "anthropic:m") as client:
                handles = await client.submit(items(1))
                await wait(client, handles, poll=PollPolicy(initial=10, factor=1, timeout=35), sleep=sleep,
                           clock=lambda: now[0])

        with pytest.raises(TimeoutError, match=r"still running after 35s: msgbatch_fake\d+"):
            run(go())
    assert now[0] == 30


def test_poll_policy_intervals():
    policy = PollPolicy(initial=5, factor=1.5, max_interval=10)
    assert [policy.interval(n) for n in range(1, 5)] == [5, 7.5, 10, 10]
