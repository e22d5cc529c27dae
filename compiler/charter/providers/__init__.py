"""Model providers behind one small async interface, on the official SDKs.

    provider = get_provider("anthropic:claude-sonnet-4-5")
    async with provider:
        response = await provider.complete(Request(messages=[{"role": "user", "content": "Hi"}]))

Models are named ``provider:model`` (``openai:``, ``anthropic:``, ``openai-compatible:`` with a base
URL, and ``demo:`` for scripted in-process models that need no key). Keys come only from the environment; model names are never checked against a local list —
the API says whether a model exists.
"""

from __future__ import annotations

from charter.providers.base import (
    PROVIDER_KINDS,
    Message,
    ModelId,
    OutputSchema,
    Provider,
    RateLimits,
    Request,
    Response,
    Usage,
    cache_key,
    estimate_tokens,
    parse_model_id,
    parse_rate_limits,
    parse_retry_after,
)
from charter.providers.errors import (
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
    RequestTimedOut,
    RetryableError,
    ServerError,
)
from charter.providers.ratelimit import RateLimiter
from charter.providers.retry import Retried, RetryPolicy, with_retries

DEFAULT_TIMEOUT = 120.0


def get_provider(model: str | ModelId, *, base_url: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 key_variable: str | None = None) -> Provider:
    """The provider for a ``provider:model`` id.

    ``base_url`` overrides OPENAI_BASE_URL / ANTHROPIC_BASE_URL and is required for
    ``openai-compatible``; ``key_variable`` names the environment variable holding an
    openai-compatible server's key (without it, OPENAI_COMPATIBLE_API_KEY or a dummy).
    Raises ConfigError (one line) for a malformed id or a missing key or base URL.
    """
    model_id = model if isinstance(model, ModelId) else parse_model_id(model)
    if model_id.provider == "demo":
        from charter.providers.demo import DemoProvider

        return DemoProvider(model_id, timeout=timeout)
    if model_id.provider == "anthropic":
        from charter.providers.anthropic import AnthropicProvider

        return AnthropicProvider(model_id, base_url=base_url, timeout=timeout)
    if model_id.provider == "openai":
        from charter.providers.openai import OpenAIProvider

        return OpenAIProvider(model_id, base_url=base_url, timeout=timeout)
    from charter.providers.openai import OpenAICompatibleProvider

    return OpenAICompatibleProvider(model_id, base_url=base_url, timeout=timeout, key_variable=key_variable)


__all__ = [
    "PROVIDER_KINDS", "AuthenticationFailed", "BadRequest", "ConfigError", "ConnectionFailed", "FatalError",
    "MalformedResponse", "Message", "ModelId", "ModelNotFound", "OutputSchema", "Overloaded", "Provider", "ProviderError",
    "RateLimited", "RateLimiter", "RateLimits", "Request", "RequestTimedOut", "Response", "Retried",
    "RetryPolicy", "RetryableError", "ServerError", "Usage", "cache_key", "estimate_tokens", "get_provider",
    "parse_model_id", "parse_rate_limits", "parse_retry_after", "with_retries",
]
