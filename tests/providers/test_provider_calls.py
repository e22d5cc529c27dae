"""The providers drive the real SDKs over HTTP against the fake server: replies, usage, every fault."""

from __future__ import annotations

import pytest
from fakeserver import FakeServer, ModelScript
from helpers import ANTHROPIC_KEY, OPENAI_KEY
from provider_helpers import base_url_for, run

from charter.providers import (
    AuthenticationFailed,
    BadRequest,
    ConfigError,
    ConnectionFailed,
    FatalError,
    MalformedResponse,
    ModelNotFound,
    Overloaded,
    ProviderError,
    RateLimited,
    Request,
    RequestTimedOut,
    RetryableError,
    ServerError,
    get_provider,
)
from charter.tokens import estimate_tokens

KINDS = ["openai:gpt-4.1-mini", "anthropic:claude-test-1", "openai-compatible:llama3.1:8b"]
HELLO = Request(messages=[{"role": "user", "content": "Hello there"}])


async def call(server, model, request=HELLO, *, timeout=5.0):
    async with get_provider(model, base_url=base_url_for(server, model), timeout=timeout) as provider:
        return await provider.complete(request)


@pytest.mark.parametrize("model", KINDS)
def test_happy_path_returns_text_usage_and_ids(server, model):
    response = run(call(server, model))
    name = model.split(":", 1)[1]
    assert response.text == f"Fake reply from {name} to: Hello there"
    assert response.finish_reason == "stop"
    assert response.model == model
    assert response.request_id == "req_fake00000001"
    assert response.usage.input_tokens > 0 and response.usage.output_tokens == estimate_tokens(response.text)
    assert response.latency > 0
    assert response.rate_limits is not None and response.rate_limits.requests_limit > 0
    (logged,) = server.requests
    assert logged.model == name
    assert server.calls(name) == 1


def test_openai_request_body_carries_system_params_and_seed(server):
    request = Request(system="You are Ada.", messages=[{"role": "user", "content": "hi"},
                                                       {"role": "assistant", "content": "hello"},
                                                       {"role": "user", "content": "again"}],
                      temperature=0.2, max_tokens=50, seed=7, stop=("END",))
    run(call(server, "openai:gpt-4.1-mini", request))
    body = server.requests[0].body
    assert body["messages"][0] == {"role": "system", "content": "You are Ada."}
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    assert (body["temperature"], body["seed"], body["stop"], body["max_completion_tokens"]) == (0.2, 7, ["END"], 50)
    assert "max_tokens" not in body
    assert body["prompt_cache_key"].startswith("charter-")


def test_openai_compatible_sends_max_tokens_and_a_dummy_key(server):
    run(call(server, "openai-compatible:qwen2.5:7b", Request(messages=[{"role": "user", "content": "hi"}],
                                                             max_tokens=33)))
    logged = server.requests[0]
    assert logged.body["max_tokens"] == 33 and "prompt_cache_key" not in logged.body
    assert logged.headers["authorization"] == "Bearer charter-no-key"


def test_openai_compatible_uses_the_named_key_variable(server, monkeypatch):
    monkeypatch.setenv("VLLM_KEY", "local-secret")

    async def go():
        async with get_provider("openai-compatible:m", base_url=server.openai_base_url,
                                key_variable="VLLM_KEY") as provider:
            return await provider.complete(HELLO)

    run(go())
    assert server.requests[0].headers["authorization"] == "Bearer local-secret"


def test_anthropic_sends_system_blocks_with_cache_control_and_temperature_in_the_body(server):
    blocks = [{"type": "text", "text": "Character. " * 600, "cache_control": {"type": "ephemeral"}},
              {"type": "text", "text": "Context: a support chat."}]
    request = Request(system=blocks, messages=[{"role": "user", "content": "hi"}], temperature=0.5, seed=3,
                      stop=["###"], max_tokens=64)
    first = run(call(server, "anthropic:claude-test-1", request))
    second = run(call(server, "anthropic:claude-test-1", request))
    body = server.requests[0].body
    assert body["system"] == blocks
    assert body["temperature"] == 0.5 and body["stop_sequences"] == ["###"] and body["max_tokens"] == 64
    assert "seed" not in body
    # Usage: the first call writes the cached prefix, the second reads it; input counts the whole prompt.
    assert first.usage.cache_write_tokens > 1000 and first.usage.cache_read_tokens == 0
    assert second.usage.cache_read_tokens == first.usage.cache_write_tokens and second.usage.cache_write_tokens == 0
    assert first.usage.input_tokens == second.usage.input_tokens > first.usage.cache_write_tokens


def test_openai_usage_reports_cached_tokens_on_a_repeated_long_prefix(server):
    request = Request(system="Character. " * 600, messages=[{"role": "user", "content": "hi"}])
    first = run(call(server, "openai:gpt-4.1-mini", request))
    second = run(call(server, "openai:gpt-4.1-mini", request))
    assert first.usage.cache_read_tokens == 0
    assert second.usage.cache_read_tokens > 1000 and second.usage.cache_read_tokens % 128 == 0
    assert second.usage.input_tokens == first.usage.input_tokens


@pytest.mark.parametrize("model", KINDS)
def test_stop_and_max_tokens_map_to_finish_reasons(keys, model):
    replies = ModelScript(reply="alpha beta ### gamma " * 20)
    with FakeServer(default=replies) as server:
        stopped = run(call(server, model, Request(messages=[{"role": "user", "content": "x"}], stop=["###"])))
        cut = run(call(server, model, Request(messages=[{"role": "user", "content": "x"}], max_tokens=3)))
    assert stopped.text == "alpha beta " and stopped.finish_reason == "stop"
    assert cut.finish_reason == "length" and len(cut.text) == 12
    assert cut.raw_finish_reason == ("max_tokens" if model.startswith("anthropic") else "length")


def test_rule_based_replies_see_the_system_prompt_and_the_turns(keys):
    def judge(model, messages):
        return "PASS" if messages[0]["role"] == "system" and "judge" in messages[0]["content"] else "FAIL"

    with FakeServer({"judge-model": ModelScript(reply=judge)}, default=None) as server:
        request = Request(system="You are a judge.", messages=[{"role": "user", "content": "grade this"}])
        for model in ("openai:judge-model", "anthropic:judge-model"):
            assert run(call(server, model, request)).text == "PASS"


FAULT_CASES = [
    ("rate_limit", RateLimited, 429, "rate limited (HTTP 429, retry after 3s)"),
    ("server_error", ServerError, 500, "server error (HTTP 500)"),
    ("unavailable", ServerError, 503, "server error (HTTP 503)"),
    ("overloaded", Overloaded, 529, "API overloaded (HTTP 529)"),
    ("malformed", MalformedResponse, None, "unreadable"),
    ("drop", ConnectionFailed, None, "failed: Server disconnected"),
    ("timeout", RequestTimedOut, None, "no answer within 0.5s"),
    ("auth", AuthenticationFailed, 401, "the API rejected the key in"),
    ("bad_request", BadRequest, 400, "the API refused the request (HTTP 400)"),
    ("not_found", ModelNotFound, 404, "says model 'flaky' does not exist (HTTP 404)"),
]


@pytest.mark.parametrize("model", ["openai:flaky", "anthropic:flaky", "openai-compatible:flaky"])
@pytest.mark.parametrize(("fault", "error_class", "status", "phrase"), FAULT_CASES, ids=[c[0] for c in FAULT_CASES])
def test_each_fault_maps_to_our_exception_with_a_one_line_keyless_message(keys, model, fault, error_class, status,
                                                                          phrase):
    script = ModelScript(sequence=[fault], retry_after=3, hang=5)
    with FakeServer({"flaky": script}) as server:
        with pytest.raises(ProviderError) as caught:
            run(call(server, model, timeout=0.5))
        # The SDK must not retry on its own: the runner owns retries and counts them.
        assert server.calls("flaky") == 1
    error = caught.value
    assert type(error) is error_class
    assert error.status == status
    message = str(error)
    assert message.startswith(f"{model}: ") and phrase in message
    assert "\n" not in message and OPENAI_KEY not in message and ANTHROPIC_KEY not in message
    assert isinstance(error, RetryableError) == (fault in {"rate_limit", "server_error", "unavailable",
                                                           "overloaded", "malformed", "drop", "timeout"})
    assert isinstance(error, FatalError) != isinstance(error, RetryableError)
    if fault == "rate_limit":
        assert error.retry_after == 3.0
        assert error.rate_limits.requests_remaining == 0 and error.rate_limits.requests_limit > 0


def test_an_unknown_model_is_reported_in_the_apis_words(keys):
    with FakeServer(default=None) as server:
        with pytest.raises(ModelNotFound) as caught:
            run(call(server, "openai:gpt-9-imaginary"))
    assert "the API at http://127.0.0.1:" in str(caught.value)
    assert "says model 'gpt-9-imaginary' does not exist (HTTP 404)" in str(caught.value)


@pytest.mark.parametrize(("model", "variable"), [("openai:gpt-4.1-mini", "OPENAI_API_KEY"),
                                                  ("anthropic:claude-test-1", "ANTHROPIC_API_KEY")])
def test_a_missing_key_names_the_variable(keys, monkeypatch, model, variable):
    monkeypatch.delenv(variable)
    with pytest.raises(ConfigError) as caught:
        get_provider(model, base_url="http://127.0.0.1:9")
    assert str(caught.value) == f"{model}: no API key: set {variable} in the environment"


@pytest.mark.parametrize("model", ["openai:gpt-4.1-mini", "anthropic:claude-test-1"])
def test_a_rejected_key_is_never_echoed(keys, model):
    with FakeServer(api_keys={"only-this-one"}) as server:
        with pytest.raises(AuthenticationFailed) as caught:
            run(call(server, model))
    assert OPENAI_KEY not in str(caught.value) and ANTHROPIC_KEY not in str(caught.value)


def test_server_text_that_echoes_the_key_is_scrubbed(keys):
    script = ModelScript(sequence=["bad_request"])
    with FakeServer({"m": script}) as server:
        # A server quoting the key back in its error text must not leak it into our message.
        from fakeserver import server as fakeserver

        original = fakeserver._ERRORS["bad_request"]
        fakeserver._ERRORS["bad_request"] = (*original[:3], f"Invalid key {OPENAI_KEY} for this org")
        try:
            with pytest.raises(BadRequest) as caught:
                run(call(server, "openai:m"))
        finally:
            fakeserver._ERRORS["bad_request"] = original
    assert OPENAI_KEY not in str(caught.value) and "Invalid key" in str(caught.value)


def test_openai_compatible_needs_a_base_url(keys):
    with pytest.raises(ConfigError, match="openai-compatible:llama3: an openai-compatible model needs a base URL"):
        get_provider("openai-compatible:llama3")


@pytest.mark.parametrize("variable, model", [("OPENAI_BASE_URL", "openai:gpt-4.1-mini"),
                                             ("ANTHROPIC_BASE_URL", "anthropic:claude-test-1")])
def test_the_sdks_base_url_variables_are_honoured(server, monkeypatch, variable, model):
    monkeypatch.setenv(variable, base_url_for(server, model))

    async def go():
        async with get_provider(model) as provider:
            assert provider.base_url == base_url_for(server, model).rstrip("/")
            return await provider.complete(HELLO)

    assert run(go()).text.startswith("Fake reply")
    assert server.calls() == 1


@pytest.mark.parametrize("text", ["gpt-4", "openai:", ":gpt-4", "azure:gpt-4", "openai: gpt-4", "openai:gpt 4", ""])
def test_malformed_model_ids_are_rejected_in_one_line(keys, text):
    with pytest.raises(ConfigError) as caught:
        get_provider(text)
    assert str(caught.value).startswith(f"invalid model id {text!r}: expected PROVIDER:MODEL")
    assert "\n" not in str(caught.value)


def test_model_names_are_not_checked_against_a_local_list(server):
    response = run(call(server, "anthropic:claude-from-next-week-99"))
    assert response.model == "anthropic:claude-from-next-week-99"


def test_requests_reject_a_system_role_in_messages_and_empty_conversations():
    with pytest.raises(ValueError, match="system prompt goes in Request.system"):
        Request(messages=[{"role": "system", "content": "x"}])
    with pytest.raises(ValueError, match="at least one message"):
        Request(messages=[])


def test_response_round_trips_through_a_dict(server):
    response = run(call(server, "anthropic:claude-test-1"))
    again = type(response).from_dict(response.to_dict())
    assert again == response and again.rate_limits is None


def test_anthropic_takes_a_large_max_tokens_without_streaming(server):
    # Without an explicit timeout the SDK refuses non-streaming calls it expects to run past 10 minutes.
    request = Request(messages=[{"role": "user", "content": "hi"}], max_tokens=128_000)
    assert run(call(server, "anthropic:claude-opus-4-1", request)).finish_reason == "stop"
    assert server.requests[0].body["max_tokens"] == 128_000
