"""Cache keys (stable, complete, key-free) and the parsing of Retry-After and rate-limit headers."""

from __future__ import annotations

import email.utils

import pytest

from charter.providers import (
    Request,
    cache_key,
    estimate_tokens,
    get_provider,
    parse_model_id,
    parse_rate_limits,
    parse_retry_after,
)
from charter.providers.base import parse_duration

BASE = Request(system="You are Ada.", messages=[{"role": "user", "content": "hi"}], temperature=0.0,
               max_tokens=100, seed=1)


def key_for(model, request=BASE, base_url="http://127.0.0.1:1/v1"):
    return get_provider(model, base_url=base_url).cache_key(request)


@pytest.mark.parametrize("model", ["openai:gpt-4.1-mini", "anthropic:claude-test-1", "openai-compatible:llama3"])
def test_cache_key_is_a_stable_sha256(keys, model):
    first, second = key_for(model), key_for(model)
    assert first == second and len(first) == 64 and int(first, 16) >= 0
    same_request_built_again = Request(system="You are Ada.", messages=[{"role": "user", "content": "hi"}],
                                       temperature=0.0, max_tokens=100, seed=1)
    assert key_for(model, same_request_built_again) == first


def test_cache_key_ignores_the_api_key(keys, monkeypatch):
    before = key_for("openai:gpt-4.1-mini")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-a-completely-different-key")
    assert key_for("openai:gpt-4.1-mini") == before


def test_cache_key_document_never_contains_the_key(keys):
    provider = get_provider("anthropic:claude-test-1", base_url="http://127.0.0.1:1")
    assert "sk-ant" not in repr(provider.payload(BASE)) and "sk-ant" not in repr(provider)


@pytest.mark.parametrize("change", [
    {"temperature": 0.7}, {"max_tokens": 101}, {"seed": 2}, {"stop": ("X",)}, {"system": "You are Bea."},
    {"messages": [{"role": "user", "content": "hi!"}]},
    {"system": [{"type": "text", "text": "You are Ada.", "cache_control": {"type": "ephemeral"}}]},
])
def test_cache_key_changes_with_every_parameter_openai_sends(keys, change):
    fields = {"system": BASE.system, "messages": BASE.messages, "temperature": 0.0, "max_tokens": 100, "seed": 1}
    changed = Request(**{**fields, **change})
    if "cache_control" in repr(change):
        # OpenAI receives the same text either way, so the same completion: same key.
        assert key_for("openai:gpt-4.1-mini", changed) == key_for("openai:gpt-4.1-mini")
    else:
        assert key_for("openai:gpt-4.1-mini", changed) != key_for("openai:gpt-4.1-mini")


def test_cache_key_separates_providers_models_and_endpoints(keys):
    keys_seen = {key_for("openai:gpt-4.1-mini"), key_for("openai:gpt-4.1"),
                 key_for("openai-compatible:gpt-4.1-mini"),
                 key_for("openai:gpt-4.1-mini", base_url="http://127.0.0.1:2/v1")}
    assert len(keys_seen) == 4
    assert key_for("openai:gpt-4.1-mini", base_url="http://127.0.0.1:1/v1/") == key_for("openai:gpt-4.1-mini")


def test_anthropic_cache_key_covers_cache_control_but_not_the_unsent_seed(keys):
    blocks = Request(system=[{"type": "text", "text": "You are Ada.", "cache_control": {"type": "ephemeral"}}],
                     messages=BASE.messages, temperature=0.0, max_tokens=100, seed=1)
    reseeded = Request(system="You are Ada.", messages=BASE.messages, temperature=0.0, max_tokens=100, seed=99)
    assert key_for("anthropic:claude-test-1", blocks) != key_for("anthropic:claude-test-1")
    assert key_for("anthropic:claude-test-1", reseeded) == key_for("anthropic:claude-test-1")


def test_cache_key_function_is_order_independent_for_params():
    one = cache_key("openai", "m", "http://x", {"a": 1, "b": [1, 2]})
    assert one == cache_key("openai", "m", "http://x", {"b": [1, 2], "a": 1})
    assert one != cache_key("openai", "m", "http://x", {"a": 1, "b": [2, 1]})


def test_model_ids_keep_colons_in_the_model_name():
    assert str(parse_model_id("openai-compatible:llama3.1:8b")) == "openai-compatible:llama3.1:8b"
    assert parse_model_id("openai-compatible:llama3.1:8b").model == "llama3.1:8b"


@pytest.mark.parametrize(("text", "seconds"), [("6s", 6.0), ("12ms", 0.012), ("1m30s", 90.0), ("0.5s", 0.5),
                                               ("2h", 7200.0), ("3", 3.0), ("", None), ("soon", None),
                                               ("6s junk", None)])
def test_openai_reset_durations(text, seconds):
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_retry_after_in_seconds_milliseconds_and_http_dates():
    now = 1_700_000_000.0
    assert parse_retry_after({"retry-after": "7"}, now=now) == 7.0
    assert parse_retry_after({"retry-after": "1.5"}, now=now) == 1.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}, now=now) == 0.25
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == pytest.approx(30.0)
    assert parse_retry_after({"retry-after": email.utils.formatdate(now - 30, usegmt=True)}, now=now) == 0.0
    assert parse_retry_after({"retry-after": "whenever"}, now=now) is None
    assert parse_retry_after({}, now=now) is None


def test_openai_rate_limit_headers():
    limits = parse_rate_limits({"x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "499",
                                "x-ratelimit-reset-requests": "120ms", "x-ratelimit-limit-tokens": "30000",
                                "x-ratelimit-remaining-tokens": "29000", "x-ratelimit-reset-tokens": "2s"})
    assert (limits.requests_limit, limits.requests_remaining, limits.requests_reset) == (500, 499, 0.12)
    assert (limits.tokens_limit, limits.tokens_remaining, limits.tokens_reset) == (30000, 29000, 2.0)


def test_anthropic_rate_limit_headers():
    now = 1_700_000_000.0
    limits = parse_rate_limits({"anthropic-ratelimit-requests-limit": "50",
                                "anthropic-ratelimit-requests-remaining": "49",
                                "anthropic-ratelimit-requests-reset": "2023-11-14T22:13:40Z",
                                "anthropic-ratelimit-tokens-limit": "40000",
                                "anthropic-ratelimit-tokens-remaining": "39000",
                                "anthropic-ratelimit-tokens-reset": "2023-11-14T22:14:20+00:00"}, now=now)
    assert (limits.requests_limit, limits.requests_remaining) == (50, 49)
    assert limits.requests_reset == pytest.approx(20.0) and limits.tokens_reset == pytest.approx(60.0)
    assert parse_rate_limits({"content-type": "application/json"}) is None


def test_token_estimate_and_request_estimate():
    from charter.tokens import estimate_tokens as build_estimate

    assert estimate_tokens is build_estimate  # one estimate for budgets, rate limits and the fake server
    assert estimate_tokens("") == 0 and estimate_tokens("Hello") == 1
    system, question = "You are a careful assistant. " * 20, "What is the capital of France?"
    request = Request(system=system, messages=[{"role": "user", "content": question}], max_tokens=50)
    assert request.estimated_tokens() == estimate_tokens(system) + estimate_tokens(question) + 4 + 50


def test_error_details_are_one_line_keyless_and_short():
    from charter.providers.errors import one_line

    text = "Incorrect API key provided:\n  sk-proj-abc123456789xyz.\tsee my-secret-token"
    assert one_line(text, secrets=("my-secret-token",)) == "Incorrect API key provided: sk-proj-***. see ***"
    assert one_line("sk-learn and key-value pairs") == "sk-learn and key-value pairs"
    assert len(one_line("x" * 1000)) == 300 and one_line("x" * 1000).endswith("...")
