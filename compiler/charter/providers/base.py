"""The provider interface: model ids, requests, responses, cache keys, and what both SDK adapters share."""

from __future__ import annotations

import abc
import asyncio
import email.utils
import functools
import hashlib
import json
import os
import re
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, ClassVar, Mapping, Sequence, Union

from charter.tokens import estimate_tokens
from charter.providers.errors import (
    AuthenticationFailed,
    BadRequest,
    CannotConnect,
    ConfigError,
    ConnectionFailed,
    MalformedResponse,
    ModelNotFound,
    Overloaded,
    ProviderError,
    RateLimited,
    RequestTimedOut,
    ServerError,
    one_line,
)

PROVIDER_KINDS = ("anthropic", "openai", "openai-compatible", "demo")

# Bumped whenever the mapping from a Request to the wire changes, so old cache entries stop matching.
CACHE_KEY_VERSION = 1


@dataclass(frozen=True, slots=True)
class ModelId:
    """``provider:model``; the model part is passed to the API untouched (it may contain colons)."""

    provider: str
    model: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


def parse_model_id(text: str) -> ModelId:
    """Parses ``openai:gpt-4.1-mini``; raises ConfigError with a one-line message when malformed."""
    provider, sep, model = str(text).partition(":")
    expected = f"expected PROVIDER:MODEL with PROVIDER one of {', '.join(PROVIDER_KINDS)}"
    if not sep or not model or provider not in PROVIDER_KINDS or model != model.strip() or any(
        c.isspace() for c in model
    ):
        raise ConfigError(f"invalid model id {text!r}: {expected} (e.g. openai:gpt-4.1-mini)")
    return ModelId(provider, model)


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    content: str


SystemPrompt = Union[str, Sequence[Mapping[str, Any]], None]


@dataclass(frozen=True)
class OutputSchema:
    """The JSON Schema an answer must follow, for APIs that can bind a reply to one.

    OpenAI (and compatible servers) get it as ``response_format`` (``json_schema``, strict), so
    ``schema`` must keep to the strict subset: every property required, ``additionalProperties``
    false, no numeric bounds (an enum instead). Anthropic gets one tool whose ``input_schema`` it
    is, with ``tool_choice`` forcing that tool; the tool's input comes back as the response text,
    as JSON. ``name`` names the format or tool (letters, digits, ``_`` and ``-``, at most 64).
    """

    name: str
    schema: Mapping[str, Any]
    description: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", self.name):
            raise ValueError("an output schema's name takes 1-64 letters, digits, '_' or '-'")
        if not isinstance(self.schema, Mapping) or self.schema.get("type") != "object":
            raise ValueError("an output schema must be a JSON Schema of type object")
        # A private copy: the request must not change under the caller's later edits of the dict.
        object.__setattr__(self, "schema", json.loads(json.dumps(self.schema)))


@dataclass(frozen=True)
class Request:
    """One chat completion request, provider-neutral.

    ``system`` is a plain string, or Anthropic-style text blocks (``{"type": "text", "text": ...,
    "cache_control": {"type": "ephemeral"}}``) as the prompt target's ``to_anthropic`` produces: the
    Anthropic provider sends the blocks as they are (keeping the cache breakpoints), the OpenAI ones
    join their texts with blank lines. ``messages`` alternate user and assistant turns; dicts with
    ``role`` and ``content`` are accepted. ``seed`` is sent only where the API takes one (OpenAI).
    ``output``, when set, binds the answer to a JSON Schema (see :class:`OutputSchema`).
    ``sample`` is never sent: it tells apart repeated samples of the same request (``charter run
    --samples``), which the response cache would otherwise answer with the first one's reply.
    """

    messages: tuple[Message, ...]
    system: str | tuple[Mapping[str, Any], ...] | None = None
    temperature: float | None = None
    max_tokens: int = 1024
    seed: int | None = None
    stop: tuple[str, ...] = ()
    output: OutputSchema | None = None
    sample: int = 0

    def __post_init__(self) -> None:
        messages = tuple(m if isinstance(m, Message) else Message(m["role"], m["content"]) for m in self.messages)
        if not messages:
            raise ValueError("a request needs at least one message")
        for message in messages:
            if message.role not in ("user", "assistant"):
                raise ValueError(f"message role must be 'user' or 'assistant', not {message.role!r} "
                                 "(the system prompt goes in Request.system)")
            if not isinstance(message.content, str):
                raise ValueError("message content must be a string")
        object.__setattr__(self, "messages", messages)
        if self.system is not None and not isinstance(self.system, str):
            blocks = tuple(dict(block) for block in self.system)
            for block in blocks:
                if not isinstance(block.get("text"), str):
                    raise ValueError("system blocks need a string 'text'")
            object.__setattr__(self, "system", blocks)
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        else:
            object.__setattr__(self, "stop", tuple(self.stop))
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            raise ValueError("max_tokens must be a positive integer")

    @functools.cached_property
    def system_text(self) -> str | None:
        """The system prompt as one string (blocks joined by a blank line)."""
        # Worked out once per request: the cache key, the token estimate and the payload all read it.
        if self.system is None or isinstance(self.system, str):
            return self.system
        return "\n\n".join(block["text"].rstrip("\n") for block in self.system)

    def estimated_tokens(self) -> int:
        """Input estimate plus max_tokens: what a tokens-per-minute limit charges up front."""
        return self._estimated_tokens

    def estimated_tokens_at_most(self) -> int:
        """A cheap upper bound of :meth:`estimated_tokens` (no message is cut into pieces):
        estimate_tokens never counts more than two tokens a character (see tests/providers)."""
        if "_estimated_tokens" in self.__dict__:
            return self._estimated_tokens
        text_tokens = system_tokens(self.system_text or "") + 2 * sum(len(m.content) for m in self.messages)
        return text_tokens + 4 * len(self.messages) + self.max_tokens

    @functools.cached_property
    def _estimated_tokens(self) -> int:
        # Counted part by part, so the system prompt, the same on every call, is counted once.
        text_tokens = system_tokens(self.system_text or "") + sum(estimate_tokens(m.content) for m in self.messages)
        return text_tokens + 4 * len(self.messages) + self.max_tokens


# The token estimates of system prompts, kept apart from estimate_tokens' own memory of long texts:
# a run estimates a new judge message (a few KB) for every call, and those pushed the few system
# prompts (tens of KB each, every call's largest text) out of it again and again.
@functools.lru_cache(maxsize=64)
def system_tokens(text: str) -> int:
    """``estimate_tokens(text)``, remembered for the system prompts a run sends on every call."""
    return estimate_tokens(text)


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one call. ``input_tokens`` counts the whole prompt, cached parts included;
    ``cache_read_tokens`` (OpenAI ``cached_tokens``, Anthropic ``cache_read_input_tokens``) and
    ``cache_write_tokens`` (Anthropic ``cache_creation_input_tokens``) say how much of it was cached."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens,
                     self.cache_read_tokens + other.cache_read_tokens,
                     self.cache_write_tokens + other.cache_write_tokens)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """What the rate-limit headers said; resets in seconds from the response. None where not sent."""

    requests_limit: int | None = None
    requests_remaining: int | None = None
    requests_reset: float | None = None
    tokens_limit: int | None = None
    tokens_remaining: int | None = None
    tokens_reset: float | None = None


@dataclass(frozen=True)
class Response:
    """One completion. ``finish_reason`` is normalised to "stop", "length", "content_filter",
    "refusal" or the provider's own word; ``raw_finish_reason`` keeps the provider's word."""

    text: str
    finish_reason: str
    usage: Usage
    latency: float
    model: str
    request_id: str | None = None
    raw_finish_reason: str | None = None
    rate_limits: RateLimits | None = field(default=None, compare=False)

    def to_dict(self) -> dict:
        """A JSON-ready dict (for the response cache); rate limits are transient and left out."""
        # What dataclasses.asdict gives (in field order), without its deep copy of every value.
        usage = self.usage
        return {"text": self.text, "finish_reason": self.finish_reason,
                "usage": {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
                          "cache_read_tokens": usage.cache_read_tokens,
                          "cache_write_tokens": usage.cache_write_tokens},
                "latency": self.latency, "model": self.model, "request_id": self.request_id,
                "raw_finish_reason": self.raw_finish_reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Response":
        fields = dict(data)
        fields["usage"] = Usage(**fields["usage"])
        fields.pop("rate_limits", None)
        return cls(**fields)


def chat_completions_body(model: str, request: Request, *, max_tokens_field: str = "max_tokens") -> dict[str, Any]:
    """The body of a Chat Completions request: the OpenAI wire format, which the openai and
    openai-compatible providers send and the demo provider keys its cache on."""
    messages = []
    if request.system_text is not None:
        messages.append({"role": "system", "content": request.system_text})
    messages.extend({"role": m.role, "content": m.content} for m in request.messages)
    body: dict[str, Any] = {"model": model, "messages": messages, max_tokens_field: request.max_tokens}
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.seed is not None:
        body["seed"] = request.seed
    if request.stop:
        body["stop"] = list(request.stop)
    if request.output is not None:
        body["response_format"] = response_format(request.output)
    return body


def response_format(output: OutputSchema) -> dict[str, Any]:
    """Chat Completions' ``response_format`` binding the answer to ``output`` (Structured Outputs, strict)."""
    spec: dict[str, Any] = {"name": output.name, "strict": True, "schema": output.schema}
    if output.description:
        spec["description"] = output.description
    return {"type": "json_schema", "json_schema": spec}


def cache_key(provider: str, model: str, base_url: str, payload: Mapping[str, Any], sample: int = 0) -> str:
    """sha256 over what identifies a completion: provider, model, endpoint and the request body as
    sent (parameters, system prompt, messages), and the sample index of a repeated request. Never
    the API key, which does not change the answer.

    The hashed text is ``json.dumps(document, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)``; it is put together from pieces (see :class:`_KeyText`) so that the system
    prompt, tens of KB sent on every call, is encoded and hashed once rather than on every call.
    """
    document = {"v": CACHE_KEY_VERSION, "provider": provider, "model": model,
                "base_url": base_url.rstrip("/"), "payload": payload}
    if sample:  # left out for the first sample, so keys made before samples existed still match
        document["sample"] = sample
    text = _KeyText()
    text.add(document, 0)
    return text.sha256()


_KEY_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
# What that encoder does with a string (JSONEncoder.encode hands a str straight to it), called
# directly for the keys and short strings of the levels put together here.
_KEY_STRING = json.encoder.encode_basestring
# Strings at least this long (system prompts) are encoded once and their hash prefix kept; shorter
# ones (a case's messages, a few KB at most, rarely sent twice) cost less to encode than to look up.
_KEY_LONG_STRING = 4096
_KEY_NESTING = 4  # the document, the payload, its messages, a message: below that, json encodes subtrees whole
_KEY_KEPT = 64
_KEY_STRINGS: dict[str, str] = {}  # long string -> its JSON
_KEY_PREFIXES: dict[tuple[str, str], Any] = {}  # (text before a long string, its JSON) -> sha256 state after it


class _KeyText:
    """The cache key's JSON text as pieces: exactly ``_KEY_ENCODE(document)`` once joined (a dict is
    ``{`` + ``"key":value`` pairs in sorted key order joined by ``,`` + ``}``, a list likewise), with
    the document's top levels put together here and everything below them encoded by json whole."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.long_at: int | None = None  # index of the first long string's piece

    def add(self, value: Any, depth: int) -> None:
        pieces = self.pieces
        kind = type(value)
        if kind is str and len(value) >= _KEY_LONG_STRING:
            encoded = _KEY_STRINGS.get(value)
            if encoded is None:
                if len(_KEY_STRINGS) >= _KEY_KEPT:
                    _KEY_STRINGS.clear()
                encoded = _KEY_STRINGS[value] = _KEY_ENCODE(value)
            if self.long_at is None:
                self.long_at = len(pieces)
            pieces.append(encoded)
        elif kind is str:
            pieces.append(_KEY_STRING(value))
        elif depth >= _KEY_NESTING or (kind is not dict and kind is not list and kind is not tuple):
            pieces.append(_KEY_ENCODE(value))
        elif kind is dict:
            if not all(type(key) is str for key in value):  # json's own key conversions: leave them to it
                pieces.append(_KEY_ENCODE(value))
                return
            pieces.append("{")
            for n, key in enumerate(sorted(value)):
                pieces.append(("," if n else "") + _KEY_STRING(key) + ":")
                self.add(value[key], depth + 1)
            pieces.append("}")
        else:
            pieces.append("[")
            for n, item in enumerate(value):
                if n:
                    pieces.append(",")
                self.add(item, depth + 1)
            pieces.append("]")

    def sha256(self) -> str:
        pieces = self.pieces
        if self.long_at is None:
            return hashlib.sha256("".join(pieces).encode("utf-8")).hexdigest()
        at = self.long_at
        prefix = ("".join(pieces[:at]), pieces[at])
        state = _KEY_PREFIXES.get(prefix)
        if state is None:
            if len(_KEY_PREFIXES) >= _KEY_KEPT:
                _KEY_PREFIXES.clear()
            state = _KEY_PREFIXES[prefix] = hashlib.sha256((prefix[0] + prefix[1]).encode("utf-8"))
        hasher = state.copy()
        hasher.update("".join(pieces[at + 1:]).encode("utf-8"))
        return hasher.hexdigest()


# -- headers ---------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | None) -> float | None:
    """OpenAI's reset durations: "6s", "12ms", "1m30s", "0.5s", or a bare number of seconds."""
    if not text:
        return None
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def _parse_timestamp(text: str | None, now: float) -> float | None:
    """Anthropic's RFC 3339 resets, as seconds from now (never negative)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, moment.timestamp() - now)


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``retry-after`` as seconds or an HTTP date."""
    now = time.time() if now is None else now
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, moment.timestamp() - now)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def header_dict(headers: Mapping[str, str]) -> dict[str, str]:
    """An answer's headers as a plain dict by lower-case name, holding what ``headers.get(name)``
    gives (an HTTP client's headers object scans every header on each lookup, and an answer's
    headers are looked up a dozen times: request id, rate limits)."""
    return {name.lower(): value for name, value in headers.items()}


def parse_rate_limits(headers: Mapping[str, str], *, now: float | None = None) -> RateLimits | None:
    """OpenAI ``x-ratelimit-*`` or Anthropic ``anthropic-ratelimit-*`` headers; None when neither is sent."""
    if headers.get("x-ratelimit-limit-requests") or headers.get("x-ratelimit-limit-tokens"):
        return RateLimits(
            _int(headers.get("x-ratelimit-limit-requests")), _int(headers.get("x-ratelimit-remaining-requests")),
            parse_duration(headers.get("x-ratelimit-reset-requests")),
            _int(headers.get("x-ratelimit-limit-tokens")), _int(headers.get("x-ratelimit-remaining-tokens")),
            parse_duration(headers.get("x-ratelimit-reset-tokens")))
    if headers.get("anthropic-ratelimit-requests-limit") or headers.get("anthropic-ratelimit-tokens-limit"):
        now = time.time() if now is None else now
        prefix = "anthropic-ratelimit-"
        return RateLimits(
            _int(headers.get(prefix + "requests-limit")), _int(headers.get(prefix + "requests-remaining")),
            _parse_timestamp(headers.get(prefix + "requests-reset"), now),
            _int(headers.get(prefix + "tokens-limit")), _int(headers.get(prefix + "tokens-remaining")),
            _parse_timestamp(headers.get(prefix + "tokens-reset"), now))
    return None


def _is_transport_error(error: BaseException | None, name: str) -> bool:
    """Whether ``error`` is the HTTP client's ``name`` exception (httpx's ConnectError, say). Matched by
    class name, because the SDKs do not all use the same HTTP package (some ship their own copy)."""
    return error is not None and any(cls.__name__ == name for cls in type(error).__mro__)


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def not_json(body: str) -> str:
    """What a 2xx answer that is not JSON was, said in a few words: an HTML page (by its title,
    as a captive portal, a login page or a misrouted proxy sends) or some other text (an excerpt)."""
    start = body.lstrip()[:200].lower()
    if start.startswith(("<!doctype html", "<html")) or "<html" in start:
        title = _TITLE.search(body[:20_000])
        named = f": <title>{one_line(title.group(1))[:80]}</title>" if title else ""
        return f"the server answered with HTML, not JSON{named}"
    excerpt = one_line(body)[:80]
    return f"the server answered with text, not JSON: {excerpt!r}" if excerpt else "the server answered with an empty body"


def api_message(body: object) -> str:
    """The human text of an error body in either wire format."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and inner.get("message"):
            return str(inner["message"])
        if body.get("message"):
            return str(body["message"])
        return ""
    return "" if body is None else str(body)


# -- shared SDK clients -----------------------------------------------------------------------

# Providers with the same key, endpoint and timeout share one SDK client, so a run's model and
# judge on one API draw on one connection pool (each request scans its pool's idle connections;
# two pools cost more CPU per call than one). A client is closed when its last provider closes.
# Clients are kept per event loop, because connections belong to the loop that opened them, and
# weakly, so a loop that ends takes its clients' entries with it.
_SHARED_CLIENTS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, list]]" = weakref.WeakKeyDictionary()


def acquire_client(key: tuple, factory: Callable[[], Any], *, share: bool = True) -> tuple[tuple | None, Any]:
    """The shared client for ``key`` in the running event loop, or a private one outside any loop
    (or when not ``share``).

    A provider built outside a loop may be used in a later loop than its neighbours, and pooled
    connections cannot cross loops, so only providers built inside a loop share.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is None or not share:
        return None, factory()
    clients = _SHARED_CLIENTS.setdefault(loop, {})
    entry = clients.get(key)
    if entry is None:
        entry = clients[key] = [factory(), 0]
    entry[1] += 1
    return key, entry[0]


async def release_client(key: tuple | None, client: Any) -> None:
    """Closes ``client`` when its last user lets go (at once for a private client)."""
    clients = _SHARED_CLIENTS.get(asyncio.get_running_loop(), {}) if key is not None else {}
    entry = clients.get(key)
    if entry is not None and entry[0] is client:
        entry[1] -= 1
        if entry[1] > 0:
            return
        del clients[key]
    await client.close()


# -- the interface ---------------------------------------------------------------------------


class Provider(abc.ABC):
    """One model behind one API. Build with :func:`charter.providers.get_provider`.

    SDK clients are built with ``max_retries=0`` and an explicit timeout: the runner owns retries
    (see :mod:`charter.providers.retry`), and every failure surfaces as a
    :class:`~charter.providers.errors.ProviderError` subclass at once.
    """

    kind: ClassVar[str]
    key_variable: ClassVar[str]

    def __init__(self, model_id: ModelId, *, timeout: float) -> None:
        self.model_id = model_id
        self.timeout = timeout
        self._api_key = ""
        self._closed = False
        self._client_key: tuple | None = None
        self._sdk_client: Any = None
        self._client_factory: Callable[[], Any] | None = None
        self._client_base_url: str | None = None
        self._client_shared = False  # built inside an event loop: shares its SDK client there

    @property
    def model(self) -> str:
        return self.model_id.model

    @property
    @abc.abstractmethod
    def base_url(self) -> str:
        """The endpoint actually used (explicit, from the SDK's environment variable, or the default)."""

    @abc.abstractmethod
    def payload(self, request: Request) -> dict[str, Any]:
        """The request body this provider sends for ``request`` (also what the cache key covers)."""

    @abc.abstractmethod
    async def complete(self, request: Request) -> Response:
        """Sends one request; raises a ProviderError subclass on any failure."""

    async def aclose(self) -> None:
        """Lets go of the SDK client; the last provider using a shared client closes it."""
        if self._closed:  # closing twice must not release a shared client twice
            return
        self._closed = True
        if self._sdk_client is not None:
            await release_client(self._client_key, self._sdk_client)

    def open_client(self) -> None:
        """Builds the SDK client now if it is not built yet (else it is built on first use). The
        call service does this before a call's deadline starts: importing the SDK and building its
        client (seconds on a loaded machine) must not count against the first call's deadline."""
        self._client

    @property
    def _client(self) -> Any:
        """The SDK client, built (or taken from the providers sharing it) on first use: a run whose
        every answer is in the response cache never imports the SDK."""
        if self._sdk_client is None and self._client_factory is not None and not self._closed:
            self._client_key, self._sdk_client = acquire_client(
                (self.kind, self._api_key, self._client_base_url, self.timeout), self._client_factory,
                share=self._client_shared)
        return self._sdk_client

    def cache_key(self, request: Request) -> str:
        return cache_key(self.kind, self.model, self.base_url, self.payload(request), request.sample)

    async def __aenter__(self) -> "Provider":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.model_id} at {self.base_url}>"

    # -- shared by the adapters ----------------------------------------------------------------

    @staticmethod
    def _key_from_environment(variable: str, model_id: ModelId) -> str:
        key = os.environ.get(variable, "").strip()
        if not key:
            raise ConfigError(f"{model_id}: no API key: set {variable} in the environment")
        return key

    def _detail(self, text: object) -> str:
        return one_line(text, secrets=(self._api_key,))

    def _open_client(self, base_url: str | None, factory: Callable[[], Any]) -> None:
        """How to build the SDK client for this kind, key, endpoint and timeout (see ``_client``):
        shared with the other providers built in the same event loop, private when built outside one."""
        self._client_factory = factory
        self._client_base_url = base_url
        try:
            asyncio.get_running_loop()
            self._client_shared = True
        except RuntimeError:
            self._client_shared = False

    def _call_error(self, exc: Exception, sdk: Any, noun: str, request_id_header: str) -> ProviderError | None:
        """Our exception for one raised by an SDK call (``sdk`` is the openai or anthropic module);
        None when it is not a failure the call itself reports."""
        who = str(self.model_id)
        if isinstance(exc, sdk.APIStatusError):
            return self._status_error(exc.status_code, exc.body, exc.response.headers,
                                      exc.response.headers.get(request_id_header))
        if isinstance(exc, sdk.APITimeoutError) and _is_transport_error(exc.__cause__, "ConnectTimeout"):
            cause = f"no connection within {self.timeout:g}s"
            return CannotConnect(f"{who}: cannot connect to {self.base_url}: {cause}", model=who, reason=cause)
        if isinstance(exc, sdk.APITimeoutError):
            return RequestTimedOut(f"{who}: timed out: no answer within {self.timeout:g}s from {self.base_url}",
                                   model=who)
        if isinstance(exc, sdk.APIConnectionError):
            cause = self._detail(exc.__cause__ or exc)
            if _is_transport_error(exc.__cause__, "ConnectError"):  # DNS failure, refused: nothing was sent
                return CannotConnect(f"{who}: cannot connect to {self.base_url}: {cause}", model=who, reason=cause)
            return ConnectionFailed(f"{who}: connection to {self.base_url} failed: {cause}", model=who)
        if isinstance(exc, (ValueError, sdk.APIResponseValidationError)):
            return MalformedResponse(f"{who}: the server sent an unreadable {noun}: {self._detail(exc)}", model=who)
        return None

    def _status_error(self, status: int, body: object, headers: Mapping[str, str],
                      request_id: str | None) -> ProviderError:
        """Maps an HTTP error status to our exception, with a one-line, key-free message."""
        error = self._classify_status(status, body, headers, request_id)
        error.rate_limits = parse_rate_limits(headers)
        return error

    def _classify_status(self, status: int, body: object, headers: Mapping[str, str],
                         request_id: str | None) -> ProviderError:
        detail = self._detail(api_message(body)) or "no details"
        retry_after = parse_retry_after(headers)
        who = str(self.model_id)
        common = {"model": who, "status": status, "request_id": request_id}
        wait = f", retry after {retry_after:g}s" if retry_after is not None else ""
        if status == 429:
            return RateLimited(f"{who}: rate limited (HTTP 429{wait}): {detail}", retry_after=retry_after, **common)
        if status == 529:
            return Overloaded(f"{who}: API overloaded (HTTP 529{wait}): {detail}", retry_after=retry_after, **common)
        if status >= 500 or status in (408, 409):
            return ServerError(f"{who}: server error (HTTP {status}{wait}): {detail}", retry_after=retry_after,
                               **common)
        if status in (401, 403):
            verb = "rejected" if status == 401 else "does not permit this call with"
            return AuthenticationFailed(f"{who}: the API {verb} the key in {self.key_variable} (HTTP {status}): "
                                        f"{detail}", **common)
        if status == 404:
            return ModelNotFound(f"{who}: the API at {self.base_url} says model {self.model!r} does not exist "
                                 f"(HTTP 404): {detail}", **common)
        return BadRequest(f"{who}: the API refused the request (HTTP {status}): {detail}", **common)
