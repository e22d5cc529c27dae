"""OpenAI Chat Completions, and any server that speaks it (vLLM, Ollama, llama.cpp, LM Studio)."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import time
from typing import Any

from charter.providers.base import (
    ModelId, Provider, RateLimits, Request, Response, Usage, chat_completions_body, header_dict, not_json,
    parse_rate_limits,
)
from charter.providers.errors import ConfigError, MalformedResponse

_FINISH = {"stop": "stop", "length": "length", "content_filter": "content_filter"}

# Sent to servers that need no key: the SDK refuses to build a client without one.
DUMMY_KEY = "charter-no-key"


class OpenAIProvider(Provider):
    """``openai:MODEL``: the OpenAI API, or the endpoint in OPENAI_BASE_URL / ``base_url``."""

    kind = "openai"
    key_variable = "OPENAI_API_KEY"

    def __init__(self, model_id: ModelId, *, base_url: str | None = None, timeout: float = 120.0) -> None:
        super().__init__(model_id, timeout=timeout)
        self._api_key = self._resolve_key()
        options: dict[str, Any] = {"api_key": self._api_key, "max_retries": 0, "timeout": timeout}
        # Passing base_url=None would not defer to OPENAI_BASE_URL in every SDK version: leave it out.
        if base_url:
            options["base_url"] = base_url
        self._open_client(base_url, lambda: _sdk().AsyncOpenAI(**options))
        # The endpoint as the SDK reads it (explicit, OPENAI_BASE_URL, or its default), worked out
        # here for an ordinary URL, so that a run answered from the response cache (whose keys
        # hold the endpoint) needs no SDK; any other URL is read by the SDK's client itself.
        self._base_url = plain_base_url(base_url or os.environ.get("OPENAI_BASE_URL", DEFAULT_BASE_URL))
        if self._base_url is None:
            self._base_url = str(self._client.base_url).rstrip("/")

    def _resolve_key(self) -> str:
        return self._key_from_environment(self.key_variable, self.model_id)

    @property
    def base_url(self) -> str:
        return self._base_url

    def _max_tokens_field(self) -> str:
        # OpenAI deprecated max_tokens, and its reasoning models reject it.
        return "max_completion_tokens"

    def payload(self, request: Request) -> dict[str, Any]:
        return chat_completions_body(self.model, request, max_tokens_field=self._max_tokens_field())

    def _extra(self, request: Request) -> dict[str, Any]:
        # Routes requests sharing the character prompt to the same cache shard; not part of the key.
        system = request.system_text
        if system and self.kind == "openai":
            return {"prompt_cache_key": prompt_cache_key(system)}
        return {}

    async def complete(self, request: Request) -> Response:
        import httpx2
        import openai

        body = {**self.payload(request), **self._extra(request)}
        started = time.perf_counter()
        try:
            # The SDK's documented way to post a body as it is (its client, key, timeout and error
            # types, as create() has), without create()'s conversion of every keyword argument
            # against the API's type annotations: Charter's body is plain JSON already, which that
            # conversion hands back unchanged (tests/providers check it), and it cost more CPU per
            # call (1.5 ms) than the rest of a call's work in the SDK. The answer is read from its
            # JSON, as the SDK's own parse reads it, without building its typed objects.
            raw = await self._client.post(CHAT_COMPLETIONS, body=body, cast_to=httpx2.Response,
                                          options=_CHAT_OPTIONS)
            completion = completion_json(raw)
        except (ValueError, openai.APIError) as exc:
            error = self._call_error(exc, openai, "completion", "x-request-id")
            if error is None:
                raise
            raise error from exc
        headers = header_dict(raw.headers)
        return read_completion(str(self.model_id), completion, request_id=headers.get("x-request-id"),
                               latency=time.perf_counter() - started, rate_limits=parse_rate_limits(headers))


def _sdk():
    """The openai package, imported when a client is first needed (importing it takes a second or
    two, which a run answered from the response cache does without)."""
    import openai

    return openai


# The SDK's endpoint when neither an explicit base URL nor OPENAI_BASE_URL is given.
DEFAULT_BASE_URL = "https://api.openai.com/v1"
# An http(s) URL the SDK's client leaves as it is, but for a trailing slash: lower-case scheme and
# host, no default port, no query, fragment, user, percent sign or dot segment. (Anything else the
# client normalises: case, default ports, escapes.)
_PLAIN_URL = re.compile(r"(?P<scheme>https?)://(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::(?P<port>\d{1,5}))?"
                        r"(?P<path>(?:/[A-Za-z0-9_~.-]*)*)")


def plain_base_url(url: str) -> str | None:
    """``url`` as the SDK's client holds it (without the trailing slash), for a URL the client does
    not otherwise change (see _PLAIN_URL); None for any other."""
    match = _PLAIN_URL.fullmatch(url)
    if match is None:
        return None
    port = match["port"]
    if port is not None and (port == {"http": "80", "https": "443"}[match["scheme"]] or port.startswith("0")):
        return None
    if any(segment in (".", "..") for segment in match["path"].split("/")):
        return None
    return url.rstrip("/")


CHAT_COMPLETIONS = "/chat/completions"
# What create() asks the client for: the API key as bearer auth (and no other credential).
_CHAT_OPTIONS: dict[str, Any] = {"security": {"bearer_auth": True}}


def completion_json(response: Any) -> Any:
    """The JSON of a completion answer, as the SDK's parse of a completion reads it: a JSON content
    type must parse (ValueError otherwise); any other content that parses is taken too, else its
    text is handed back (which read_completion reports as not JSON)."""
    content_type = response.headers.get("content-type", "*").split(";")[0]
    if content_type.endswith("json"):
        return response.json()
    try:
        return response.json()
    except ValueError:
        return response.text


# Remembered for the system prompts seen (a run sends a few, tens of KB each, on every call:
# hashing them once saves a sha256 of the largest text per call).
@functools.lru_cache(maxsize=64)
def prompt_cache_key(system: str) -> str:
    """OpenAI's ``prompt_cache_key`` for requests with the system prompt ``system``."""
    return "charter-" + hashlib.sha256(system.encode()).hexdigest()[:24]


class OpenAICompatibleProvider(OpenAIProvider):
    """``openai-compatible:MODEL`` at an explicit ``base_url`` (e.g. http://localhost:11434/v1).

    The key comes from ``key_variable`` (default OPENAI_COMPATIBLE_API_KEY) when it is set; local
    servers that take no key get a dummy, since the SDK insists on one.
    """

    kind = "openai-compatible"
    key_variable = "OPENAI_COMPATIBLE_API_KEY"

    def __init__(self, model_id: ModelId, *, base_url: str | None = None, timeout: float = 120.0,
                 key_variable: str | None = None) -> None:
        if not base_url:
            raise ConfigError(f"{model_id}: an openai-compatible model needs a base URL "
                              "(e.g. --base-url http://localhost:11434/v1)")
        self._explicit_key_variable = key_variable
        if key_variable:
            self.key_variable = key_variable
        super().__init__(model_id, base_url=base_url, timeout=timeout)

    def _resolve_key(self) -> str:
        if self._explicit_key_variable:
            return self._key_from_environment(self._explicit_key_variable, self.model_id)
        return os.environ.get(self.key_variable, "").strip() or DUMMY_KEY

    def _max_tokens_field(self) -> str:
        # Compatible servers (Ollama, llama.cpp, older vLLM) know max_tokens; not all know the new name.
        return "max_tokens"


def read_completion(model: str, completion: Any, *, request_id: str | None = None, latency: float = 0.0,
                    rate_limits: RateLimits | None = None) -> Response:
    """A chat completion as Charter reads it: its JSON (a synchronous call) or the SDK's object (a batch result)."""
    if isinstance(completion, str):  # the text of a body that is not JSON
        raise MalformedResponse(f"{model}: {not_json(completion)}", model=model, request_id=request_id)
    if isinstance(completion, dict):
        return _read_completion_json(model, completion, request_id, latency, rate_limits)
    if not getattr(completion, "choices", None):
        raise MalformedResponse(f"{model}: the completion has no choices", model=model, request_id=request_id)
    choice = completion.choices[0]
    raw_finish = choice.finish_reason
    usage = completion.usage
    details = getattr(usage, "prompt_tokens_details", None) if usage else None
    return Response(
        text=choice.message.content or "",
        finish_reason="refusal" if choice.message.refusal else _FINISH.get(raw_finish, raw_finish or "stop"),
        raw_finish_reason=raw_finish,
        usage=Usage(
            input_tokens=(usage.prompt_tokens or 0) if usage else 0,
            output_tokens=(usage.completion_tokens or 0) if usage else 0,
            cache_read_tokens=(getattr(details, "cached_tokens", None) or 0),
        ),
        latency=latency,
        model=model,
        request_id=request_id,
        rate_limits=rate_limits,
    )


def _read_completion_json(model: str, completion: dict, request_id: str | None, latency: float,
                          rate_limits: RateLimits | None) -> Response:
    """read_completion of a completion's JSON: the same figures as from the SDK's object."""
    choices = completion.get("choices")
    if not choices:
        raise MalformedResponse(f"{model}: the completion has no choices", model=model, request_id=request_id)
    choice = choices[0]
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        raise MalformedResponse(f"{model}: the completion's first choice has no message", model=model,
                                request_id=request_id)
    raw_finish = choice.get("finish_reason")
    usage = completion.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details")
    details = details if isinstance(details, dict) else {}
    return Response(
        text=message.get("content") or "",
        finish_reason="refusal" if message.get("refusal") else _FINISH.get(raw_finish, raw_finish or "stop"),
        raw_finish_reason=raw_finish,
        usage=Usage(
            input_tokens=usage.get("prompt_tokens") or 0,
            output_tokens=usage.get("completion_tokens") or 0,
            cache_read_tokens=details.get("cached_tokens") or 0,
        ),
        latency=latency,
        model=model,
        request_id=request_id,
        rate_limits=rate_limits,
    )
